//! Loss reports (DOMAIN.md "Loss reports"): the kinds, and the life of a report at the
//! domicile bureau, the system of record for card status.
//!
//! A report is taken anywhere (`Submitted`), recorded by the domicile bureau, which marks
//! the card reported lost (`Active`), and ends when the card is found and the citizen
//! revokes it (`Revoked`: the card is valid again) or when a replacement is issued
//! (`Closed`: the old card is invalid for good). The bureau refuses a report it cannot
//! record (`Refused`), e.g. for a card it does not hold. A second report of a card
//! already reported is not a new report: it stands for the first.

use std::fmt;

string_enum! {
    /// What happened to the card. Lost and stolen are the official kinds; misplaced is
    /// this system's own, for a card whose whereabouts the citizen does not know.
    pub enum LossKind as "loss kind" {
        Lost => "lost",
        Stolen => "stolen",
        Misplaced => "misplaced",
    }
}

string_enum! {
    /// Where a loss report stands.
    pub enum LossReportState as "loss report state" {
        Submitted => "submitted",
        Active => "active",
        Revoked => "revoked",
        Closed => "closed",
        Refused => "refused",
    }
}

string_enum! {
    /// Something that happens to a loss report.
    pub enum LossReportEvent as "loss report event" {
        /// The domicile bureau recorded it; the card is reported lost.
        Recorded => "recorded",
        /// The domicile bureau could not record it.
        Refused => "refused",
        /// The card was found; the citizen revoked the report.
        Revoked => "revoked",
        /// A replacement was issued.
        ReplacementIssued => "replacement_issued",
    }
}

impl LossReportState {
    /// No event leaves a terminal state.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            LossReportState::Revoked | LossReportState::Closed | LossReportState::Refused
        )
    }
}

/// An event that cannot happen to a report in its state (e.g. revoking a report whose
/// card was already replaced).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub struct LossTransitionError {
    pub from: LossReportState,
    pub event: LossReportEvent,
}

impl fmt::Display for LossTransitionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot apply {} to a loss report that is {}", self.event, self.from)
    }
}

impl LossTransitionError {
    /// A stable code for the front end.
    pub fn reason_code(&self) -> &'static str {
        match (self.from, self.event) {
            (LossReportState::Closed, LossReportEvent::Revoked) => "CARD_ALREADY_REPLACED",
            (LossReportState::Revoked, LossReportEvent::Revoked) => "REPORT_ALREADY_REVOKED",
            _ => "ILLEGAL_LOSS_REPORT_TRANSITION",
        }
    }
}

/// The one transition function of loss reports.
pub fn loss_transition(from: LossReportState, event: LossReportEvent) -> Result<LossReportState, LossTransitionError> {
    use LossReportEvent as E;
    use LossReportState as S;
    match (from, event) {
        (S::Submitted, E::Recorded) => Ok(S::Active),
        (S::Submitted, E::Refused) => Ok(S::Refused),
        // A revocation may reach the bureau before or after the report was recorded.
        (S::Submitted | S::Active, E::Revoked) => Ok(S::Revoked),
        (S::Active, E::ReplacementIssued) => Ok(S::Closed),
        _ => Err(LossTransitionError { from, event }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_is_recorded_then_revoked_or_closed() {
        assert_eq!(
            loss_transition(LossReportState::Submitted, LossReportEvent::Recorded),
            Ok(LossReportState::Active)
        );
        assert_eq!(
            loss_transition(LossReportState::Active, LossReportEvent::Revoked),
            Ok(LossReportState::Revoked)
        );
        assert_eq!(
            loss_transition(LossReportState::Active, LossReportEvent::ReplacementIssued),
            Ok(LossReportState::Closed)
        );
    }

    #[test]
    fn revoking_after_a_replacement_is_refused_with_its_own_code() {
        let err =
            loss_transition(LossReportState::Closed, LossReportEvent::Revoked).expect_err("revoking a closed report");
        assert_eq!(err.reason_code(), "CARD_ALREADY_REPLACED");
        assert_eq!(err.to_string(), "cannot apply revoked to a loss report that is closed");
    }

    #[test]
    fn terminal_states_take_no_event() {
        for state in LossReportState::ALL.iter().copied().filter(|s| s.is_terminal()) {
            for event in LossReportEvent::ALL {
                assert!(loss_transition(state, *event).is_err(), "{state} {event}");
            }
        }
    }
}
