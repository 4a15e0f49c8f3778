//! Loss reports at the domicile bureau, the system of record for card status
//! (DOMAIN.md "Loss reports").
//!
//! A report arrives from any acceptance service (taken at a counter) or is confirmed
//! online by the citizen; the bureau records it ([`intake`]: the card becomes
//! reported lost, or the report stands for the one already recorded for the card), or
//! refuses it. It ends when the citizen revokes it or a replacement is issued
//! ([`lifecycle`]). Every state change goes through `idcard_domain::loss_transition`;
//! the acceptance service a report came from hears each outcome through the outbox.

pub mod intake;
pub mod lifecycle;

use idcard_crypto::{Keyring, Purpose};
use idcard_db::{DbError, Tx};
use idcard_domain::{CitizenId, LossKind, LossReportEvent, LossReportState};
use idcard_outbox::NewMessage;
use idcard_proto::v1::{self, ReceiveLossReportOutcomeRequest, identity_confirmation::Method};
use idcard_server::status::FieldError;
use idcard_server::wire::{ms_to_timestamp, today_cst};
use prost::Message as _;
use uuid::Uuid;

use crate::register::{Card, CardStatus};

/// An outcome to the acceptance service a report came from.
pub const RECEIVE_LOSS_REPORT_OUTCOME: &str = "acceptance.receive_loss_report_outcome";

/// Why the bureau refused a report or a revocation: the code is the outcome's note,
/// the detail goes into the report's history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    pub code: &'static str,
    pub detail: &'static str,
}

impl Refusal {
    pub const NO_SUCH_CITIZEN: Refusal = Refusal {
        code: "NO_SUCH_CITIZEN",
        detail: "the household register of this bureau has no record with this citizen id",
    };
    pub const NAME_MISMATCH: Refusal = Refusal {
        code: "NAME_MISMATCH",
        detail: "the name differs from the household register",
    };
    pub const IDENTITY_NOT_CONFIRMED: Refusal = Refusal {
        code: "IDENTITY_NOT_CONFIRMED",
        detail: "identity not confirmed: a fingerprint is on record, so it must be confirmed by fingerprint match",
    };
    pub const IDENTITY_MISSING: Refusal = Refusal {
        code: "IDENTITY_NOT_CONFIRMED",
        detail: "identity not confirmed: neither a fingerprint match nor an identity document",
    };
    pub const NO_CARD_TO_REPORT: Refusal = Refusal {
        code: "NO_CARD_TO_REPORT",
        detail: "the resident holds no active or reported card",
    };

    fn note(self) -> String {
        format!("{}: {}", self.code, self.detail)
    }
}

/// How the reporter's identity was confirmed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Identity {
    /// The clerk compared fingerprints; `matched` is what the comparison said.
    Fingerprint { matched: bool },
    /// The clerk checked an identity document.
    Document,
    /// Neither.
    Unconfirmed,
    /// Online: the citizen's token and a one-time code sent to the phone on record.
    OneTimeCode,
}

impl Identity {
    pub fn from_wire(confirmation: Option<&v1::IdentityConfirmation>) -> Identity {
        match confirmation.and_then(|c| c.method) {
            Some(Method::FingerprintMatched(matched)) => Identity::Fingerprint { matched },
            Some(Method::IdentityDocument(kind))
                if v1::DocumentKind::try_from(kind).is_ok_and(|kind| kind != v1::DocumentKind::Unspecified) =>
            {
                Identity::Document
            }
            _ => Identity::Unconfirmed,
        }
    }

    /// The identity rule: a fingerprint match when one is on record, otherwise a match
    /// or an identity document. `None` when the identity is confirmed.
    pub fn refusal(self, fingerprint_on_record: bool) -> Option<Refusal> {
        match self {
            Identity::Fingerprint { matched: true } | Identity::OneTimeCode => None,
            Identity::Document if !fingerprint_on_record => None,
            Identity::Document => Some(Refusal::IDENTITY_NOT_CONFIRMED),
            Identity::Fingerprint { matched: false } | Identity::Unconfirmed => Some(Refusal::IDENTITY_MISSING),
        }
    }
}

/// Where a report was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportChannel {
    Counter,
    Online,
}

impl ReportChannel {
    pub fn as_str(self) -> &'static str {
        match self {
            ReportChannel::Counter => "counter",
            ReportChannel::Online => "online",
        }
    }

    pub fn parse(text: &str) -> Option<ReportChannel> {
        match text {
            "counter" => Some(ReportChannel::Counter),
            "online" => Some(ReportChannel::Online),
            _ => None,
        }
    }
}

/// A stored loss report.
#[derive(Clone)]
pub struct LossReport {
    pub report_id: Uuid,
    pub report_number: String,
    /// Normalised.
    pub citizen_id: String,
    /// `None` for a report refused before a card was found.
    pub card_id: Option<Uuid>,
    pub kind: LossKind,
    pub state: LossReportState,
    pub channel: ReportChannel,
    /// The acceptance service of a counter report.
    pub origin: Option<String>,
    pub circumstance: String,
    /// Set when the card was already reported: the report that stands.
    pub same_as_report_number: Option<String>,
    pub reported_at_ms: i64,
    pub received_at_ms: i64,
}

/// Personal data does not print.
impl std::fmt::Debug for LossReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LossReport")
            .field("report_number", &self.report_number)
            .field("card_id", &self.card_id)
            .field("state", &self.state)
            .field("same_as_report_number", &self.same_as_report_number)
            .finish_non_exhaustive()
    }
}

impl LossReport {
    /// The number of the report that stands for the card: this one, or the one it
    /// stands for.
    pub fn standing_number(&self) -> &str {
        self.same_as_report_number.as_deref().unwrap_or(&self.report_number)
    }

    /// The report as the contract shows it: the citizen id masked, no circumstance.
    pub fn to_wire(&self, history: &[HistoryEntry]) -> v1::LossReport {
        v1::LossReport {
            report_number: self.report_number.clone(),
            state: state_to_wire(self.state).into(),
            kind: kind_to_wire(self.kind).into(),
            citizen_id_masked: mask_citizen_id(&self.citizen_id),
            reported_at: Some(ms_to_timestamp(self.reported_at_ms)),
            taken_at: match self.channel {
                ReportChannel::Online => "online".to_string(),
                ReportChannel::Counter => self.origin.clone().unwrap_or_default(),
            },
            same_as_report_number: self.same_as_report_number.clone().unwrap_or_default(),
            history: history
                .iter()
                .map(|entry| v1::LossReportEvent {
                    state: state_to_wire(entry.state).into(),
                    at: Some(ms_to_timestamp(entry.at_ms)),
                    note: entry.note.clone(),
                })
                .collect(),
        }
    }
}

fn mask_citizen_id(citizen_id: &str) -> String {
    CitizenId::parse(citizen_id, today_cst())
        .map(|id| id.masked())
        .unwrap_or_else(|_| "*".repeat(18))
}

/// What is recorded in a report's history: its state changes, and found-card notices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryEvent {
    /// Taken (at the counter or online).
    Submitted,
    Transition(LossReportEvent),
    /// The card was registered as found; the owner was told where to collect it.
    CardFound,
}

impl HistoryEvent {
    pub fn as_str(self) -> &'static str {
        match self {
            HistoryEvent::Submitted => "submitted",
            HistoryEvent::Transition(event) => event.as_str(),
            HistoryEvent::CardFound => "card_found",
        }
    }

    pub fn parse(text: &str) -> Option<HistoryEvent> {
        match text {
            "submitted" => Some(HistoryEvent::Submitted),
            "card_found" => Some(HistoryEvent::CardFound),
            other => other.parse().ok().map(HistoryEvent::Transition),
        }
    }
}

/// One line of a report's history.
#[derive(Debug, Clone)]
pub struct HistoryEntry {
    pub event: HistoryEvent,
    /// The report's state after the event.
    pub state: LossReportState,
    pub actor: String,
    pub at_ms: i64,
    pub note: String,
}

/// The card a loss report is about: the resident's current active card (the latest
/// valid from), or else the card already reported lost.
pub fn card_to_report(cards: &[Card]) -> Option<&Card> {
    let latest = |status: CardStatus| {
        cards
            .iter()
            .filter(move |card| card.status == status)
            .max_by_key(|card| (card.validity_start, card.issued_at_ms))
    };
    latest(CardStatus::Active).or_else(|| latest(CardStatus::ReportedLost))
}

/// Enqueues an outcome for the acceptance service `origin`, in order with every other
/// message about the report. It carries no personal data.
pub async fn send_outcome(
    tx: &mut Tx,
    keys: &Keyring,
    origin: &str,
    report_number: &str,
    outcome: Outcome<'_>,
    at_ms: i64,
) -> Result<(), DbError> {
    let message = ReceiveLossReportOutcomeRequest {
        message_id: String::new(),
        report_number: report_number.to_string(),
        state: state_to_wire(outcome.state).into(),
        same_as_report_number: outcome.same_as.unwrap_or_default().to_string(),
        at: Some(ms_to_timestamp(at_ms)),
        note: outcome.note.to_string(),
    };
    idcard_outbox::enqueue(
        tx,
        keys,
        NewMessage {
            destination: origin,
            kind: RECEIVE_LOSS_REPORT_OUTCOME,
            ordering_key: report_number,
            payload: message.encode_to_vec(),
            sealed_for: Purpose::Data,
        },
    )
    .await?;
    Ok(())
}

/// What an acceptance service is told about a report.
#[derive(Debug, Clone, Copy)]
pub struct Outcome<'a> {
    pub state: LossReportState,
    pub same_as: Option<&'a str>,
    /// A refusal's code; empty otherwise.
    pub note: &'a str,
}

pub fn state_to_wire(state: LossReportState) -> v1::LossReportState {
    match state {
        LossReportState::Submitted => v1::LossReportState::Submitted,
        LossReportState::Active => v1::LossReportState::Active,
        LossReportState::Revoked => v1::LossReportState::Revoked,
        LossReportState::Closed => v1::LossReportState::Closed,
        LossReportState::Refused => v1::LossReportState::Refused,
    }
}

pub fn kind_to_wire(kind: LossKind) -> v1::LossKind {
    match kind {
        LossKind::Lost => v1::LossKind::Lost,
        LossKind::Stolen => v1::LossKind::Stolen,
        LossKind::Misplaced => v1::LossKind::Misplaced,
    }
}

pub fn kind_from_wire(field: &str, kind: i32) -> Result<LossKind, FieldError> {
    match v1::LossKind::try_from(kind) {
        Ok(v1::LossKind::Lost) => Ok(LossKind::Lost),
        Ok(v1::LossKind::Stolen) => Ok(LossKind::Stolen),
        Ok(v1::LossKind::Misplaced) => Ok(LossKind::Misplaced),
        _ => Err(FieldError::new(
            field,
            "required: LOSS_KIND_LOST, LOSS_KIND_STOLEN or LOSS_KIND_MISPLACED",
        )),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use time::macros::date;

    use super::*;

    #[test]
    fn fingerprint_on_record_requires_a_fingerprint_match() {
        assert_eq!(Identity::Document.refusal(true), Some(Refusal::IDENTITY_NOT_CONFIRMED));
        assert_eq!(Identity::Fingerprint { matched: true }.refusal(true), None);
        assert_eq!(Identity::Document.refusal(false), None);
        assert!(Identity::Fingerprint { matched: false }.refusal(false).is_some());
        assert!(Identity::Unconfirmed.refusal(false).is_some());
    }

    #[test]
    fn unspecified_document_is_no_confirmation() {
        let document = |kind: v1::DocumentKind| v1::IdentityConfirmation {
            method: Some(Method::IdentityDocument(kind.into())),
        };
        assert_eq!(
            Identity::from_wire(Some(&document(v1::DocumentKind::Unspecified))),
            Identity::Unconfirmed
        );
        assert_eq!(
            Identity::from_wire(Some(&document(v1::DocumentKind::OldIdCard))),
            Identity::Document
        );
        assert_eq!(Identity::from_wire(None), Identity::Unconfirmed);
    }

    #[test]
    fn the_active_card_is_reported_before_one_already_reported() {
        let card = |status, start| Card {
            card_id: Uuid::now_v7(),
            citizen_id: String::new(),
            validity_start: start,
            validity_end: None,
            issuing_authority: String::new(),
            status,
            application_id: None,
            issued_at_ms: 0,
        };
        let reported = card(CardStatus::ReportedLost, date!(2020 - 01 - 01));
        let active = card(CardStatus::Active, date!(2010 - 01 - 01));
        let invalid = card(CardStatus::Invalidated, date!(2024 - 01 - 01));
        let cards = vec![reported.clone(), active.clone(), invalid.clone()];
        assert_eq!(card_to_report(&cards).unwrap().card_id, active.card_id);
        assert_eq!(
            card_to_report(&[reported.clone(), invalid.clone()]).unwrap().card_id,
            reported.card_id
        );
        assert!(card_to_report(&[invalid]).is_none());
    }

    #[test]
    fn history_events_round_trip() {
        for event in [
            HistoryEvent::Submitted,
            HistoryEvent::CardFound,
            HistoryEvent::Transition(LossReportEvent::ReplacementIssued),
        ] {
            assert_eq!(HistoryEvent::parse(event.as_str()), Some(event));
        }
    }
}
