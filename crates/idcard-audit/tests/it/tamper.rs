//! An attacker with database access: drops the triggers, then edits the log.

use idcard_audit::{AuditError, Broken, BrokenReason, seal_once, verify};
use idcard_db::Db;

use crate::{drop_trigger, drop_trigger_on, entry_at, execute, fresh_db, record_committed};

/// Five sealed entries.
async fn sealed_chain() -> (idcard_testkit::TestDb, Db) {
    let (test_db, db) = fresh_db().await;
    for i in 1..=5 {
        record_committed(&db, &format!("action-{i}")).await;
    }
    assert_eq!(seal_once(&db).await.unwrap(), 5);
    assert_eq!(verify(&db).await.unwrap().entries, 5);
    (test_db, db)
}

async fn broken(db: &Db) -> Broken {
    match verify(db).await {
        Err(AuditError::Broken(broken)) => broken,
        other => panic!("expected a broken chain, got {other:?}"),
    }
}

#[tokio::test]
async fn altered_detail_is_found_at_its_position() {
    let (_guard, db) = sealed_chain().await;
    let target = entry_at(&db, 3).await;
    drop_trigger(&db, "audit_log_seal_once").await;

    execute(
        &db,
        "UPDATE audit_log SET detail = 'state=approved' WHERE chain_position = 3",
    )
    .await
    .unwrap();

    let broken = broken(&db).await;
    assert_eq!(
        broken,
        Broken {
            position: 3,
            entry_id: Some(target),
            reason: BrokenReason::ContentAltered
        }
    );
    assert!(broken.to_string().contains("position 3"), "{broken}");
}

#[tokio::test]
async fn altered_last_entry_is_found_against_the_head() {
    let (_guard, db) = sealed_chain().await;
    drop_trigger(&db, "audit_log_seal_once").await;

    execute(
        &db,
        "UPDATE audit_log SET actor = 'someone-else' WHERE chain_position = 5",
    )
    .await
    .unwrap();

    let broken = broken(&db).await;
    assert_eq!((broken.position, broken.reason), (5, BrokenReason::ContentAltered));
}

#[tokio::test]
async fn deleted_entry_is_found_at_its_position() {
    let (_guard, db) = sealed_chain().await;
    drop_trigger(&db, "audit_log_no_delete").await;

    execute(&db, "DELETE FROM audit_log WHERE chain_position = 3")
        .await
        .unwrap();

    assert_eq!(
        broken(&db).await,
        Broken {
            position: 3,
            entry_id: None,
            reason: BrokenReason::Missing
        }
    );
}

#[tokio::test]
async fn deleted_and_renumbered_entries_break_the_link() {
    let (_guard, db) = sealed_chain().await;
    drop_trigger(&db, "audit_log_no_delete").await;
    drop_trigger(&db, "audit_log_seal_once").await;
    execute(&db, "DELETE FROM audit_log WHERE chain_position = 3")
        .await
        .unwrap();

    for position in 4..=5 {
        execute(
            &db,
            &format!(
                "UPDATE audit_log SET chain_position = {} WHERE chain_position = {position}",
                position - 1
            ),
        )
        .await
        .unwrap();
    }

    let broken = broken(&db).await;
    assert_eq!((broken.position, broken.reason), (3, BrokenReason::LinkBroken));
}

#[tokio::test]
async fn deleted_tail_is_found_against_the_head() {
    let (_guard, db) = sealed_chain().await;
    drop_trigger(&db, "audit_log_no_delete").await;

    execute(&db, "DELETE FROM audit_log WHERE chain_position >= 4")
        .await
        .unwrap();

    assert_eq!(
        broken(&db).await,
        Broken {
            position: 4,
            entry_id: None,
            reason: BrokenReason::TailMissing { head_position: 5 }
        }
    );
}

#[tokio::test]
async fn altered_hash_is_found_at_its_position() {
    let (_guard, db) = sealed_chain().await;
    let target = entry_at(&db, 3).await;
    drop_trigger(&db, "audit_log_seal_once").await;

    let replacement = match db.backend() {
        idcard_db::Backend::Sqlite => "randomblob(32)",
        idcard_db::Backend::Postgres => "sha256('forged')",
    };
    execute(
        &db,
        &format!("UPDATE audit_log SET hash = {replacement} WHERE chain_position = 3"),
    )
    .await
    .unwrap();

    assert_eq!(
        broken(&db).await,
        Broken {
            position: 3,
            entry_id: Some(target),
            reason: BrokenReason::HashAltered
        }
    );
}

#[tokio::test]
async fn altered_link_is_found_at_its_position() {
    let (_guard, db) = sealed_chain().await;
    let target = entry_at(&db, 4).await;
    drop_trigger(&db, "audit_log_seal_once").await;

    execute(&db, "UPDATE audit_log SET prev_hash = hash WHERE chain_position = 4")
        .await
        .unwrap();

    assert_eq!(
        broken(&db).await,
        Broken {
            position: 4,
            entry_id: Some(target),
            reason: BrokenReason::LinkBroken
        }
    );
}

#[tokio::test]
async fn rewound_head_is_found() {
    let (_guard, db) = sealed_chain().await;
    drop_trigger_on(&db, "audit_chain_head_forward", "audit_chain_head").await;

    execute(&db, "UPDATE audit_chain_head SET position = 4").await.unwrap();

    let broken = broken(&db).await;
    assert_eq!(
        (broken.position, broken.reason),
        (5, BrokenReason::HeadMismatch { head_position: 4 })
    );
}
