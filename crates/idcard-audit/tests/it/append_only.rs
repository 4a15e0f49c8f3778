//! The triggers: what the application (or a careless operator) cannot do.

use idcard_audit::{seal_once, verify};

use crate::{execute, fresh_db, record_committed};

#[tokio::test]
async fn deleting_an_entry_is_refused() {
    let (_guard, db) = fresh_db().await;
    record_committed(&db, "sealed").await;
    seal_once(&db).await.unwrap();
    record_committed(&db, "unsealed").await;

    let err = execute(&db, "DELETE FROM audit_log").await.unwrap_err();

    assert!(err.to_string().contains("append-only"), "{err}");
    assert_eq!(verify(&db).await.unwrap().unsealed, 1);
}

#[tokio::test]
async fn updating_a_sealed_entry_is_refused() {
    let (_guard, db) = fresh_db().await;
    record_committed(&db, "sealed").await;
    seal_once(&db).await.unwrap();

    for sql in [
        "UPDATE audit_log SET detail = 'x'",
        "UPDATE audit_log SET hash = prev_hash",
        "UPDATE audit_log SET chain_position = 7, prev_hash = hash, hash = hash",
    ] {
        let err = execute(&db, sql).await.unwrap_err();
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
    verify(&db).await.unwrap();
}

#[tokio::test]
async fn changing_an_unsealed_entry_is_refused() {
    let (_guard, db) = fresh_db().await;
    record_committed(&db, "unsealed").await;

    let err = execute(&db, "UPDATE audit_log SET detail = 'x'").await.unwrap_err();

    assert!(err.to_string().contains("append-only"), "{err}");
}

#[tokio::test]
async fn inserting_a_sealed_entry_is_refused() {
    let (_guard, db) = fresh_db().await;
    let new_id = match db.backend() {
        idcard_db::Backend::Sqlite => "randomblob(16)",
        idcard_db::Backend::Postgres => "gen_random_uuid()",
    };
    let zeros = match db.backend() {
        idcard_db::Backend::Sqlite => "zeroblob(32)",
        idcard_db::Backend::Postgres => "decode(repeat('00', 32), 'hex')",
    };

    let err = execute(
        &db,
        &format!(
            "INSERT INTO audit_log (entry_id, at_ms, actor, role, action, target, detail, chain_position, prev_hash, hash) \
             VALUES ({new_id}, 0, 'a', 'r', 'x', 't', 'd', 1, {zeros}, {zeros})"
        ),
    )
    .await
    .unwrap_err();

    assert!(err.to_string().contains("inserted unsealed"), "{err}");
}

#[tokio::test]
async fn the_chain_head_cannot_move_back_or_disappear() {
    let (_guard, db) = fresh_db().await;
    record_committed(&db, "a").await;
    seal_once(&db).await.unwrap();

    let back = execute(&db, "UPDATE audit_chain_head SET position = 0")
        .await
        .unwrap_err();
    let gone = execute(&db, "DELETE FROM audit_chain_head").await.unwrap_err();

    assert!(back.to_string().contains("only moves forward"), "{back}");
    assert!(gone.to_string().contains("audit_chain_head"), "{gone}");
}

#[tokio::test]
async fn truncating_the_log_is_refused_on_postgres() {
    let (test_db, db) = fresh_db().await;
    if !test_db.is_postgres() {
        return; // SQLite has no TRUNCATE; DELETE without WHERE fires the row trigger.
    }
    record_committed(&db, "a").await;

    let err = execute(&db, "TRUNCATE audit_log").await.unwrap_err();

    assert!(err.to_string().contains("append-only"), "{err}");
}
