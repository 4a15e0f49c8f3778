use idcard_crypto::{Keyring, Purpose};
use idcard_db::{DbError, Tx, now_ms, on_tx};
use uuid::Uuid;

/// A message to write in the current transaction.
pub struct NewMessage<'a> {
    /// A peer name the relay resolves to an endpoint when it delivers.
    pub destination: &'a str,
    /// What the payload is, for the [`crate::Deliverer`] (e.g. `review.receive_application`).
    pub kind: &'a str,
    /// Messages with the same destination and key are delivered in order (the application id).
    pub ordering_key: &'a str,
    /// The encoded request.
    pub payload: Vec<u8>,
    /// The key the payload is sealed with at rest: [`Purpose::Biometric`] when it carries
    /// fingerprints, [`Purpose::Data`] otherwise.
    pub sealed_for: Purpose,
}

/// A claimed outbox row, its payload opened.
#[derive(Debug, Clone)]
pub struct Message {
    pub seq: i64,
    pub message_id: Uuid,
    pub destination: String,
    pub kind: String,
    pub ordering_key: String,
    pub payload: Vec<u8>,
    pub attempts: i32,
    pub trace_context: Option<String>,
    /// When the message was written (epoch milliseconds), for the relay lag metric.
    pub created_at_ms: i64,
}

/// Writes a message in `tx`; it leaves only if `tx` commits. Returns its message id,
/// which the receiver records in its inbox.
///
/// The current span's trace context goes with it (`trace_context`): the relay delivers
/// it in a span of the same trace, so the receiver's work joins the trace of the work
/// that sent it.
pub async fn enqueue(tx: &mut Tx, keys: &Keyring, message: NewMessage<'_>) -> Result<Uuid, DbError> {
    let message_id = Uuid::now_v7();
    let now = now_ms();
    let payload = keys
        .seal(message.sealed_for, &message.payload, &payload_aad(message_id))
        .map_err(|err| DbError::Config(format!("sealing an outbox payload: {err}")))?;
    let trace_context = crate::trace_context::current();
    on_tx!(tx, |conn| {
        sqlx::query(
            "INSERT INTO outbox (message_id, destination, kind, ordering_key, payload, sealed_for, next_attempt_at_ms, \
             created_at_ms, trace_context) VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8)",
        )
        .bind(message_id)
        .bind(message.destination)
        .bind(message.kind)
        .bind(message.ordering_key)
        .bind(&payload)
        .bind(message.sealed_for.as_str())
        .bind(now)
        .bind(trace_context.as_deref())
        .execute(conn)
        .await?
        .rows_affected()
    });
    Ok(message_id)
}

/// Binds a sealed payload to its message.
pub(crate) fn payload_aad(message_id: Uuid) -> Vec<u8> {
    format!("outbox.payload:{message_id}").into_bytes()
}
