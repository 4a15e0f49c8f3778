use idcard_db::{DbError, Tx, now_ms, on_tx};
use uuid::Uuid;

/// Records an inbound message id in `tx`. Returns `false` when the message was already
/// received: the caller acknowledges it and changes nothing.
pub async fn accept(tx: &mut Tx, message_id: Uuid, kind: &str) -> Result<bool, DbError> {
    let inserted = on_tx!(tx, |conn| {
        sqlx::query("INSERT INTO inbox (message_id, kind, received_at_ms) VALUES ($1, $2, $3) ON CONFLICT (message_id) DO NOTHING")
            .bind(message_id)
            .bind(kind)
            .bind(now_ms())
            .execute(conn)
            .await?
            .rows_affected()
    });
    Ok(inserted == 1)
}
