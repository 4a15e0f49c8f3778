use std::time::{Duration, SystemTime, UNIX_EPOCH};

use idcard_auth::{AccessPolicy, AuthMode, Claims, Role, policy};
use idcard_proto::v1::{ImportResidentsRequest, ListPendingApplicationsRequest, ReviewServiceGetApplicationRequest};
use tonic::{Code, Request, Status};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;
use tonic_types::StatusExt;

use crate::support::{HOUR, scope, spawn, with_token};

fn reason(status: &Status) -> String {
    status
        .get_details_error_info()
        .map(|info| info.reason)
        .unwrap_or_default()
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

#[tokio::test]
async fn call_without_a_token_is_unauthenticated() {
    let server = spawn(policy::review(), AuthMode::Enforce).await;

    let status = server
        .review_client()
        .await
        .list_pending_applications(ListPendingApplicationsRequest::default())
        .await
        .unwrap_err();

    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    assert_eq!(reason(&status), "TOKEN_MISSING");
    assert!(server.seen.last_caller().is_none(), "the handler never ran");
}

#[tokio::test]
async fn malformed_authorization_header_is_unauthenticated() {
    let server = spawn(policy::review(), AuthMode::Enforce).await;
    let mut request = Request::new(ListPendingApplicationsRequest::default());
    request
        .metadata_mut()
        .insert("authorization", "Basic dXNlcjpwdw==".parse().unwrap());

    let status = server
        .review_client()
        .await
        .list_pending_applications(request)
        .await
        .unwrap_err();

    assert_eq!(status.code(), Code::Unauthenticated);
    assert_eq!(reason(&status), "TOKEN_MALFORMED");
}

#[tokio::test]
async fn expired_token_is_unauthenticated() {
    let server = spawn(policy::review(), AuthMode::Enforce).await;
    let mut claims = Claims::new("r1", Role::Reviewer, scope(&["44"]), HOUR, "idcard");
    claims.iat = now() - 7200;
    claims.exp = now() - 3600;
    let token = server.k1.sign(&claims).unwrap();

    let status = server
        .review_client()
        .await
        .list_pending_applications(with_token(ListPendingApplicationsRequest::default(), &token))
        .await
        .unwrap_err();

    assert_eq!(status.code(), Code::Unauthenticated);
    assert_eq!(reason(&status), "TOKEN_EXPIRED");
    assert!(status.message().contains("expired"), "{status:?}");
}

#[tokio::test]
async fn token_signed_with_another_key_is_unauthenticated() {
    let server = spawn(policy::review(), AuthMode::Enforce).await;
    let token = server
        .impostor
        .issue("r1", Role::Reviewer, scope(&["44"]), HOUR)
        .unwrap();

    let status = server
        .review_client()
        .await
        .list_pending_applications(with_token(ListPendingApplicationsRequest::default(), &token))
        .await
        .unwrap_err();

    assert_eq!(status.code(), Code::Unauthenticated);
    assert_eq!(reason(&status), "TOKEN_SIGNATURE");
}

#[tokio::test]
async fn token_of_an_unknown_key_id_is_unauthenticated() {
    let server = spawn(policy::review(), AuthMode::Enforce).await;
    let token = server
        .stranger
        .issue("r1", Role::Reviewer, scope(&["44"]), HOUR)
        .unwrap();

    let status = server
        .review_client()
        .await
        .list_pending_applications(with_token(ListPendingApplicationsRequest::default(), &token))
        .await
        .unwrap_err();

    assert_eq!(status.code(), Code::Unauthenticated);
    assert_eq!(reason(&status), "TOKEN_KEY_UNKNOWN");
    assert!(status.message().contains("k9"), "{status:?}");
}

#[tokio::test]
async fn wrong_role_is_permission_denied() {
    let server = spawn(policy::review(), AuthMode::Enforce).await;
    let token = server
        .k1
        .issue("c1", Role::Clerk, scope(&["4401060001"]), HOUR)
        .unwrap();

    let status = server
        .review_client()
        .await
        .list_pending_applications(with_token(ListPendingApplicationsRequest::default(), &token))
        .await
        .unwrap_err();

    assert_eq!(status.code(), Code::PermissionDenied);
    assert_eq!(reason(&status), "ROLE_NOT_ALLOWED");
    assert!(server.seen.last_caller().is_none());
}

#[tokio::test]
async fn auditor_may_read_but_not_import() {
    let server = spawn(policy::review(), AuthMode::Enforce).await;
    let token = server.k1.issue("a1", Role::Auditor, vec![], HOUR).unwrap();
    let mut client = server.review_client().await;

    client
        .list_pending_applications(with_token(ListPendingApplicationsRequest::default(), &token))
        .await
        .unwrap();
    let status = client
        .import_residents(with_token(ImportResidentsRequest::default(), &token))
        .await
        .unwrap_err();

    assert_eq!(status.code(), Code::PermissionDenied);
}

#[tokio::test]
async fn good_token_reaches_the_handler_with_its_caller() {
    let server = spawn(policy::review(), AuthMode::Enforce).await;
    let token = server
        .k1
        .issue("reviewer-12", Role::Reviewer, scope(&["4401"]), HOUR)
        .unwrap();

    server
        .review_client()
        .await
        .list_pending_applications(with_token(ListPendingApplicationsRequest::default(), &token))
        .await
        .unwrap();

    let caller = server.seen.last_caller().unwrap();
    assert_eq!(caller.subject(), "reviewer-12");
    assert_eq!(caller.role(), Role::Reviewer);
    assert!(caller.can_see_region("440106"));
    assert!(!caller.can_see_region("440206"));
}

#[tokio::test]
async fn handler_errors_pass_through_untouched() {
    let server = spawn(policy::review(), AuthMode::Enforce).await;
    let token = server
        .k1
        .issue("reviewer-12", Role::Reviewer, scope(&["4401"]), HOUR)
        .unwrap();

    let status = server
        .review_client()
        .await
        .get_application(with_token(ReviewServiceGetApplicationRequest::default(), &token))
        .await
        .unwrap_err();

    assert_eq!(status.code(), Code::NotFound);
}

#[tokio::test]
async fn tokens_of_both_rotation_keys_verify() {
    let server = spawn(policy::review(), AuthMode::Enforce).await;
    let mut client = server.review_client().await;

    for (issuer, subject) in [(&server.k1, "old-key-user"), (&server.k2, "new-key-user")] {
        let token = issuer.issue(subject, Role::Reviewer, scope(&["44"]), HOUR).unwrap();
        client
            .list_pending_applications(with_token(ListPendingApplicationsRequest::default(), &token))
            .await
            .unwrap();
        assert_eq!(server.seen.last_caller().unwrap().subject(), subject);
    }
}

#[tokio::test]
async fn method_missing_from_the_policy_is_refused_even_with_a_good_token() {
    let without_import =
        AccessPolicy::new().allow("/idcard.v1.ReviewService/ListPendingApplications", &[Role::Reviewer]);
    let server = spawn(without_import, AuthMode::Enforce).await;
    let token = server.k1.issue("r1", Role::Reviewer, scope(&["44"]), HOUR).unwrap();

    let status = server
        .review_client()
        .await
        .import_residents(with_token(ImportResidentsRequest::default(), &token))
        .await
        .unwrap_err();

    assert_eq!(status.code(), Code::PermissionDenied);
    assert_eq!(reason(&status), "METHOD_NOT_EXPOSED");
}

#[tokio::test]
async fn health_answers_without_a_token() {
    let server = spawn(policy::review(), AuthMode::Enforce).await;
    let mut health = HealthClient::new(server.channel(None).await);

    let response = health
        .check(HealthCheckRequest {
            service: "idcard.v1.ReviewService".into(),
        })
        .await
        .unwrap()
        .into_inner();

    assert_eq!(response.status, 1, "SERVING");
}

#[tokio::test]
async fn token_expired_within_the_leeway_still_passes() {
    let server = spawn(policy::review(), AuthMode::Enforce).await;
    let mut claims = Claims::new("r1", Role::Reviewer, scope(&["44"]), Duration::ZERO, "idcard");
    claims.exp = now() - 2;
    let token = server.k1.sign(&claims).unwrap();

    server
        .review_client()
        .await
        .list_pending_applications(with_token(ListPendingApplicationsRequest::default(), &token))
        .await
        .unwrap();
}
