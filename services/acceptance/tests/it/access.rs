//! Tokens, roles and scopes: who may call what, and what another point's clerk learns.

use idcard_auth::{ALL_SCOPE, Role};
use idcard_proto::v1 as pb;
use tonic::Code;

use crate::support::{CLERK, LI, OTHER_POINT, POINT, TestApp, replacement, token};

fn list(point: &str) -> pb::ListApplicationsRequest {
    pb::ListApplicationsRequest {
        acceptance_point_code: point.into(),
        state: 0,
        page_size: 0,
        page_token: String::new(),
    }
}

#[tokio::test]
async fn a_call_without_a_token_is_unauthenticated() {
    let app = TestApp::start().await;
    let mut anonymous = app.client(None);

    let listed = anonymous.list_applications(list(POINT)).await.unwrap_err();
    let submitted = anonymous.submit_application(replacement(&LI)).await.unwrap_err();

    assert_eq!(listed.code(), Code::Unauthenticated, "{listed:?}");
    assert_eq!(submitted.code(), Code::Unauthenticated, "{submitted:?}");
}

#[tokio::test]
async fn a_role_the_method_does_not_allow_is_permission_denied() {
    let app = TestApp::start().await;
    let submitted = app.submit(replacement(&LI)).await;
    let mut reviewer = app.client(Some(&token("reviewer-1", Role::Reviewer, &[ALL_SCOPE])));
    let mut auditor = app.client(Some(&token("auditor-1", Role::Auditor, &[])));

    let reviewer_get = app.get(&mut reviewer, &submitted.application_id).await.unwrap_err();
    let auditor_submit = auditor.submit_application(replacement(&LI)).await.unwrap_err();
    let auditor_get = app.get(&mut auditor, &submitted.application_id).await;

    assert_eq!(reviewer_get.code(), Code::PermissionDenied, "{reviewer_get:?}");
    assert_eq!(auditor_submit.code(), Code::PermissionDenied, "{auditor_submit:?}");
    assert_eq!(
        auditor_get.unwrap().receipt_number,
        submitted.receipt_number,
        "auditors read every point"
    );
}

#[tokio::test]
async fn another_points_application_answers_not_found_exactly_like_an_unknown_one() {
    let app = TestApp::start().await;
    let submitted = app.submit(replacement(&LI)).await;
    let mut other_clerk = app.client(Some(&token("clerk-9", Role::Clerk, &[OTHER_POINT])));
    let unknown_id = uuid::Uuid::now_v7().to_string();

    let by_id = app.get(&mut other_clerk, &submitted.application_id).await.unwrap_err();
    let unknown = app.get(&mut other_clerk, &unknown_id).await.unwrap_err();
    let by_receipt = other_clerk
        .get_application(pb::GetApplicationRequest {
            key: Some(pb::get_application_request::Key::ReceiptNumber(
                submitted.receipt_number.clone(),
            )),
        })
        .await
        .unwrap_err();
    let arrival = other_clerk
        .confirm_card_arrival(pb::ConfirmCardArrivalRequest {
            request_id: uuid::Uuid::now_v7().to_string(),
            application_id: submitted.application_id.clone(),
            clerk: String::new(),
        })
        .await
        .unwrap_err();
    let collection = other_clerk
        .collect_card(pb::CollectCardRequest {
            request_id: uuid::Uuid::now_v7().to_string(),
            key: Some(pb::collect_card_request::Key::ReceiptNumber(
                submitted.receipt_number.clone(),
            )),
            applicant_checked_and_signed: true,
            old_card_surrendered: false,
            clerk: String::new(),
        })
        .await
        .unwrap_err();

    assert_eq!(unknown.code(), Code::NotFound);
    for refused in [&by_id, &by_receipt, &arrival, &collection] {
        assert_eq!(refused.code(), unknown.code(), "{refused:?}");
        assert_eq!(refused.message(), unknown.message(), "{refused:?}");
    }
    let own = app.get(&mut app.clerk(), &submitted.application_id).await.unwrap();
    assert_eq!(own.receipt_number, submitted.receipt_number);
}

#[tokio::test]
async fn listing_or_submitting_at_another_point_is_permission_denied() {
    let app = TestApp::start().await;
    app.submit(replacement(&LI)).await;
    let mut clerk = app.clerk();
    let mut elsewhere = replacement(&LI);
    elsewhere.acceptance_point_code = OTHER_POINT.into();

    let listed = clerk.list_applications(list(OTHER_POINT)).await.unwrap_err();
    let submitted = clerk.submit_application(elsewhere).await.unwrap_err();
    let own = clerk.list_applications(list(POINT)).await.unwrap().into_inner();

    assert_eq!(listed.code(), Code::PermissionDenied, "{listed:?}");
    assert_eq!(submitted.code(), Code::PermissionDenied, "{submitted:?}");
    assert_eq!(own.applications.len(), 1);
    assert_eq!(own.applications[0].citizen_id_masked, "4***************21");
}

#[tokio::test]
async fn the_clerk_in_the_history_is_the_token_subject_not_the_request_field() {
    let app = TestApp::start().await;
    let request = replacement(&LI);
    assert_ne!(request.clerk, CLERK);

    let submitted = app.submit(request).await;

    assert_eq!(submitted.history[0].actor, CLERK);
}

#[tokio::test]
async fn the_inbox_refuses_a_call_without_the_review_certificate() {
    let app = TestApp::start().await;
    let decision = || pb::ReceiveDecisionRequest {
        message_id: uuid::Uuid::now_v7().to_string(),
        application_id: uuid::Uuid::now_v7().to_string(),
        decision: Some(pb::receive_decision_request::Decision::Rejection(pb::Rejection {
            reasons: vec![pb::RejectionReason {
                code: "RECORD_LOCKED".into(),
                detail: "the household record is locked".into(),
            }],
            contact: None,
        })),
        decided_at: None,
        reviewer: "reviewer-1".into(),
    };

    let without_certificate = app.inbox(None).receive_decision(decision()).await.unwrap_err();
    let as_production = app
        .inbox(Some("production"))
        .receive_decision(decision())
        .await
        .unwrap_err();
    let with_a_clerk_token = app
        .client(Some(&token(CLERK, Role::Clerk, &[POINT])))
        .list_applications(list(POINT))
        .await;

    assert_eq!(
        without_certificate.code(),
        Code::Unauthenticated,
        "{without_certificate:?}"
    );
    assert_eq!(as_production.code(), Code::PermissionDenied, "{as_production:?}");
    assert!(
        with_a_clerk_token.is_ok(),
        "the front end still works: {with_a_clerk_token:?}"
    );
}
