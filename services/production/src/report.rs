//! Progress reports to the acceptance service that took the application, written to the
//! outbox in the transaction of the step they report.

use idcard_crypto::{Keyring, Purpose};
use idcard_db::{DbError, Tx};
use idcard_outbox::NewMessage;
use idcard_proto::v1::{ProductionStep, ReceiveProductionUpdateRequest};
use idcard_server::wire::ms_to_timestamp;
use prost::Message;

use crate::job::Job;

/// The outbox kind of a [`ReceiveProductionUpdateRequest`] to an acceptance service.
pub const RECEIVE_PRODUCTION_UPDATE: &str = "acceptance.receive_production_update";

/// A step to report.
pub struct Update<'a> {
    pub step: ProductionStep,
    pub at_ms: i64,
    pub detail: String,
    pub operator: &'a str,
}

/// Queues `update` of `job` for its origin, in order with the job's other updates. The
/// relay fills in the message id when it delivers.
pub async fn enqueue(tx: &mut Tx, keys: &Keyring, job: &Job, update: Update<'_>) -> Result<(), DbError> {
    enqueue_for(tx, keys, &job.origin, job.application_id, update).await
}

/// As [`enqueue`], for a job named by its origin and application id.
pub async fn enqueue_for(
    tx: &mut Tx,
    keys: &Keyring,
    origin: &str,
    application_id: uuid::Uuid,
    update: Update<'_>,
) -> Result<(), DbError> {
    let application_id = application_id.to_string();
    let request = ReceiveProductionUpdateRequest {
        message_id: String::new(),
        application_id: application_id.clone(),
        step: update.step.into(),
        at: Some(ms_to_timestamp(update.at_ms)),
        detail: update.detail,
        operator: update.operator.to_string(),
    };
    idcard_outbox::enqueue(
        tx,
        keys,
        NewMessage {
            destination: origin,
            kind: RECEIVE_PRODUCTION_UPDATE,
            ordering_key: &application_id,
            payload: request.encode_to_vec(),
            // A report carries ids, a step and an operator's account, no personal data.
            sealed_for: Purpose::Data,
        },
    )
    .await?;
    Ok(())
}
