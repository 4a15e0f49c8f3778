use std::collections::BTreeMap;
use std::num::NonZeroU32;

use idcard_auth::Role;
use idcard_db::on_db;
use idcard_proto::v1::{VerificationAnswer, VerifyCardRequest};
use sqlx::Row;
use tonic::Code;
use tonic_types::StatusExt;

use crate::support::{Card, FakeReview, OTHER_CITIZEN_ID, TestApp, VERIFIER};

/// The recorded verifications: (verifier, answer) -> count.
async fn recorded(app: &TestApp) -> BTreeMap<(String, String), usize> {
    let db = app.database().await;
    let rows: Vec<(String, String)> = on_db!(&db, |pool| {
        sqlx::query("SELECT verifier, answer FROM verifications")
            .fetch_all(pool)
            .await
            .unwrap()
            .iter()
            .map(|row| (row.get(0), row.get(1)))
            .collect()
    });
    db.close().await;
    let mut counts = BTreeMap::new();
    for row in rows {
        *counts.entry(row).or_default() += 1;
    }
    counts
}

#[tokio::test]
async fn every_verification_is_recorded_by_the_time_the_service_has_stopped() {
    // Arrange
    let review = FakeReview::start().await;
    let mut app = TestApp::spawn(review.addr).await;
    let card = Card::new();
    app.publish(&card).await;
    let mut hotel = app.verifier_as("hotel-desk-9", Role::Verifier, &[]);

    // Act
    for _ in 0..3 {
        assert_eq!(app.verify_card(&card).await, VerificationAnswer::Valid);
    }
    let unknown = VerifyCardRequest {
        citizen_id: OTHER_CITIZEN_ID.to_string(),
        ..card.verify_request()
    };
    hotel.verify_card(unknown).await.unwrap();
    let malformed = VerifyCardRequest {
        citizen_id: "123".to_string(),
        ..card.verify_request()
    };
    hotel.verify_card(malformed).await.unwrap_err();
    app.stop().await;

    // Assert
    let expected = BTreeMap::from([
        ((VERIFIER.to_string(), "valid".to_string()), 3),
        (("hotel-desk-9".to_string(), "invalid_argument".to_string()), 1),
        (("hotel-desk-9".to_string(), "no_match".to_string()), 1),
    ]);
    assert_eq!(recorded(&app).await, expected);
}

#[tokio::test]
async fn a_token_over_its_rate_is_resource_exhausted_and_others_are_not() {
    // Arrange: one verification a second, bursts of three.
    let review = FakeReview::start().await;
    let mut app = TestApp::spawn_with(review.addr, |config| {
        config.verify_rate_per_second = NonZeroU32::new(1).unwrap();
        config.verify_burst = NonZeroU32::new(3).unwrap();
    })
    .await;
    let card = Card::new();
    app.publish(&card).await;
    let mut other = app.verifier_as("bank-teller-2", Role::Verifier, &[]);

    // Act
    let mut answers = Vec::new();
    for _ in 0..4 {
        answers.push(app.verify(card.verify_request()).await);
    }
    let other_answer = other.verify_card(card.verify_request()).await;

    // Assert
    for answer in &answers[..3] {
        assert_eq!(answer.as_ref().unwrap(), &VerificationAnswer::Valid);
    }
    let limited = answers[3].as_ref().unwrap_err();
    assert_eq!(limited.code(), Code::ResourceExhausted);
    assert!(limited.message().contains("rate limit"), "{}", limited.message());
    assert!(limited.get_details_retry_info().is_some());
    assert_eq!(other_answer.unwrap().into_inner().answer(), VerificationAnswer::Valid);
    app.stop().await;
    let counts = recorded(&app).await;
    assert_eq!(
        counts.values().sum::<usize>(),
        4,
        "a refused call is not a verification: {counts:?}"
    );
}
