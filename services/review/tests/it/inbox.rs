//! Applications arriving from acceptance services.

use idcard_proto::v1::{ApplicationKind, ReceiveApplicationRequest};
use tonic::Code;

use crate::support::{App, Person, fields, reason_codes};

#[tokio::test]
async fn received_application_is_pending_with_its_data() {
    let mut app = App::spawn().await;
    let person = Person::aged(30, 123);
    let application = person.application(ApplicationKind::Renewal);

    app.receive(application.clone()).await;

    let case = app.get(&application.application_id).await;
    assert_eq!(case.state, idcard_proto::v1::ReviewState::Pending as i32);
    assert_eq!(case.receipt_number, application.receipt_number);
    assert_eq!(case.kind, ApplicationKind::Renewal as i32);
    assert_eq!(case.acceptance_point_code, application.acceptance_point_code);
    let applicant = case.applicant.unwrap();
    assert_eq!(applicant.card_items, application.applicant.as_ref().unwrap().card_items);
    assert_eq!(applicant.photo, application.applicant.as_ref().unwrap().photo);
    assert!(
        applicant.fingerprints.is_empty(),
        "fingerprint templates are not shown to the reviewer"
    );
    assert!(case.review_due_date.is_some());
    app.stop().await;
}

#[tokio::test]
async fn repeated_message_is_acknowledged_and_changes_nothing() {
    let mut app = App::spawn().await;
    let person = Person::aged(30, 123);
    let first = person.application(ApplicationKind::Renewal);
    app.receive(first.clone()).await;

    // The same message delivered again, and another message for the same application.
    let mut repeated = first.clone();
    repeated.acceptance_point_code = "changed".to_string();
    app.receive(repeated).await;
    let mut second = person.application(ApplicationKind::Replacement);
    second.application_id = first.application_id.clone();
    app.receive(second).await;

    let case = app.get(&first.application_id).await;
    assert_eq!(case.acceptance_point_code, first.acceptance_point_code);
    assert_eq!(case.kind, ApplicationKind::Renewal as i32);
    assert_eq!(app.list("44").await.len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn malformed_application_is_refused_naming_every_field() {
    let mut app = App::spawn().await;
    let mut bad = Person::aged(30, 123).application(ApplicationKind::Renewal);
    bad.message_id = "not-a-uuid".to_string();
    bad.kind = ApplicationKind::Unspecified.into();
    bad.receipt_number = "12345".to_string();
    let applicant = bad.applicant.as_mut().unwrap();
    applicant.domicile_region_code = "999999".to_string();
    let items = applicant.card_items.as_mut().unwrap();
    // Wrong check character.
    let mut id = items.citizen_id.clone();
    let last = id.pop().unwrap();
    id.push(if last == '0' { '1' } else { '0' });
    items.citizen_id = id;

    let status = app.inbox.receive_application(bad).await.unwrap_err();

    assert_eq!(status.code(), Code::InvalidArgument);
    let mut named = fields(&status);
    named.sort();
    assert_eq!(
        named,
        [
            "applicant.card_items.citizen_id",
            "applicant.domicile_region_code",
            "kind",
            "message_id",
            "receipt_number",
        ]
    );
    assert!(app.list("44").await.is_empty());
    app.stop().await;
}

#[tokio::test]
async fn missing_applicant_is_refused() {
    let mut app = App::spawn().await;
    let bad = ReceiveApplicationRequest {
        applicant: None,
        ..Person::aged(30, 123).application(ApplicationKind::Renewal)
    };

    let status = app.inbox.receive_application(bad).await.unwrap_err();

    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(fields(&status), ["applicant"]);
    app.stop().await;
}

#[tokio::test]
async fn application_from_an_unknown_peer_is_refused_for_the_sender_to_retry() {
    let mut app = App::spawn().await;
    let mut application = Person::aged(30, 123).application(ApplicationKind::Renewal);
    application.origin = "acceptance-nowhere".to_string();

    let status = app.inbox.receive_application(application.clone()).await.unwrap_err();

    assert_eq!(status.code(), Code::FailedPrecondition);
    assert_eq!(reason_codes(&status), ["UNKNOWN_PEER"]);
    assert!(app.list("44").await.is_empty());
    app.stop().await;
}
