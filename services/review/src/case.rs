//! A review case: an application received from an acceptance service, as stored, and
//! the decision taken on it.

use idcard_domain::ApplicationKind;
use idcard_proto::v1;
use idcard_server::wire::{date_cst_of_ms, date_to_wire, ms_to_timestamp, timestamp_to_ms};
use time::Date;
use uuid::Uuid;

use crate::wire::kind_to_wire;

/// Where a case stands at this bureau.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaseState {
    Pending,
    Approved,
    Rejected,
}

impl CaseState {
    pub fn as_str(self) -> &'static str {
        match self {
            CaseState::Pending => "pending",
            CaseState::Approved => "approved",
            CaseState::Rejected => "rejected",
        }
    }

    pub fn parse(text: &str) -> Option<CaseState> {
        match text {
            "pending" => Some(CaseState::Pending),
            "approved" => Some(CaseState::Approved),
            "rejected" => Some(CaseState::Rejected),
            _ => None,
        }
    }

    pub fn to_wire(self) -> v1::ReviewState {
        match self {
            CaseState::Pending => v1::ReviewState::Pending,
            CaseState::Approved => v1::ReviewState::Approved,
            CaseState::Rejected => v1::ReviewState::Rejected,
        }
    }
}

/// A stored case. `request` is the message as received (validated on receipt).
#[derive(Clone)]
pub struct Case {
    pub application_id: Uuid,
    pub state: CaseState,
    pub kind: ApplicationKind,
    pub citizen_id: String,
    /// Six digits: whose jurisdiction the case is in.
    pub domicile_region_code: String,
    /// Less the applicant's fingerprints, which stay sealed in the store.
    pub request: v1::ReceiveApplicationRequest,
    pub received_at_ms: i64,
    pub review_due_date: Date,
    pub issuance: Option<v1::Issuance>,
    pub rejection: Option<v1::Rejection>,
    pub reviewer: Option<String>,
}

/// Personal data does not print.
impl std::fmt::Debug for Case {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Case")
            .field("application_id", &self.application_id)
            .field("state", &self.state)
            .field("kind", &self.kind)
            .field("domicile_region_code", &self.domicile_region_code)
            .finish_non_exhaustive()
    }
}

impl Case {
    /// The day the applicant applied (China Standard Time), the date the eligibility
    /// rules are checked on.
    pub fn application_date(&self) -> Date {
        let accepted_ms = self
            .request
            .accepted_at
            .as_ref()
            .map_or(self.received_at_ms, timestamp_to_ms);
        date_cst_of_ms(accepted_ms)
    }

    /// The case as the reviewer sees it. Fingerprint templates are left out: the
    /// reviewer has no use for them.
    pub fn to_wire(&self, findings: Vec<v1::Finding>, register_record_found: bool) -> v1::ReviewCase {
        let request = &self.request;
        let applicant = request.applicant.clone().map(|mut applicant| {
            applicant.fingerprints.clear();
            applicant
        });
        let rejection = self.rejection.clone().unwrap_or_default();
        v1::ReviewCase {
            application_id: self.application_id.to_string(),
            receipt_number: request.receipt_number.clone(),
            kind: kind_to_wire(self.kind).into(),
            state: self.state.to_wire().into(),
            acceptance_point_code: request.acceptance_point_code.clone(),
            applicant,
            accepted_at: request.accepted_at,
            received_at: Some(ms_to_timestamp(self.received_at_ms)),
            review_due_date: Some(date_to_wire(self.review_due_date)),
            application_due_date: request.application_due_date,
            findings,
            register_record_found,
            issuance: self.issuance.clone(),
            rejection_reasons: rejection.reasons,
            rejection_contact: rejection.contact,
            reviewer: self.reviewer.clone().unwrap_or_default(),
        }
    }
}
