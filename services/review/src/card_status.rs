//! Card status, of which this bureau is the system of record: every change of a card's
//! status goes through [`change`], which records it with a new version and publishes it
//! to the status service (the national endpoint organisations verify cards at) through
//! the outbox, in the transaction of the change. Imported and newly issued cards are
//! published with [`publish`].
//!
//! Versions increase with every change of a card (the change time in milliseconds, or
//! one more than the last version), so the status service can ignore a stale update.

use idcard_audit::Entry;
use idcard_crypto::{Keyring, Purpose};
use idcard_db::Tx;
use idcard_outbox::NewMessage;
use idcard_proto::v1::PublishCardStatusRequest;
use idcard_server::status;
use idcard_server::wire::{date_to_wire, ms_to_timestamp};
use prost::Message as _;
use tonic::Status;
use uuid::Uuid;

use crate::register::{Card, CardStatus};
use crate::{audit, store};

/// A card status to the status service.
pub const PUBLISH_CARD_STATUS: &str = "status.publish_card_status";

/// Where card status goes, and as whom.
#[derive(Debug, Clone)]
pub struct Publisher {
    /// The status service's peer name (`IDCARD_STATUS_PEER`).
    pub peer: String,
    /// This instance's name, the `issuer` the status service sends found-card notices to.
    pub issuer: String,
}

/// What a change needs beyond the transaction: the keys, where status goes, who makes
/// the change (for the audit log and histories) and when.
pub struct Context<'a> {
    pub keys: &'a Keyring,
    pub publisher: &'a Publisher,
    /// The token subject, or the peer service for inbox-driven changes.
    pub actor: &'a str,
    pub role: &'a str,
    pub at_ms: i64,
}

/// Sets `card` (as it was) to `to` and publishes it; the holder's name goes with the
/// published status (verifiers match on it). Returns `false` when the card already had
/// that status (nothing is written then).
pub async fn change(tx: &mut Tx, cx: &Context<'_>, card: &Card, name: &str, to: CardStatus) -> Result<bool, Status> {
    if card.status == to {
        return Ok(false);
    }
    let Some(version) = store::set_card_status(tx, card.card_id, to, cx.at_ms)
        .await
        .map_err(status::from_db)?
    else {
        tracing::error!(card_id = %card.card_id, "card to change is not stored");
        return Err(Status::internal("card not found"));
    };
    let changed = Card {
        status: to,
        ..card.clone()
    };
    publish(tx, cx, &changed, name, version).await?;
    audit::record(
        tx,
        Entry {
            actor: cx.actor,
            role: cx.role,
            action: audit::CARD_STATUS,
            target: &audit::card(card.card_id),
            detail: &format!("from:{} to:{} version:{version}", card.status.as_str(), to.as_str()),
        },
    )
    .await?;
    tracing::info!(card_id = %card.card_id, from = card.status.as_str(), to = to.as_str(), version, "card status changed");
    Ok(true)
}

/// Enqueues the status of `card` (as it is now) at `version` for the status service.
/// The payload carries the citizen id and name, so it is sealed in the outbox.
pub async fn publish(tx: &mut Tx, cx: &Context<'_>, card: &Card, name: &str, version: i64) -> Result<(), Status> {
    let request = PublishCardStatusRequest {
        message_id: String::new(),
        card_id: card.card_id.to_string(),
        citizen_id: card.citizen_id.clone(),
        name: name.to_string(),
        validity_start: Some(date_to_wire(card.validity_start)),
        validity_end: card.validity_end.map(date_to_wire),
        status: card.status.to_wire().into(),
        version,
        issuer: cx.publisher.issuer.clone(),
        changed_at: Some(ms_to_timestamp(cx.at_ms)),
    };
    let ordering_key = card.card_id.to_string();
    idcard_outbox::enqueue(
        tx,
        cx.keys,
        NewMessage {
            destination: &cx.publisher.peer,
            kind: PUBLISH_CARD_STATUS,
            ordering_key: &ordering_key,
            payload: request.encode_to_vec(),
            sealed_for: Purpose::Data,
        },
    )
    .await
    .map_err(status::from_db)?;
    Ok(())
}

/// A renewed card was collected: the resident's other active cards (the one surrendered)
/// are invalid from now on. Returns how many were invalidated.
pub async fn retire_renewed(
    tx: &mut Tx,
    cx: &Context<'_>,
    citizen_id: &str,
    name: &str,
    new_card: Uuid,
) -> Result<usize, Status> {
    let cards = store::cards_of(tx, cx.keys, citizen_id)
        .await
        .map_err(status::from_db)?;
    let mut invalidated = 0;
    for card in cards
        .iter()
        .filter(|card| card.card_id != new_card && card.status == CardStatus::Active)
    {
        if change(tx, cx, card, name, CardStatus::Invalidated).await? {
            invalidated += 1;
        }
    }
    Ok(invalidated)
}
