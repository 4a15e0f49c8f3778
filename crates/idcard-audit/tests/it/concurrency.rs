use std::collections::HashSet;
use std::time::Duration;

use idcard_audit::{Sealer, oldest_unsealed_age_ms, record, verify};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::{chain, entry, fresh_db};

const WRITERS: usize = 8;
const ENTRIES_PER_WRITER: usize = 125;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_sealers_beside_concurrent_writers_build_one_chain() {
    let (_guard, db) = fresh_db().await;
    let shutdown = CancellationToken::new();
    let sealers: Vec<_> = (0..2)
        .map(|_| {
            let sealer = Sealer::new(db.clone(), Duration::from_millis(5)).with_batch_size(40);
            tokio::spawn(sealer.run(shutdown.clone()))
        })
        .collect();

    let mut writers = JoinSet::new();
    for writer in 0..WRITERS {
        let db = db.clone();
        writers.spawn(async move {
            let mut ids = Vec::new();
            for i in 0..ENTRIES_PER_WRITER {
                let mut tx = db.begin().await.unwrap();
                let action = format!("writer-{writer}-{i}");
                ids.push(record(&mut tx, &entry(&action)).await.unwrap());
                tx.commit().await.unwrap();
            }
            ids
        });
    }
    let mut recorded = HashSet::new();
    while let Some(ids) = writers.join_next().await {
        recorded.extend(ids.unwrap());
    }
    // Bounded so that a sealer that stalls fails the test instead of hanging it.
    for _ in 0..3000 {
        if oldest_unsealed_age_ms(&db).await.unwrap().is_none() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    shutdown.cancel();
    for sealer in sealers {
        sealer.await.unwrap();
    }

    let verified = verify(&db).await.unwrap();
    assert_eq!(
        (verified.entries, verified.unsealed),
        ((WRITERS * ENTRIES_PER_WRITER) as u64, 0)
    );
    let rows = chain(&db).await;
    let positions: Vec<i64> = rows.iter().map(|(p, _, _)| p.unwrap()).collect();
    assert_eq!(
        positions,
        (1..=(WRITERS * ENTRIES_PER_WRITER) as i64).collect::<Vec<_>>()
    );
    let sealed: HashSet<_> = rows.iter().map(|(_, id, _)| *id).collect();
    assert_eq!(sealed, recorded);
    // Each writer's entries commit one after another, so the chain keeps their order.
    for writer in 0..WRITERS {
        let prefix = format!("writer-{writer}-");
        let own: Vec<usize> = rows
            .iter()
            .filter_map(|(_, _, action)| action.strip_prefix(&prefix)?.parse().ok())
            .collect();
        assert_eq!(own, (0..ENTRIES_PER_WRITER).collect::<Vec<_>>());
    }
}
