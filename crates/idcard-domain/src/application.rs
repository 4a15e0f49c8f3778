//! Application kinds and the application state machine.
//!
//! The only way to change an application's state is [`transition`]: an illegal step is
//! an error, never a field assignment somewhere.

string_enum! {
    /// What is applied for away from the domicile.
    pub enum ApplicationKind as "application kind" {
        /// Renewal (换领): on expiry, or because data or appearance changed, or the card
        /// is damaged.
        Renewal => "renewal",
        /// Replacement (补领) of a lost card.
        Replacement => "replacement",
    }
}

string_enum! {
    /// Where an application stands.
    pub enum ApplicationState as "application state" {
        Submitted => "submitted",
        UnderReview => "under_review",
        Approved => "approved",
        Rejected => "rejected",
        InProduction => "in_production",
        QualityCheckFailed => "quality_check_failed",
        Produced => "produced",
        Dispatched => "dispatched",
        ReadyForCollection => "ready_for_collection",
        Collected => "collected",
    }
}

string_enum! {
    /// Something that happens to an application.
    pub enum ApplicationEvent as "application event" {
        DeliveredToReview => "delivered_to_review",
        Approved => "approved",
        Rejected => "rejected",
        ProductionStarted => "production_started",
        QualityCheckFailed => "quality_check_failed",
        Remade => "remade",
        QualityCheckPassed => "quality_check_passed",
        Dispatched => "dispatched",
        Arrived => "arrived",
        Collected => "collected",
    }
}

impl ApplicationState {
    /// No event leaves a terminal state: rejected or collected.
    pub fn is_terminal(self) -> bool {
        matches!(self, ApplicationState::Rejected | ApplicationState::Collected)
    }

    /// Words for messages: "under review", "quality check failed".
    fn words(self) -> &'static str {
        match self {
            ApplicationState::Submitted => "submitted",
            ApplicationState::UnderReview => "under review",
            ApplicationState::Approved => "approved",
            ApplicationState::Rejected => "rejected",
            ApplicationState::InProduction => "in production",
            ApplicationState::QualityCheckFailed => "quality check failed",
            ApplicationState::Produced => "produced",
            ApplicationState::Dispatched => "dispatched",
            ApplicationState::ReadyForCollection => "ready for collection",
            ApplicationState::Collected => "collected",
        }
    }
}

impl ApplicationEvent {
    /// The verb phrase for messages: "cannot <verb> an application that is <state>".
    fn verb(self) -> &'static str {
        match self {
            ApplicationEvent::DeliveredToReview => "deliver for review",
            ApplicationEvent::Approved => "approve",
            ApplicationEvent::Rejected => "reject",
            ApplicationEvent::ProductionStarted => "start production of",
            ApplicationEvent::QualityCheckFailed => "fail the quality check of",
            ApplicationEvent::Remade => "remake",
            ApplicationEvent::QualityCheckPassed => "pass the quality check of",
            ApplicationEvent::Dispatched => "dispatch",
            ApplicationEvent::Arrived => "mark as arrived",
            ApplicationEvent::Collected => "hand over",
        }
    }
}

/// An event that is not legal in the current state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("cannot {} an application that is {}", event.verb(), from.words())]
pub struct TransitionError {
    pub from: ApplicationState,
    pub event: ApplicationEvent,
}

impl TransitionError {
    pub fn reason_code(&self) -> &'static str {
        "ILLEGAL_TRANSITION"
    }
}

/// The next state after `event`, or an error if `event` is not legal in `from`.
///
/// Legal steps: submitted → under review → approved or rejected; approved → in
/// production; in production → quality check failed → (remade) in production; in
/// production → produced → dispatched → ready for collection → collected.
pub fn transition(from: ApplicationState, event: ApplicationEvent) -> Result<ApplicationState, TransitionError> {
    use ApplicationEvent as E;
    use ApplicationState as S;
    match (from, event) {
        (S::Submitted, E::DeliveredToReview) => Ok(S::UnderReview),
        (S::UnderReview, E::Approved) => Ok(S::Approved),
        (S::UnderReview, E::Rejected) => Ok(S::Rejected),
        (S::Approved, E::ProductionStarted) => Ok(S::InProduction),
        (S::InProduction, E::QualityCheckFailed) => Ok(S::QualityCheckFailed),
        (S::QualityCheckFailed, E::Remade) => Ok(S::InProduction),
        (S::InProduction, E::QualityCheckPassed) => Ok(S::Produced),
        (S::Produced, E::Dispatched) => Ok(S::Dispatched),
        (S::Dispatched, E::Arrived) => Ok(S::ReadyForCollection),
        (S::ReadyForCollection, E::Collected) => Ok(S::Collected),
        _ => Err(TransitionError { from, event }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn happy_path_with_a_remake_reaches_collected() {
        use ApplicationEvent as E;
        let events = [
            E::DeliveredToReview,
            E::Approved,
            E::ProductionStarted,
            E::QualityCheckFailed,
            E::Remade,
            E::QualityCheckPassed,
            E::Dispatched,
            E::Arrived,
            E::Collected,
        ];
        let end = events
            .iter()
            .try_fold(ApplicationState::Submitted, |s, &e| transition(s, e));
        assert_eq!(end, Ok(ApplicationState::Collected));
    }

    #[test]
    fn illegal_step_names_event_and_state() {
        let err = transition(ApplicationState::Submitted, ApplicationEvent::Approved).expect_err("must review first");
        assert_eq!(err.to_string(), "cannot approve an application that is submitted");
        assert_eq!(err.reason_code(), "ILLEGAL_TRANSITION");
    }

    #[test]
    fn terminal_states_accept_no_event() {
        for &state in ApplicationState::ALL.iter().filter(|s| s.is_terminal()) {
            for &event in ApplicationEvent::ALL {
                assert!(transition(state, event).is_err(), "{state} {event}");
            }
        }
    }

    #[test]
    fn exactly_ten_transitions_are_legal() {
        let legal = ApplicationState::ALL
            .iter()
            .flat_map(|&s| ApplicationEvent::ALL.iter().map(move |&e| (s, e)))
            .filter(|&(s, e)| transition(s, e).is_ok())
            .count();
        assert_eq!(legal, 10);
    }

    #[test]
    fn strings_round_trip() {
        for &s in ApplicationState::ALL {
            assert_eq!(s.as_str().parse::<ApplicationState>(), Ok(s));
        }
        assert_eq!(ApplicationState::UnderReview.as_str(), "under_review");
        assert_eq!("renewal".parse::<ApplicationKind>(), Ok(ApplicationKind::Renewal));
        let err = "lost".parse::<ApplicationKind>().expect_err("unknown");
        assert_eq!(
            err.to_string(),
            "unknown application kind \"lost\", expected one of renewal, replacement"
        );
    }
}
