//! The three-step remote flow from the counter to collection.

use idcard_proto::v1 as pb;
use idcard_proto::v1::ApplicationState as S;

use crate::support::{CHEN, LI, TestStack, WANG, new_id, renewal, replacement, states};

#[tokio::test]
async fn renewal_goes_from_counter_to_collection_with_every_step_in_the_history() {
    let mut stack = TestStack::start().await;
    let submitted = stack.submit(renewal(&WANG)).await.unwrap();
    assert_eq!(submitted.state(), S::Submitted);
    assert!(!submitted.receipt_number.is_empty());
    assert!(submitted.due_date.is_some());

    stack.drive_to_ready(&submitted.application_id, true).await;
    let collected = stack.collect(&submitted.application_id, true).await.unwrap();

    assert_eq!(collected.state(), S::Collected);
    assert_eq!(
        states(&collected),
        vec![
            S::Submitted,
            S::UnderReview,
            S::Approved,
            S::InProduction,
            S::QualityCheckFailed,
            S::InProduction,
            S::Produced,
            S::Dispatched,
            S::ReadyForCollection,
            S::Collected
        ]
    );
    let issuance = collected.issuance.unwrap();
    // Born 2000-05-20, so 26 on issue: a 20-year card from the domicile county bureau.
    let start = issuance.validity_start.unwrap();
    assert_eq!(issuance.validity_end.unwrap().year, start.year + 20);
    assert!(
        issuance.issuing_authority.contains("公安"),
        "{}",
        issuance.issuing_authority
    );
    let collection = collected.collection.unwrap();
    assert!(collection.old_card_surrendered && collection.applicant_checked_and_signed);
    stack.stop().await;
}

#[tokio::test]
async fn replacement_goes_from_counter_to_collection() {
    let mut stack = TestStack::start().await;
    let submitted = stack.submit(replacement(&LI)).await.unwrap();

    stack.drive_to_ready(&submitted.application_id, false).await;
    let collected = stack.collect(&submitted.application_id, false).await.unwrap();

    assert_eq!(collected.state(), S::Collected);
    assert_eq!(collected.fee.unwrap().amount_fen, 4000);
    stack.stop().await;
}

#[tokio::test]
async fn renewal_is_not_handed_over_without_the_old_card() {
    let mut stack = TestStack::start().await;
    let submitted = stack.submit(renewal(&WANG)).await.unwrap();
    stack.drive_to_ready(&submitted.application_id, false).await;

    let refused = stack.collect(&submitted.application_id, false).await.unwrap_err();

    assert_eq!(refused.code(), tonic::Code::FailedPrecondition);
    assert_eq!(
        idcard_server::status::reason_codes(&refused),
        vec!["OLD_CARD_NOT_SURRENDERED"]
    );
    assert_eq!(
        stack.get(&submitted.application_id).await.state(),
        S::ReadyForCollection
    );
    stack.stop().await;
}

#[tokio::test]
async fn rejection_reaches_the_acceptance_point_with_reasons_and_contact() {
    let mut stack = TestStack::start().await;
    let submitted = stack.submit(replacement(&CHEN)).await.unwrap();
    let id = submitted.application_id.clone();
    stack.wait_for(&id, S::UnderReview).await;

    let case = stack
        .review
        .get_application(pb::ReviewServiceGetApplicationRequest {
            application_id: id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .review_case
        .unwrap();
    assert!(
        case.findings.iter().any(|f| f.code == "RECORD_LOCKED"),
        "{:?}",
        case.findings
    );
    stack
        .review
        .reject_application(pb::RejectApplicationRequest {
            request_id: new_id(),
            application_id: id.clone(),
            reasons: vec![pb::RejectionReason {
                code: "RECORD_LOCKED".into(),
                detail: "the household record is being corrected; apply again after it is unlocked".into(),
            }],
            contact: Some(pb::Contact {
                office: "西湖分局户政科".into(),
                person: "王警官".into(),
                phone: "0571-87000000".into(),
            }),
            reviewer: "reviewer-1".into(),
        })
        .await
        .unwrap();
    let rejected = stack.wait_for(&id, S::Rejected).await;

    assert_eq!(rejected.state(), S::Rejected);
    assert_eq!(rejected.rejection_reasons[0].code, "RECORD_LOCKED");
    assert_eq!(rejected.rejection_contact.unwrap().phone, "0571-87000000");
    let refused = stack.collect(&id, false).await.unwrap_err();
    assert_eq!(idcard_server::status::reason_codes(&refused), vec!["CARD_NOT_READY"]);
    stack.stop().await;
}

#[tokio::test]
async fn a_second_open_application_of_the_same_kind_is_refused() {
    let mut stack = TestStack::start().await;
    stack.submit(replacement(&LI)).await.unwrap();

    let refused = stack.submit(replacement(&LI)).await.unwrap_err();

    assert_eq!(refused.code(), tonic::Code::FailedPrecondition);
    assert_eq!(
        idcard_server::status::reason_codes(&refused),
        vec!["APPLICATION_ALREADY_OPEN"]
    );
    stack.stop().await;
}

#[tokio::test]
async fn renewal_asked_more_than_three_months_before_expiry_is_refused() {
    let mut stack = TestStack::start().await;
    let mut request = renewal(&LI);
    request.current_card_expiry = Some(pb::CalendarDate {
        year: 2099,
        month: 1,
        day: 1,
    });

    let refused = stack.submit(request).await.unwrap_err();

    assert_eq!(refused.code(), tonic::Code::FailedPrecondition);
    assert_eq!(idcard_server::status::reason_codes(&refused), vec!["RENEWAL_TOO_EARLY"]);
    stack.stop().await;
}
