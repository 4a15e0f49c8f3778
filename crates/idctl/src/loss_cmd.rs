//! Loss reports, card verification, found cards and the citizen's online report: one
//! subcommand per RPC.

use std::process::ExitCode;

use idcard_domain::{DocumentKind, LossKind};
use idcard_proto::v1 as pb;
use idcard_proto::v1::acceptance_service_client::AcceptanceServiceClient;
use idcard_proto::v1::card_status_service_client::CardStatusServiceClient;
use idcard_proto::v1::citizen_service_client::CitizenServiceClient;
use idcard_proto::v1::found_card_service_client::FoundCardServiceClient;
use idcard_server::wire;

use crate::acceptance_cmd::{document_to_wire, new_request_id, parse_date, parse_document};
use crate::endpoints::Endpoints;
use crate::print;

/// How the clerk confirmed the reporter's identity.
#[derive(Debug, clap::Args)]
#[group(required = true, multiple = false)]
pub struct Identity {
    /// The reporter's fingerprint matched the one on record.
    #[arg(long)]
    fingerprint_matched: bool,
    /// The identity document checked (household_booklet, passport, driving_licence...).
    #[arg(long, value_parser = parse_document)]
    document: Option<DocumentKind>,
}

impl Identity {
    fn to_wire(&self) -> pb::IdentityConfirmation {
        use pb::identity_confirmation::Method;
        let method = match self.document {
            Some(document) => Method::IdentityDocument(document_to_wire(document).into()),
            None => Method::FingerprintMatched(self.fingerprint_matched),
        };
        pb::IdentityConfirmation { method: Some(method) }
    }
}

#[derive(Debug, clap::Subcommand)]
pub enum LossCommand {
    /// Take a loss report at the counter (AcceptanceService/ReportLoss).
    Report {
        #[arg(long)]
        point: String,
        #[arg(long)]
        citizen_id: String,
        #[arg(long)]
        name: String,
        /// The household's current domicile region code.
        #[arg(long)]
        domicile: String,
        /// lost, stolen or misplaced.
        #[arg(long, value_parser = parse_loss_kind)]
        kind: LossKind,
        #[arg(long, default_value = "")]
        circumstance: String,
        #[command(flatten)]
        identity: Identity,
        #[arg(long)]
        request_id: Option<String>,
    },
    /// A report taken here (AcceptanceService/GetLossReport).
    Get {
        #[arg(long)]
        number: String,
    },
    /// Revoke a report: the card was found (AcceptanceService/RevokeLossReport).
    Revoke {
        #[arg(long)]
        number: String,
        #[command(flatten)]
        identity: Identity,
        #[arg(long)]
        request_id: Option<String>,
    },
}

#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    #[arg(long)]
    pub citizen_id: String,
    #[arg(long)]
    pub name: String,
    /// The validity start printed on the card, YYYY-MM-DD.
    #[arg(long, value_parser = parse_date)]
    pub validity_start: time::Date,
}

#[derive(Debug, clap::Subcommand)]
pub enum FoundCommand {
    /// Record a card handed in at a station (FoundCardService/RegisterFoundCard).
    Register {
        #[arg(long)]
        citizen_id: String,
        #[arg(long)]
        name: String,
        #[arg(long, value_parser = parse_date)]
        validity_start: time::Date,
        #[arg(long)]
        found_at: String,
        #[arg(long)]
        collect_at: String,
        #[arg(long)]
        station: String,
        #[arg(long)]
        request_id: Option<String>,
    },
    /// Ask whether one's card was found (FoundCardService/QueryFoundCard; a citizen token).
    Query {
        #[arg(long)]
        citizen_id: String,
    },
}

#[derive(Debug, clap::Subcommand)]
pub enum CitizenCommand {
    /// Start an online loss report: a one-time code goes to the phone on record.
    Start {
        #[arg(long)]
        citizen_id: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        request_id: Option<String>,
    },
    /// Confirm it with the code.
    Confirm {
        #[arg(long)]
        challenge: String,
        #[arg(long)]
        code: String,
        #[arg(long, value_parser = parse_loss_kind)]
        kind: LossKind,
        #[arg(long, default_value = "")]
        circumstance: String,
        #[arg(long)]
        request_id: Option<String>,
    },
    /// An online report by number.
    Get {
        #[arg(long)]
        number: String,
    },
}

pub async fn run_loss(cmd: LossCommand, endpoints: &Endpoints) -> anyhow::Result<ExitCode> {
    let mut client = AcceptanceServiceClient::new(endpoints.channel(&endpoints.acceptance_url, None).await?);
    let report = match cmd {
        LossCommand::Report {
            point,
            citizen_id,
            name,
            domicile,
            kind,
            circumstance,
            identity,
            request_id,
        } => {
            let request = pb::ReportLossRequest {
                request_id: request_id.unwrap_or_else(new_request_id),
                acceptance_point_code: point,
                citizen_id,
                name,
                domicile_region_code: domicile,
                kind: loss_kind_to_wire(kind).into(),
                circumstance,
                identity: Some(identity.to_wire()),
            };
            client.report_loss(request).await?.into_inner().report
        }
        LossCommand::Get { number } => {
            client
                .get_loss_report(pb::GetLossReportRequest { report_number: number })
                .await?
                .into_inner()
                .report
        }
        LossCommand::Revoke {
            number,
            identity,
            request_id,
        } => {
            let request = pb::RevokeLossReportRequest {
                request_id: request_id.unwrap_or_else(new_request_id),
                report_number: number,
                identity: Some(identity.to_wire()),
            };
            client.revoke_loss_report(request).await?.into_inner().report
        }
    };
    println!("{}", print::loss_report(&report.unwrap_or_default()));
    Ok(ExitCode::SUCCESS)
}

pub async fn run_verify(args: VerifyArgs, endpoints: &Endpoints) -> anyhow::Result<ExitCode> {
    let mut client = CardStatusServiceClient::new(endpoints.channel(&endpoints.status_url, None).await?);
    let answer = verify(&mut client, &args.citizen_id, &args.name, args.validity_start).await?;
    println!("{}", print::verification(answer));
    Ok(ExitCode::SUCCESS)
}

/// One verification.
pub async fn verify(
    client: &mut CardStatusServiceClient<idctl::client::Authed>,
    citizen_id: &str,
    name: &str,
    validity_start: time::Date,
) -> anyhow::Result<i32> {
    let request = pb::VerifyCardRequest {
        citizen_id: citizen_id.to_string(),
        name: name.to_string(),
        validity_start: Some(wire::date_to_wire(validity_start)),
    };
    Ok(client.verify_card(request).await?.into_inner().answer)
}

pub async fn run_found(cmd: FoundCommand, endpoints: &Endpoints) -> anyhow::Result<ExitCode> {
    let mut client = FoundCardServiceClient::new(endpoints.channel(&endpoints.status_url, None).await?);
    match cmd {
        FoundCommand::Register {
            citizen_id,
            name,
            validity_start,
            found_at,
            collect_at,
            station,
            request_id,
        } => {
            let request = pb::RegisterFoundCardRequest {
                request_id: request_id.unwrap_or_else(new_request_id),
                citizen_id,
                name,
                validity_start: Some(wire::date_to_wire(validity_start)),
                found_at,
                collect_at,
                station_code: station,
            };
            let registered = client.register_found_card(request).await?.into_inner();
            println!("found card {} registered", registered.found_card_id);
        }
        FoundCommand::Query { citizen_id } => {
            let answer = client
                .query_found_card(pb::QueryFoundCardRequest { citizen_id })
                .await?
                .into_inner();
            println!("{}", print::found_card(&answer));
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn run_citizen(cmd: CitizenCommand, endpoints: &Endpoints) -> anyhow::Result<ExitCode> {
    let mut client = CitizenServiceClient::new(endpoints.channel(&endpoints.review_url, None).await?);
    match cmd {
        CitizenCommand::Start {
            citizen_id,
            name,
            request_id,
        } => {
            let request = pb::StartOnlineLossReportRequest {
                request_id: request_id.unwrap_or_else(new_request_id),
                citizen_id,
                name,
            };
            let started = client.start_online_loss_report(request).await?.into_inner();
            println!(
                "challenge {}: a code was sent to {}",
                started.challenge_id, started.phone_masked
            );
        }
        CitizenCommand::Confirm {
            challenge,
            code,
            kind,
            circumstance,
            request_id,
        } => {
            let request = pb::ConfirmOnlineLossReportRequest {
                request_id: request_id.unwrap_or_else(new_request_id),
                challenge_id: challenge,
                code,
                kind: loss_kind_to_wire(kind).into(),
                circumstance,
            };
            let report = client.confirm_online_loss_report(request).await?.into_inner().report;
            println!("{}", print::loss_report(&report.unwrap_or_default()));
        }
        CitizenCommand::Get { number } => {
            let report = client
                .get_online_loss_report(pb::GetOnlineLossReportRequest { report_number: number })
                .await?
                .into_inner()
                .report;
            println!("{}", print::loss_report(&report.unwrap_or_default()));
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn parse_loss_kind(text: &str) -> Result<LossKind, String> {
    text.parse().map_err(|e: idcard_domain::ParseEnumError| e.to_string())
}

pub fn loss_kind_to_wire(kind: LossKind) -> pb::LossKind {
    match kind {
        LossKind::Lost => pb::LossKind::Lost,
        LossKind::Stolen => pb::LossKind::Stolen,
        LossKind::Misplaced => pb::LossKind::Misplaced,
    }
}
