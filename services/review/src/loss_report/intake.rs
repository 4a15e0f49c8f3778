//! Recording a loss report, from the counter or online: find the resident and the card,
//! apply the identity rule, then mark the card reported lost (or let the report stand
//! for the one already recorded for the card), tell the citizen and the acceptance
//! service. No fee is charged for a loss report.

use idcard_audit::Entry;
use idcard_db::Tx;
use idcard_domain::{CitizenId, LossKind, LossReportEvent, LossReportState, loss_transition};
use idcard_notify::Event;
use idcard_server::status;
use tonic::Status;
use uuid::Uuid;

use super::{HistoryEntry, HistoryEvent, Identity, LossReport, Outcome, Refusal, ReportChannel, card_to_report};
use crate::card_status::{self, Context};
use crate::precheck::same_text;
use crate::register::{Card, CardStatus, Resident};
use crate::{audit, notify, store};

/// A report to record.
pub struct Intake<'a> {
    /// Canonical (`ReceiptNo`).
    pub report_number: &'a str,
    pub citizen_id: &'a CitizenId,
    /// The name the reporter gave; `None` online, where it was checked when the code
    /// was sent.
    pub name: Option<&'a str>,
    pub kind: LossKind,
    pub circumstance: &'a str,
    pub identity: Identity,
    pub channel: ReportChannel,
    /// The acceptance service of a counter report: its outcomes go there.
    pub origin: Option<&'a str>,
    pub reported_at_ms: i64,
}

/// A recorded report and its history.
pub struct Recorded {
    pub report: LossReport,
    pub history: Vec<HistoryEntry>,
}

/// Records the report in `tx` (which the caller commits). Refused reports are recorded
/// too, with the reason in their history.
#[tracing::instrument(skip_all, fields(report_number = %intake.report_number, citizen_id = %intake.citizen_id.masked()))]
pub async fn record(tx: &mut Tx, cx: &Context<'_>, intake: &Intake<'_>) -> Result<Recorded, Status> {
    let citizen_id = intake.citizen_id.as_str();
    let resident = store::find_resident(tx, cx.keys, citizen_id)
        .await
        .map_err(status::from_db)?;
    let cards = match &resident {
        Some(_) => store::cards_of(tx, cx.keys, citizen_id)
            .await
            .map_err(status::from_db)?,
        None => Vec::new(),
    };
    let target = target(intake, resident.as_ref(), &cards);

    let mut report = LossReport {
        report_id: Uuid::now_v7(),
        report_number: intake.report_number.to_string(),
        citizen_id: citizen_id.to_string(),
        card_id: target.as_ref().ok().map(|(_, card)| card.card_id),
        kind: intake.kind,
        state: LossReportState::Submitted,
        channel: intake.channel,
        origin: intake.origin.map(str::to_string),
        circumstance: intake.circumstance.to_string(),
        same_as_report_number: None,
        reported_at_ms: intake.reported_at_ms,
        received_at_ms: cx.at_ms,
    };
    let mut history = vec![HistoryEntry {
        event: HistoryEvent::Submitted,
        state: LossReportState::Submitted,
        actor: cx.actor.to_string(),
        at_ms: intake.reported_at_ms,
        note: match intake.channel {
            ReportChannel::Counter => format!("taken at {}", intake.origin.unwrap_or("an acceptance point")),
            ReportChannel::Online => "reported online, confirmed with a one-time code".to_string(),
        },
    }];

    let mut refusal_code = "";
    let mut card_reported = false;
    let mut phone = None;
    match target {
        Err(refusal) => {
            report.state = transition(report.state, LossReportEvent::Refused)?;
            refusal_code = refusal.code;
            history.push(entry(cx, LossReportEvent::Refused, report.state, refusal.note()));
        }
        Ok((resident, card)) => {
            report.state = transition(report.state, LossReportEvent::Recorded)?;
            let active = store::active_reports_of_card(tx, cx.keys, card.card_id)
                .await
                .map_err(status::from_db)?;
            if let Some(standing) = active.first() {
                // A second report of a card already reported is that report.
                let number = standing.standing_number().to_string();
                history.push(entry(
                    cx,
                    LossReportEvent::Recorded,
                    report.state,
                    format!("the card is already reported: this report stands for {number}"),
                ));
                report.same_as_report_number = Some(number);
            } else {
                card_status::change(tx, cx, card, &resident.name, CardStatus::ReportedLost).await?;
                history.push(entry(
                    cx,
                    LossReportEvent::Recorded,
                    report.state,
                    "recorded: the card is reported lost".to_string(),
                ));
                card_reported = true;
                phone = Some(resident.phone.clone());
            }
        }
    }

    if !store::insert_report(tx, cx.keys, &report)
        .await
        .map_err(status::from_db)?
    {
        return Err(Status::already_exists(format!(
            "loss report {} is already recorded",
            report.report_number
        )));
    }
    for line in &history {
        store::insert_event(tx, cx.keys, report.report_id, line)
            .await
            .map_err(status::from_db)?;
    }
    if let Some(phone) = phone {
        let event = Event::LossReportAccepted {
            report_number: report.report_number.clone(),
        };
        notify::enqueue(tx, cx.keys, &phone, event, &report.report_number)
            .await
            .map_err(status::from_db)?;
    }
    if let Some(origin) = intake.origin {
        let outcome = Outcome {
            state: report.state,
            same_as: report.same_as_report_number.as_deref(),
            note: refusal_code,
        };
        super::send_outcome(tx, cx.keys, origin, &report.report_number, outcome, cx.at_ms)
            .await
            .map_err(status::from_db)?;
    }
    let detail = format!(
        "channel:{} state:{}{}{}",
        report.channel.as_str(),
        report.state,
        report
            .same_as_report_number
            .as_deref()
            .map(|n| format!(" same_as:{n}"))
            .unwrap_or_default(),
        if refusal_code.is_empty() {
            String::new()
        } else {
            format!(" refused:{refusal_code}")
        },
    );
    audit::record(
        tx,
        Entry {
            actor: cx.actor,
            role: cx.role,
            action: audit::LOSS_REPORT_RECEIVE,
            target: &audit::loss_report(&report.report_number),
            detail: &detail,
        },
    )
    .await?;
    tracing::info!(
        state = %report.state,
        same_as = report.same_as_report_number.as_deref().unwrap_or(""),
        refused = refusal_code,
        card_reported,
        "loss report recorded"
    );
    Ok(Recorded { report, history })
}

/// The resident and the card the report is about, or why it cannot be recorded.
fn target<'c>(
    intake: &Intake<'_>,
    resident: Option<&'c Resident>,
    cards: &'c [Card],
) -> Result<(&'c Resident, &'c Card), Refusal> {
    let resident = resident.ok_or(Refusal::NO_SUCH_CITIZEN)?;
    if intake.name.is_some_and(|name| !same_text(name, &resident.name)) {
        return Err(Refusal::NAME_MISMATCH);
    }
    if let Some(refusal) = intake.identity.refusal(resident.fingerprint_on_record) {
        return Err(refusal);
    }
    let card = card_to_report(cards).ok_or(Refusal::NO_CARD_TO_REPORT)?;
    Ok((resident, card))
}

pub(super) fn entry(cx: &Context<'_>, event: LossReportEvent, state: LossReportState, note: String) -> HistoryEntry {
    HistoryEntry {
        event: HistoryEvent::Transition(event),
        state,
        actor: cx.actor.to_string(),
        at_ms: cx.at_ms,
        note,
    }
}

/// `loss_transition`, for transitions the caller has established are legal.
pub(super) fn transition(from: LossReportState, event: LossReportEvent) -> Result<LossReportState, Status> {
    loss_transition(from, event).map_err(|err| {
        tracing::error!(error = %err, "illegal loss report transition");
        Status::internal("illegal loss report transition")
    })
}
