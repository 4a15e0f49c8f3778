//! Reliable delivery: retries, request ids and inbox de-duplication across services.

use idcard_proto::v1 as pb;
use idcard_proto::v1::ApplicationState as S;

use crate::support::{LI, TestStack, WANG, new_id, renewal, replacement, states};

#[tokio::test]
async fn applications_submitted_while_review_is_down_arrive_once_it_starts() {
    let (mut stack, late_review) = TestStack::start_without_review().await;
    let first = stack.submit(renewal(&WANG)).await.unwrap();
    let second = stack.submit(replacement(&LI)).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(stack.get(&first.application_id).await.state(), S::Submitted);

    let review = late_review.start().await;
    let first = stack.wait_for(&first.application_id, S::UnderReview).await;
    let second = stack.wait_for(&second.application_id, S::UnderReview).await;

    for app in [&first, &second] {
        assert_eq!(states(app).iter().filter(|s| **s == S::UnderReview).count(), 1);
    }
    let pending = stack
        .review
        .list_pending_applications(pb::ListPendingApplicationsRequest {
            jurisdiction_code: "11".into(),
            page_size: 0,
            page_token: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(pending.applications.len(), 1);
    assert_eq!(pending.applications[0].application_id, first.application_id);
    stack.stop().await;
    review.await.unwrap();
}

#[tokio::test]
async fn the_same_request_id_twice_gives_one_application() {
    let mut stack = TestStack::start().await;
    let request = replacement(&LI);

    let first = stack.submit(request.clone()).await.unwrap();
    let again = stack.submit(request).await.unwrap();

    assert_eq!(first.application_id, again.application_id);
    assert_eq!(first.receipt_number, again.receipt_number);
    let listed = stack
        .acceptance
        .list_applications(pb::ListApplicationsRequest {
            acceptance_point_code: "310104-01".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.applications.len(), 1);
    stack.stop().await;
}

#[tokio::test]
async fn a_request_id_reused_for_another_request_is_refused() {
    let mut stack = TestStack::start().await;
    let first = replacement(&LI);
    let mut other = renewal(&WANG);
    other.request_id = first.request_id.clone();
    stack.submit(first).await.unwrap();

    let refused = stack.submit(other).await.unwrap_err();

    assert_eq!(refused.code(), tonic::Code::InvalidArgument);
    assert_eq!(idcard_server::status::violated_fields(&refused), vec!["request_id"]);
    stack.stop().await;
}

#[tokio::test]
async fn a_repeated_message_is_acknowledged_and_changes_nothing() {
    let mut stack = TestStack::start().await;
    let submitted = stack.submit(replacement(&LI)).await.unwrap();
    let id = submitted.application_id.clone();
    stack.wait_for(&id, S::UnderReview).await;
    stack.approve(&id).await;
    stack.wait_for(&id, S::InProduction).await;
    let update = pb::ReceiveProductionUpdateRequest {
        message_id: new_id(),
        application_id: id.clone(),
        step: pb::ProductionStep::QualityCheckFailed.into(),
        at: None,
        detail: "hologram misaligned".into(),
        operator: "qc-2".into(),
    };

    stack
        .acceptance_inbox
        .receive_production_update(update.clone())
        .await
        .unwrap();
    let once = stack.get(&id).await;
    stack.acceptance_inbox.receive_production_update(update).await.unwrap();
    let twice = stack.get(&id).await;

    assert_eq!(once.history.len(), twice.history.len());
    assert_eq!(
        states(&twice).iter().filter(|s| **s == S::QualityCheckFailed).count(),
        1
    );
    stack.stop().await;
}

#[tokio::test]
async fn a_message_for_a_step_not_reached_yet_is_refused_for_retry() {
    let mut stack = TestStack::start().await;
    let submitted = stack.submit(replacement(&LI)).await.unwrap();
    let update = pb::ReceiveProductionUpdateRequest {
        message_id: new_id(),
        application_id: submitted.application_id.clone(),
        step: pb::ProductionStep::Dispatched.into(),
        at: None,
        detail: String::new(),
        operator: String::new(),
    };

    let refused = stack
        .acceptance_inbox
        .receive_production_update(update)
        .await
        .unwrap_err();

    assert_eq!(refused.code(), tonic::Code::Aborted);
    let after = stack.get(&submitted.application_id).await;
    assert!(!states(&after).contains(&S::Dispatched));
    stack.stop().await;
}
