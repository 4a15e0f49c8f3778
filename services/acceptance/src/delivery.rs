//! The relay's side of the acceptance service: sends applications to review services
//! and marks them under review once delivered.

use idcard_db::{DbError, Tx, now_ms};
use idcard_domain::{ApplicationEvent, transition};
use idcard_outbox::{Deliverer, DeliveryError, Message};
use idcard_proto::v1 as pb;
use idcard_proto::v1::review_inbox_service_client::ReviewInboxServiceClient;
use idcard_server::Peers;
use idcard_server::status::delivery_error;
use prost::Message as _;

use crate::api::KIND_RECEIVE_APPLICATION;
use crate::audit::{self, Actor};
use crate::store;

/// The actor of the steps the relay records.
const RELAY: &str = "acceptance relay";

pub struct AcceptanceDeliverer {
    pub peers: Peers,
}

impl Deliverer for AcceptanceDeliverer {
    async fn deliver(&self, message: &Message) -> Result<(), DeliveryError> {
        let channel = self
            .peers
            .channel(&message.destination)
            .map_err(|err| DeliveryError::Permanent(err.to_string()))?;
        match message.kind.as_str() {
            KIND_RECEIVE_APPLICATION => {
                let mut request = pb::ReceiveApplicationRequest::decode(message.payload.as_slice())
                    .map_err(|err| DeliveryError::Permanent(format!("payload does not decode: {err}")))?;
                request.message_id = message.message_id.to_string();
                ReviewInboxServiceClient::new(channel)
                    .receive_application(request)
                    .await
                    .map_err(|s| delivery_error(&s))?;
                Ok(())
            }
            other => Err(DeliveryError::Permanent(format!("unknown message kind {other:?}"))),
        }
    }

    async fn on_delivered(&self, tx: &mut Tx, message: &Message) -> Result<(), DbError> {
        if message.kind != KIND_RECEIVE_APPLICATION {
            return Ok(());
        }
        let Ok(application_id) = message.ordering_key.parse() else {
            return Ok(());
        };
        let Some(row) = store::find(tx, application_id).await? else {
            return Ok(());
        };
        // Already past (a decision crossed the acknowledgement): nothing to record.
        if let Ok(next) = transition(row.state()?, ApplicationEvent::DeliveredToReview) {
            let note = format!("delivered to the domicile bureau ({})", message.destination);
            store::record_step(tx, application_id, next, now_ms(), RELAY, &note).await?;
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
}
