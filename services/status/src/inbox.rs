//! `idcard.v1.StatusInboxService`: card status published by review services.

use idcard_audit::Entry;
use idcard_auth::PeerService;
use idcard_crypto::KeySource;
use idcard_db::{Db, DbError};
use idcard_outbox::accept_inbound;
use idcard_proto::v1::status_inbox_service_server::StatusInboxService;
use idcard_proto::v1::{PublishCardStatusRequest, PublishCardStatusResponse};
use idcard_server::Peers;
use idcard_server::status::{FieldError, from_db, invalid_argument};
use idcard_server::wire::{date_from_wire, parse_uuid, required_text, today_cst};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::card::{CardStatus, PrintedCard};
use crate::store::{self, CardRecord, Published};
use crate::wire::{field, printed_card};

/// The inbox kind of a published card status.
const PUBLISH_CARD_STATUS: &str = "status.publish_card_status";

/// The audit role of a peer service's act.
const SERVICE_ROLE: &str = "service";

const MAX_ISSUER_CHARS: usize = 128;

pub struct StatusInbox {
    db: Db,
    keys: KeySource,
    peers: Peers,
}

impl StatusInbox {
    pub fn new(db: Db, keys: KeySource, peers: Peers) -> Self {
        StatusInbox { db, keys, peers }
    }
}

/// A published status that passed validation.
struct Publication {
    message_id: Uuid,
    card_id: Uuid,
    printed: PrintedCard,
    validity_end: Option<time::Date>,
    status: CardStatus,
    version: i64,
    issuer: String,
}

/// Checks every field of `request`, naming each one at fault.
fn validate(request: &PublishCardStatusRequest, today: time::Date) -> Result<Publication, Vec<FieldError>> {
    let mut errors = Vec::new();
    let message_id = field(&mut errors, parse_uuid("message_id", &request.message_id));
    let card_id = field(&mut errors, parse_uuid("card_id", &request.card_id));
    let printed = printed_card(
        &mut errors,
        &request.citizen_id,
        &request.name,
        request.validity_start.as_ref(),
        today,
    );
    let validity_end = match &request.validity_end {
        None => Some(None),
        Some(end) => field(&mut errors, date_from_wire("validity_end", Some(end)).map(Some)),
    };
    if let (Some(printed), Some(Some(end))) = (&printed, validity_end)
        && end <= printed.validity_start()
    {
        errors.push(FieldError::new("validity_end", "must be after validity_start"));
    }
    let status = field(
        &mut errors,
        CardStatus::from_wire(request.status)
            .ok_or_else(|| FieldError::new("status", format!("unknown card status {}", request.status))),
    );
    if request.version <= 0 {
        errors.push(FieldError::new("version", "must be positive: the change time in ms"));
    }
    let issuer = field(&mut errors, required_text("issuer", &request.issuer, MAX_ISSUER_CHARS));
    match (message_id, card_id, printed, validity_end, status, issuer) {
        (Some(message_id), Some(card_id), Some(printed), Some(validity_end), Some(status), Some(issuer))
            if errors.is_empty() =>
        {
            Ok(Publication {
                message_id,
                card_id,
                printed,
                validity_end,
                status,
                version: request.version,
                issuer,
            })
        }
        _ => Err(errors),
    }
}

/// A unique violation here is another card with the same printed data published at the
/// same moment: worth a retry (the relay retries ABORTED), unlike a duplicate.
fn publish_error(err: DbError) -> Status {
    match err {
        DbError::UniqueViolation { .. } => {
            Status::aborted("another card with the same printed data was published at the same time; retry")
        }
        other => from_db(other),
    }
}

#[tonic::async_trait]
impl StatusInboxService for StatusInbox {
    /// Stores the card's status unless the index holds the same or a newer version,
    /// audited as the sending service's act. A repeated message, or an older version, is
    /// acknowledged and changes nothing.
    #[tracing::instrument(skip_all, fields(card_id = %request.get_ref().card_id, version = request.get_ref().version))]
    async fn publish_card_status(
        &self,
        request: Request<PublishCardStatusRequest>,
    ) -> Result<Response<PublishCardStatusResponse>, Status> {
        // The access layer admitted the peer by its certificate and named it.
        let sender = request
            .extensions()
            .get::<PeerService>()
            .map_or_else(|| "unknown".to_string(), |peer| peer.name().to_string());
        let request = request.into_inner();
        let publication = validate(&request, today_cst()).map_err(|errors| invalid_argument(&errors))?;
        if !self.peers.contains(&publication.issuer) {
            // Verification works regardless; only found-card notices need the peer.
            tracing::warn!(issuer = %publication.issuer,
                "card issuer is not a configured peer (IDCARD_PEERS): its found-card notices will dead-letter");
        }
        let keys = self.keys.current();

        let mut tx = self.db.begin().await.map_err(from_db)?;
        if !accept_inbound(&mut tx, publication.message_id, PUBLISH_CARD_STATUS)
            .await
            .map_err(from_db)?
        {
            tracing::info!(message_id = %publication.message_id, "repeated card status acknowledged");
            return Ok(Response::new(PublishCardStatusResponse {}));
        }
        let record = CardRecord {
            card_id: publication.card_id,
            printed: &publication.printed,
            status: publication.status,
            validity_end: publication.validity_end,
            issuer: &publication.issuer,
            version: publication.version,
        };
        let published = store::publish(&mut tx, &keys, &record).await.map_err(publish_error)?;
        let target = format!("card:{}", publication.card_id);
        let detail = match published {
            Published::Stored => Some(format!(
                "{}, version {}, issuer {}",
                publication.status.as_str(),
                publication.version,
                publication.issuer
            )),
            Published::Superseded { by } => Some(format!(
                "{}, version {}, issuer {}: not kept, card {by} has the same printed data and supersedes it",
                publication.status.as_str(),
                publication.version,
                publication.issuer
            )),
            Published::Stale => None,
        };
        if let Some(detail) = &detail {
            let entry = Entry {
                actor: &sender,
                role: SERVICE_ROLE,
                action: "card_status.publish",
                target: &target,
                detail,
            };
            idcard_audit::record(&mut tx, &entry).await.map_err(from_db)?;
        }
        // Commits the inbox record even for an older version, so that a redelivery of
        // this message is known as such.
        tx.commit().await.map_err(publish_error)?;
        tracing::info!(card_id = %publication.card_id, citizen_id = %publication.printed.citizen_id().masked(),
            status = publication.status.as_str(), version = publication.version, outcome = ?published,
            "card status published");
        Ok(Response::new(PublishCardStatusResponse {}))
    }
}
