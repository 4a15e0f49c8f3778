//! Personal data at rest and in the log, and the audit log.

use idcard_auth::Role;
use idcard_proto::v1 as pb;

use crate::support::{
    CIRCUMSTANCE_MARK, CLERK, FINGERPRINT_MARK, LI, PHOTO_MARK, TestApp, WANG, audit_entries, captured_log, contains,
    database_bytes, loss_report, replacement, token,
};

#[tokio::test]
async fn no_database_file_or_log_line_holds_a_citizen_id_name_or_phone_in_clear() {
    let app = TestApp::start().await;
    let mut clerk = app.clerk();
    let mut receipts = Vec::new();
    for person in [&LI, &WANG] {
        let submitted = app.submit(replacement(person)).await;
        app.review.wait_for(&submitted.application_id).await;
        let read = app.get(&mut clerk, &submitted.application_id).await.unwrap();
        assert_eq!(read.applicant.unwrap().card_items.unwrap().name, person.name);
        receipts.push(submitted.receipt_number);
    }
    clerk
        .list_applications(pb::ListApplicationsRequest {
            acceptance_point_code: crate::support::POINT.into(),
            ..Default::default()
        })
        .await
        .unwrap();

    let stored = database_bytes(&app).await;
    let log = captured_log();

    for receipt in &receipts {
        assert!(contains(&stored, receipt.as_bytes()), "the scan sees clear columns");
    }
    assert!(log.contains("application accepted"), "the log is captured");
    for person in [&LI, &WANG] {
        for (what, value) in [
            ("citizen id", person.citizen_id),
            ("name", person.name),
            ("phone", person.phone),
            ("address", person.address),
        ] {
            assert!(!contains(&stored, value.as_bytes()), "{what} in clear in the database");
            assert!(!log.contains(value), "{what} in clear in the log");
        }
    }
    assert!(!contains(&stored, PHOTO_MARK), "photo in clear in the database");
    assert!(
        !contains(&stored, FINGERPRINT_MARK),
        "fingerprint in clear in the database"
    );
}

#[tokio::test]
async fn the_audit_chain_verifies_and_records_the_submit_and_every_read() {
    let app = TestApp::start().await;
    let submitted = app.submit(replacement(&LI)).await;
    let id = submitted.application_id.clone();
    app.get(&mut app.clerk(), &id).await.unwrap();
    let mut auditor = app.client(Some(&token("auditor-3", Role::Auditor, &[])));
    app.get(&mut auditor, &id).await.unwrap();

    let db = app.database().await;
    idcard_audit::seal_once(&db).await.unwrap();
    let verified = idcard_audit::verify(&db).await.unwrap();

    assert!(verified.entries >= 3, "{verified:?}");
    let entries = audit_entries(&db, &id).await;
    let who_did_what: Vec<_> = entries
        .iter()
        .map(|e| (e.actor.as_str(), e.role.as_str(), e.action.as_str()))
        .collect();
    assert!(
        who_did_what.contains(&(CLERK, "clerk", "application.submit")),
        "{who_did_what:?}"
    );
    assert!(
        who_did_what.contains(&(CLERK, "clerk", "application.read_personal_data")),
        "{who_did_what:?}"
    );
    assert!(
        who_did_what.contains(&("auditor-3", "auditor", "application.read_personal_data")),
        "{who_did_what:?}"
    );
    for entry in &entries {
        let text = format!("{entry:?}");
        assert!(!text.contains(LI.citizen_id) && !text.contains(LI.name), "{text}");
    }
}

#[tokio::test]
async fn after_loss_reports_no_database_file_or_log_line_holds_a_reporters_personal_data() {
    let app = TestApp::start().await;
    let mut clerk = app.clerk();
    let mut numbers = Vec::new();
    for person in [&LI, &WANG] {
        let report = app.report(loss_report(person)).await;
        app.review.wait_for_loss_report(&report.report_number).await;
        app.report(loss_report(person)).await;
        app.outcome(&report.report_number, pb::LossReportState::Active, "", "")
            .await
            .unwrap();
        clerk
            .revoke_loss_report(pb::RevokeLossReportRequest {
                request_id: uuid::Uuid::now_v7().to_string(),
                report_number: report.report_number.clone(),
                identity: Some(crate::support::fingerprint_matched()),
            })
            .await
            .unwrap();
        app.review.wait_for_revocation(&report.report_number).await;
        app.get_report(&mut clerk, &report.report_number).await.unwrap();
        numbers.push(report.report_number);
    }

    let stored = database_bytes(&app).await;
    let log = captured_log();

    for number in &numbers {
        assert!(contains(&stored, number.as_bytes()), "the scan sees clear columns");
    }
    assert!(log.contains("loss report taken"), "the log is captured");
    for person in [&LI, &WANG] {
        for (what, value) in [("citizen id", person.citizen_id), ("name", person.name)] {
            assert!(!contains(&stored, value.as_bytes()), "{what} in clear in the database");
            assert!(!log.contains(value), "{what} in clear in the log");
        }
    }
    assert!(
        !contains(&stored, CIRCUMSTANCE_MARK.as_bytes()),
        "circumstance in clear in the database"
    );
    assert!(!log.contains(CIRCUMSTANCE_MARK), "circumstance in clear in the log");

    let db = app.database().await;
    idcard_audit::seal_once(&db).await.unwrap();
    let verified = idcard_audit::verify(&db).await.unwrap();
    assert!(verified.entries >= 8, "{verified:?}");
}
