//! `idctl acceptance ...`: every `AcceptanceService` RPC, one subcommand each
//! (`ListOverdue` is `idctl overdue`, across the services).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::ArgGroup;
use idcard_domain::{ApplicationKind, ApplicationState, CitizenId, DocumentKind, Sex, Waiver, application_fee};
use idcard_proto::v1 as pb;
use idcard_server::wire::{date_to_wire, enums, today_cst};

use crate::endpoints::Endpoints;
use crate::print;

/// A stand-in for the photo taken at the counter, so that scripts need no file: the
/// smallest JPEG frame (start of image, JFIF header, end of image).
const PLACEHOLDER_PHOTO: &[u8] = b"\xFF\xD8\xFF\xE0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xFF\xD9";

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Submit a renewal or replacement (prints the accepted application).
    Submit(Box<SubmitArgs>),
    /// One application with its status history, by id or receipt number.
    #[command(group(ArgGroup::new("key").required(true).args(["id", "receipt"])))]
    Get {
        #[arg(long)]
        id: Option<String>,
        #[arg(long)]
        receipt: Option<String>,
    },
    /// Applications of one acceptance point, newest first.
    List {
        /// Acceptance point code.
        #[arg(long)]
        point: String,
        /// Only this state (submitted, under_review, approved, rejected, in_production,
        /// quality_check_failed, produced, dispatched, ready_for_collection, collected).
        #[arg(long, value_parser = parse_state)]
        state: Option<ApplicationState>,
        /// At most 500; 0 lets the service choose.
        #[arg(long, default_value_t = 0)]
        page_size: i32,
        /// The token a previous page printed.
        #[arg(long, default_value = "")]
        page_token: String,
    },
    /// Record that the dispatched card arrived at the acceptance point.
    Arrive {
        #[arg(long)]
        id: String,
        #[arg(long)]
        clerk: String,
        /// Client request id; a repeat returns the first answer (default: a new UUID v7).
        #[arg(long)]
        request_id: Option<String>,
    },
    /// Hand the card over to the applicant.
    #[command(group(ArgGroup::new("key").required(true).args(["id", "receipt"])))]
    Collect {
        #[arg(long)]
        id: Option<String>,
        #[arg(long)]
        receipt: Option<String>,
        /// The applicant checked the printed and chip data and signed.
        #[arg(long)]
        signed: bool,
        /// Renewal: the old card was handed back.
        #[arg(long)]
        old_card_surrendered: bool,
        #[arg(long)]
        clerk: String,
        /// Client request id; a repeat returns the first answer (default: a new UUID v7).
        #[arg(long)]
        request_id: Option<String>,
    },
    /// Extend an open application's 60-day limit by 30 days for an area with poor
    /// transport (once, before it has passed); prints the application.
    Extend {
        /// The application id.
        #[arg(long)]
        application: String,
        /// Why the area's transport calls for more time (names the area, not the applicant).
        #[arg(long)]
        reason: String,
        /// The clerk; recorded only without a token (the token's subject counts otherwise).
        #[arg(long, default_value = "")]
        clerk: String,
        /// Client request id; a repeat returns the first answer (default: a new UUID v7).
        #[arg(long)]
        request_id: Option<String>,
    },
}

/// Every field of `SubmitApplicationRequest`.
#[derive(Debug, clap::Args)]
pub struct SubmitArgs {
    /// Acceptance point code.
    #[arg(long)]
    point: String,
    /// renewal or replacement.
    #[arg(long, value_parser = parse_kind)]
    kind: ApplicationKind,
    /// The applicant's 18-character citizen id number.
    #[arg(long)]
    citizen_id: String,
    /// Name as printed on the card.
    #[arg(long)]
    name: String,
    /// male or female (default: from the citizen id).
    #[arg(long, value_parser = parse_sex)]
    sex: Option<Sex>,
    /// Ethnicity as printed on the card (e.g. 汉).
    #[arg(long)]
    ethnicity: String,
    /// YYYY-MM-DD (default: from the citizen id).
    #[arg(long, value_parser = parse_date)]
    birth_date: Option<time::Date>,
    /// Domicile (permanent-residence) address as printed on the card.
    #[arg(long)]
    address: String,
    /// GB/T 2260 code of the county where the household is registered now.
    #[arg(long)]
    domicile: String,
    /// Mobile phone for notifications.
    #[arg(long)]
    phone: String,
    /// JPEG photo taken at the counter (default: a built-in placeholder).
    #[arg(long)]
    photo: Option<PathBuf>,
    /// Fingerprint template file; at most two.
    #[arg(long)]
    fingerprint: Vec<PathBuf>,
    /// A document presented at the counter (household_booklet, old_id_card,
    /// residence_permit, driving_licence, passport, temporary_residence_registration,
    /// labour_contract, business_licence, student_id, property_deed, lease,
    /// guardian_identity, guardianship_proof); repeat for each.
    #[arg(long, value_parser = parse_document)]
    document: Vec<DocumentKind>,
    /// none, minimum_income or hardship.
    #[arg(long, value_parser = parse_waiver, default_value = "none")]
    waiver: Waiver,
    /// Amount paid in fen (default: the fee the rules set for the kind and waiver today).
    #[arg(long)]
    amount_fen: Option<i64>,
    /// Cashier slip or payment order number.
    #[arg(long, default_value = "")]
    payment_ref: String,
    /// Renewal: the expiry date printed on the current card, YYYY-MM-DD.
    #[arg(long, value_parser = parse_date)]
    card_expiry: Option<time::Date>,
    /// The applicant's appearance has greatly changed from the card photo.
    #[arg(long)]
    appearance_changed: bool,
    /// Replacement of a card reported lost: the loss report number.
    #[arg(long)]
    loss_report: Option<String>,
    /// The clerk taking the application.
    #[arg(long)]
    clerk: String,
    /// Client request id; a repeat returns the first answer (default: a new UUID v7).
    #[arg(long)]
    request_id: Option<String>,
    /// Under 16: the guardian applying on the applicant's behalf.
    #[arg(long)]
    guardian_name: Option<String>,
    /// The guardian's citizen id number.
    #[arg(long)]
    guardian_citizen_id: Option<String>,
    /// e.g. mother, father.
    #[arg(long)]
    guardian_relationship: Option<String>,
}

pub async fn run(cmd: Command, endpoints: &Endpoints) -> anyhow::Result<ExitCode> {
    match cmd {
        Command::Submit(args) => {
            let request = submit_request(*args).await?;
            let mut client = endpoints.acceptance().await?;
            let response = client.submit_application(request).await?.into_inner();
            print_application(response.application.as_ref())
        }
        Command::Get { id, receipt } => {
            let key = match (id, receipt) {
                (Some(id), _) => pb::get_application_request::Key::ApplicationId(id),
                (None, Some(receipt)) => pb::get_application_request::Key::ReceiptNumber(receipt),
                (None, None) => anyhow::bail!("--id or --receipt is required"),
            };
            let mut client = endpoints.acceptance().await?;
            let response = client
                .get_application(pb::GetApplicationRequest { key: Some(key) })
                .await?
                .into_inner();
            print_application(response.application.as_ref())
        }
        Command::List {
            point,
            state,
            page_size,
            page_token,
        } => {
            let request = pb::ListApplicationsRequest {
                acceptance_point_code: point,
                state: state.map_or(pb::ApplicationState::Unspecified, enums::state_to_wire) as i32,
                page_size,
                page_token,
            };
            let mut client = endpoints.acceptance().await?;
            let response = client.list_applications(request).await?.into_inner();
            for summary in &response.applications {
                println!("{}", print::summary(summary));
            }
            print_next_page(response.applications.is_empty(), &response.next_page_token);
            Ok(ExitCode::SUCCESS)
        }
        Command::Arrive { id, clerk, request_id } => {
            let request = pb::ConfirmCardArrivalRequest {
                request_id: request_id.unwrap_or_else(new_request_id),
                application_id: id,
                clerk,
            };
            let mut client = endpoints.acceptance().await?;
            let response = client.confirm_card_arrival(request).await?.into_inner();
            print_application(response.application.as_ref())
        }
        Command::Collect {
            id,
            receipt,
            signed,
            old_card_surrendered,
            clerk,
            request_id,
        } => {
            let key = match (id, receipt) {
                (Some(id), _) => pb::collect_card_request::Key::ApplicationId(id),
                (None, Some(receipt)) => pb::collect_card_request::Key::ReceiptNumber(receipt),
                (None, None) => anyhow::bail!("--id or --receipt is required"),
            };
            let request = pb::CollectCardRequest {
                request_id: request_id.unwrap_or_else(new_request_id),
                key: Some(key),
                applicant_checked_and_signed: signed,
                old_card_surrendered,
                clerk,
            };
            let mut client = endpoints.acceptance().await?;
            let response = client.collect_card(request).await?.into_inner();
            print_application(response.application.as_ref())
        }
        Command::Extend {
            application,
            reason,
            clerk,
            request_id,
        } => {
            let request = pb::ExtendApplicationDeadlineRequest {
                request_id: request_id.unwrap_or_else(new_request_id),
                application_id: application,
                reason,
                clerk,
            };
            let mut client = endpoints.acceptance().await?;
            let response = client.extend_application_deadline(request).await?.into_inner();
            print_application(response.application.as_ref())
        }
    }
}

/// Builds the request, reading the photo and fingerprint files. Sex and birth date
/// default to what the citizen id says; the fee to what the rules set today.
async fn submit_request(args: SubmitArgs) -> anyhow::Result<pb::SubmitApplicationRequest> {
    let today = today_cst();
    let parsed_id = CitizenId::parse(&args.citizen_id, today).ok();
    let sex = args.sex.or_else(|| parsed_id.as_ref().map(CitizenId::sex));
    let birth_date = args
        .birth_date
        .or_else(|| parsed_id.as_ref().map(CitizenId::birth_date));

    let photo = match &args.photo {
        Some(path) => tokio::fs::read(path)
            .await
            .with_context(|| format!("cannot read photo {}", path.display()))?,
        None => PLACEHOLDER_PHOTO.to_vec(),
    };
    let mut fingerprints = Vec::with_capacity(args.fingerprint.len());
    for path in &args.fingerprint {
        fingerprints.push(
            tokio::fs::read(path)
                .await
                .with_context(|| format!("cannot read fingerprint {}", path.display()))?,
        );
    }
    let amount_fen = args
        .amount_fen
        .unwrap_or_else(|| i64::from(application_fee(args.kind, args.waiver, today).amount_fen));
    let guardian =
        if args.guardian_name.is_some() || args.guardian_citizen_id.is_some() || args.guardian_relationship.is_some() {
            Some(pb::Guardian {
                name: args.guardian_name.unwrap_or_default(),
                citizen_id: args.guardian_citizen_id.unwrap_or_default(),
                relationship: args.guardian_relationship.unwrap_or_default(),
            })
        } else {
            None
        };

    Ok(pb::SubmitApplicationRequest {
        request_id: args.request_id.unwrap_or_else(new_request_id),
        acceptance_point_code: args.point,
        kind: enums::kind_to_wire(args.kind) as i32,
        applicant: Some(pb::Applicant {
            card_items: Some(pb::CardItems {
                citizen_id: args.citizen_id,
                name: args.name,
                sex: sex.map_or(pb::Sex::Unspecified, enums::sex_to_wire) as i32,
                ethnicity: args.ethnicity,
                birth_date: birth_date.map(date_to_wire),
                domicile_address: args.address,
            }),
            domicile_region_code: args.domicile,
            phone: args.phone,
            photo,
            fingerprints,
        }),
        guardian,
        documents: args.document.iter().map(|&d| document_to_wire(d) as i32).collect(),
        fee: Some(pb::FeePayment {
            waiver: waiver_to_wire(args.waiver) as i32,
            amount_fen,
            payment_reference: args.payment_ref,
        }),
        current_card_expiry: args.card_expiry.map(date_to_wire),
        appearance_changed: args.appearance_changed,
        clerk: args.clerk,
        loss_report_number: args.loss_report.unwrap_or_default(),
    })
}

fn print_application(application: Option<&pb::Application>) -> anyhow::Result<ExitCode> {
    let application = application.context("the service answered without the application")?;
    print!("{}", print::application(application));
    Ok(ExitCode::SUCCESS)
}

/// The last line of a list: where the next page starts, if there is one.
pub(crate) fn print_next_page(empty: bool, token: &str) {
    if empty {
        println!("(none)");
    }
    if !token.is_empty() {
        println!("next page token: {token}");
    }
}

pub(crate) fn new_request_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// `YYYY-MM-DD`.
pub(crate) fn parse_date(text: &str) -> Result<time::Date, String> {
    idcard_server::wire::date_from_text(text).ok_or_else(|| format!("{text:?} is not a calendar date YYYY-MM-DD"))
}

fn parse_kind(text: &str) -> Result<ApplicationKind, String> {
    text.parse().map_err(|e: idcard_domain::ParseEnumError| e.to_string())
}

fn parse_state(text: &str) -> Result<ApplicationState, String> {
    text.parse().map_err(|e: idcard_domain::ParseEnumError| e.to_string())
}

fn parse_sex(text: &str) -> Result<Sex, String> {
    text.parse().map_err(|e: idcard_domain::ParseEnumError| e.to_string())
}

pub(crate) fn parse_document(text: &str) -> Result<DocumentKind, String> {
    text.parse().map_err(|e: idcard_domain::ParseEnumError| e.to_string())
}

fn parse_waiver(text: &str) -> Result<Waiver, String> {
    text.parse().map_err(|e: idcard_domain::ParseEnumError| e.to_string())
}

/// The contract spells each document as `DOCUMENT_KIND_` and the domain's name in
/// upper case.
pub(crate) fn document_to_wire(kind: DocumentKind) -> pb::DocumentKind {
    pb::DocumentKind::from_str_name(&format!("DOCUMENT_KIND_{}", kind.as_str().to_ascii_uppercase()))
        .unwrap_or(pb::DocumentKind::Unspecified)
}

fn waiver_to_wire(waiver: Waiver) -> pb::FeeWaiver {
    match waiver {
        Waiver::None => pb::FeeWaiver::None,
        Waiver::MinimumIncome => pb::FeeWaiver::MinimumIncome,
        Waiver::Hardship => pb::FeeWaiver::Hardship,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_domain_document_has_a_wire_value() {
        for &kind in DocumentKind::ALL {
            let wire = document_to_wire(kind);
            assert_ne!(wire, pb::DocumentKind::Unspecified, "{kind}");
            assert_eq!(enums::document_from_wire("documents[0]", wire as i32), Ok(kind));
        }
    }

    #[test]
    fn printed_document_names_match_the_flag_spelling() {
        for &kind in DocumentKind::ALL {
            assert_eq!(print::document_name(document_to_wire(kind) as i32), kind.as_str());
        }
    }
}
