//! The statutory clock at the production centre: the card is made and dispatched within
//! 30 days of the data (DOMAIN.md "Time limits"). Jobs not yet dispatched count; a
//! remade card keeps the job's one due date (a defect found after dispatch has its own
//! 5-day limit, which this service does not see).
//!
//! The acceptance side's extension of the 60-day limit (Art. 12) is not told to this
//! service: it does not move the production centre's 30 days.

use idcard_db::Db;
use idcard_domain::Stage;
use idcard_proto::v1::{OverdueJob, ProductionServiceListOverdueRequest, ProductionServiceListOverdueResponse};
use idcard_server::deadline::{self, Cursor, Window};
use idcard_server::status::{FieldError, from_db, invalid_argument};
use idcard_server::wire::{date_from_text, page_size, today_cst};
use tonic::Status;

use crate::store::deadlines as store;

const DEFAULT_PAGE_SIZE: u32 = 50;
const MAX_PAGE_SIZE: u32 = 500;

/// A page of the list, and what the audit entry says of it.
pub struct Listed {
    pub response: ProductionServiceListOverdueResponse,
    pub detail: String,
}

/// Jobs not yet dispatched that are overdue or due within the request's window,
/// earliest due first.
pub async fn list(db: &Db, request: &ProductionServiceListOverdueRequest) -> Result<Listed, Status> {
    let mut errors: Vec<FieldError> = Vec::new();
    let within = deadline::due_within_days("due_within_days", request.due_within_days)
        .map_err(|e| errors.push(e))
        .ok();
    let limit = page_size("page_size", request.page_size, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
        .map_err(|e| errors.push(e))
        .ok();
    let after = Cursor::parse("page_token", &request.page_token)
        .map_err(|e| errors.push(e))
        .ok();
    let (Some(within), Some(limit), Some(after)) = (within, limit, after) else {
        return Err(invalid_argument(&errors));
    };
    let point = request.acceptance_point_code.trim();
    let point = (!point.is_empty()).then_some(point);
    let window = Window::new(today_cst(), within);
    let mut tx = db.begin_read().await.map_err(from_db)?;
    // One more than asked for tells whether another page follows.
    let mut rows = store::list_due(&mut tx, point, &window, &after, limit + 1)
        .await
        .map_err(from_db)?;
    drop(tx);
    let next_page_token = if rows.len() > limit as usize {
        rows.truncate(limit as usize);
        rows.last()
            .map(|row| Cursor::token(&row.due_text, row.seq))
            .unwrap_or_default()
    } else {
        String::new()
    };
    let jobs = rows
        .into_iter()
        .map(|row| {
            let due = date_from_text(&row.due_text).ok_or_else(|| Status::internal("stored due date is not a date"))?;
            Ok(OverdueJob {
                job_id: row.job_id.to_string(),
                application_id: row.application_id.to_string(),
                receipt_number: row.receipt_number,
                state: row.state.to_wire().into(),
                acceptance_point_code: row.acceptance_point_code,
                deadline: Some(window.deadline(Stage::Production, due)),
            })
        })
        .collect::<Result<Vec<_>, Status>>()?;
    let detail = format!(
        "due within {within} days, acceptance point {}, {} jobs shown",
        point.unwrap_or("any"),
        jobs.len()
    );
    Ok(Listed {
        response: ProductionServiceListOverdueResponse { jobs, next_page_token },
        detail,
    })
}
