use idcard_db::{DbError, Tx, now_ms, on_tx};
use uuid::Uuid;

/// Records an inbound message id in `tx`. Returns `false` when the message was already
/// received: the caller acknowledges it and changes nothing.
///
/// Counts `idcard_inbox_messages_total{service, kind, outcome}`. Kinds are named
/// `<receiving service>.<what>` (`review.receive_application`), so the receiving
/// service is the kind's first part. The count is taken before `tx` commits: a
/// transaction that then fails is counted once more when the sender retries.
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
    let accepted = inserted == 1;
    let service = kind.split_once('.').map_or("unknown", |(service, _)| service);
    metrics::counter!("idcard_inbox_messages_total", "service" => service.to_string(), "kind" => kind.to_string(),
        "outcome" => if accepted { "accepted" } else { "duplicate" })
    .increment(1);
    Ok(accepted)
}
