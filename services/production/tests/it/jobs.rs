use idcard_proto::v1::{GetJobRequest, JobState, ListJobsRequest, get_job_request};
use idcard_server::status::violated_fields;
use tonic::Code;
use uuid::Uuid;

use crate::support::{FakeAcceptance, TestApp, order};

#[tokio::test]
async fn jobs_are_listed_in_order_of_arrival_a_page_at_a_time() {
    // Arrange
    let acceptance = FakeAcceptance::start().await;
    let mut app = TestApp::spawn(acceptance.addr).await;
    let mut created = Vec::new();
    for _ in 0..3 {
        created.push(app.job_for_new_order().await.job_id);
    }

    // Act
    let first = app
        .production
        .list_jobs(ListJobsRequest {
            page_size: 2,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let second = app
        .production
        .list_jobs(ListJobsRequest {
            page_size: 2,
            page_token: first.next_page_token.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();

    // Assert
    let listed: Vec<String> = first
        .jobs
        .iter()
        .chain(&second.jobs)
        .map(|j| j.job_id.clone())
        .collect();
    assert_eq!(listed, created);
    assert_eq!(first.jobs.len(), 2);
    assert!(!first.next_page_token.is_empty());
    assert!(second.next_page_token.is_empty());
}

#[tokio::test]
async fn jobs_are_filtered_by_state_and_acceptance_point() {
    // Arrange
    let acceptance = FakeAcceptance::start().await;
    let mut app = TestApp::spawn(acceptance.addr).await;
    let checked = app.job_for_new_order().await;
    app.check(&checked.job_id, false, &["chip unreadable"]).await.unwrap();
    app.check(&checked.job_id, true, &[]).await.unwrap();
    let waiting = app.job_for_new_order().await;
    let mut elsewhere = order(Uuid::now_v7());
    elsewhere.acceptance_point_code = "110102-03".to_string();
    app.send_order(elsewhere.clone()).await;

    // Act
    let passed = app
        .production
        .list_jobs(ListJobsRequest {
            state: JobState::Passed.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let in_production_here = app
        .production
        .list_jobs(ListJobsRequest {
            state: JobState::InProduction.into(),
            acceptance_point_code: waiting.acceptance_point_code.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let at_other_point = app
        .production
        .list_jobs(ListJobsRequest {
            acceptance_point_code: "110102-03".to_string(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();

    // Assert
    assert_eq!(passed.jobs.len(), 1);
    assert_eq!(passed.jobs[0].job_id, checked.job_id);
    assert_eq!(passed.jobs[0].checks.len(), 2, "a listed job carries its checks");
    assert_eq!(passed.jobs[0].remake_count, 1);
    assert_eq!(in_production_here.jobs.len(), 1);
    assert_eq!(in_production_here.jobs[0].job_id, waiting.job_id);
    assert_eq!(at_other_point.jobs.len(), 1);
    assert_eq!(at_other_point.jobs[0].application_id, elsewhere.application_id);
    assert_eq!(at_other_point.jobs[0].citizen_id_masked, "1***************2X");
}

#[tokio::test]
async fn a_list_with_a_bad_page_token_or_size_names_the_field() {
    // Arrange
    let acceptance = FakeAcceptance::start().await;
    let mut app = TestApp::spawn(acceptance.addr).await;
    let request = ListJobsRequest {
        page_size: -1,
        page_token: "abc".to_string(),
        state: 42,
        ..Default::default()
    };

    // Act
    let status = app.production.list_jobs(request).await.unwrap_err();

    // Assert
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(violated_fields(&status), ["state", "page_size", "page_token"]);
}

#[tokio::test]
async fn a_job_is_found_by_job_id_and_by_application_id() {
    // Arrange
    let acceptance = FakeAcceptance::start().await;
    let mut app = TestApp::spawn(acceptance.addr).await;
    let job = app.job_for_new_order().await;
    app.check(&job.job_id, false, &["chip unreadable"]).await.unwrap();

    // Act
    let by_job = app
        .production
        .get_job(GetJobRequest {
            key: Some(get_job_request::Key::JobId(job.job_id.clone())),
        })
        .await
        .unwrap()
        .into_inner()
        .job
        .unwrap();
    let by_application = app.job_of_application(&job.application_id).await;

    // Assert
    assert_eq!(by_job, by_application);
    assert_eq!(by_job.checks.len(), 1);
    assert_eq!(by_job.checks[0].defects, ["chip unreadable"]);
}

#[tokio::test]
async fn an_unknown_job_is_not_found_and_a_missing_key_is_named() {
    // Arrange
    let acceptance = FakeAcceptance::start().await;
    let mut app = TestApp::spawn(acceptance.addr).await;

    // Act
    let unknown = app
        .production
        .get_job(GetJobRequest {
            key: Some(get_job_request::Key::JobId(Uuid::now_v7().to_string())),
        })
        .await
        .unwrap_err();
    let missing = app.production.get_job(GetJobRequest { key: None }).await.unwrap_err();
    let malformed = app
        .production
        .get_job(GetJobRequest {
            key: Some(get_job_request::Key::ApplicationId("x".to_string())),
        })
        .await
        .unwrap_err();

    // Assert
    assert_eq!(unknown.code(), Code::NotFound);
    assert_eq!(missing.code(), Code::InvalidArgument);
    assert_eq!(violated_fields(&missing), ["key"]);
    assert_eq!(violated_fields(&malformed), ["application_id"]);
}
