//! Applications delivered by acceptance services' outbox relays. A second message for
//! an application already received is acknowledged and changes nothing.

use idcard_audit::Entry;
use idcard_db::now_ms;
use idcard_domain::{ApplicationKind, CitizenId, ReceiptNo, RegionCode, Stage, due_date};
use idcard_proto::v1::ReceiveApplicationRequest;
use idcard_server::status::{self, FieldError, Reason, invalid_argument};
use idcard_server::wire::{date_cst_of_ms, parse_uuid, required_text, timestamp_to_ms, today_cst};
use tonic::Status;
use uuid::Uuid;

use super::unknown_peer;

use crate::precheck::{self, Subject};
use crate::store::{self, NewCase};
use crate::wire::kind_from_wire;
use crate::{State, audit};

/// The inbox kind of an application from an acceptance service.
pub const RECEIVE_APPLICATION: &str = "review.receive_application";

/// A `ReceiveApplicationRequest` that passed its checks.
struct Received {
    message_id: Uuid,
    application_id: Uuid,
    receipt: ReceiptNo,
    kind: ApplicationKind,
    citizen_id: CitizenId,
    domicile: RegionCode,
    accepted_at_ms: i64,
}

/// Stores a received application as a pending case with its pre-check findings.
/// `peer` is the sender's certificate name (absent only in insecure mode: then the
/// sender's own word, `origin`, stands in).
#[tracing::instrument(skip_all, fields(application_id = %request.application_id))]
pub async fn receive(
    state: &State,
    peer: Option<String>,
    mut request: ReceiveApplicationRequest,
) -> Result<(), Status> {
    let received = check(&request).map_err(|errors| invalid_argument(&errors))?;
    check_peers(state, &request)?;
    normalise(&mut request, &received);

    let db = &state.db;
    let keys = state.keys.current();
    let mut tx = db.begin().await.map_err(status::from_db)?;
    if !idcard_outbox::accept_inbound(&mut tx, received.message_id, RECEIVE_APPLICATION)
        .await
        .map_err(status::from_db)?
    {
        tracing::info!(message_id = %received.message_id, "duplicate message acknowledged");
        return Ok(());
    }
    let register = precheck::load(&mut tx, &keys, received.citizen_id.as_str(), received.application_id)
        .await
        .map_err(status::from_db)?;
    let subject = Subject {
        kind: received.kind,
        application_date: date_cst_of_ms(received.accepted_at_ms),
        request: &request,
    };
    let finding_count = i32::try_from(precheck::findings(&subject, register.as_ref()).len()).unwrap_or(i32::MAX);
    let received_at_ms = now_ms();
    let domicile = received.domicile.as_string();
    let case = NewCase {
        application_id: received.application_id,
        kind: received.kind,
        citizen_id: received.citizen_id.as_str(),
        domicile_region_code: &domicile,
        request: &request,
        accepted_at_ms: received.accepted_at_ms,
        received_at_ms,
        review_due_date: due_date(Stage::Review, date_cst_of_ms(received_at_ms), false),
        finding_count,
    };
    let inserted = store::insert_case(&mut tx, &keys, &case)
        .await
        .map_err(status::from_db)?;
    if inserted {
        // The reviewer's decision resumes this trace, the application's.
        store::trace::keep_current(&mut tx, received.application_id)
            .await
            .map_err(status::from_db)?;
        audit::record(
            &mut tx,
            Entry {
                actor: peer.as_deref().unwrap_or(&request.origin),
                role: audit::SERVICE_ROLE,
                action: audit::RECEIVE,
                target: &audit::application(received.application_id),
                detail: &format!("kind:{} findings:{finding_count}", received.kind),
            },
        )
        .await?;
    }
    tx.commit().await.map_err(status::from_db)?;
    if inserted {
        tracing::info!(citizen_id = %received.citizen_id.masked(), kind = %received.kind, finding_count, "application received");
    } else {
        tracing::info!(message_id = %received.message_id, "application already received; message acknowledged");
    }
    Ok(())
}

/// Decisions go back to `origin` and production orders to `production_centre`: a name
/// this instance has no endpoint for would dead-letter them later, so the sender is
/// told now and retries (`FAILED_PRECONDITION`) until the peers are set.
fn check_peers(state: &State, request: &ReceiveApplicationRequest) -> Result<(), Status> {
    let reasons: Vec<Reason> = [
        ("origin", request.origin.trim()),
        ("production_centre", request.production_centre.trim()),
    ]
    .into_iter()
    .filter(|(_, name)| !state.peers.contains(name))
    .map(|(field, name)| unknown_peer(field, name))
    .collect();
    if reasons.is_empty() {
        Ok(())
    } else {
        Err(status::refused(&reasons))
    }
}

/// Every check on the message, all errors at once.
fn check(request: &ReceiveApplicationRequest) -> Result<Received, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut keep = |result: Result<(), FieldError>| {
        if let Err(err) = result {
            errors.push(err);
        }
    };
    let message_id = parse_uuid("message_id", &request.message_id)
        .map_err(|e| keep(Err(e)))
        .ok();
    let application_id = parse_uuid("application_id", &request.application_id)
        .map_err(|e| keep(Err(e)))
        .ok();
    let receipt = ReceiptNo::parse(request.receipt_number.trim())
        .map_err(|err| keep(Err(FieldError::new("receipt_number", err.to_string()))))
        .ok();
    let kind = kind_from_wire("kind", request.kind).map_err(|e| keep(Err(e))).ok();
    keep(required_text("acceptance_point_code", &request.acceptance_point_code, 64).map(|_| ()));
    keep(required_text("origin", &request.origin, 64).map(|_| ()));
    keep(required_text("production_centre", &request.production_centre, 64).map(|_| ()));
    let accepted_at_ms = match request.accepted_at.as_ref() {
        Some(at) => Some(timestamp_to_ms(at)),
        None => {
            keep(Err(FieldError::new("accepted_at", "required")));
            None
        }
    };
    let (citizen_id, domicile) = match request.applicant.as_ref() {
        None => {
            keep(Err(FieldError::new("applicant", "required")));
            (None, None)
        }
        Some(applicant) => {
            let domicile = RegionCode::parse_current(applicant.domicile_region_code.trim())
                .map_err(|err| keep(Err(FieldError::new("applicant.domicile_region_code", err.to_string()))))
                .ok();
            let citizen_id = match applicant.card_items.as_ref() {
                None => {
                    keep(Err(FieldError::new("applicant.card_items", "required")));
                    None
                }
                Some(items) => {
                    keep(required_text("applicant.card_items.name", &items.name, 64).map(|_| ()));
                    CitizenId::parse(items.citizen_id.trim(), today_cst())
                        .map_err(|err| keep(Err(FieldError::new("applicant.card_items.citizen_id", err.to_string()))))
                        .ok()
                }
            };
            (citizen_id, domicile)
        }
    };
    match (
        message_id,
        application_id,
        receipt,
        kind,
        citizen_id,
        domicile,
        accepted_at_ms,
    ) {
        (
            Some(message_id),
            Some(application_id),
            Some(receipt),
            Some(kind),
            Some(citizen_id),
            Some(domicile),
            Some(accepted_at_ms),
        ) if errors.is_empty() => Ok(Received {
            message_id,
            application_id,
            receipt,
            kind,
            citizen_id,
            domicile,
            accepted_at_ms,
        }),
        _ => Err(errors),
    }
}

/// Stores identifiers in canonical form (upper-case check character, trimmed codes),
/// so that every later comparison and message uses them as the register does.
fn normalise(request: &mut ReceiveApplicationRequest, received: &Received) {
    request.receipt_number = received.receipt.as_str().to_string();
    request.origin = request.origin.trim().to_string();
    request.production_centre = request.production_centre.trim().to_string();
    request.acceptance_point_code = request.acceptance_point_code.trim().to_string();
    if let Some(applicant) = request.applicant.as_mut() {
        applicant.domicile_region_code = received.domicile.as_string();
        if let Some(items) = applicant.card_items.as_mut() {
            items.citizen_id = received.citizen_id.as_str().to_string();
        }
    }
}
