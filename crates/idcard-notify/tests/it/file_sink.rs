use idcard_notify::{Event, FileSink, Notifier};
use uuid::Uuid;

use crate::{sms_only, with_email};

fn lines(path: &std::path::Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .expect("file written")
        .lines()
        .map(|line| serde_json::from_str(line).expect("each line is json"))
        .collect()
}

#[tokio::test]
async fn file_sink_writes_masked_json_lines_and_appends_across_sends() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("notify").join("outbox.jsonl");
    let notifier = Notifier::file(FileSink::new(&path));
    let first = Uuid::now_v7();
    let second = Uuid::now_v7();

    notifier
        .send(
            first,
            &with_email(Event::LossReportAccepted {
                report_number: "L-2025-000042".to_owned(),
            }),
        )
        .await
        .expect("first send");
    notifier
        .send(
            second,
            &sms_only(Event::FoundCard {
                collect_at: "广州南站派出所".to_owned(),
            }),
        )
        .await
        .expect("second send");

    let lines = lines(&path);
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["message_id"], first.to_string());
    assert_eq!(lines[0]["channel"], "sms");
    assert_eq!(lines[0]["to"], "138****0001");
    assert_eq!(lines[0]["subject"], serde_json::Value::Null);
    assert!(
        lines[0]["text"]
            .as_str()
            .is_some_and(|text| text.contains("L-2025-000042"))
    );
    assert!(
        lines[0]["at"].as_str().is_some_and(|at| at.ends_with('Z')),
        "{}",
        lines[0]["at"]
    );
    assert_eq!(lines[1]["channel"], "email");
    assert_eq!(lines[1]["to"], "a***@example.com");
    assert_ne!(lines[1]["message_id"], lines[0]["message_id"]);
    assert!(lines[1]["subject"].is_string());
    assert_eq!(lines[2]["message_id"], second.to_string());
    let raw = std::fs::read_to_string(&path).expect("read");
    assert!(!raw.contains("13800000001") && !raw.contains("alice@example.com"));
}

#[tokio::test]
async fn concurrent_senders_write_whole_lines() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("outbox.jsonl");
    let mut tasks = tokio::task::JoinSet::new();

    for _ in 0..50 {
        let notifier = Notifier::file(FileSink::new(&path));
        tasks.spawn(async move { notifier.send(Uuid::now_v7(), &with_email(crate::rejection())).await });
    }
    while let Some(result) = tasks.join_next().await {
        result.expect("task").expect("send");
    }

    assert_eq!(lines(&path).len(), 100);
}
