//! The statutory clock at the acceptance point (DOMAIN.md "Time limits"): the card is
//! issued within 60 days of the application, and an area with poor transport may extend
//! that by at most 30 days (Art. 12).
//!
//! `ListOverdue` shows the open applications (neither collected nor rejected) of the
//! caller's points that are overdue or due soon; `ExtendApplicationDeadline` records the
//! one extension with its reason. The extension moves only this service's limit and is
//! not sent anywhere: the domicile's 5-day review and the production centre's 30 days
//! are limits of their own that the remote area does not change, and the application's
//! due date the review service was sent at acceptance is for the reviewer's information
//! only.

use idcard_auth::{ALL_SCOPE, Caller, Role};
use idcard_db::now_ms;
use idcard_domain::{ExtensionRefusal, extend_application_deadline};
use idcard_proto::v1 as pb;
use idcard_server::deadline::{self, Cursor, Window};
use idcard_server::status::{Reason, from_db, invalid_argument, refused};
use idcard_server::{idempotent, wire};
use tonic::{Request, Response, Status};

use crate::api::{Acceptance, Key, caller_of, current, may_see, outside_scope};
use crate::audit::{self, Actor};
use crate::store::deadlines::{self as store, Extension, Points};
use crate::submission::point_code;
use crate::view;

const DEFAULT_PAGE_SIZE: u32 = 50;
const MAX_PAGE_SIZE: u32 = 500;
/// The longest extension reason, in characters.
pub const MAX_REASON_CHARS: usize = 500;

impl Acceptance {
    /// Lists carry no personal data (ids, receipt numbers, dates, the extension's
    /// reason), so they are not audited, as `ListApplications` is not.
    #[tracing::instrument(skip_all)]
    pub(crate) async fn list_overdue_applications(
        &self,
        request: Request<pb::AcceptanceServiceListOverdueRequest>,
    ) -> Result<Response<pb::AcceptanceServiceListOverdueResponse>, Status> {
        let caller = caller_of(&request);
        let request = request.into_inner();
        let mut errors = Vec::new();
        let point = match request.acceptance_point_code.trim() {
            "" => None,
            code => point_code("acceptance_point_code", code)
                .map_err(|e| errors.push(e))
                .ok(),
        };
        let within = deadline::due_within_days("due_within_days", request.due_within_days)
            .map_err(|e| errors.push(e))
            .ok();
        let limit = wire::page_size("page_size", request.page_size, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
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
        let points = match point {
            Some(point) if !may_see(caller.as_ref(), &point) => return Err(outside_scope(&point)),
            Some(point) => Points::Only(vec![point]),
            None => visible_points(caller.as_ref()),
        };
        let window = Window::new(wire::today_cst(), within);
        let mut tx = self.db.begin_read().await.map_err(from_db)?;
        // One more than asked for tells whether another page follows.
        let mut rows = store::list_due(&mut tx, &points, &window, &after, limit + 1)
            .await
            .map_err(from_db)?;
        drop(tx);
        let next_page_token = if rows.len() > limit as usize {
            rows.truncate(limit as usize);
            rows.last()
                .map(|row| Cursor::token(&row.due_date, row.seq))
                .unwrap_or_default()
        } else {
            String::new()
        };
        let applications = rows
            .iter()
            .map(|row| view::overdue(row, &window))
            .collect::<Result<_, _>>()
            .map_err(from_db)?;
        Ok(Response::new(pb::AcceptanceServiceListOverdueResponse {
            applications,
            next_page_token,
        }))
    }

    /// Validates, then in one transaction: the domain's rule, the new due date with the
    /// reason and who and when, a history line and an audit entry. A repeated request id
    /// returns the first answer; a refusal is FAILED_PRECONDITION with the domain's
    /// reason code.
    #[tracing::instrument(skip_all, fields(application_id = %request.get_ref().application_id))]
    pub(crate) async fn extend_deadline(
        &self,
        request: Request<pb::ExtendApplicationDeadlineRequest>,
    ) -> Result<Response<pb::ExtendApplicationDeadlineResponse>, Status> {
        let caller = caller_of(&request);
        let request = request.into_inner();
        let mut errors = Vec::new();
        idempotent::check_request_id(&request.request_id).unwrap_or_else(|e| errors.push(e));
        let application_id = wire::parse_uuid("application_id", &request.application_id)
            .map_err(|e| errors.push(e))
            .ok();
        let reason = wire::required_text("reason", &request.reason, MAX_REASON_CHARS)
            .map_err(|e| errors.push(e))
            .ok();
        let actor = Actor::clerk(caller.as_ref(), &request.clerk)
            .map_err(|e| errors.push(e))
            .ok();
        let (Some(application_id), Some(reason), Some(actor)) = (application_id, reason, actor) else {
            return Err(invalid_argument(&errors));
        };
        if !errors.is_empty() {
            return Err(invalid_argument(&errors));
        }
        let key = Key::Id(application_id);
        self.check_visible(&key, caller.as_ref()).await?;
        let keys = self.keys.current();
        let (response, _) = idempotent::run(
            &self.db,
            &keys,
            "ExtendApplicationDeadline",
            &request.request_id,
            &request,
            async |tx| {
                let row = key.find(tx, caller.as_ref()).await?;
                let state = row.state().map_err(from_db)?;
                let due = view::due_date(&row).map_err(from_db)?;
                let extended = store::extension_of(tx, row.application_id)
                    .await
                    .map_err(from_db)?
                    .deadline_extended_at_ms
                    .is_some();
                let new_due = extend_application_deadline(state, due, extended, wire::today_cst()).map_err(refusal)?;
                let (from, to) = (wire::date_to_text(due), wire::date_to_text(new_due));
                let now = now_ms();
                let recorded = store::extend(
                    tx,
                    &Extension {
                        application_id,
                        from: &from,
                        to: &to,
                        at_ms: now,
                        by: &actor.subject,
                        reason: &reason,
                    },
                )
                .await
                .map_err(from_db)?;
                if !recorded {
                    return Err(Status::aborted(
                        "the application changed while the extension was recorded; retry",
                    ));
                }
                let note = format!("deadline extended from {from} to {to} (area with poor transport): {reason}");
                crate::store::record_step(tx, application_id, state, now, &actor.subject, &note)
                    .await
                    .map_err(from_db)?;
                // The audit entry carries dates, not the free-text reason.
                audit::record(
                    tx,
                    &actor,
                    audit::EXTEND_DEADLINE,
                    application_id,
                    &format!("due {from} -> {to}"),
                )
                .await
                .map_err(from_db)?;
                tracing::info!(%application_id, due = %to, "application deadline extended");
                Ok(pb::ExtendApplicationDeadlineResponse {
                    application: Some(current(tx, &keys, application_id).await?),
                })
            },
        )
        .await?;
        Ok(Response::new(response))
    }
}

/// The points a list covers without naming one: every point for auditors, a clerk with
/// the `*` scope, and calls without an auth layer; otherwise the caller's own points.
fn visible_points(caller: Option<&Caller>) -> Points {
    let Some(caller) = caller else {
        return Points::All;
    };
    let everywhere = caller.role() == Role::Auditor
        || (caller.role() == Role::Clerk && caller.scope().iter().any(|entry| entry == ALL_SCOPE));
    if everywhere {
        return Points::All;
    }
    Points::Only(
        caller
            .scope()
            .iter()
            .filter(|point| caller.can_see_point(point))
            .cloned()
            .collect(),
    )
}

fn refusal(refusal: ExtensionRefusal) -> Status {
    refused(&[Reason {
        code: refusal.reason_code().to_string(),
        message: refusal.to_string(),
    }])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(role: Role, scope: &[&str]) -> Caller {
        Caller::synthetic(role, scope.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn a_clerk_lists_their_own_points_and_an_auditor_every_point() {
        assert_eq!(
            visible_points(Some(&caller(Role::Clerk, &["440305-01", ""]))),
            Points::Only(vec!["440305-01".to_string()])
        );
        assert_eq!(visible_points(Some(&caller(Role::Clerk, &["*"]))), Points::All);
        assert_eq!(visible_points(Some(&caller(Role::Auditor, &[]))), Points::All);
        assert_eq!(
            visible_points(Some(&caller(Role::Reviewer, &["*"]))),
            Points::Only(Vec::new())
        );
        assert_eq!(visible_points(None), Points::All);
    }
}
