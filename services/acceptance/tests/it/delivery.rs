//! The application travels to the domicile over mutual TLS, fingerprints included, and
//! the domicile's decision comes back through the inbox.

use idcard_proto::v1 as pb;

use crate::support::{FINGERPRINT_MARK, LI, PHOTO_MARK, TestApp, audit_entries, eventually, replacement};

#[tokio::test]
async fn the_review_inbox_receives_the_application_over_mutual_tls_with_fingerprints_intact() {
    let app = TestApp::start().await;

    let submitted = app.submit(replacement(&LI)).await;
    let received = app.review.wait_for(&submitted.application_id).await;

    assert_eq!(
        received.peer.as_deref(),
        Some("acceptance"),
        "the relay presents its certificate"
    );
    let applicant = received.request.applicant.unwrap();
    assert_eq!(applicant.fingerprints, vec![FINGERPRINT_MARK.to_vec()]);
    assert!(applicant.photo.windows(PHOTO_MARK.len()).any(|w| w == PHOTO_MARK));
    assert_eq!(applicant.card_items.unwrap().name, LI.name);
    assert_eq!(received.request.receipt_number, submitted.receipt_number);
    assert!(
        submitted.applicant.unwrap().fingerprints.is_empty(),
        "only the message to the domicile carries fingerprints"
    );
}

#[tokio::test]
async fn a_decision_from_the_review_certificate_is_applied_and_audited() {
    let app = TestApp::start().await;
    let submitted = app.submit(replacement(&LI)).await;
    let id = submitted.application_id.clone();
    app.review.wait_for(&id).await;
    eventually("the application is under review", || {
        let app = &app;
        let id = id.clone();
        async move {
            let current = app.get(&mut app.clerk(), &id).await.unwrap();
            (current.state() == pb::ApplicationState::UnderReview).then_some(())
        }
    })
    .await;

    app.inbox(Some("review"))
        .receive_decision(pb::ReceiveDecisionRequest {
            message_id: uuid::Uuid::now_v7().to_string(),
            application_id: id.clone(),
            decision: Some(pb::receive_decision_request::Decision::Approval(pb::Approval {
                issuance: Some(pb::Issuance {
                    validity_start: Some(pb::CalendarDate {
                        year: 2026,
                        month: 1,
                        day: 5,
                    }),
                    validity_end: None,
                    long_term: true,
                    issuing_authority: "广州市公安局天河分局".into(),
                    card_id: uuid::Uuid::now_v7().to_string(),
                }),
            })),
            decided_at: None,
            reviewer: "reviewer-1".into(),
        })
        .await
        .unwrap();

    let approved = app.get(&mut app.clerk(), &id).await.unwrap();
    assert_eq!(approved.state(), pb::ApplicationState::Approved);
    let entries = audit_entries(&app.database().await, &id).await;
    let delivered = entries
        .iter()
        .find(|e| e.action == "application.delivered_to_review")
        .unwrap_or_else(|| panic!("{entries:?}"));
    assert_eq!(delivered.role, "service");
    let decision = entries
        .iter()
        .find(|e| e.action == "application.decision")
        .unwrap_or_else(|| panic!("{entries:?}"));
    assert_eq!((decision.actor.as_str(), decision.role.as_str()), ("review", "service"));
}
