//! Key rotation: records sealed under an old key stay readable, and the resealer moves
//! them to the new keys.

use std::time::Duration;

use idcard_crypto::{Keyring, Purpose, key_id_of};
use idcard_server::status::reason_codes;
use tonic::Code;

use crate::support::{LI, Options, TestApp, WANG, eventually, replacement, stored_blob, stored_text};

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
