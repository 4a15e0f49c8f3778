//! `idcard.v1.ProductionService`: what production operators do with jobs.

use idcard_db::{Db, now_ms};
use idcard_outbox::RelayHandle;
use idcard_proto::v1::production_service_server::ProductionService;
use idcard_proto::v1::{
    DispatchCardRequest, DispatchCardResponse, GetJobRequest, GetJobResponse, ListJobsRequest, ListJobsResponse,
    ProductionStep, RecordQualityCheckRequest, RecordQualityCheckResponse, get_job_request,
};
use idcard_server::idempotent::{self, check_request_id};
use idcard_server::status::{FieldError, Reason, from_db, invalid_argument, refused};
use idcard_server::wire::{page_after, page_size, parse_uuid, required_text};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::job::{JOB_NOT_CHECKED, JOB_NOT_IN_PRODUCTION, Job, JobState, QualityCheck};
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
    relay: RelayHandle,
}

impl Production {
    pub fn new(db: Db, relay: RelayHandle) -> Self {
        Production { db, relay }
    }
}

/// Collects the error of `result` into `errors`.
fn field<T>(errors: &mut Vec<FieldError>, result: Result<T, FieldError>) -> Option<T> {
    result.map_err(|e| errors.push(e)).ok()
}

fn not_found(job_id: Uuid) -> Status {
    Status::not_found(format!("no job {job_id}"))
}

async fn load(tx: &mut idcard_db::Tx, job_id: Uuid) -> Result<Job, Status> {
    store::find_job(tx, JobKey::JobId(job_id))
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

fn validate_check(request: &RecordQualityCheckRequest) -> Result<CheckInput, Vec<FieldError>> {
    let mut errors = Vec::new();
    let _ = field(&mut errors, check_request_id(&request.request_id));
    let job_id = field(&mut errors, parse_uuid("job_id", &request.job_id));
    let operator = field(
        &mut errors,
        required_text("operator", &request.operator, MAX_OPERATOR_CHARS),
    );
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

fn validate_dispatch(request: &DispatchCardRequest) -> Result<DispatchInput, Vec<FieldError>> {
    let mut errors = Vec::new();
    let _ = field(&mut errors, check_request_id(&request.request_id));
    let job_id = field(&mut errors, parse_uuid("job_id", &request.job_id));
    let tracking_number = field(
        &mut errors,
        required_text("tracking_number", &request.tracking_number, MAX_TRACKING_NUMBER_CHARS),
    );
    let operator = field(
        &mut errors,
        required_text("operator", &request.operator, MAX_OPERATOR_CHARS),
    );
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
    #[tracing::instrument(skip_all)]
    async fn list_jobs(&self, request: Request<ListJobsRequest>) -> Result<Response<ListJobsResponse>, Status> {
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

        let mut tx = self.db.begin_read().await.map_err(from_db)?;
        // One more than asked for tells whether another page follows.
        let mut jobs = store::list_jobs(&mut tx, &filter, after, size + 1)
            .await
            .map_err(from_db)?;
        let next_page_token = if jobs.len() > size as usize {
            jobs.truncate(size as usize);
            jobs.last().map(|job| job.seq.to_string()).unwrap_or_default()
        } else {
            String::new()
        };
        Ok(Response::new(ListJobsResponse {
            jobs: jobs.iter().map(Job::to_wire).collect(),
            next_page_token,
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn get_job(&self, request: Request<GetJobRequest>) -> Result<Response<GetJobResponse>, Status> {
        let key = match &request.get_ref().key {
            None => Err(FieldError::new("key", "required: job_id or application_id")),
            Some(get_job_request::Key::JobId(id)) => parse_uuid("job_id", id).map(JobKey::JobId),
            Some(get_job_request::Key::ApplicationId(id)) => {
                parse_uuid("application_id", id).map(JobKey::ApplicationId)
            }
        }
        .map_err(|e| invalid_argument(&[e]))?;
        let mut tx = self.db.begin_read().await.map_err(from_db)?;
        let job = store::find_job(&mut tx, key)
            .await
            .map_err(from_db)?
            .ok_or_else(|| match key {
                JobKey::JobId(id) => not_found(id),
                JobKey::ApplicationId(id) => Status::not_found(format!("no job for application {id}")),
            })?;
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
        let request = request.into_inner();
        let input = validate_check(&request).map_err(|errors| invalid_argument(&errors))?;
        let (response, new) = idempotent::run(
            &self.db,
            RECORD_QUALITY_CHECK,
            &request.request_id,
            &request,
            async |tx| {
                let job = load(tx, input.job_id).await?;
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
                let (step, detail) = if input.passed {
                    (ProductionStep::QualityCheckPassed, String::new())
                } else {
                    (ProductionStep::QualityCheckFailed, input.defects.join("; "))
                };
                report::enqueue(
                    tx,
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
                let job = load(tx, input.job_id).await?;
                tracing::info!(application_id = %job.application_id, passed = input.passed, attempt = check.attempt,
                remake_count, "quality check recorded");
                Ok(RecordQualityCheckResponse {
                    job: Some(job.to_wire()),
                })
            },
        )
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
        let request = request.into_inner();
        let input = validate_dispatch(&request).map_err(|errors| invalid_argument(&errors))?;
        let (response, new) = idempotent::run(&self.db, DISPATCH_CARD, &request.request_id, &request, async |tx| {
            let job = load(tx, input.job_id).await?;
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
            let update = Update {
                step: ProductionStep::Dispatched,
                at_ms: now,
                detail: input.tracking_number.clone(),
                operator: &input.operator,
            };
            report::enqueue(tx, &job, update).await.map_err(from_db)?;
            let job = load(tx, input.job_id).await?;
            tracing::info!(application_id = %job.application_id, "card dispatched");
            Ok(DispatchCardResponse {
                job: Some(job.to_wire()),
            })
        })
        .await?;
        if new {
            self.relay.wake();
        }
        Ok(Response::new(response))
    }
}
