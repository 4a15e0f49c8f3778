//! The outbox deliverer: decisions and loss report outcomes to the acceptance service a
//! case or report came from, production orders to the production centre a case names,
//! card status to the status service, and citizens' notifications to the service's
//! [`Notifier`] (destination `notifier`, not a gRPC peer).
//!
//! A production order is enqueued only when the approval has reached the acceptance
//! side ([`ReviewDeliverer::on_delivered`], in the transaction that marks the approval
//! delivered), so the acceptance point hears "approved" before any production step.

use idcard_audit::Entry;
use idcard_crypto::{KeySource, Keyring, Purpose};
use idcard_db::{DbError, Tx, now_ms};
use idcard_notify::{Notification, Notifier};
use idcard_outbox::{Deliverer, DeliveryError, Message, NewMessage};
use idcard_proto::v1::acceptance_inbox_service_client::AcceptanceInboxServiceClient;
use idcard_proto::v1::production_inbox_service_client::ProductionInboxServiceClient;
use idcard_proto::v1::receive_decision_request::Decision;
use idcard_proto::v1::status_inbox_service_client::StatusInboxServiceClient;
use idcard_proto::v1::{
    PublishCardStatusRequest, ReceiveDecisionRequest, ReceiveLossReportOutcomeRequest, ReceiveProductionOrderRequest,
};
use idcard_server::status::delivery_error;
use idcard_server::wire::ms_to_timestamp;
use idcard_server::{PeerChannel, Peers};
use prost::Message as _;
use uuid::Uuid;

use crate::card_status::PUBLISH_CARD_STATUS;
use crate::case::CaseState;
use crate::loss_report::RECEIVE_LOSS_REPORT_OUTCOME;
use crate::{audit, store};

/// A decision to the acceptance service the case came from.
pub const RECEIVE_DECISION: &str = "acceptance.receive_decision";
/// A production order to the production centre the case names.
pub const RECEIVE_PRODUCTION_ORDER: &str = "production.receive_production_order";

/// The actor of the production order in the audit log: this service's relay, once the
/// acceptance side has the approval.
const ORDERING_ACTOR: &str = "review";

/// Turns the review service's outbox rows into calls to its peers and notifications.
pub struct ReviewDeliverer {
    peers: Peers,
    keys: KeySource,
    notifier: Notifier,
}

impl ReviewDeliverer {
    pub fn new(peers: Peers, keys: KeySource, notifier: Notifier) -> Self {
        ReviewDeliverer { peers, keys, notifier }
    }

    fn channel(&self, message: &Message) -> Result<PeerChannel, DeliveryError> {
        self.peers
            .channel(&message.destination)
            .map_err(|err| DeliveryError::Permanent(err.to_string()))
    }
}

impl Deliverer for ReviewDeliverer {
    async fn deliver(&self, message: &Message) -> Result<(), DeliveryError> {
        if message.kind == idcard_notify::KIND {
            let notification = Notification::from_payload(&message.payload)
                .map_err(|err| DeliveryError::Permanent(err.to_string()))?;
            return self.notifier.send(message.message_id, &notification).await;
        }
        let channel = self.channel(message)?;
        // Payloads are stored without a message id: the outbox assigns it on enqueue.
        let message_id = message.message_id.to_string();
        match message.kind.as_str() {
            RECEIVE_LOSS_REPORT_OUTCOME => {
                let mut request =
                    ReceiveLossReportOutcomeRequest::decode(message.payload.as_slice()).map_err(undecodable)?;
                request.message_id = message_id;
                AcceptanceInboxServiceClient::new(channel)
                    .receive_loss_report_outcome(request)
                    .await
                    .map_err(|s| delivery_error(&s))?;
            }
            PUBLISH_CARD_STATUS => {
                let mut request = PublishCardStatusRequest::decode(message.payload.as_slice()).map_err(undecodable)?;
                request.message_id = message_id;
                StatusInboxServiceClient::new(channel)
                    .publish_card_status(request)
                    .await
                    .map_err(|s| delivery_error(&s))?;
            }
            RECEIVE_DECISION => {
                let mut request = ReceiveDecisionRequest::decode(message.payload.as_slice()).map_err(undecodable)?;
                request.message_id = message_id;
                AcceptanceInboxServiceClient::new(channel)
                    .receive_decision(request)
                    .await
                    .map_err(|s| delivery_error(&s))?;
            }
            RECEIVE_PRODUCTION_ORDER => {
                let mut request =
                    ReceiveProductionOrderRequest::decode(message.payload.as_slice()).map_err(undecodable)?;
                request.message_id = message_id;
                ProductionInboxServiceClient::new(channel)
                    .receive_production_order(request)
                    .await
                    .map_err(|s| delivery_error(&s))?;
            }
            other => {
                return Err(DeliveryError::Permanent(format!("unknown message kind {other:?}")));
            }
        }
        Ok(())
    }

    async fn on_delivered(&self, tx: &mut Tx, message: &Message) -> Result<(), DbError> {
        if message.kind != RECEIVE_DECISION {
            return Ok(());
        }
        // `deliver` decoded this payload a moment ago.
        let Ok(decision) = ReceiveDecisionRequest::decode(message.payload.as_slice()) else {
            return Ok(());
        };
        if !matches!(decision.decision, Some(Decision::Approval(_))) {
            return Ok(());
        }
        let Ok(application_id) = Uuid::parse_str(&decision.application_id) else {
            tracing::error!(message_id = %message.message_id, "approval names no application id; no production order");
            return Ok(());
        };
        order_production(tx, &self.keys.current(), application_id).await
    }
}

/// Enqueues the production order of an approved case, once. The order carries the card
/// items and the photo (sealed in the outbox with the data key), not the fingerprints.
#[tracing::instrument(skip_all, fields(application_id = %application_id))]
async fn order_production(tx: &mut Tx, keys: &Keyring, application_id: Uuid) -> Result<(), DbError> {
    let Some(case) = store::find_case(tx, keys, application_id, |_| true).await? else {
        tracing::error!("approved case not found; no production order");
        return Ok(());
    };
    if case.state != CaseState::Approved {
        return Ok(());
    }
    let now = now_ms();
    if !store::mark_production_ordered(tx, application_id, now).await? {
        // A repeated delivery of the approval: the order is already on its way.
        return Ok(());
    }
    let request = case.request;
    let applicant = request.applicant.unwrap_or_default();
    let order = ReceiveProductionOrderRequest {
        message_id: String::new(),
        application_id: application_id.to_string(),
        receipt_number: request.receipt_number,
        acceptance_point_code: request.acceptance_point_code,
        origin: request.origin,
        card_items: applicant.card_items,
        photo: applicant.photo,
        issuance: case.issuance,
        ordered_at: Some(ms_to_timestamp(now)),
    };
    let ordering_key = application_id.to_string();
    idcard_outbox::enqueue(
        tx,
        keys,
        NewMessage {
            destination: &request.production_centre,
            kind: RECEIVE_PRODUCTION_ORDER,
            ordering_key: &ordering_key,
            payload: order.encode_to_vec(),
            sealed_for: Purpose::Data,
        },
    )
    .await?;
    idcard_audit::record(
        tx,
        &Entry {
            actor: ORDERING_ACTOR,
            role: audit::SERVICE_ROLE,
            action: audit::ORDER_PRODUCTION,
            target: &audit::application(application_id),
            detail: &format!("production_centre:{}", request.production_centre),
        },
    )
    .await?;
    tracing::info!(production_centre = %request.production_centre, "production order enqueued");
    Ok(())
}

fn undecodable(err: prost::DecodeError) -> DeliveryError {
    DeliveryError::Permanent(format!("payload does not decode: {err}"))
}
