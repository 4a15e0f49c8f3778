//! Found-card notices to the review service that issued the card, written to the outbox
//! in the transaction that registers the found card.

use idcard_crypto::{Keyring, Purpose};
use idcard_db::{DbError, Tx};
use idcard_outbox::NewMessage;
use idcard_proto::v1::ReceiveFoundCardNoticeRequest;
use idcard_server::wire::ms_to_timestamp;
use prost::Message;

use crate::store::KnownCard;

/// The outbox kind of a [`ReceiveFoundCardNoticeRequest`] to a review service.
pub const RECEIVE_FOUND_CARD_NOTICE: &str = "review.receive_found_card_notice";

/// Where a found card is, as the notice tells the issuer.
pub struct Found<'a> {
    pub found_at: &'a str,
    pub collect_at: &'a str,
    pub registered_at_ms: i64,
}

/// Queues a notice that `card` was found, for its issuer, in order with the card's other
/// notices. The relay fills in the message id when it delivers.
pub async fn enqueue(tx: &mut Tx, keys: &Keyring, card: &KnownCard, found: &Found<'_>) -> Result<(), DbError> {
    let card_id = card.card_id.to_string();
    let request = ReceiveFoundCardNoticeRequest {
        message_id: String::new(),
        card_id: card_id.clone(),
        found_at: found.found_at.to_string(),
        collect_at: found.collect_at.to_string(),
        registered_at: Some(ms_to_timestamp(found.registered_at_ms)),
    };
    idcard_outbox::enqueue(
        tx,
        keys,
        NewMessage {
            destination: &card.issuer,
            kind: RECEIVE_FOUND_CARD_NOTICE,
            ordering_key: &card_id,
            payload: request.encode_to_vec(),
            // Free text a clerk typed: sealed like personal data.
            sealed_for: Purpose::Data,
        },
    )
    .await?;
    Ok(())
}
