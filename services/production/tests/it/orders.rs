use idcard_domain::{Stage, due_date};
use idcard_proto::v1::{GetJobRequest, JobState, ListJobsRequest, ProductionStep, get_job_request};
use idcard_server::status::violated_fields;
use idcard_server::wire::{date_cst_of_ms, date_to_wire, timestamp_to_ms};
use tonic::Code;
use uuid::Uuid;

use crate::support::{ACCEPTANCE_POINT, CENTRE, FakeAcceptance, ORIGIN, TestApp, order, steps};

#[tokio::test]
async fn an_order_creates_a_job_in_production_and_reports_started() {
    // Arrange
    let acceptance = FakeAcceptance::start().await;
    let mut app = TestApp::spawn(acceptance.addr).await;
    let order = order(Uuid::now_v7());

    // Act
    app.send_order(order.clone()).await;

    // Assert
    let job = app.job_of_application(&order.application_id).await;
    assert_eq!(job.state(), JobState::InProduction);
    assert_eq!(job.receipt_number, order.receipt_number);
    assert_eq!(job.acceptance_point_code, ACCEPTANCE_POINT);
    assert_eq!(job.citizen_id_masked, "1***************2X");
    assert_eq!(job.issuance, order.issuance);
    assert_eq!(job.remake_count, 0);
    assert!(job.checks.is_empty());
    let received_ms = timestamp_to_ms(job.received_at.as_ref().unwrap());
    let due = due_date(Stage::Production, date_cst_of_ms(received_ms), false);
    assert_eq!(job.production_due_date, Some(date_to_wire(due)));

    let updates = acceptance.received.wait_for(1).await;
    assert_eq!(steps(&updates), [ProductionStep::Started]);
    assert_eq!(updates[0].application_id, order.application_id);
    assert!(
        Uuid::parse_str(&updates[0].message_id).is_ok(),
        "the relay fills in the message id"
    );
    assert_eq!(updates[0].operator, CENTRE, "this centre reports the start");
    assert!(updates[0].at.is_some());
}

#[tokio::test]
async fn a_repeated_order_message_is_acknowledged_and_changes_nothing() {
    // Arrange
    let acceptance = FakeAcceptance::start().await;
    let mut app = TestApp::spawn(acceptance.addr).await;
    let first = order(Uuid::now_v7());
    app.send_order(first.clone()).await;
    let before = app.job_of_application(&first.application_id).await;

    // Act: the same message again, then another message for the same application.
    app.send_order(first.clone()).await;
    let mut second = order(Uuid::parse_str(&first.application_id).unwrap());
    second.acceptance_point_code = "110102-03".to_string();
    app.send_order(second).await;

    // Assert
    let after = app.job_of_application(&first.application_id).await;
    assert_eq!(after, before);
    let listed = app
        .production
        .list_jobs(ListJobsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.jobs.len(), 1);
    // A later step of the same application arrives after every earlier report, so once
    // it is in, a second STARTED would have been too.
    app.check(&before.job_id, true, &[]).await.unwrap();
    let updates = acceptance.received.wait_for(2).await;
    assert_eq!(
        steps(&updates),
        [ProductionStep::Started, ProductionStep::QualityCheckPassed]
    );
}

#[tokio::test]
async fn an_order_with_bad_fields_names_each_field_and_creates_nothing() {
    // Arrange
    let acceptance = FakeAcceptance::start().await;
    let mut app = TestApp::spawn(acceptance.addr).await;
    let mut bad = order(Uuid::now_v7());
    bad.message_id = "not-a-uuid".to_string();
    bad.application_id = String::new();
    bad.receipt_number = "12345".to_string();
    bad.origin = " ".to_string();
    bad.card_items.as_mut().unwrap().citizen_id = "110105194912310021".to_string();
    bad.issuance = None;

    // Act
    let status = app.inbox.receive_production_order(bad).await.unwrap_err();

    // Assert
    assert_eq!(status.code(), Code::InvalidArgument);
    let fields = violated_fields(&status);
    for field in [
        "message_id",
        "application_id",
        "receipt_number",
        "origin",
        "card_items.citizen_id",
        "issuance",
    ] {
        assert!(fields.iter().any(|f| f == field), "{field} not named in {fields:?}");
    }
    assert!(status.message().contains("check character"), "{}", status.message());
    let listed = app
        .production
        .list_jobs(ListJobsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(listed.jobs.is_empty());
}

#[tokio::test]
async fn an_order_without_card_items_or_with_an_impossible_birth_date_names_the_field() {
    // Arrange
    let acceptance = FakeAcceptance::start().await;
    let mut app = TestApp::spawn(acceptance.addr).await;
    let mut no_items = order(Uuid::now_v7());
    no_items.card_items = None;
    let mut bad_date = order(Uuid::now_v7());
    // 1949-02-30 with a matching check character.
    bad_date.card_items.as_mut().unwrap().citizen_id = with_check_character("11010519490230002");

    // Act
    let no_items = app.inbox.receive_production_order(no_items).await.unwrap_err();
    let bad_date = app.inbox.receive_production_order(bad_date).await.unwrap_err();

    // Assert
    assert_eq!(no_items.code(), Code::InvalidArgument);
    assert_eq!(violated_fields(&no_items), ["card_items"]);
    assert_eq!(bad_date.code(), Code::InvalidArgument);
    assert_eq!(violated_fields(&bad_date), ["card_items.citizen_id"]);
    assert!(bad_date.message().contains("birth date"), "{}", bad_date.message());
}

#[tokio::test]
async fn an_order_from_an_origin_that_is_not_a_peer_is_refused_naming_origin() {
    // Arrange
    let acceptance = FakeAcceptance::start().await;
    let mut app = TestApp::spawn(acceptance.addr).await;
    let mut stray = order(Uuid::now_v7());
    stray.origin = format!("{ORIGIN}-elsewhere");

    // Act
    let status = app.inbox.receive_production_order(stray.clone()).await.unwrap_err();

    // Assert
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(violated_fields(&status), ["origin"]);
    let request = GetJobRequest {
        key: Some(get_job_request::Key::ApplicationId(stray.application_id)),
    };
    assert_eq!(
        app.production.get_job(request).await.unwrap_err().code(),
        Code::NotFound
    );
}

fn with_check_character(first17: &str) -> String {
    let digits: [u8; 17] = first17.as_bytes().try_into().unwrap();
    format!("{first17}{}", char::from(idcard_domain::check_character(&digits)))
}
