use std::time::Duration;

use idcard_auth::Role;
use idcard_proto::v1::{CardStatus, QueryFoundCardRequest, RegisterFoundCardRequest};
use idcard_server::status::violated_fields;
use tonic::Code;

use crate::support::{CITIZEN_ID, COLLECT_AT, Card, FOUND_AT, FakeReview, OTHER_CITIZEN_ID, TestApp};

#[tokio::test]
async fn a_found_card_of_a_known_card_is_noticed_to_its_issuer_and_its_owner_finds_it() {
    // Arrange
    let review = FakeReview::start().await;
    let mut app = TestApp::spawn(review.addr).await;
    let card = Card::new().changed(CardStatus::ReportedLost, 1_000);
    app.publish(&card).await;

    // Act
    let registered = app
        .clerk
        .register_found_card(card.found_request())
        .await
        .unwrap()
        .into_inner();

    // Assert
    let notices = review.received.wait_for(1).await;
    assert_eq!(notices.len(), 1);
    assert_eq!(notices[0].card_id, card.card_id);
    assert_eq!(notices[0].found_at, FOUND_AT);
    assert_eq!(notices[0].collect_at, COLLECT_AT);
    assert_eq!(notices[0].registered_at, registered.registered_at);
    assert!(!notices[0].message_id.is_empty());
    let answer = app.query_found(CITIZEN_ID).await.unwrap();
    assert!(answer.found);
    assert_eq!(answer.found_at, FOUND_AT);
    assert_eq!(answer.collect_at, COLLECT_AT);
    assert_eq!(answer.registered_at, registered.registered_at);
}

#[tokio::test]
async fn the_newest_found_card_is_the_answer() {
    // Arrange
    let review = FakeReview::start().await;
    let mut app = TestApp::spawn(review.addr).await;
    let card = Card::new();
    app.clerk.register_found_card(card.found_request()).await.unwrap();
    let later = RegisterFoundCardRequest {
        found_at: "罗湖口岸".to_string(),
        collect_at: "罗湖派出所".to_string(),
        ..card.found_request()
    };

    // Act
    app.clerk.register_found_card(later).await.unwrap();

    // Assert
    let answer = app.query_found(CITIZEN_ID).await.unwrap();
    assert_eq!(
        (answer.found_at.as_str(), answer.collect_at.as_str()),
        ("罗湖口岸", "罗湖派出所")
    );
}

#[tokio::test]
async fn a_found_card_the_index_does_not_know_is_registered_without_a_notice() {
    // Arrange
    let review = FakeReview::start().await;
    let mut app = TestApp::spawn(review.addr).await;
    let card = Card::new();

    // Act
    app.clerk.register_found_card(card.found_request()).await.unwrap();

    // Assert
    assert!(app.query_found(CITIZEN_ID).await.unwrap().found);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(review.received.all().is_empty());
}

#[tokio::test]
async fn a_retried_registration_answers_the_same_and_notices_once() {
    // Arrange
    let review = FakeReview::start().await;
    let mut app = TestApp::spawn(review.addr).await;
    let card = Card::new();
    app.publish(&card).await;
    let request = card.found_request();

    // Act
    let first = app
        .clerk
        .register_found_card(request.clone())
        .await
        .unwrap()
        .into_inner();
    let retried = app.clerk.register_found_card(request).await.unwrap().into_inner();

    // Assert
    assert_eq!(first, retried);
    review.received.wait_for(1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(review.received.all().len(), 1);
}

#[tokio::test]
async fn a_citizen_without_a_found_card_gets_found_false() {
    // Arrange
    let review = FakeReview::start().await;
    let mut app = TestApp::spawn(review.addr).await;
    app.clerk
        .register_found_card(Card::new().found_request())
        .await
        .unwrap();

    // Act
    let answer = app.query_found(OTHER_CITIZEN_ID).await.unwrap();

    // Assert
    assert!(!answer.found);
    assert_eq!(answer, Default::default());
}

#[tokio::test]
async fn a_citizen_asking_about_another_citizen_is_permission_denied() {
    // Arrange
    let review = FakeReview::start().await;
    let mut app = TestApp::spawn(review.addr).await;
    app.clerk
        .register_found_card(Card::new().found_request())
        .await
        .unwrap();
    let mut other = app.citizen(OTHER_CITIZEN_ID);
    let ask = QueryFoundCardRequest {
        citizen_id: CITIZEN_ID.to_string(),
    };

    // Act
    let by_other = other.query_found_card(ask).await.unwrap_err();

    // Assert
    assert_eq!(by_other.code(), Code::PermissionDenied);
}

#[tokio::test]
async fn a_clerk_registers_only_for_a_station_in_their_scope() {
    // Arrange
    let review = FakeReview::start().await;
    let app = TestApp::spawn(review.addr).await;
    let mut elsewhere = app.found_as("clerk-9", Role::Clerk, &["110105-02"]);

    // Act
    let status = elsewhere
        .register_found_card(Card::new().found_request())
        .await
        .unwrap_err();

    // Assert
    assert_eq!(status.code(), Code::PermissionDenied);
    assert!(!app.query_found(CITIZEN_ID).await.unwrap().found);
}

#[tokio::test]
async fn a_registration_with_bad_fields_is_invalid_argument_naming_each() {
    // Arrange
    let review = FakeReview::start().await;
    let mut app = TestApp::spawn(review.addr).await;
    let request = RegisterFoundCardRequest {
        citizen_id: "11010519491231002".to_string(),
        found_at: String::new(),
        ..Card::new().found_request()
    };

    // Act
    let status = app.clerk.register_found_card(request).await.unwrap_err();

    // Assert
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(violated_fields(&status), ["citizen_id", "found_at"]);
}
