//! Loss reports and card verification across the stack: one status endpoint answers for
//! cards of two review services, and applicant notifications reach an SMS gateway once
//! each, retried while it is down.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use idcard_auth::Role;
use idcard_proto::v1 as pb;
use idcard_proto::v1::acceptance_service_client::AcceptanceServiceClient;
use idcard_proto::v1::card_status_service_client::CardStatusServiceClient;
use idcard_testkit::TestDb;
use idctl::client::Authed;
use idctl::stack::Stack;
use prost::Message;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::support::{
    LI, POINT, Person, WANG, channel, new_id, notify_file, security, seed_people, small_pools, token,
};

fn date((year, month, day): (i32, i32, i32)) -> pb::CalendarDate {
    pb::CalendarDate { year, month, day }
}

async fn verify(
    client: &mut CardStatusServiceClient<Authed>,
    citizen_id: &str,
    name: &str,
    start: pb::CalendarDate,
) -> pb::VerifyCardResponse {
    let request = pb::VerifyCardRequest {
        citizen_id: citizen_id.into(),
        name: name.into(),
        validity_start: Some(start),
    };
    client.verify_card(request).await.unwrap().into_inner()
}

/// Polls until `person`'s card verifies as `want`.
async fn wait_answer(client: &mut CardStatusServiceClient<Authed>, person: &Person, want: pb::VerificationAnswer) {
    let started = Instant::now();
    loop {
        let answer = verify(client, person.citizen_id, person.name, date(person.card.0))
            .await
            .answer();
        if answer == want {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{} still {answer:?}, want {want:?}",
            person.name
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn wait_report(
    client: &mut AcceptanceServiceClient<Authed>,
    number: &str,
    want: pb::LossReportState,
) -> pb::LossReport {
    let started = Instant::now();
    loop {
        let report = client
            .get_loss_report(pb::GetLossReportRequest {
                report_number: number.into(),
            })
            .await
            .unwrap()
            .into_inner()
            .report
            .unwrap();
        if report.state() == want {
            return report;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "report {number} still {:?}",
            report.state()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn report_request(person: &Person) -> pb::ReportLossRequest {
    pb::ReportLossRequest {
        request_id: new_id(),
        acceptance_point_code: POINT.into(),
        citizen_id: person.citizen_id.into(),
        name: person.name.into(),
        domicile_region_code: person.domicile.into(),
        kind: pb::LossKind::Stolen.into(),
        circumstance: "bag stolen on the metro".into(),
        identity: Some(pb::IdentityConfirmation {
            method: Some(pb::identity_confirmation::Method::FingerprintMatched(true)),
        }),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_status_endpoint_answers_for_cards_of_two_review_services() {
    let names = ["acceptance", "review_bj", "production", "status", "review_gd"];
    let mut databases = Vec::new();
    for name in names {
        databases.push(TestDb::fresh(name).await);
    }
    let stack = Stack::bind(
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        [0, 0, 0, 0],
        security().clone(),
        notify_file(),
    )
    .await
    .unwrap();
    let gd_listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let gd_url = format!("https://{}", gd_listener.local_addr().unwrap());
    let urls = stack.urls();
    let mut configs = small_pools(stack.configs([0, 1, 2, 3].map(|i| databases[i].url.clone())).unwrap());
    // Beijing households go to the first review service, Guangdong ones to the second.
    configs.acceptance.common.peers = format!("review={},review-gd={gd_url}", urls.review);
    configs.acceptance.routes = "11=review,44=review-gd".into();
    configs.status.common.peers = format!("review={},review-gd={gd_url}", urls.review);
    let mut gd = configs.review.clone();
    gd.common.database_url = databases[4].url.clone();
    gd.common.instance_name = Some("review-gd".into());
    let shutdown = CancellationToken::new();
    let running = stack.spawn(configs, shutdown.clone());
    let stop = shutdown.clone();
    let gd_task = tokio::spawn(async move { review::serve_with_listener(gd, gd_listener, stop).await.unwrap() });
    seed_people(&urls.review, &[WANG]).await;
    seed_people(&gd_url, &[LI]).await;
    let mut verifier = CardStatusServiceClient::new(channel(&urls.status, Some(&token("bank", Role::Verifier, &[]))));
    let mut clerk =
        AcceptanceServiceClient::new(channel(&urls.acceptance, Some(&token("clerk", Role::Clerk, &[POINT]))));

    wait_answer(&mut verifier, &WANG, pb::VerificationAnswer::Valid).await;
    wait_answer(&mut verifier, &LI, pb::VerificationAnswer::Valid).await;
    let report = clerk
        .report_loss(report_request(&LI))
        .await
        .unwrap()
        .into_inner()
        .report
        .unwrap();
    let active = wait_report(&mut clerk, &report.report_number, pb::LossReportState::Active).await;
    wait_answer(&mut verifier, &LI, pb::VerificationAnswer::ReportedLost).await;
    let again = clerk
        .report_loss(report_request(&LI))
        .await
        .unwrap()
        .into_inner()
        .report
        .unwrap();

    assert_eq!(
        again.report_number, active.report_number,
        "a second report is the same report"
    );
    assert_eq!(
        verify(&mut verifier, WANG.citizen_id, WANG.name, date(WANG.card.0))
            .await
            .answer(),
        pb::VerificationAnswer::Valid
    );
    let unknown = verify(&mut verifier, "11010519491231002X", "无名", date((2010, 1, 1))).await;
    let wrong_name = verify(&mut verifier, WANG.citizen_id, "王大明", date(WANG.card.0)).await;
    assert_eq!(unknown.answer(), pb::VerificationAnswer::NoMatch);
    assert_eq!(
        unknown.encode_to_vec(),
        wrong_name.encode_to_vec(),
        "unknown and wrong name look the same"
    );

    shutdown.cancel();
    running.wait(shutdown.clone()).await.unwrap();
    gd_task.await.unwrap();
}

/// An SMS gateway that refuses the first `failures` calls with 503, then accepts, and
/// remembers the idempotency keys it accepted.
async fn gateway(failures: usize) -> (String, Arc<Mutex<Vec<String>>>) {
    use http_body_util::Full;
    use hyper::body::Bytes;
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let url = format!("http://{}/sms", listener.local_addr().unwrap());
    let accepted = Arc::new(Mutex::new(Vec::new()));
    let calls = Arc::new(Mutex::new(0usize));
    let seen = accepted.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let seen = seen.clone();
            let calls = calls.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                    let seen = seen.clone();
                    let calls = calls.clone();
                    async move {
                        let key = request
                            .headers()
                            .get("idempotency-key")
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("")
                            .to_string();
                        let call = {
                            let mut calls = calls.lock().unwrap();
                            *calls += 1;
                            *calls
                        };
                        let status = if call <= failures {
                            503
                        } else {
                            seen.lock().unwrap().push(key);
                            200
                        };
                        Ok::<_, std::convert::Infallible>(
                            hyper::Response::builder()
                                .status(status)
                                .body(Full::new(Bytes::new()))
                                .unwrap(),
                        )
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (url, accepted)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifications_reach_the_gateway_once_each_and_are_retried_while_it_is_down() {
    let (gateway_url, accepted) = gateway(3).await;
    let mut databases = Vec::new();
    for name in ["acceptance", "review", "production", "status"] {
        databases.push(TestDb::fresh(name).await);
    }
    let stack = Stack::bind(
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        [0, 0, 0, 0],
        security().clone(),
        notify_file(),
    )
    .await
    .unwrap();
    let urls = stack.urls();
    let mut configs = small_pools(stack.configs([0, 1, 2, 3].map(|i| databases[i].url.clone())).unwrap());
    for notify in [&mut configs.acceptance.notify, &mut configs.review.notify] {
        notify.notify_file = None;
        notify.notify_webhook_url = Some(gateway_url.clone());
    }
    for common in [&mut configs.acceptance.common, &mut configs.review.common] {
        common.relay_poll_interval = Duration::from_millis(50);
        common.relay_base_backoff = Duration::from_millis(50);
        common.relay_max_backoff = Duration::from_millis(300);
    }
    let shutdown = CancellationToken::new();
    let running = stack.spawn(configs, shutdown.clone());
    seed_people(&urls.review, &[LI, WANG]).await;
    let mut clerk =
        AcceptanceServiceClient::new(channel(&urls.acceptance, Some(&token("clerk", Role::Clerk, &[POINT]))));

    // Two loss reports: each is notified (accepted) by the domicile bureau.
    for person in [&LI, &WANG] {
        let report = clerk
            .report_loss(report_request(person))
            .await
            .unwrap()
            .into_inner()
            .report
            .unwrap();
        wait_report(&mut clerk, &report.report_number, pb::LossReportState::Active).await;
    }
    let started = Instant::now();
    while accepted.lock().unwrap().len() < 2 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "notifications never got through"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    let keys = accepted.lock().unwrap().clone();
    let mut distinct = keys.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(keys.len(), 2, "each notification delivered once: {keys:?}");
    assert_eq!(distinct.len(), 2);
    shutdown.cancel();
    running.wait(shutdown.clone()).await.unwrap();
}
