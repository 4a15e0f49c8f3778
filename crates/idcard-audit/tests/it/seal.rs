use std::time::Duration;

use idcard_audit::{Sealer, record, seal_once, verify};
use tokio_util::sync::CancellationToken;

use crate::{chain, entry, fresh_db, record_committed};

#[tokio::test]
async fn sealing_chains_entries_in_commit_order() {
    let (test_db, db) = fresh_db().await;
    if test_db.is_postgres() {
        // `first` takes the lower seq but commits after `second` was sealed.
        let mut first = db.begin().await.unwrap();
        record(&mut first, &entry("first")).await.unwrap();
        let mut second = db.begin().await.unwrap();
        record(&mut second, &entry("second")).await.unwrap();
        second.commit().await.unwrap();
        assert_eq!(seal_once(&db).await.unwrap(), 1, "the uncommitted entry is not sealed");
        first.commit().await.unwrap();
    } else {
        // SQLite has one writer at a time: commit order is insert order.
        record_committed(&db, "second").await;
        seal_once(&db).await.unwrap();
        record_committed(&db, "first").await;
    }

    assert_eq!(seal_once(&db).await.unwrap(), 1);

    let order: Vec<(Option<i64>, String)> = chain(&db).await.into_iter().map(|(p, _, a)| (p, a)).collect();
    assert_eq!(
        order,
        vec![(Some(1), "second".to_string()), (Some(2), "first".to_string())]
    );
    assert_eq!(verify(&db).await.unwrap().entries, 2);
}

#[tokio::test]
async fn a_batch_seals_in_seq_order_and_continues_the_chain() {
    let (_guard, db) = fresh_db().await;
    for i in 0..7 {
        record_committed(&db, &format!("action-{i}")).await;
    }
    let sealer = Sealer::new(db.clone(), Duration::from_millis(10)).with_batch_size(3);

    let batches = [
        sealer.seal_batch().await.unwrap(),
        sealer.seal_batch().await.unwrap(),
        sealer.seal_batch().await.unwrap(),
    ];

    assert_eq!(batches, [3, 3, 1]);
    let rows = chain(&db).await;
    for (i, (position, _, action)) in rows.iter().enumerate() {
        assert_eq!(*position, Some(i as i64 + 1));
        assert_eq!(action, &format!("action-{i}"));
    }
    assert_eq!(verify(&db).await.unwrap().entries, 7);
}

#[tokio::test]
async fn running_sealer_seals_and_stops_on_shutdown() {
    let (_guard, db) = fresh_db().await;
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(Sealer::new(db.clone(), Duration::from_millis(10)).run(shutdown.clone()));

    record_committed(&db, "application.submit").await;
    shutdown.cancel();
    task.await.unwrap();

    let verified = verify(&db).await.unwrap();
    assert_eq!(
        (verified.entries, verified.unsealed),
        (1, 0),
        "the last batch is sealed on the way out"
    );
}
