//! Stored rows as the contract shows them.

use idcard_db::DbError;
use idcard_domain::CitizenId;
use idcard_proto::v1 as pb;
use idcard_server::wire::{self, enums};
use prost::Message;

use crate::store::{ApplicationRow, EventRow};

pub fn application(row: &ApplicationRow, history: &[EventRow]) -> Result<pb::Application, DbError> {
    let submission = pb::SubmitApplicationRequest::decode(row.submission.as_slice()).map_err(corrupt)?;
    let rejection = row
        .rejection
        .as_deref()
        .map(pb::Rejection::decode)
        .transpose()
        .map_err(corrupt)?;
    let (rejection_reasons, rejection_contact) = match rejection {
        Some(r) => (r.reasons, r.contact),
        None => (Vec::new(), None),
    };
    Ok(pb::Application {
        application_id: row.application_id.to_string(),
        receipt_number: row.receipt_number.clone(),
        kind: enums::kind_to_wire(row.kind()?).into(),
        state: enums::state_to_wire(row.state()?).into(),
        acceptance_point_code: row.acceptance_point_code.clone(),
        applicant: submission.applicant,
        guardian: submission.guardian,
        documents: submission.documents,
        fee: submission.fee,
        accepted_at: Some(wire::ms_to_timestamp(row.accepted_at_ms)),
        due_date: Some(wire::date_to_wire(due_date(row)?)),
        issuance: row
            .issuance
            .as_deref()
            .map(pb::Issuance::decode)
            .transpose()
            .map_err(corrupt)?,
        rejection_reasons,
        rejection_contact,
        collection: row
            .collection
            .as_deref()
            .map(pb::Collection::decode)
            .transpose()
            .map_err(corrupt)?,
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

pub fn summary(row: &ApplicationRow) -> Result<pb::ApplicationSummary, DbError> {
    Ok(pb::ApplicationSummary {
        application_id: row.application_id.to_string(),
        receipt_number: row.receipt_number.clone(),
        kind: enums::kind_to_wire(row.kind()?).into(),
        state: enums::state_to_wire(row.state()?).into(),
        acceptance_point_code: row.acceptance_point_code.clone(),
        citizen_id_masked: masked(&row.citizen_id),
        accepted_at: Some(wire::ms_to_timestamp(row.accepted_at_ms)),
        due_date: Some(wire::date_to_wire(due_date(row)?)),
    })
}

pub fn due_date(row: &ApplicationRow) -> Result<time::Date, DbError> {
    wire::date_from_text(&row.due_date)
        .ok_or_else(|| DbError::Config(format!("stored due date {:?} is not a date", row.due_date)))
}

/// A stored citizen id, masked; stored ids were valid when written.
pub fn masked(citizen_id: &str) -> String {
    CitizenId::parse(citizen_id, time::Date::MAX)
        .map(|id| id.masked())
        .unwrap_or_else(|_| "*".repeat(citizen_id.len()))
}

fn corrupt(err: prost::DecodeError) -> DbError {
    DbError::Config(format!("stored record does not decode: {err}"))
}
