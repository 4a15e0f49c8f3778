//! Key rotation: records sealed under an old key stay readable, and the resealer moves
//! them to the new keys.

use std::time::Duration;

use idcard_crypto::{Keyring, Purpose, key_id_of};
use idcard_server::status::reason_codes;
use tonic::Code;

use crate::support::{LI, Options, TestApp, WANG, eventually, loss_report, replacement, stored_blob, stored_text};

const SEALED: [(&str, &str); 3] = [
    ("citizen_id_sealed", "data"),
    ("submission", "data"),
    ("fingerprints", "biometric"),
];

async fn key_ids(app: &TestApp, application_id: &str) -> Vec<String> {
    let db = app.database().await;
    let mut ids = Vec::new();
    for (column, _) in SEALED {
        let sealed = stored_blob(&db, column, application_id).await;
        ids.push(key_id_of(&sealed).unwrap().to_string());
    }
    ids
}

async fn refused_as_already_open(app: &TestApp) {
    let refused = app.clerk().submit_application(replacement(&LI)).await.unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
    assert_eq!(
        reason_codes(&refused),
        ["APPLICATION_ALREADY_OPEN"],
        "found through the blind index"
    );
}

#[tokio::test]
async fn rotation_keeps_old_records_readable_and_the_resealer_reseals_them() {
    let mut app = TestApp::start_with(Options {
        key_reload_interval: Duration::from_millis(50),
        // The resealer runs once at start; the restart below is what runs it again.
        reseal_interval: Duration::from_secs(3600),
        ..Options::default()
    })
    .await;
    let old = app.submit(replacement(&LI)).await;
    let id = old.application_id.clone();
    assert_eq!(key_ids(&app, &id).await, ["data-1", "data-1", "biometric-1"]);
    let old_index = stored_blob(&app.database().await, "citizen_id_index", &id).await;

    for purpose in [Purpose::Data, Purpose::Biometric, Purpose::Index] {
        Keyring::add_key(&app.key_file, purpose).unwrap();
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let new = app.submit(replacement(&WANG)).await;

    assert_eq!(
        key_ids(&app, &new.application_id).await,
        ["data-2", "data-2", "biometric-2"]
    );
    assert_eq!(
        key_ids(&app, &id).await,
        ["data-1", "data-1", "biometric-1"],
        "not re-sealed yet"
    );
    let read = app.get(&mut app.clerk(), &id).await.unwrap();
    assert_eq!(read.applicant.unwrap().phone, LI.phone, "readable under the old key");
    refused_as_already_open(&app).await;

    app.restart().await;
    eventually("the resealer moves the old record to the new keys", || {
        let app = &app;
        let id = id.clone();
        async move {
            let sealed_with = stored_text(&app.database().await, "sealed_with", &id).await;
            (sealed_with == "data-2 biometric-2 index-2").then_some(())
        }
    })
    .await;

    assert_eq!(key_ids(&app, &id).await, ["data-2", "data-2", "biometric-2"]);
    assert_ne!(
        stored_blob(&app.database().await, "citizen_id_index", &id).await,
        old_index,
        "re-indexed"
    );
    let read = app.get(&mut app.clerk(), &id).await.unwrap();
    let applicant = read.applicant.unwrap();
    assert_eq!(applicant.card_items.unwrap().name, LI.name);
    assert_eq!(applicant.phone, LI.phone);
    refused_as_already_open(&app).await;
}

async fn report_column(app: &TestApp, column: &str, report_number: &str) -> Vec<u8> {
    let db = app.database().await;
    let sql = format!("SELECT {column} FROM loss_reports WHERE report_number = $1");
    idcard_db::on_db!(&db, |pool| {
        sqlx::query_scalar::<_, Vec<u8>>(sqlx::AssertSqlSafe(sql.clone()))
            .bind(report_number)
            .fetch_one(pool)
            .await
            .unwrap()
    })
}

#[tokio::test]
async fn a_loss_report_sealed_under_old_keys_stays_one_report_and_is_resealed() {
    let mut app = TestApp::start_with(Options {
        key_reload_interval: Duration::from_millis(50),
        reseal_interval: Duration::from_secs(3600),
        ..Options::default()
    })
    .await;
    let number = app.report(loss_report(&LI)).await.report_number;
    let old_index = report_column(&app, "citizen_id_index", &number).await;
    assert_eq!(
        key_id_of(&report_column(&app, "name_sealed", &number).await),
        Some("data-1")
    );

    for purpose in [Purpose::Data, Purpose::Biometric, Purpose::Index] {
        Keyring::add_key(&app.key_file, purpose).unwrap();
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before_reseal = app.report(loss_report(&LI)).await;

    assert_eq!(before_reseal.report_number, number, "found through the old blind index");
    assert_eq!(
        before_reseal.citizen_id_masked, "4***************21",
        "opens under the old key"
    );

    app.restart().await;
    eventually("the resealer moves the report to the new keys", || {
        let app = &app;
        let number = number.clone();
        async move {
            let db = app.database().await;
            let sealed_with = idcard_db::on_db!(&db, |pool| {
                sqlx::query_scalar::<_, String>("SELECT sealed_with FROM loss_reports WHERE report_number = $1")
                    .bind(&number)
                    .fetch_one(pool)
                    .await
                    .unwrap()
            });
            (sealed_with == "data-2 index-2").then_some(())
        }
    })
    .await;

    for column in ["citizen_id_sealed", "name_sealed", "circumstance_sealed"] {
        let sealed = report_column(&app, column, &number).await;
        assert_eq!(key_id_of(&sealed), Some("data-2"), "{column}");
    }
    assert_ne!(
        report_column(&app, "citizen_id_index", &number).await,
        old_index,
        "re-indexed"
    );
    let after_reseal = app.report(loss_report(&LI)).await;
    assert_eq!(after_reseal.report_number, number, "found through the new blind index");
}
