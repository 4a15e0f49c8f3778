//! `idcard.v1.ProductionService`: what production operators do with jobs.
//!
//! The access layer admits production operators and auditors (reads only); here a
//! caller whose scope does not include this centre is refused on every method, and the
//! operator recorded for a step is the token's subject. Every change and every read is
//! audited in its transaction.

use idcard_audit::Entry;
use idcard_auth::Caller;
use idcard_crypto::{KeySource, Keyring};
use idcard_db::{Db, Tx, now_ms};
use idcard_outbox::RelayHandle;
use idcard_proto::v1::production_service_server::ProductionService;
use idcard_proto::v1::{
    DispatchCardRequest, DispatchCardResponse, GetJobRequest, GetJobResponse, ListJobsRequest, ListJobsResponse,
    ProductionServiceListOverdueRequest, ProductionServiceListOverdueResponse, ProductionStep,
    RecordQualityCheckRequest, RecordQualityCheckResponse, get_job_request,
};
use idcard_server::idempotent::{self, check_request_id};
use idcard_server::status::{FieldError, Reason, from_db, invalid_argument, refused};
use idcard_server::trace::application_span;
use idcard_server::wire::{page_after, page_size, parse_uuid, required_text};
use tonic::{Request, Response, Status};
use tracing::Instrument;
use uuid::Uuid;

use crate::job::{JOB_NOT_CHECKED, JOB_NOT_IN_PRODUCTION, Job, JobState, QualityCheck};
use crate::overdue;
use crate::report::{self, Update};
use crate::store::{self, JobFilter, JobKey};

const RECORD_QUALITY_CHECK: &str = "idcard.v1.ProductionService/RecordQualityCheck";
const DISPATCH_CARD: &str = "idcard.v1.ProductionService/DispatchCard";

const DEFAULT_PAGE_SIZE: u32 = 50;
const MAX_PAGE_SIZE: u32 = 500;
const MAX_OPERATOR_CHARS: usize = 64;
const MAX_DEFECT_CHARS: usize = 200;
const MAX_DEFECTS: usize = 32;
const MAX_TRACKING_NUMBER_CHARS: usize = 64;

pub struct Production {
    db: Db,
    keys: KeySource,
    relay: RelayHandle,
    /// This centre's name, as operators' scopes give it.
    centre: String,
}

impl Production {
    pub fn new(db: Db, keys: KeySource, relay: RelayHandle, centre: String) -> Self {
        Production {
            db,
            keys,
            relay,
            centre,
        }
    }

    /// Who is calling, once their scope is known to include this centre. Without a
    /// caller (a server without the access layer) nothing is restricted.
    fn actor<T>(&self, request: &Request<T>) -> Result<Actor, Status> {
        match request.extensions().get::<Caller>() {
            None => Ok(Actor::Unauthenticated),
            Some(caller) if caller.can_see_centre(&self.centre) => Ok(Actor::Caller(caller.clone())),
            Some(_) => Err(Status::permission_denied(format!(
                "the caller's scope does not include production centre {}",
                self.centre
            ))),
        }
    }
}

/// The person behind a call, as audit entries and quality checks name them.
enum Actor {
    Caller(Caller),
    Unauthenticated,
}

impl Actor {
    /// The operator a step is recorded under: the token's subject; without a token, what
    /// the request says (required then).
    fn operator(&self) -> Option<&str> {
        match self {
            Actor::Caller(caller) => Some(caller.subject()),
            Actor::Unauthenticated => None,
        }
    }

    /// Records `action` on `target` in `tx`, under this actor.
    async fn audit(&self, tx: &mut Tx, action: &str, target: &str, detail: &str) -> Result<(), Status> {
        let (actor, role) = match self {
            Actor::Caller(caller) => (caller.subject(), caller.role().as_str()),
            Actor::Unauthenticated => ("unauthenticated", "none"),
        };
        let entry = Entry {
            actor,
            role,
            action,
            target,
            detail,
        };
        idcard_audit::record(tx, &entry).await.map_err(from_db)?;
        Ok(())
    }
}

fn job_target(job_id: Uuid) -> String {
    format!("production_job:{job_id}")
}

/// Collects the error of `result` into `errors`.
fn field<T>(errors: &mut Vec<FieldError>, result: Result<T, FieldError>) -> Option<T> {
    result.map_err(|e| errors.push(e)).ok()
}

fn not_found(job_id: Uuid) -> Status {
    Status::not_found(format!("no job {job_id}"))
}

async fn load(tx: &mut Tx, keys: &Keyring, job_id: Uuid) -> Result<Job, Status> {
    store::find_job(tx, keys, JobKey::JobId(job_id))
        .await
        .map_err(from_db)?
        .ok_or_else(|| not_found(job_id))
}

/// A validated quality check request.
struct CheckInput {
    job_id: Uuid,
    passed: bool,
    defects: Vec<String>,
    operator: String,
}

/// The operator of a step: `authenticated` (the token's subject) when there is one, the
/// request's `operator` field otherwise.
fn operator(request_operator: &str, authenticated: Option<&str>) -> Result<String, FieldError> {
    match authenticated {
        Some(subject) => Ok(subject.to_string()),
        None => required_text("operator", request_operator, MAX_OPERATOR_CHARS),
    }
}

fn validate_check(
    request: &RecordQualityCheckRequest,
    authenticated: Option<&str>,
) -> Result<CheckInput, Vec<FieldError>> {
    let mut errors = Vec::new();
    let _ = field(&mut errors, check_request_id(&request.request_id));
    let job_id = field(&mut errors, parse_uuid("job_id", &request.job_id));
    let operator = field(&mut errors, operator(&request.operator, authenticated));
    let mut defects = Vec::with_capacity(request.defects.len());
    for (i, defect) in request.defects.iter().enumerate() {
        if let Some(defect) = field(
            &mut errors,
            required_text(&format!("defects[{i}]"), defect, MAX_DEFECT_CHARS),
        ) {
            defects.push(defect);
        }
    }
    if request.defects.len() > MAX_DEFECTS {
        errors.push(FieldError::new("defects", format!("at most {MAX_DEFECTS} defects")));
    }
    if request.passed && !request.defects.is_empty() {
        errors.push(FieldError::new("defects", "must be empty when the check passed"));
    }
    if !request.passed && request.defects.is_empty() {
        errors.push(FieldError::new(
            "defects",
            "at least one defect is required when the check failed",
        ));
    }
    match (job_id, operator) {
        (Some(job_id), Some(operator)) if errors.is_empty() => Ok(CheckInput {
            job_id,
            passed: request.passed,
            defects,
            operator,
        }),
        _ => Err(errors),
    }
}

/// A validated dispatch request.
struct DispatchInput {
    job_id: Uuid,
    tracking_number: String,
    operator: String,
}

fn validate_dispatch(
    request: &DispatchCardRequest,
    authenticated: Option<&str>,
) -> Result<DispatchInput, Vec<FieldError>> {
    let mut errors = Vec::new();
    let _ = field(&mut errors, check_request_id(&request.request_id));
    let job_id = field(&mut errors, parse_uuid("job_id", &request.job_id));
    let tracking_number = field(
        &mut errors,
        required_text("tracking_number", &request.tracking_number, MAX_TRACKING_NUMBER_CHARS),
    );
    let operator = field(&mut errors, operator(&request.operator, authenticated));
    match (job_id, tracking_number, operator) {
        (Some(job_id), Some(tracking_number), Some(operator)) if errors.is_empty() => Ok(DispatchInput {
            job_id,
            tracking_number,
            operator,
        }),
        _ => Err(errors),
    }
}

#[tonic::async_trait]
impl ProductionService for Production {
    /// Lists jobs; the call (its filter and how many jobs it showed) is audited, the rows
    /// are not one by one: they show the citizen id masked only.
    #[tracing::instrument(skip_all)]
    async fn list_jobs(&self, request: Request<ListJobsRequest>) -> Result<Response<ListJobsResponse>, Status> {
        let actor = self.actor(&request)?;
        let request = request.into_inner();
        let mut errors = Vec::new();
        let state = match JobState::filter_from_wire(request.state) {
            Ok(state) => state,
            Err(value) => {
                errors.push(FieldError::new("state", format!("unknown job state {value}")));
                None
            }
        };
        let size = field(
            &mut errors,
            page_size("page_size", request.page_size, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE),
        );
        let after = field(&mut errors, page_after("page_token", &request.page_token));
        let (Some(size), Some(after)) = (size, after) else {
            return Err(invalid_argument(&errors));
        };
        if !errors.is_empty() {
            return Err(invalid_argument(&errors));
        }
        let code = request.acceptance_point_code.trim();
        let filter = JobFilter {
            state,
            acceptance_point_code: (!code.is_empty()).then(|| code.to_string()),
        };

        let keys = self.keys.current();
        let mut tx = self.db.begin_read().await.map_err(from_db)?;
        // One more than asked for tells whether another page follows.
        let mut jobs = store::list_jobs(&mut tx, &keys, &filter, after, size + 1)
            .await
            .map_err(from_db)?;
        tx.commit().await.map_err(from_db)?;
        let next_page_token = if jobs.len() > size as usize {
            jobs.truncate(size as usize);
            jobs.last().map(|job| job.seq.to_string()).unwrap_or_default()
        } else {
            String::new()
        };
        let detail = format!(
            "state {}, acceptance point {}, {} jobs shown",
            filter.state.map_or("any", JobState::as_str),
            filter.acceptance_point_code.as_deref().unwrap_or("any"),
            jobs.len()
        );
        let mut tx = self.db.begin().await.map_err(from_db)?;
        actor
            .audit(
                &mut tx,
                "production_job.list",
                &format!("production_centre:{}", self.centre),
                &detail,
            )
            .await?;
        tx.commit().await.map_err(from_db)?;
        Ok(Response::new(ListJobsResponse {
            jobs: jobs.iter().map(Job::to_wire).collect(),
            next_page_token,
        }))
    }

    /// Reads one job. The answer shows the citizen id masked only, but names one person's
    /// card (application, receipt and card ids), so each read is audited.
    #[tracing::instrument(skip_all)]
    async fn get_job(&self, request: Request<GetJobRequest>) -> Result<Response<GetJobResponse>, Status> {
        let actor = self.actor(&request)?;
        let key = match &request.get_ref().key {
            None => Err(FieldError::new("key", "required: job_id or application_id")),
            Some(get_job_request::Key::JobId(id)) => parse_uuid("job_id", id).map(JobKey::JobId),
            Some(get_job_request::Key::ApplicationId(id)) => {
                parse_uuid("application_id", id).map(JobKey::ApplicationId)
            }
        }
        .map_err(|e| invalid_argument(&[e]))?;
        let keys = self.keys.current();
        let mut tx = self.db.begin_read().await.map_err(from_db)?;
        let job = store::find_job(&mut tx, &keys, key)
            .await
            .map_err(from_db)?
            .ok_or_else(|| match key {
                JobKey::JobId(id) => not_found(id),
                JobKey::ApplicationId(id) => Status::not_found(format!("no job for application {id}")),
            })?;
        tx.commit().await.map_err(from_db)?;
        let mut tx = self.db.begin().await.map_err(from_db)?;
        actor
            .audit(&mut tx, "production_job.read", &job_target(job.job_id), "")
            .await?;
        tx.commit().await.map_err(from_db)?;
        Ok(Response::new(GetJobResponse {
            job: Some(job.to_wire()),
        }))
    }

    /// A pass makes the card ready to dispatch; a failure remakes it (the job stays in
    /// production for the next check). Either is reported to the acceptance service.
    #[tracing::instrument(skip_all, fields(job_id = %request.get_ref().job_id))]
    async fn record_quality_check(
        &self,
        request: Request<RecordQualityCheckRequest>,
    ) -> Result<Response<RecordQualityCheckResponse>, Status> {
        let actor = self.actor(&request)?;
        let request = request.into_inner();
        let input = validate_check(&request, actor.operator()).map_err(|errors| invalid_argument(&errors))?;
        let keys = self.keys.current();
        let trace = store::trace::of(&self.db, input.job_id).await.map_err(from_db)?;
        let (response, new) = idempotent::run(
            &self.db,
            &keys,
            RECORD_QUALITY_CHECK,
            &request.request_id,
            &request,
            async |tx| {
                let job = load(tx, &keys, input.job_id).await?;
                let state = job.state.after_check(input.passed).map_err(|err| {
                    refused(&[Reason {
                        code: JOB_NOT_IN_PRODUCTION.to_string(),
                        message: format!(
                            "only a job in production is checked; this one is {} ({err})",
                            job.state.as_str()
                        ),
                    }])
                })?;
                let now = now_ms();
                let remake_count = if input.passed {
                    job.remake_count
                } else {
                    job.remake_count + 1
                };
                let check = QualityCheck {
                    attempt: job.next_attempt(),
                    passed: input.passed,
                    defects: input.defects.clone(),
                    operator: input.operator.clone(),
                    at_ms: now,
                };
                if !store::record_check(tx, &job, &check, state, remake_count)
                    .await
                    .map_err(from_db)?
                {
                    return Err(Status::aborted("the job changed while the check was recorded; retry"));
                }
                // Defects are free text, so the entry counts them rather than quoting them.
                let detail = format!(
                    "attempt {} {}, {} defects; now {}, {remake_count} remakes",
                    check.attempt,
                    if check.passed { "passed" } else { "failed" },
                    check.defects.len(),
                    state.as_str()
                );
                actor
                    .audit(tx, "production_job.quality_check", &job_target(job.job_id), &detail)
                    .await?;
                let (step, detail) = if input.passed {
                    (ProductionStep::QualityCheckPassed, String::new())
                } else {
                    (ProductionStep::QualityCheckFailed, input.defects.join("; "))
                };
                report::enqueue(
                    tx,
                    &keys,
                    &job,
                    Update {
                        step,
                        at_ms: now,
                        detail,
                        operator: &input.operator,
                    },
                )
                .await
                .map_err(from_db)?;
                let job = load(tx, &keys, input.job_id).await?;
                tracing::info!(application_id = %job.application_id, passed = input.passed, attempt = check.attempt,
                remake_count, "quality check recorded");
                Ok(RecordQualityCheckResponse {
                    job: Some(job.to_wire()),
                })
            },
        )
        .instrument(application_span(crate::SERVICE, "RecordQualityCheck", trace.as_deref()))
        .await?;
        if new {
            self.relay.wake();
        }
        Ok(Response::new(response))
    }

    /// Sends a card that passed its check to the acceptance point and reports it.
    #[tracing::instrument(skip_all, fields(job_id = %request.get_ref().job_id))]
    async fn dispatch_card(
        &self,
        request: Request<DispatchCardRequest>,
    ) -> Result<Response<DispatchCardResponse>, Status> {
        let actor = self.actor(&request)?;
        let request = request.into_inner();
        let input = validate_dispatch(&request, actor.operator()).map_err(|errors| invalid_argument(&errors))?;
        let keys = self.keys.current();
        let trace = store::trace::of(&self.db, input.job_id).await.map_err(from_db)?;
        let (response, new) = idempotent::run(
            &self.db,
            &keys,
            DISPATCH_CARD,
            &request.request_id,
            &request,
            async |tx| {
                let job = load(tx, &keys, input.job_id).await?;
                let state = job.state.after_dispatch().map_err(|err| {
                    refused(&[Reason {
                        code: JOB_NOT_CHECKED.to_string(),
                        message: format!(
                            "only a card that passed its check is dispatched; this job is {} ({err})",
                            job.state.as_str()
                        ),
                    }])
                })?;
                let now = now_ms();
                if !store::record_dispatch(tx, &job, state, &input.tracking_number, now)
                    .await
                    .map_err(from_db)?
                {
                    return Err(Status::aborted(
                        "the job changed while the dispatch was recorded; retry",
                    ));
                }
                actor
                    .audit(
                        tx,
                        "production_job.dispatch",
                        &job_target(job.job_id),
                        &format!("now {}", state.as_str()),
                    )
                    .await?;
                let update = Update {
                    step: ProductionStep::Dispatched,
                    at_ms: now,
                    detail: input.tracking_number.clone(),
                    operator: &input.operator,
                };
                report::enqueue(tx, &keys, &job, update).await.map_err(from_db)?;
                let job = load(tx, &keys, input.job_id).await?;
                tracing::info!(application_id = %job.application_id, "card dispatched");
                Ok(DispatchCardResponse {
                    job: Some(job.to_wire()),
                })
            },
        )
        .instrument(application_span(crate::SERVICE, "DispatchCard", trace.as_deref()))
        .await?;
        if new {
            self.relay.wake();
        }
        Ok(Response::new(response))
    }

    /// Jobs not yet dispatched that are overdue or due soon. The rows hold no personal
    /// data; the call is audited as every read of jobs is.
    #[tracing::instrument(skip_all)]
    async fn list_overdue(
        &self,
        request: Request<ProductionServiceListOverdueRequest>,
    ) -> Result<Response<ProductionServiceListOverdueResponse>, Status> {
        let actor = self.actor(&request)?;
        let listed = overdue::list(&self.db, request.get_ref()).await?;
        let mut tx = self.db.begin().await.map_err(from_db)?;
        actor
            .audit(
                &mut tx,
                "production_job.list_overdue",
                &format!("production_centre:{}", self.centre),
                &listed.detail,
            )
            .await?;
        tx.commit().await.map_err(from_db)?;
        Ok(Response::new(listed.response))
    }
}
