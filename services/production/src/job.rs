//! A production job: the card being made for one approved application, and where it
//! stands. Every step is checked against the domain's application state machine.

use idcard_domain::{ApplicationEvent, ApplicationState, CitizenId, TransitionError, transition};
use idcard_proto::v1 as pb;
use idcard_server::wire::{date_to_wire, ms_to_timestamp};
use uuid::Uuid;

/// Refusal code: a check recorded for a job that is not being produced.
pub const JOB_NOT_IN_PRODUCTION: &str = "JOB_NOT_IN_PRODUCTION";
/// Refusal code: a dispatch of a job whose card has not passed its check.
pub const JOB_NOT_CHECKED: &str = "JOB_NOT_CHECKED";

/// Where a job stands, as stored (`state` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    /// Being produced (first time or remade), waiting for its check.
    InProduction,
    /// Checked and ready to dispatch.
    Passed,
    Dispatched,
}

impl JobState {
    pub const fn as_str(self) -> &'static str {
        match self {
            JobState::InProduction => "in_production",
            JobState::Passed => "passed",
            JobState::Dispatched => "dispatched",
        }
    }

    pub fn parse(text: &str) -> Option<JobState> {
        [JobState::InProduction, JobState::Passed, JobState::Dispatched]
            .into_iter()
            .find(|s| s.as_str() == text)
    }

    /// The application's state while its job is in this state.
    pub fn application_state(self) -> ApplicationState {
        match self {
            JobState::InProduction => ApplicationState::InProduction,
            JobState::Passed => ApplicationState::Produced,
            JobState::Dispatched => ApplicationState::Dispatched,
        }
    }

    fn from_application_state(state: ApplicationState) -> Option<JobState> {
        match state {
            ApplicationState::InProduction => Some(JobState::InProduction),
            ApplicationState::Produced => Some(JobState::Passed),
            ApplicationState::Dispatched => Some(JobState::Dispatched),
            _ => None,
        }
    }

    /// The state after a quality check: a pass makes the card produced; a failure remakes
    /// it, so the job is in production again.
    pub fn after_check(self, passed: bool) -> Result<JobState, TransitionError> {
        let from = self.application_state();
        let next = if passed {
            transition(from, ApplicationEvent::QualityCheckPassed)?
        } else {
            transition(
                transition(from, ApplicationEvent::QualityCheckFailed)?,
                ApplicationEvent::Remade,
            )?
        };
        Ok(JobState::from_application_state(next).expect("a quality check leads to a production state"))
    }

    /// The state after the card is sent to the acceptance point.
    pub fn after_dispatch(self) -> Result<JobState, TransitionError> {
        let next = transition(self.application_state(), ApplicationEvent::Dispatched)?;
        Ok(JobState::from_application_state(next).expect("a dispatch leads to a production state"))
    }

    pub fn to_wire(self) -> pb::JobState {
        match self {
            JobState::InProduction => pb::JobState::InProduction,
            JobState::Passed => pb::JobState::Passed,
            JobState::Dispatched => pb::JobState::Dispatched,
        }
    }

    /// A list filter: `None` for unspecified (every state), `Err(value)` for a value this
    /// version does not know.
    pub fn filter_from_wire(value: i32) -> Result<Option<JobState>, i32> {
        match pb::JobState::try_from(value) {
            Ok(pb::JobState::Unspecified) => Ok(None),
            Ok(pb::JobState::InProduction) => Ok(Some(JobState::InProduction)),
            Ok(pb::JobState::Passed) => Ok(Some(JobState::Passed)),
            Ok(pb::JobState::Dispatched) => Ok(Some(JobState::Dispatched)),
            Err(_) => Err(value),
        }
    }
}

/// One check of a produced card.
#[derive(Debug, Clone)]
pub struct QualityCheck {
    /// 1 for the first card, n for the card made after n - 1 failures.
    pub attempt: i32,
    pub passed: bool,
    pub defects: Vec<String>,
    pub operator: String,
    pub at_ms: i64,
}

/// A job as the store returns it.
#[derive(Debug, Clone)]
pub struct Job {
    pub seq: i64,
    pub job_id: Uuid,
    pub application_id: Uuid,
    pub receipt_number: String,
    pub acceptance_point_code: String,
    /// The acceptance service to report to (a peer name).
    pub origin: String,
    pub citizen_id: CitizenId,
    pub issuance: Option<pb::Issuance>,
    pub state: JobState,
    pub remake_count: i32,
    pub tracking_number: Option<String>,
    pub received_at_ms: i64,
    pub production_due_date: time::Date,
    pub dispatched_at_ms: Option<i64>,
    /// In attempt order.
    pub checks: Vec<QualityCheck>,
}

impl Job {
    /// The number of the next check: one more than the checks so far.
    pub fn next_attempt(&self) -> i32 {
        self.checks.last().map_or(1, |c| c.attempt + 1)
    }

    pub fn to_wire(&self) -> pb::ProductionJob {
        pb::ProductionJob {
            job_id: self.job_id.to_string(),
            application_id: self.application_id.to_string(),
            receipt_number: self.receipt_number.clone(),
            state: self.state.to_wire().into(),
            acceptance_point_code: self.acceptance_point_code.clone(),
            citizen_id_masked: self.citizen_id.masked(),
            issuance: self.issuance.clone(),
            remake_count: self.remake_count,
            checks: self
                .checks
                .iter()
                .map(|c| pb::QualityCheck {
                    passed: c.passed,
                    defects: c.defects.clone(),
                    operator: c.operator.clone(),
                    at: Some(ms_to_timestamp(c.at_ms)),
                })
                .collect(),
            received_at: Some(ms_to_timestamp(self.received_at_ms)),
            production_due_date: Some(date_to_wire(self.production_due_date)),
            tracking_number: self.tracking_number.clone().unwrap_or_default(),
            dispatched_at: self.dispatched_at_ms.map(ms_to_timestamp),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_check_keeps_the_job_in_production() {
        assert_eq!(JobState::InProduction.after_check(false), Ok(JobState::InProduction));
    }

    #[test]
    fn a_passed_check_makes_the_job_passed() {
        assert_eq!(JobState::InProduction.after_check(true), Ok(JobState::Passed));
    }

    #[test]
    fn only_a_job_in_production_is_checked() {
        for state in [JobState::Passed, JobState::Dispatched] {
            assert!(state.after_check(true).is_err());
            assert!(state.after_check(false).is_err());
        }
    }

    #[test]
    fn only_a_passed_job_is_dispatched() {
        assert_eq!(JobState::Passed.after_dispatch(), Ok(JobState::Dispatched));
        assert!(JobState::InProduction.after_dispatch().is_err());
        assert!(JobState::Dispatched.after_dispatch().is_err());
    }

    #[test]
    fn states_round_trip_through_storage() {
        for state in [JobState::InProduction, JobState::Passed, JobState::Dispatched] {
            assert_eq!(JobState::parse(state.as_str()), Some(state));
        }
        assert_eq!(JobState::parse("produced"), None);
    }
}
