//! The statutory clock at the domicile bureau: the domicile reviews and signs off a
//! remote application within 5 days of receiving it (DOMAIN.md "Time limits"). Only
//! pending cases count; a decided case's limit has been met or missed for good.
//!
//! A caller sees the cases of their jurisdictions only: naming a jurisdiction outside
//! them is `PERMISSION_DENIED`, as for the pending list; naming none lists all of theirs.
//! The rows hold no personal data, so the list is not audited, as the pending list is
//! not.
//!
//! The acceptance side's extension of the 60-day limit (Art. 12) is not told to this
//! service: it moves neither this 5-day limit nor anything the reviewer decides.

use idcard_domain::Stage;
use idcard_proto::v1::{OverdueReviewCase, ReviewServiceListOverdueRequest, ReviewServiceListOverdueResponse};
use idcard_server::deadline::{self, Cursor, Window};
use idcard_server::status::{self, invalid_argument};
use idcard_server::wire::{page_size, today_cst};
use tonic::Status;

use crate::State;
use crate::actor::Actor;
use crate::case::CaseState;
use crate::service::check_jurisdiction;
use crate::store::deadlines::{self as store, Regions};

const DEFAULT_PAGE_SIZE: u32 = 50;
const MAX_PAGE_SIZE: u32 = 500;

/// Pending cases of the caller's jurisdictions that are overdue or due within the
/// request's window, earliest due first.
pub async fn list(
    state: &State,
    actor: &Actor,
    request: &ReviewServiceListOverdueRequest,
) -> Result<ReviewServiceListOverdueResponse, Status> {
    let mut errors = Vec::new();
    let jurisdiction = match request.jurisdiction_code.trim() {
        "" => None,
        code => check_jurisdiction(code).map_err(|e| errors.push(e)).ok(),
    };
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
    if !errors.is_empty() {
        return Err(invalid_argument(&errors));
    }
    let regions = match jurisdiction {
        Some(code) if !actor.can_see_region(code) => {
            return Err(Status::permission_denied(format!(
                "jurisdiction {code} is outside the caller's jurisdictions"
            )));
        }
        Some(code) => Regions::Within(prefix_range(code).into_iter().collect()),
        None => match actor.jurisdictions() {
            None => Regions::All,
            Some(prefixes) => Regions::Within(prefixes.iter().filter_map(|p| prefix_range(p)).collect()),
        },
    };
    let window = Window::new(today_cst(), within);
    let mut tx = state.db.begin_read().await.map_err(status::from_db)?;
    // One more than asked for tells whether another page follows.
    let mut rows = store::list_due(&mut tx, &regions, &window, &after, limit + 1)
        .await
        .map_err(status::from_db)?;
    drop(tx);
    let next_page_token = if rows.len() > limit as usize {
        rows.truncate(limit as usize);
        rows.last()
            .map(|row| Cursor::token(&row.due_text, row.seq))
            .unwrap_or_default()
    } else {
        String::new()
    };
    let cases = rows
        .into_iter()
        .map(|row| {
            let state = CaseState::parse(&row.state).ok_or_else(|| Status::internal("stored case state is unknown"))?;
            Ok(OverdueReviewCase {
                application_id: row.application_id.to_string(),
                receipt_number: row.receipt_number,
                state: state.to_wire().into(),
                acceptance_point_code: row.acceptance_point_code,
                domicile_region_code: row.domicile_region_code,
                deadline: Some(window.deadline(Stage::Review, row.review_due_date)),
            })
        })
        .collect::<Result<_, Status>>()?;
    Ok(ReviewServiceListOverdueResponse { cases, next_page_token })
}

/// The six-digit codes a jurisdiction prefix (1 to 6 digits) covers, lowest and highest;
/// `None` for anything else, which covers no stored code.
fn prefix_range(prefix: &str) -> Option<(String, String)> {
    if !(1..=6).contains(&prefix.len()) || !prefix.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let pad = 6 - prefix.len();
    Some((
        format!("{prefix}{}", "0".repeat(pad)),
        format!("{prefix}{}", "9".repeat(pad)),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_become_ranges_of_six_digit_codes() {
        assert_eq!(prefix_range("44"), Some(("440000".into(), "449999".into())));
        assert_eq!(prefix_range("440106"), Some(("440106".into(), "440106".into())));
        assert_eq!(prefix_range("4401061"), None);
        assert_eq!(prefix_range("44a"), None);
        assert_eq!(prefix_range(""), None);
    }
}
