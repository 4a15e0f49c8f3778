//! What the applicant is told (a rejection, a card ready for collection) through the
//! notification file sink, and the collection notice the domicile gets.

use idcard_proto::v1 as pb;

use crate::support::{LI, POINT, TestApp, WANG, replacement};

fn rejection() -> pb::receive_decision_request::Decision {
    pb::receive_decision_request::Decision::Rejection(pb::Rejection {
        reasons: vec![pb::RejectionReason {
            code: "RECORD_LOCKED".into(),
            detail: "户籍档案已冻结".into(),
        }],
        contact: Some(pb::Contact {
            office: "天河分局户政科".into(),
            person: "张警官".into(),
            phone: "020-83118000".into(),
        }),
    })
}

#[tokio::test]
async fn a_rejection_is_told_to_the_applicant_with_the_reasons_and_the_contact() {
    let app = TestApp::start().await;
    let submitted = app.submit(replacement(&LI)).await;
    let id = submitted.application_id.clone();
    app.under_review(&id).await;

    app.decide(&id, rejection()).await;
    let line = app.wait_for_notification(&submitted.receipt_number).await;

    let text = line["text"].as_str().unwrap();
    for expected in [
        "户籍档案已冻结",
        "RECORD_LOCKED",
        "天河分局户政科",
        "张警官",
        "020-83118000",
    ] {
        assert!(text.contains(expected), "{expected} missing from {text}");
    }
    assert_eq!(line["channel"], "sms");
    let to = line["to"].as_str().unwrap();
    assert_ne!(to, LI.phone, "the file holds the recipient masked");
    assert!(to.starts_with(&LI.phone[..3]), "{to}");
    let rejected = app.get(&mut app.clerk(), &id).await.unwrap();
    assert_eq!(rejected.state(), pb::ApplicationState::Rejected);
    let file = std::fs::read_to_string(&app.notify_file).unwrap();
    for (what, value) in [("phone", LI.phone), ("citizen id", LI.citizen_id), ("name", LI.name)] {
        assert!(!file.contains(value), "{what} in clear in the notification file");
    }
}

#[tokio::test]
async fn a_repeated_rejection_is_told_once() {
    let app = TestApp::start().await;
    let submitted = app.submit(replacement(&LI)).await;
    let id = submitted.application_id.clone();
    app.under_review(&id).await;
    let message = pb::ReceiveDecisionRequest {
        message_id: uuid::Uuid::now_v7().to_string(),
        application_id: id.clone(),
        decision: Some(rejection()),
        decided_at: None,
        reviewer: "reviewer-1".into(),
    };

    for _ in 0..2 {
        app.inbox(Some("review"))
            .receive_decision(message.clone())
            .await
            .unwrap();
    }
    // A later rejection with a new message id finds the application already rejected.
    app.decide(&id, rejection()).await;
    app.wait_for_notification(&submitted.receipt_number).await;
    // Let the relay run a few more rounds: nothing else may be written.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;

    let lines = app.notifications();
    assert_eq!(lines.len(), 1, "{lines:?}");
}

#[tokio::test]
async fn a_card_arriving_at_the_point_is_told_as_ready_for_collection() {
    let app = TestApp::start().await;
    let submitted = app.submit(replacement(&WANG)).await;
    let id = submitted.application_id.clone();
    app.under_review(&id).await;
    app.approve_and_dispatch(&id).await;

    let arrived = app
        .clerk()
        .confirm_card_arrival(pb::ConfirmCardArrivalRequest {
            request_id: uuid::Uuid::now_v7().to_string(),
            application_id: id.clone(),
            clerk: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .application
        .unwrap();
    let line = app.wait_for_notification(&submitted.receipt_number).await;

    assert_eq!(arrived.state(), pb::ApplicationState::ReadyForCollection);
    let text = line["text"].as_str().unwrap();
    assert!(text.contains(POINT), "names where to collect: {text}");
    assert_ne!(line["to"].as_str().unwrap(), WANG.phone);
}

#[tokio::test]
async fn collecting_the_card_sends_a_collection_notice_to_the_domicile() {
    let app = TestApp::start().await;
    let submitted = app.submit(replacement(&LI)).await;
    let id = submitted.application_id.clone();
    app.under_review(&id).await;
    app.approve_and_dispatch(&id).await;
    let mut clerk = app.clerk();
    clerk
        .confirm_card_arrival(pb::ConfirmCardArrivalRequest {
            request_id: uuid::Uuid::now_v7().to_string(),
            application_id: id.clone(),
            clerk: String::new(),
        })
        .await
        .unwrap();

    let collected = clerk
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
        .unwrap()
        .into_inner()
        .application
        .unwrap();
    let notice = app.review.wait_for_collection(&id).await;

    assert_eq!(collected.state(), pb::ApplicationState::Collected);
    assert_eq!(notice.peer.as_deref(), Some("acceptance"), "over mutual TLS");
    assert!(notice.request.collected_at.is_some());
    assert!(!notice.request.old_card_surrendered, "a replacement surrenders no card");
}
