//! Stored rows as the contract shows them.

use idcard_db::DbError;
use idcard_domain::{ApplicationState, CitizenId, Stage};
use idcard_proto::v1 as pb;
use idcard_server::deadline::Window;
use idcard_server::wire::{self, enums};

use crate::store::deadlines::{DueRow, ExtensionRow};
use crate::store::{ApplicationRow, Details, EventRow, Listed};

/// The whole application for the acceptance point. The fingerprints are not shown: only
/// the message to the domicile bureau carries them.
pub fn application(
    row: &ApplicationRow,
    details: Details,
    history: &[EventRow],
    extension: &ExtensionRow,
) -> Result<pb::Application, DbError> {
    let submission = details.submission;
    let (rejection_reasons, rejection_contact) = match details.rejection {
        Some(r) => (r.reasons, r.contact),
        None => (Vec::new(), None),
    };
    Ok(pb::Application {
        application_id: row.application_id.to_string(),
        receipt_number: row.receipt_number.clone(),
        kind: enums::kind_to_wire(row.kind()?).into(),
        state: enums::state_to_wire(row.state()?).into(),
        acceptance_point_code: row.acceptance_point_code.clone(),
        applicant: submission.applicant.map(|applicant| pb::Applicant {
            fingerprints: Vec::new(),
            ..applicant
        }),
        guardian: submission.guardian,
        documents: submission.documents,
        fee: submission.fee,
        accepted_at: Some(wire::ms_to_timestamp(row.accepted_at_ms)),
        due_date: Some(wire::date_to_wire(due_date(row)?)),
        issuance: details.issuance,
        rejection_reasons,
        rejection_contact,
        collection: details.collection,
        deadline_extension: deadline_extension(extension, due_date(row)?)?,
        history: history
            .iter()
            .map(|e| {
                let state = e
                    .state
                    .parse()
                    .map_err(|_| DbError::Config(format!("stored state {:?} is unknown", e.state)))?;
                Ok(pb::StatusEvent {
                    state: enums::state_to_wire(state).into(),
                    at: Some(wire::ms_to_timestamp(e.at_ms)),
                    actor: e.actor.clone(),
                    note: e.note.clone(),
                })
            })
            .collect::<Result<_, DbError>>()?,
    })
}

pub fn summary(listed: &Listed) -> Result<pb::ApplicationSummary, DbError> {
    let row = &listed.row;
    Ok(pb::ApplicationSummary {
        application_id: row.application_id.to_string(),
        receipt_number: row.receipt_number.clone(),
        kind: enums::kind_to_wire(row.kind()?).into(),
        state: enums::state_to_wire(row.state()?).into(),
        acceptance_point_code: row.acceptance_point_code.clone(),
        citizen_id_masked: masked(&listed.citizen_id),
        accepted_at: Some(wire::ms_to_timestamp(row.accepted_at_ms)),
        due_date: Some(wire::date_to_wire(due_date(row)?)),
    })
}

pub fn due_date(row: &ApplicationRow) -> Result<time::Date, DbError> {
    stored_date(&row.due_date)
}

fn stored_date(text: &str) -> Result<time::Date, DbError> {
    wire::date_from_text(text).ok_or_else(|| DbError::Config(format!("stored due date {text:?} is not a date")))
}

/// The extension of an application now due on `due`, if it has one.
pub fn deadline_extension(row: &ExtensionRow, due: time::Date) -> Result<Option<pb::DeadlineExtension>, DbError> {
    let (Some(from), Some(at_ms)) = (&row.deadline_extended_from, row.deadline_extended_at_ms) else {
        return Ok(None);
    };
    let from = stored_date(from)?;
    Ok(Some(pb::DeadlineExtension {
        previous_due_date: Some(wire::date_to_wire(from)),
        days: i32::try_from((due - from).whole_days()).unwrap_or(0),
        reason: row.deadline_extension_reason.clone().unwrap_or_default(),
        extended_by: row.deadline_extended_by.clone().unwrap_or_default(),
        extended_at: Some(wire::ms_to_timestamp(at_ms)),
    }))
}

/// An open application against its 60-day limit, as `ListOverdue` shows it.
pub fn overdue(row: &DueRow, window: &Window) -> Result<pb::OverdueApplication, DbError> {
    let state: ApplicationState = row
        .state
        .parse()
        .map_err(|_| DbError::Config(format!("stored state {:?} is unknown", row.state)))?;
    let due = stored_date(&row.due_date)?;
    Ok(pb::OverdueApplication {
        application_id: row.application_id.to_string(),
        receipt_number: row.receipt_number.clone(),
        state: enums::state_to_wire(state).into(),
        acceptance_point_code: row.acceptance_point_code.clone(),
        deadline: Some(window.deadline(Stage::Application, due)),
        extension: deadline_extension(&row.extension, due)?,
    })
}

/// A stored citizen id, masked; stored ids were valid when written.
pub fn masked(citizen_id: &str) -> String {
    CitizenId::parse(citizen_id, time::Date::MAX)
        .map(|id| id.masked())
        .unwrap_or_else(|_| "*".repeat(citizen_id.len()))
}
