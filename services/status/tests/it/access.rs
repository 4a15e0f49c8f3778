use idcard_auth::Role;
use idcard_proto::v1::QueryFoundCardRequest;
use tonic::Code;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::support::{CITIZEN_ID, Card, FakeReview, STATION, TestApp, tls_channel};

#[tokio::test]
async fn a_verification_without_a_token_is_unauthenticated() {
    // Arrange
    let review = FakeReview::start().await;
    let app = TestApp::spawn(review.addr).await;

    // Act
    let status = app
        .verifier_without_token()
        .verify_card(Card::new().verify_request())
        .await
        .unwrap_err();

    // Assert
    assert_eq!(status.code(), Code::Unauthenticated);
}

#[tokio::test]
async fn callers_of_other_roles_are_permission_denied() {
    // Arrange
    let review = FakeReview::start().await;
    let mut app = TestApp::spawn(review.addr).await;
    let card = Card::new();
    app.publish(&card).await;
    let query = QueryFoundCardRequest {
        citizen_id: CITIZEN_ID.to_string(),
    };

    // Act
    let clerk_verifies = app
        .verifier_as("clerk-1", Role::Clerk, &[STATION])
        .verify_card(card.verify_request())
        .await
        .unwrap_err();
    let auditor_verifies = app
        .verifier_as("auditor-1", Role::Auditor, &[])
        .verify_card(card.verify_request())
        .await
        .unwrap_err();
    let verifier_registers = app
        .found_as("bank-1", Role::Verifier, &[])
        .register_found_card(card.found_request())
        .await
        .unwrap_err();
    let citizen_registers = app
        .found_as("citizen-1", Role::Citizen, &[CITIZEN_ID])
        .register_found_card(card.found_request())
        .await
        .unwrap_err();
    let clerk_queries = app
        .found_as("clerk-1", Role::Clerk, &[STATION])
        .query_found_card(query.clone())
        .await
        .unwrap_err();
    let auditor_queries = app
        .found_as("auditor-1", Role::Auditor, &[])
        .query_found_card(query)
        .await
        .unwrap_err();

    // Assert
    for status in [
        &clerk_verifies,
        &auditor_verifies,
        &verifier_registers,
        &citizen_registers,
        &clerk_queries,
        &auditor_queries,
    ] {
        assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    }
    assert!(!app.query_found(CITIZEN_ID).await.unwrap().found);
}

#[tokio::test]
async fn health_reports_every_service_serving_without_a_token() {
    // Arrange
    let review = FakeReview::start().await;
    let app = TestApp::spawn(review.addr).await;
    let mut health = HealthClient::new(tls_channel(app.addr, None));

    for service in [
        "idcard.v1.CardStatusService",
        "idcard.v1.FoundCardService",
        "idcard.v1.StatusInboxService",
        "",
    ] {
        // Act
        let answer = health
            .check(HealthCheckRequest {
                service: service.to_string(),
            })
            .await
            .unwrap()
            .into_inner();

        // Assert
        assert_eq!(answer.status(), ServingStatus::Serving, "{service:?}");
    }
}
