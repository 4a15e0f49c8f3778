//! Client request ids: a mutating RPC stores its answer under the caller's request id in
//! the same transaction as its change, and a retry gets that answer back.
//!
//! This module stores bytes as given: the caller seals the answer (it may hold personal
//! data) and passes a keyed fingerprint of the request, so that a request id reused for
//! a different request is refused rather than answered wrongly.

use sqlx::Row;

use crate::{DbError, Tx, now_ms, on_tx};

/// What a request id has recorded.
pub enum Recorded {
    /// First time: do the work and [`store`] the answer.
    New,
    /// A retry of the same request: return this stored answer.
    Answered(Vec<u8>),
}

/// Looks up `request_id`; an answer stored under another fingerprint is a reused id.
pub async fn lookup(tx: &mut Tx, request_id: &str, fingerprint: &[u8]) -> Result<Recorded, DbError> {
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
/// the caller reads the winner's answer.
pub async fn store(
    tx: &mut Tx,
    method: &str,
    request_id: &str,
    fingerprint: &[u8],
    response: &[u8],
) -> Result<(), DbError> {
    on_tx!(tx, |conn| {
        sqlx::query(
            "INSERT INTO client_requests (request_id, method, fingerprint, response, created_at_ms) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(request_id)
        .bind(method)
        .bind(fingerprint)
        .bind(response)
        .bind(now_ms())
        .execute(conn)
        .await?
        .rows_affected()
    });
    Ok(())
}
