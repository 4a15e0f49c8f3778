//! `idcard.v1.ReviewService`: what a reviewer at the domicile bureau does.
//!
//! The auth layer has checked the caller's role; here the caller's jurisdictions apply:
//! a list outside them, or an import with a resident outside them, is
//! `PERMISSION_DENIED`; a case outside them is `NOT_FOUND`, exactly as an unknown one.

use std::sync::Arc;

use idcard_audit::Entry;
use idcard_db::now_ms;
use idcard_domain::CitizenId;
use idcard_proto::v1::review_service_server::ReviewService;
use idcard_proto::v1::{
    ApproveApplicationRequest, ApproveApplicationResponse, ImportResidentsRequest, ImportResidentsResponse,
    ListPendingApplicationsRequest, ListPendingApplicationsResponse, RejectApplicationRequest,
    RejectApplicationResponse, ReviewCaseSummary, ReviewServiceGetApplicationRequest,
    ReviewServiceGetApplicationResponse, ReviewServiceListOverdueRequest, ReviewServiceListOverdueResponse,
};
use idcard_server::idempotent::{self, check_request_id};
use idcard_server::status::{self, FieldError, invalid_argument};
use idcard_server::trace::application_span;
use idcard_server::wire::{date_to_wire, ms_to_timestamp, page_after, page_size, parse_uuid, required_text, today_cst};
use tonic::{Request, Response, Status};
use tracing::Instrument;
use uuid::Uuid;

use crate::actor::Actor;
use crate::card_status::{self, Context};
use crate::decision::Decider;
use crate::register::{ImportRow, check_import};
use crate::store::{self, Upserted};
use crate::wire::{kind_to_wire, optional_text};
use crate::{State, audit, decision, overdue};

const DEFAULT_PAGE_SIZE: u32 = 50;
const MAX_PAGE_SIZE: u32 = 500;
/// Bytes of field names and descriptions shown for one import at most.
const IMPORT_ERROR_BYTES_SHOWN: usize = 3_000;
/// Rows outside the caller's jurisdictions named in a refused import at most.
const OUT_OF_SCOPE_ROWS_SHOWN: usize = 20;

pub struct Handlers {
    state: Arc<State>,
}

impl Handlers {
    pub fn new(state: Arc<State>) -> Self {
        Handlers { state }
    }
}

#[tonic::async_trait]
impl ReviewService for Handlers {
    #[tracing::instrument(skip_all, fields(jurisdiction = %request.get_ref().jurisdiction_code))]
    async fn list_pending_applications(
        &self,
        request: Request<ListPendingApplicationsRequest>,
    ) -> Result<Response<ListPendingApplicationsResponse>, Status> {
        let actor = Actor::of(&request);
        let request = request.into_inner();
        let mut errors = Vec::new();
        let jurisdiction = check_jurisdiction(&request.jurisdiction_code)
            .map_err(|e| errors.push(e))
            .ok();
        let size = page_size("page_size", request.page_size, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
            .map_err(|e| errors.push(e))
            .ok();
        let after = page_after("page_token", &request.page_token)
            .map_err(|e| errors.push(e))
            .ok();
        let (Some(jurisdiction), Some(size), Some(after)) = (jurisdiction, size, after) else {
            return Err(invalid_argument(&errors));
        };
        if !actor.can_see_region(jurisdiction) {
            return Err(Status::permission_denied(format!(
                "jurisdiction {jurisdiction} is outside the caller's jurisdictions"
            )));
        }
        let (lowest, highest) = jurisdiction_range(jurisdiction);
        let size = usize::try_from(size).unwrap_or(usize::MAX);
        let limit = i64::try_from(size).unwrap_or(i64::MAX).saturating_add(1);
        let keys = self.state.keys.current();
        let mut rows = store::list_pending(&self.state.db, &keys, &lowest, &highest, after.unwrap_or(0), limit)
            .await
            .map_err(status::from_db)?;
        let next_page_token = if rows.len() > size {
            rows.truncate(size);
            rows.last().map(|row| row.seq.to_string()).unwrap_or_default()
        } else {
            String::new()
        };
        let today = today_cst();
        let applications = rows
            .into_iter()
            .map(|row| ReviewCaseSummary {
                application_id: row.application_id.to_string(),
                receipt_number: row.receipt_number,
                kind: kind_to_wire(row.kind).into(),
                citizen_id_masked: CitizenId::parse(&row.citizen_id, today)
                    .map(|id| id.masked())
                    .unwrap_or_else(|_| "*".repeat(18)),
                domicile_region_code: row.domicile_region_code,
                received_at: Some(ms_to_timestamp(row.received_at_ms)),
                review_due_date: Some(date_to_wire(row.review_due_date)),
                finding_count: row.finding_count,
            })
            .collect();
        Ok(Response::new(ListPendingApplicationsResponse {
            applications,
            next_page_token,
        }))
    }

    #[tracing::instrument(skip_all, fields(application_id = %request.get_ref().application_id))]
    async fn get_application(
        &self,
        request: Request<ReviewServiceGetApplicationRequest>,
    ) -> Result<Response<ReviewServiceGetApplicationResponse>, Status> {
        let actor = Actor::of(&request);
        let application_id =
            parse_uuid("application_id", &request.get_ref().application_id).map_err(|e| invalid_argument(&[e]))?;
        let keys = self.state.keys.current();
        // A write transaction: the read of personal data is audited with it.
        let mut tx = self.state.db.begin().await.map_err(status::from_db)?;
        let case = decision::find_case(&mut tx, &keys, &actor, application_id).await?;
        let review_case = decision::review_case(&mut tx, &keys, &case).await?;
        audit::record(
            &mut tx,
            Entry {
                actor: actor.name(),
                role: actor.role(),
                action: audit::READ,
                target: &audit::application(application_id),
                detail: "",
            },
        )
        .await?;
        tx.commit().await.map_err(status::from_db)?;
        Ok(Response::new(ReviewServiceGetApplicationResponse {
            review_case: Some(review_case),
        }))
    }

    #[tracing::instrument(skip_all, fields(application_id = %request.get_ref().application_id))]
    async fn approve_application(
        &self,
        request: Request<ApproveApplicationRequest>,
    ) -> Result<Response<ApproveApplicationResponse>, Status> {
        let actor = Actor::of(&request);
        let request = request.into_inner();
        let mut errors = Vec::new();
        check_request_id(&request.request_id).unwrap_or_else(|e| errors.push(e));
        let application_id = parse_uuid("application_id", &request.application_id)
            .map_err(|e| errors.push(e))
            .ok();
        let reviewer = recorded_reviewer(&actor, &request.reviewer, &mut errors);
        let note = optional_text("note", &request.note, 500)
            .map_err(|e| errors.push(e))
            .ok();
        let (Some(application_id), Some(reviewer), Some(note)) = (application_id, reviewer, note) else {
            return Err(invalid_argument(&errors));
        };
        if !errors.is_empty() {
            return Err(invalid_argument(&errors));
        }
        decision::check_visible(&self.state.db, &actor, application_id).await?;
        let keys = self.state.keys.current();
        let decider = Decider {
            actor: &actor,
            reviewer: &reviewer,
        };
        let trace = store::trace::of(&self.state.db, application_id)
            .await
            .map_err(status::from_db)?;
        let (response, new) = idempotent::run(
            &self.state.db,
            &keys,
            "idcard.v1.ReviewService/ApproveApplication",
            &request.request_id,
            &request,
            async |tx| decision::approve(tx, &keys, &self.state.publisher, &decider, application_id, &note).await,
        )
        .instrument(application_span(crate::SERVICE, "ApproveApplication", trace.as_deref()))
        .await?;
        if new {
            self.state.relay.wake();
            tracing::info!("application approved");
        }
        Ok(Response::new(response))
    }

    #[tracing::instrument(skip_all, fields(application_id = %request.get_ref().application_id))]
    async fn reject_application(
        &self,
        request: Request<RejectApplicationRequest>,
    ) -> Result<Response<RejectApplicationResponse>, Status> {
        let actor = Actor::of(&request);
        let request = request.into_inner();
        let mut errors = Vec::new();
        check_request_id(&request.request_id).unwrap_or_else(|e| errors.push(e));
        let application_id = parse_uuid("application_id", &request.application_id)
            .map_err(|e| errors.push(e))
            .ok();
        let reviewer = recorded_reviewer(&actor, &request.reviewer, &mut errors);
        let rejection = decision::check_rejection(&request, &mut errors);
        let (Some(application_id), Some(reviewer)) = (application_id, reviewer) else {
            return Err(invalid_argument(&errors));
        };
        if !errors.is_empty() {
            return Err(invalid_argument(&errors));
        }
        decision::check_visible(&self.state.db, &actor, application_id).await?;
        let keys = self.state.keys.current();
        let decider = Decider {
            actor: &actor,
            reviewer: &reviewer,
        };
        let trace = store::trace::of(&self.state.db, application_id)
            .await
            .map_err(status::from_db)?;
        let (response, new) = idempotent::run(
            &self.state.db,
            &keys,
            "idcard.v1.ReviewService/RejectApplication",
            &request.request_id,
            &request,
            async |tx| decision::reject(tx, &keys, &decider, application_id, rejection).await,
        )
        .instrument(application_span(crate::SERVICE, "RejectApplication", trace.as_deref()))
        .await?;
        if new {
            self.state.relay.wake();
            tracing::info!(
                reasons = response.review_case.as_ref().map_or(0, |c| c.rejection_reasons.len()),
                "application rejected"
            );
        }
        Ok(Response::new(response))
    }

    #[tracing::instrument(skip_all, fields(rows = request.get_ref().residents.len()))]
    async fn import_residents(
        &self,
        request: Request<ImportResidentsRequest>,
    ) -> Result<Response<ImportResidentsResponse>, Status> {
        let actor = Actor::of(&request);
        let request = request.into_inner();
        let mut errors = Vec::new();
        check_request_id(&request.request_id).unwrap_or_else(|e| errors.push(e));
        let rows = match check_import(&request.residents, today_cst()) {
            Ok(rows) => Some(rows),
            Err(row_errors) => {
                errors.extend(row_errors);
                None
            }
        };
        let Some(rows) = rows.filter(|_| errors.is_empty()) else {
            return Err(import_errors(errors));
        };
        check_import_scope(&actor, &rows)?;
        let keys = self.state.keys.current();
        let (response, _) = idempotent::run(
            &self.state.db,
            &keys,
            "idcard.v1.ReviewService/ImportResidents",
            &request.request_id,
            &request,
            async |tx| {
                let now = now_ms();
                let cx = Context {
                    keys: &keys,
                    publisher: &self.state.publisher,
                    actor: actor.name(),
                    role: actor.role(),
                    at_ms: now,
                };
                let mut response = ImportResidentsResponse::default();
                let mut errors = Vec::new();
                for (i, row) in rows.iter().enumerate() {
                    match store::upsert_resident(tx, &keys, &row.resident, now)
                        .await
                        .map_err(status::from_db)?
                    {
                        Upserted::Inserted => response.inserted += 1,
                        Upserted::Updated => response.updated += 1,
                    }
                    let imported = store::upsert_imported_cards(tx, &keys, &row.resident.citizen_id, &row.cards, now)
                        .await
                        .map_err(status::from_db)?;
                    errors.extend(imported.foreign.into_iter().map(|j| {
                        FieldError::new(
                            format!("residents[{i}].cards[{j}].card_id"),
                            "is the id of another resident's card",
                        )
                    }));
                    // Every card written is published, so that seeded cards verify.
                    for (j, version) in imported.versions {
                        card_status::publish(tx, &cx, &row.cards[j], &row.resident.name, version).await?;
                    }
                }
                // Nothing is loaded unless every row is: the transaction rolls back.
                if !errors.is_empty() {
                    return Err(import_errors(errors));
                }
                audit::record(
                    tx,
                    Entry {
                        actor: actor.name(),
                        role: actor.role(),
                        action: audit::IMPORT,
                        target: &format!("resident_import:{}", Uuid::now_v7()),
                        detail: &format!(
                            "rows:{} inserted:{} updated:{}",
                            rows.len(),
                            response.inserted,
                            response.updated
                        ),
                    },
                )
                .await?;
                Ok(response)
            },
        )
        .await?;
        tracing::info!(
            inserted = response.inserted,
            updated = response.updated,
            "household register imported"
        );
        Ok(Response::new(response))
    }

    #[tracing::instrument(skip_all, fields(jurisdiction = %request.get_ref().jurisdiction_code))]
    async fn list_overdue(
        &self,
        request: Request<ReviewServiceListOverdueRequest>,
    ) -> Result<Response<ReviewServiceListOverdueResponse>, Status> {
        let actor = Actor::of(&request);
        overdue::list(&self.state, &actor, request.get_ref())
            .await
            .map(Response::new)
    }
}

/// The reviewer recorded on a decision: the token subject. The request's free-text
/// `reviewer` counts only without a token (insecure mode), and is required then.
fn recorded_reviewer(actor: &Actor, requested: &str, errors: &mut Vec<FieldError>) -> Option<String> {
    match actor.subject() {
        Some(subject) => Some(subject.to_string()),
        None => required_text("reviewer", requested, 64)
            .map_err(|e| errors.push(e))
            .ok(),
    }
}

/// `PERMISSION_DENIED` naming the rows whose domicile is outside the caller's
/// jurisdictions; nothing is loaded then.
fn check_import_scope(actor: &Actor, rows: &[ImportRow]) -> Result<(), Status> {
    let outside: Vec<String> = rows
        .iter()
        .enumerate()
        .filter(|(_, row)| !actor.can_see_region(&row.resident.domicile_region_code))
        .map(|(i, row)| {
            format!(
                "residents[{i}].domicile_region_code {}",
                row.resident.domicile_region_code
            )
        })
        .collect();
    if outside.is_empty() {
        return Ok(());
    }
    let mut named = outside
        .iter()
        .take(OUT_OF_SCOPE_ROWS_SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if outside.len() > OUT_OF_SCOPE_ROWS_SHOWN {
        named.push_str(&format!(" and {} more", outside.len() - OUT_OF_SCOPE_ROWS_SHOWN));
    }
    Err(Status::permission_denied(format!(
        "outside the caller's jurisdictions, nothing imported: {named}"
    )))
}

/// A jurisdiction: a GB/T 2260 code or a prefix of one, 2 to 6 digits.
pub(crate) fn check_jurisdiction(code: &str) -> Result<&str, FieldError> {
    let code = code.trim();
    if (2..=6).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_digit()) {
        Ok(code)
    } else {
        Err(FieldError::new(
            "jurisdiction_code",
            format!("expected a region code or its prefix, 2 to 6 digits (\"44\", \"4401\", \"440106\"), got {code:?}"),
        ))
    }
}

/// The six-digit codes a prefix covers, lowest and highest.
fn jurisdiction_range(prefix: &str) -> (String, String) {
    let pad = 6 - prefix.len();
    (
        format!("{prefix}{}", "0".repeat(pad)),
        format!("{prefix}{}", "9".repeat(pad)),
    )
}

/// `INVALID_ARGUMENT` for an import: every error while they fit in a budget (the
/// message and its details both travel in gRPC trailers, which hyper-based peers cap
/// at 16 KiB by default; about 5 KB of errors already broke that), then one line that
/// says how many more there are.
fn import_errors(mut errors: Vec<FieldError>) -> Status {
    let mut used = 0;
    let shown = errors
        .iter()
        .take_while(|e| {
            used += e.field.len() + e.description.len();
            used <= IMPORT_ERROR_BYTES_SHOWN
        })
        .count();
    if shown < errors.len() {
        let hidden = errors.len() - shown;
        errors.truncate(shown);
        errors.push(FieldError::new(
            "residents",
            format!("{hidden} more errors not shown; fix the ones above and retry"),
        ));
    }
    invalid_argument(&errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jurisdiction_prefix_covers_its_codes() {
        assert_eq!(jurisdiction_range("44"), ("440000".to_string(), "449999".to_string()));
        assert_eq!(
            jurisdiction_range("440106"),
            ("440106".to_string(), "440106".to_string())
        );
    }
}
