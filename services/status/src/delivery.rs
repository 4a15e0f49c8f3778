//! The relay's [`Deliverer`]: turns an outbox row into a call to the peer it names.

use idcard_outbox::{Deliverer, DeliveryError, Message};
use idcard_proto::v1::ReceiveFoundCardNoticeRequest;
use idcard_proto::v1::review_inbox_service_client::ReviewInboxServiceClient;
use idcard_server::Peers;
use idcard_server::status::delivery_error;
use prost::Message as _;

use crate::notice::RECEIVE_FOUND_CARD_NOTICE;

pub struct StatusDeliverer {
    peers: Peers,
}

impl StatusDeliverer {
    pub fn new(peers: Peers) -> Self {
        StatusDeliverer { peers }
    }
}

impl Deliverer for StatusDeliverer {
    async fn deliver(&self, message: &Message) -> Result<(), DeliveryError> {
        match message.kind.as_str() {
            RECEIVE_FOUND_CARD_NOTICE => {
                let mut request = ReceiveFoundCardNoticeRequest::decode(message.payload.as_slice())
                    .map_err(|err| DeliveryError::Permanent(format!("payload does not decode: {err}")))?;
                // The receiver's inbox dedupes on the outbox message id.
                request.message_id = message.message_id.to_string();
                let channel = self
                    .peers
                    .channel(&message.destination)
                    .map_err(|err| DeliveryError::Permanent(err.to_string()))?;
                ReviewInboxServiceClient::new(channel)
                    .receive_found_card_notice(request)
                    .await
                    .map_err(|status| delivery_error(&status))?;
                Ok(())
            }
            other => Err(DeliveryError::Permanent(format!("unknown message kind {other:?}"))),
        }
    }
}
