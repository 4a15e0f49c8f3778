//! `idctl demo loss`: a card's whole life with a loss report, as a bank, a clerk, a
//! reviewer and the citizen see it. Uses a sample resident `idctl up` loads.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use idcard_auth::Role;
use idcard_proto::v1 as pb;
use idcard_proto::v1::acceptance_service_client::AcceptanceServiceClient;
use idcard_proto::v1::card_status_service_client::CardStatusServiceClient;
use idcard_proto::v1::found_card_service_client::FoundCardServiceClient;
use idcard_proto::v1::review_service_client::ReviewServiceClient;
use idcard_server::wire;
use idctl::client::Authed;
use idctl::security::DevSecurity;

use crate::demo::{Args, DEMO_PHOTO};
use crate::endpoints::Endpoints;
use crate::loss_cmd::verify;
use crate::print;

/// 孙磊 of Beijing Chaoyang (see `seed/residents.jsonl`): fingerprint on record.
const CITIZEN_ID: &str = "110105199003020773";
const NAME: &str = "孙磊";
const DOMICILE: &str = "110105";
const CARD_START: (i32, u8, u8) = (2017, 2, 1);

struct Clients {
    clerk: AcceptanceServiceClient<Authed>,
    verifier: CardStatusServiceClient<Authed>,
    reviewer: ReviewServiceClient<Authed>,
    station: FoundCardServiceClient<Authed>,
    owner: FoundCardServiceClient<Authed>,
    timeout: Duration,
}

pub async fn run(args: &Args, endpoints: &Endpoints) -> anyhow::Result<ExitCode> {
    let secure = endpoints.acceptance_url.starts_with("https://");
    let security = DevSecurity::ensure(&endpoints.data_dir, !secure)?;
    let ttl = Duration::from_secs(15 * 60);
    let token = |subject: &str, role: Role, scope: &[&str]| security.token(subject, role, scope, ttl);
    let mut c = Clients {
        clerk: AcceptanceServiceClient::new(
            endpoints
                .channel(
                    &endpoints.acceptance_url,
                    token("clerk-demo", Role::Clerk, &[&args.point])?.as_deref(),
                )
                .await?,
        ),
        verifier: CardStatusServiceClient::new(
            endpoints
                .channel(
                    &endpoints.status_url,
                    token("bank-demo", Role::Verifier, &[])?.as_deref(),
                )
                .await?,
        ),
        reviewer: ReviewServiceClient::new(
            endpoints
                .channel(
                    &endpoints.review_url,
                    token("reviewer-demo", Role::Reviewer, &["11"])?.as_deref(),
                )
                .await?,
        ),
        station: FoundCardServiceClient::new(
            endpoints
                .channel(
                    &endpoints.status_url,
                    token("station-demo", Role::Clerk, &["*"])?.as_deref(),
                )
                .await?,
        ),
        owner: FoundCardServiceClient::new(
            endpoints
                .channel(
                    &endpoints.status_url,
                    token("citizen-demo", Role::Citizen, &[CITIZEN_ID])?.as_deref(),
                )
                .await?,
        ),
        timeout: args.step_timeout,
    };
    let old_card = date(CARD_START)?;

    println!("== the card of {} (valid from {old_card})", print::masked(CITIZEN_ID));
    // The register's cards reach the status service through the review outbox: right after
    // `idctl up` the card may not be published yet.
    let started = Instant::now();
    let mut answer = verify(&mut c.verifier, CITIZEN_ID, NAME, old_card).await?;
    while answer == i32::from(pb::VerificationAnswer::NoMatch) && started.elapsed() < c.timeout {
        tokio::time::sleep(Duration::from_millis(100)).await;
        answer = verify(&mut c.verifier, CITIZEN_ID, NAME, old_card).await?;
    }
    println!("1. a bank verifies it: {}", print::verification(answer));
    if answer != i32::from(pb::VerificationAnswer::Valid) {
        bail!(
            "the sample card is not valid any more (an earlier `idctl demo loss`?); run it on a fresh `idctl up --data-dir`"
        );
    }

    let first = report(&mut c, &args.point).await?;
    println!("2. reported lost at {}: report {}", args.point, first.report_number);
    let first = wait_report(&mut c, &first.report_number, pb::LossReportState::Active).await?;
    println!(
        "   the domicile bureau recorded it: {}",
        print::loss_state_name(first.state)
    );
    wait_verify(
        &mut c,
        old_card,
        pb::VerificationAnswer::ReportedLost,
        "3. the bank verifies again",
    )
    .await?;

    let again = report(&mut c, &args.point).await?;
    println!("4. reported again: report {} (the same report)", again.report_number);
    if again.report_number != first.report_number {
        bail!(
            "a second report of the card gave a new report number {}",
            again.report_number
        );
    }

    c.clerk
        .revoke_loss_report(pb::RevokeLossReportRequest {
            request_id: uuid::Uuid::now_v7().to_string(),
            report_number: first.report_number.clone(),
            identity: Some(fingerprint()),
        })
        .await?;
    wait_report(&mut c, &first.report_number, pb::LossReportState::Revoked).await?;
    println!("5. the card turned up: report {} revoked", first.report_number);
    wait_verify(&mut c, old_card, pb::VerificationAnswer::Valid, "   the bank verifies").await?;

    let second = report(&mut c, &args.point).await?;
    let second = wait_report(&mut c, &second.report_number, pb::LossReportState::Active).await?;
    println!(
        "6. lost again: report {} ({})",
        second.report_number,
        print::loss_state_name(second.state)
    );
    wait_verify(
        &mut c,
        old_card,
        pb::VerificationAnswer::ReportedLost,
        "   the bank verifies",
    )
    .await?;

    let issuance = replace(&mut c, &args.point, &second.report_number).await?;
    let closed = wait_report(&mut c, &second.report_number, pb::LossReportState::Closed).await?;
    println!(
        "7. replacement issued by {} (valid from {}): report {} {}",
        issuance.issuing_authority,
        print::date(issuance.validity_start.as_ref()),
        closed.report_number,
        print::loss_state_name(closed.state)
    );
    wait_verify(
        &mut c,
        old_card,
        pb::VerificationAnswer::Invalidated,
        "   the bank verifies the old card",
    )
    .await?;
    let new_card = wire::date_from_wire("validity_start", issuance.validity_start.as_ref())
        .map_err(|e| anyhow::anyhow!("{}: {}", e.field, e.description))?;
    wait_verify(
        &mut c,
        new_card,
        pb::VerificationAnswer::Valid,
        "   the bank verifies the new card",
    )
    .await?;

    c.station
        .register_found_card(pb::RegisterFoundCardRequest {
            request_id: uuid::Uuid::now_v7().to_string(),
            citizen_id: CITIZEN_ID.to_string(),
            name: NAME.to_string(),
            validity_start: Some(wire::date_to_wire(old_card)),
            found_at: "上海虹桥站失物招领处".to_string(),
            collect_at: "长宁区派出所户籍窗口".to_string(),
            station_code: "310105-02".to_string(),
        })
        .await?;
    println!("8. a station registers the old card as found");
    let found = c
        .owner
        .query_found_card(pb::QueryFoundCardRequest {
            citizen_id: CITIZEN_ID.to_string(),
        })
        .await?
        .into_inner();
    println!("9. the owner asks: {}", print::found_card(&found));
    Ok(ExitCode::SUCCESS)
}

fn date((year, month, day): (i32, u8, u8)) -> anyhow::Result<time::Date> {
    Ok(time::Date::from_calendar_date(
        year,
        time::Month::try_from(month)?,
        day,
    )?)
}

fn fingerprint() -> pb::IdentityConfirmation {
    pb::IdentityConfirmation {
        method: Some(pb::identity_confirmation::Method::FingerprintMatched(true)),
    }
}

async fn report(c: &mut Clients, point: &str) -> anyhow::Result<pb::LossReport> {
    let request = pb::ReportLossRequest {
        request_id: uuid::Uuid::now_v7().to_string(),
        acceptance_point_code: point.to_string(),
        citizen_id: CITIZEN_ID.to_string(),
        name: NAME.to_string(),
        domicile_region_code: DOMICILE.to_string(),
        kind: pb::LossKind::Lost.into(),
        circumstance: "在地铁上遗失".to_string(),
        identity: Some(fingerprint()),
    };
    c.clerk
        .report_loss(request)
        .await?
        .into_inner()
        .report
        .context("no report in the answer")
}

async fn wait_report(c: &mut Clients, number: &str, state: pb::LossReportState) -> anyhow::Result<pb::LossReport> {
    let started = Instant::now();
    loop {
        let report = c
            .clerk
            .get_loss_report(pb::GetLossReportRequest {
                report_number: number.to_string(),
            })
            .await?
            .into_inner()
            .report
            .context("no report in the answer")?;
        if report.state == i32::from(state) {
            return Ok(report);
        }
        if started.elapsed() > c.timeout {
            bail!(
                "report {number} is {} after {:?}",
                print::loss_state_name(report.state),
                c.timeout
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn wait_verify(
    c: &mut Clients,
    start: time::Date,
    want: pb::VerificationAnswer,
    label: &str,
) -> anyhow::Result<()> {
    let started = Instant::now();
    loop {
        let answer = verify(&mut c.verifier, CITIZEN_ID, NAME, start).await?;
        if answer == i32::from(want) {
            println!("{label}: {}", print::verification(answer));
            return Ok(());
        }
        if started.elapsed() > c.timeout {
            bail!(
                "verification still {} after {:?}",
                print::verification(answer),
                c.timeout
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A replacement of the reported card, approved by the domicile bureau.
async fn replace(c: &mut Clients, point: &str, report_number: &str) -> anyhow::Result<pb::Issuance> {
    let request = pb::SubmitApplicationRequest {
        request_id: uuid::Uuid::now_v7().to_string(),
        acceptance_point_code: point.to_string(),
        kind: pb::ApplicationKind::Replacement.into(),
        applicant: Some(pb::Applicant {
            card_items: Some(pb::CardItems {
                citizen_id: CITIZEN_ID.to_string(),
                name: NAME.to_string(),
                sex: pb::Sex::Male.into(),
                ethnicity: "满".to_string(),
                birth_date: Some(pb::CalendarDate {
                    year: 1990,
                    month: 3,
                    day: 2,
                }),
                domicile_address: "北京市朝阳区望京街9号".to_string(),
            }),
            domicile_region_code: DOMICILE.to_string(),
            phone: "13800000007".to_string(),
            photo: DEMO_PHOTO.to_vec(),
            fingerprints: vec![b"demo-fingerprint-template".to_vec()],
        }),
        guardian: None,
        documents: vec![
            pb::DocumentKind::HouseholdBooklet.into(),
            pb::DocumentKind::ResidencePermit.into(),
        ],
        fee: Some(pb::FeePayment {
            waiver: pb::FeeWaiver::None.into(),
            amount_fen: 4000,
            payment_reference: format!("POS-{}", uuid::Uuid::now_v7().simple()),
        }),
        current_card_expiry: None,
        appearance_changed: false,
        clerk: String::new(),
        loss_report_number: report_number.to_string(),
    };
    let app = c
        .clerk
        .submit_application(request)
        .await?
        .into_inner()
        .application
        .context("no application")?;
    let started = Instant::now();
    loop {
        let approve = c
            .reviewer
            .approve_application(pb::ApproveApplicationRequest {
                request_id: uuid::Uuid::now_v7().to_string(),
                application_id: app.application_id.clone(),
                reviewer: String::new(),
                note: "loss report checked".to_string(),
            })
            .await;
        match approve {
            Ok(answer) => {
                let case = answer.into_inner().review_case.context("no case")?;
                return case.issuance.context("approved without an issuance");
            }
            // Not at the domicile bureau yet.
            Err(status) if status.code() == tonic::Code::NotFound && started.elapsed() < c.timeout => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(status) => return Err(status.into()),
        }
    }
}
