use idcard_auth::{ALL_SCOPE, AuthMode, INSECURE_ROLE_HEADER, INSECURE_SCOPE_HEADER, Role, policy};
use idcard_proto::v1::review_inbox_service_client::ReviewInboxServiceClient;
use idcard_proto::v1::{ListPendingApplicationsRequest, ReceiveApplicationRequest};
use tonic::Request;

use crate::support::spawn;

#[tokio::test]
async fn insecure_mode_lets_calls_through_with_a_synthetic_caller() {
    let server = spawn(policy::review(), AuthMode::Insecure).await;
    let mut client = server.review_client().await;

    client
        .list_pending_applications(ListPendingApplicationsRequest::default())
        .await
        .unwrap();
    let caller = server.seen.last_caller().unwrap();
    assert_eq!(caller.role(), Role::Reviewer, "the method's first allowed role");
    assert_eq!(caller.scope(), [ALL_SCOPE]);

    let mut request = Request::new(ListPendingApplicationsRequest::default());
    request
        .metadata_mut()
        .insert(INSECURE_ROLE_HEADER, "auditor".parse().unwrap());
    request
        .metadata_mut()
        .insert(INSECURE_SCOPE_HEADER, "44, 11".parse().unwrap());
    client.list_pending_applications(request).await.unwrap();
    let caller = server.seen.last_caller().unwrap();
    assert_eq!(caller.role(), Role::Auditor);
    assert_eq!(caller.scope(), ["44", "11"]);

    let mut inbox = ReviewInboxServiceClient::new(server.channel(None).await);
    inbox
        .receive_application(ReceiveApplicationRequest::default())
        .await
        .unwrap();
}
