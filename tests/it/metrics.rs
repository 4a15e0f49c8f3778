//! Prometheus metrics on the plaintext probe port, beside gRPC health.
//!
//! The services of every stack in this binary share the process's one recorder, so
//! counts here are "at least": other tests add to them at the same time.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use idcard_db::{Db, DbOptions};
use idcard_proto::v1::ApplicationState as S;
use tonic::Code;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::support::{LI, TestStack, WANG, renewal, replacement};

const SUBMIT: &str = "AcceptanceService/SubmitApplication";

#[tokio::test]
async fn probe_port_shows_rpc_and_outbox_series_once_an_application_went_to_review() {
    let mut stack = TestStack::start().await;

    let submitted = stack.submit(renewal(&WANG)).await.unwrap();
    stack.wait_for(&submitted.application_id, S::UnderReview).await;

    let acceptance = stack.probe("acceptance");
    let to_review = [("service", "acceptance"), ("destination", "review")];
    let delivered = [
        ("service", "acceptance"),
        ("destination", "review"),
        ("outcome", "delivered"),
    ];
    let submit_ok = [("service", "acceptance"), ("method", SUBMIT), ("code", "OK")];
    let page = scrape_until(acceptance, |page| {
        value(page, "idcard_outbox_deliveries_total", &delivered).is_some()
            // Present once a sampler round saw an application (stacks running beside
            // this one set the same series, so its value here says little).
            && value(page, "idcard_applications", &[("service", "acceptance")]).is_some()
    })
    .await;

    assert!(value(&page, "idcard_rpc_requests_total", &submit_ok).is_some_and(|n| n >= 1.0));
    let le_inf = [
        ("service", "acceptance"),
        ("method", SUBMIT),
        ("code", "OK"),
        ("le", "+Inf"),
    ];
    assert!(value(&page, "idcard_rpc_duration_seconds_bucket", &le_inf).is_some_and(|n| n >= 1.0));
    assert!(value(&page, "idcard_outbox_relay_lag_seconds_count", &to_review).is_some_and(|n| n >= 1.0));
    let lag_le_10s = [("service", "acceptance"), ("destination", "review"), ("le", "10")];
    assert!(value(&page, "idcard_outbox_relay_lag_seconds_bucket", &lag_le_10s).is_some());
    for gauge in [
        "idcard_outbox_pending",
        "idcard_outbox_oldest_pending_age_seconds",
        "idcard_outbox_dead",
    ] {
        assert!(value(&page, gauge, &to_review).is_some(), "{gauge} missing");
    }
    assert!(
        value(
            &page,
            "idcard_audit_oldest_unsealed_age_seconds",
            &[("service", "acceptance")]
        )
        .is_some()
    );

    // The review service's page: its side of the same hop.
    let received = [
        ("service", "review"),
        ("kind", "review.receive_application"),
        ("outcome", "accepted"),
    ];
    let review_page = scrape_until(stack.probe("review"), |page| {
        value(page, "idcard_review_cases", &[("service", "review")]).is_some()
    })
    .await;
    assert!(value(&review_page, "idcard_inbox_messages_total", &received).is_some_and(|n| n >= 1.0));
    stack.stop().await;
}

#[tokio::test]
async fn a_refused_submission_is_counted_with_its_code() {
    let mut stack = TestStack::start().await;
    let probe = stack.probe("acceptance");
    let refused = [
        ("service", "acceptance"),
        ("method", SUBMIT),
        ("code", "INVALID_ARGUMENT"),
    ];
    let before = value(&scrape(probe).await, "idcard_rpc_requests_total", &refused).unwrap_or(0.0);

    let mut request = renewal(&WANG);
    let card_items = request.applicant.as_mut().unwrap().card_items.as_mut().unwrap();
    card_items.citizen_id = "11010520000520011X".into();
    let status = stack.submit(request).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");

    // Counted before the answer leaves the server.
    let after = value(&scrape(probe).await, "idcard_rpc_requests_total", &refused).unwrap_or(0.0);
    assert!(after >= before + 1.0, "before {before}, after {after}");
    stack.stop().await;
}

#[tokio::test]
async fn outbox_backlog_counts_what_waits_for_a_peer_that_is_down() {
    let (mut stack, late_review) = TestStack::start_without_review().await;
    let first = stack.submit(renewal(&WANG)).await.unwrap();
    let second = stack.submit(replacement(&LI)).await.unwrap();
    let db = Db::connect(&stack.databases[0].url, &DbOptions::default())
        .await
        .unwrap();

    let waiting = idcard_outbox::backlog(&db).await.unwrap();
    assert_eq!(waiting.len(), 1, "{waiting:?}");
    assert_eq!(waiting[0].destination, "review");
    assert_eq!((waiting[0].pending, waiting[0].dead), (2, 0));
    assert!(
        waiting[0]
            .oldest_pending_at_ms
            .is_some_and(|at| at <= idcard_db::now_ms())
    );

    let review = late_review.start().await;
    stack.wait_for(&first.application_id, S::UnderReview).await;
    stack.wait_for(&second.application_id, S::UnderReview).await;
    let started = Instant::now();
    while !idcard_outbox::backlog(&db).await.unwrap().is_empty() {
        assert!(started.elapsed() < Duration::from_secs(30), "the backlog never emptied");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    db.close().await;
    stack.stop().await;
    review.await.unwrap();
}

#[tokio::test]
async fn probe_port_still_answers_grpc_health() {
    let stack = TestStack::start().await;
    for service in idctl::stack::SERVICES {
        let probe = stack.probe(service);
        wait_until_listening(probe).await;
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{probe}"))
            .unwrap()
            .connect()
            .await
            .unwrap();
        let answer = HealthClient::new(channel)
            .check(HealthCheckRequest { service: String::new() })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(answer.status(), ServingStatus::Serving, "{service}");
    }
    stack.stop().await;
}

/// Waits until a service that is still starting has bound its probe port.
async fn wait_until_listening(probe: SocketAddr) -> tokio::net::TcpStream {
    let started = Instant::now();
    loop {
        match tokio::net::TcpStream::connect(probe).await {
            Ok(stream) => return stream,
            Err(err) => assert!(
                started.elapsed() < Duration::from_secs(30),
                "probe port {probe} never opened: {err}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// `GET /metrics` over plain HTTP/1.1, as Prometheus scrapes it.
async fn scrape(probe: SocketAddr) -> String {
    let stream = wait_until_listening(probe).await;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);
    let request = hyper::Request::get("/metrics")
        .header(hyper::header::HOST, probe.to_string())
        .body(Empty::<Bytes>::new())
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), hyper::StatusCode::OK);
    assert_eq!(
        response.headers()[hyper::header::CONTENT_TYPE],
        "text/plain; version=0.0.4"
    );
    let body = response.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(body.to_vec()).unwrap()
}

/// Scrapes until `ready` holds (samplers run every few seconds); gives up after 30 s.
async fn scrape_until(probe: SocketAddr, ready: impl Fn(&str) -> bool) -> String {
    let started = Instant::now();
    loop {
        let page = scrape(probe).await;
        if ready(&page) {
            return page;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the metrics never showed what was expected:\n{page}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The value of the sample of `name` whose labels include all of `labels`.
fn value(page: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    page.lines().filter(|line| !line.starts_with('#')).find_map(|line| {
        let (series, value) = line.rsplit_once(' ')?;
        let (metric, rest) = series.split_once('{').unwrap_or((series, "}"));
        if metric != name {
            return None;
        }
        let found = rest.trim_end_matches('}');
        let has_all = labels
            .iter()
            .all(|(key, value)| found.split(',').any(|pair| pair == format!("{key}=\"{value}\"")));
        if has_all { value.parse().ok() } else { None }
    })
}
