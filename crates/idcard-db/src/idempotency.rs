//! Client request ids: a mutating RPC stores its answer under the caller's request id in
//! the same transaction as its change, and a retry gets that answer back.

use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::{DbError, Tx, now_ms, on_tx};

/// What a request id has recorded.
pub enum Recorded {
    /// First time: do the work and [`store`] the answer.
    New,
    /// A retry of the same request: return this encoded answer.
    Answered(Vec<u8>),
}

/// Looks up `request_id` for `method`. `request` is the encoded request, so that a
/// request id reused for a different request is refused rather than answered wrongly.
pub async fn lookup(tx: &mut Tx, method: &str, request_id: &str, request: &[u8]) -> Result<Recorded, DbError> {
    let fingerprint = fingerprint(method, request);
    let row = on_tx!(tx, |conn| {
        sqlx::query("SELECT fingerprint, response FROM client_requests WHERE request_id = $1")
            .bind(request_id)
            .fetch_optional(conn)
            .await?
            .map(|row| (row.get::<Vec<u8>, _>(0), row.get::<Vec<u8>, _>(1)))
    });
    match row {
        None => Ok(Recorded::New),
        Some((stored, response)) if stored == fingerprint => Ok(Recorded::Answered(response)),
        Some(_) => Err(DbError::RequestIdReused(request_id.to_string())),
    }
}

/// Records the answer; a concurrent duplicate fails here with a unique violation, and
/// the caller retries the whole request to read the winner's answer.
pub async fn store(
    tx: &mut Tx,
    method: &str,
    request_id: &str,
    request: &[u8],
    response: &[u8],
) -> Result<(), DbError> {
    let fingerprint = fingerprint(method, request);
    on_tx!(tx, |conn| {
        sqlx::query(
            "INSERT INTO client_requests (request_id, method, fingerprint, response, created_at_ms) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(request_id)
        .bind(method)
        .bind(fingerprint.as_slice())
        .bind(response)
        .bind(now_ms())
        .execute(conn)
        .await?
        .rows_affected()
    });
    Ok(())
}

fn fingerprint(method: &str, request: &[u8]) -> Vec<u8> {
    let mut hash = Sha256::new();
    hash.update(method.as_bytes());
    hash.update([0]);
    hash.update(request);
    hash.finalize().to_vec()
}
