//! A review service on port 0 against a fresh database, fake acceptance, production and
//! status inboxes that record what they receive, a notification file, and fixtures.
//!
//! By default the service runs as in production: TLS from a development PKI, bearer
//! tokens from a test issuer, a key file of its own. The fake peers serve TLS with the
//! acceptance, production and status certificates and record which service called them.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use idcard_auth::dev_pki::{self, DevPki};
use idcard_auth::{Issuer, Role, client_config_with_ca, generate_signing_key, service_of_certificate};
use idcard_crypto::Keyring;
use idcard_db::{Db, DbOptions, on_db};
use idcard_domain::{ReceiptNo, check_character};
use idcard_proto::v1::acceptance_inbox_service_server::{AcceptanceInboxService, AcceptanceInboxServiceServer};
use idcard_proto::v1::citizen_service_client::CitizenServiceClient;
use idcard_proto::v1::identity_confirmation::Method;
use idcard_proto::v1::production_inbox_service_server::{ProductionInboxService, ProductionInboxServiceServer};
use idcard_proto::v1::review_inbox_service_client::ReviewInboxServiceClient;
use idcard_proto::v1::review_service_client::ReviewServiceClient;
use idcard_proto::v1::status_inbox_service_server::{StatusInboxService, StatusInboxServiceServer};
use idcard_proto::v1::{
    self, PublishCardStatusRequest, PublishCardStatusResponse, ReceiveDecisionRequest, ReceiveDecisionResponse,
    ReceiveLossReportOutcomeRequest, ReceiveLossReportOutcomeResponse, ReceiveProductionOrderRequest,
    ReceiveProductionOrderResponse, ReceiveProductionUpdateRequest, ReceiveProductionUpdateResponse,
};
use idcard_server::wire::{date_to_wire, ms_to_timestamp, today_cst};
use idcard_testkit::TestDb;
use time::Date;
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tokio_util::sync::CancellationToken;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint, ServerTlsConfig};
use tonic::{Request, Response, Status};
use uuid::Uuid;

pub const ACCEPTANCE_PEER: &str = "acceptance-gz";
pub const PRODUCTION_PEER: &str = "production-gz";
/// The status service's peer name (the service's default `IDCARD_STATUS_PEER`).
pub const STATUS_PEER: &str = "status";
/// The review instance's name, the `issuer` of the card status it publishes.
pub const INSTANCE: &str = "review-gz";
pub const ACCEPTANCE_POINT: &str = "330106-01";
/// The reviewer the default client's token names, over Guangdong.
pub const REVIEWER: &str = "reviewer-1";
pub const REVIEWER_SCOPE: &[&str] = &["44"];

/// One development PKI and token signing key for the whole test binary.
pub struct Security {
    pub pki: DevPki,
    pub issuer: Issuer,
    /// `kid=PATH` of the issuer's public key, as the service is configured.
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

/// A token for `subject` with `role` over `scope`, valid for an hour.
pub fn token(subject: &str, role: Role, scope: &[&str]) -> String {
    let scope = scope.iter().map(|s| s.to_string()).collect();
    security()
        .issuer
        .issue(subject, role, scope, Duration::from_secs(3600))
        .unwrap()
}

/// Adds `authorization: Bearer <token>` to every call, when there is a token.
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

/// What the fake acceptance and production inboxes received, in arrival order.
#[derive(Debug, Clone)]
pub enum Event {
    Decision(ReceiveDecisionRequest),
    ProductionOrder(ReceiveProductionOrderRequest),
    LossOutcome(ReceiveLossReportOutcomeRequest),
}

/// A card status the fake status inbox received, and the service that sent it.
#[derive(Debug, Clone)]
pub struct Published {
    pub request: PublishCardStatusRequest,
    pub caller: String,
}

#[derive(Default)]
pub struct Recorder {
    events: Mutex<Vec<Event>>,
    statuses: Mutex<Vec<Published>>,
    /// The service named by each caller's client certificate (`-` for none).
    callers: Mutex<Vec<String>>,
    /// Decision deliveries to answer UNAVAILABLE before accepting one.
    failing_decisions: AtomicUsize,
    /// Production orders received while the acceptance side had no decision yet.
    orders_before_decision: AtomicUsize,
}

impl Recorder {
    pub fn events(&self) -> Vec<Event> {
        self.events.lock().unwrap().clone()
    }

    pub fn callers(&self) -> Vec<String> {
        self.callers.lock().unwrap().clone()
    }

    pub fn statuses(&self) -> Vec<Published> {
        self.statuses.lock().unwrap().clone()
    }

    fn has_decision(&self) -> bool {
        self.events
            .lock()
            .unwrap()
            .iter()
            .any(|e| matches!(e, Event::Decision(_)))
    }

    fn caller<T>(&self, request: &Request<T>) {
        let service = caller_of(request);
        self.callers.lock().unwrap().push(service);
    }
}

fn caller_of<T>(request: &Request<T>) -> String {
    request
        .peer_certs()
        .and_then(|certs| certs.first().and_then(service_of_certificate))
        .unwrap_or_else(|| "-".to_string())
}

struct FakeAcceptance(Arc<Recorder>);

#[tonic::async_trait]
impl AcceptanceInboxService for FakeAcceptance {
    async fn receive_decision(
        &self,
        request: Request<ReceiveDecisionRequest>,
    ) -> Result<Response<ReceiveDecisionResponse>, Status> {
        let failing = &self.0.failing_decisions;
        if failing.load(Ordering::SeqCst) > 0 {
            failing.fetch_sub(1, Ordering::SeqCst);
            return Err(Status::unavailable("acceptance is restarting"));
        }
        self.0.caller(&request);
        self.0
            .events
            .lock()
            .unwrap()
            .push(Event::Decision(request.into_inner()));
        Ok(Response::new(ReceiveDecisionResponse {}))
    }

    async fn receive_production_update(
        &self,
        _request: Request<ReceiveProductionUpdateRequest>,
    ) -> Result<Response<ReceiveProductionUpdateResponse>, Status> {
        Err(Status::unimplemented("the review service sends no production updates"))
    }

    async fn receive_loss_report_outcome(
        &self,
        request: Request<ReceiveLossReportOutcomeRequest>,
    ) -> Result<Response<ReceiveLossReportOutcomeResponse>, Status> {
        self.0.caller(&request);
        self.0
            .events
            .lock()
            .unwrap()
            .push(Event::LossOutcome(request.into_inner()));
        Ok(Response::new(ReceiveLossReportOutcomeResponse {}))
    }
}

struct FakeStatus(Arc<Recorder>);

#[tonic::async_trait]
impl StatusInboxService for FakeStatus {
    async fn publish_card_status(
        &self,
        request: Request<PublishCardStatusRequest>,
    ) -> Result<Response<PublishCardStatusResponse>, Status> {
        let caller = caller_of(&request);
        self.0.statuses.lock().unwrap().push(Published {
            request: request.into_inner(),
            caller,
        });
        Ok(Response::new(PublishCardStatusResponse {}))
    }
}

struct FakeProduction(Arc<Recorder>);

#[tonic::async_trait]
impl ProductionInboxService for FakeProduction {
    async fn receive_production_order(
        &self,
        request: Request<ReceiveProductionOrderRequest>,
    ) -> Result<Response<ReceiveProductionOrderResponse>, Status> {
        if !self.0.has_decision() {
            self.0.orders_before_decision.fetch_add(1, Ordering::SeqCst);
        }
        self.0.caller(&request);
        self.0
            .events
            .lock()
            .unwrap()
            .push(Event::ProductionOrder(request.into_inner()));
        Ok(Response::new(ReceiveProductionOrderResponse {}))
    }
}

/// A running review service and its fake peers.
pub struct App {
    /// A reviewer of Guangdong ([`REVIEWER`] over [`REVIEWER_SCOPE`]).
    pub review: ReviewServiceClient<Authed>,
    /// Presents the acceptance service's certificate.
    pub inbox: ReviewInboxServiceClient<Channel>,
    pub recorder: Arc<Recorder>,
    pub db: TestDb,
    /// The service's key file.
    pub key_file: PathBuf,
    /// Where the service writes citizens' notifications (JSON lines).
    pub notify_file: PathBuf,
    secure: bool,
    url: String,
    _keys_dir: tempfile::TempDir,
    shutdown: CancellationToken,
    server: Option<tokio::task::JoinHandle<Result<(), review::Error>>>,
}

impl App {
    /// The service with TLS and tokens.
    pub async fn spawn() -> App {
        App::start(true).await
    }

    /// The service in insecure mode: plaintext, no tokens, no peer certificates.
    pub async fn spawn_insecure() -> App {
        App::start(false).await
    }

    async fn start(secure: bool) -> App {
        let db = TestDb::fresh("review").await;
        let keys_dir = tempfile::tempdir().unwrap();
        let key_file = keys_dir.path().join("keys.txt");
        Keyring::generate(&key_file).unwrap();
        let shutdown = CancellationToken::new();
        let recorder = Arc::new(Recorder::default());
        let tls = |service: &str| secure.then(|| security().pki.service(service).unwrap().server_config().unwrap());
        let acceptance = serve_fake(
            tonic::service::Routes::new(AcceptanceInboxServiceServer::new(FakeAcceptance(Arc::clone(&recorder)))),
            tls("acceptance"),
            shutdown.clone(),
        )
        .await;
        let production = serve_fake(
            tonic::service::Routes::new(ProductionInboxServiceServer::new(FakeProduction(Arc::clone(&recorder)))),
            tls("production"),
            shutdown.clone(),
        )
        .await;
        let status = serve_fake(
            tonic::service::Routes::new(StatusInboxServiceServer::new(FakeStatus(Arc::clone(&recorder)))),
            tls("status"),
            shutdown.clone(),
        )
        .await;
        let notify_file = keys_dir.path().join("notifications.jsonl");

        let mut config = review::Config::for_database(db.url.clone());
        config.common.peers =
            format!("{ACCEPTANCE_PEER}={acceptance},{PRODUCTION_PEER}={production},{STATUS_PEER}={status}");
        config.common.instance_name = Some(INSTANCE.to_string());
        config.notify.notify_file = Some(notify_file.clone());
        config.common.relay_poll_interval = Duration::from_millis(50);
        // Nothing routes traffic to it: stop without a grace period.
        config.common.shutdown_grace = Duration::ZERO;
        config.common.relay_base_backoff = Duration::from_millis(20);
        config.common.relay_max_backoff = Duration::from_millis(200);
        config.common.peer_timeout = Duration::from_secs(5);
        config.common.key_file = Some(key_file.clone());
        config.common.key_reload_interval = Duration::from_millis(100);
        if secure {
            config
                .common
                .auth
                .set_tls_files(security().pki.service("review").unwrap());
            config.common.auth.auth_public_keys = security().public_keys.clone();
        } else {
            config.common.auth.insecure = true;
        }
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let scheme = if secure { "https" } else { "http" };
        let url = format!("{scheme}://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(review::serve_with_listener(config, listener, shutdown.clone()));

        let mut app = App {
            review: ReviewServiceClient::new(InterceptedService::new(plain_channel(&url), Bearer(None))),
            inbox: ReviewInboxServiceClient::new(plain_channel(&url)),
            recorder,
            db,
            key_file,
            notify_file,
            secure,
            url,
            _keys_dir: keys_dir,
            shutdown,
            server: Some(server),
        };
        if secure {
            app.review = app.review_as(REVIEWER, Role::Reviewer, REVIEWER_SCOPE);
            app.inbox = app.inbox_as(Some("acceptance"));
        }
        app
    }

    /// A client for `subject` with `role` over `scope`.
    pub fn review_as(&self, subject: &str, role: Role, scope: &[&str]) -> ReviewServiceClient<Authed> {
        self.review_with(Some(&token(subject, role, scope)))
    }

    /// A client sending `token` (or none).
    pub fn review_with(&self, token: Option<&str>) -> ReviewServiceClient<Authed> {
        let bearer = Bearer(token.map(|token| format!("Bearer {token}").parse().unwrap()));
        ReviewServiceClient::new(InterceptedService::new(self.channel(None), bearer))
    }

    /// The online service as the citizen with `citizen_id` (a citizen token for it).
    pub fn citizen(&self, citizen_id: &str) -> CitizenServiceClient<Authed> {
        let token = token(&format!("citizen-{}", &citizen_id[14..]), Role::Citizen, &[citizen_id]);
        self.citizen_with(Some(&token))
    }

    /// The online service with `token` (or none).
    pub fn citizen_with(&self, token: Option<&str>) -> CitizenServiceClient<Authed> {
        let bearer = Bearer(token.map(|token| format!("Bearer {token}").parse().unwrap()));
        CitizenServiceClient::new(InterceptedService::new(self.channel(None), bearer))
    }

    /// An inbox client presenting the certificate of `service` (or none).
    pub fn inbox_as(&self, service: Option<&str>) -> ReviewInboxServiceClient<Channel> {
        ReviewInboxServiceClient::new(self.channel(service))
    }

    fn channel(&self, service: Option<&str>) -> Channel {
        if !self.secure {
            return plain_channel(&self.url);
        }
        let pki = &security().pki;
        let tls = match service {
            Some(service) => pki.service(service).unwrap().client_config().unwrap(),
            None => client_config_with_ca(&pki.ca_cert).unwrap(),
        };
        Endpoint::from_shared(self.url.clone())
            .unwrap()
            .tls_config(tls)
            .unwrap()
            .connect_lazy()
    }

    /// Stops the service and checks that it stopped cleanly.
    pub async fn stop(mut self) {
        self.halt().await;
    }

    /// Stops the service (cleanly) and keeps its database for inspection.
    pub async fn halt(&mut self) {
        self.shutdown.cancel();
        if let Some(server) = self.server.take() {
            server.await.unwrap().unwrap();
        }
    }

    /// A connection to the service's database.
    pub async fn database(&self) -> Db {
        Db::connect(&self.db.url, &DbOptions::default()).await.unwrap()
    }

    /// Waits until the fake peers have received `count` messages (or fails).
    pub async fn wait_for_events(&self, count: usize) -> Vec<Event> {
        for _ in 0..500 {
            let events = self.recorder.events();
            if events.len() >= count {
                return events;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!(
            "expected {count} messages at the fake peers, got {:?}",
            self.recorder.events()
        );
    }

    /// Gives the relay time to send anything it still would, then returns what arrived.
    pub async fn settled_events(&self) -> Vec<Event> {
        tokio::time::sleep(Duration::from_millis(400)).await;
        self.recorder.events()
    }

    /// Waits until the fake acceptance and production inboxes hold a message for which
    /// `wanted` holds, and returns it (or fails).
    pub async fn wait_for_event(&self, what: &str, wanted: impl Fn(&Event) -> bool) -> Event {
        for _ in 0..500 {
            if let Some(event) = self.recorder.events().into_iter().find(&wanted) {
                return event;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("expected {what} at the fake peers, got {:?}", self.recorder.events());
    }

    /// Waits for the loss report outcome of `report_number` in `state`.
    pub async fn wait_for_outcome(
        &self,
        report_number: &str,
        state: v1::LossReportState,
    ) -> ReceiveLossReportOutcomeRequest {
        let what = format!("outcome {state:?} of {report_number}");
        let event = self
            .wait_for_event(&what, |event| {
                matches!(event, Event::LossOutcome(outcome)
                    if outcome.report_number == report_number && outcome.state == state as i32)
            })
            .await;
        let Event::LossOutcome(outcome) = event else {
            unreachable!()
        };
        outcome
    }

    /// Every loss report outcome received so far.
    pub fn outcomes(&self) -> Vec<ReceiveLossReportOutcomeRequest> {
        self.recorder
            .events()
            .into_iter()
            .filter_map(|event| match event {
                Event::LossOutcome(outcome) => Some(outcome),
                _ => None,
            })
            .collect()
    }

    /// Waits until the fake status inbox holds a status of `card_id` equal to `status`,
    /// and returns it (or fails).
    pub async fn wait_for_status(&self, card_id: &str, status: v1::CardStatus) -> Published {
        self.wait_for_status_after(card_id, status, i64::MIN).await
    }

    /// [`App::wait_for_status`] for a version above `version`.
    pub async fn wait_for_status_after(&self, card_id: &str, status: v1::CardStatus, version: i64) -> Published {
        for _ in 0..500 {
            if let Some(published) = self.recorder.statuses().into_iter().find(|p| {
                p.request.card_id == card_id && p.request.status == status as i32 && p.request.version > version
            }) {
                return published;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let seen: Vec<_> = self
            .recorder
            .statuses()
            .into_iter()
            .map(|p| (p.request.card_id, p.request.status, p.request.version))
            .collect();
        panic!("expected status {status:?} of card {card_id}, got {seen:?}");
    }

    /// The statuses published for `card_id` so far, in arrival order.
    pub fn statuses_of(&self, card_id: &str) -> Vec<PublishCardStatusRequest> {
        self.recorder
            .statuses()
            .into_iter()
            .map(|p| p.request)
            .filter(|request| request.card_id == card_id)
            .collect()
    }

    /// The lines of the notification file so far.
    pub fn notifications(&self) -> Vec<serde_json::Value> {
        let Ok(text) = std::fs::read_to_string(&self.notify_file) else {
            return Vec::new();
        };
        text.lines().map(|line| serde_json::from_str(line).unwrap()).collect()
    }

    /// Waits for a notification whose text contains `needle`, and returns its text.
    pub async fn wait_for_notification(&self, needle: &str) -> String {
        for _ in 0..500 {
            if let Some(text) = self
                .notifications()
                .iter()
                .filter_map(|line| line["text"].as_str())
                .find(|text| text.contains(needle))
            {
                return text.to_string();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!(
            "expected a notification containing {needle:?}, got {:?}",
            self.notifications()
        );
    }

    /// Waits for a one-time code sent after `sent_before` codes, and returns it.
    pub async fn wait_for_code(&self, sent_before: usize) -> String {
        for _ in 0..500 {
            let codes = self.codes();
            if codes.len() > sent_before {
                return codes[sent_before].clone();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("expected a one-time code, got {:?}", self.notifications());
    }

    /// The one-time codes in the notification file, oldest first.
    pub fn codes(&self) -> Vec<String> {
        self.notifications()
            .iter()
            .filter_map(|line| line["text"].as_str())
            .filter(|text| text.contains("验证码"))
            .map(|text| text.chars().filter(char::is_ascii_digit).take(6).collect())
            .collect()
    }

    pub fn fail_next_decisions(&self, count: usize) {
        self.recorder.failing_decisions.store(count, Ordering::SeqCst);
    }

    pub fn orders_before_decision(&self) -> usize {
        self.recorder.orders_before_decision.load(Ordering::SeqCst)
    }

    /// Card statuses of a resident, straight from the database (no RPC reads cards),
    /// found by the blind index the store keeps them under.
    pub async fn card_statuses(&self, citizen_id: &str) -> Vec<String> {
        let index = Keyring::load(&self.key_file)
            .unwrap()
            .blind_index(&format!("citizen_id:{citizen_id}"));
        let db = self.database().await;
        let statuses: Vec<String> = on_db!(&db, |pool| {
            sqlx::query_scalar("SELECT status FROM cards WHERE citizen_id_index = $1 ORDER BY validity_start")
                .bind(index.as_slice())
                .fetch_all(pool)
                .await
                .unwrap()
        });
        db.close().await;
        statuses
    }

    pub async fn import(&mut self, residents: Vec<v1::Resident>) -> v1::ImportResidentsResponse {
        let request = v1::ImportResidentsRequest {
            request_id: Uuid::now_v7().to_string(),
            residents,
        };
        self.review.import_residents(request).await.unwrap().into_inner()
    }

    pub async fn receive(&mut self, application: v1::ReceiveApplicationRequest) {
        self.inbox.receive_application(application).await.unwrap();
    }

    pub async fn get(&mut self, application_id: &str) -> v1::ReviewCase {
        let request = v1::ReviewServiceGetApplicationRequest {
            application_id: application_id.to_string(),
        };
        self.review
            .get_application(request)
            .await
            .unwrap()
            .into_inner()
            .review_case
            .unwrap()
    }

    pub async fn list(&mut self, jurisdiction: &str) -> Vec<v1::ReviewCaseSummary> {
        let request = v1::ListPendingApplicationsRequest {
            jurisdiction_code: jurisdiction.to_string(),
            ..Default::default()
        };
        self.review
            .list_pending_applications(request)
            .await
            .unwrap()
            .into_inner()
            .applications
    }
}

impl Drop for App {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

fn plain_channel(url: &str) -> Channel {
    Endpoint::from_shared(url.to_string()).unwrap().connect_lazy()
}

/// Serves `routes` on 127.0.0.1:0, over TLS when given; returns the URL.
async fn serve_fake(
    routes: tonic::service::Routes,
    tls: Option<ServerTlsConfig>,
    shutdown: CancellationToken,
) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let scheme = if tls.is_some() { "https" } else { "http" };
    let url = format!("{scheme}://{}", listener.local_addr().unwrap());
    let mut builder = tonic::transport::Server::builder();
    if let Some(tls) = tls {
        builder = builder.tls_config(tls).unwrap();
    }
    let server = builder.add_routes(routes);
    tokio::spawn(async move {
        server
            .serve_with_incoming_shutdown(TcpListenerStream::new(listener), shutdown.cancelled_owned())
            .await
    });
    url
}

/// Every file of a SQLite database (`.db`, `-wal`, `-shm`), or every row of every table
/// of a PostgreSQL database as text (`bytea` shows as hex), as bytes to search.
pub async fn database_contents(app: &App) -> Vec<(String, Vec<u8>)> {
    if let Some(path) = app.db.url.strip_prefix("sqlite:") {
        let dir = Path::new(path).parent().unwrap();
        return std::fs::read_dir(dir)
            .unwrap()
            .map(|entry| {
                let path = entry.unwrap().path();
                (path.display().to_string(), std::fs::read(&path).unwrap())
            })
            .collect();
    }
    let db = app.database().await;
    let tables: Vec<String> = on_db!(&db, |pool| {
        sqlx::query_scalar("SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public'")
            .fetch_all(pool)
            .await
            .unwrap()
    });
    let mut contents = Vec::new();
    for table in tables {
        let sql = format!("SELECT t::text FROM \"{table}\" t");
        let rows: Vec<String> = on_db!(&db, |pool| {
            sqlx::query_scalar(sqlx::AssertSqlSafe(sql.as_str()))
                .fetch_all(pool)
                .await
                .unwrap()
        });
        contents.push((table, rows.join("\n").into_bytes()));
    }
    db.close().await;
    contents
}

/// `text` as PostgreSQL shows it inside `bytea` text: lower-case hex.
pub fn hex(text: &str) -> String {
    text.bytes().map(|b| format!("{b:02x}")).collect()
}

/// A valid citizen id: `region`, `birth`, a three-digit sequence (odd: male) and its
/// check character.
pub fn citizen_id(region: &str, birth: Date, sequence: u16) -> String {
    let first17 = format!(
        "{region}{:04}{:02}{:02}{sequence:03}",
        birth.year(),
        u8::from(birth.month()),
        birth.day()
    );
    let check = check_character(first17.as_bytes().try_into().unwrap());
    format!("{first17}{}", char::from(check))
}

/// A person in the household register of Tianhe district (440106), with the card they
/// hold now expiring next month (so that a renewal is not too early).
#[derive(Debug, Clone)]
pub struct Person {
    pub citizen_id: String,
    pub name: String,
    pub sex: v1::Sex,
    pub birth: Date,
    pub domicile_region_code: String,
    pub address: String,
    pub phone: String,
}

impl Person {
    /// Born `age` years ago last January, so they are `age` (or `age - 1` in early January).
    pub fn aged(age: i32, sequence: u16) -> Person {
        let birth = Date::from_calendar_date(today_cst().year() - age, time::Month::January, 2).unwrap();
        Person {
            citizen_id: citizen_id("440106", birth, sequence),
            name: format!("李雷{sequence}"),
            sex: if sequence % 2 == 1 {
                v1::Sex::Male
            } else {
                v1::Sex::Female
            },
            birth,
            domicile_region_code: "440106".to_string(),
            address: format!("广东省广州市天河区体育西路{sequence}号"),
            phone: format!("1380013{sequence:04}"),
        }
    }

    /// The same person registered in Chaoyang district, Beijing (110105).
    pub fn in_beijing(mut self) -> Person {
        self.citizen_id = citizen_id("110105", self.birth, self.citizen_id[14..17].parse().unwrap());
        self.domicile_region_code = "110105".to_string();
        self.address = format!("北京市朝阳区某街{}号", &self.citizen_id[14..17]);
        self
    }

    pub fn card_items(&self) -> v1::CardItems {
        v1::CardItems {
            citizen_id: self.citizen_id.clone(),
            name: self.name.clone(),
            sex: self.sex.into(),
            ethnicity: "汉".to_string(),
            birth_date: Some(date_to_wire(self.birth)),
            domicile_address: self.address.clone(),
        }
    }

    /// The register record, with one active card expiring next month.
    pub fn resident(&self) -> v1::Resident {
        let end = today_cst() + time::Duration::days(30);
        let start = end
            .replace_year(end.year() - 10)
            .unwrap_or(end - time::Duration::days(3652));
        v1::Resident {
            card_items: Some(self.card_items()),
            domicile_region_code: self.domicile_region_code.clone(),
            fingerprint_on_record: true,
            phone: self.phone.clone(),
            record_locked: false,
            bad_credit: false,
            forged_documents_on_record: false,
            cards: vec![v1::ResidentCard {
                card_id: Uuid::now_v7().to_string(),
                validity_start: Some(date_to_wire(start)),
                validity_end: Some(date_to_wire(end)),
                long_term: false,
                issuing_authority: "广州市公安局天河分局".to_string(),
                status: v1::CardStatus::Active.into(),
            }],
        }
    }

    /// The id of the card the register record from [`Person::resident`] gives.
    pub fn card_id(resident: &v1::Resident) -> String {
        resident.cards[0].card_id.clone()
    }

    /// A loss report of this person's card taken at the counter of [`ACCEPTANCE_PEER`].
    pub fn loss_report(&self, identity: v1::IdentityConfirmation) -> v1::ReceiveLossReportRequest {
        v1::ReceiveLossReportRequest {
            message_id: Uuid::now_v7().to_string(),
            report_number: report_number(),
            citizen_id: self.citizen_id.clone(),
            name: self.name.clone(),
            kind: v1::LossKind::Lost.into(),
            circumstance: format!("{} lost it on metro line 3", self.name),
            identity: Some(identity),
            reported_at: Some(ms_to_timestamp(idcard_db::now_ms())),
            origin: ACCEPTANCE_PEER.to_string(),
        }
    }

    /// The message an acceptance service sends for this person.
    pub fn application(&self, kind: v1::ApplicationKind) -> v1::ReceiveApplicationRequest {
        v1::ReceiveApplicationRequest {
            message_id: Uuid::now_v7().to_string(),
            application_id: Uuid::now_v7().to_string(),
            receipt_number: ReceiptNo::from_u64(fastrand_u64()).as_str().to_string(),
            kind: kind.into(),
            acceptance_point_code: ACCEPTANCE_POINT.to_string(),
            applicant: Some(v1::Applicant {
                card_items: Some(self.card_items()),
                domicile_region_code: self.domicile_region_code.clone(),
                phone: self.phone.clone(),
                photo: vec![0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3],
                fingerprints: vec![b"FINGERPRINT-TEMPLATE-LEFT-INDEX".to_vec()],
            }),
            guardian: None,
            documents: vec![
                v1::DocumentKind::OldIdCard.into(),
                v1::DocumentKind::ResidencePermit.into(),
            ],
            accepted_at: Some(ms_to_timestamp(idcard_db::now_ms())),
            application_due_date: Some(date_to_wire(today_cst() + time::Duration::days(60))),
            appearance_changed: false,
            origin: ACCEPTANCE_PEER.to_string(),
            production_centre: PRODUCTION_PEER.to_string(),
        }
    }
}

/// A fresh report number.
pub fn report_number() -> String {
    ReceiptNo::from_u64(fastrand_u64()).as_str().to_string()
}

/// The clerk compared fingerprints and they matched.
pub fn fingerprint() -> v1::IdentityConfirmation {
    v1::IdentityConfirmation {
        method: Some(Method::FingerprintMatched(true)),
    }
}

/// The clerk checked an identity document.
pub fn document() -> v1::IdentityConfirmation {
    v1::IdentityConfirmation {
        method: Some(Method::IdentityDocument(v1::DocumentKind::Passport.into())),
    }
}

/// A revocation of `report_number` taken at the counter of [`ACCEPTANCE_PEER`].
pub fn revocation(report_number: &str, identity: v1::IdentityConfirmation) -> v1::ReceiveLossReportRevocationRequest {
    v1::ReceiveLossReportRevocationRequest {
        message_id: Uuid::now_v7().to_string(),
        report_number: report_number.to_string(),
        identity: Some(identity),
        at: Some(ms_to_timestamp(idcard_db::now_ms())),
        origin: ACCEPTANCE_PEER.to_string(),
    }
}

/// The random low bits of a UUID v7.
fn fastrand_u64() -> u64 {
    Uuid::now_v7().as_u128() as u64
}

pub fn codes(case: &v1::ReviewCase) -> Vec<&str> {
    case.findings.iter().map(|f| f.code.as_str()).collect()
}

pub fn fields(status: &Status) -> Vec<String> {
    idcard_server::status::violated_fields(status)
}

pub fn reason_codes(status: &Status) -> Vec<String> {
    idcard_server::status::reason_codes(status)
}
