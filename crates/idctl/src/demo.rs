//! `idctl demo`: one renewal and one replacement through a running stack, from the
//! counter to collection, printing each step. Uses the sample residents `idctl up` loads.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use idcard_auth::Role;
use idcard_proto::v1 as pb;
use idcard_proto::v1::acceptance_service_client::AcceptanceServiceClient;
use idcard_proto::v1::production_service_client::ProductionServiceClient;
use idcard_proto::v1::review_service_client::ReviewServiceClient;
use idctl::client::Authed;
use idctl::security::DevSecurity;

use crate::endpoints::Endpoints;
use crate::print;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The acceptance point the demo applies at.
    #[arg(long, default_value = "310104-01")]
    pub point: String,
    /// How long to wait for each asynchronous step.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    pub step_timeout: Duration,
    #[command(subcommand)]
    pub walk: Option<Walk>,
}

#[derive(Debug, clap::Subcommand)]
pub enum Walk {
    /// A card reported lost, verified, revoked, reported again, replaced, and found.
    Loss,
}

/// One sample applicant (see `seed/residents.jsonl`).
pub(crate) struct Applicant {
    kind: pb::ApplicationKind,
    citizen_id: &'static str,
    name: &'static str,
    sex: pb::Sex,
    ethnicity: &'static str,
    birth: (i32, i32, i32),
    address: &'static str,
    domicile: &'static str,
    phone: &'static str,
    documents: &'static [pb::DocumentKind],
    fee_fen: i64,
    card_expiry: Option<(i32, i32, i32)>,
}

const RENEWAL: Applicant = Applicant {
    kind: pb::ApplicationKind::Renewal,
    citizen_id: "110105200005200116",
    name: "王小明",
    sex: pb::Sex::Male,
    ethnicity: "汉",
    birth: (2000, 5, 20),
    address: "北京市朝阳区建国路88号",
    domicile: "110105",
    phone: "13800000001",
    documents: &[pb::DocumentKind::OldIdCard, pb::DocumentKind::ResidencePermit],
    fee_fen: 2000,
    card_expiry: Some((2026, 12, 20)),
};

const REPLACEMENT: Applicant = Applicant {
    kind: pb::ApplicationKind::Replacement,
    citizen_id: "440106197809090221",
    name: "李芳",
    sex: pb::Sex::Female,
    ethnicity: "汉",
    birth: (1978, 9, 9),
    address: "广东省广州市天河区体育西路1号",
    domicile: "440106",
    phone: "13800000002",
    documents: &[pb::DocumentKind::HouseholdBooklet, pb::DocumentKind::ResidencePermit],
    fee_fen: 4000,
    card_expiry: None,
};

struct Clients {
    acceptance: AcceptanceServiceClient<Authed>,
    review: ReviewServiceClient<Authed>,
    production: ProductionServiceClient<Authed>,
    timeout: Duration,
}

pub async fn run(args: Args, endpoints: &Endpoints) -> anyhow::Result<ExitCode> {
    if let Some(Walk::Loss) = args.walk {
        return crate::demo_loss::run(&args, endpoints).await;
    }
    // The demo acts as a clerk, a reviewer and a production operator, each with a token
    // of its own from the development signing key of `idctl up`.
    let secure = endpoints.acceptance_url.starts_with("https://");
    let security = DevSecurity::ensure(&endpoints.data_dir, !secure)?;
    let ttl = Duration::from_secs(15 * 60);
    let clerk = security.token("clerk-demo", Role::Clerk, &[args.point.as_str()], ttl)?;
    let reviewer = security.token("reviewer-demo", Role::Reviewer, &["11", "44"], ttl)?;
    let operator = security.token("operator-demo", Role::ProductionOperator, &["production"], ttl)?;
    let mut clients = Clients {
        acceptance: AcceptanceServiceClient::new(endpoints.channel(&endpoints.acceptance_url, clerk.as_deref()).await?),
        review: ReviewServiceClient::new(endpoints.channel(&endpoints.review_url, reviewer.as_deref()).await?),
        production: ProductionServiceClient::new(
            endpoints
                .channel(&endpoints.production_url, operator.as_deref())
                .await?,
        ),
        timeout: args.step_timeout,
    };
    let mut finals = Vec::new();
    for (applicant, remake) in [(&RENEWAL, true), (&REPLACEMENT, false)] {
        let app = walk(&mut clients, &args.point, applicant, remake).await?;
        finals.push(app);
    }
    println!("\n== final status");
    for app in &finals {
        println!(
            "{} {}: {}",
            app.receipt_number,
            print::kind_name(app.kind),
            print::state_name(app.state)
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Takes one application from the counter to collection.
async fn walk(c: &mut Clients, point: &str, who: &Applicant, remake: bool) -> anyhow::Result<pb::Application> {
    let kind = if who.kind == pb::ApplicationKind::Renewal {
        "renewal"
    } else {
        "replacement"
    };
    println!("\n== {kind} at acceptance point {point}");
    let submitted = c
        .acceptance
        .submit_application(submit_request(point, who))
        .await?
        .into_inner()
        .application
        .context("no application in the answer")?;
    let id = submitted.application_id.clone();
    println!(
        "1. submitted: receipt {}, due {}",
        submitted.receipt_number,
        print::date(submitted.due_date.as_ref())
    );

    wait_for(c, &id, pb::ApplicationState::UnderReview).await?;
    println!("2. delivered to the domicile bureau, under review");

    let jurisdiction = &who.domicile[..2];
    let pending = c
        .review
        .list_pending_applications(pb::ListPendingApplicationsRequest {
            jurisdiction_code: jurisdiction.to_string(),
            page_size: 500,
            page_token: String::new(),
        })
        .await?
        .into_inner();
    if !pending.applications.iter().any(|p| p.application_id == id) {
        bail!("the application is not pending at the domicile bureau for {jurisdiction}");
    }
    let case = c
        .review
        .get_application(pb::ReviewServiceGetApplicationRequest {
            application_id: id.clone(),
        })
        .await?
        .into_inner()
        .review_case
        .context("no case in the answer")?;
    println!("3. reviewer opens the case: {} finding(s)", case.findings.len());
    for finding in &case.findings {
        println!("   - {} {}: {}", finding.code, finding.field, finding.message);
    }
    let approved = c
        .review
        .approve_application(pb::ApproveApplicationRequest {
            request_id: uuid::Uuid::now_v7().to_string(),
            application_id: id.clone(),
            reviewer: "reviewer-demo".to_string(),
            note: "checked against the household register".to_string(),
        })
        .await?
        .into_inner()
        .review_case
        .context("no case in the answer")?;
    if let Some(issuance) = &approved.issuance {
        println!(
            "4. approved and issued by {}: valid {} to {}",
            issuance.issuing_authority,
            print::date(issuance.validity_start.as_ref()),
            if issuance.long_term {
                "long-term".to_string()
            } else {
                print::date(issuance.validity_end.as_ref())
            }
        );
    }
    wait_for(c, &id, pb::ApplicationState::InProduction).await?;
    println!("5. production started");

    let job = c
        .production
        .get_job(pb::GetJobRequest {
            key: Some(pb::get_job_request::Key::ApplicationId(id.clone())),
        })
        .await?
        .into_inner()
        .job
        .context("no job in the answer")?;
    if remake {
        c.production
            .record_quality_check(pb::RecordQualityCheckRequest {
                request_id: uuid::Uuid::now_v7().to_string(),
                job_id: job.job_id.clone(),
                passed: false,
                defects: vec!["chip data does not match the printed data".to_string()],
                operator: "qc-demo".to_string(),
            })
            .await?;
        println!("6. quality check failed: the card is remade");
    }
    c.production
        .record_quality_check(pb::RecordQualityCheckRequest {
            request_id: uuid::Uuid::now_v7().to_string(),
            job_id: job.job_id.clone(),
            passed: true,
            defects: Vec::new(),
            operator: "qc-demo".to_string(),
        })
        .await?;
    println!("{}. quality check passed", if remake { 7 } else { 6 });
    c.production
        .dispatch_card(pb::DispatchCardRequest {
            request_id: uuid::Uuid::now_v7().to_string(),
            job_id: job.job_id.clone(),
            tracking_number: format!("EMS{}", &job.job_id[job.job_id.len() - 8..]),
            operator: "dispatch-demo".to_string(),
        })
        .await?;
    wait_for(c, &id, pb::ApplicationState::Dispatched).await?;
    println!("   dispatched to the acceptance point");

    c.acceptance
        .confirm_card_arrival(pb::ConfirmCardArrivalRequest {
            request_id: uuid::Uuid::now_v7().to_string(),
            application_id: id.clone(),
            clerk: "clerk-demo".to_string(),
        })
        .await?;
    println!("   card arrived at the acceptance point: ready for collection");
    let collected = c
        .acceptance
        .collect_card(pb::CollectCardRequest {
            request_id: uuid::Uuid::now_v7().to_string(),
            key: Some(pb::collect_card_request::Key::ReceiptNumber(
                submitted.receipt_number.clone(),
            )),
            applicant_checked_and_signed: true,
            old_card_surrendered: who.kind == pb::ApplicationKind::Renewal,
            clerk: "clerk-demo".to_string(),
        })
        .await?
        .into_inner()
        .application
        .context("no application in the answer")?;
    println!(
        "   collected with receipt {}{}",
        submitted.receipt_number,
        if who.kind == pb::ApplicationKind::Renewal {
            ", old card surrendered"
        } else {
            ""
        }
    );
    println!("{}", print::application(&collected));
    Ok(collected)
}

pub(crate) fn submit_request(point: &str, who: &Applicant) -> pb::SubmitApplicationRequest {
    let date = |(year, month, day): (i32, i32, i32)| pb::CalendarDate { year, month, day };
    pb::SubmitApplicationRequest {
        request_id: uuid::Uuid::now_v7().to_string(),
        acceptance_point_code: point.to_string(),
        kind: who.kind.into(),
        applicant: Some(pb::Applicant {
            card_items: Some(pb::CardItems {
                citizen_id: who.citizen_id.to_string(),
                name: who.name.to_string(),
                sex: who.sex.into(),
                ethnicity: who.ethnicity.to_string(),
                birth_date: Some(date(who.birth)),
                domicile_address: who.address.to_string(),
            }),
            domicile_region_code: who.domicile.to_string(),
            phone: who.phone.to_string(),
            photo: DEMO_PHOTO.to_vec(),
            fingerprints: vec![b"demo-fingerprint-template".to_vec()],
        }),
        guardian: None,
        documents: who.documents.iter().map(|d| i32::from(*d)).collect(),
        fee: Some(pb::FeePayment {
            waiver: pb::FeeWaiver::None.into(),
            amount_fen: who.fee_fen,
            payment_reference: format!("POS-{}", uuid::Uuid::now_v7().simple()),
        }),
        current_card_expiry: who.card_expiry.map(date),
        appearance_changed: false,
        clerk: "clerk-demo".to_string(),
        loss_report_number: String::new(),
    }
}

/// The start of a JPEG file; the demo has no camera.
pub(crate) const DEMO_PHOTO: &[u8] = &[
    0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0x00, 0xFF, 0xD9,
];

/// Polls the acceptance service until the application has reached `state`.
async fn wait_for(c: &mut Clients, id: &str, state: pb::ApplicationState) -> anyhow::Result<pb::Application> {
    let started = Instant::now();
    loop {
        let app = c
            .acceptance
            .get_application(pb::GetApplicationRequest {
                key: Some(pb::get_application_request::Key::ApplicationId(id.to_string())),
            })
            .await?
            .into_inner()
            .application
            .context("no application in the answer")?;
        if app.history.iter().any(|e| e.state == i32::from(state)) {
            return Ok(app);
        }
        if started.elapsed() > c.timeout {
            bail!(
                "application {id} did not reach {} within {:?}; it is {}",
                print::state_name(state.into()),
                c.timeout,
                print::state_name(app.state)
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
