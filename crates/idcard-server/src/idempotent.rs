//! Mutating RPCs run through [`run`]: the change, its outbox rows and the stored answer
//! commit together, and a retry with the same client request id gets the first answer.

use idcard_db::idempotency::{self, Recorded};
use idcard_db::{Db, DbError, Tx};
use prost::Message;
use tonic::Status;

use crate::status::{FieldError, from_db, invalid_argument};

/// Checks a client request id: 1 to 128 printable ASCII characters (a UUID is usual).
pub fn check_request_id(request_id: &str) -> Result<(), FieldError> {
    if request_id.is_empty() {
        return Err(FieldError::new(
            "request_id",
            "required: a client-chosen id, such as a UUID, that makes retries safe",
        ));
    }
    if request_id.len() > 128 || !request_id.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(FieldError::new(
            "request_id",
            "must be 1 to 128 printable ASCII characters",
        ));
    }
    Ok(())
}

/// Runs `change` in one transaction unless `request_id` already has an answer for this
/// method and request. A refusal (an `Err`) is not stored, so a corrected retry with the
/// same id may succeed. Returns the answer and whether it was new.
pub async fn run<Req, Resp>(
    db: &Db,
    method: &str,
    request_id: &str,
    request: &Req,
    change: impl AsyncFnOnce(&mut Tx) -> Result<Resp, Status>,
) -> Result<(Resp, bool), Status>
where
    Req: Message,
    Resp: Message + Default,
{
    check_request_id(request_id).map_err(|e| invalid_argument(&[e]))?;
    let encoded = request.encode_to_vec();
    let mut tx = db.begin().await.map_err(from_db)?;
    if let Recorded::Answered(answer) = idempotency::lookup(&mut tx, method, request_id, &encoded)
        .await
        .map_err(from_db)?
    {
        return Ok((decode(&answer)?, false));
    }
    let response = change(&mut tx).await?;
    let stored = idempotency::store(&mut tx, method, request_id, &encoded, &response.encode_to_vec()).await;
    match stored.and(Ok(())) {
        Ok(()) => {}
        Err(DbError::UniqueViolation { .. }) => return replay(db, method, request_id, &encoded).await,
        Err(err) => return Err(from_db(err)),
    }
    match tx.commit().await {
        Ok(()) => Ok((response, true)),
        // A concurrent call with the same id won the race: answer as it did.
        Err(DbError::UniqueViolation { .. }) => replay(db, method, request_id, &encoded).await,
        Err(err) => Err(from_db(err)),
    }
}

async fn replay<Resp: Message + Default>(
    db: &Db,
    method: &str,
    request_id: &str,
    encoded: &[u8],
) -> Result<(Resp, bool), Status> {
    let mut tx = db.begin().await.map_err(from_db)?;
    match idempotency::lookup(&mut tx, method, request_id, encoded)
        .await
        .map_err(from_db)?
    {
        Recorded::Answered(answer) => Ok((decode(&answer)?, false)),
        Recorded::New => Err(Status::aborted(
            "a concurrent request with the same request_id failed; retry",
        )),
    }
}

fn decode<Resp: Message + Default>(bytes: &[u8]) -> Result<Resp, Status> {
    Resp::decode(bytes).map_err(|err| {
        tracing::error!(error = %err, "stored answer does not decode");
        Status::internal("stored answer does not decode")
    })
}
