//! A stored loss report as the contract shows it: the citizen id masked, nothing else
//! personal (no name, no circumstance).

use idcard_db::DbError;
use idcard_domain::LossReportState;
use idcard_proto::v1 as pb;
use idcard_server::wire;

use super::input::{kind_to_wire, state_to_wire};
use crate::store::EventRow;
use crate::store::loss_reports::Opened;
use crate::view::masked;

pub fn report(opened: &Opened, history: &[EventRow]) -> Result<pb::LossReport, DbError> {
    let row = &opened.row;
    Ok(pb::LossReport {
        report_number: row.report_number.clone(),
        state: state_to_wire(row.state()?).into(),
        kind: kind_to_wire(row.kind()?).into(),
        citizen_id_masked: masked(&opened.citizen_id),
        reported_at: Some(wire::ms_to_timestamp(row.reported_at_ms)),
        taken_at: row.acceptance_point_code.clone(),
        same_as_report_number: row.same_as_report_number.clone().unwrap_or_default(),
        history: history
            .iter()
            .map(|event| {
                let state: LossReportState = event
                    .state
                    .parse()
                    .map_err(|_| DbError::Config(format!("stored loss report state {:?} is unknown", event.state)))?;
                Ok(pb::LossReportEvent {
                    state: state_to_wire(state).into(),
                    at: Some(wire::ms_to_timestamp(event.at_ms)),
                    note: event.note.clone(),
                })
            })
            .collect::<Result<_, DbError>>()?,
    })
}
