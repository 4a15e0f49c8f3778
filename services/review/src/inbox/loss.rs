//! Loss reports and their revocations from acceptance services, and found-card notices
//! from the status service. The work is in [`crate::loss_report`]; here the messages are
//! checked, deduplicated and committed.

use idcard_db::now_ms;
use idcard_domain::{CitizenId, ReceiptNo};
use idcard_proto::v1::{ReceiveFoundCardNoticeRequest, ReceiveLossReportRequest, ReceiveLossReportRevocationRequest};
use idcard_server::status::{self, FieldError, Reason, invalid_argument};
use idcard_server::wire::{parse_uuid, required_text, timestamp_to_ms, today_cst};
use tonic::Status;
use uuid::Uuid;

use super::unknown_peer;
use crate::card_status::Context;
use crate::loss_report::intake::{self, Intake};
use crate::loss_report::lifecycle::{self, Revocation, RevocationOutcome};
use crate::loss_report::{Identity, ReportChannel, kind_from_wire};
use crate::wire::optional_text;
use crate::{State, audit, store};

/// The inbox kinds of these messages.
pub const RECEIVE_LOSS_REPORT: &str = "review.receive_loss_report";
pub const RECEIVE_LOSS_REPORT_REVOCATION: &str = "review.receive_loss_report_revocation";
pub const RECEIVE_FOUND_CARD_NOTICE: &str = "review.receive_found_card_notice";

/// Longest circumstance kept.
const MAX_CIRCUMSTANCE: usize = 1000;

/// Records a loss report taken at a counter; its outcome goes back to `origin`.
#[tracing::instrument(skip_all, fields(report_number = %request.report_number))]
pub async fn receive_report(
    state: &State,
    peer: Option<String>,
    request: ReceiveLossReportRequest,
) -> Result<(), Status> {
    let mut errors = Vec::new();
    let message_id = uuid_field("message_id", &request.message_id, &mut errors);
    let number = report_number(&request.report_number, &mut errors);
    let citizen_id = CitizenId::parse(request.citizen_id.trim(), today_cst())
        .map_err(|err| errors.push(FieldError::new("citizen_id", err.to_string())))
        .ok();
    let name = required_text("name", &request.name, 64)
        .map_err(|e| errors.push(e))
        .ok();
    let kind = kind_from_wire("kind", request.kind).map_err(|e| errors.push(e)).ok();
    let circumstance = optional_text("circumstance", &request.circumstance, MAX_CIRCUMSTANCE)
        .map_err(|e| errors.push(e))
        .ok();
    let origin = required_text("origin", &request.origin, 64)
        .map_err(|e| errors.push(e))
        .ok();
    if request.reported_at.is_none() {
        errors.push(FieldError::new("reported_at", "required"));
    }
    let (Some(message_id), Some(number), Some(citizen_id), Some(name), Some(kind), Some(circumstance), Some(origin)) =
        (message_id, number, citizen_id, name, kind, circumstance, origin)
    else {
        return Err(invalid_argument(&errors));
    };
    if !errors.is_empty() {
        return Err(invalid_argument(&errors));
    }
    check_origin(state, &origin)?;

    let keys = state.keys.current();
    let mut tx = state.db.begin().await.map_err(status::from_db)?;
    if !idcard_outbox::accept_inbound(&mut tx, message_id, RECEIVE_LOSS_REPORT)
        .await
        .map_err(status::from_db)?
    {
        tracing::info!(%message_id, "duplicate message acknowledged");
        return Ok(());
    }
    if store::report_number_known(&mut tx, number.as_str())
        .await
        .map_err(status::from_db)?
    {
        tx.commit().await.map_err(status::from_db)?;
        tracing::info!(%message_id, "loss report already received; message acknowledged");
        return Ok(());
    }
    let cx = Context {
        keys: &keys,
        publisher: &state.publisher,
        actor: peer.as_deref().unwrap_or(&origin),
        role: audit::SERVICE_ROLE,
        at_ms: now_ms(),
    };
    let intake = Intake {
        report_number: number.as_str(),
        citizen_id: &citizen_id,
        name: Some(&name),
        kind,
        circumstance: &circumstance,
        identity: Identity::from_wire(request.identity.as_ref()),
        channel: ReportChannel::Counter,
        origin: Some(&origin),
        reported_at_ms: request.reported_at.as_ref().map_or(cx.at_ms, timestamp_to_ms),
    };
    intake::record(&mut tx, &cx, &intake).await?;
    tx.commit().await.map_err(status::from_db)?;
    state.relay.wake();
    Ok(())
}

/// Applies a revocation taken at a counter; its outcome goes back to `origin`. A
/// revocation of a report not received yet is refused with `FAILED_PRECONDITION`
/// (`UNKNOWN_REPORT`), which the sender's relay retries: it travels behind its report.
#[tracing::instrument(skip_all, fields(report_number = %request.report_number))]
pub async fn receive_revocation(
    state: &State,
    peer: Option<String>,
    request: ReceiveLossReportRevocationRequest,
) -> Result<(), Status> {
    let mut errors = Vec::new();
    let message_id = uuid_field("message_id", &request.message_id, &mut errors);
    let number = report_number(&request.report_number, &mut errors);
    let origin = required_text("origin", &request.origin, 64)
        .map_err(|e| errors.push(e))
        .ok();
    let (Some(message_id), Some(number), Some(origin)) = (message_id, number, origin) else {
        return Err(invalid_argument(&errors));
    };
    check_origin(state, &origin)?;

    let keys = state.keys.current();
    let mut tx = state.db.begin().await.map_err(status::from_db)?;
    if !idcard_outbox::accept_inbound(&mut tx, message_id, RECEIVE_LOSS_REPORT_REVOCATION)
        .await
        .map_err(status::from_db)?
    {
        tracing::info!(%message_id, "duplicate message acknowledged");
        return Ok(());
    }
    let cx = Context {
        keys: &keys,
        publisher: &state.publisher,
        actor: peer.as_deref().unwrap_or(&origin),
        role: audit::SERVICE_ROLE,
        at_ms: now_ms(),
    };
    let revocation = Revocation {
        report_number: number.as_str(),
        identity: Identity::from_wire(request.identity.as_ref()),
        origin: Some(&origin),
    };
    match lifecycle::revoke(&mut tx, &cx, &revocation).await? {
        RevocationOutcome::UnknownReport => {
            return Err(status::refused(&[Reason {
                code: "UNKNOWN_REPORT".to_string(),
                message: format!("no loss report {number} has been received here yet"),
            }]));
        }
        RevocationOutcome::Applied | RevocationOutcome::Refused => {}
    }
    tx.commit().await.map_err(status::from_db)?;
    state.relay.wake();
    Ok(())
}

/// A found card from the status service: the owner of a card reported lost here is told
/// where to collect it; any other card is acknowledged.
#[tracing::instrument(skip_all, fields(card_id = %request.card_id))]
pub async fn receive_found_card(
    state: &State,
    peer: Option<String>,
    request: ReceiveFoundCardNoticeRequest,
) -> Result<(), Status> {
    let mut errors = Vec::new();
    let message_id = uuid_field("message_id", &request.message_id, &mut errors);
    let card_id = uuid_field("card_id", &request.card_id, &mut errors);
    let found_at = optional_text("found_at", &request.found_at, 200)
        .map_err(|e| errors.push(e))
        .ok();
    let collect_at = required_text("collect_at", &request.collect_at, 200)
        .map_err(|e| errors.push(e))
        .ok();
    let (Some(message_id), Some(card_id), Some(found_at), Some(collect_at)) =
        (message_id, card_id, found_at, collect_at)
    else {
        return Err(invalid_argument(&errors));
    };

    let keys = state.keys.current();
    let mut tx = state.db.begin().await.map_err(status::from_db)?;
    if !idcard_outbox::accept_inbound(&mut tx, message_id, RECEIVE_FOUND_CARD_NOTICE)
        .await
        .map_err(status::from_db)?
    {
        tracing::info!(%message_id, "duplicate message acknowledged");
        return Ok(());
    }
    let cx = Context {
        keys: &keys,
        publisher: &state.publisher,
        actor: peer.as_deref().unwrap_or("status"),
        role: audit::SERVICE_ROLE,
        at_ms: now_ms(),
    };
    let told = lifecycle::found_card(&mut tx, &cx, card_id, &found_at, &collect_at).await?;
    tx.commit().await.map_err(status::from_db)?;
    if told {
        state.relay.wake();
    } else {
        tracing::info!("found card is not reported lost here; acknowledged");
    }
    Ok(())
}

/// Outcomes go back to `origin`: see [`unknown_peer`].
fn check_origin(state: &State, origin: &str) -> Result<(), Status> {
    if state.peers.contains(origin) {
        Ok(())
    } else {
        Err(status::refused(&[unknown_peer("origin", origin)]))
    }
}

fn uuid_field(field: &str, text: &str, errors: &mut Vec<FieldError>) -> Option<Uuid> {
    parse_uuid(field, text).map_err(|e| errors.push(e)).ok()
}

fn report_number(text: &str, errors: &mut Vec<FieldError>) -> Option<ReceiptNo> {
    ReceiptNo::parse(text.trim())
        .map_err(|err| errors.push(FieldError::new("report_number", err.to_string())))
        .ok()
}
