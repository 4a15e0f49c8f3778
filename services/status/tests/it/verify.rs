use idcard_proto::v1::{CardStatus, VerificationAnswer, VerifyCardRequest};
use idcard_server::status::violated_fields;
use tonic::Code;

use crate::support::{Card, FakeReview, OTHER_CITIZEN_ID, TestApp, date};

#[tokio::test]
async fn a_published_active_card_verifies_valid() {
    // Arrange
    let review = FakeReview::start().await;
    let mut app = TestApp::spawn(review.addr).await;
    let card = Card::new();

    // Act
    app.publish(&card).await;
    let answer = app.verify_card(&card).await;

    // Assert
    assert_eq!(answer, VerificationAnswer::Valid);
}

#[tokio::test]
async fn a_card_reported_lost_later_verifies_reported_lost() {
    // Arrange
    let review = FakeReview::start().await;
    let mut app = TestApp::spawn(review.addr).await;
    let card = Card::new();
    app.publish(&card).await;

    // Act
    app.publish(&card.changed(CardStatus::ReportedLost, 1_000)).await;

    // Assert
    assert_eq!(app.verify_card(&card).await, VerificationAnswer::ReportedLost);
}

#[tokio::test]
async fn an_invalidated_card_verifies_invalidated() {
    // Arrange
    let review = FakeReview::start().await;
    let mut app = TestApp::spawn(review.addr).await;
    let card = Card::new();
    app.publish(&card).await;
    app.publish(&card.changed(CardStatus::ReportedLost, 1_000)).await;

    // Act
    app.publish(&card.changed(CardStatus::Invalidated, 2_000)).await;

    // Assert
    assert_eq!(app.verify_card(&card).await, VerificationAnswer::Invalidated);
}

#[tokio::test]
async fn a_card_past_its_validity_end_verifies_invalidated_whatever_its_status() {
    // Arrange
    let review = FakeReview::start().await;
    let mut app = TestApp::spawn(review.addr).await;
    let expired = Card {
        validity_start: date(2000, 1, 1),
        validity_end: Some(date(2020, 1, 1)),
        ..Card::new()
    };
    let expired_and_lost = Card {
        card_id: uuid::Uuid::now_v7().to_string(),
        citizen_id: OTHER_CITIZEN_ID.to_string(),
        status: CardStatus::ReportedLost,
        ..expired.clone()
    };
    let long_term = Card {
        validity_start: date(2006, 1, 1),
        validity_end: None,
        ..Card::new()
    };

    // Act
    for card in [&expired, &expired_and_lost, &long_term] {
        app.publish(card).await;
    }

    // Assert
    assert_eq!(app.verify_card(&expired).await, VerificationAnswer::Invalidated);
    assert_eq!(
        app.verify_card(&expired_and_lost).await,
        VerificationAnswer::Invalidated
    );
    assert_eq!(app.verify_card(&long_term).await, VerificationAnswer::Valid);
}

#[tokio::test]
async fn an_unknown_card_and_a_wrong_name_get_identical_no_match_responses() {
    // Arrange
    let review = FakeReview::start().await;
    let mut app = TestApp::spawn(review.addr).await;
    let card = Card::new();
    app.publish(&card).await;
    let unknown = VerifyCardRequest {
        citizen_id: OTHER_CITIZEN_ID.to_string(),
        ..card.verify_request()
    };
    let wrong_name = VerifyCardRequest {
        name: "王秀兰".to_string(),
        ..card.verify_request()
    };
    let wrong_start = VerifyCardRequest {
        validity_start: Some(date(2016, 3, 3)),
        ..card.verify_request()
    };

    // Act
    let mut responses = Vec::new();
    for request in [unknown, wrong_name, wrong_start] {
        responses.push(app.verifier.verify_card(request).await.unwrap());
    }

    // Assert
    let shapes: Vec<_> = responses
        .iter()
        .map(|response| {
            let mut headers: Vec<String> = response.metadata().keys().map(|key| format!("{key:?}")).collect();
            headers.sort();
            (prost::Message::encode_to_vec(response.get_ref()), headers)
        })
        .collect();
    assert_eq!(responses[0].get_ref().answer(), VerificationAnswer::NoMatch);
    assert_eq!(shapes[0], shapes[1], "unknown card and wrong name look the same");
    assert_eq!(
        shapes[0], shapes[2],
        "unknown card and wrong validity start look the same"
    );
}

#[tokio::test]
async fn the_name_matches_whatever_the_spacing() {
    // Arrange
    let review = FakeReview::start().await;
    let mut app = TestApp::spawn(review.addr).await;
    let card = Card {
        name: "买买提 艾力".to_string(),
        ..Card::new()
    };
    app.publish(&card).await;
    let spaced = VerifyCardRequest {
        name: "  买买提\u{3000}\u{3000}艾力 ".to_string(),
        ..card.verify_request()
    };

    // Act
    let answer = app.verify(spaced).await.unwrap();

    // Assert
    assert_eq!(answer, VerificationAnswer::Valid);
}

#[tokio::test]
async fn a_malformed_number_date_or_name_is_invalid_argument_naming_the_field() {
    // Arrange
    let review = FakeReview::start().await;
    let mut app = TestApp::spawn(review.addr).await;
    let card = Card::new();
    app.publish(&card).await;
    let cases = [
        (
            VerifyCardRequest {
                citizen_id: "110105194912310021".to_string(),
                ..card.verify_request()
            },
            "citizen_id",
        ),
        (
            VerifyCardRequest {
                citizen_id: "1101051949".to_string(),
                ..card.verify_request()
            },
            "citizen_id",
        ),
        (
            VerifyCardRequest {
                validity_start: Some(date(2016, 2, 30)),
                ..card.verify_request()
            },
            "validity_start",
        ),
        (
            VerifyCardRequest {
                validity_start: None,
                ..card.verify_request()
            },
            "validity_start",
        ),
        (
            VerifyCardRequest {
                name: " ".to_string(),
                ..card.verify_request()
            },
            "name",
        ),
    ];

    for (request, field) in cases {
        // Act
        let status = app.verify(request).await.unwrap_err();

        // Assert
        assert_eq!(status.code(), Code::InvalidArgument, "{field}: {status:?}");
        assert_eq!(violated_fields(&status), [field]);
    }
}

#[tokio::test]
async fn a_lower_case_check_character_verifies_as_upper_case() {
    // Arrange
    let review = FakeReview::start().await;
    let mut app = TestApp::spawn(review.addr).await;
    let card = Card::new();
    app.publish(&card).await;
    let lower = VerifyCardRequest {
        citizen_id: card.citizen_id.to_lowercase(),
        ..card.verify_request()
    };

    // Act
    let answer = app.verify(lower).await.unwrap();

    // Assert
    assert_eq!(answer, VerificationAnswer::Valid);
}
