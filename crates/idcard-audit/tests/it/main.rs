#![allow(clippy::unwrap_used)]

mod append_only;
mod concurrency;
mod record;
mod seal;
mod tamper;

use idcard_audit::{Entry, record};
use idcard_db::{Db, DbOptions, on_db};
use idcard_testkit::TestDb;
use sqlx::Row;
use uuid::Uuid;

/// A migrated fresh database; keep the `TestDb` alive as long as the `Db`.
pub async fn fresh_db() -> (TestDb, Db) {
    let test_db = TestDb::fresh("audit").await;
    let db = Db::connect(&test_db.url, &DbOptions::default()).await.unwrap();
    db.migrate(&[&idcard_audit::MIGRATIONS]).await.unwrap();
    (test_db, db)
}

pub fn entry(action: &str) -> Entry<'_> {
    Entry {
        actor: "clerk-7",
        role: "clerk",
        action,
        target: "application:0190c7e2",
        detail: "state=submitted",
    }
}

/// Records one entry in its own committed transaction.
pub async fn record_committed(db: &Db, action: &str) -> Uuid {
    let mut tx = db.begin().await.unwrap();
    let id = record(&mut tx, &entry(action)).await.unwrap();
    tx.commit().await.unwrap();
    id
}

pub async fn execute(db: &Db, sql: &str) -> Result<u64, sqlx::Error> {
    on_db!(db, |pool| sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))
}

/// What an attacker with database access does first.
pub async fn drop_trigger(db: &Db, name: &str) {
    drop_trigger_on(db, name, "audit_log").await;
}

pub async fn drop_trigger_on(db: &Db, name: &str, table: &str) {
    let sql = match db.backend() {
        idcard_db::Backend::Sqlite => format!("DROP TRIGGER {name}"),
        idcard_db::Backend::Postgres => format!("DROP TRIGGER {name} ON {table}"),
    };
    execute(db, &sql).await.unwrap();
}

/// (chain_position, entry_id, action) of every entry, sealed ones first in chain order.
pub async fn chain(db: &Db) -> Vec<(Option<i64>, Uuid, String)> {
    on_db!(db, |pool| {
        sqlx::query("SELECT chain_position, entry_id, action FROM audit_log ORDER BY chain_position IS NULL, chain_position, seq")
            .fetch_all(pool)
            .await
            .unwrap()
            .iter()
            .map(|row| (row.get(0), row.get(1), row.get(2)))
            .collect()
    })
}

pub async fn entry_at(db: &Db, position: i64) -> Uuid {
    on_db!(db, |pool| {
        sqlx::query_scalar("SELECT entry_id FROM audit_log WHERE chain_position = $1")
            .bind(position)
            .fetch_one(pool)
            .await
            .unwrap()
    })
}
