//! How a recorded report ends or is followed up: revoked by the citizen when the card is
//! found (the card is valid again), closed when a replacement is issued (the old card is
//! invalid for good), and a found-card notice for a reported card (the owner is told
//! where to collect it).
//!
//! A report that stands for another (`same_as_report_number`) is the same report: it
//! follows the state of the card's other `ACTIVE` reports, and every acceptance service
//! that took one of them hears the outcome.

use std::collections::BTreeSet;

use idcard_audit::Entry;
use idcard_db::Tx;
use idcard_domain::{LossReportEvent, LossReportState, loss_transition};
use idcard_notify::Event;
use idcard_server::status;
use tonic::Status;
use uuid::Uuid;

use super::intake::{entry, transition};
use super::{HistoryEntry, HistoryEvent, Identity, LossReport, Outcome, send_outcome};
use crate::card_status::{self, Context};
use crate::register::{Card, CardStatus};
use crate::{audit, notify, store};

/// A revocation to apply.
pub struct Revocation<'a> {
    /// Canonical.
    pub report_number: &'a str,
    pub identity: Identity,
    /// The acceptance service that took the revocation: it hears the outcome.
    pub origin: Option<&'a str>,
}

/// What became of a revocation.
#[derive(Debug)]
pub enum RevocationOutcome {
    /// The report (and any report standing with it) is revoked; the card is valid again.
    Applied,
    /// Refused; the outcome's note says why (`IDENTITY_NOT_CONFIRMED`,
    /// `CARD_ALREADY_REPLACED`, ...).
    Refused,
    /// No report with this number (yet): the sender retries, since a revocation travels
    /// in order behind its report.
    UnknownReport,
}

/// Applies a revocation in `tx`, with the identity rule of a report.
#[tracing::instrument(skip_all, fields(report_number = %revocation.report_number))]
pub async fn revoke(tx: &mut Tx, cx: &Context<'_>, revocation: &Revocation<'_>) -> Result<RevocationOutcome, Status> {
    let Some(report) = store::report_by_number(tx, cx.keys, revocation.report_number)
        .await
        .map_err(status::from_db)?
    else {
        return Ok(RevocationOutcome::UnknownReport);
    };
    let resident = store::find_resident(tx, cx.keys, &report.citizen_id)
        .await
        .map_err(status::from_db)?;
    let fingerprint_on_record = resident.as_ref().is_some_and(|r| r.fingerprint_on_record);
    let refused = match revocation.identity.refusal(fingerprint_on_record) {
        Some(refusal) => Some(refusal.code),
        None => loss_transition(report.state, LossReportEvent::Revoked)
            .err()
            .map(|err| err.reason_code()),
    };
    if let Some(code) = refused {
        if let Some(origin) = revocation.origin {
            let outcome = Outcome {
                state: LossReportState::Refused,
                same_as: None,
                note: code,
            };
            send_outcome(tx, cx.keys, origin, &report.report_number, outcome, cx.at_ms)
                .await
                .map_err(status::from_db)?;
        }
        record_audit(tx, cx, audit::LOSS_REPORT_REVOKE_REFUSED, &report.report_number, code).await?;
        tracing::info!(reason = code, "revocation refused");
        return Ok(RevocationOutcome::Refused);
    }

    let group = match report.card_id {
        Some(card_id) if report.state == LossReportState::Active => store::active_reports_of_card(tx, cx.keys, card_id)
            .await
            .map_err(status::from_db)?,
        _ => vec![report.clone()],
    };
    let mut told = BTreeSet::new();
    for member in &group {
        let to = transition(member.state, LossReportEvent::Revoked)?;
        move_report(
            tx,
            cx,
            member,
            to,
            LossReportEvent::Revoked,
            "revoked: the card was found".to_string(),
        )
        .await?;
        if let Some(origin) = member.origin.as_deref() {
            told.insert((origin.to_string(), member.report_number.clone()));
        }
    }
    if let Some(origin) = revocation.origin {
        told.insert((origin.to_string(), report.report_number.clone()));
    }
    for (origin, number) in &told {
        let outcome = Outcome {
            state: LossReportState::Revoked,
            same_as: None,
            note: "",
        };
        send_outcome(tx, cx.keys, origin, number, outcome, cx.at_ms)
            .await
            .map_err(status::from_db)?;
    }

    let name = resident.as_ref().map_or("", |r| r.name.as_str());
    if let Some(card) = card_of(tx, cx, &report).await? {
        if card.status == CardStatus::ReportedLost {
            card_status::change(tx, cx, &card, name, CardStatus::Active).await?;
        }
    }
    if let Some(resident) = &resident {
        let event = Event::LossReportRevoked {
            report_number: report.standing_number().to_string(),
        };
        notify::enqueue(tx, cx.keys, &resident.phone, event, &report.report_number)
            .await
            .map_err(status::from_db)?;
    }
    record_audit(
        tx,
        cx,
        audit::LOSS_REPORT_REVOKE,
        &report.report_number,
        &format!("reports:{}", group.len()),
    )
    .await?;
    tracing::info!(reports = group.len(), "loss report revoked; card valid again");
    Ok(RevocationOutcome::Applied)
}

/// A replacement card `new_card` was issued to `citizen_id`: each other card of the
/// resident that is active or reported lost is invalid for good, and its `ACTIVE`
/// reports are closed (each acceptance service that took one hears it).
/// Returns how many cards were invalidated.
pub async fn close_for_replacement(
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
        .filter(|card| card.card_id != new_card && matches!(card.status, CardStatus::Active | CardStatus::ReportedLost))
    {
        let reports = store::active_reports_of_card(tx, cx.keys, card.card_id)
            .await
            .map_err(status::from_db)?;
        for report in &reports {
            let to = transition(report.state, LossReportEvent::ReplacementIssued)?;
            let note = "closed: a replacement card was issued; this card is invalid for good".to_string();
            move_report(tx, cx, report, to, LossReportEvent::ReplacementIssued, note).await?;
            if let Some(origin) = report.origin.as_deref() {
                let outcome = Outcome {
                    state: to,
                    same_as: report.same_as_report_number.as_deref(),
                    note: "",
                };
                send_outcome(tx, cx.keys, origin, &report.report_number, outcome, cx.at_ms)
                    .await
                    .map_err(status::from_db)?;
            }
            record_audit(
                tx,
                cx,
                audit::LOSS_REPORT_CLOSE,
                &report.report_number,
                &audit::card(new_card),
            )
            .await?;
        }
        if card_status::change(tx, cx, card, name, CardStatus::Invalidated).await? {
            invalidated += 1;
        }
    }
    Ok(invalidated)
}

/// A found card was registered: when it is reported lost, the owner is told where to
/// collect it and the report's history says so. Returns whether the owner was told
/// (`false`: the card has no `ACTIVE` report here).
#[tracing::instrument(skip_all, fields(card_id = %card_id))]
pub async fn found_card(
    tx: &mut Tx,
    cx: &Context<'_>,
    card_id: Uuid,
    found_at: &str,
    collect_at: &str,
) -> Result<bool, Status> {
    let reports = store::active_reports_of_card(tx, cx.keys, card_id)
        .await
        .map_err(status::from_db)?;
    let Some(report) = reports
        .iter()
        .find(|report| report.same_as_report_number.is_none())
        .or(reports.first())
    else {
        return Ok(false);
    };
    let resident = store::find_resident(tx, cx.keys, &report.citizen_id)
        .await
        .map_err(status::from_db)?;
    let told = match &resident {
        Some(resident) => {
            let event = Event::FoundCard {
                collect_at: collect_at.to_string(),
            };
            notify::enqueue(tx, cx.keys, &resident.phone, event, &report.report_number)
                .await
                .map_err(status::from_db)?
        }
        None => false,
    };
    let note = if found_at.is_empty() {
        format!("the card was found; collect at {collect_at}")
    } else {
        format!("the card was found at {found_at}; collect at {collect_at}")
    };
    let line = HistoryEntry {
        event: HistoryEvent::CardFound,
        state: report.state,
        actor: cx.actor.to_string(),
        at_ms: cx.at_ms,
        note,
    };
    store::insert_event(tx, cx.keys, report.report_id, &line)
        .await
        .map_err(status::from_db)?;
    record_audit(
        tx,
        cx,
        audit::LOSS_REPORT_FOUND,
        &report.report_number,
        if told { "owner_notified" } else { "no_phone_on_record" },
    )
    .await?;
    tracing::info!(owner_notified = told, "found card is reported lost");
    Ok(told)
}

/// Moves `report` to `to` (the result of `loss_transition`) and writes the history line.
async fn move_report(
    tx: &mut Tx,
    cx: &Context<'_>,
    report: &LossReport,
    to: LossReportState,
    event: LossReportEvent,
    note: String,
) -> Result<(), Status> {
    if !store::set_report_state(tx, report.report_id, report.state, to, cx.at_ms)
        .await
        .map_err(status::from_db)?
    {
        // Read in this transaction a moment ago; another writer changed it meanwhile.
        return Err(Status::aborted("the loss report changed meanwhile; retry"));
    }
    store::insert_event(tx, cx.keys, report.report_id, &entry(cx, event, to, note))
        .await
        .map_err(status::from_db)
}

/// The card a report is about, as stored now.
async fn card_of(tx: &mut Tx, cx: &Context<'_>, report: &LossReport) -> Result<Option<Card>, Status> {
    let Some(card_id) = report.card_id else {
        return Ok(None);
    };
    let cards = store::cards_of(tx, cx.keys, &report.citizen_id)
        .await
        .map_err(status::from_db)?;
    Ok(cards.into_iter().find(|card| card.card_id == card_id))
}

async fn record_audit(
    tx: &mut Tx,
    cx: &Context<'_>,
    action: &str,
    report_number: &str,
    detail: &str,
) -> Result<(), Status> {
    audit::record(
        tx,
        Entry {
            actor: cx.actor,
            role: cx.role,
            action,
            target: &audit::loss_report(report_number),
            detail,
        },
    )
    .await
}
