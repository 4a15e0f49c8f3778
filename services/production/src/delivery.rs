//! The relay's [`Deliverer`]: turns an outbox row into a call to the peer it names.

use idcard_outbox::{Deliverer, DeliveryError, Message};
use idcard_proto::v1::ReceiveProductionUpdateRequest;
use idcard_proto::v1::acceptance_inbox_service_client::AcceptanceInboxServiceClient;
use idcard_server::Peers;
use idcard_server::status::delivery_error;
use prost::Message as _;

use crate::report::RECEIVE_PRODUCTION_UPDATE;

pub struct ProductionDeliverer {
    peers: Peers,
}

impl ProductionDeliverer {
    pub fn new(peers: Peers) -> Self {
        ProductionDeliverer { peers }
    }
}

impl Deliverer for ProductionDeliverer {
    async fn deliver(&self, message: &Message) -> Result<(), DeliveryError> {
        match message.kind.as_str() {
            RECEIVE_PRODUCTION_UPDATE => {
                let mut request = ReceiveProductionUpdateRequest::decode(message.payload.as_slice())
                    .map_err(|err| DeliveryError::Permanent(format!("payload does not decode: {err}")))?;
                // The receiver's inbox dedupes on the outbox message id.
                request.message_id = message.message_id.to_string();
                let channel = self
                    .peers
                    .channel(&message.destination)
                    .map_err(|err| DeliveryError::Permanent(err.to_string()))?;
                AcceptanceInboxServiceClient::new(channel)
                    .receive_production_update(request)
                    .await
                    .map_err(|status| delivery_error(&status))?;
                Ok(())
            }
            other => Err(DeliveryError::Permanent(format!("unknown message kind {other:?}"))),
        }
    }
}
