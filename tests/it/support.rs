//! A whole stack per test, sample residents, request builders and waiting helpers.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use idcard_auth::{ALL_SCOPE, Role};
use idcard_proto::v1 as pb;
use idcard_proto::v1::acceptance_inbox_service_client::AcceptanceInboxServiceClient;
use idcard_proto::v1::acceptance_service_client::AcceptanceServiceClient;
use idcard_proto::v1::production_service_client::ProductionServiceClient;
use idcard_proto::v1::review_service_client::ReviewServiceClient;
use idcard_testkit::TestDb;
use idctl::client::{self, Authed};
use idctl::security::DevSecurity;
use idctl::stack::{Configs, Stack, Urls};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tonic::transport::{Channel, Endpoint};

/// The acceptance point the tests apply at.
pub const POINT: &str = "310104-01";

/// One development PKI, token key and key file for the whole test binary (making them
/// per test would only slow the suite).
pub fn security() -> &'static DevSecurity {
    static SECURITY: OnceLock<(tempfile::TempDir, DevSecurity)> = OnceLock::new();
    &SECURITY
        .get_or_init(|| {
            idcard_auth::install_crypto_provider();
            let dir = tempfile::tempdir().unwrap();
            let security = DevSecurity::ensure(dir.path(), false).unwrap();
            (dir, security)
        })
        .1
}

/// A fresh file for one stack's applicant notifications.
pub fn notify_file() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("idcard-notifications-{}.jsonl", uuid::Uuid::now_v7()))
}

/// The URLs of fresh databases, in stack order.
pub fn database_urls(databases: &[TestDb]) -> [String; 4] {
    [0, 1, 2, 3].map(|i| databases[i].url.clone())
}

/// A token for `role` over `scope`.
pub fn token(subject: &str, role: Role, scope: &[&str]) -> String {
    security()
        .token(subject, role, scope, Duration::from_secs(3600))
        .unwrap()
        .unwrap()
}

/// A lazily connected channel to `url` carrying `token`.
pub fn channel(url: &str, token: Option<&str>) -> Authed {
    client::lazy(url, security().ca_cert(), token).unwrap()
}

/// A channel presenting `service`'s certificate, as a peer service's relay does.
pub fn peer_channel(url: &str, service: &str) -> Channel {
    let tls = security()
        .tls
        .as_ref()
        .unwrap()
        .pki
        .service(service)
        .unwrap()
        .client_config()
        .unwrap();
    Endpoint::from_shared(url.to_string())
        .unwrap()
        .tls_config(tls)
        .unwrap()
        .connect_lazy()
}

pub struct TestStack {
    urls: Urls,
    /// Each service's plaintext probe port (gRPC health, `GET /metrics`), in stack order.
    probes: [SocketAddr; 4],
    pub acceptance: AcceptanceServiceClient<Authed>,
    pub acceptance_inbox: AcceptanceInboxServiceClient<Channel>,
    pub review: ReviewServiceClient<Authed>,
    pub production: ProductionServiceClient<Authed>,
    shutdown: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
    pub databases: Vec<TestDb>,
}

/// A review service that has not started yet, at an address the others already know.
pub struct LateReview {
    addr: SocketAddr,
    config: review::Config,
    shutdown: CancellationToken,
}

impl LateReview {
    pub async fn start(self) -> JoinHandle<()> {
        let listener = TcpListener::bind(self.addr).await.unwrap();
        let task = tokio::spawn(async move {
            review::serve_with_listener(self.config, listener, self.shutdown)
                .await
                .unwrap();
        });
        seed(&format!("https://{}", self.addr)).await;
        task
    }
}

impl TestStack {
    /// All three services up, with the sample residents loaded.
    pub async fn start() -> TestStack {
        let (mut stack, late) = TestStack::start_without_review().await;
        stack.tasks.push(late.start().await);
        stack
    }

    /// Acceptance and production up; review not yet.
    pub async fn start_without_review() -> (TestStack, LateReview) {
        let databases = vec![
            TestDb::fresh("acceptance").await,
            TestDb::fresh("review").await,
            TestDb::fresh("production").await,
            TestDb::fresh("status").await,
        ];
        let stack = Stack::bind(
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            [0, 0, 0, 0],
            security().clone(),
            notify_file(),
        )
        .await
        .unwrap()
        .with_probe_ports([0; 4])
        .await
        .unwrap();
        let urls = stack.urls();
        let probes = stack.probe_addrs().unwrap();
        let configs = fast(stack.configs(database_urls(&databases)).unwrap());
        let [
            acceptance_listener,
            review_listener,
            production_listener,
            status_listener,
        ] = stack.into_listeners();
        let review_addr = review_listener.local_addr().unwrap();
        drop(review_listener);
        let shutdown = CancellationToken::new();
        let Configs {
            acceptance,
            review,
            production,
            status: status_config,
        } = configs;
        let stop = shutdown.clone();
        let a = tokio::spawn(async move {
            acceptance::serve_with_listener(acceptance, acceptance_listener, stop)
                .await
                .unwrap()
        });
        let stop = shutdown.clone();
        let p = tokio::spawn(async move {
            production::serve_with_listener(production, production_listener, stop)
                .await
                .unwrap()
        });
        let stop = shutdown.clone();
        let s = tokio::spawn(async move {
            status::serve_with_listener(status_config, status_listener, stop)
                .await
                .unwrap()
        });
        let stack = TestStack {
            urls: urls.clone(),
            probes,
            acceptance: AcceptanceServiceClient::new(channel(
                &urls.acceptance,
                Some(&token("clerk-1", Role::Clerk, &[POINT])),
            )),
            acceptance_inbox: AcceptanceInboxServiceClient::new(peer_channel(&urls.acceptance, "production")),
            review: ReviewServiceClient::new(channel(
                &urls.review,
                Some(&token("reviewer-1", Role::Reviewer, &[ALL_SCOPE])),
            )),
            production: ProductionServiceClient::new(channel(
                &urls.production,
                Some(&token("operator-1", Role::ProductionOperator, &["production"])),
            )),
            shutdown: shutdown.clone(),
            tasks: vec![a, p, s],
            databases,
        };
        (
            stack,
            LateReview {
                addr: review_addr,
                config: review,
                shutdown,
            },
        )
    }

    /// The URL of one service by name.
    pub fn url(&self, service: &str) -> &str {
        match service {
            "acceptance" => &self.urls.acceptance,
            "review" => &self.urls.review,
            "status" => &self.urls.status,
            _ => &self.urls.production,
        }
    }

    /// The plaintext probe address of one service by name.
    pub fn probe(&self, service: &str) -> SocketAddr {
        let index = idctl::stack::SERVICES.iter().position(|s| *s == service).unwrap();
        self.probes[index]
    }

    /// A channel to one service by name, without a token.
    pub fn channel(&self, service: &str) -> Authed {
        channel(self.url(service), None)
    }

    /// Stops every service and waits for them.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        for task in self.tasks.drain(..) {
            task.await.unwrap();
        }
    }

    /// Polls until the application's history shows `state`.
    pub async fn wait_for(&mut self, id: &str, state: pb::ApplicationState) -> pb::Application {
        let started = Instant::now();
        loop {
            let app = self.get(id).await;
            if app.history.iter().any(|e| e.state == i32::from(state)) {
                return app;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "application never reached {state:?}; it is {:?}",
                app.state()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    pub async fn get(&mut self, id: &str) -> pb::Application {
        self.acceptance
            .get_application(pb::GetApplicationRequest {
                key: Some(pb::get_application_request::Key::ApplicationId(id.to_string())),
            })
            .await
            .unwrap()
            .into_inner()
            .application
            .unwrap()
    }

    pub async fn submit(&mut self, request: pb::SubmitApplicationRequest) -> Result<pb::Application, tonic::Status> {
        Ok(self
            .acceptance
            .submit_application(request)
            .await?
            .into_inner()
            .application
            .unwrap())
    }

    pub async fn approve(&mut self, id: &str) -> pb::ReviewCase {
        self.review
            .approve_application(pb::ApproveApplicationRequest {
                request_id: new_id(),
                application_id: id.to_string(),
                reviewer: "reviewer-1".into(),
                note: String::new(),
            })
            .await
            .unwrap()
            .into_inner()
            .review_case
            .unwrap()
    }

    pub async fn job_of(&mut self, id: &str) -> pb::ProductionJob {
        let key = Some(pb::get_job_request::Key::ApplicationId(id.to_string()));
        self.production
            .get_job(pb::GetJobRequest { key })
            .await
            .unwrap()
            .into_inner()
            .job
            .unwrap()
    }

    pub async fn quality_check(&mut self, job_id: &str, passed: bool) {
        let defects = if passed {
            vec![]
        } else {
            vec!["photo misprinted".to_string()]
        };
        self.production
            .record_quality_check(pb::RecordQualityCheckRequest {
                request_id: new_id(),
                job_id: job_id.to_string(),
                passed,
                defects,
                operator: "qc-1".into(),
            })
            .await
            .unwrap();
    }

    pub async fn dispatch(&mut self, job_id: &str) {
        self.production
            .dispatch_card(pb::DispatchCardRequest {
                request_id: new_id(),
                job_id: job_id.to_string(),
                tracking_number: "EMS0001".into(),
                operator: "dispatch-1".into(),
            })
            .await
            .unwrap();
    }

    pub async fn arrive(&mut self, id: &str) -> pb::Application {
        self.acceptance
            .confirm_card_arrival(pb::ConfirmCardArrivalRequest {
                request_id: new_id(),
                application_id: id.to_string(),
                clerk: "clerk-1".into(),
            })
            .await
            .unwrap()
            .into_inner()
            .application
            .unwrap()
    }

    pub async fn collect(&mut self, id: &str, old_card_surrendered: bool) -> Result<pb::Application, tonic::Status> {
        let request = pb::CollectCardRequest {
            request_id: new_id(),
            key: Some(pb::collect_card_request::Key::ApplicationId(id.to_string())),
            applicant_checked_and_signed: true,
            old_card_surrendered,
            clerk: "clerk-1".into(),
        };
        Ok(self
            .acceptance
            .collect_card(request)
            .await?
            .into_inner()
            .application
            .unwrap())
    }

    /// Approval, production (with one remake when asked), dispatch and arrival.
    pub async fn drive_to_ready(&mut self, id: &str, remake: bool) {
        self.wait_for(id, pb::ApplicationState::UnderReview).await;
        self.approve(id).await;
        self.wait_for(id, pb::ApplicationState::InProduction).await;
        let job = self.job_of(id).await;
        if remake {
            self.quality_check(&job.job_id, false).await;
        }
        self.quality_check(&job.job_id, true).await;
        self.dispatch(&job.job_id).await;
        self.wait_for(id, pb::ApplicationState::Dispatched).await;
        self.arrive(id).await;
    }
}

/// Relays that look often and retry soon, so tests run quickly.
fn fast(mut configs: Configs) -> Configs {
    for common in [
        &mut configs.acceptance.common,
        &mut configs.review.common,
        &mut configs.production.common,
    ] {
        common.relay_poll_interval = Duration::from_millis(50);
        common.relay_base_backoff = Duration::from_millis(50);
        common.relay_max_backoff = Duration::from_millis(500);
    }
    small_pools(configs)
}

/// Two tests run at once and the replicas test starts eight services: small pools keep
/// them under PostgreSQL's default 100 connections.
pub fn small_pools(configs: Configs) -> Configs {
    configs.with_db_pool(4)
}

pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// A calendar date as (year, month, day).
pub type Ymd = (i32, i32, i32);

/// A sample resident of the household register.
pub struct Person {
    pub citizen_id: &'static str,
    pub name: &'static str,
    pub sex: pb::Sex,
    pub birth: (i32, i32, i32),
    pub address: &'static str,
    pub domicile: &'static str,
    /// The current card's validity start and end (none for long-term).
    pub card: (Ymd, Option<Ymd>),
    pub record_locked: bool,
}

/// Beijing domicile, card expiring 2026-12-20.
pub const WANG: Person = Person {
    citizen_id: "110105200005200116",
    name: "王小明",
    sex: pb::Sex::Male,
    birth: (2000, 5, 20),
    address: "北京市朝阳区建国路88号",
    domicile: "110105",
    card: ((2016, 12, 20), Some((2026, 12, 20))),
    record_locked: false,
};

/// Guangzhou domicile.
pub const LI: Person = Person {
    citizen_id: "440106197809090221",
    name: "李芳",
    sex: pb::Sex::Female,
    birth: (1978, 9, 9),
    address: "广东省广州市天河区体育西路1号",
    domicile: "440106",
    card: ((2010, 4, 1), Some((2030, 4, 1))),
    record_locked: false,
};

/// Hangzhou domicile, household record locked.
pub const CHEN: Person = Person {
    citizen_id: "330106198801010433",
    name: "陈伟",
    sex: pb::Sex::Male,
    birth: (1988, 1, 1),
    address: "浙江省杭州市西湖区文三路10号",
    domicile: "330106",
    card: ((2014, 2, 1), Some((2034, 2, 1))),
    record_locked: true,
};

fn date((year, month, day): (i32, i32, i32)) -> pb::CalendarDate {
    pb::CalendarDate { year, month, day }
}

fn card_items(p: &Person) -> pb::CardItems {
    pb::CardItems {
        citizen_id: p.citizen_id.into(),
        name: p.name.into(),
        sex: p.sex.into(),
        ethnicity: "汉".into(),
        birth_date: Some(date(p.birth)),
        domicile_address: p.address.into(),
    }
}

async fn seed(review_url: &str) {
    seed_people(review_url, &[WANG, LI, CHEN]).await;
}

/// Loads `people` into the household register of the review service at `review_url`.
pub async fn seed_people(review_url: &str, people: &[Person]) {
    let residents = people
        .iter()
        .map(|p| pb::Resident {
            card_items: Some(card_items(p)),
            domicile_region_code: p.domicile.into(),
            fingerprint_on_record: true,
            phone: "13800000000".into(),
            record_locked: p.record_locked,
            bad_credit: false,
            forged_documents_on_record: false,
            cards: vec![pb::ResidentCard {
                card_id: new_id(),
                validity_start: Some(date(p.card.0)),
                validity_end: p.card.1.map(date),
                long_term: p.card.1.is_none(),
                issuing_authority: "公安局".into(),
                status: pb::CardStatus::Active.into(),
            }],
        })
        .collect();
    let mut client = ReviewServiceClient::new(channel(
        review_url,
        Some(&token("registrar", Role::Reviewer, &[ALL_SCOPE])),
    ));
    client
        .import_residents(pb::ImportResidentsRequest {
            request_id: new_id(),
            residents,
        })
        .await
        .unwrap();
}

/// A renewal for `p` (old card handed in, residence permit as proof).
pub fn renewal(p: &Person) -> pb::SubmitApplicationRequest {
    let mut request = application(p, pb::ApplicationKind::Renewal, 2000);
    request.documents = vec![
        pb::DocumentKind::OldIdCard.into(),
        pb::DocumentKind::ResidencePermit.into(),
    ];
    request.current_card_expiry = p.card.1.map(date);
    request
}

/// A replacement for `p` (household booklet and residence permit).
pub fn replacement(p: &Person) -> pb::SubmitApplicationRequest {
    let mut request = application(p, pb::ApplicationKind::Replacement, 4000);
    request.documents = vec![
        pb::DocumentKind::HouseholdBooklet.into(),
        pb::DocumentKind::ResidencePermit.into(),
    ];
    request
}

fn application(p: &Person, kind: pb::ApplicationKind, fee: i64) -> pb::SubmitApplicationRequest {
    pb::SubmitApplicationRequest {
        request_id: new_id(),
        acceptance_point_code: "310104-01".into(),
        kind: kind.into(),
        applicant: Some(pb::Applicant {
            card_items: Some(card_items(p)),
            domicile_region_code: p.domicile.into(),
            phone: "13800000000".into(),
            photo: vec![0xFF, 0xD8, 0xFF, 0xD9],
            fingerprints: vec![vec![1, 2, 3]],
        }),
        guardian: None,
        documents: vec![],
        fee: Some(pb::FeePayment {
            waiver: pb::FeeWaiver::None.into(),
            amount_fen: fee,
            payment_reference: "POS-1".into(),
        }),
        current_card_expiry: None,
        appearance_changed: false,
        clerk: "clerk-1".into(),
        loss_report_number: String::new(),
    }
}

pub fn states(app: &pb::Application) -> Vec<pb::ApplicationState> {
    app.history.iter().map(|e| e.state()).collect()
}
