//! Several replicas of each service on shared databases: every application goes through
//! exactly once, and a replica that dies holding claimed rows loses nothing.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use futures::StreamExt;
use idcard_auth::{ALL_SCOPE, Role};
use idcard_db::{Db, DbOptions, on_db};
use idcard_proto::v1 as pb;
use idcard_proto::v1::ApplicationState as S;
use idcard_proto::v1::acceptance_service_client::AcceptanceServiceClient;
use idcard_proto::v1::production_service_client::ProductionServiceClient;
use idcard_proto::v1::review_service_client::ReviewServiceClient;
use idcard_testkit::TestDb;
use idctl::client::Authed;
use idctl::stack::{Configs, Running, Stack, Urls};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::support::{POINT, channel, database_urls, new_id, notify_file, security, small_pools, token};

/// How many applications the replica test carries (`IDCARD_TEST_REPLICA_APPLICATIONS`).
fn application_count() -> usize {
    std::env::var("IDCARD_TEST_REPLICA_APPLICATIONS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1000)
}

/// A valid citizen id for person `n` (Beijing Chaoyang, born 1990-01-01 plus `n / 500` days).
fn citizen(n: usize) -> String {
    let birth =
        time::Date::from_calendar_date(1990, time::Month::January, 1).unwrap() + time::Duration::days((n / 500) as i64);
    let first17 = format!(
        "110105{:04}{:02}{:02}{:03}",
        birth.year(),
        u8::from(birth.month()),
        birth.day(),
        n % 500 * 2 % 1000 + 1
    );
    let bytes: [u8; 17] = first17.as_bytes().try_into().unwrap();
    format!("{first17}{}", idcard_domain::check_character(&bytes) as char)
}

fn application(n: usize) -> pb::SubmitApplicationRequest {
    let id = idcard_domain::CitizenId::parse(
        &citizen(n),
        time::Date::from_calendar_date(2026, time::Month::January, 1).unwrap(),
    )
    .unwrap();
    let birth = id.birth_date();
    pb::SubmitApplicationRequest {
        request_id: new_id(),
        acceptance_point_code: "310104-01".into(),
        kind: pb::ApplicationKind::Replacement.into(),
        applicant: Some(pb::Applicant {
            card_items: Some(pb::CardItems {
                citizen_id: id.as_str().into(),
                name: format!("居民{n}"),
                sex: pb::Sex::Male.into(),
                ethnicity: "汉".into(),
                birth_date: Some(pb::CalendarDate {
                    year: birth.year(),
                    month: i32::from(u8::from(birth.month())),
                    day: i32::from(birth.day()),
                }),
                domicile_address: "北京市朝阳区".into(),
            }),
            domicile_region_code: "110105".into(),
            phone: "13800000000".into(),
            photo: vec![0xFF, 0xD8, 0xFF, 0xD9],
            fingerprints: vec![],
        }),
        guardian: None,
        documents: vec![
            pb::DocumentKind::HouseholdBooklet.into(),
            pb::DocumentKind::ResidencePermit.into(),
        ],
        fee: Some(pb::FeePayment {
            waiver: pb::FeeWaiver::None.into(),
            amount_fen: 4000,
            payment_reference: "POS".into(),
        }),
        current_card_expiry: None,
        appearance_changed: false,
        clerk: "clerk".into(),
        loss_report_number: String::new(),
    }
}

struct Clients {
    acceptance: AcceptanceServiceClient<Authed>,
    review: ReviewServiceClient<Authed>,
    production: ProductionServiceClient<Authed>,
}

fn clients(urls: &Urls) -> Clients {
    Clients {
        acceptance: AcceptanceServiceClient::new(channel(
            &urls.acceptance,
            Some(&token("clerk", Role::Clerk, &[POINT])),
        )),
        review: ReviewServiceClient::new(channel(
            &urls.review,
            Some(&token("reviewer", Role::Reviewer, &[ALL_SCOPE])),
        )),
        production: ProductionServiceClient::new(channel(
            &urls.production,
            Some(&token("operator", Role::ProductionOperator, &["production"])),
        )),
    }
}

fn tune(mut configs: Configs, claim_ttl: Duration) -> Configs {
    for common in [
        &mut configs.acceptance.common,
        &mut configs.review.common,
        &mut configs.production.common,
    ] {
        common.relay_poll_interval = Duration::from_millis(50);
        common.relay_base_backoff = Duration::from_millis(50);
        common.relay_max_backoff = Duration::from_millis(500);
        common.relay_claim_ttl = claim_ttl;
        common.peer_timeout = Duration::from_secs(5);
    }
    small_pools(configs)
}

async fn count(db: &Db, sql: &str) -> i64 {
    on_db!(db, |pool| sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql))
        .fetch_one(pool)
        .await
        .unwrap())
}

/// Applications at the acceptance point in `state`, across all pages.
async fn in_state(client: &mut AcceptanceServiceClient<Authed>, state: S) -> Vec<String> {
    let mut ids = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = client
            .list_applications(pb::ListApplicationsRequest {
                acceptance_point_code: "310104-01".into(),
                state: state.into(),
                page_size: 500,
                page_token,
            })
            .await
            .unwrap()
            .into_inner();
        ids.extend(page.applications.into_iter().map(|a| a.application_id));
        if page.next_page_token.is_empty() {
            return ids;
        }
        page_token = page.next_page_token;
    }
}

async fn wait_until_all(client: &mut AcceptanceServiceClient<Authed>, state: S, n: usize) -> Vec<String> {
    let started = Instant::now();
    loop {
        let ids = in_state(client, state).await;
        if ids.len() == n {
            return ids;
        }
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "only {} of {n} applications reached {state:?}",
            ids.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_of_each_service_carry_every_application_exactly_once() {
    let n = application_count();
    let databases = [
        TestDb::fresh("acceptance").await,
        TestDb::fresh("review").await,
        TestDb::fresh("production").await,
        TestDb::fresh("status").await,
    ];
    let shutdown = CancellationToken::new();
    let mut running: Vec<Running> = Vec::new();
    let mut replicas = Vec::new();
    for _ in 0..2 {
        let stack = Stack::bind(
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            [0, 0, 0, 0],
            security().clone(),
            notify_file(),
        )
        .await
        .unwrap();
        let urls = stack.urls();
        let configs = tune(
            stack.configs(database_urls(&databases)).unwrap(),
            Duration::from_secs(30),
        );
        running.push(stack.spawn(configs, shutdown.clone()));
        replicas.push(clients(&urls));
    }
    let concurrency = 16;

    // Submit, alternating replicas.
    let submitted: Vec<String> = futures::stream::iter(0..n)
        .map(|i| {
            let mut client = replicas[i % 2].acceptance.clone();
            async move {
                client
                    .submit_application(application(i))
                    .await
                    .unwrap()
                    .into_inner()
                    .application
                    .unwrap()
                    .application_id
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    assert_eq!(submitted.len(), n);
    let under_review = wait_until_all(&mut replicas[0].acceptance, S::UnderReview, n).await;

    // The domicile approves on either replica.
    futures::stream::iter(under_review.iter().enumerate())
        .map(|(i, id)| {
            let mut client = replicas[i % 2].review.clone();
            let request = pb::ApproveApplicationRequest {
                request_id: new_id(),
                application_id: id.clone(),
                reviewer: "r".into(),
                note: String::new(),
            };
            async move { client.approve_application(request).await.unwrap() }
        })
        .buffer_unordered(concurrency)
        .collect::<Vec<_>>()
        .await;
    let in_production = wait_until_all(&mut replicas[1].acceptance, S::InProduction, n).await;

    // The production centre checks and dispatches on either replica.
    futures::stream::iter(in_production.iter().enumerate())
        .map(|(i, id)| {
            let mut client = replicas[i % 2].production.clone();
            let key = Some(pb::get_job_request::Key::ApplicationId(id.clone()));
            async move {
                let job = client
                    .get_job(pb::GetJobRequest { key })
                    .await
                    .unwrap()
                    .into_inner()
                    .job
                    .unwrap();
                let check = pb::RecordQualityCheckRequest {
                    request_id: new_id(),
                    job_id: job.job_id.clone(),
                    passed: true,
                    defects: vec![],
                    operator: "qc".into(),
                };
                client.record_quality_check(check).await.unwrap();
                let dispatch = pb::DispatchCardRequest {
                    request_id: new_id(),
                    job_id: job.job_id,
                    tracking_number: "EMS".into(),
                    operator: "d".into(),
                };
                client.dispatch_card(dispatch).await.unwrap();
            }
        })
        .buffer_unordered(concurrency)
        .collect::<Vec<_>>()
        .await;
    let dispatched = wait_until_all(&mut replicas[0].acceptance, S::Dispatched, n).await;
    futures::stream::iter(dispatched.iter().enumerate())
        .map(|(i, id)| {
            let mut client = replicas[i % 2].acceptance.clone();
            let request = pb::ConfirmCardArrivalRequest {
                request_id: new_id(),
                application_id: id.clone(),
                clerk: "c".into(),
            };
            async move { client.confirm_card_arrival(request).await.unwrap() }
        })
        .buffer_unordered(concurrency)
        .collect::<Vec<_>>()
        .await;
    wait_until_all(&mut replicas[1].acceptance, S::ReadyForCollection, n).await;
    let acceptance = Db::connect(&databases[0].url, &DbOptions::default()).await.unwrap();
    let review = Db::connect(&databases[1].url, &DbOptions::default()).await.unwrap();
    let production = Db::connect(&databases[2].url, &DbOptions::default()).await.unwrap();
    // The last step's notifications and status publications leave after the state the
    // test waited for: let the relays empty the outboxes before stopping (a relay stops
    // after its batch; what is left would go on the next start, not tested here).
    let give_up = tokio::time::Instant::now() + Duration::from_secs(300);
    for db in [&acceptance, &review, &production] {
        loop {
            let pending = count(db, "SELECT COUNT(*) FROM outbox WHERE state = 'pending'").await;
            if pending == 0 {
                break;
            }
            assert!(tokio::time::Instant::now() < give_up, "{pending} messages never left");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    shutdown.cancel();
    for r in running {
        r.wait(shutdown.clone()).await.unwrap();
    }
    let n = n as i64;
    assert_eq!(
        count(
            &acceptance,
            "SELECT COUNT(*) FROM applications WHERE state = 'ready_for_collection'"
        )
        .await,
        n
    );
    for state in [
        "under_review",
        "approved",
        "in_production",
        "produced",
        "dispatched",
        "ready_for_collection",
    ] {
        let steps = count(
            &acceptance,
            &format!("SELECT COUNT(*) FROM status_events WHERE state = '{state}'"),
        )
        .await;
        let distinct = count(
            &acceptance,
            &format!("SELECT COUNT(DISTINCT application_id) FROM status_events WHERE state = '{state}'"),
        )
        .await;
        assert_eq!((steps, distinct), (n, n), "each application was {state} exactly once");
    }
    // Received exactly once each: one decision and three production updates per application.
    assert_eq!(count(&acceptance, "SELECT COUNT(*) FROM inbox").await, 4 * n);
    assert_eq!(count(&review, "SELECT COUNT(*) FROM inbox").await, n);
    assert_eq!(count(&review, "SELECT COUNT(*) FROM review_cases").await, n);
    assert_eq!(count(&production, "SELECT COUNT(*) FROM inbox").await, n);
    assert_eq!(count(&production, "SELECT COUNT(*) FROM jobs").await, n);
    for db in [&acceptance, &review, &production] {
        assert_eq!(
            count(db, "SELECT COUNT(*) FROM outbox WHERE state <> 'delivered'").await,
            0,
            "every message delivered"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_claimed_by_a_replica_that_died_are_delivered_by_another_after_the_claim_expires() {
    let databases = [
        TestDb::fresh("acceptance").await,
        TestDb::fresh("review").await,
        TestDb::fresh("production").await,
        TestDb::fresh("status").await,
    ];
    let claim_ttl = Duration::from_secs(2);
    // Replica A's review peer accepts connections and never answers: its relay claims rows
    // and hangs in delivery until it is killed.
    let black_hole = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let hole_url = format!("https://{}", black_hole.local_addr().unwrap());
    let stack_a = Stack::bind(
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        [0, 0, 0, 0],
        security().clone(),
        notify_file(),
    )
    .await
    .unwrap();
    let urls_a = stack_a.urls();
    let mut configs_a = tune(stack_a.configs(database_urls(&databases)).unwrap(), claim_ttl);
    configs_a.acceptance.common.peers = format!("review={hole_url}");
    configs_a.acceptance.common.peer_timeout = Duration::from_secs(600);
    let [listener_a, _, _, _] = stack_a.into_listeners();
    let replica_a = tokio::spawn(acceptance::serve_with_listener(
        configs_a.acceptance,
        listener_a,
        CancellationToken::new(),
    ));
    let mut a = clients(&urls_a);
    let n = 20;
    let mut ids = Vec::new();
    for i in 0..n {
        ids.push(
            a.acceptance
                .submit_application(application(i))
                .await
                .unwrap()
                .into_inner()
                .application
                .unwrap()
                .application_id,
        );
    }
    let acceptance_db = Db::connect(&databases[0].url, &DbOptions::default()).await.unwrap();
    let started = Instant::now();
    // A's relay is stuck delivering its first batch, holding the claims on it.
    while count(
        &acceptance_db,
        "SELECT COUNT(*) FROM outbox WHERE claimed_until_ms IS NOT NULL",
    )
    .await
        == 0
    {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "replica A never claimed its rows"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Kill A while it holds the claims; start replica B on the same databases.
    replica_a.abort();
    let _ = replica_a.await;
    let shutdown = CancellationToken::new();
    let stack_b = Stack::bind(
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        [0, 0, 0, 0],
        security().clone(),
        notify_file(),
    )
    .await
    .unwrap();
    let urls_b = stack_b.urls();
    let configs_b = tune(stack_b.configs(database_urls(&databases)).unwrap(), claim_ttl);
    let running = stack_b.spawn(configs_b, shutdown.clone());
    let mut b = clients(&urls_b);
    let under_review = wait_until_all(&mut b.acceptance, S::UnderReview, n).await;

    assert_eq!(under_review.len(), n);
    shutdown.cancel();
    running.wait(shutdown.clone()).await.unwrap();
    let review_db = Db::connect(&databases[1].url, &DbOptions::default()).await.unwrap();
    assert_eq!(count(&review_db, "SELECT COUNT(*) FROM review_cases").await, n as i64);
    assert_eq!(count(&review_db, "SELECT COUNT(*) FROM inbox").await, n as i64);
    assert_eq!(
        count(
            &acceptance_db,
            "SELECT COUNT(*) FROM status_events WHERE state = 'under_review'"
        )
        .await,
        n as i64
    );
    drop(black_hole);
}
