//! The security baseline at the review service: jurisdictions, tokens and peer
//! certificates, nothing personal in clear in the database, the audit chain, key
//! rotation, and insecure mode for local debugging.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use idcard_auth::Role;
use idcard_crypto::{Keyring, Purpose, key_id_of};
use idcard_db::{Db, on_db};
use idcard_proto::v1::review_service_client::ReviewServiceClient;
use idcard_proto::v1::{
    ApplicationKind, ApproveApplicationRequest, ConfirmOnlineLossReportRequest, Contact, GetOnlineLossReportRequest,
    ImportResidentsRequest, ListPendingApplicationsRequest, LossKind, LossReportState, ReceiveFoundCardNoticeRequest,
    RejectApplicationRequest, RejectionReason, ReviewServiceGetApplicationRequest, ReviewState,
    StartOnlineLossReportRequest,
};
use tonic::{Code, Status};
use uuid::Uuid;

use crate::support::{
    App, Authed, Event, Person, REVIEWER, STATUS_PEER, codes, database_contents, fingerprint, hex, revocation,
};

fn get(application_id: &str) -> ReviewServiceGetApplicationRequest {
    ReviewServiceGetApplicationRequest {
        application_id: application_id.to_string(),
    }
}

fn approve(application_id: &str) -> ApproveApplicationRequest {
    ApproveApplicationRequest {
        request_id: Uuid::now_v7().to_string(),
        application_id: application_id.to_string(),
        reviewer: String::new(),
        note: "register checked".to_string(),
    }
}

fn reject(application_id: &str) -> RejectApplicationRequest {
    RejectApplicationRequest {
        request_id: Uuid::now_v7().to_string(),
        application_id: application_id.to_string(),
        reasons: vec![RejectionReason {
            code: "RECORD_LOCKED".to_string(),
            detail: "the household record is locked; ask the domicile bureau".to_string(),
        }],
        contact: Some(Contact {
            office: "广州市公安局天河分局户政科".to_string(),
            person: "王警官".to_string(),
            phone: "020-87654321".to_string(),
        }),
        reviewer: String::new(),
    }
}

async fn list(client: &mut ReviewServiceClient<Authed>, jurisdiction: &str) -> Result<usize, Status> {
    client
        .list_pending_applications(ListPendingApplicationsRequest {
            jurisdiction_code: jurisdiction.to_string(),
            ..Default::default()
        })
        .await
        .map(|response| response.into_inner().applications.len())
}

/// The message with the application id taken out, to compare answers for two ids.
fn without_id(status: &Status, application_id: &str) -> String {
    status.message().replace(application_id, "<id>")
}

#[tokio::test]
async fn case_of_another_jurisdiction_is_not_found_exactly_like_an_unknown_one() {
    let mut app = App::spawn().await;
    let application = Person::aged(30, 123).application(ApplicationKind::Renewal);
    app.receive(application.clone()).await;
    let mut beijing = app.review_as("reviewer-bj", Role::Reviewer, &["11"]);
    let id = application.application_id.as_str();
    let unknown_id = Uuid::now_v7().to_string();

    let answers = [
        (
            beijing.get_application(get(id)).await.unwrap_err(),
            beijing.get_application(get(&unknown_id)).await.unwrap_err(),
        ),
        (
            beijing.approve_application(approve(id)).await.unwrap_err(),
            beijing.approve_application(approve(&unknown_id)).await.unwrap_err(),
        ),
        (
            beijing.reject_application(reject(id)).await.unwrap_err(),
            beijing.reject_application(reject(&unknown_id)).await.unwrap_err(),
        ),
    ];

    for (hidden, unknown) in &answers {
        assert_eq!(hidden.code(), Code::NotFound, "{hidden:?}");
        assert_eq!(unknown.code(), Code::NotFound, "{unknown:?}");
        assert_eq!(
            without_id(hidden, id),
            without_id(unknown, &unknown_id),
            "existence must not leak"
        );
    }
    assert_eq!(
        app.get(id).await.state,
        ReviewState::Pending as i32,
        "nothing was decided"
    );
    assert!(app.settled_events().await.is_empty());
    app.stop().await;
}

#[tokio::test]
async fn listing_outside_the_callers_jurisdictions_is_permission_denied() {
    let app = App::spawn().await;
    let mut guangdong = app.review_as("reviewer-gd", Role::Reviewer, &["44"]);
    let mut guangzhou = app.review_as("reviewer-gz", Role::Reviewer, &["4401"]);
    let mut auditor = app.review_as("auditor-1", Role::Auditor, &[]);

    assert_eq!(list(&mut guangdong, "4401").await.unwrap(), 0);
    assert_eq!(list(&mut guangdong, "44").await.unwrap(), 0);
    assert_eq!(list(&mut guangzhou, "440106").await.unwrap(), 0);
    assert_eq!(list(&mut auditor, "11").await.unwrap(), 0);
    let refused = [
        list(&mut guangdong, "11").await,
        list(&mut guangzhou, "44").await,
        list(&mut guangzhou, "4402").await,
    ];
    for answer in refused {
        assert_eq!(answer.unwrap_err().code(), Code::PermissionDenied);
    }
    app.stop().await;
}

#[tokio::test]
async fn import_with_a_resident_outside_the_callers_jurisdictions_is_refused_naming_the_row() {
    let mut app = App::spawn().await;
    let local = Person::aged(30, 123);
    let elsewhere = Person::aged(40, 125).in_beijing();

    let status = app
        .review
        .import_residents(ImportResidentsRequest {
            request_id: Uuid::now_v7().to_string(),
            residents: vec![local.resident(), elsewhere.resident()],
        })
        .await
        .unwrap_err();

    assert_eq!(status.code(), Code::PermissionDenied);
    assert!(
        status.message().contains("residents[1].domicile_region_code 110105"),
        "{}",
        status.message()
    );
    assert!(!status.message().contains("residents[0]"), "{}", status.message());
    let application = local.application(ApplicationKind::Renewal);
    app.receive(application.clone()).await;
    assert_eq!(
        codes(&app.get(&application.application_id).await),
        ["NO_REGISTER_RECORD"],
        "nothing was imported"
    );
    app.stop().await;
}

#[tokio::test]
async fn inbox_call_without_the_acceptance_certificate_is_refused() {
    let mut app = App::spawn().await;
    let application = Person::aged(30, 123).application(ApplicationKind::Renewal);

    let without_certificate = app
        .inbox_as(None)
        .receive_application(application.clone())
        .await
        .unwrap_err();
    let as_production = app
        .inbox_as(Some("production"))
        .receive_application(application.clone())
        .await
        .unwrap_err();

    assert_eq!(without_certificate.code(), Code::Unauthenticated);
    assert_eq!(as_production.code(), Code::PermissionDenied);
    assert!(app.list("44").await.is_empty(), "nothing was received");
    app.receive(application).await;
    assert_eq!(app.list("44").await.len(), 1, "the acceptance certificate gets through");
    app.stop().await;
}

#[tokio::test]
async fn front_end_calls_need_a_token_with_a_role_that_may_make_them() {
    let mut app = App::spawn().await;
    let application = Person::aged(30, 123).application(ApplicationKind::Renewal);
    app.receive(application.clone()).await;
    let mut anonymous = app.review_with(None);
    let mut auditor = app.review_as("auditor-1", Role::Auditor, &[]);
    let mut clerk = app.review_as("clerk-1", Role::Clerk, &["330106-01"]);

    let no_token = list(&mut anonymous, "44").await.unwrap_err();
    let clerk_reads = clerk
        .get_application(get(&application.application_id))
        .await
        .unwrap_err();
    let audited = auditor.get_application(get(&application.application_id)).await.unwrap();
    let auditor_decides = auditor
        .approve_application(approve(&application.application_id))
        .await
        .unwrap_err();

    assert_eq!(no_token.code(), Code::Unauthenticated);
    assert_eq!(clerk_reads.code(), Code::PermissionDenied);
    assert_eq!(
        audited.into_inner().review_case.unwrap().application_id,
        application.application_id
    );
    assert_eq!(auditor_decides.code(), Code::PermissionDenied);
    app.stop().await;
}

#[tokio::test]
async fn no_database_file_holds_personal_data_in_clear_after_receipt_import_and_decisions() {
    let mut app = App::spawn().await;
    let approved = Person::aged(30, 123);
    let rejected = Person::aged(40, 125);
    app.import(vec![approved.resident(), rejected.resident()]).await;
    let to_approve = approved.application(ApplicationKind::Renewal);
    let to_reject = rejected.application(ApplicationKind::Replacement);
    app.receive(to_approve.clone()).await;
    app.receive(to_reject.clone()).await;
    app.get(&to_approve.application_id).await;
    app.review
        .approve_application(approve(&to_approve.application_id))
        .await
        .unwrap();
    app.review
        .reject_application(reject(&to_reject.application_id))
        .await
        .unwrap();
    app.wait_for_events(3).await;

    app.halt().await;
    let contents = database_contents(&app).await;

    let mut personal: Vec<String> = [&approved, &rejected]
        .iter()
        .flat_map(|p| [p.citizen_id.clone(), p.name.clone(), p.phone.clone(), p.address.clone()])
        .collect();
    personal.extend(["FINGERPRINT-TEMPLATE-LEFT-INDEX", "020-87654321", "王警官"].map(String::from));
    let stored = |needle: &str| {
        contents
            .iter()
            .filter(|(_, bytes)| contains(bytes, needle.as_bytes()) || contains(bytes, hex(needle).as_bytes()))
            .map(|(place, _)| place.clone())
            .collect::<Vec<_>>()
    };
    assert!(
        !stored(&to_approve.receipt_number).is_empty(),
        "the scan sees what is stored in clear (receipt numbers are not personal data)"
    );
    if app.db.is_postgres() {
        let authority = hex("广州市公安局天河分局");
        assert!(
            contents.iter().any(|(_, bytes)| contains(bytes, authority.as_bytes())),
            "the scan sees clear text inside bytea (the issuance names the authority)"
        );
    }
    for needle in &personal {
        assert_eq!(stored(needle), Vec::<String>::new(), "{needle} is stored in clear");
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|window| window == needle)
}

#[tokio::test]
async fn audit_chain_verifies_with_entries_for_every_change_and_read() {
    let mut app = App::spawn().await;
    let person = Person::aged(30, 123);
    app.import(vec![person.resident()]).await;
    let application = person.application(ApplicationKind::Renewal);
    app.receive(application.clone()).await;
    app.get(&application.application_id).await;
    app.review
        .approve_application(approve(&application.application_id))
        .await
        .unwrap();
    app.wait_for_events(2).await;

    app.halt().await;
    let db = app.database().await;
    idcard_audit::seal_once(&db).await.unwrap();
    let verified = idcard_audit::verify(&db).await.unwrap();
    let entries: Vec<(String, String, String, String)> = on_db!(&db, |pool| {
        sqlx::query_as("SELECT actor, role, action, target FROM audit_log ORDER BY chain_position")
            .fetch_all(pool)
            .await
            .unwrap()
    });
    db.close().await;

    assert_eq!(verified.unsealed, 0);
    assert_eq!(verified.entries, 5, "{entries:?}");
    let target = format!("application:{}", application.application_id);
    let summary: Vec<(&str, &str, &str, bool)> = entries
        .iter()
        .map(|(actor, role, action, t)| (actor.as_str(), role.as_str(), action.as_str(), *t == target))
        .collect();
    assert_eq!(
        summary,
        [
            (REVIEWER, "reviewer", "residents.import", false),
            ("acceptance", "service", "application.receive", true),
            (REVIEWER, "reviewer", "application.read_personal_data", true),
            (REVIEWER, "reviewer", "application.approve", true),
            ("review", "service", "application.order_production", true),
        ]
    );
    assert!(entries[0].3.starts_with("resident_import:"), "{}", entries[0].3);
}

/// A counter report, its revocation and a second report, an online report, and a found
/// card, for the two tests below.
struct LossFlow {
    counter: Person,
    online: Person,
    circumstances: Vec<String>,
    report_number: String,
}

async fn loss_flow(app: &mut App) -> LossFlow {
    let counter = Person::aged(30, 131);
    let online = Person::aged(40, 132);
    let online_record = online.resident();
    let online_card = Person::card_id(&online_record);
    app.import(vec![counter.resident(), online_record]).await;
    let report = counter.loss_report(fingerprint());
    app.inbox.receive_loss_report(report.clone()).await.unwrap();
    app.inbox
        .receive_loss_report_revocation(revocation(&report.report_number, fingerprint()))
        .await
        .unwrap();
    let again = counter.loss_report(fingerprint());
    app.inbox.receive_loss_report(again.clone()).await.unwrap();

    let mut citizen = app.citizen(&online.citizen_id);
    let challenge = citizen
        .start_online_loss_report(StartOnlineLossReportRequest {
            request_id: Uuid::now_v7().to_string(),
            citizen_id: online.citizen_id.clone(),
            name: online.name.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    let code = app.wait_for_code(0).await;
    let circumstance = format!("{} left it in a taxi, call {}", online.name, online.phone);
    let confirmed = citizen
        .confirm_online_loss_report(ConfirmOnlineLossReportRequest {
            request_id: Uuid::now_v7().to_string(),
            challenge_id: challenge.challenge_id,
            code,
            kind: LossKind::Lost.into(),
            circumstance: circumstance.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .report
        .unwrap();
    citizen
        .get_online_loss_report(GetOnlineLossReportRequest {
            report_number: confirmed.report_number.clone(),
        })
        .await
        .unwrap();
    app.inbox_as(Some(STATUS_PEER))
        .receive_found_card_notice(ReceiveFoundCardNoticeRequest {
            message_id: Uuid::now_v7().to_string(),
            card_id: online_card,
            found_at: "天河客运站".to_string(),
            collect_at: "天河派出所".to_string(),
            registered_at: None,
        })
        .await
        .unwrap();
    app.wait_for_notification("天河派出所").await;
    app.wait_for_outcome(&again.report_number, LossReportState::Active)
        .await;
    LossFlow {
        circumstances: vec![report.circumstance, circumstance],
        counter,
        online,
        report_number: report.report_number,
    }
}

#[tokio::test]
async fn no_database_file_holds_personal_data_in_clear_after_loss_reports() {
    let mut app = App::spawn().await;
    let flow = loss_flow(&mut app).await;

    app.halt().await;
    let contents = database_contents(&app).await;

    let stored = |needle: &str| {
        contents
            .iter()
            .filter(|(_, bytes)| contains(bytes, needle.as_bytes()) || contains(bytes, hex(needle).as_bytes()))
            .map(|(place, _)| place.clone())
            .collect::<Vec<_>>()
    };
    assert!(
        !stored(&flow.report_number).is_empty(),
        "report numbers are stored in clear"
    );
    let mut personal: Vec<String> = [&flow.counter, &flow.online]
        .iter()
        .flat_map(|p| [p.citizen_id.clone(), p.name.clone(), p.phone.clone(), p.address.clone()])
        .collect();
    personal.extend(flow.circumstances.iter().cloned());
    personal.push("天河客运站".to_string());
    for needle in &personal {
        assert_eq!(stored(needle), Vec::<String>::new(), "{needle} is stored in clear");
    }
}

#[tokio::test]
async fn loss_reports_are_audited_in_a_chain_that_verifies() {
    let mut app = App::spawn().await;
    loss_flow(&mut app).await;

    app.halt().await;
    let db = app.database().await;
    idcard_audit::seal_once(&db).await.unwrap();
    let verified = idcard_audit::verify(&db).await.unwrap();
    let entries: Vec<(String, String, String)> = on_db!(&db, |pool| {
        sqlx::query_as("SELECT actor, role, action FROM audit_log ORDER BY chain_position")
            .fetch_all(pool)
            .await
            .unwrap()
    });
    db.close().await;

    assert_eq!(verified.unsealed, 0);
    let actions: Vec<(&str, &str)> = entries
        .iter()
        .filter(|(_, _, action)| action != "card.status_change")
        .map(|(_, role, action)| (role.as_str(), action.as_str()))
        .collect();
    assert_eq!(
        actions,
        [
            ("reviewer", "residents.import"),
            ("service", "loss_report.receive"),
            ("service", "loss_report.revoke"),
            ("service", "loss_report.receive"),
            ("citizen", "loss_report.online_code_sent"),
            ("citizen", "loss_report.receive"),
            ("citizen", "loss_report.read"),
            ("service", "loss_report.found_card_notice"),
        ],
        "{entries:?}"
    );
    let status_changes = entries
        .iter()
        .filter(|(_, _, action)| action == "card.status_change")
        .count();
    assert_eq!(
        status_changes, 4,
        "reported, valid again, reported again, reported online"
    );
    assert!(
        entries
            .iter()
            .filter(|(_, role, _)| role == "service")
            .all(|(actor, _, _)| actor == "acceptance" || actor == "status"),
        "inbox changes name the peer service: {entries:?}"
    );
}

/// The key id of every sealed value in the service's tables, and the `sealed_under`
/// marker of every row.
async fn sealed_state(db: &Db) -> (BTreeSet<String>, BTreeSet<String>) {
    const SEALED: [(&str, &str); 15] = [
        ("residents", "citizen_id_sealed"),
        ("residents", "name_sealed"),
        ("residents", "ethnicity_sealed"),
        ("residents", "birth_date_sealed"),
        ("residents", "domicile_address_sealed"),
        ("residents", "phone_sealed"),
        ("review_cases", "citizen_id_sealed"),
        ("review_cases", "request_sealed"),
        ("review_cases", "fingerprints_sealed"),
        ("review_cases", "rejection_sealed"),
        ("review_cases", "review_note_sealed"),
        ("loss_reports", "citizen_id_sealed"),
        ("loss_reports", "circumstance_sealed"),
        ("loss_report_events", "note_sealed"),
        ("online_report_challenges", "citizen_id_sealed"),
    ];
    let mut key_ids = BTreeSet::new();
    for (table, column) in SEALED {
        let sql = format!("SELECT {column} FROM {table}");
        let values: Vec<Option<Vec<u8>>> = on_db!(db, |pool| {
            sqlx::query_scalar(sqlx::AssertSqlSafe(sql.as_str()))
                .fetch_all(pool)
                .await
                .unwrap()
        });
        for value in values.into_iter().flatten() {
            let key_id = key_id_of(&value).unwrap().to_string();
            let expected = if column == "fingerprints_sealed" {
                "biometric-"
            } else {
                "data-"
            };
            assert!(key_id.starts_with(expected), "{table}.{column} sealed under {key_id}");
            key_ids.insert(key_id);
        }
    }
    let markers: Vec<String> = on_db!(db, |pool| {
        sqlx::query_scalar(
            "SELECT sealed_under FROM residents UNION ALL SELECT sealed_under FROM review_cases \
             UNION ALL SELECT sealed_under FROM loss_reports UNION ALL SELECT sealed_under FROM loss_report_events \
             UNION ALL SELECT sealed_under FROM online_report_challenges",
        )
        .fetch_all(pool)
        .await
        .unwrap()
    });
    (key_ids, markers.into_iter().collect())
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[tokio::test]
async fn key_rotation_keeps_records_readable_and_the_resealer_reseals_them() {
    let mut app = App::spawn().await;
    let person = Person::aged(30, 123);
    app.import(vec![person.resident()]).await;
    let application = person.application(ApplicationKind::Renewal);
    app.receive(application.clone()).await;
    let approval = approve(&application.application_id);
    let approved = app
        .review
        .approve_application(approval.clone())
        .await
        .unwrap()
        .into_inner();
    // A loss report and an online challenge of someone else, sealed under the old keys.
    let reporter = Person::aged(40, 124);
    app.import(vec![reporter.resident()]).await;
    let report = reporter.loss_report(fingerprint());
    app.inbox.receive_loss_report(report.clone()).await.unwrap();
    app.citizen(&reporter.citizen_id)
        .start_online_loss_report(StartOnlineLossReportRequest {
            request_id: Uuid::now_v7().to_string(),
            citizen_id: reporter.citizen_id.clone(),
            name: reporter.name.clone(),
        })
        .await
        .unwrap();
    let db = app.database().await;
    assert_eq!(
        sealed_state(&db).await,
        (set(&["biometric-1", "data-1"]), set(&["data-1/biometric-1"]))
    );

    Keyring::add_key(&app.key_file, Purpose::Data).unwrap();
    Keyring::add_key(&app.key_file, Purpose::Biometric).unwrap();

    let resealed = (set(&["biometric-2", "data-2"]), set(&["data-2/biometric-2"]));
    let started = Instant::now();
    while sealed_state(&db).await != resealed {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "not re-sealed: {:?}",
            sealed_state(&db).await
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let case = app.get(&application.application_id).await;
    let replayed = app.review.approve_application(approval).await.unwrap().into_inner();
    let read = app
        .citizen(&reporter.citizen_id)
        .get_online_loss_report(GetOnlineLossReportRequest {
            report_number: report.report_number.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .report
        .unwrap();
    db.close().await;

    assert_eq!(
        read.state,
        LossReportState::Active as i32,
        "the report reads back after the rotation"
    );
    assert_eq!(read.history.len(), 2);

    assert_eq!(
        case.applicant.unwrap().card_items,
        application.applicant.unwrap().card_items
    );
    assert!(case.register_record_found);
    assert!(
        case.findings.is_empty(),
        "the register reads back whole: {:?}",
        case.findings
    );
    assert_eq!(
        replayed, approved,
        "an answer stored under the old key still opens after the rotation"
    );
    app.stop().await;
}

#[tokio::test]
async fn insecure_mode_serves_the_flow_without_tokens_or_certificates() {
    let mut app = App::spawn_insecure().await;
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

    assert!(approved.review_case.unwrap().findings.is_empty());
    let events = app.wait_for_events(2).await;
    assert!(matches!(events[0], Event::Decision(_)), "{events:?}");
    assert!(matches!(events[1], Event::ProductionOrder(_)), "{events:?}");
    assert_eq!(app.recorder.callers(), ["-", "-"], "plaintext peers, no certificates");
    app.stop().await;
}
