//! `AcceptanceInboxService/ReceiveLossReportOutcome`: what the domicile bureau made of a
//! report or of its revocation. Outcomes of one report arrive in order (the review
//! relay's ordering key is the report number), each applied once through
//! `loss_transition`; a stale or repeated one is acknowledged without a change.

use idcard_db::{Db, now_ms};
use idcard_domain::{LossReportEvent, LossReportState, loss_transition};
use idcard_outbox::accept_inbound;
use idcard_proto::v1 as pb;
use idcard_server::status::{from_db, invalid_argument};
use idcard_server::wire;
use tonic::Status;

use super::input;
use crate::audit::{self, Actor};
use crate::store::loss_reports as store;

/// The inbox kind outcome message ids are recorded under.
const INBOX_KIND: &str = "acceptance.receive_loss_report_outcome";

/// The longest note from the domicile bureau kept in the history, in characters.
const MAX_NOTE_CHARS: usize = 500;

/// Applies one outcome from `peer`, audited with the peer as the actor.
#[tracing::instrument(skip_all, fields(report_number = %request.report_number))]
pub async fn receive(db: &Db, peer: Actor, request: pb::ReceiveLossReportOutcomeRequest) -> Result<(), Status> {
    let mut errors = Vec::new();
    let message_id = wire::parse_uuid("message_id", &request.message_id)
        .map_err(|e| errors.push(e))
        .ok();
    let number = input::report_number("report_number", &request.report_number)
        .map_err(|e| errors.push(e))
        .ok();
    let event = input::outcome_event("state", request.state)
        .map_err(|e| errors.push(e))
        .ok();
    let same_as = match request.same_as_report_number.as_str() {
        "" => None,
        text => input::report_number("same_as_report_number", text)
            .map_err(|e| errors.push(e))
            .ok(),
    };
    let (Some(message_id), Some(number), Some(event)) = (message_id, number, event) else {
        return Err(invalid_argument(&errors));
    };
    if !errors.is_empty() {
        return Err(invalid_argument(&errors));
    }
    let number = number.as_str();
    let same_as = same_as.filter(|same| same.as_str() != number);
    let at = request.at.as_ref().map(wire::timestamp_to_ms).unwrap_or_else(now_ms);
    let note: String = request.note.trim().chars().take(MAX_NOTE_CHARS).collect();

    let mut tx = db.begin().await.map_err(from_db)?;
    if !accept_inbound(&mut tx, message_id, INBOX_KIND).await.map_err(from_db)? {
        tracing::info!(%message_id, "duplicate loss report outcome acknowledged");
        return Ok(());
    }
    // Dropping the transaction forgets the message id too: the sender dead-letters it.
    let row = store::find(&mut tx, number)
        .await
        .map_err(from_db)?
        .ok_or_else(|| Status::not_found("no such loss report"))?;
    let state = row.state().map_err(from_db)?;
    let detail = match loss_transition(state, event) {
        Ok(next) => {
            if let Some(same_as) = &same_as {
                store::set_same_as(&mut tx, number, same_as.as_str())
                    .await
                    .map_err(from_db)?;
            }
            if row.revocation_pending && next.is_terminal() {
                store::set_revocation_pending(&mut tx, number, false)
                    .await
                    .map_err(from_db)?;
            }
            let text = describe(next, same_as.as_ref().map(|s| s.as_str()), &note);
            store::record_step(&mut tx, number, next, at, &peer.subject, &text)
                .await
                .map_err(from_db)?;
            Some(format!("now {next}"))
        }
        // The report stands; only the revocation was refused (e.g. the card was already
        // replaced, or a fingerprint is on record and only a document was checked).
        Err(_) if event == LossReportEvent::Refused && row.revocation_pending => {
            store::set_revocation_pending(&mut tx, number, false)
                .await
                .map_err(from_db)?;
            let text = with_note("revocation refused by the domicile bureau", &note);
            store::record_step(&mut tx, number, state, at, &peer.subject, &text)
                .await
                .map_err(from_db)?;
            Some(format!("revocation refused; still {state}"))
        }
        Err(err) => {
            tracing::warn!(error = %err, "stale loss report outcome acknowledged without change");
            None
        }
    };
    if let Some(detail) = detail {
        audit::record_loss_report(&mut tx, &peer, audit::LOSS_REPORT_OUTCOME, number, &detail)
            .await
            .map_err(from_db)?;
    }
    tx.commit().await.map_err(from_db)
}

/// The history note of a new state.
fn describe(state: LossReportState, same_as: Option<&str>, note: &str) -> String {
    let what = match state {
        LossReportState::Active => match same_as {
            Some(same_as) => format!("the card was already reported: report {same_as} stands"),
            None => "recorded by the domicile bureau: the card is reported lost".to_string(),
        },
        LossReportState::Revoked => "revoked: the card is valid again".to_string(),
        LossReportState::Closed => "closed: a replacement was issued; the card is invalid for good".to_string(),
        LossReportState::Refused => "refused by the domicile bureau".to_string(),
        LossReportState::Submitted => "submitted".to_string(),
    };
    with_note(&what, note)
}

fn with_note(what: &str, note: &str) -> String {
    if note.is_empty() {
        what.to_string()
    } else {
        format!("{what}: {note}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_report_names_the_report_that_stands() {
        assert_eq!(
            describe(LossReportState::Active, Some("ABC"), ""),
            "the card was already reported: report ABC stands"
        );
        assert_eq!(
            describe(LossReportState::Refused, None, "no such card"),
            "refused by the domicile bureau: no such card"
        );
    }
}
