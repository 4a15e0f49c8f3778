//! The acceptance service alone over TLS with tokens, a fake review inbox it delivers to,
//! sample applications and loss reports, and helpers to look into its database, its
//! notification file and its log.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use acceptance::Config;
use idcard_auth::dev_pki::{self, DevPki};
use idcard_auth::{Issuer, Role, generate_signing_key, service_of_certificate};
use idcard_db::{Db, DbOptions, on_db};
use idcard_domain::{ApplicationKind, Waiver};
use idcard_proto::v1 as pb;
use idcard_proto::v1::acceptance_inbox_service_client::AcceptanceInboxServiceClient;
use idcard_proto::v1::acceptance_service_client::AcceptanceServiceClient;
use idcard_proto::v1::review_inbox_service_server::{ReviewInboxService, ReviewInboxServiceServer};
use idcard_testkit::TestDb;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_stream::wrappers::TcpListenerStream;
use tokio_util::sync::CancellationToken;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};
use tonic::{Request, Response, Status};

/// The acceptance point the clerk of the tests works at.
pub const POINT: &str = "440305-01";
/// Another acceptance point of the same service.
pub const OTHER_POINT: &str = "440305-02";
/// The subject of the clerk token at [`POINT`].
pub const CLERK: &str = "clerk-7";

/// An applicant, with data that must never be found in clear at rest or in a log.
pub struct Person {
    pub citizen_id: &'static str,
    pub name: &'static str,
    pub sex: pb::Sex,
    pub birth: (i32, i32, i32),
    pub address: &'static str,
    pub domicile: &'static str,
    pub phone: &'static str,
}

/// Guangzhou domicile.
pub const LI: Person = Person {
    citizen_id: "440106197809090221",
    name: "李芳菲",
    sex: pb::Sex::Female,
    birth: (1978, 9, 9),
    address: "广东省广州市天河区体育西路1号",
    domicile: "440106",
    phone: "13912345678",
};

/// Beijing domicile.
pub const WANG: Person = Person {
    citizen_id: "110105200005200116",
    name: "王小明",
    sex: pb::Sex::Male,
    birth: (2000, 5, 20),
    address: "北京市朝阳区建国路88号",
    domicile: "110105",
    phone: "13687654321",
};

/// Recognisable bytes inside every photo and fingerprint the tests send.
pub const PHOTO_MARK: &[u8] = b"PHOTO-OF-THE-APPLICANT-5e1d";
pub const FINGERPRINT_MARK: &[u8] = b"FINGERPRINT-TEMPLATE-a93c";

/// One development PKI and token signing key for the whole test binary.
pub struct Security {
    pub pki: DevPki,
    issuer: Issuer,
    /// `kid=PATH` of the issuer's public key, as the service is configured with it
    /// (`IDCARD_AUTH_PUBLIC_KEYS`).
    pub public_keys: String,
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

/// The token of the clerk at [`POINT`].
pub fn clerk_token() -> String {
    token(CLERK, Role::Clerk, &[POINT])
}

/// Everything the service logs while the tests run, for the check that no personal data
/// reaches a log line.
pub fn captured_log() -> String {
    let log = log_buffer().lock().unwrap();
    String::from_utf8_lossy(&log).into_owned()
}

fn log_buffer() -> &'static Mutex<Vec<u8>> {
    static LOG: OnceLock<Mutex<Vec<u8>>> = OnceLock::new();
    LOG.get_or_init(|| Mutex::new(Vec::new()))
}

struct Capture;

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        log_buffer().lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capture_logs() {
    static INIT: OnceLock<()> = OnceLock::new();
    INIT.get_or_init(|| {
        let filter = tracing_subscriber::EnvFilter::new(
            "info,acceptance=trace,idcard_server=debug,idcard_outbox=debug,idcard_audit=debug,idcard_auth=debug",
        );
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(|| Capture)
            .with_ansi(false)
            .try_init();
    });
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

pub type Client = AcceptanceServiceClient<InterceptedService<Channel, Bearer>>;

/// A message the fake review inbox received, with the service its caller's certificate
/// names.
#[derive(Debug, Clone)]
pub struct Received<T = pb::ReceiveApplicationRequest> {
    pub request: T,
    pub peer: Option<String>,
}

/// Everything the fake review inbox received, by method.
#[derive(Default)]
struct Inboxes {
    applications: Vec<Received>,
    loss_reports: Vec<Received<pb::ReceiveLossReportRequest>>,
    revocations: Vec<Received<pb::ReceiveLossReportRevocationRequest>>,
    collections: Vec<Received<pb::ReceiveCollectionNoticeRequest>>,
}

/// `idcard.v1.ReviewInboxService` over TLS with the review certificate, recording what
/// it receives. Like the real one, it takes deliveries from the acceptance service only.
#[derive(Clone, Default)]
struct FakeReviewInbox {
    received: Arc<Mutex<Inboxes>>,
}

impl FakeReviewInbox {
    /// The request, if its caller presents the acceptance service's certificate.
    fn admit<T>(request: Request<T>) -> Result<Received<T>, Status> {
        let peer = request
            .peer_certs()
            .and_then(|certs| certs.first().and_then(service_of_certificate));
        if peer.as_deref() != Some("acceptance") {
            return Err(Status::unauthenticated(
                "a certificate of the acceptance service is required",
            ));
        }
        Ok(Received {
            request: request.into_inner(),
            peer,
        })
    }
}

#[tonic::async_trait]
impl ReviewInboxService for FakeReviewInbox {
    async fn receive_application(
        &self,
        request: Request<pb::ReceiveApplicationRequest>,
    ) -> Result<Response<pb::ReceiveApplicationResponse>, Status> {
        let received = FakeReviewInbox::admit(request)?;
        self.received.lock().unwrap().applications.push(received);
        Ok(Response::new(pb::ReceiveApplicationResponse {}))
    }

    async fn receive_loss_report(
        &self,
        request: Request<pb::ReceiveLossReportRequest>,
    ) -> Result<Response<pb::ReceiveLossReportResponse>, Status> {
        let received = FakeReviewInbox::admit(request)?;
        self.received.lock().unwrap().loss_reports.push(received);
        Ok(Response::new(pb::ReceiveLossReportResponse {}))
    }

    async fn receive_loss_report_revocation(
        &self,
        request: Request<pb::ReceiveLossReportRevocationRequest>,
    ) -> Result<Response<pb::ReceiveLossReportRevocationResponse>, Status> {
        let received = FakeReviewInbox::admit(request)?;
        self.received.lock().unwrap().revocations.push(received);
        Ok(Response::new(pb::ReceiveLossReportRevocationResponse {}))
    }

    async fn receive_collection_notice(
        &self,
        request: Request<pb::ReceiveCollectionNoticeRequest>,
    ) -> Result<Response<pb::ReceiveCollectionNoticeResponse>, Status> {
        let received = FakeReviewInbox::admit(request)?;
        self.received.lock().unwrap().collections.push(received);
        Ok(Response::new(pb::ReceiveCollectionNoticeResponse {}))
    }

    async fn receive_found_card_notice(
        &self,
        _request: Request<pb::ReceiveFoundCardNoticeRequest>,
    ) -> Result<Response<pb::ReceiveFoundCardNoticeResponse>, Status> {
        Err(Status::unimplemented(
            "the acceptance service sends no found-card notices",
        ))
    }
}

pub struct FakeReview {
    pub url: String,
    received: Arc<Mutex<Inboxes>>,
    shutdown: CancellationToken,
}

impl FakeReview {
    async fn start() -> FakeReview {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("https://{}", listener.local_addr().unwrap());
        let inbox = FakeReviewInbox::default();
        let received = inbox.received.clone();
        let shutdown = CancellationToken::new();
        let tls = security().pki.service("review").unwrap().server_config().unwrap();
        let stop = shutdown.clone();
        tokio::spawn(async move {
            tonic::transport::Server::builder()
                .tls_config(tls)
                .unwrap()
                .add_service(ReviewInboxServiceServer::new(inbox))
                .serve_with_incoming_shutdown(TcpListenerStream::new(listener), stop.cancelled())
                .await
                .unwrap();
        });
        FakeReview {
            url,
            received,
            shutdown,
        }
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().applications.clone()
    }

    pub fn loss_reports(&self) -> Vec<Received<pb::ReceiveLossReportRequest>> {
        self.received.lock().unwrap().loss_reports.clone()
    }

    pub fn revocations(&self) -> Vec<Received<pb::ReceiveLossReportRevocationRequest>> {
        self.received.lock().unwrap().revocations.clone()
    }

    pub fn collections(&self) -> Vec<Received<pb::ReceiveCollectionNoticeRequest>> {
        self.received.lock().unwrap().collections.clone()
    }

    /// Waits until the loss report `report_number` has arrived.
    pub async fn wait_for_loss_report(&self, report_number: &str) -> Received<pb::ReceiveLossReportRequest> {
        eventually("the loss report reaches the review inbox", || {
            let found = self
                .loss_reports()
                .into_iter()
                .find(|r| r.request.report_number == report_number);
            async move { found }
        })
        .await
    }

    /// Waits until a revocation of `report_number` has arrived.
    pub async fn wait_for_revocation(&self, report_number: &str) -> Received<pb::ReceiveLossReportRevocationRequest> {
        eventually("the revocation reaches the review inbox", || {
            let found = self
                .revocations()
                .into_iter()
                .find(|r| r.request.report_number == report_number);
            async move { found }
        })
        .await
    }

    /// Waits until a collection notice for `application_id` has arrived.
    pub async fn wait_for_collection(&self, application_id: &str) -> Received<pb::ReceiveCollectionNoticeRequest> {
        eventually("the collection notice reaches the review inbox", || {
            let found = self
                .collections()
                .into_iter()
                .find(|r| r.request.application_id == application_id);
            async move { found }
        })
        .await
    }

    /// Waits until an application with `application_id` has arrived.
    pub async fn wait_for(&self, application_id: &str) -> Received {
        eventually("the application reaches the review inbox", || {
            let found = self
                .received()
                .into_iter()
                .find(|r| r.request.application_id == application_id);
            async move { found }
        })
        .await
    }
}

impl Drop for FakeReview {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Settings a test may change.
#[derive(Clone)]
pub struct Options {
    pub max_photo_bytes: usize,
    pub max_request_bytes: usize,
    pub key_reload_interval: Duration,
    pub reseal_interval: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_photo_bytes: acceptance::config::DEFAULT_MAX_PHOTO_BYTES,
            max_request_bytes: 4 * 1024 * 1024,
            key_reload_interval: Duration::from_secs(10),
            reseal_interval: Duration::from_secs(60),
        }
    }
}

/// The acceptance service on a fresh database, with its own key file, delivering to a
/// fake review inbox.
pub struct TestApp {
    pub url: String,
    pub db: TestDb,
    pub key_file: PathBuf,
    /// The JSON lines file notifications are written to (`IDCARD_NOTIFY_FILE`).
    pub notify_file: PathBuf,
    pub review: FakeReview,
    config: Config,
    shutdown: CancellationToken,
    task: Option<JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl TestApp {
    pub async fn start() -> TestApp {
        TestApp::start_with(Options::default()).await
    }

    pub async fn start_with(options: Options) -> TestApp {
        capture_logs();
        let security = security();
        let review = FakeReview::start().await;
        let db = TestDb::fresh("acceptance").await;
        let dir = tempfile::tempdir().unwrap();
        let key_file = dir.path().join("keys");
        idcard_crypto::Keyring::generate(&key_file).unwrap();
        let notify_file = dir.path().join("notifications.jsonl");

        let mut config = Config::for_database(db.url.clone());
        config.common.instance_name = Some("acceptance".to_string());
        config.common.peers = format!("review={}", review.url);
        config.common.relay_poll_interval = Duration::from_millis(100);
        // Nothing routes traffic to it: stop without a grace period.
        config.common.shutdown_grace = Duration::ZERO;
        config.common.relay_base_backoff = Duration::from_millis(50);
        config.common.relay_max_backoff = Duration::from_secs(1);
        config.common.key_file = Some(key_file.clone());
        config.common.key_reload_interval = options.key_reload_interval;
        config.common.max_request_bytes = options.max_request_bytes;
        config.common.auth.auth_public_keys = security.public_keys.clone();
        config
            .common
            .auth
            .set_tls_files(security.pki.service("acceptance").unwrap());
        config.routes = "1=review,2=review,3=review,4=review,5=review,6=review".to_string();
        config.max_photo_bytes = options.max_photo_bytes;
        config.reseal_interval = options.reseal_interval;
        config.notify.notify_file = Some(notify_file.clone());

        let mut app = TestApp {
            url: String::new(),
            db,
            key_file,
            notify_file,
            review,
            config,
            shutdown: CancellationToken::new(),
            task: None,
            _dir: dir,
        };
        app.spawn().await;
        app
    }

    async fn spawn(&mut self) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        self.url = format!("https://{addr}");
        self.shutdown = CancellationToken::new();
        let config = self.config.clone();
        let stop = self.shutdown.clone();
        self.task = Some(tokio::spawn(async move {
            acceptance::serve_with_listener(config, listener, stop).await.unwrap();
        }));
    }

    /// Stops the service and starts it again on the same database and key file.
    pub async fn restart(&mut self) {
        self.stop().await;
        self.spawn().await;
    }

    pub async fn stop(&mut self) {
        self.shutdown.cancel();
        if let Some(task) = self.task.take() {
            task.await.unwrap();
        }
    }

    /// A client of the front-end service carrying `token` (none: no authorization header).
    pub fn client(&self, token: Option<&str>) -> Client {
        let tls = idcard_auth::client_config_with_ca(&security().pki.ca_cert).unwrap();
        let channel = Endpoint::from_shared(self.url.clone())
            .unwrap()
            .tls_config(tls)
            .unwrap()
            .connect_lazy();
        let bearer = Bearer(token.map(|t| format!("Bearer {t}").parse().unwrap()));
        AcceptanceServiceClient::with_interceptor(channel, bearer)
    }

    /// The clerk at [`POINT`].
    pub fn clerk(&self) -> Client {
        self.client(Some(&clerk_token()))
    }

    /// A client of the inbox presenting `service`'s certificate (none: the CA only).
    pub fn inbox(&self, service: Option<&str>) -> AcceptanceInboxServiceClient<Channel> {
        let pki = &security().pki;
        let tls = match service {
            Some(service) => pki.service(service).unwrap().client_config().unwrap(),
            None => idcard_auth::client_config_with_ca(&pki.ca_cert).unwrap(),
        };
        let channel = Endpoint::from_shared(self.url.clone())
            .unwrap()
            .tls_config(tls)
            .unwrap()
            .connect_lazy();
        AcceptanceInboxServiceClient::new(channel)
    }

    /// A connection of the test's own to the service's database.
    pub async fn database(&self) -> Db {
        Db::connect(&self.db.url, &DbOptions::default()).await.unwrap()
    }

    /// Submits `request` as the clerk at [`POINT`] and returns the application.
    pub async fn submit(&self, request: pb::SubmitApplicationRequest) -> pb::Application {
        self.clerk()
            .submit_application(request)
            .await
            .unwrap()
            .into_inner()
            .application
            .unwrap()
    }

    pub async fn get(&self, client: &mut Client, application_id: &str) -> Result<pb::Application, Status> {
        client
            .get_application(pb::GetApplicationRequest {
                key: Some(pb::get_application_request::Key::ApplicationId(
                    application_id.to_string(),
                )),
            })
            .await
            .map(|r| r.into_inner().application.unwrap())
    }
}

impl TestApp {
    /// Reports `request` as the clerk at [`POINT`] and returns the report.
    pub async fn report(&self, request: pb::ReportLossRequest) -> pb::LossReport {
        self.clerk()
            .report_loss(request)
            .await
            .unwrap()
            .into_inner()
            .report
            .unwrap()
    }

    pub async fn get_report(&self, client: &mut Client, report_number: &str) -> Result<pb::LossReport, Status> {
        client
            .get_loss_report(pb::GetLossReportRequest {
                report_number: report_number.to_string(),
            })
            .await
            .map(|r| r.into_inner().report.unwrap())
    }

    /// The domicile bureau's outcome of a report, as the review relay delivers it.
    pub async fn outcome(
        &self,
        report_number: &str,
        state: pb::LossReportState,
        same_as: &str,
        note: &str,
    ) -> Result<(), Status> {
        self.inbox(Some("review"))
            .receive_loss_report_outcome(pb::ReceiveLossReportOutcomeRequest {
                message_id: uuid::Uuid::now_v7().to_string(),
                report_number: report_number.to_string(),
                state: state.into(),
                same_as_report_number: same_as.to_string(),
                at: None,
                note: note.to_string(),
            })
            .await
            .map(drop)
    }

    /// Waits until the relay has delivered application `id` and it is under review.
    pub async fn under_review(&self, id: &str) {
        self.review.wait_for(id).await;
        eventually("the application is under review", || async {
            let current = self.get(&mut self.clerk(), id).await.unwrap();
            (current.state() == pb::ApplicationState::UnderReview).then_some(())
        })
        .await;
    }

    /// The domicile bureau's decision on application `id`, as the review relay delivers it.
    pub async fn decide(&self, id: &str, decision: pb::receive_decision_request::Decision) {
        self.inbox(Some("review"))
            .receive_decision(pb::ReceiveDecisionRequest {
                message_id: uuid::Uuid::now_v7().to_string(),
                application_id: id.to_string(),
                decision: Some(decision),
                decided_at: None,
                reviewer: "reviewer-1".into(),
            })
            .await
            .unwrap();
    }

    /// Takes application `id` from under review to dispatched to the acceptance point:
    /// approved, made, checked and sent.
    pub async fn approve_and_dispatch(&self, id: &str) {
        self.decide(
            id,
            pb::receive_decision_request::Decision::Approval(pb::Approval {
                issuance: Some(pb::Issuance {
                    validity_start: Some(pb::CalendarDate {
                        year: 2026,
                        month: 1,
                        day: 5,
                    }),
                    validity_end: None,
                    long_term: true,
                    issuing_authority: "广州市公安局天河分局".into(),
                    card_id: uuid::Uuid::now_v7().to_string(),
                }),
            }),
        )
        .await;
        for step in [
            pb::ProductionStep::Started,
            pb::ProductionStep::QualityCheckPassed,
            pb::ProductionStep::Dispatched,
        ] {
            self.inbox(Some("production"))
                .receive_production_update(pb::ReceiveProductionUpdateRequest {
                    message_id: uuid::Uuid::now_v7().to_string(),
                    application_id: id.to_string(),
                    step: step.into(),
                    at: None,
                    detail: String::new(),
                    operator: "operator-1".into(),
                })
                .await
                .unwrap();
        }
    }

    /// Every notification line written so far.
    pub fn notifications(&self) -> Vec<serde_json::Value> {
        match std::fs::read_to_string(&self.notify_file) {
            Ok(text) => text.lines().map(|line| serde_json::from_str(line).unwrap()).collect(),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(err) => panic!("cannot read {}: {err}", self.notify_file.display()),
        }
    }

    /// Waits until a notification whose text contains `needle` is written.
    pub async fn wait_for_notification(&self, needle: &str) -> serde_json::Value {
        eventually("the notification is written", || {
            let found = self
                .notifications()
                .into_iter()
                .find(|line| line["text"].as_str().is_some_and(|text| text.contains(needle)));
            async move { found }
        })
        .await
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// A replacement for `p` at [`POINT`], with a photo and one fingerprint.
pub fn replacement(p: &Person) -> pb::SubmitApplicationRequest {
    let fee = idcard_domain::application_fee(
        ApplicationKind::Replacement,
        Waiver::None,
        idcard_server::wire::today_cst(),
    );
    let (year, month, day) = p.birth;
    pb::SubmitApplicationRequest {
        request_id: uuid::Uuid::now_v7().to_string(),
        acceptance_point_code: POINT.into(),
        kind: pb::ApplicationKind::Replacement.into(),
        applicant: Some(pb::Applicant {
            card_items: Some(pb::CardItems {
                citizen_id: p.citizen_id.into(),
                name: p.name.into(),
                sex: p.sex.into(),
                ethnicity: "汉".into(),
                birth_date: Some(pb::CalendarDate { year, month, day }),
                domicile_address: p.address.into(),
            }),
            domicile_region_code: p.domicile.into(),
            phone: p.phone.into(),
            photo: [&[0xFF, 0xD8][..], PHOTO_MARK, &[0xFF, 0xD9]].concat(),
            fingerprints: vec![FINGERPRINT_MARK.to_vec()],
        }),
        guardian: None,
        documents: vec![
            pb::DocumentKind::HouseholdBooklet.into(),
            pb::DocumentKind::ResidencePermit.into(),
        ],
        fee: Some(pb::FeePayment {
            waiver: pb::FeeWaiver::None.into(),
            amount_fen: i64::from(fee.amount_fen),
            payment_reference: "POS-1".into(),
        }),
        current_card_expiry: None,
        appearance_changed: false,
        clerk: "not-the-token-subject".into(),
        loss_report_number: String::new(),
    }
}

/// What `p` lost, in words that must never be found in clear at rest or in a log.
pub const CIRCUMSTANCE_MARK: &str = "在地铁三号线体育西路站丢失-7f3a";

/// A loss report of `p`'s card at [`POINT`], identity confirmed by fingerprint.
pub fn loss_report(p: &Person) -> pb::ReportLossRequest {
    pb::ReportLossRequest {
        request_id: uuid::Uuid::now_v7().to_string(),
        acceptance_point_code: POINT.into(),
        citizen_id: p.citizen_id.into(),
        name: p.name.into(),
        domicile_region_code: p.domicile.into(),
        kind: pb::LossKind::Lost.into(),
        circumstance: CIRCUMSTANCE_MARK.into(),
        identity: Some(fingerprint_matched()),
    }
}

pub fn fingerprint_matched() -> pb::IdentityConfirmation {
    pb::IdentityConfirmation {
        method: Some(pb::identity_confirmation::Method::FingerprintMatched(true)),
    }
}

/// Retries `probe` every 50 ms until it yields a value; panics after 15 s.
pub async fn eventually<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Everything the database holds, as bytes to search: on SQLite the database files
/// themselves (main file, WAL and shared memory); on PostgreSQL a dump of every table.
pub async fn database_bytes(app: &TestApp) -> Vec<u8> {
    if app.db.is_postgres() {
        return postgres_dump(&app.database().await).await;
    }
    let path = app.db.url.strip_prefix("sqlite:").unwrap();
    let dir = Path::new(path).parent().unwrap();
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.ends_with(".db") || name.ends_with("-wal") || name.ends_with("-shm") {
            bytes.extend(std::fs::read(&path).unwrap());
        }
    }
    assert!(!bytes.is_empty(), "no database file found in {}", dir.display());
    bytes
}

/// Every row of every table as text (bytea shows as `\x` and hex).
async fn postgres_dump(db: &Db) -> Vec<u8> {
    on_db!(db, |pool| {
        let tables: Vec<String> = sqlx::query_scalar(
            "SELECT table_name::text FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
        )
        .fetch_all(pool)
        .await
        .unwrap();
        assert!(tables.iter().any(|t| t == "applications"), "{tables:?}");
        let mut dump = Vec::new();
        for table in tables {
            let sql = format!("SELECT CAST(t AS TEXT) FROM \"{table}\" t");
            let rows: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .fetch_all(pool)
                .await
                .unwrap();
            for row in rows {
                dump.extend_from_slice(row.as_bytes());
                dump.push(b'\n');
            }
        }
        dump
    })
}

/// Where `needle` occurs in `haystack`, as bytes or (PostgreSQL dumps) as hex.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    let hex: String = needle.iter().map(|b| format!("{b:02x}")).collect();
    find(haystack, needle) || find(haystack, hex.as_bytes())
}

fn find(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|window| window == needle)
}

/// How many outbox rows of `kind` were ever enqueued.
pub async fn outbox_count(db: &Db, kind: &str) -> i64 {
    on_db!(db, |pool| {
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM outbox WHERE kind = $1")
            .bind(kind)
            .fetch_one(pool)
            .await
            .unwrap()
    })
}

/// A column of one application, as stored.
pub async fn stored_blob(db: &Db, column: &str, application_id: &str) -> Vec<u8> {
    let id: uuid::Uuid = application_id.parse().unwrap();
    let sql = format!("SELECT {column} FROM applications WHERE application_id = $1");
    on_db!(db, |pool| {
        sqlx::query_scalar::<_, Vec<u8>>(sqlx::AssertSqlSafe(sql.clone()))
            .bind(id)
            .fetch_one(pool)
            .await
            .unwrap()
    })
}

pub async fn stored_text(db: &Db, column: &str, application_id: &str) -> String {
    let id: uuid::Uuid = application_id.parse().unwrap();
    let sql = format!("SELECT {column} FROM applications WHERE application_id = $1");
    on_db!(db, |pool| {
        sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql.clone()))
            .bind(id)
            .fetch_one(pool)
            .await
            .unwrap()
    })
}

/// One audit entry: actor, role, action, target, detail.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AuditRow {
    pub actor: String,
    pub role: String,
    pub action: String,
    pub target: String,
    pub detail: String,
}

pub async fn audit_entries(db: &Db, application_id: &str) -> Vec<AuditRow> {
    audit_entries_of(db, &format!("application:{application_id}")).await
}

/// The audit entries of `target` (`application:<id>` or `loss_report:<number>`).
pub async fn audit_entries_of(db: &Db, target: &str) -> Vec<AuditRow> {
    on_db!(db, |pool| {
        sqlx::query_as::<_, AuditRow>(
            "SELECT actor, role, action, target, detail FROM audit_log WHERE target = $1 ORDER BY seq",
        )
        .bind(target)
        .fetch_all(pool)
        .await
        .unwrap()
    })
}
