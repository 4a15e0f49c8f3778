//! `idctl overdue` and `idctl acceptance extend` against a running stack.
//!
//! The services read the calendar themselves, so a test makes an application late the
//! honest way: it moves the stored due dates in the services' databases.

use idcard_server::wire::{date_to_text, today_cst};
use time::Duration;

use crate::support::{TestStack, value_of};

const POINT: &str = "310104-01";
const REASON: &str = "山区道路塌方，寄送绕行";

/// Submits a renewal for 王小明 (Beijing domicile) of the sample residents; returns the
/// application id and receipt number.
async fn submit_renewal(stack: &TestStack) -> (String, String) {
    let out = stack
        .idctl(&[
            "acceptance",
            "submit",
            "--point",
            POINT,
            "--kind",
            "renewal",
            "--citizen-id",
            "110105200005200116",
            "--name",
            "王小明",
            "--ethnicity",
            "汉",
            "--address",
            "北京市朝阳区建国路88号",
            "--domicile",
            "110105",
            "--phone",
            "13800000001",
            "--document",
            "old_id_card",
            "--document",
            "residence_permit",
            "--payment-ref",
            "POS-1",
            "--card-expiry",
            "2026-12-20",
            "--clerk",
            "clerk-1",
        ])
        .await
        .ok();
    (
        value_of(&out, "application").to_string(),
        value_of(&out, "receipt").to_string(),
    )
}

/// Moves a stored due date `days` days into the past.
async fn make_late(database_url: &str, sql: &str, receipt: &str, days: i64) {
    let due = date_to_text(today_cst() - Duration::days(days));
    let moved = idcard_testkit::execute(database_url, sql, &[&due, receipt]).await;
    assert_eq!(moved, 1, "{sql}");
}

#[tokio::test(flavor = "multi_thread")]
async fn overdue_lists_a_deliberately_late_application_at_acceptance_and_review() {
    // Arrange
    let stack = TestStack::start().await;
    let imported = stack
        .idctl(&[
            "register",
            "import",
            concat!(env!("CARGO_MANIFEST_DIR"), "/src/seed/residents.jsonl"),
        ])
        .await
        .ok();
    assert!(imported.contains("imported"), "{imported}");
    assert_eq!(stack.idctl(&["overdue"]).await.ok(), "nothing overdue\n");
    let (id, receipt) = submit_renewal(&stack).await;
    stack
        .idctl_until(&["review", "pending", "--jurisdiction", "11"], |out| out.contains(&id))
        .await;
    stack
        .idctl_until(&["acceptance", "get", "--id", &id], |out| {
            value_of(out, "state") == "under_review"
        })
        .await;
    make_late(
        &stack.acceptance_db,
        "UPDATE applications SET due_date = $1 WHERE receipt_number = $2",
        &receipt,
        5,
    )
    .await;
    make_late(
        &stack.review_db,
        "UPDATE review_cases SET review_due_date = $1 WHERE receipt_number = $2",
        &receipt,
        2,
    )
    .await;

    // Act
    let table = stack.idctl(&["overdue"]).await.ok();
    let json = stack.idctl(&["overdue", "--json"]).await.ok();

    // Assert
    let lines: Vec<&str> = table.lines().collect();
    assert!(
        lines[0].starts_with("STAGE") && lines[0].contains("DAYS OVERDUE"),
        "{table}"
    );
    let words = |line: &str| line.split_whitespace().map(str::to_string).collect::<Vec<_>>();
    let late_application = words(lines[1]);
    let late_review = words(lines[2]);
    assert_eq!(lines.len(), 3, "{table}");
    let due = |days| date_to_text(today_cst() - Duration::days(days));
    assert_eq!(
        late_application,
        ["application", &id, &receipt, &due(5), "5", "under_review", "no"],
        "{table}"
    );
    assert_eq!(
        late_review,
        ["review", &id, &receipt, &due(2), "2", "pending", "-"],
        "{table}"
    );
    let rows: serde_json::Value = serde_json::from_str(&json).expect("a JSON array");
    assert_eq!(rows[0]["service"], "acceptance");
    assert_eq!(rows[0]["application_id"], id.as_str());
    assert_eq!(rows[0]["days_overdue"], 5);
    assert_eq!(rows[0]["extended"], false);
    assert_eq!(rows[1]["stage"], "review");
    assert_eq!(rows.as_array().map(Vec::len), Some(2));

    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn acceptance_extend_adds_thirty_days_once_and_overdue_shows_why() {
    // Arrange
    let stack = TestStack::start().await;
    let (id, _) = submit_renewal(&stack).await;

    // Act
    let extended = stack
        .idctl(&["acceptance", "extend", "--application", &id, "--reason", REASON])
        .await
        .ok();
    let again = stack
        .idctl(&["acceptance", "extend", "--application", &id, "--reason", REASON])
        .await;
    let listed = stack.idctl(&["overdue", "--due-within-days", "366"]).await.ok();

    // Assert
    let due = date_to_text(today_cst() + Duration::days(90));
    assert_eq!(value_of(&extended, "due"), due);
    let line = value_of(&extended, "extended");
    assert!(
        line.starts_with("+30 days from ") && line.ends_with(REASON),
        "{extended}"
    );
    assert_eq!(again.code, Some(1));
    assert!(again.stderr.contains("DEADLINE_ALREADY_EXTENDED"), "{}", again.stderr);
    let row = listed
        .lines()
        .find(|line| line.starts_with("application") && line.contains(&id))
        .unwrap_or_default();
    assert!(
        row.contains(&due) && row.contains("-90") && row.ends_with(&format!("yes: {REASON}")),
        "{listed}"
    );

    stack.stop().await;
}
