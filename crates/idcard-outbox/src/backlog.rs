use idcard_db::{Db, DbError, on_db};
use sqlx::Row;

/// What waits in the outbox for one destination (a metric sampler reads it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backlog {
    pub destination: String,
    /// Messages not delivered yet (including those waiting for a retry).
    pub pending: i64,
    /// When the oldest of them was written (`None` when none is pending).
    pub oldest_pending_at_ms: Option<i64>,
    /// Messages the relay gave up on.
    pub dead: i64,
}

/// The pending and dead messages per destination, in one pass. Delivered rows are left
/// out; a destination with nothing pending or dead does not appear.
pub async fn backlog(db: &Db) -> Result<Vec<Backlog>, DbError> {
    const BACKLOG: &str = "SELECT destination, \
         COUNT(CASE WHEN state = 'pending' THEN 1 END), \
         MIN(CASE WHEN state = 'pending' THEN created_at_ms END), \
         COUNT(CASE WHEN state = 'dead' THEN 1 END) \
         FROM outbox WHERE state IN ('pending', 'dead') GROUP BY destination ORDER BY destination";
    let backlog = on_db!(db, |pool| {
        sqlx::query(BACKLOG)
            .fetch_all(pool)
            .await?
            .into_iter()
            .map(|row| -> Result<Backlog, sqlx::Error> {
                Ok(Backlog {
                    destination: row.try_get(0)?,
                    pending: row.try_get(1)?,
                    oldest_pending_at_ms: row.try_get(2)?,
                    dead: row.try_get(3)?,
                })
            })
            .collect::<Result<Vec<_>, _>>()?
    });
    Ok(backlog)
}
