//! Approval and rejection, and what reaches the acceptance and production sides.

use idcard_domain::validity_period;
use idcard_proto::v1::receive_decision_request::Decision;
use idcard_proto::v1::{
    ApplicationKind, ApproveApplicationRequest, Contact, RejectApplicationRequest, RejectionReason, ReviewState,
};
use idcard_server::wire::{date_from_wire, date_to_wire, today_cst};
use tonic::Code;
use uuid::Uuid;

use crate::support::{ACCEPTANCE_PEER, ACCEPTANCE_POINT, App, Event, Person, REVIEWER, fields, reason_codes};

/// The free-text `reviewer` is ignored under a token: the token subject is recorded.
const CLAIMED_REVIEWER: &str = "someone-else";

fn approve(application_id: &str) -> ApproveApplicationRequest {
    ApproveApplicationRequest {
        request_id: Uuid::now_v7().to_string(),
        application_id: application_id.to_string(),
        reviewer: CLAIMED_REVIEWER.to_string(),
        note: "checked against the register".to_string(),
    }
}

fn reject(application_id: &str) -> RejectApplicationRequest {
    RejectApplicationRequest {
        request_id: Uuid::now_v7().to_string(),
        application_id: application_id.to_string(),
        reasons: vec![RejectionReason {
            code: "IDENTITY_INCONSISTENT".to_string(),
            detail: "the name differs from the household register; correct it at the domicile first".to_string(),
        }],
        contact: Some(Contact {
            office: "广州市公安局天河分局户政科".to_string(),
            person: "王警官".to_string(),
            phone: "020-12345678".to_string(),
        }),
        reviewer: CLAIMED_REVIEWER.to_string(),
    }
}

#[tokio::test]
async fn approval_reaches_acceptance_over_mtls_with_the_validity_for_the_age_then_production() {
    let mut app = App::spawn().await;
    let person = Person::aged(30, 123);
    app.import(vec![person.resident()]).await;
    let application = person.application(ApplicationKind::Renewal);
    app.receive(application.clone()).await;

    let approved = app
        .review
        .approve_application(approve(&application.application_id))
        .await
        .unwrap()
        .into_inner();

    let case = approved.review_case.unwrap();
    assert_eq!(case.state, ReviewState::Approved as i32);
    assert_eq!(case.reviewer, REVIEWER, "the token subject, not the claimed reviewer");
    assert!(
        case.findings.is_empty(),
        "the card just issued is not held against the case: {:?}",
        case.findings
    );
    let issuance = case.issuance.unwrap();
    let today = today_cst();
    let start = date_from_wire("", issuance.validity_start.as_ref()).unwrap();
    let end = date_from_wire("", issuance.validity_end.as_ref()).unwrap();
    assert_eq!(start, today);
    assert_eq!(end.year() - start.year(), 20, "aged 29 or 30 at issue: 20 years");
    assert_eq!(Some(end), validity_period(person.birth, today).end);
    assert!(!issuance.long_term);
    assert_eq!(issuance.issuing_authority, "广州市公安局天河分局");

    let events = app.wait_for_events(2).await;
    let Event::Decision(decision) = &events[0] else {
        panic!("decision first, got {events:?}")
    };
    assert!(Uuid::parse_str(&decision.message_id).is_ok());
    assert_eq!(decision.application_id, application.application_id);
    assert_eq!(decision.reviewer, REVIEWER);
    let Some(Decision::Approval(approval)) = &decision.decision else {
        panic!("approval expected")
    };
    assert_eq!(approval.issuance.as_ref(), Some(&issuance));

    let Event::ProductionOrder(order) = &events[1] else {
        panic!("production order second, got {events:?}")
    };
    assert!(Uuid::parse_str(&order.message_id).is_ok());
    assert_ne!(order.message_id, decision.message_id);
    assert_eq!(order.application_id, application.application_id);
    assert_eq!(order.receipt_number, application.receipt_number);
    assert_eq!(order.acceptance_point_code, ACCEPTANCE_POINT);
    assert_eq!(order.origin, ACCEPTANCE_PEER);
    assert_eq!(order.card_items, application.applicant.as_ref().unwrap().card_items);
    assert_eq!(order.photo, application.applicant.as_ref().unwrap().photo);
    assert_eq!(order.issuance.as_ref(), Some(&issuance));
    assert_eq!(app.settled_events().await.len(), 2, "one decision and one order");
    assert_eq!(
        app.recorder.callers(),
        ["review", "review"],
        "both peers were called with the review service's certificate"
    );
    app.stop().await;
}

#[tokio::test]
async fn production_order_waits_until_acceptance_has_the_approval() {
    let mut app = App::spawn().await;
    let person = Person::aged(30, 123);
    app.import(vec![person.resident()]).await;
    let application = person.application(ApplicationKind::Renewal);
    app.receive(application.clone()).await;
    app.fail_next_decisions(3);

    app.review
        .approve_application(approve(&application.application_id))
        .await
        .unwrap();

    let events = app.wait_for_events(2).await;
    assert!(matches!(events[0], Event::Decision(_)), "{events:?}");
    assert!(matches!(events[1], Event::ProductionOrder(_)), "{events:?}");
    assert_eq!(app.orders_before_decision(), 0);
    app.stop().await;
}

#[tokio::test]
async fn resident_aged_over_45_gets_a_long_term_card() {
    let mut app = App::spawn().await;
    let person = Person::aged(60, 124);
    app.import(vec![person.resident()]).await;
    let application = person.application(ApplicationKind::Renewal);
    app.receive(application.clone()).await;

    let approved = app
        .review
        .approve_application(approve(&application.application_id))
        .await
        .unwrap()
        .into_inner();

    let issuance = approved.review_case.unwrap().issuance.unwrap();
    assert!(issuance.long_term);
    assert_eq!(issuance.validity_start, Some(date_to_wire(today_cst())));
    assert_eq!(issuance.validity_end, None);
    app.stop().await;
}

#[tokio::test]
async fn approved_replacement_invalidates_the_earlier_cards() {
    let mut app = App::spawn().await;
    let person = Person::aged(30, 123);
    let mut resident = person.resident();
    resident.cards[0].status = idcard_proto::v1::CardStatus::ReportedLost.into();
    app.import(vec![resident]).await;
    let application = person.application(ApplicationKind::Replacement);
    app.receive(application.clone()).await;

    app.review
        .approve_application(approve(&application.application_id))
        .await
        .unwrap();

    assert_eq!(app.card_statuses(&person.citizen_id).await, ["invalidated", "active"]);
    app.stop().await;
}

#[tokio::test]
async fn approving_twice_with_the_same_request_id_returns_the_first_answer() {
    let mut app = App::spawn().await;
    let person = Person::aged(30, 123);
    app.import(vec![person.resident()]).await;
    let application = person.application(ApplicationKind::Renewal);
    app.receive(application.clone()).await;
    let request = approve(&application.application_id);

    let first = app
        .review
        .approve_application(request.clone())
        .await
        .unwrap()
        .into_inner();
    let second = app.review.approve_application(request).await.unwrap().into_inner();

    assert_eq!(first, second);
    let events = app.wait_for_events(2).await;
    assert_eq!(events.len(), 2);
    assert_eq!(
        app.settled_events().await.len(),
        2,
        "one decision and one order, not two of each"
    );
    app.stop().await;
}

#[tokio::test]
async fn deciding_a_decided_case_is_refused() {
    let mut app = App::spawn().await;
    let application = Person::aged(30, 123).application(ApplicationKind::Renewal);
    app.receive(application.clone()).await;
    app.review
        .approve_application(approve(&application.application_id))
        .await
        .unwrap();

    let again = app
        .review
        .approve_application(approve(&application.application_id))
        .await
        .unwrap_err();
    let rejected = app
        .review
        .reject_application(reject(&application.application_id))
        .await
        .unwrap_err();

    for status in [again, rejected] {
        assert_eq!(status.code(), Code::FailedPrecondition);
        assert_eq!(reason_codes(&status), ["CASE_ALREADY_DECIDED"]);
    }
    assert_eq!(
        app.get(&application.application_id).await.state,
        ReviewState::Approved as i32
    );
    app.stop().await;
}

#[tokio::test]
async fn rejection_reaches_acceptance_with_reasons_and_contact_and_nothing_is_produced() {
    let mut app = App::spawn().await;
    let application = Person::aged(30, 123).application(ApplicationKind::Replacement);
    app.receive(application.clone()).await;
    let request = reject(&application.application_id);

    let rejected = app
        .review
        .reject_application(request.clone())
        .await
        .unwrap()
        .into_inner();

    let case = rejected.review_case.unwrap();
    assert_eq!(case.state, ReviewState::Rejected as i32);
    assert_eq!(case.rejection_reasons, request.reasons);
    assert_eq!(case.rejection_contact, request.contact);
    assert_eq!(case.issuance, None);
    let events = app.settled_events().await;
    assert_eq!(events.len(), 1, "{events:?}");
    let Event::Decision(decision) = &events[0] else {
        panic!("decision expected")
    };
    let Some(Decision::Rejection(rejection)) = &decision.decision else {
        panic!("rejection expected")
    };
    assert_eq!(rejection.reasons, request.reasons);
    assert_eq!(rejection.contact, request.contact);
    assert_eq!(
        app.get(&application.application_id).await.rejection_reasons,
        request.reasons
    );
    app.stop().await;
}

#[tokio::test]
async fn malformed_rejection_is_refused_naming_every_field() {
    let mut app = App::spawn().await;
    let application = Person::aged(30, 123).application(ApplicationKind::Replacement);
    app.receive(application.clone()).await;
    let mut request = reject(&application.application_id);
    request.reasons.push(RejectionReason {
        code: "not upper snake".to_string(),
        detail: " ".to_string(),
    });
    request.contact.as_mut().unwrap().phone.clear();
    // Ignored under a token: not an error.
    request.reviewer.clear();

    let status = app.review.reject_application(request).await.unwrap_err();
    let no_reasons = app
        .review
        .reject_application(RejectApplicationRequest {
            reasons: vec![],
            ..reject(&application.application_id)
        })
        .await
        .unwrap_err();

    assert_eq!(status.code(), Code::InvalidArgument);
    let mut named = fields(&status);
    named.sort();
    assert_eq!(named, ["contact.phone", "reasons[1].code", "reasons[1].detail"]);
    assert_eq!(fields(&no_reasons), ["reasons"]);
    assert_eq!(
        app.get(&application.application_id).await.state,
        ReviewState::Pending as i32
    );
    assert!(app.settled_events().await.is_empty());
    app.stop().await;
}

#[tokio::test]
async fn approving_an_unknown_application_is_not_found_and_bad_input_names_fields() {
    let mut app = App::spawn().await;

    let unknown = app
        .review
        .approve_application(approve(&Uuid::now_v7().to_string()))
        .await
        .unwrap_err();
    let malformed = app
        .review
        .approve_application(ApproveApplicationRequest {
            request_id: String::new(),
            application_id: "x".to_string(),
            reviewer: String::new(),
            note: String::new(),
        })
        .await
        .unwrap_err();

    assert_eq!(unknown.code(), Code::NotFound);
    assert_eq!(malformed.code(), Code::InvalidArgument);
    assert_eq!(fields(&malformed), ["request_id", "application_id"]);
    app.stop().await;
}
