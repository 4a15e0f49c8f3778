//! What an operator probes: health and reflection on every service.

use idctl::client::Authed;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_reflection::pb::v1::ServerReflectionRequest;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

use crate::support::TestStack;

async fn services_listed(channel: Authed) -> Vec<String> {
    let mut client = ServerReflectionClient::new(channel);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut answers = client
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    let answer = answers.message().await.unwrap().unwrap();
    match answer.message_response {
        Some(MessageResponse::ListServicesResponse(list)) => list.service.into_iter().map(|s| s.name).collect(),
        other => panic!("unexpected reflection answer {other:?}"),
    }
}

#[tokio::test]
async fn every_service_reports_health_and_lists_its_services_by_reflection() {
    let stack = TestStack::start().await;
    let expected = [
        (
            "acceptance",
            vec!["idcard.v1.AcceptanceService", "idcard.v1.AcceptanceInboxService"],
        ),
        (
            "review",
            vec!["idcard.v1.ReviewService", "idcard.v1.ReviewInboxService"],
        ),
        (
            "production",
            vec!["idcard.v1.ProductionService", "idcard.v1.ProductionInboxService"],
        ),
    ];
    for (name, services) in expected {
        let channel = stack.channel(name);
        let mut health = HealthClient::new(channel.clone());
        for service in services.iter().chain(&[""]) {
            let answer = health
                .check(HealthCheckRequest {
                    service: service.to_string(),
                })
                .await
                .unwrap()
                .into_inner();
            assert_eq!(answer.status(), ServingStatus::Serving, "{name} {service}");
        }
        let listed = services_listed(channel).await;
        for service in services.iter().chain(&["grpc.health.v1.Health"]) {
            assert!(
                listed.iter().any(|s| s == service),
                "{name} does not list {service}: {listed:?}"
            );
        }
    }
    stack.stop().await;
}
