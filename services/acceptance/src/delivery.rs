//! The relay's side of the acceptance service: sends applications, loss reports, their
//! revocations and collection notices to review services, hands notifications to the
//! notifier, and records the hand-over of applications and reports once delivered.

use idcard_db::{DbError, Tx, now_ms};
use idcard_domain::{ApplicationEvent, transition};
use idcard_notify::{Notification, Notifier};
use idcard_outbox::{Deliverer, DeliveryError, Message};
use idcard_proto::v1 as pb;
use idcard_proto::v1::review_inbox_service_client::ReviewInboxServiceClient;
use idcard_server::Peers;
use idcard_server::status::delivery_error;

use crate::api::{KIND_RECEIVE_APPLICATION, KIND_RECEIVE_COLLECTION_NOTICE};
use crate::audit::{self, Actor};
use crate::loss_report::{KIND_RECEIVE_LOSS_REPORT, KIND_RECEIVE_LOSS_REPORT_REVOCATION};
use crate::store;

/// The actor of the steps the relay records.
const RELAY: &str = "acceptance relay";

pub struct AcceptanceDeliverer {
    pub peers: Peers,
    /// Where `notify.message` rows go instead of a gRPC peer.
    pub notifier: Notifier,
}

impl Deliverer for AcceptanceDeliverer {
    async fn deliver(&self, message: &Message) -> Result<(), DeliveryError> {
        if message.kind == idcard_notify::KIND {
            let notification = Notification::from_payload(&message.payload)
                .map_err(|err| DeliveryError::Permanent(format!("notification does not decode: {err}")))?;
            return self.notifier.send(message.message_id, &notification).await;
        }
        let channel = self
            .peers
            .channel(&message.destination)
            .map_err(|err| DeliveryError::Permanent(err.to_string()))?;
        let message_id = message.message_id.to_string();
        let payload = message.payload.as_slice();
        let mut review = ReviewInboxServiceClient::new(channel);
        let sent = match message.kind.as_str() {
            KIND_RECEIVE_APPLICATION => {
                let mut request = decode::<pb::ReceiveApplicationRequest>(payload)?;
                request.message_id = message_id;
                review.receive_application(request).await.map(drop)
            }
            KIND_RECEIVE_LOSS_REPORT => {
                let mut request = decode::<pb::ReceiveLossReportRequest>(payload)?;
                request.message_id = message_id;
                review.receive_loss_report(request).await.map(drop)
            }
            KIND_RECEIVE_LOSS_REPORT_REVOCATION => {
                let mut request = decode::<pb::ReceiveLossReportRevocationRequest>(payload)?;
                request.message_id = message_id;
                review.receive_loss_report_revocation(request).await.map(drop)
            }
            KIND_RECEIVE_COLLECTION_NOTICE => {
                let mut request = decode::<pb::ReceiveCollectionNoticeRequest>(payload)?;
                request.message_id = message_id;
                review.receive_collection_notice(request).await.map(drop)
            }
            other => return Err(DeliveryError::Permanent(format!("unknown message kind {other:?}"))),
        };
        sent.map_err(|status| delivery_error(&status))
    }

    async fn on_delivered(&self, tx: &mut Tx, message: &Message) -> Result<(), DbError> {
        match message.kind.as_str() {
            KIND_RECEIVE_APPLICATION => application_delivered(tx, message).await,
            KIND_RECEIVE_LOSS_REPORT => report_delivered(tx, message).await,
            _ => Ok(()),
        }
    }
}

fn decode<M: prost::Message + Default>(payload: &[u8]) -> Result<M, DeliveryError> {
    M::decode(payload).map_err(|err| DeliveryError::Permanent(format!("payload does not decode: {err}")))
}

/// The application is under review once the domicile bureau has it.
async fn application_delivered(tx: &mut Tx, message: &Message) -> Result<(), DbError> {
    let Ok(application_id) = message.ordering_key.parse() else {
        return Ok(());
    };
    let Some(row) = store::find(tx, application_id).await? else {
        return Ok(());
    };
    // Already past (a decision crossed the acknowledgement): nothing to record. The step
    // is conditional on the state read here: a decision committed meanwhile wins.
    let from = row.state()?;
    if let Ok(next) = transition(from, ApplicationEvent::DeliveredToReview) {
        let note = format!("delivered to the domicile bureau ({})", message.destination);
        if !store::advance(tx, application_id, from, next, now_ms(), RELAY, &note).await? {
            return Ok(());
        }
        audit::record(
            tx,
            &Actor::service(RELAY),
            audit::DELIVERED_TO_REVIEW,
            application_id,
            &message.destination,
        )
        .await?;
    }
    Ok(())
}

/// The report's history shows when the domicile bureau got it; its state changes only
/// with the bureau's outcome.
async fn report_delivered(tx: &mut Tx, message: &Message) -> Result<(), DbError> {
    // Only a history line: writing the state read here back could undo an outcome that
    // committed in the meantime.
    let number = message.ordering_key.as_str();
    let note = format!("delivered to the domicile bureau ({})", message.destination);
    store::loss_reports::record_note(tx, number, now_ms(), RELAY, &note).await
}
