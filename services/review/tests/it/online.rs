//! Online loss reports: a citizen token, a one-time code to the phone on record, the
//! lock-out after five wrong codes.

use idcard_proto::v1::citizen_service_client::CitizenServiceClient;
use idcard_proto::v1::{
    CardStatus, ConfirmOnlineLossReportRequest, GetOnlineLossReportRequest, LossKind, LossReport, LossReportState,
    StartOnlineLossReportRequest, StartOnlineLossReportResponse,
};
use idcard_server::wire::timestamp_to_ms;
use tonic::{Code, Status};
use tonic_types::StatusExt;
use uuid::Uuid;

use crate::support::{App, Authed, Person, reason_codes};

fn start_request(person: &Person) -> StartOnlineLossReportRequest {
    StartOnlineLossReportRequest {
        request_id: Uuid::now_v7().to_string(),
        citizen_id: person.citizen_id.clone(),
        name: person.name.clone(),
    }
}

fn confirm_request(challenge: &StartOnlineLossReportResponse, code: &str) -> ConfirmOnlineLossReportRequest {
    ConfirmOnlineLossReportRequest {
        request_id: Uuid::now_v7().to_string(),
        challenge_id: challenge.challenge_id.clone(),
        code: code.to_string(),
        kind: LossKind::Stolen.into(),
        circumstance: "taken from my bag at the market".to_string(),
    }
}

/// A code that is not `code`.
fn wrong(code: &str) -> String {
    let value: u32 = code.parse().unwrap();
    format!("{:06}", (value + 1) % 1_000_000)
}

async fn start(
    app: &App,
    client: &mut CitizenServiceClient<Authed>,
    person: &Person,
) -> (StartOnlineLossReportResponse, String) {
    let sent = app.codes().len();
    let challenge = client
        .start_online_loss_report(start_request(person))
        .await
        .unwrap()
        .into_inner();
    let code = app.wait_for_code(sent).await;
    (challenge, code)
}

async fn confirm(
    client: &mut CitizenServiceClient<Authed>,
    challenge: &StartOnlineLossReportResponse,
    code: &str,
) -> Result<LossReport, Status> {
    client
        .confirm_online_loss_report(confirm_request(challenge, code))
        .await
        .map(|response| response.into_inner().report.unwrap())
}

fn attempts_left(status: &Status) -> String {
    status.get_details_error_info().unwrap().metadata["attempts_left"].clone()
}

#[tokio::test]
async fn right_code_records_the_report_like_a_counter_report() {
    let mut app = App::spawn().await;
    let person = Person::aged(30, 301);
    let record = person.resident();
    let card_id = Person::card_id(&record);
    app.import(vec![record]).await;
    let mut citizen = app.citizen(&person.citizen_id);

    let (challenge, code) = start(&app, &mut citizen, &person).await;

    assert_eq!(challenge.phone_masked, "138****0301");
    let valid_ms = timestamp_to_ms(challenge.expires_at.as_ref().unwrap()) - idcard_db::now_ms();
    assert!((9 * 60_000..=10 * 60_000).contains(&valid_ms), "{valid_ms}");
    let request = confirm_request(&challenge, &code);
    let report = citizen
        .confirm_online_loss_report(request.clone())
        .await
        .unwrap()
        .into_inner()
        .report
        .unwrap();
    assert_eq!(report.state, LossReportState::Active as i32);
    assert_eq!(report.kind, LossKind::Stolen as i32);
    assert_eq!(report.taken_at, "online");
    assert_eq!(report.same_as_report_number, "");
    assert!(report.citizen_id_masked.contains('*'));
    let states: Vec<i32> = report.history.iter().map(|event| event.state).collect();
    assert_eq!(
        states,
        [LossReportState::Submitted as i32, LossReportState::Active as i32]
    );
    app.wait_for_status(&card_id, CardStatus::ReportedLost).await;
    app.wait_for_notification(&report.report_number).await;
    assert_eq!(app.card_statuses(&person.citizen_id).await, ["reported_lost"]);

    // A retry of the same request answers the same report; reading it back too.
    let replayed = citizen.confirm_online_loss_report(request).await.unwrap().into_inner();
    assert_eq!(replayed.report.unwrap().report_number, report.report_number);
    let read = citizen
        .get_online_loss_report(GetOnlineLossReportRequest {
            report_number: report.report_number.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .report
        .unwrap();
    assert_eq!(read.report_number, report.report_number);
    assert_eq!(read.state, LossReportState::Active as i32);

    // Reported again online: the same rule as at the counter.
    let (challenge, code) = start(&app, &mut citizen, &person).await;
    let again = confirm(&mut citizen, &challenge, &code).await.unwrap();
    assert_eq!(again.same_as_report_number, report.report_number);
    app.stop().await;
}

#[tokio::test]
async fn wrong_codes_count_down_across_challenges_and_the_fifth_locks_reporting() {
    let mut app = App::spawn().await;
    let person = Person::aged(30, 302);
    app.import(vec![person.resident()]).await;
    let mut citizen = app.citizen(&person.citizen_id);

    let (first, first_code) = start(&app, &mut citizen, &person).await;
    let mut left = Vec::new();
    for _ in 0..2 {
        let status = confirm(&mut citizen, &first, &wrong(&first_code)).await.unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
        left.push(attempts_left(&status));
    }
    let (second, code) = start(&app, &mut citizen, &person).await;
    let mut last = None;
    for _ in 0..3 {
        let status = confirm(&mut citizen, &second, &wrong(&code)).await.unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
        left.push(attempts_left(&status));
        last = Some(status);
    }

    assert_eq!(left, ["4", "3", "2", "1", "0"], "counted per card across challenges");
    assert!(last.unwrap().message().contains("locked for 15 minutes"));
    let locked = confirm(&mut citizen, &second, &code).await.unwrap_err();
    assert_eq!(locked.code(), Code::FailedPrecondition);
    assert_eq!(reason_codes(&locked), ["REPORTING_LOCKED"]);
    let restart = citizen
        .start_online_loss_report(start_request(&person))
        .await
        .unwrap_err();
    assert_eq!(reason_codes(&restart), ["REPORTING_LOCKED"]);
    assert_eq!(app.card_statuses(&person.citizen_id).await, ["active"]);
    app.stop().await;
}

#[tokio::test]
async fn a_citizen_reports_and_reads_only_their_own_card() {
    let mut app = App::spawn().await;
    let person = Person::aged(30, 303);
    let other = Person::aged(35, 304);
    app.import(vec![person.resident(), other.resident()]).await;
    let mut citizen = app.citizen(&person.citizen_id);
    let mut intruder = app.citizen(&other.citizen_id);

    let denied = intruder
        .start_online_loss_report(start_request(&person))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);

    let (challenge, code) = start(&app, &mut citizen, &person).await;
    let foreign = confirm(&mut intruder, &challenge, &code).await.unwrap_err();
    let unknown = confirm(
        &mut intruder,
        &StartOnlineLossReportResponse {
            challenge_id: Uuid::now_v7().to_string(),
            ..challenge.clone()
        },
        &code,
    )
    .await
    .unwrap_err();
    assert_eq!(foreign.code(), Code::NotFound);
    assert_eq!(unknown.code(), Code::NotFound);
    let report = confirm(&mut citizen, &challenge, &code).await.unwrap();

    let read = |number: &str| GetOnlineLossReportRequest {
        report_number: number.to_string(),
    };
    let hidden = intruder
        .get_online_loss_report(read(&report.report_number))
        .await
        .unwrap_err();
    let missing = intruder
        .get_online_loss_report(read(&crate::support::report_number()))
        .await
        .unwrap_err();
    assert_eq!(hidden.code(), Code::NotFound);
    assert_eq!(missing.code(), Code::NotFound);
    assert_eq!(
        hidden.message().replace(&report.report_number, "N"),
        missing.message().replace(&read_number(&missing), "N"),
        "another citizen's report answers exactly like an unknown one"
    );

    // The name must match the register.
    let mut misnamed = start_request(&person);
    misnamed.name = "韩梅梅".to_string();
    let not_found = citizen.start_online_loss_report(misnamed).await.unwrap_err();
    assert_eq!(not_found.code(), Code::NotFound);
    assert_eq!(not_found.message(), "no card to report for this name and number");
    app.stop().await;
}

/// The report number a `NOT_FOUND` message names.
fn read_number(status: &Status) -> String {
    status.message().rsplit(' ').next().unwrap().to_string()
}
