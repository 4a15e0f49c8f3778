use idcard_audit::{oldest_unsealed_age_ms, record, seal_once, verify};

use crate::{chain, entry, fresh_db, record_committed};

#[tokio::test]
async fn entries_of_a_rolled_back_transaction_never_appear() {
    let (_guard, db) = fresh_db().await;
    let mut tx = db.begin().await.unwrap();
    record(&mut tx, &entry("application.submit")).await.unwrap();
    drop(tx);
    record_committed(&db, "application.read").await;

    let sealed = seal_once(&db).await.unwrap();

    assert_eq!(sealed, 1);
    let rows = chain(&db).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].2, "application.read");
    assert_eq!(verify(&db).await.unwrap().entries, 1);
}

#[tokio::test]
async fn recorded_entries_wait_unsealed_until_the_sealer_runs() {
    let (_guard, db) = fresh_db().await;
    assert_eq!(oldest_unsealed_age_ms(&db).await.unwrap(), None);

    record_committed(&db, "application.submit").await;

    assert!(oldest_unsealed_age_ms(&db).await.unwrap().is_some_and(|age| age >= 0));
    let before = verify(&db).await.unwrap();
    assert_eq!((before.entries, before.unsealed), (0, 1));

    seal_once(&db).await.unwrap();

    assert_eq!(oldest_unsealed_age_ms(&db).await.unwrap(), None);
    let after = verify(&db).await.unwrap();
    assert_eq!((after.entries, after.unsealed), (1, 0));
}

#[tokio::test]
async fn an_empty_log_verifies_with_the_genesis_head() {
    let (_guard, db) = fresh_db().await;

    let verified = verify(&db).await.unwrap();

    assert_eq!(verified.entries, 0);
    assert_eq!(verified.head_hash, idcard_audit::GENESIS_HASH.to_vec());
    assert_eq!(seal_once(&db).await.unwrap(), 0);
}
