//! `idctl load` against a stack started in the test: correctness of what it reports,
//! not speed (nothing here is timed).

use serde_json::Value;

use crate::support::TestStack;

/// Runs `idctl load ARGS --json` and parses its one line of output.
async fn load(stack: &TestStack, args: &[&str]) -> Value {
    let metrics = stack.metrics_urls.join(",");
    let mut all = vec!["load", "--json", "--metrics-url", &metrics];
    all.extend_from_slice(args);
    let out = stack.idctl(&all).await.ok();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 1, "one JSON line:\n{out}");
    serde_json::from_str(lines[0]).unwrap_or_else(|err| panic!("{err}: {out}"))
}

fn no_errors(summary: &Value) {
    assert_eq!(summary["errors"], serde_json::json!({}), "{summary:#}");
}

#[tokio::test(flavor = "multi_thread")]
async fn submit_makes_the_count_of_applications_asked_for() {
    let stack = TestStack::start().await;

    let summary = load(&stack, &["--scenario", "submit", "--count", "50", "--concurrency", "4"]).await;

    assert_eq!(summary["scenario"], "submit");
    assert_eq!(summary["count"], 50, "{summary:#}");
    assert_eq!(summary["ok"], 50, "{summary:#}");
    no_errors(&summary);
    assert_eq!(summary["calls"]["AcceptanceService/SubmitApplication"]["count"], 50);
    for key in [
        "throughput_per_s",
        "p50_ms",
        "p90_ms",
        "p99_ms",
        "p999_ms",
        "duration_s",
    ] {
        assert!(summary[key].as_f64().is_some_and(|v| v > 0.0), "{key}: {summary:#}");
    }
    // The applications are at the run's own acceptance point.
    let point = summary["acceptance_point"].as_str().expect("point").to_string();
    let listed = stack
        .idctl(&["acceptance", "list", "--point", &point, "--page-size", "100"])
        .await
        .ok();
    assert_eq!(listed.lines().filter(|l| l.contains(&point)).count(), 50, "{listed}");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn flow_takes_every_application_to_collection_and_loses_none() {
    let stack = TestStack::start().await;

    let summary = load(&stack, &["--scenario", "flow", "--count", "12", "--concurrency", "4"]).await;

    assert_eq!(summary["scenario"], "flow");
    assert_eq!(summary["count"], 12, "{summary:#}");
    assert_eq!(summary["ok"], 12, "every application collected: {summary:#}");
    assert_eq!(summary["lost"], 0, "{summary:#}");
    assert_eq!(summary["duplicated"], 0, "{summary:#}");
    assert_eq!(summary["abandoned"], 0, "{summary:#}");
    no_errors(&summary);
    for call in [
        "AcceptanceService/SubmitApplication",
        "ReviewService/ApproveApplication",
        "ProductionService/RecordQualityCheck",
        "ProductionService/DispatchCard",
        "AcceptanceService/ConfirmCardArrival",
        "AcceptanceService/CollectCard",
    ] {
        assert_eq!(summary["calls"][call]["count"], 12, "{call}: {summary:#}");
    }
    assert_eq!(summary["end_to_end"]["count"], 12);
    // Relay lag from the services' own histograms: every hop of every application.
    let relay = &summary["relay_lag"];
    assert_eq!(relay["available"], true, "{summary:#}");
    assert!(
        relay["deliveries"].as_f64().is_some_and(|n| n >= 12.0 * 4.0),
        "{relay:#}"
    );
    assert!(relay["p99_ms"].as_f64().is_some(), "{relay:#}");
    assert!(relay["routes"]["acceptance->review"].is_object(), "{relay:#}");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_answers_valid_for_every_prepared_card() {
    let stack = TestStack::start().await;

    let summary = load(
        &stack,
        &[
            "--scenario",
            "verify",
            "--count",
            "300",
            "--pool",
            "40",
            "--concurrency",
            "4",
            "--verifiers",
            "20",
        ],
    )
    .await;

    assert_eq!(summary["scenario"], "verify");
    assert_eq!(summary["count"], 300, "{summary:#}");
    assert_eq!(summary["ok"], 300, "{summary:#}");
    no_errors(&summary);
    assert_eq!(summary["answers"], serde_json::json!({ "VALID": 300 }), "{summary:#}");
    assert_eq!(summary["prepared"]["count"], 40, "{summary:#}");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_without_preparation_asks_about_cards_never_issued() {
    let stack = TestStack::start().await;

    let summary = load(
        &stack,
        &[
            "--scenario",
            "verify",
            "--no-prepare",
            "--count",
            "50",
            "--concurrency",
            "2",
        ],
    )
    .await;

    assert_eq!(summary["ok"], 50, "{summary:#}");
    no_errors(&summary);
    assert_eq!(summary["answers"], serde_json::json!({ "NO_MATCH": 50 }), "{summary:#}");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_probe_url_relay_lag_is_reported_unavailable() {
    let stack = TestStack::start().await;

    let out = stack
        .idctl(&["load", "--scenario", "submit", "--count", "3", "--concurrency", "1"])
        .await
        .ok();

    assert!(out.contains("3 of 3 ok"), "{out}");
    assert!(out.contains("relay lag: not available (no probe url"), "{out}");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_national_day_in_small_takes_every_stream_to_its_end() {
    let stack = TestStack::start().await;

    // 1/2000 of the day: 50 applications, 15 loss reports, 500 verifications.
    let summary = load(
        &stack,
        &[
            "--scenario",
            "national-day",
            "--scale",
            "0.0005",
            "--concurrency",
            "4",
            "--verifiers",
            "20",
        ],
    )
    .await;

    assert_eq!(summary["scenario"], "national-day");
    assert_eq!(summary["day"]["applications"], 50, "{summary:#}");
    assert_eq!(summary["count"], 50, "{summary:#}");
    assert_eq!(summary["ok"], 50, "every application collected: {summary:#}");
    assert_eq!(summary["lost"], 0, "{summary:#}");
    assert_eq!(summary["duplicated"], 0, "{summary:#}");
    no_errors(&summary);
    // Approved by the bureau of each citizen's province, in at least 30 of them.
    let jurisdictions = &summary["jurisdictions"];
    assert!(
        jurisdictions["bureaus"].as_u64().is_some_and(|n| n >= 30),
        "{jurisdictions:#}"
    );
    assert!(
        jurisdictions["with_collected_applications"]
            .as_u64()
            .is_some_and(|n| n >= 30),
        "{jurisdictions:#}"
    );
    assert_eq!(summary["calls"]["ReviewService/ApproveApplication"]["count"], 50);

    let losses = &summary["loss_reports"];
    assert_eq!(losses["taken"], 15, "{losses:#}");
    assert_eq!(losses["in_effect"], 15, "a bank is told of every report: {losses:#}");
    assert_eq!(losses["active_at_acceptance"], 15, "{losses:#}");
    assert_eq!(losses["not_in_effect"], 0, "{losses:#}");
    assert_eq!(losses["refused"], 0, "{losses:#}");
    assert_eq!(losses["duplicated"], 0, "{losses:#}");

    let verifications = &summary["verifications"];
    assert_eq!(verifications["ok"], 500, "{verifications:#}");
    let answers = verifications["answers"].as_object().expect("answers");
    let total: u64 = answers.values().filter_map(Value::as_u64).sum();
    assert_eq!(total, 500, "{verifications:#}");
    assert!(
        answers.keys().all(|a| a == "VALID" || a == "REPORTED_LOST"),
        "{verifications:#}"
    );
    assert!(
        answers.get("REPORTED_LOST").is_some(),
        "reports took effect during the day: {verifications:#}"
    );

    let backlog = &summary["backlog"];
    assert!(backlog["readings"].as_u64().is_some_and(|n| n >= 1), "{backlog:#}");
    assert!(backlog["peak_outbox_pending"].as_f64().is_some(), "{backlog:#}");
    assert!(
        backlog["outboxes_empty_after_day_s"].as_f64().is_some(),
        "the outboxes emptied: {backlog:#}"
    );
    stack.stop().await;
}
