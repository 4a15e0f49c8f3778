use idcard_proto::v1::{CardStatus, VerificationAnswer};
use idcard_server::status::violated_fields;
use tonic::Code;
use uuid::Uuid;

use crate::support::{Card, FakeReview, TestApp};

#[tokio::test]
async fn an_older_version_is_acknowledged_and_ignored() {
    // Arrange
    let review = FakeReview::start().await;
    let mut app = TestApp::spawn(review.addr).await;
    let card = Card::new();
    let lost = card.changed(CardStatus::ReportedLost, 5_000);
    app.publish(&lost).await;

    // Act: the activation arrives late.
    app.publish(&card).await;
    app.publish(&lost.changed(CardStatus::Active, 0)).await;

    // Assert
    assert_eq!(app.verify_card(&card).await, VerificationAnswer::ReportedLost);
}

#[tokio::test]
async fn a_repeated_message_changes_nothing() {
    // Arrange
    let review = FakeReview::start().await;
    let mut app = TestApp::spawn(review.addr).await;
    let card = Card::new();
    let first = card.message();
    app.inbox.publish_card_status(first.clone()).await.unwrap();

    // Act: the same message id again, even with a newer status in it.
    app.inbox.publish_card_status(first.clone()).await.unwrap();
    let mut tampered = card.changed(CardStatus::Invalidated, 1_000).message();
    tampered.message_id = first.message_id.clone();
    app.inbox.publish_card_status(tampered).await.unwrap();

    // Assert
    assert_eq!(app.verify_card(&card).await, VerificationAnswer::Valid);
}

#[tokio::test]
async fn of_two_cards_with_the_same_printed_data_the_live_one_is_kept() {
    // Arrange: a card reissued on the day the first was issued.
    let review = FakeReview::start().await;
    let mut app = TestApp::spawn(review.addr).await;
    let old = Card::new();
    let new = Card {
        card_id: Uuid::now_v7().to_string(),
        ..old.changed(CardStatus::Active, 1_000)
    };
    app.publish(&old.changed(CardStatus::ReportedLost, 500)).await;

    // Act: the new card, then the old card's invalidation published after it.
    app.publish(&new).await;
    app.publish(&old.changed(CardStatus::Invalidated, 2_000)).await;

    // Assert
    assert_eq!(app.verify_card(&new).await, VerificationAnswer::Valid);
    app.publish(&new.changed(CardStatus::ReportedLost, 1_000)).await;
    assert_eq!(app.verify_card(&new).await, VerificationAnswer::ReportedLost);
}

#[tokio::test]
async fn a_publication_with_bad_fields_is_invalid_argument_naming_each() {
    // Arrange
    let review = FakeReview::start().await;
    let mut app = TestApp::spawn(review.addr).await;
    let mut message = Card::new().message();
    message.card_id = "card-1".to_string();
    message.status = CardStatus::Unspecified.into();
    message.version = 0;
    message.issuer = String::new();

    // Act
    let status = app.inbox.publish_card_status(message).await.unwrap_err();

    // Assert
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(violated_fields(&status), ["card_id", "status", "version", "issuer"]);
}

#[tokio::test]
async fn status_from_anything_but_a_review_certificate_is_refused() {
    // Arrange
    let review = FakeReview::start().await;
    let mut app = TestApp::spawn(review.addr).await;
    let card = Card::new();

    // Act
    let no_certificate = app
        .inbox_as(None)
        .publish_card_status(card.message())
        .await
        .unwrap_err();
    let acceptance = app
        .inbox_as(Some("acceptance"))
        .publish_card_status(card.message())
        .await
        .unwrap_err();
    let own = app
        .inbox_as(Some("status"))
        .publish_card_status(card.message())
        .await
        .unwrap_err();

    // Assert
    assert_eq!(no_certificate.code(), Code::Unauthenticated);
    assert_eq!(acceptance.code(), Code::PermissionDenied);
    assert_eq!(own.code(), Code::PermissionDenied);
    assert_eq!(app.verify_card(&card).await, VerificationAnswer::NoMatch);
}
