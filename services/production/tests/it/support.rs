use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use idcard_auth::dev_pki::{self, DevPki};
use idcard_auth::{Issuer, Role, generate_signing_key};
use idcard_db::{Db, DbOptions};
use idcard_domain::ReceiptNo;
use idcard_proto::v1::acceptance_inbox_service_server::{AcceptanceInboxService, AcceptanceInboxServiceServer};
use idcard_proto::v1::production_inbox_service_client::ProductionInboxServiceClient;
use idcard_proto::v1::production_service_client::ProductionServiceClient;
use idcard_proto::v1::{
    CalendarDate, CardItems, DispatchCardRequest, GetJobRequest, Issuance, ProductionJob, ProductionStep,
    ReceiveDecisionRequest, ReceiveDecisionResponse, ReceiveProductionOrderRequest, ReceiveProductionUpdateRequest,
    ReceiveProductionUpdateResponse, RecordQualityCheckRequest, Sex, get_job_request,
};
use idcard_testkit::TestDb;
use production::Config;
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tokio_util::sync::CancellationToken;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};
use tonic::{Request, Response, Status};
use uuid::Uuid;

/// The peer name the fake acceptance service is known by, and the orders' origin.
pub const ORIGIN: &str = "acceptance-test";
pub const ACCEPTANCE_POINT: &str = "440305-01";
/// The production centre the service under test is: operators' scopes name it.
pub const CENTRE: &str = "production-test";
/// The subject of the operator token `TestApp::production` carries.
pub const OPERATOR: &str = "operator-7";
/// A valid citizen id (GB 11643 example): born 1949-12-31, female.
pub const CITIZEN_ID: &str = "11010519491231002X";
pub const NAME: &str = "王秀英";
pub const ADDRESS: &str = "北京市西城区某街道 1 号";
/// Recognisable bytes inside the order's photo.
pub const PHOTO_MARK: &[u8] = b"photo of the applicant";

/// One development PKI and token signing key for the whole test binary.
pub struct Security {
    pub pki: DevPki,
    issuer: Issuer,
    /// `kid=PATH` of the issuer's public key, as the service is configured with it.
    public_keys: String,
    _dir: tempfile::TempDir,
}

pub fn security() -> &'static Security {
    static SECURITY: OnceLock<Security> = OnceLock::new();
    SECURITY.get_or_init(|| {
        idcard_auth::install_crypto_provider();
        let dir = tempfile::tempdir().unwrap();
        let pki = dev_pki::ensure(&dir.path().join("pki")).unwrap();
        let signing = generate_signing_key(&dir.path().join("tokens"), "test-1").unwrap();
        Security {
            pki,
            issuer: Issuer::from_key_files(&signing).unwrap(),
            public_keys: format!("{}={}", signing.kid, signing.public_key.display()),
            _dir: dir,
        }
    })
}

/// A bearer token for `subject` with `role` over `scope`, valid for an hour.
pub fn token(subject: &str, role: Role, scope: &[&str]) -> String {
    let scope = scope.iter().map(|s| s.to_string()).collect();
    security()
        .issuer
        .issue(subject, role, scope, Duration::from_secs(3600))
        .unwrap()
}

/// Puts `authorization: Bearer <token>` on every call (nothing when there is no token).
#[derive(Clone)]
pub struct Bearer(Option<MetadataValue<Ascii>>);

impl Interceptor for Bearer {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        if let Some(value) = &self.0 {
            request.metadata_mut().insert("authorization", value.clone());
        }
        Ok(request)
    }
}

pub type Authed = InterceptedService<Channel, Bearer>;

/// A lazily connected TLS channel to `addr`: trusting the development CA, presenting
/// `service`'s certificate when one is named (as a peer service's relay does).
pub fn tls_channel(addr: SocketAddr, service: Option<&str>) -> Channel {
    let pki = &security().pki;
    let tls = match service {
        Some(service) => pki.service(service).unwrap().client_config().unwrap(),
        None => idcard_auth::client_config_with_ca(&pki.ca_cert).unwrap(),
    };
    Endpoint::from_shared(format!("https://{addr}"))
        .unwrap()
        .tls_config(tls)
        .unwrap()
        .connect_lazy()
}

/// What the fake acceptance inbox received, in arrival order.
#[derive(Clone, Default)]
pub struct Received(Arc<Mutex<Vec<ReceiveProductionUpdateRequest>>>);

impl Received {
    pub fn all(&self) -> Vec<ReceiveProductionUpdateRequest> {
        self.0.lock().unwrap().clone()
    }

    /// Waits until at least `count` updates arrived and returns them all.
    pub async fn wait_for(&self, count: usize) -> Vec<ReceiveProductionUpdateRequest> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let all = self.all();
            if all.len() >= count {
                return all;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "expected {count} updates, got {:?}",
                steps(&all)
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// The steps of `updates`, in order.
pub fn steps(updates: &[ReceiveProductionUpdateRequest]) -> Vec<ProductionStep> {
    updates.iter().map(|u| u.step()).collect()
}

struct FakeInbox {
    received: Received,
}

#[tonic::async_trait]
impl AcceptanceInboxService for FakeInbox {
    async fn receive_decision(
        &self,
        _request: Request<ReceiveDecisionRequest>,
    ) -> Result<Response<ReceiveDecisionResponse>, Status> {
        Err(Status::unimplemented("the production service sends no decisions"))
    }

    async fn receive_loss_report_outcome(
        &self,
        _request: Request<idcard_proto::v1::ReceiveLossReportOutcomeRequest>,
    ) -> Result<Response<idcard_proto::v1::ReceiveLossReportOutcomeResponse>, Status> {
        Err(Status::unimplemented(
            "the production service sends no loss report outcomes",
        ))
    }

    /// Takes updates only over mutual TLS from the production service's certificate, as
    /// the real acceptance service does.
    async fn receive_production_update(
        &self,
        request: Request<ReceiveProductionUpdateRequest>,
    ) -> Result<Response<ReceiveProductionUpdateResponse>, Status> {
        let peer = idcard_auth::peer_certificates(request.extensions())
            .and_then(|certs| certs.first().and_then(idcard_auth::service_of_certificate));
        if peer.as_deref() != Some("production") {
            return Err(Status::unauthenticated(format!(
                "expected the production service's certificate, got {peer:?}"
            )));
        }
        self.received.0.lock().unwrap().push(request.into_inner());
        Ok(Response::new(ReceiveProductionUpdateResponse {}))
    }
}

/// A fake `idcard.v1.AcceptanceInboxService`, served over TLS with the acceptance
/// service's development certificate, that records what it receives.
pub struct FakeAcceptance {
    pub received: Received,
    pub addr: SocketAddr,
    stop: CancellationToken,
}

impl FakeAcceptance {
    pub async fn start() -> FakeAcceptance {
        FakeAcceptance::start_on(TcpListener::bind("127.0.0.1:0").await.unwrap()).await
    }

    pub async fn start_on(listener: TcpListener) -> FakeAcceptance {
        let received = Received::default();
        let addr = listener.local_addr().unwrap();
        let stop = CancellationToken::new();
        let service = AcceptanceInboxServiceServer::new(FakeInbox {
            received: received.clone(),
        });
        let tls = security().pki.service("acceptance").unwrap().server_config().unwrap();
        let stopped = stop.clone().cancelled_owned();
        tokio::spawn(
            tonic::transport::Server::builder()
                .tls_config(tls)
                .unwrap()
                .add_service(service)
                .serve_with_incoming_shutdown(TcpListenerStream::new(listener), stopped),
        );
        FakeAcceptance { received, addr, stop }
    }
}

impl Drop for FakeAcceptance {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// A free local address nothing listens on (yet).
pub async fn unused_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap()
}

/// The production service running on a fresh database with TLS, bearer tokens and its
/// own key file, reporting to `acceptance`.
pub struct TestApp {
    pub addr: SocketAddr,
    /// Carries an operator token of this centre (subject [`OPERATOR`]).
    pub production: ProductionServiceClient<Authed>,
    /// Presents the review service's certificate.
    pub inbox: ProductionInboxServiceClient<Channel>,
    pub key_file: PathBuf,
    pub db: TestDb,
    stop: CancellationToken,
    _dir: tempfile::TempDir,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl TestApp {
    pub async fn spawn(acceptance: SocketAddr) -> TestApp {
        if std::env::var_os("IDCARD_TEST_LOG").is_some() {
            idcard_server::init_tracing(false);
        }
        let security = security();
        let dir = tempfile::tempdir().unwrap();
        let key_file = dir.path().join("keys");
        idcard_crypto::Keyring::generate(&key_file).unwrap();
        let db = TestDb::fresh("production").await;
        let mut config = Config::for_database(db.url.clone());
        config.common.instance_name = Some(CENTRE.to_string());
        config.common.peers = format!("{ORIGIN}=https://{acceptance}");
        config.common.peer_timeout = Duration::from_secs(2);
        config.common.relay_poll_interval = Duration::from_millis(50);
        // Nothing routes traffic to it: stop without a grace period.
        config.common.shutdown_grace = Duration::ZERO;
        config.common.relay_base_backoff = Duration::from_millis(20);
        config.common.relay_max_backoff = Duration::from_millis(200);
        config.common.relay_max_attempts = 1000;
        config.common.key_file = Some(key_file.clone());
        config.common.key_reload_interval = Duration::from_millis(100);
        config.common.auth.auth_public_keys = security.public_keys.clone();
        config
            .common
            .auth
            .set_tls_files(security.pki.service("production").unwrap());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = CancellationToken::new();
        let serving = stop.clone();
        tokio::spawn(async move {
            if let Err(err) = production::serve_with_listener(config, listener, serving).await {
                panic!("production service failed: {err}");
            }
        });
        TestApp {
            addr,
            production: production_client(addr, Some(&token(OPERATOR, Role::ProductionOperator, &[CENTRE]))),
            inbox: ProductionInboxServiceClient::new(tls_channel(addr, Some("review"))),
            key_file,
            db,
            stop,
            _dir: dir,
        }
    }

    /// A client of the production service carrying a token for `subject` with `role`
    /// over `scope`.
    pub fn production_as(&self, subject: &str, role: Role, scope: &[&str]) -> ProductionServiceClient<Authed> {
        production_client(self.addr, Some(&token(subject, role, scope)))
    }

    /// A client of the production service sending no token.
    pub fn production_without_token(&self) -> ProductionServiceClient<Authed> {
        production_client(self.addr, None)
    }

    /// A client of the inbox presenting `service`'s certificate, or none.
    pub fn inbox_as(&self, service: Option<&str>) -> ProductionInboxServiceClient<Channel> {
        ProductionInboxServiceClient::new(tls_channel(self.addr, service))
    }

    /// A second handle on the service's database, for looking at what it stored.
    pub async fn database(&self) -> Db {
        Db::connect(&self.db.url, &DbOptions::default()).await.unwrap()
    }

    pub fn database_url(&self) -> &str {
        &self.db.url
    }

    /// Sends `order` and expects it acknowledged.
    pub async fn send_order(&mut self, order: ReceiveProductionOrderRequest) {
        self.inbox.receive_production_order(order).await.unwrap();
    }

    /// Sends a fresh order and returns the job it created.
    pub async fn job_for_new_order(&mut self) -> ProductionJob {
        let order = order(Uuid::now_v7());
        let application_id = order.application_id.clone();
        self.send_order(order).await;
        self.job_of_application(&application_id).await
    }

    pub async fn job_of_application(&mut self, application_id: &str) -> ProductionJob {
        let request = GetJobRequest {
            key: Some(get_job_request::Key::ApplicationId(application_id.to_string())),
        };
        self.production
            .get_job(request)
            .await
            .unwrap()
            .into_inner()
            .job
            .unwrap()
    }

    pub async fn check(&mut self, job_id: &str, passed: bool, defects: &[&str]) -> Result<ProductionJob, Status> {
        let request = check_request(job_id, passed, defects);
        self.production
            .record_quality_check(request)
            .await
            .map(|r| r.into_inner().job.unwrap())
    }

    pub async fn dispatch(&mut self, job_id: &str, tracking_number: &str) -> Result<ProductionJob, Status> {
        let request = dispatch_request(job_id, tracking_number);
        self.production
            .dispatch_card(request)
            .await
            .map(|r| r.into_inner().job.unwrap())
    }
}

fn production_client(addr: SocketAddr, token: Option<&str>) -> ProductionServiceClient<Authed> {
    let bearer = Bearer(token.map(|token| format!("Bearer {token}").parse().unwrap()));
    ProductionServiceClient::with_interceptor(tls_channel(addr, None), bearer)
}

/// A check request. The `operator` field names someone else than the token: the
/// service records the token's subject.
pub fn check_request(job_id: &str, passed: bool, defects: &[&str]) -> RecordQualityCheckRequest {
    RecordQualityCheckRequest {
        request_id: Uuid::now_v7().to_string(),
        job_id: job_id.to_string(),
        passed,
        defects: defects.iter().map(|d| d.to_string()).collect(),
        operator: "qc-operator-7".to_string(),
    }
}

pub fn dispatch_request(job_id: &str, tracking_number: &str) -> DispatchCardRequest {
    DispatchCardRequest {
        request_id: Uuid::now_v7().to_string(),
        job_id: job_id.to_string(),
        tracking_number: tracking_number.to_string(),
        operator: "dispatcher-2".to_string(),
    }
}

/// A valid production order for `application_id`, as a review service sends it.
pub fn order(application_id: Uuid) -> ReceiveProductionOrderRequest {
    let receipt = ReceiptNo::from_u64(application_id.as_u128() as u64);
    ReceiveProductionOrderRequest {
        message_id: Uuid::now_v7().to_string(),
        application_id: application_id.to_string(),
        receipt_number: receipt.as_str().to_string(),
        acceptance_point_code: ACCEPTANCE_POINT.to_string(),
        origin: ORIGIN.to_string(),
        card_items: Some(CardItems {
            citizen_id: CITIZEN_ID.to_string(),
            name: NAME.to_string(),
            sex: Sex::Female.into(),
            ethnicity: "汉".to_string(),
            birth_date: Some(CalendarDate {
                year: 1949,
                month: 12,
                day: 31,
            }),
            domicile_address: ADDRESS.to_string(),
        }),
        photo: [&[0xFF, 0xD8, 0xFF, 0xE0][..], PHOTO_MARK].concat(),
        issuance: Some(Issuance {
            validity_start: Some(CalendarDate {
                year: 2026,
                month: 3,
                day: 2,
            }),
            validity_end: None,
            long_term: true,
            issuing_authority: "北京市公安局西城分局".to_string(),
            card_id: Uuid::now_v7().to_string(),
        }),
        ordered_at: Some(prost_types::Timestamp {
            seconds: 1_772_000_000,
            nanos: 0,
        }),
    }
}
