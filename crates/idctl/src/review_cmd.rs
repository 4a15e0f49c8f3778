//! `idctl review ...`: the reviewer's `ReviewService` RPCs. (`ImportResidents` is
//! `idctl register import`.)

use std::process::ExitCode;

use anyhow::Context;
use idcard_proto::v1 as pb;

use crate::acceptance_cmd::{new_request_id, print_next_page};
use crate::endpoints::Endpoints;
use crate::print;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Applications waiting for a decision in a jurisdiction.
    Pending {
        /// A GB/T 2260 code or prefix ("44", "4401", "440106").
        #[arg(long)]
        jurisdiction: String,
        /// 0 lets the service choose.
        #[arg(long, default_value_t = 0)]
        page_size: i32,
        /// The token a previous page printed.
        #[arg(long, default_value = "")]
        page_token: String,
    },
    /// One case with the pre-check findings against the household register.
    Get {
        #[arg(long)]
        id: String,
    },
    /// Approve and issue: fixes the validity period and the issuing authority.
    Approve {
        #[arg(long)]
        id: String,
        #[arg(long)]
        reviewer: String,
        #[arg(long, default_value = "")]
        note: String,
        /// Client request id; a repeat returns the first answer (default: a new UUID v7).
        #[arg(long)]
        request_id: Option<String>,
    },
    /// Reject with reasons and a contact for the applicant.
    Reject {
        #[arg(long)]
        id: String,
        /// CODE=detail, e.g. IDENTITY_INCONSISTENT="name differs from the register";
        /// repeat for each reason.
        #[arg(long = "reason", value_parser = parse_reason, required = true)]
        reasons: Vec<pb::RejectionReason>,
        /// The office the applicant contacts.
        #[arg(long, default_value = "")]
        office: String,
        #[arg(long, default_value = "")]
        person: String,
        #[arg(long, default_value = "")]
        contact_phone: String,
        #[arg(long)]
        reviewer: String,
        /// Client request id; a repeat returns the first answer (default: a new UUID v7).
        #[arg(long)]
        request_id: Option<String>,
    },
}

pub async fn run(cmd: Command, endpoints: &Endpoints) -> anyhow::Result<ExitCode> {
    let mut client = endpoints.review().await?;
    let case = match cmd {
        Command::Pending {
            jurisdiction,
            page_size,
            page_token,
        } => {
            let request = pb::ListPendingApplicationsRequest {
                jurisdiction_code: jurisdiction,
                page_size,
                page_token,
            };
            let response = client.list_pending_applications(request).await?.into_inner();
            for summary in &response.applications {
                println!("{}", print::review_summary(summary));
            }
            print_next_page(response.applications.is_empty(), &response.next_page_token);
            return Ok(ExitCode::SUCCESS);
        }
        Command::Get { id } => {
            let request = pb::ReviewServiceGetApplicationRequest { application_id: id };
            client.get_application(request).await?.into_inner().review_case
        }
        Command::Approve {
            id,
            reviewer,
            note,
            request_id,
        } => {
            let request = pb::ApproveApplicationRequest {
                request_id: request_id.unwrap_or_else(new_request_id),
                application_id: id,
                reviewer,
                note,
            };
            client.approve_application(request).await?.into_inner().review_case
        }
        Command::Reject {
            id,
            reasons,
            office,
            person,
            contact_phone,
            reviewer,
            request_id,
        } => {
            let request = pb::RejectApplicationRequest {
                request_id: request_id.unwrap_or_else(new_request_id),
                application_id: id,
                reasons,
                contact: Some(pb::Contact {
                    office,
                    person,
                    phone: contact_phone,
                }),
                reviewer,
            };
            client.reject_application(request).await?.into_inner().review_case
        }
    };
    let case = case.context("the service answered without the review case")?;
    print!("{}", print::review_case(&case));
    Ok(ExitCode::SUCCESS)
}

/// `CODE=detail`; the code is required, the detail may be empty.
fn parse_reason(text: &str) -> Result<pb::RejectionReason, String> {
    let (code, detail) = text.split_once('=').unwrap_or((text, ""));
    let code = code.trim();
    if code.is_empty() {
        return Err(format!("{text:?}: expected CODE=detail"));
    }
    Ok(pb::RejectionReason {
        code: code.to_string(),
        detail: detail.trim().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_splits_at_the_first_equals_sign() {
        let reason = parse_reason("RECORD_LOCKED=locked: a=b").expect("valid");
        assert_eq!(reason.code, "RECORD_LOCKED");
        assert_eq!(reason.detail, "locked: a=b");
        assert_eq!(parse_reason("BAD_CREDIT").expect("valid").detail, "");
        assert!(parse_reason("=detail").is_err());
    }
}
