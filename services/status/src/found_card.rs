//! `idcard.v1.FoundCardService`: the national found-card register.
//!
//! The access layer admits clerks to register and citizens to query. A clerk registers
//! only for a station (acceptance point) in their scope; a citizen asks only about their
//! own citizen id. When a registered card matches a card of the status index, the card's
//! issuing review service is told through the outbox (it tells the owner). Every
//! registration and every query is audited in its transaction.

use idcard_audit::Entry;
use idcard_auth::Caller;
use idcard_crypto::KeySource;
use idcard_db::{Db, Tx, now_ms};
use idcard_domain::CitizenId;
use idcard_outbox::RelayHandle;
use idcard_proto::v1::found_card_service_server::FoundCardService;
use idcard_proto::v1::{
    QueryFoundCardRequest, QueryFoundCardResponse, RegisterFoundCardRequest, RegisterFoundCardResponse,
};
use idcard_server::idempotent::{self, check_request_id};
use idcard_server::status::{FieldError, from_db, invalid_argument};
use idcard_server::wire::{ms_to_timestamp, required_text, today_cst};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::card::PrintedCard;
use crate::notice::{self, Found};
use crate::store::{self, NewFoundCard};
use crate::wire::{citizen_id, field, printed_card};

const REGISTER_FOUND_CARD: &str = "idcard.v1.FoundCardService/RegisterFoundCard";

const MAX_PLACE_CHARS: usize = 200;
const MAX_STATION_CODE_CHARS: usize = 64;

pub struct FoundCards {
    db: Db,
    keys: KeySource,
    relay: RelayHandle,
}

impl FoundCards {
    pub fn new(db: Db, keys: KeySource, relay: RelayHandle) -> Self {
        FoundCards { db, keys, relay }
    }
}

/// Records `action` on `target` in `tx`, under the caller (or as unauthenticated, in
/// insecure mode without a token).
async fn audit(tx: &mut Tx, caller: Option<&Caller>, action: &str, target: &str, detail: &str) -> Result<(), Status> {
    let (actor, role) = caller.map_or(("unauthenticated", "none"), |caller| {
        (caller.subject(), caller.role().as_str())
    });
    let entry = Entry {
        actor,
        role,
        action,
        target,
        detail,
    };
    idcard_audit::record(tx, &entry).await.map_err(from_db)?;
    Ok(())
}

fn found_card_target(found_card_id: Uuid) -> String {
    format!("found_card:{found_card_id}")
}

/// A registration that passed validation.
struct Registration {
    printed: PrintedCard,
    found_at: String,
    collect_at: String,
    station_code: String,
}

fn validate_registration(
    request: &RegisterFoundCardRequest,
    today: time::Date,
) -> Result<Registration, Vec<FieldError>> {
    let mut errors = Vec::new();
    let _ = field(&mut errors, check_request_id(&request.request_id));
    let printed = printed_card(
        &mut errors,
        &request.citizen_id,
        &request.name,
        request.validity_start.as_ref(),
        today,
    );
    let found_at = field(
        &mut errors,
        required_text("found_at", &request.found_at, MAX_PLACE_CHARS),
    );
    let collect_at = field(
        &mut errors,
        required_text("collect_at", &request.collect_at, MAX_PLACE_CHARS),
    );
    let station_code = field(
        &mut errors,
        required_text("station_code", &request.station_code, MAX_STATION_CODE_CHARS),
    );
    match (printed, found_at, collect_at, station_code) {
        (Some(printed), Some(found_at), Some(collect_at), Some(station_code)) if errors.is_empty() => {
            Ok(Registration {
                printed,
                found_at,
                collect_at,
                station_code,
            })
        }
        _ => Err(errors),
    }
}

/// Whether `caller` is the citizen `citizen_id` and nobody else: a citizen token whose
/// scope is exactly that one number.
fn is_exactly(caller: &Caller, citizen_id: &CitizenId) -> bool {
    caller.scope().len() == 1 && caller.is_citizen(citizen_id.as_str())
}

#[tonic::async_trait]
impl FoundCardService for FoundCards {
    /// Registers the card; when it matches a known card, the card's issuer is told. A
    /// retry with the same request id answers as the first call did.
    #[tracing::instrument(skip_all, fields(station_code = %request.get_ref().station_code))]
    async fn register_found_card(
        &self,
        request: Request<RegisterFoundCardRequest>,
    ) -> Result<Response<RegisterFoundCardResponse>, Status> {
        let caller = request.extensions().get::<Caller>().cloned();
        let request = request.into_inner();
        let input = validate_registration(&request, today_cst()).map_err(|errors| invalid_argument(&errors))?;
        if let Some(caller) = &caller
            && !caller.can_see_point(&input.station_code)
        {
            return Err(Status::permission_denied(format!(
                "the caller's scope does not include station {}",
                input.station_code
            )));
        }
        let keys = self.keys.current();
        let (response, new) = idempotent::run(
            &self.db,
            &keys,
            REGISTER_FOUND_CARD,
            &request.request_id,
            &request,
            async |tx| {
                let known = store::card_for(tx, &keys, &input.printed).await.map_err(from_db)?;
                let found_card_id = Uuid::now_v7();
                let registered_at_ms = now_ms();
                let card = NewFoundCard {
                    found_card_id,
                    citizen_id: input.printed.citizen_id(),
                    found_at: &input.found_at,
                    collect_at: &input.collect_at,
                    station_code: &input.station_code,
                    matched_card_id: known.as_ref().map(|known| known.card_id),
                    registered_at_ms,
                };
                store::insert_found_card(tx, &keys, &card).await.map_err(from_db)?;
                let detail = match &known {
                    Some(known) => {
                        let found = Found {
                            found_at: &input.found_at,
                            collect_at: &input.collect_at,
                            registered_at_ms,
                        };
                        notice::enqueue(tx, &keys, known, &found).await.map_err(from_db)?;
                        format!(
                            "station {}; matches card {} of {}, notice queued",
                            input.station_code, known.card_id, known.issuer
                        )
                    }
                    None => format!("station {}; matches no known card", input.station_code),
                };
                audit(
                    tx,
                    caller.as_ref(),
                    "found_card.register",
                    &found_card_target(found_card_id),
                    &detail,
                )
                .await?;
                tracing::info!(%found_card_id, citizen_id = %input.printed.citizen_id().masked(),
                    matched = known.is_some(), "found card registered");
                Ok(RegisterFoundCardResponse {
                    found_card_id: found_card_id.to_string(),
                    registered_at: Some(ms_to_timestamp(registered_at_ms)),
                })
            },
        )
        .await?;
        if new {
            self.relay.wake();
        }
        Ok(Response::new(response))
    }

    /// The newest found card of the caller's own citizen id. The read is audited,
    /// whether or not a card was found.
    #[tracing::instrument(skip_all)]
    async fn query_found_card(
        &self,
        request: Request<QueryFoundCardRequest>,
    ) -> Result<Response<QueryFoundCardResponse>, Status> {
        let caller = request.extensions().get::<Caller>().cloned();
        let id =
            citizen_id("citizen_id", &request.get_ref().citizen_id, today_cst()).map_err(|e| invalid_argument(&[e]))?;
        if let Some(caller) = &caller
            && !is_exactly(caller, &id)
        {
            return Err(Status::permission_denied(
                "a citizen may ask only about their own citizen id",
            ));
        }
        let keys = self.keys.current();
        let mut tx = self.db.begin_read().await.map_err(from_db)?;
        let found = store::newest_found_card(&mut tx, &keys, &id).await.map_err(from_db)?;
        tx.commit().await.map_err(from_db)?;

        let (target, detail) = match &found {
            Some(card) => (found_card_target(card.found_card_id), "found".to_string()),
            None => ("found_card:none".to_string(), "no found card".to_string()),
        };
        let mut tx = self.db.begin().await.map_err(from_db)?;
        audit(
            &mut tx,
            caller.as_ref(),
            "found_card.query",
            &target,
            &format!("citizen {}: {detail}", id.masked()),
        )
        .await?;
        tx.commit().await.map_err(from_db)?;
        Ok(Response::new(match found {
            Some(card) => QueryFoundCardResponse {
                found: true,
                found_at: card.found_at,
                collect_at: card.collect_at,
                registered_at: Some(ms_to_timestamp(card.registered_at_ms)),
            },
            None => QueryFoundCardResponse::default(),
        }))
    }
}
