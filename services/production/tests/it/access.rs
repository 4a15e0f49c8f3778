use idcard_auth::Role;
use idcard_proto::v1::{GetJobRequest, JobState, ListJobsRequest, get_job_request};
use tonic::Code;
use uuid::Uuid;

use crate::support::{CENTRE, FakeAcceptance, TestApp, check_request, dispatch_request, order};

fn get_job(job_id: &str) -> GetJobRequest {
    GetJobRequest {
        key: Some(get_job_request::Key::JobId(job_id.to_string())),
    }
}

#[tokio::test]
async fn a_call_without_a_token_is_unauthenticated() {
    // Arrange
    let acceptance = FakeAcceptance::start().await;
    let app = TestApp::spawn(acceptance.addr).await;
    let mut anonymous = app.production_without_token();

    // Act
    let status = anonymous.list_jobs(ListJobsRequest::default()).await.unwrap_err();

    // Assert
    assert_eq!(status.code(), Code::Unauthenticated);
}

#[tokio::test]
async fn callers_of_other_roles_are_permission_denied_and_auditors_only_read() {
    // Arrange
    let acceptance = FakeAcceptance::start().await;
    let mut app = TestApp::spawn(acceptance.addr).await;
    let job = app.job_for_new_order().await;
    let mut clerk = app.production_as("clerk-1", Role::Clerk, &[CENTRE]);
    let mut reviewer = app.production_as("reviewer-1", Role::Reviewer, &["*"]);
    let mut auditor = app.production_as("auditor-1", Role::Auditor, &[]);

    // Act
    let clerk_list = clerk.list_jobs(ListJobsRequest::default()).await.unwrap_err();
    let reviewer_get = reviewer.get_job(get_job(&job.job_id)).await.unwrap_err();
    let auditor_check = auditor
        .record_quality_check(check_request(&job.job_id, true, &[]))
        .await
        .unwrap_err();
    let auditor_dispatch = auditor
        .dispatch_card(dispatch_request(&job.job_id, "SF1234567890"))
        .await
        .unwrap_err();
    let auditor_list = auditor
        .list_jobs(ListJobsRequest::default())
        .await
        .unwrap()
        .into_inner();
    let auditor_get = auditor.get_job(get_job(&job.job_id)).await.unwrap().into_inner();

    // Assert
    for status in [&clerk_list, &reviewer_get, &auditor_check, &auditor_dispatch] {
        assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    }
    assert_eq!(auditor_list.jobs.len(), 1);
    assert_eq!(auditor_get.job.unwrap(), job);
    let unchanged = app.job_of_application(&job.application_id).await;
    assert_eq!(unchanged.state(), JobState::InProduction);
    assert!(unchanged.checks.is_empty());
}

#[tokio::test]
async fn an_operator_of_another_centre_is_permission_denied_on_every_method() {
    // Arrange
    let acceptance = FakeAcceptance::start().await;
    let mut app = TestApp::spawn(acceptance.addr).await;
    let job = app.job_for_new_order().await;
    let mut elsewhere = app.production_as("operator-9", Role::ProductionOperator, &["production-elsewhere"]);

    // Act
    let list = elsewhere.list_jobs(ListJobsRequest::default()).await.unwrap_err();
    let get = elsewhere.get_job(get_job(&job.job_id)).await.unwrap_err();
    let unknown = elsewhere
        .get_job(get_job(&Uuid::now_v7().to_string()))
        .await
        .unwrap_err();
    let check = elsewhere
        .record_quality_check(check_request(&job.job_id, true, &[]))
        .await
        .unwrap_err();
    let dispatch = elsewhere
        .dispatch_card(dispatch_request(&job.job_id, "SF1234567890"))
        .await
        .unwrap_err();

    // Assert
    for status in [&list, &get, &unknown, &check, &dispatch] {
        assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    }
    assert_eq!(get.message(), unknown.message(), "a job's existence does not leak");
    let unchanged = app.job_of_application(&job.application_id).await;
    assert_eq!(unchanged, job);
}

#[tokio::test]
async fn an_operator_with_every_centre_in_scope_works_here() {
    // Arrange
    let acceptance = FakeAcceptance::start().await;
    let mut app = TestApp::spawn(acceptance.addr).await;
    let job = app.job_for_new_order().await;
    let mut national = app.production_as("operator-1", Role::ProductionOperator, &["*"]);

    // Act
    let checked = national
        .record_quality_check(check_request(&job.job_id, true, &[]))
        .await
        .unwrap()
        .into_inner()
        .job
        .unwrap();

    // Assert
    assert_eq!(checked.state(), JobState::Passed);
    assert_eq!(checked.checks[0].operator, "operator-1");
}

#[tokio::test]
async fn an_order_without_the_review_certificate_is_refused() {
    // Arrange
    let acceptance = FakeAcceptance::start().await;
    let mut app = TestApp::spawn(acceptance.addr).await;
    let order = order(Uuid::now_v7());

    // Act
    let no_certificate = app
        .inbox_as(None)
        .receive_production_order(order.clone())
        .await
        .unwrap_err();
    let acceptance_certificate = app
        .inbox_as(Some("acceptance"))
        .receive_production_order(order.clone())
        .await
        .unwrap_err();
    let own_certificate = app
        .inbox_as(Some("production"))
        .receive_production_order(order.clone())
        .await
        .unwrap_err();

    // Assert
    assert_eq!(no_certificate.code(), Code::Unauthenticated);
    assert_eq!(acceptance_certificate.code(), Code::PermissionDenied);
    assert_eq!(own_certificate.code(), Code::PermissionDenied);
    let listed = app
        .production
        .list_jobs(ListJobsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(listed.jobs.is_empty());
}
