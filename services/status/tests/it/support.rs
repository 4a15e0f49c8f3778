use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use idcard_auth::dev_pki::{self, DevPki};
use idcard_auth::{Issuer, Role, generate_signing_key};
use idcard_db::{Db, DbOptions};
use idcard_proto::v1::card_status_service_client::CardStatusServiceClient;
use idcard_proto::v1::found_card_service_client::FoundCardServiceClient;
use idcard_proto::v1::review_inbox_service_server::{ReviewInboxService, ReviewInboxServiceServer};
use idcard_proto::v1::status_inbox_service_client::StatusInboxServiceClient;
use idcard_proto::v1::{
    CalendarDate, CardStatus, PublishCardStatusRequest, QueryFoundCardRequest, ReceiveApplicationRequest,
    ReceiveApplicationResponse, ReceiveCollectionNoticeRequest, ReceiveCollectionNoticeResponse,
    ReceiveFoundCardNoticeRequest, ReceiveFoundCardNoticeResponse, ReceiveLossReportRequest, ReceiveLossReportResponse,
    ReceiveLossReportRevocationRequest, ReceiveLossReportRevocationResponse, RegisterFoundCardRequest,
    VerificationAnswer, VerifyCardRequest,
};
use idcard_testkit::TestDb;
use status::Config;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_stream::wrappers::TcpListenerStream;
use tokio_util::sync::CancellationToken;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};
use tonic::{Request, Response, Status};
use uuid::Uuid;

/// The peer name the fake review service is known by: the issuer of the test cards.
pub const ISSUER: &str = "review-test";
/// The station (acceptance point) the clerk works at.
pub const STATION: &str = "440305-01";
/// The subject of the verifier token `TestApp::verifier` carries.
pub const VERIFIER: &str = "bank-teller-1";
/// The subject of the clerk token `TestApp::clerk` carries.
pub const CLERK: &str = "clerk-3";
/// A valid citizen id (GB 11643 example): born 1949-12-31, female.
pub const CITIZEN_ID: &str = "11010519491231002X";
pub const NAME: &str = "王秀英";
/// Another valid citizen id, of nobody the index knows.
pub const OTHER_CITIZEN_ID: &str = "110105198001011238";
/// Where the test's found card was found and where it waits.
pub const FOUND_AT: &str = "深圳北站二号候车室";
pub const COLLECT_AT: &str = "福田派出所户籍窗口";

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

fn bearer(token: Option<&str>) -> Bearer {
    Bearer(token.map(|token| format!("Bearer {token}").parse().unwrap()))
}

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

/// The found-card notices the fake review inbox received, in arrival order.
#[derive(Clone, Default)]
pub struct Received(Arc<Mutex<Vec<ReceiveFoundCardNoticeRequest>>>);

impl Received {
    pub fn all(&self) -> Vec<ReceiveFoundCardNoticeRequest> {
        self.0.lock().unwrap().clone()
    }

    /// Waits until at least `count` notices arrived and returns them all.
    pub async fn wait_for(&self, count: usize) -> Vec<ReceiveFoundCardNoticeRequest> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let all = self.all();
            if all.len() >= count {
                return all;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "expected {count} notices, got {}",
                all.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

struct FakeInbox {
    received: Received,
}

fn not_from_status<T>() -> Result<Response<T>, Status> {
    Err(Status::unimplemented(
        "the status service sends only found-card notices",
    ))
}

#[tonic::async_trait]
impl ReviewInboxService for FakeInbox {
    async fn receive_application(
        &self,
        _request: Request<ReceiveApplicationRequest>,
    ) -> Result<Response<ReceiveApplicationResponse>, Status> {
        not_from_status()
    }

    async fn receive_loss_report(
        &self,
        _request: Request<ReceiveLossReportRequest>,
    ) -> Result<Response<ReceiveLossReportResponse>, Status> {
        not_from_status()
    }

    async fn receive_loss_report_revocation(
        &self,
        _request: Request<ReceiveLossReportRevocationRequest>,
    ) -> Result<Response<ReceiveLossReportRevocationResponse>, Status> {
        not_from_status()
    }

    async fn receive_collection_notice(
        &self,
        _request: Request<ReceiveCollectionNoticeRequest>,
    ) -> Result<Response<ReceiveCollectionNoticeResponse>, Status> {
        not_from_status()
    }

    /// Takes notices only over mutual TLS from the status service's certificate, as the
    /// real review service does.
    async fn receive_found_card_notice(
        &self,
        request: Request<ReceiveFoundCardNoticeRequest>,
    ) -> Result<Response<ReceiveFoundCardNoticeResponse>, Status> {
        let peer = idcard_auth::peer_certificates(request.extensions())
            .and_then(|certs| certs.first().and_then(idcard_auth::service_of_certificate));
        if peer.as_deref() != Some("status") {
            return Err(Status::unauthenticated(format!(
                "expected the status service's certificate, got {peer:?}"
            )));
        }
        self.received.0.lock().unwrap().push(request.into_inner());
        Ok(Response::new(ReceiveFoundCardNoticeResponse {}))
    }
}

/// A fake `idcard.v1.ReviewInboxService`, served over TLS with the review service's
/// development certificate, that records the found-card notices it receives.
pub struct FakeReview {
    pub received: Received,
    pub addr: SocketAddr,
    stop: CancellationToken,
}

impl FakeReview {
    pub async fn start() -> FakeReview {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let received = Received::default();
        let addr = listener.local_addr().unwrap();
        let stop = CancellationToken::new();
        let service = ReviewInboxServiceServer::new(FakeInbox {
            received: received.clone(),
        });
        let tls = security().pki.service("review").unwrap().server_config().unwrap();
        let stopped = stop.clone().cancelled_owned();
        tokio::spawn(
            tonic::transport::Server::builder()
                .tls_config(tls)
                .unwrap()
                .add_service(service)
                .serve_with_incoming_shutdown(TcpListenerStream::new(listener), stopped),
        );
        FakeReview { received, addr, stop }
    }
}

impl Drop for FakeReview {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// A card as a review service publishes it.
#[derive(Debug, Clone)]
pub struct Card {
    pub card_id: String,
    pub citizen_id: String,
    pub name: String,
    pub validity_start: CalendarDate,
    pub validity_end: Option<CalendarDate>,
    pub status: CardStatus,
    pub version: i64,
}

pub fn date(year: i32, month: i32, day: i32) -> CalendarDate {
    CalendarDate { year, month, day }
}

impl Card {
    /// An active card of [`CITIZEN_ID`] and [`NAME`], valid 2016-03-02 to 2036-03-02.
    pub fn new() -> Card {
        Card {
            card_id: Uuid::now_v7().to_string(),
            citizen_id: CITIZEN_ID.to_string(),
            name: NAME.to_string(),
            validity_start: date(2016, 3, 2),
            validity_end: Some(date(2036, 3, 2)),
            status: CardStatus::Active,
            version: 1_772_000_000_000,
        }
    }

    /// The same card after a change to `status`, `later_ms` after this version.
    pub fn changed(&self, status: CardStatus, later_ms: i64) -> Card {
        Card {
            status,
            version: self.version + later_ms,
            ..self.clone()
        }
    }

    /// A new message publishing this card's status.
    pub fn message(&self) -> PublishCardStatusRequest {
        PublishCardStatusRequest {
            message_id: Uuid::now_v7().to_string(),
            card_id: self.card_id.clone(),
            citizen_id: self.citizen_id.clone(),
            name: self.name.clone(),
            validity_start: Some(self.validity_start),
            validity_end: self.validity_end,
            status: self.status.into(),
            version: self.version,
            issuer: ISSUER.to_string(),
            changed_at: Some(prost_types::Timestamp {
                seconds: self.version / 1000,
                nanos: 0,
            }),
        }
    }

    /// What a verifier reads off this card.
    pub fn verify_request(&self) -> VerifyCardRequest {
        VerifyCardRequest {
            citizen_id: self.citizen_id.clone(),
            name: self.name.clone(),
            validity_start: Some(self.validity_start),
        }
    }

    /// A found-card registration of this card at [`STATION`].
    pub fn found_request(&self) -> RegisterFoundCardRequest {
        RegisterFoundCardRequest {
            request_id: Uuid::now_v7().to_string(),
            citizen_id: self.citizen_id.clone(),
            name: self.name.clone(),
            validity_start: Some(self.validity_start),
            found_at: FOUND_AT.to_string(),
            collect_at: COLLECT_AT.to_string(),
            station_code: STATION.to_string(),
        }
    }
}

/// The status service running on a fresh database with TLS, bearer tokens and its own
/// key file, sending found-card notices to `review`.
pub struct TestApp {
    pub addr: SocketAddr,
    /// Carries a verifier token (subject [`VERIFIER`]).
    pub verifier: CardStatusServiceClient<Authed>,
    /// Carries a clerk token of [`STATION`] (subject [`CLERK`]).
    pub clerk: FoundCardServiceClient<Authed>,
    /// Presents the review service's certificate.
    pub inbox: StatusInboxServiceClient<Channel>,
    pub key_file: PathBuf,
    pub db: TestDb,
    stop: CancellationToken,
    task: Option<JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl TestApp {
    pub async fn spawn(review: SocketAddr) -> TestApp {
        TestApp::spawn_with(review, |_| {}).await
    }

    /// As [`TestApp::spawn`], with `adjust` applied to the configuration.
    pub async fn spawn_with(review: SocketAddr, adjust: impl FnOnce(&mut Config)) -> TestApp {
        if std::env::var_os("IDCARD_TEST_LOG").is_some() {
            idcard_server::init_tracing(false);
        }
        let security = security();
        let dir = tempfile::tempdir().unwrap();
        let key_file = dir.path().join("keys");
        idcard_crypto::Keyring::generate(&key_file).unwrap();
        let db = TestDb::fresh("status").await;
        let mut config = Config::for_database(db.url.clone());
        config.common.peers = format!("{ISSUER}=https://{review}");
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
            .set_tls_files(security.pki.service("status").unwrap());
        adjust(&mut config);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = CancellationToken::new();
        let serving = stop.clone();
        let task = tokio::spawn(async move {
            if let Err(err) = status::serve_with_listener(config, listener, serving).await {
                panic!("status service failed: {err}");
            }
        });
        TestApp {
            addr,
            verifier: verifier_client(addr, Some(&token(VERIFIER, Role::Verifier, &[]))),
            clerk: found_client(addr, Some(&token(CLERK, Role::Clerk, &[STATION]))),
            inbox: StatusInboxServiceClient::new(tls_channel(addr, Some("review"))),
            key_file,
            db,
            stop,
            task: Some(task),
            _dir: dir,
        }
    }

    /// Stops the service and waits until it has finished (background writers included).
    pub async fn stop(&mut self) {
        self.stop.cancel();
        if let Some(task) = self.task.take() {
            task.await.unwrap();
        }
    }

    /// A card-status client carrying a token for `subject` with `role` over `scope`.
    pub fn verifier_as(&self, subject: &str, role: Role, scope: &[&str]) -> CardStatusServiceClient<Authed> {
        verifier_client(self.addr, Some(&token(subject, role, scope)))
    }

    /// A card-status client sending no token.
    pub fn verifier_without_token(&self) -> CardStatusServiceClient<Authed> {
        verifier_client(self.addr, None)
    }

    /// A found-card client carrying a token for `subject` with `role` over `scope`.
    pub fn found_as(&self, subject: &str, role: Role, scope: &[&str]) -> FoundCardServiceClient<Authed> {
        found_client(self.addr, Some(&token(subject, role, scope)))
    }

    /// A found-card client of the citizen `citizen_id` (a citizen token for their number).
    pub fn citizen(&self, citizen_id: &str) -> FoundCardServiceClient<Authed> {
        self.found_as(&format!("citizen-{}", &citizen_id[14..]), Role::Citizen, &[citizen_id])
    }

    /// A client of the inbox presenting `service`'s certificate, or none.
    pub fn inbox_as(&self, service: Option<&str>) -> StatusInboxServiceClient<Channel> {
        StatusInboxServiceClient::new(tls_channel(self.addr, service))
    }

    /// Publishes `card`'s status in a new message and expects it acknowledged.
    pub async fn publish(&mut self, card: &Card) {
        self.inbox.publish_card_status(card.message()).await.unwrap();
    }

    /// Verifies `request` as the test's verifier.
    pub async fn verify(&mut self, request: VerifyCardRequest) -> Result<VerificationAnswer, Status> {
        self.verifier
            .verify_card(request)
            .await
            .map(|response| response.into_inner().answer())
    }

    /// The answer for `card` as printed.
    pub async fn verify_card(&mut self, card: &Card) -> VerificationAnswer {
        self.verify(card.verify_request()).await.unwrap()
    }

    /// Asks as the citizen `citizen_id` whether their card was found.
    pub async fn query_found(&self, citizen_id: &str) -> Result<idcard_proto::v1::QueryFoundCardResponse, Status> {
        self.citizen(citizen_id)
            .query_found_card(QueryFoundCardRequest {
                citizen_id: citizen_id.to_string(),
            })
            .await
            .map(Response::into_inner)
    }

    /// A second handle on the service's database, for looking at what it stored.
    pub async fn database(&self) -> Db {
        Db::connect(&self.db.url, &DbOptions::default()).await.unwrap()
    }

    pub fn database_url(&self) -> &str {
        &self.db.url
    }
}

fn verifier_client(addr: SocketAddr, token: Option<&str>) -> CardStatusServiceClient<Authed> {
    CardStatusServiceClient::with_interceptor(tls_channel(addr, None), bearer(token))
}

fn found_client(addr: SocketAddr, token: Option<&str>) -> FoundCardServiceClient<Authed> {
    FoundCardServiceClient::with_interceptor(tls_channel(addr, None), bearer(token))
}
