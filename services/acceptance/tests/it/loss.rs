//! Loss reports at the counter: to the domicile over mutual TLS, one open report per
//! citizen, the domicile's outcomes, revocation, scope, bad input, and replacements that
//! follow a report.

use idcard_auth::Role;
use idcard_domain::ReceiptNo;
use idcard_proto::v1 as pb;
use idcard_server::status::{reason_codes, violated_fields};
use tonic::Code;

use crate::support::{
    CIRCUMSTANCE_MARK, CLERK, LI, OTHER_POINT, POINT, TestApp, WANG, audit_entries_of, eventually, fingerprint_matched,
    loss_report, outbox_count, replacement, token,
};

const REPORT_KIND: &str = "review.receive_loss_report";
const REVOCATION_KIND: &str = "review.receive_loss_report_revocation";

fn passport() -> pb::IdentityConfirmation {
    pb::IdentityConfirmation {
        method: Some(pb::identity_confirmation::Method::IdentityDocument(
            pb::DocumentKind::Passport.into(),
        )),
    }
}

fn revoke(report_number: &str) -> pb::RevokeLossReportRequest {
    pb::RevokeLossReportRequest {
        request_id: uuid::Uuid::now_v7().to_string(),
        report_number: report_number.into(),
        identity: Some(passport()),
    }
}

fn notes(report: &pb::LossReport) -> Vec<&str> {
    report.history.iter().map(|e| e.note.as_str()).collect()
}

/// Waits until the relay has handed report `number` to the review inbox and recorded it.
async fn delivered(app: &TestApp, number: &str) -> pb::LossReport {
    app.review.wait_for_loss_report(number).await;
    eventually("the delivery shows in the history", || async {
        let current = app.get_report(&mut app.clerk(), number).await.unwrap();
        notes(&current)
            .iter()
            .any(|note| note.starts_with("delivered to the domicile bureau"))
            .then_some(current)
    })
    .await
}

#[tokio::test]
async fn a_loss_report_reaches_the_review_inbox_over_mutual_tls() {
    let app = TestApp::start().await;

    let report = app.report(loss_report(&LI)).await;
    let received = app.review.wait_for_loss_report(&report.report_number).await;

    assert!(ReceiptNo::parse(&report.report_number).is_ok(), "{report:?}");
    assert_eq!(report.state(), pb::LossReportState::Submitted);
    assert_eq!(report.kind(), pb::LossKind::Lost);
    assert_eq!(report.citizen_id_masked, "4***************21");
    assert_eq!(report.taken_at, POINT);
    assert_eq!(report.history[0].state(), pb::LossReportState::Submitted);
    assert_eq!(
        received.peer.as_deref(),
        Some("acceptance"),
        "the relay presents its certificate"
    );
    let message = received.request;
    assert_eq!(
        (
            message.citizen_id.as_str(),
            message.name.as_str(),
            message.circumstance.as_str()
        ),
        (LI.citizen_id, LI.name, CIRCUMSTANCE_MARK)
    );
    assert_eq!(message.kind(), pb::LossKind::Lost);
    assert_eq!(message.identity, Some(fingerprint_matched()));
    assert_eq!(
        message.origin, "acceptance",
        "the review service replies to this instance"
    );
    assert!(message.reported_at.is_some());
    let current = delivered(&app, &report.report_number).await;
    assert_eq!(
        current.state(),
        pb::LossReportState::Submitted,
        "the domicile has not answered yet"
    );
}

#[tokio::test]
async fn a_second_report_of_the_same_citizen_is_the_same_report() {
    let app = TestApp::start().await;
    let first_request = loss_report(&LI);
    let first = app.report(first_request.clone()).await;

    let mut again = loss_report(&LI);
    again.kind = pb::LossKind::Stolen.into();
    let second = app.report(again).await;
    let retried = app.report(first_request).await;
    let other_citizen = app.report(loss_report(&WANG)).await;

    assert_eq!(second.report_number, first.report_number);
    assert_eq!(retried.report_number, first.report_number);
    assert_eq!(second.kind(), pb::LossKind::Lost, "the first report stands");
    assert!(
        notes(&second).contains(&format!("reported again at {POINT}").as_str()),
        "{second:?}"
    );
    assert_ne!(other_citizen.report_number, first.report_number);
    let db = app.database().await;
    assert_eq!(
        outbox_count(&db, REPORT_KIND).await,
        2,
        "one message per report, not per call"
    );

    // Once the domicile refused it, the report is over: a new one is a new report.
    app.outcome(&first.report_number, pb::LossReportState::Refused, "", "no such card")
        .await
        .unwrap();
    let after_refusal = app.report(loss_report(&LI)).await;
    assert_ne!(after_refusal.report_number, first.report_number);
}

#[tokio::test]
async fn the_domicile_outcomes_active_revoked_closed_and_refused_are_applied() {
    let app = TestApp::start().await;
    let li = app.report(loss_report(&LI)).await.report_number;
    let wang = app.report(loss_report(&WANG)).await.report_number;
    // Outcomes follow delivery (the relay appends a "delivered" line when it settles).
    delivered(&app, &li).await;
    delivered(&app, &wang).await;
    let mut clerk = app.clerk();

    app.outcome(&li, pb::LossReportState::Active, "", "").await.unwrap();
    let active = app.get_report(&mut clerk, &li).await.unwrap();
    app.outcome(&li, pb::LossReportState::Active, "", "").await.unwrap();
    let repeated = app.get_report(&mut clerk, &li).await.unwrap();
    app.outcome(&li, pb::LossReportState::Revoked, "", "").await.unwrap();
    let revoked = app.get_report(&mut clerk, &li).await.unwrap();
    app.outcome(&wang, pb::LossReportState::Refused, "", "no such card")
        .await
        .unwrap();
    let refused = app.get_report(&mut clerk, &wang).await.unwrap();

    assert_eq!(active.state(), pb::LossReportState::Active);
    assert_eq!(
        repeated.history.len(),
        active.history.len(),
        "a stale outcome changes nothing"
    );
    assert_eq!(revoked.state(), pb::LossReportState::Revoked);
    assert_eq!(refused.state(), pb::LossReportState::Refused);
    assert_eq!(
        refused.history.last().unwrap().note,
        "refused by the domicile bureau: no such card"
    );

    let again = app.report(loss_report(&LI)).await.report_number;
    delivered(&app, &again).await;
    let earlier = ReceiptNo::from_u64(42).as_str().to_string();
    app.outcome(&again, pb::LossReportState::Active, &earlier, "")
        .await
        .unwrap();
    let same_as = app.get_report(&mut clerk, &again).await.unwrap();
    app.outcome(&again, pb::LossReportState::Closed, "", "").await.unwrap();
    let closed = app.get_report(&mut clerk, &again).await.unwrap();
    let unknown = app
        .outcome(ReceiptNo::from_u64(7).as_str(), pb::LossReportState::Active, "", "")
        .await
        .unwrap_err();
    let not_a_state = app
        .outcome(&again, pb::LossReportState::Submitted, "", "")
        .await
        .unwrap_err();

    assert_eq!(same_as.same_as_report_number, earlier);
    assert!(same_as.history.last().unwrap().note.contains(&earlier), "{same_as:?}");
    assert_eq!(closed.state(), pb::LossReportState::Closed);
    assert_eq!(unknown.code(), Code::NotFound, "{unknown:?}");
    assert_eq!(violated_fields(&not_a_state), ["state"]);
    let entries = audit_entries_of(&app.database().await, &format!("loss_report:{li}")).await;
    let outcomes: Vec<_> = entries
        .iter()
        .filter(|e| e.action == "loss_report.outcome")
        .map(|e| (e.actor.as_str(), e.role.as_str(), e.detail.as_str()))
        .collect();
    assert_eq!(
        outcomes,
        [
            ("review", "service", "now active"),
            ("review", "service", "now revoked")
        ]
    );
}

#[tokio::test]
async fn a_revocation_is_sent_to_the_domicile_and_the_state_follows_its_outcome() {
    let app = TestApp::start().await;
    let number = app.report(loss_report(&LI)).await.report_number;
    delivered(&app, &number).await;
    app.outcome(&number, pb::LossReportState::Active, "", "").await.unwrap();
    let mut clerk = app.clerk();

    let requested = clerk.revoke_loss_report(revoke(&number)).await.unwrap().into_inner();
    let requested = requested.report.unwrap();
    let received = app.review.wait_for_revocation(&number).await;
    let twice = clerk.revoke_loss_report(revoke(&number)).await.unwrap().into_inner();

    assert_eq!(
        requested.state(),
        pb::LossReportState::Active,
        "changes with the outcome"
    );
    assert_eq!(requested.history.last().unwrap().note, "revocation requested");
    assert_eq!(received.peer.as_deref(), Some("acceptance"));
    assert_eq!(received.request.identity, Some(passport()));
    assert_eq!(received.request.origin, "acceptance");
    assert_eq!(
        twice.report.unwrap().history.len(),
        requested.history.len(),
        "a revocation already requested is not requested again"
    );
    assert_eq!(
        outbox_count(&app.database().await, REVOCATION_KIND).await,
        1,
        "an unanswered revocation is not sent twice"
    );

    app.outcome(&number, pb::LossReportState::Revoked, "", "")
        .await
        .unwrap();
    let revoked = app.get_report(&mut clerk, &number).await.unwrap();
    let revoked_again = clerk.revoke_loss_report(revoke(&number)).await.unwrap_err();

    assert_eq!(revoked.state(), pb::LossReportState::Revoked);
    assert_eq!(revoked_again.code(), Code::FailedPrecondition);
    assert_eq!(reason_codes(&revoked_again), ["REPORT_ALREADY_REVOKED"]);
}

#[tokio::test]
async fn a_refused_revocation_leaves_the_report_standing_and_a_replaced_card_cannot_be_revoked() {
    let app = TestApp::start().await;
    let li = app.report(loss_report(&LI)).await.report_number;
    let wang = app.report(loss_report(&WANG)).await.report_number;
    for number in [&li, &wang] {
        app.outcome(number, pb::LossReportState::Active, "", "").await.unwrap();
    }
    let mut clerk = app.clerk();

    clerk.revoke_loss_report(revoke(&li)).await.unwrap();
    app.outcome(
        &li,
        pb::LossReportState::Refused,
        "",
        "a fingerprint is on record; confirm identity by fingerprint",
    )
    .await
    .unwrap();
    let standing = app.get_report(&mut clerk, &li).await.unwrap();
    app.outcome(&wang, pb::LossReportState::Closed, "", "").await.unwrap();
    let replaced = clerk.revoke_loss_report(revoke(&wang)).await.unwrap_err();
    let mut with_fingerprint = revoke(&li);
    with_fingerprint.identity = Some(fingerprint_matched());
    let retried = clerk.revoke_loss_report(with_fingerprint).await;

    assert_eq!(standing.state(), pb::LossReportState::Active);
    assert!(
        // Not necessarily the last line: the relay's "delivered" line may settle after it.
        notes(&standing)
            .iter()
            .any(|note| note.starts_with("revocation refused by the domicile bureau: a fingerprint is on record")),
        "{standing:?}"
    );
    assert_eq!(reason_codes(&replaced), ["CARD_ALREADY_REPLACED"]);
    assert!(retried.is_ok(), "a refused revocation may be asked again: {retried:?}");
    assert_eq!(outbox_count(&app.database().await, REVOCATION_KIND).await, 2);
}

#[tokio::test]
async fn another_points_report_answers_not_found_exactly_like_an_unknown_one() {
    let app = TestApp::start().await;
    let number = app.report(loss_report(&LI)).await.report_number;
    let mut other_clerk = app.client(Some(&token("clerk-9", Role::Clerk, &[OTHER_POINT])));
    let unknown_number = ReceiptNo::from_u64(7).as_str().to_string();

    let read = app.get_report(&mut other_clerk, &number).await.unwrap_err();
    let unknown = app.get_report(&mut other_clerk, &unknown_number).await.unwrap_err();
    let revoked = other_clerk.revoke_loss_report(revoke(&number)).await.unwrap_err();
    let mut elsewhere = loss_report(&WANG);
    elsewhere.acceptance_point_code = OTHER_POINT.into();
    let reported_elsewhere = app.clerk().report_loss(elsewhere).await.unwrap_err();
    let mut auditor = app.client(Some(&token("auditor-1", Role::Auditor, &[])));
    let audited = app.get_report(&mut auditor, &number).await;
    let auditor_report = auditor.report_loss(loss_report(&WANG)).await.unwrap_err();

    assert_eq!(unknown.code(), Code::NotFound);
    for refused in [&read, &revoked] {
        assert_eq!(refused.code(), unknown.code(), "{refused:?}");
        assert_eq!(refused.message(), unknown.message(), "{refused:?}");
    }
    assert_eq!(
        reported_elsewhere.code(),
        Code::PermissionDenied,
        "{reported_elsewhere:?}"
    );
    assert_eq!(audited.unwrap().report_number, number, "auditors read every point");
    assert_eq!(auditor_report.code(), Code::PermissionDenied, "{auditor_report:?}");
    let entries = audit_entries_of(&app.database().await, &format!("loss_report:{number}")).await;
    let who_did_what: Vec<_> = entries
        .iter()
        .map(|e| (e.actor.as_str(), e.role.as_str(), e.action.as_str()))
        .collect();
    assert!(
        who_did_what.contains(&(CLERK, "clerk", "loss_report.report")),
        "{who_did_what:?}"
    );
    assert!(
        who_did_what.contains(&("auditor-1", "auditor", "loss_report.read")),
        "{who_did_what:?}"
    );
    assert!(
        !who_did_what.iter().any(|(actor, _, _)| *actor == "clerk-9"),
        "a refused read is not a read: {who_did_what:?}"
    );
}

#[tokio::test]
async fn bad_input_names_every_field_at_fault() {
    let app = TestApp::start().await;
    let mut clerk = app.clerk();
    let bad = pb::ReportLossRequest {
        request_id: uuid::Uuid::now_v7().to_string(),
        acceptance_point_code: POINT.into(),
        citizen_id: "440106197809090222".into(),
        name: "  ".into(),
        domicile_region_code: "999999".into(),
        kind: pb::LossKind::Unspecified.into(),
        circumstance: "丢".repeat(501),
        identity: None,
    };
    let mut by_document = loss_report(&LI);
    by_document.identity = Some(pb::IdentityConfirmation {
        method: Some(pb::identity_confirmation::Method::IdentityDocument(
            pb::DocumentKind::Lease.into(),
        )),
    });
    let mut no_match = loss_report(&LI);
    no_match.identity = Some(pb::IdentityConfirmation {
        method: Some(pb::identity_confirmation::Method::FingerprintMatched(false)),
    });
    let mut longest = loss_report(&LI);
    longest.circumstance = "丢".repeat(500);

    let refused = clerk.report_loss(bad).await.unwrap_err();
    let lease = clerk.report_loss(by_document).await.unwrap_err();
    let unmatched = clerk.report_loss(no_match).await.unwrap_err();
    let bad_revocation = clerk
        .revoke_loss_report(pb::RevokeLossReportRequest {
            request_id: uuid::Uuid::now_v7().to_string(),
            report_number: "not-a-number".into(),
            identity: None,
        })
        .await
        .unwrap_err();
    let bad_read = app.get_report(&mut clerk, "").await.unwrap_err();
    let taken = clerk.report_loss(longest).await;

    assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
    assert_eq!(
        violated_fields(&refused),
        [
            "citizen_id",
            "name",
            "domicile_region_code",
            "kind",
            "identity",
            "circumstance"
        ]
    );
    assert!(refused.message().contains("at most 500 characters"), "{refused:?}");
    assert_eq!(violated_fields(&lease), ["identity.identity_document"]);
    assert_eq!(violated_fields(&unmatched), ["identity.fingerprint_matched"]);
    assert_eq!(violated_fields(&bad_revocation), ["report_number", "identity"]);
    assert_eq!(violated_fields(&bad_read), ["report_number"]);
    assert!(taken.is_ok(), "500 characters are taken: {taken:?}");
    assert!(!refused.message().contains("440106197809090222"), "{refused:?}");
}

#[tokio::test]
async fn a_replacement_may_follow_a_loss_report_of_its_own_applicant_only() {
    let app = TestApp::start().await;
    let li_report = app.report(loss_report(&LI)).await.report_number;
    let wang_report = app.report(loss_report(&WANG)).await.report_number;
    let mut clerk = app.clerk();

    let mut renewal = replacement(&WANG);
    renewal.kind = pb::ApplicationKind::Renewal.into();
    renewal.loss_report_number = wang_report.clone();
    let mut malformed = replacement(&WANG);
    malformed.loss_report_number = "12345".into();
    let mut someone_elses = replacement(&WANG);
    someone_elses.loss_report_number = li_report.clone();
    let mut own = replacement(&LI);
    own.loss_report_number = li_report.clone();
    let mut taken_elsewhere = replacement(&WANG);
    taken_elsewhere.loss_report_number = ReceiptNo::from_u64(99).as_str().to_string();

    let renewal = clerk.submit_application(renewal).await.unwrap_err();
    let malformed = clerk.submit_application(malformed).await.unwrap_err();
    let someone_elses = clerk.submit_application(someone_elses).await.unwrap_err();
    let own = app.submit(own).await;
    let elsewhere = clerk.submit_application(taken_elsewhere).await;

    assert!(
        violated_fields(&renewal).contains(&"loss_report_number".to_string()),
        "{renewal:?}"
    );
    assert_eq!(violated_fields(&malformed), ["loss_report_number"]);
    assert_eq!(violated_fields(&someone_elses), ["loss_report_number"]);
    assert_eq!(
        own.history[0].note,
        format!("accepted at {POINT}; follows loss report {li_report}")
    );
    let read = app.get(&mut clerk, &own.application_id).await.unwrap();
    assert_eq!(read.receipt_number, own.receipt_number);
    assert!(
        elsewhere.is_ok(),
        "a report taken elsewhere is the domicile's to check: {elsewhere:?}"
    );
}
