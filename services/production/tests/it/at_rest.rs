use std::time::Duration;

use idcard_crypto::{Keyring, Purpose, key_id_of};
use idcard_db::{Db, on_db};
use sqlx::Row;
use uuid::Uuid;

use crate::support::{ADDRESS, CITIZEN_ID, FakeAcceptance, NAME, PHOTO_MARK, TestApp, check_request};

/// Everything the database holds, as bytes to search.
async fn database_contents(app: &TestApp) -> Vec<u8> {
    idcard_testkit::stored_bytes(app.database_url(), "jobs").await
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|window| window == needle)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn no_database_file_holds_personal_data_in_clear_after_an_order_is_worked() {
    // Arrange
    let acceptance = FakeAcceptance::start().await;
    let mut app = TestApp::spawn(acceptance.addr).await;

    // Act: the whole flow, each answer stored for retries and each report queued.
    let job = app.job_for_new_order().await;
    app.check(&job.job_id, false, &["chip unreadable"]).await.unwrap();
    app.check(&job.job_id, true, &[]).await.unwrap();
    app.dispatch(&job.job_id, "SF1234567890").await.unwrap();
    acceptance.received.wait_for(4).await;

    // Assert
    let contents = database_contents(&app).await;
    assert!(
        contains(&contents, job.receipt_number.as_bytes()),
        "the search sees what the jobs table holds in clear"
    );
    for secret in [CITIZEN_ID.as_bytes(), NAME.as_bytes(), ADDRESS.as_bytes(), PHOTO_MARK] {
        let shown = String::from_utf8_lossy(secret);
        assert!(!contains(&contents, secret), "{shown} is stored in clear");
        assert!(
            !contains(&contents, hex(secret).as_bytes()),
            "{shown} is stored in clear (hex)"
        );
    }
}

/// The data key ids of a job's stored values: the column, the sealed citizen id's and
/// the sealed order's.
async fn stored_key_ids(db: &Db, job_id: &str) -> [String; 3] {
    let job_id = Uuid::parse_str(job_id).unwrap();
    let (column, citizen_id, order): (String, Vec<u8>, Vec<u8>) = on_db!(db, |pool| {
        let row = sqlx::query("SELECT data_key_id, citizen_id_sealed, order_data FROM jobs WHERE job_id = $1")
            .bind(job_id)
            .fetch_one(pool)
            .await
            .unwrap();
        (row.get(0), row.get(1), row.get(2))
    });
    [
        column,
        key_id_of(&citizen_id).unwrap().to_string(),
        key_id_of(&order).unwrap().to_string(),
    ]
}

#[tokio::test]
async fn after_a_key_rotation_records_stay_readable_and_are_resealed_under_the_new_key() {
    // Arrange
    let acceptance = FakeAcceptance::start().await;
    let mut app = TestApp::spawn(acceptance.addr).await;
    let db = app.database().await;
    let job = app.job_for_new_order().await;
    let check = check_request(&job.job_id, false, &["chip unreadable"]);
    let answer = app
        .production
        .record_quality_check(check.clone())
        .await
        .unwrap()
        .into_inner();
    let old_key = Keyring::load(&app.key_file)
        .unwrap()
        .active_key_id(Purpose::Data)
        .to_string();
    assert_eq!(
        stored_key_ids(&db, &job.job_id).await,
        [0, 1, 2].map(|_| old_key.clone())
    );

    // Act
    let new_key = Keyring::add_key(&app.key_file, Purpose::Data).unwrap();

    // Assert: the service picks the key up and re-seals the old job in the background.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let stored = stored_key_ids(&db, &job.job_id).await;
        if stored.iter().all(|id| *id == new_key) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "still sealed under {stored:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let reread = app.job_of_application(&job.application_id).await;
    assert_eq!(reread.citizen_id_masked, job.citizen_id_masked);
    assert_eq!(reread.issuance, job.issuance);
    let replayed = app.production.record_quality_check(check).await.unwrap().into_inner();
    assert_eq!(replayed, answer, "an answer stored under the old key still opens");
    let later = app.job_for_new_order().await;
    assert_eq!(
        stored_key_ids(&db, &later.job_id).await,
        [0, 1, 2].map(|_| new_key.clone())
    );
    db.close().await;
}
