//! Mutating RPCs run through [`run`]: the change, its outbox rows and the stored answer
//! commit together, and a retry with the same client request id gets the first answer.

use idcard_crypto::{Keyring, Purpose};
use idcard_db::idempotency::{self, Recorded};
use idcard_db::{Db, DbError, Tx};
use prost::Message;
use sha2::{Digest, Sha256};
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
///
/// The stored answer may hold personal data, so it is sealed with the data key; the
/// request is remembered only as a keyed fingerprint (a plain hash of a request would let
/// anyone with the database test guesses of a citizen id against it).
pub async fn run<Req, Resp>(
    db: &Db,
    keys: &Keyring,
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
    let fingerprint = fingerprint(keys, method, &request.encode_to_vec());
    let mut tx = db.begin().await.map_err(from_db)?;
    if let Recorded::Answered(sealed) = idempotency::lookup(&mut tx, request_id, &fingerprint)
        .await
        .map_err(from_db)?
    {
        return Ok((open(keys, request_id, &sealed)?, false));
    }
    let response = change(&mut tx).await?;
    let sealed = keys
        .seal(Purpose::Data, &response.encode_to_vec(), &aad(request_id))
        .map_err(|err| internal("sealing the answer", err))?;
    match idempotency::store(&mut tx, method, request_id, &fingerprint, &sealed).await {
        Ok(()) => {}
        Err(DbError::UniqueViolation { .. }) => return replay(db, keys, request_id, &fingerprint).await,
        Err(err) => return Err(from_db(err)),
    }
    match tx.commit().await {
        Ok(()) => Ok((response, true)),
        // A concurrent call with the same id won the race: answer as it did.
        Err(DbError::UniqueViolation { .. }) => replay(db, keys, request_id, &fingerprint).await,
        Err(err) => Err(from_db(err)),
    }
}

async fn replay<Resp: Message + Default>(
    db: &Db,
    keys: &Keyring,
    request_id: &str,
    fingerprint: &[u8],
) -> Result<(Resp, bool), Status> {
    let mut tx = db.begin_read().await.map_err(from_db)?;
    match idempotency::lookup(&mut tx, request_id, fingerprint)
        .await
        .map_err(from_db)?
    {
        Recorded::Answered(sealed) => Ok((open(keys, request_id, &sealed)?, false)),
        Recorded::New => Err(Status::aborted(
            "a concurrent request with the same request_id failed; retry",
        )),
    }
}

/// A keyed fingerprint of the method and the encoded request.
fn fingerprint(keys: &Keyring, method: &str, request: &[u8]) -> Vec<u8> {
    let mut hash = Sha256::new();
    hash.update(method.as_bytes());
    hash.update([0]);
    hash.update(request);
    let digest: String = hash.finalize().iter().map(|b| format!("{b:02x}")).collect();
    keys.blind_index(&digest)
}

fn aad(request_id: &str) -> Vec<u8> {
    format!("client_requests.response:{request_id}").into_bytes()
}

fn open<Resp: Message + Default>(keys: &Keyring, request_id: &str, sealed: &[u8]) -> Result<Resp, Status> {
    let bytes = keys
        .open(Purpose::Data, sealed, &aad(request_id))
        .map_err(|err| internal("opening the stored answer", err))?;
    decode(&bytes)
}

fn internal(what: &str, err: impl std::fmt::Display) -> Status {
    tracing::error!(error = %err, "{what}");
    Status::internal(format!("internal error {what}"))
}

fn decode<Resp: Message + Default>(bytes: &[u8]) -> Result<Resp, Status> {
    Resp::decode(bytes).map_err(|err| {
        tracing::error!(error = %err, "stored answer does not decode");
        Status::internal("stored answer does not decode")
    })
}
