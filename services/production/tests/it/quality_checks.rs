use idcard_proto::v1::{JobState, ProductionStep};
use idcard_server::status::{reason_codes, violated_fields};
use tonic::Code;
use uuid::Uuid;

use crate::support::{FakeAcceptance, OPERATOR, TestApp, check_request, steps};

#[tokio::test]
async fn a_failed_check_remakes_the_card_and_every_step_is_reported_in_order() {
    // Arrange
    let acceptance = FakeAcceptance::start().await;
    let mut app = TestApp::spawn(acceptance.addr).await;
    let job = app.job_for_new_order().await;

    // Act
    let failed = app
        .check(&job.job_id, false, &["chip data does not match print", "photo blurred"])
        .await
        .unwrap();
    let passed = app.check(&job.job_id, true, &[]).await.unwrap();
    let dispatched = app.dispatch(&job.job_id, "SF1234567890").await.unwrap();

    // Assert
    assert_eq!(failed.state(), JobState::InProduction);
    assert_eq!(failed.remake_count, 1);
    assert_eq!(failed.checks.len(), 1);
    assert!(!failed.checks[0].passed);
    assert_eq!(
        failed.checks[0].defects,
        ["chip data does not match print", "photo blurred"]
    );
    assert_eq!(
        failed.checks[0].operator, OPERATOR,
        "the token's subject, not the request's field"
    );
    assert_eq!(passed.state(), JobState::Passed);
    assert_eq!(passed.remake_count, 1);
    assert_eq!(passed.checks.len(), 2);
    assert!(passed.checks[1].passed);
    assert_eq!(dispatched.state(), JobState::Dispatched);
    assert_eq!(dispatched.tracking_number, "SF1234567890");
    assert!(dispatched.dispatched_at.is_some());
    assert_eq!(dispatched.remake_count, 1);

    let updates = acceptance.received.wait_for(4).await;
    assert_eq!(
        steps(&updates),
        [
            ProductionStep::Started,
            ProductionStep::QualityCheckFailed,
            ProductionStep::QualityCheckPassed,
            ProductionStep::Dispatched
        ]
    );
    assert!(updates.iter().all(|u| u.application_id == job.application_id));
    assert_eq!(updates[1].detail, "chip data does not match print; photo blurred");
    assert_eq!(updates[1].operator, OPERATOR);
    assert_eq!(updates[3].detail, "SF1234567890");
    assert_eq!(updates[3].operator, OPERATOR);
}

#[tokio::test]
async fn a_failed_check_without_defects_is_refused_naming_defects() {
    // Arrange
    let acceptance = FakeAcceptance::start().await;
    let mut app = TestApp::spawn(acceptance.addr).await;
    let job = app.job_for_new_order().await;

    // Act
    let status = app.check(&job.job_id, false, &[]).await.unwrap_err();

    // Assert
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(violated_fields(&status), ["defects"]);
    let unchanged = app.job_of_application(&job.application_id).await;
    assert_eq!(unchanged, job);
}

#[tokio::test]
async fn a_check_with_bad_fields_names_each_field_and_takes_the_operator_from_the_token() {
    // Arrange
    let acceptance = FakeAcceptance::start().await;
    let mut app = TestApp::spawn(acceptance.addr).await;
    let mut request = check_request("job-1", false, &["ok", "  "]);
    request.request_id = String::new();
    request.operator = String::new();

    // Act
    let status = app.production.record_quality_check(request).await.unwrap_err();

    // Assert
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(violated_fields(&status), ["request_id", "job_id", "defects[1]"]);
}

#[tokio::test]
async fn a_repeated_check_request_id_returns_the_first_answer_and_reports_once() {
    // Arrange
    let acceptance = FakeAcceptance::start().await;
    let mut app = TestApp::spawn(acceptance.addr).await;
    let job = app.job_for_new_order().await;
    let request = check_request(&job.job_id, false, &["misprinted name"]);

    // Act
    let first = app
        .production
        .record_quality_check(request.clone())
        .await
        .unwrap()
        .into_inner();
    let again = app.production.record_quality_check(request).await.unwrap().into_inner();

    // Assert
    assert_eq!(again, first);
    let job_now = app.job_of_application(&job.application_id).await;
    assert_eq!(job_now.remake_count, 1);
    assert_eq!(job_now.checks.len(), 1);
    // Reports of one application arrive in order: once PASSED is in, a second FAILED
    // would have arrived before it.
    app.check(&job.job_id, true, &[]).await.unwrap();
    let updates = acceptance.received.wait_for(3).await;
    assert_eq!(
        steps(&updates),
        [
            ProductionStep::Started,
            ProductionStep::QualityCheckFailed,
            ProductionStep::QualityCheckPassed
        ]
    );
}

#[tokio::test]
async fn a_request_id_reused_for_a_different_check_is_refused() {
    // Arrange
    let acceptance = FakeAcceptance::start().await;
    let mut app = TestApp::spawn(acceptance.addr).await;
    let job = app.job_for_new_order().await;
    let first = check_request(&job.job_id, false, &["misprinted name"]);
    app.production.record_quality_check(first.clone()).await.unwrap();
    let mut different = check_request(&job.job_id, true, &[]);
    different.request_id = first.request_id;

    // Act
    let status = app.production.record_quality_check(different).await.unwrap_err();

    // Assert
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(violated_fields(&status), ["request_id"]);
}

#[tokio::test]
async fn a_check_of_a_job_no_longer_in_production_is_refused_with_its_code() {
    // Arrange
    let acceptance = FakeAcceptance::start().await;
    let mut app = TestApp::spawn(acceptance.addr).await;
    let job = app.job_for_new_order().await;
    app.check(&job.job_id, true, &[]).await.unwrap();

    // Act
    let status = app.check(&job.job_id, false, &["scratched"]).await.unwrap_err();

    // Assert
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert_eq!(reason_codes(&status), ["JOB_NOT_IN_PRODUCTION"]);
    let unchanged = app.job_of_application(&job.application_id).await;
    assert_eq!(unchanged.state(), JobState::Passed);
    assert_eq!(unchanged.remake_count, 0);
    assert_eq!(unchanged.checks.len(), 1);
}

#[tokio::test]
async fn a_check_of_an_unknown_job_is_not_found() {
    // Arrange
    let acceptance = FakeAcceptance::start().await;
    let mut app = TestApp::spawn(acceptance.addr).await;

    // Act
    let status = app.check(&Uuid::now_v7().to_string(), true, &[]).await.unwrap_err();

    // Assert
    assert_eq!(status.code(), Code::NotFound);
}
