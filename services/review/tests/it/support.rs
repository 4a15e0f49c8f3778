//! A review service on port 0 against a fresh database, fake acceptance and production
//! inboxes that record what they receive, and fixtures.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use idcard_db::{Db, DbOptions, on_db};
use idcard_domain::{ReceiptNo, check_character};
use idcard_proto::v1::acceptance_inbox_service_server::{AcceptanceInboxService, AcceptanceInboxServiceServer};
use idcard_proto::v1::production_inbox_service_server::{ProductionInboxService, ProductionInboxServiceServer};
use idcard_proto::v1::review_inbox_service_client::ReviewInboxServiceClient;
use idcard_proto::v1::review_service_client::ReviewServiceClient;
use idcard_proto::v1::{
    self, ReceiveDecisionRequest, ReceiveDecisionResponse, ReceiveProductionOrderRequest,
    ReceiveProductionOrderResponse, ReceiveProductionUpdateRequest, ReceiveProductionUpdateResponse,
};
use idcard_server::wire::{date_to_wire, ms_to_timestamp, today_cst};
use idcard_testkit::TestDb;
use time::Date;
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;
use tonic::{Request, Response, Status};
use uuid::Uuid;

pub const ACCEPTANCE_PEER: &str = "acceptance-gz";
pub const PRODUCTION_PEER: &str = "production-gz";
pub const ACCEPTANCE_POINT: &str = "330106-01";

/// What the fake peers received, in arrival order.
#[derive(Debug, Clone)]
pub enum Event {
    Decision(ReceiveDecisionRequest),
    ProductionOrder(ReceiveProductionOrderRequest),
}

#[derive(Default)]
pub struct Recorder {
    events: Mutex<Vec<Event>>,
    /// Decision deliveries to answer UNAVAILABLE before accepting one.
    failing_decisions: AtomicUsize,
    /// Production orders received while the acceptance side had no decision yet.
    orders_before_decision: AtomicUsize,
}

impl Recorder {
    pub fn events(&self) -> Vec<Event> {
        self.events.lock().unwrap().clone()
    }

    fn has_decision(&self) -> bool {
        self.events
            .lock()
            .unwrap()
            .iter()
            .any(|e| matches!(e, Event::Decision(_)))
    }
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
    pub review: ReviewServiceClient<Channel>,
    pub inbox: ReviewInboxServiceClient<Channel>,
    pub recorder: Arc<Recorder>,
    db: TestDb,
    shutdown: CancellationToken,
    server: Option<tokio::task::JoinHandle<Result<(), review::Error>>>,
}

impl App {
    pub async fn spawn() -> App {
        let db = TestDb::fresh("review").await;
        let shutdown = CancellationToken::new();
        let recorder = Arc::new(Recorder::default());
        let acceptance = serve_fake(
            tonic::service::Routes::new(AcceptanceInboxServiceServer::new(FakeAcceptance(Arc::clone(&recorder)))),
            shutdown.clone(),
        )
        .await;
        let production = serve_fake(
            tonic::service::Routes::new(ProductionInboxServiceServer::new(FakeProduction(Arc::clone(&recorder)))),
            shutdown.clone(),
        )
        .await;

        let mut config = review::Config::for_database(db.url.clone());
        config.common.peers = format!("{ACCEPTANCE_PEER}={acceptance},{PRODUCTION_PEER}={production}");
        config.common.relay_poll_interval = Duration::from_millis(50);
        config.common.relay_base_backoff = Duration::from_millis(20);
        config.common.relay_max_backoff = Duration::from_millis(200);
        config.common.peer_timeout = Duration::from_secs(5);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(review::serve_with_listener(config, listener, shutdown.clone()));

        let channel = Channel::from_shared(url).unwrap().connect().await.unwrap();
        App {
            review: ReviewServiceClient::new(channel.clone()),
            inbox: ReviewInboxServiceClient::new(channel),
            recorder,
            db,
            shutdown,
            server: Some(server),
        }
    }

    /// Stops the service and checks that it stopped cleanly.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        if let Some(server) = self.server.take() {
            server.await.unwrap().unwrap();
        }
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

    pub fn fail_next_decisions(&self, count: usize) {
        self.recorder.failing_decisions.store(count, Ordering::SeqCst);
    }

    pub fn orders_before_decision(&self) -> usize {
        self.recorder.orders_before_decision.load(Ordering::SeqCst)
    }

    /// Card statuses of a resident, straight from the database (no RPC reads cards).
    pub async fn card_statuses(&self, citizen_id: &str) -> Vec<String> {
        let db = Db::connect(&self.db.url, &DbOptions::default()).await.unwrap();
        let statuses: Vec<String> = on_db!(&db, |pool| {
            sqlx::query_scalar("SELECT status FROM cards WHERE citizen_id = $1 ORDER BY validity_start")
                .bind(citizen_id)
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

async fn serve_fake(routes: tonic::service::Routes, shutdown: CancellationToken) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .add_routes(routes)
            .serve_with_incoming_shutdown(TcpListenerStream::new(listener), shutdown.cancelled_owned())
            .await
    });
    url
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
        }
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
            phone: "13800000000".to_string(),
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
                phone: "13800000000".to_string(),
                photo: vec![0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3],
                fingerprints: vec![vec![9, 9, 9]],
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
