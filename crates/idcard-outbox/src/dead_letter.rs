use idcard_db::{Db, DbError, now_ms, on_db};
use sqlx::Row;
use uuid::Uuid;

/// A message the relay gave up on.
#[derive(Debug, Clone)]
pub struct DeadLetter {
    pub message_id: Uuid,
    pub destination: String,
    pub kind: String,
    pub ordering_key: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub created_at_ms: i64,
}

pub async fn list_dead_letters(db: &Db, limit: i64) -> Result<Vec<DeadLetter>, DbError> {
    let letters = on_db!(db, |pool| {
        sqlx::query(
            "SELECT message_id, destination, kind, ordering_key, attempts, last_error, created_at_ms \
             FROM outbox WHERE state = 'dead' ORDER BY seq LIMIT $1",
        )
        .bind(limit)
        .fetch_all(pool)
        .await?
        .into_iter()
        .map(|row| DeadLetter {
            message_id: row.get(0),
            destination: row.get(1),
            kind: row.get(2),
            ordering_key: row.get(3),
            attempts: row.get(4),
            last_error: row.get(5),
            created_at_ms: row.get(6),
        })
        .collect()
    });
    Ok(letters)
}

/// Puts dead letters back in the queue with a fresh attempt count: the ones named, or
/// all of them when `message_ids` is empty. Returns how many.
pub async fn replay_dead_letters(db: &Db, message_ids: &[Uuid]) -> Result<u64, DbError> {
    let now = now_ms();
    let mut replayed = 0;
    const REPLAY: &str = "UPDATE outbox SET state = 'pending', attempts = 0, next_attempt_at_ms = $1, \
                          claimed_until_ms = NULL WHERE state = 'dead'";
    if message_ids.is_empty() {
        replayed += on_db!(db, |pool| sqlx::query(REPLAY)
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected());
    } else {
        let one = format!("{REPLAY} AND message_id = $2");
        for id in message_ids {
            replayed += on_db!(db, |pool| {
                sqlx::query(sqlx::AssertSqlSafe(one.as_str()))
                    .bind(now)
                    .bind(id)
                    .execute(pool)
                    .await?
                    .rows_affected()
            });
        }
    }
    Ok(replayed)
}
