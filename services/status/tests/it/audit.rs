use idcard_db::on_db;
use idcard_proto::v1::CardStatus;
use sqlx::Row;

use crate::support::{CITIZEN_ID, CLERK, Card, FakeReview, TestApp};

#[tokio::test]
async fn status_changes_registrations_and_queries_are_audited_and_verifications_are_not() {
    // Arrange
    let review = FakeReview::start().await;
    let mut app = TestApp::spawn(review.addr).await;
    let card = Card::new();

    // Act
    app.publish(&card).await;
    app.publish(&card.changed(CardStatus::ReportedLost, 1_000)).await;
    app.publish(&card).await; // older: ignored, not audited
    app.verify_card(&card).await;
    app.verify_card(&card).await;
    let registered = app
        .clerk
        .register_found_card(card.found_request())
        .await
        .unwrap()
        .into_inner();
    app.query_found(CITIZEN_ID).await.unwrap();
    app.stop().await;

    // Assert
    let db = app.database().await;
    idcard_audit::seal_once(&db).await.unwrap();
    let verified = idcard_audit::verify(&db).await.unwrap();
    assert_eq!(verified.entries, 4);
    assert_eq!(verified.unsealed, 0);
    let entries: Vec<[String; 4]> = on_db!(&db, |pool| {
        sqlx::query("SELECT actor, role, action, target, detail FROM audit_log ORDER BY chain_position")
            .fetch_all(pool)
            .await
            .unwrap()
            .iter()
            .map(|row| [row.get(0), row.get(1), row.get(2), row.get(3)])
            .collect()
    });
    let card_target = format!("card:{}", card.card_id);
    let found_target = format!("found_card:{}", registered.found_card_id);
    let citizen = "citizen-002X";
    let expected = [
        ["review", "service", "card_status.publish", card_target.as_str()],
        ["review", "service", "card_status.publish", &card_target],
        [CLERK, "clerk", "found_card.register", &found_target],
        [citizen, "citizen", "found_card.query", &found_target],
    ];
    assert_eq!(entries, expected.map(|entry| entry.map(str::to_string)));
    let details: Vec<String> = on_db!(&db, |pool| {
        sqlx::query_scalar("SELECT detail FROM audit_log")
            .fetch_all(pool)
            .await
            .unwrap()
    });
    assert!(details.iter().all(|d| !d.contains(CITIZEN_ID)), "{details:?}");
    db.close().await;
}
