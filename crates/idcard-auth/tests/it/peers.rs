use idcard_auth::{AuthMode, Role, policy};
use idcard_proto::v1::review_inbox_service_client::ReviewInboxServiceClient;
use idcard_proto::v1::review_service_client::ReviewServiceClient;
use idcard_proto::v1::{ListPendingApplicationsRequest, ReceiveApplicationRequest};
use tonic::Code;

use crate::support::{HOUR, scope, spawn, with_token};

#[tokio::test]
async fn internal_method_without_a_client_certificate_is_unauthenticated() {
    let server = spawn(policy::review(), AuthMode::Enforce).await;
    let mut inbox = ReviewInboxServiceClient::new(server.channel(None).await);

    let status = inbox
        .receive_application(ReceiveApplicationRequest::default())
        .await
        .unwrap_err();

    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    assert!(server.seen.last_peer().is_none(), "the handler never ran");
}

#[tokio::test]
async fn internal_method_ignores_bearer_tokens() {
    let server = spawn(policy::review(), AuthMode::Enforce).await;
    let token = server.k1.issue("a1", Role::Auditor, vec![], HOUR).unwrap();
    let mut inbox = ReviewInboxServiceClient::new(server.channel(None).await);

    let status = inbox
        .receive_application(with_token(ReceiveApplicationRequest::default(), &token))
        .await
        .unwrap_err();

    assert_eq!(status.code(), Code::Unauthenticated);
}

#[tokio::test]
async fn internal_method_with_another_services_certificate_is_permission_denied() {
    let server = spawn(policy::review(), AuthMode::Enforce).await;
    let mut inbox = ReviewInboxServiceClient::new(server.channel(Some("production")).await);

    let status = inbox
        .receive_application(ReceiveApplicationRequest::default())
        .await
        .unwrap_err();

    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    assert!(status.message().contains("production"), "{status:?}");
}

#[tokio::test]
async fn internal_method_with_the_expected_peer_certificate_passes() {
    let server = spawn(policy::review(), AuthMode::Enforce).await;
    let mut inbox = ReviewInboxServiceClient::new(server.channel(Some("acceptance")).await);

    inbox
        .receive_application(ReceiveApplicationRequest::default())
        .await
        .unwrap();

    assert_eq!(server.seen.last_peer().unwrap().name(), "acceptance");
}

#[tokio::test]
async fn a_peer_certificate_grants_no_front_end_role() {
    let server = spawn(policy::review(), AuthMode::Enforce).await;
    let mut client = ReviewServiceClient::new(server.channel(Some("acceptance")).await);

    let status = client
        .list_pending_applications(ListPendingApplicationsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);

    let token = server.k2.issue("r1", Role::Reviewer, scope(&["44"]), HOUR).unwrap();
    client
        .list_pending_applications(with_token(ListPendingApplicationsRequest::default(), &token))
        .await
        .unwrap();
}
