use crate::support::{TestStack, idctl};

#[test]
fn replay_needs_message_ids_or_all() {
    let run = idctl(&["outbox", "replay", "--database", "sqlite:/nonexistent/x.db"]);
    assert_eq!(run.code, Some(2), "{}", run.stderr);
}

#[test]
fn a_missing_sqlite_file_is_not_created() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("typo.db");
    let url = format!("sqlite:{}", path.display());
    let run = idctl(&["outbox", "dead-letters", "--database", &url]);
    assert_eq!(run.code, Some(1));
    assert!(run.stderr.contains("no database at"), "{}", run.stderr);
    assert!(!path.exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fresh_service_has_no_dead_letters() {
    let stack = TestStack::start().await;
    // The service migrates its database as it starts.
    let out = stack
        .idctl_until(&["outbox", "dead-letters", "--database", &stack.acceptance_db], |_| {
            true
        })
        .await;
    assert_eq!(out.trim(), "no dead letters");
    let out = stack
        .idctl(&["outbox", "replay", "--database", &stack.acceptance_db, "--all"])
        .await
        .ok();
    assert!(out.starts_with("replayed 0 dead letter(s)"), "{out}");
    let run = stack
        .idctl(&[
            "outbox",
            "replay",
            "--database",
            &stack.acceptance_db,
            "--message-id",
            "0193a000-0000-7000-8000-000000000001",
        ])
        .await;
    assert_eq!(run.code, Some(1));
    assert!(
        run.stderr
            .contains("1 of the 1 message id(s) named are not dead letters"),
        "{}",
        run.stderr
    );
    stack.stop().await;
}
