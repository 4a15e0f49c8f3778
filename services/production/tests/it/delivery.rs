use std::collections::HashSet;
use std::time::Duration;

use idcard_proto::v1::ProductionStep;
use tokio::net::TcpListener;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::support::{FakeAcceptance, TestApp, steps, tls_channel, unused_addr};

#[tokio::test]
async fn updates_reach_an_acceptance_service_started_late_once_each() {
    // Arrange: the acceptance service is down while production works.
    let acceptance_addr = unused_addr().await;
    let mut app = TestApp::spawn(acceptance_addr).await;
    let job = app.job_for_new_order().await;
    app.check(&job.job_id, false, &["photo misaligned"]).await.unwrap();
    app.check(&job.job_id, true, &[]).await.unwrap();
    app.dispatch(&job.job_id, "EMS9876543210").await.unwrap();
    // Long enough for several failed attempts with the tests' short backoff.
    tokio::time::sleep(Duration::from_millis(500)).await;

    // Act
    let acceptance = FakeAcceptance::start_on(TcpListener::bind(acceptance_addr).await.unwrap()).await;

    // Assert
    acceptance.received.wait_for(4).await;
    // Long enough for any repeat to show up.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let updates = acceptance.received.all();
    assert_eq!(
        steps(&updates),
        [
            ProductionStep::Started,
            ProductionStep::QualityCheckFailed,
            ProductionStep::QualityCheckPassed,
            ProductionStep::Dispatched
        ]
    );
    let message_ids: HashSet<&str> = updates.iter().map(|u| u.message_id.as_str()).collect();
    assert_eq!(message_ids.len(), 4);
}

#[tokio::test]
async fn health_reports_both_services_serving() {
    // Arrange
    let acceptance = FakeAcceptance::start().await;
    let app = TestApp::spawn(acceptance.addr).await;
    // No token: health answers anyone.
    let mut health = HealthClient::new(tls_channel(app.addr, None));

    for service in ["idcard.v1.ProductionService", "idcard.v1.ProductionInboxService", ""] {
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
