//! Loss reports from acceptance counters, their revocation and closure, collection and
//! found-card notices, and card status publishing, through real gRPC.

use idcard_proto::v1::{
    ApplicationKind, ApproveApplicationRequest, CardStatus, GetOnlineLossReportRequest, LossReportState,
    ReceiveCollectionNoticeRequest, ReceiveFoundCardNoticeRequest,
};
use idcard_server::wire::ms_to_timestamp;
use tonic::Code;
use uuid::Uuid;

use crate::support::{App, INSTANCE, Person, STATUS_PEER, document, fingerprint, reason_codes, revocation};

fn approve(application_id: &str) -> ApproveApplicationRequest {
    ApproveApplicationRequest {
        request_id: Uuid::now_v7().to_string(),
        application_id: application_id.to_string(),
        reviewer: String::new(),
        note: String::new(),
    }
}

/// A resident of Tianhe with one active card, imported; returns the person and the card id.
async fn resident(app: &mut App, sequence: u16) -> (Person, String) {
    let person = Person::aged(30, sequence);
    let record = person.resident();
    let card_id = Person::card_id(&record);
    app.import(vec![record]).await;
    app.wait_for_status(&card_id, CardStatus::Active).await;
    (person, card_id)
}

/// Approves an application of `kind` for `person`; returns the application and new card ids.
async fn issue(app: &mut App, person: &Person, kind: ApplicationKind) -> (String, String) {
    let application = person.application(kind);
    app.receive(application.clone()).await;
    let approved = app
        .review
        .approve_application(approve(&application.application_id))
        .await
        .unwrap()
        .into_inner();
    let card_id = approved.review_case.unwrap().issuance.unwrap().card_id;
    app.wait_for_status(&card_id, CardStatus::Active).await;
    (application.application_id, card_id)
}

#[tokio::test]
async fn counter_report_is_recorded_published_and_the_citizen_told() {
    let mut app = App::spawn().await;
    let (person, card_id) = resident(&mut app, 201).await;
    let report = person.loss_report(fingerprint());

    app.inbox.receive_loss_report(report.clone()).await.unwrap();

    let outcome = app
        .wait_for_outcome(&report.report_number, LossReportState::Active)
        .await;
    assert_eq!(outcome.same_as_report_number, "");
    assert!(Uuid::parse_str(&outcome.message_id).is_ok());
    let published = app.wait_for_status(&card_id, CardStatus::ReportedLost).await;
    assert_eq!(
        published.caller, "review",
        "published with the review service's certificate"
    );
    assert_eq!(published.request.citizen_id, person.citizen_id);
    assert_eq!(published.request.name, person.name);
    assert_eq!(published.request.issuer, INSTANCE);
    let imported = &app.statuses_of(&card_id)[0];
    assert!(
        published.request.version > imported.version,
        "versions increase per card"
    );
    let text = app.wait_for_notification(&report.report_number).await;
    assert!(text.contains("挂失"), "{text}");
    let line = app.notifications().pop().unwrap();
    assert_eq!(line["to"], "138****0201", "the file sink masks the phone");
    assert_eq!(app.card_statuses(&person.citizen_id).await, ["reported_lost"]);
    app.stop().await;
}

#[tokio::test]
async fn second_report_of_a_reported_card_stands_for_the_first() {
    let mut app = App::spawn().await;
    let (person, card_id) = resident(&mut app, 202).await;
    let first = person.loss_report(fingerprint());
    app.inbox.receive_loss_report(first.clone()).await.unwrap();
    app.wait_for_outcome(&first.report_number, LossReportState::Active)
        .await;

    let second = person.loss_report(fingerprint());
    app.inbox.receive_loss_report(second.clone()).await.unwrap();

    let outcome = app
        .wait_for_outcome(&second.report_number, LossReportState::Active)
        .await;
    assert_eq!(outcome.same_as_report_number, first.report_number);
    let report = app
        .citizen(&person.citizen_id)
        .get_online_loss_report(GetOnlineLossReportRequest {
            report_number: second.report_number.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .report
        .unwrap();
    assert_eq!(report.same_as_report_number, first.report_number);
    assert_eq!(report.state, LossReportState::Active as i32);
    app.settled_events().await;
    let reported: Vec<_> = app
        .statuses_of(&card_id)
        .into_iter()
        .filter(|s| s.status == CardStatus::ReportedLost as i32)
        .collect();
    assert_eq!(reported.len(), 1, "the card was reported once");
    assert_eq!(app.outcomes().len(), 2, "one outcome per report: {:?}", app.outcomes());
    assert_eq!(
        app.notifications().len(),
        1,
        "the citizen is told once: {:?}",
        app.notifications()
    );
    app.stop().await;
}

#[tokio::test]
async fn document_only_identity_is_refused_when_a_fingerprint_is_on_record() {
    let mut app = App::spawn().await;
    let (person, card_id) = resident(&mut app, 203).await;
    let report = person.loss_report(document());

    app.inbox.receive_loss_report(report.clone()).await.unwrap();

    let outcome = app
        .wait_for_outcome(&report.report_number, LossReportState::Refused)
        .await;
    assert_eq!(outcome.note, "IDENTITY_NOT_CONFIRMED");
    assert_eq!(app.card_statuses(&person.citizen_id).await, ["active"]);
    assert_eq!(app.statuses_of(&card_id).len(), 1, "only the import's status");

    // Without a fingerprint on record a document confirms identity.
    let mut record = Person::aged(40, 204).resident();
    record.fingerprint_on_record = false;
    let other = Person::aged(40, 204);
    app.import(vec![record]).await;
    let report = other.loss_report(document());
    app.inbox.receive_loss_report(report.clone()).await.unwrap();
    app.wait_for_outcome(&report.report_number, LossReportState::Active)
        .await;

    // Nobody in the register: refused.
    let stranger = Person::aged(50, 205).loss_report(fingerprint());
    app.inbox.receive_loss_report(stranger.clone()).await.unwrap();
    let outcome = app
        .wait_for_outcome(&stranger.report_number, LossReportState::Refused)
        .await;
    assert_eq!(outcome.note, "NO_SUCH_CITIZEN");
    app.stop().await;
}

#[tokio::test]
async fn revoked_report_makes_the_card_valid_again() {
    let mut app = App::spawn().await;
    let (person, card_id) = resident(&mut app, 206).await;
    let report = person.loss_report(fingerprint());
    app.inbox.receive_loss_report(report.clone()).await.unwrap();
    let reported = app.wait_for_status(&card_id, CardStatus::ReportedLost).await;

    // Identity by document only, with a fingerprint on record: refused, still reported.
    app.inbox
        .receive_loss_report_revocation(revocation(&report.report_number, document()))
        .await
        .unwrap();
    let refused = app
        .wait_for_outcome(&report.report_number, LossReportState::Refused)
        .await;
    assert_eq!(refused.note, "IDENTITY_NOT_CONFIRMED");
    assert_eq!(app.card_statuses(&person.citizen_id).await, ["reported_lost"]);

    app.inbox
        .receive_loss_report_revocation(revocation(&report.report_number, fingerprint()))
        .await
        .unwrap();

    app.wait_for_outcome(&report.report_number, LossReportState::Revoked)
        .await;
    let active = app
        .wait_for_status_after(&card_id, CardStatus::Active, reported.request.version)
        .await;
    assert_eq!(active.request.citizen_id, person.citizen_id);
    assert_eq!(app.card_statuses(&person.citizen_id).await, ["active"]);
    app.wait_for_notification("已撤销").await;

    // The card can be reported again: a new report, not one standing for the revoked one.
    let again = person.loss_report(fingerprint());
    app.inbox.receive_loss_report(again.clone()).await.unwrap();
    let outcome = app
        .wait_for_outcome(&again.report_number, LossReportState::Active)
        .await;
    assert_eq!(outcome.same_as_report_number, "");
    app.stop().await;
}

#[tokio::test]
async fn replacement_closes_the_report_and_invalidates_the_old_card_for_good() {
    let mut app = App::spawn().await;
    let (person, old_card) = resident(&mut app, 207).await;
    let report = person.loss_report(fingerprint());
    app.inbox.receive_loss_report(report.clone()).await.unwrap();
    app.wait_for_outcome(&report.report_number, LossReportState::Active)
        .await;

    let (_, new_card) = issue(&mut app, &person, ApplicationKind::Replacement).await;

    app.wait_for_outcome(&report.report_number, LossReportState::Closed)
        .await;
    app.wait_for_status(&old_card, CardStatus::Invalidated).await;
    app.wait_for_status(&new_card, CardStatus::Active).await;
    assert_eq!(app.card_statuses(&person.citizen_id).await, ["invalidated", "active"]);

    // Revoking after the replacement: refused, the old card stays invalid.
    app.inbox
        .receive_loss_report_revocation(revocation(&report.report_number, fingerprint()))
        .await
        .unwrap();
    let refused = app
        .wait_for_outcome(&report.report_number, LossReportState::Refused)
        .await;
    assert_eq!(refused.note, "CARD_ALREADY_REPLACED");
    assert_eq!(app.card_statuses(&person.citizen_id).await, ["invalidated", "active"]);
    app.stop().await;
}

#[tokio::test]
async fn revocation_of_an_unknown_report_is_retried_until_the_report_arrives() {
    let mut app = App::spawn().await;
    let (person, _) = resident(&mut app, 208).await;
    let report = person.loss_report(fingerprint());

    let early = app
        .inbox
        .receive_loss_report_revocation(revocation(&report.report_number, fingerprint()))
        .await
        .unwrap_err();

    assert_eq!(early.code(), Code::FailedPrecondition);
    assert_eq!(reason_codes(&early), ["UNKNOWN_REPORT"]);
    app.stop().await;
}

#[tokio::test]
async fn renewal_collection_invalidates_the_surrendered_card() {
    let mut app = App::spawn().await;
    let (person, old_card) = resident(&mut app, 209).await;
    let (application_id, new_card) = issue(&mut app, &person, ApplicationKind::Renewal).await;
    assert_eq!(
        app.card_statuses(&person.citizen_id).await,
        ["active", "active"],
        "the old card stays valid until the new one is collected"
    );

    app.inbox
        .receive_collection_notice(ReceiveCollectionNoticeRequest {
            message_id: Uuid::now_v7().to_string(),
            application_id: application_id.clone(),
            collected_at: Some(ms_to_timestamp(idcard_db::now_ms())),
            old_card_surrendered: true,
        })
        .await
        .unwrap();

    app.wait_for_status(&old_card, CardStatus::Invalidated).await;
    assert_eq!(app.card_statuses(&person.citizen_id).await, ["invalidated", "active"]);
    assert!(
        app.statuses_of(&new_card)
            .iter()
            .all(|s| s.status == CardStatus::Active as i32)
    );

    let unknown = app
        .inbox
        .receive_collection_notice(ReceiveCollectionNoticeRequest {
            message_id: Uuid::now_v7().to_string(),
            application_id: Uuid::now_v7().to_string(),
            collected_at: None,
            old_card_surrendered: true,
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
    app.stop().await;
}

#[tokio::test]
async fn found_card_that_is_reported_lost_tells_the_owner() {
    let mut app = App::spawn().await;
    let (person, card_id) = resident(&mut app, 210).await;
    let (_, unreported) = resident(&mut app, 211).await;
    let report = person.loss_report(fingerprint());
    app.inbox.receive_loss_report(report.clone()).await.unwrap();
    app.wait_for_outcome(&report.report_number, LossReportState::Active)
        .await;
    let status_inbox = app.inbox_as(Some(STATUS_PEER));
    let notice = |card_id: &str| ReceiveFoundCardNoticeRequest {
        message_id: Uuid::now_v7().to_string(),
        card_id: card_id.to_string(),
        found_at: "体育西路地铁站".to_string(),
        collect_at: "天河派出所".to_string(),
        registered_at: Some(ms_to_timestamp(idcard_db::now_ms())),
    };

    status_inbox
        .clone()
        .receive_found_card_notice(notice(&card_id))
        .await
        .unwrap();
    status_inbox
        .clone()
        .receive_found_card_notice(notice(&unreported))
        .await
        .unwrap();

    let text = app.wait_for_notification("天河派出所").await;
    assert!(text.contains("拾获"), "{text}");
    app.settled_events().await;
    assert_eq!(
        app.notifications()
            .iter()
            .filter(|line| line["text"].as_str().unwrap().contains("天河派出所"))
            .count(),
        1,
        "only the owner of the reported card is told"
    );
    let history = app
        .citizen(&person.citizen_id)
        .get_online_loss_report(GetOnlineLossReportRequest {
            report_number: report.report_number.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .report
        .unwrap()
        .history;
    assert!(
        history.iter().any(|event| event.note.contains("天河派出所")),
        "{history:?}"
    );

    // Only the status service sends found-card notices.
    let refused = app.inbox.receive_found_card_notice(notice(&card_id)).await.unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    app.stop().await;
}

#[tokio::test]
async fn import_publishes_the_status_of_every_card() {
    let mut app = App::spawn().await;
    let person = Person::aged(30, 212);
    let mut record = person.resident();
    let mut old = record.cards[0].clone();
    old.card_id = Uuid::now_v7().to_string();
    old.status = CardStatus::Invalidated.into();
    old.validity_start = Some(idcard_server::wire::date_to_wire(
        idcard_server::wire::today_cst() - time::Duration::days(7300),
    ));
    old.validity_end = Some(idcard_server::wire::date_to_wire(
        idcard_server::wire::today_cst() - time::Duration::days(3650),
    ));
    record.cards.push(old.clone());
    let current = Person::card_id(&record);

    app.import(vec![record.clone()]).await;

    let active = app.wait_for_status(&current, CardStatus::Active).await;
    let invalid = app.wait_for_status(&old.card_id, CardStatus::Invalidated).await;
    for published in [&active, &invalid] {
        assert_eq!(published.request.citizen_id, person.citizen_id);
        assert_eq!(published.request.name, person.name);
        assert_eq!(published.request.issuer, INSTANCE);
        assert!(published.request.version > 0);
        assert!(published.request.validity_start.is_some());
    }

    // A second import publishes again, with a higher version.
    app.import(vec![record]).await;
    for _ in 0..250 {
        if app.statuses_of(&current).len() == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let versions: Vec<i64> = app.statuses_of(&current).iter().map(|s| s.version).collect();
    assert_eq!(versions.len(), 2, "{versions:?}");
    assert!(versions[1] > versions[0], "{versions:?}");
    app.stop().await;
}
