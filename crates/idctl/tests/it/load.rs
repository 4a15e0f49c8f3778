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
