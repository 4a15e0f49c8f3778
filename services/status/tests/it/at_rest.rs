use std::time::Duration;

use idcard_crypto::{Keyring, Purpose, key_id_of};
use idcard_db::{Db, on_db};
use idcard_proto::v1::{CardStatus, VerificationAnswer, VerifyCardRequest};
use sqlx::Row;
use uuid::Uuid;

use crate::support::{CITIZEN_ID, COLLECT_AT, Card, FOUND_AT, FakeReview, ISSUER, NAME, STATION, TestApp};

/// Everything the database holds, as bytes to search.
async fn database_contents(app: &TestApp) -> Vec<u8> {
    idcard_testkit::stored_bytes(app.database_url(), "cards").await
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|window| window == needle)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn no_database_file_holds_the_citizen_id_name_or_found_card_text_in_clear() {
    // Arrange
    let review = FakeReview::start().await;
    let mut app = TestApp::spawn(review.addr).await;
    let card = Card::new();

    // Act: the whole flow: publish, change, verify, register a found card (noticed to
    // the issuer, the answer stored for retries), the owner's query.
    app.publish(&card).await;
    app.publish(&card.changed(CardStatus::ReportedLost, 1_000)).await;
    assert_eq!(app.verify_card(&card).await, VerificationAnswer::ReportedLost);
    app.clerk.register_found_card(card.found_request()).await.unwrap();
    review.received.wait_for(1).await;
    assert!(app.query_found(CITIZEN_ID).await.unwrap().found);
    app.stop().await;

    // Assert
    let contents = database_contents(&app).await;
    assert!(
        contains(&contents, ISSUER.as_bytes()) && contains(&contents, STATION.as_bytes()),
        "the search sees what the tables hold in clear"
    );
    for secret in [CITIZEN_ID, NAME, FOUND_AT, COLLECT_AT] {
        assert!(!contains(&contents, secret.as_bytes()), "{secret} is stored in clear");
        assert!(
            !contains(&contents, hex(secret.as_bytes()).as_bytes()),
            "{secret} is stored in clear (hex)"
        );
    }
}

/// The data key ids of a found card's stored values: the column's and each sealed
/// value's.
async fn stored_key_ids(db: &Db, found_card_id: &str) -> [String; 3] {
    let found_card_id = Uuid::parse_str(found_card_id).unwrap();
    let (column, found_at, collect_at): (String, Vec<u8>, Vec<u8>) = on_db!(db, |pool| {
        let row = sqlx::query(
            "SELECT data_key_id, found_at_sealed, collect_at_sealed FROM found_cards WHERE found_card_id = $1",
        )
        .bind(found_card_id)
        .fetch_one(pool)
        .await
        .unwrap();
        (row.get(0), row.get(1), row.get(2))
    });
    [
        column,
        key_id_of(&found_at).unwrap().to_string(),
        key_id_of(&collect_at).unwrap().to_string(),
    ]
}

#[tokio::test]
async fn after_a_data_key_rotation_found_cards_stay_readable_and_are_resealed() {
    // Arrange
    let review = FakeReview::start().await;
    let mut app = TestApp::spawn(review.addr).await;
    let db = app.database().await;
    let request = Card::new().found_request();
    let answer = app
        .clerk
        .register_found_card(request.clone())
        .await
        .unwrap()
        .into_inner();
    let old_key = Keyring::load(&app.key_file)
        .unwrap()
        .active_key_id(Purpose::Data)
        .to_string();
    assert_eq!(
        stored_key_ids(&db, &answer.found_card_id).await,
        [0, 1, 2].map(|_| old_key.clone())
    );

    // Act
    let new_key = Keyring::add_key(&app.key_file, Purpose::Data).unwrap();

    // Assert: the service picks the key up and re-seals the old row in the background.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let stored = stored_key_ids(&db, &answer.found_card_id).await;
        if stored.iter().all(|id| *id == new_key) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "still sealed under {stored:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let found = app.query_found(CITIZEN_ID).await.unwrap();
    assert_eq!(
        (found.found_at.as_str(), found.collect_at.as_str()),
        (FOUND_AT, COLLECT_AT)
    );
    let replayed = app.clerk.register_found_card(request).await.unwrap().into_inner();
    assert_eq!(replayed, answer, "an answer stored under the old key still opens");
    db.close().await;
}

#[tokio::test]
async fn after_an_index_key_rotation_cards_still_verify_and_a_republish_rekeys_them() {
    // Arrange
    let review = FakeReview::start().await;
    let mut app = TestApp::spawn(review.addr).await;
    let card = Card::new();
    app.publish(&card).await;
    app.clerk.register_found_card(card.found_request()).await.unwrap();

    // Act
    Keyring::add_key(&app.key_file, Purpose::Index).unwrap();
    // Longer than the tests' key reload interval.
    tokio::time::sleep(Duration::from_millis(400)).await;

    // Assert
    assert_eq!(app.verify_card(&card).await, VerificationAnswer::Valid);
    assert!(app.query_found(CITIZEN_ID).await.unwrap().found);
    app.publish(&card.changed(CardStatus::ReportedLost, 1_000)).await;
    assert_eq!(app.verify_card(&card).await, VerificationAnswer::ReportedLost);
    let wrong_name = VerifyCardRequest {
        name: "王秀兰".to_string(),
        ..card.verify_request()
    };
    assert_eq!(app.verify(wrong_name).await.unwrap(), VerificationAnswer::NoMatch);
    let db = app.database().await;
    let rows: i64 = on_db!(&db, |pool| {
        sqlx::query_scalar("SELECT COUNT(*) FROM cards")
            .fetch_one(pool)
            .await
            .unwrap()
    });
    assert_eq!(rows, 1, "the republished card replaced its row");
    db.close().await;
}
