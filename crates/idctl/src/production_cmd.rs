//! `idctl production ...`: the production centre's `ProductionService` RPCs.

use std::process::ExitCode;

use anyhow::Context;
use clap::ArgGroup;
use idcard_proto::v1 as pb;

use crate::acceptance_cmd::{new_request_id, print_next_page};
use crate::endpoints::Endpoints;
use crate::print;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Production jobs, optionally of one state or acceptance point.
    Jobs {
        /// in_production, passed or dispatched.
        #[arg(long, value_parser = parse_job_state)]
        state: Option<pb::JobState>,
        /// Acceptance point code.
        #[arg(long, default_value = "")]
        point: String,
        /// 0 lets the service choose.
        #[arg(long, default_value_t = 0)]
        page_size: i32,
        /// The token a previous page printed.
        #[arg(long, default_value = "")]
        page_token: String,
    },
    /// One job, by job id or application id.
    #[command(group(ArgGroup::new("key").required(true).args(["job", "application"])))]
    Get {
        #[arg(long)]
        job: Option<String>,
        #[arg(long)]
        application: Option<String>,
    },
    /// Record a quality check: --pass, or one --defect per defect found (the card is
    /// remade).
    #[command(group(ArgGroup::new("verdict").required(true).args(["pass", "defects"])))]
    Check {
        #[arg(long)]
        job: String,
        #[arg(long)]
        pass: bool,
        /// A defect found; repeat for each.
        #[arg(long = "defect")]
        defects: Vec<String>,
        #[arg(long)]
        operator: String,
        /// Client request id; a repeat returns the first answer (default: a new UUID v7).
        #[arg(long)]
        request_id: Option<String>,
    },
    /// Send a checked card to its acceptance point.
    Dispatch {
        #[arg(long)]
        job: String,
        /// Courier tracking number.
        #[arg(long)]
        tracking: String,
        #[arg(long)]
        operator: String,
        /// Client request id; a repeat returns the first answer (default: a new UUID v7).
        #[arg(long)]
        request_id: Option<String>,
    },
}

pub async fn run(cmd: Command, endpoints: &Endpoints) -> anyhow::Result<ExitCode> {
    let mut client = endpoints.production().await?;
    let job = match cmd {
        Command::Jobs {
            state,
            point,
            page_size,
            page_token,
        } => {
            let request = pb::ListJobsRequest {
                state: state.unwrap_or(pb::JobState::Unspecified) as i32,
                acceptance_point_code: point,
                page_size,
                page_token,
            };
            let response = client.list_jobs(request).await?.into_inner();
            for job in &response.jobs {
                println!("{}", print::job_summary(job));
            }
            print_next_page(response.jobs.is_empty(), &response.next_page_token);
            return Ok(ExitCode::SUCCESS);
        }
        Command::Get { job, application } => {
            let key = match (job, application) {
                (Some(job), _) => pb::get_job_request::Key::JobId(job),
                (None, Some(application)) => pb::get_job_request::Key::ApplicationId(application),
                (None, None) => anyhow::bail!("--job or --application is required"),
            };
            client
                .get_job(pb::GetJobRequest { key: Some(key) })
                .await?
                .into_inner()
                .job
        }
        Command::Check {
            job,
            pass,
            defects,
            operator,
            request_id,
        } => {
            let request = pb::RecordQualityCheckRequest {
                request_id: request_id.unwrap_or_else(new_request_id),
                job_id: job,
                passed: pass,
                defects,
                operator,
            };
            client.record_quality_check(request).await?.into_inner().job
        }
        Command::Dispatch {
            job,
            tracking,
            operator,
            request_id,
        } => {
            let request = pb::DispatchCardRequest {
                request_id: request_id.unwrap_or_else(new_request_id),
                job_id: job,
                tracking_number: tracking,
                operator,
            };
            client.dispatch_card(request).await?.into_inner().job
        }
    };
    let job = job.context("the service answered without the job")?;
    print!("{}", print::job(&job));
    Ok(ExitCode::SUCCESS)
}

fn parse_job_state(text: &str) -> Result<pb::JobState, String> {
    match text {
        "in_production" => Ok(pb::JobState::InProduction),
        "passed" => Ok(pb::JobState::Passed),
        "dispatched" => Ok(pb::JobState::Dispatched),
        _ => Err(format!(
            "unknown job state {text:?}, expected one of in_production, passed, dispatched"
        )),
    }
}
