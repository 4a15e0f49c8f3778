use idcard_proto::v1::{JobState, ProductionStep};
use idcard_server::status::{reason_codes, violated_fields};
use tonic::Code;

use crate::support::{FakeAcceptance, TestApp, dispatch_request, steps};

#[tokio::test]
async fn dispatch_before_a_passed_check_is_refused_with_job_not_checked() {
    // Arrange
    let acceptance = FakeAcceptance::start().await;
    let mut app = TestApp::spawn(acceptance.addr).await;
    let job = app.job_for_new_order().await;

    // Act
    let status = app.dispatch(&job.job_id, "SF1234567890").await.unwrap_err();

    // Assert
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert_eq!(reason_codes(&status), ["JOB_NOT_CHECKED"]);
    let unchanged = app.job_of_application(&job.application_id).await;
    assert_eq!(unchanged.state(), JobState::InProduction);
    assert!(unchanged.tracking_number.is_empty());
}

#[tokio::test]
async fn dispatch_of_a_dispatched_job_is_refused_with_job_not_checked() {
    // Arrange
    let acceptance = FakeAcceptance::start().await;
    let mut app = TestApp::spawn(acceptance.addr).await;
    let job = app.job_for_new_order().await;
    app.check(&job.job_id, true, &[]).await.unwrap();
    app.dispatch(&job.job_id, "SF1234567890").await.unwrap();

    // Act
    let status = app.dispatch(&job.job_id, "SF0000000001").await.unwrap_err();

    // Assert
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert_eq!(reason_codes(&status), ["JOB_NOT_CHECKED"]);
    let unchanged = app.job_of_application(&job.application_id).await;
    assert_eq!(unchanged.tracking_number, "SF1234567890");
}

#[tokio::test]
async fn dispatch_without_a_tracking_number_names_the_field() {
    // Arrange
    let acceptance = FakeAcceptance::start().await;
    let mut app = TestApp::spawn(acceptance.addr).await;
    let job = app.job_for_new_order().await;
    app.check(&job.job_id, true, &[]).await.unwrap();

    // Act
    let status = app.dispatch(&job.job_id, "  ").await.unwrap_err();

    // Assert
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(violated_fields(&status), ["tracking_number"]);
    assert_eq!(
        app.job_of_application(&job.application_id).await.state(),
        JobState::Passed
    );
}

#[tokio::test]
async fn a_repeated_dispatch_request_id_returns_the_first_answer_and_reports_once() {
    // Arrange
    let acceptance = FakeAcceptance::start().await;
    let mut app = TestApp::spawn(acceptance.addr).await;
    let job = app.job_for_new_order().await;
    app.check(&job.job_id, true, &[]).await.unwrap();
    let request = dispatch_request(&job.job_id, "SF1234567890");

    // Act
    let first = app
        .production
        .dispatch_card(request.clone())
        .await
        .unwrap()
        .into_inner();
    let again = app.production.dispatch_card(request).await.unwrap().into_inner();

    // Assert
    assert_eq!(again, first);
    assert_eq!(first.job.unwrap().state(), JobState::Dispatched);
    let updates = acceptance.received.wait_for(3).await;
    // Give a duplicate time to show up: the relay polls every 50 ms in these tests.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(
        steps(&acceptance.received.all()),
        [
            ProductionStep::Started,
            ProductionStep::QualityCheckPassed,
            ProductionStep::Dispatched
        ]
    );
    assert_eq!(updates.len(), 3);
}
