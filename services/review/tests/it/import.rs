//! Loading the household register: all rows or none.

use idcard_proto::v1::{ApplicationKind, ImportResidentsRequest};
use tonic::Code;
use uuid::Uuid;

use crate::support::{App, Person, codes, fields};

#[tokio::test]
async fn import_creates_then_replaces_records() {
    let mut app = App::spawn().await;
    let residents = vec![Person::aged(30, 123).resident(), Person::aged(50, 124).resident()];

    let first = app.import(residents.clone()).await;
    let second = app.import(residents).await;

    assert_eq!((first.inserted, first.updated), (2, 0));
    assert_eq!((second.inserted, second.updated), (0, 2));
    app.stop().await;
}

#[tokio::test]
async fn import_with_bad_rows_loads_nothing_and_names_every_error() {
    let mut app = App::spawn().await;
    let good = Person::aged(30, 123);
    let mut bad_id = Person::aged(31, 125).resident();
    bad_id.card_items.as_mut().unwrap().citizen_id = "44010619900101123".to_string();
    let mut bad_dates = Person::aged(32, 127).resident();
    bad_dates.card_items.as_mut().unwrap().birth_date.as_mut().unwrap().day += 1;
    bad_dates.domicile_region_code = "110103".to_string(); // retired in 2010
    bad_dates.cards[0].validity_end = None;
    let duplicate = good.resident();

    let status = app
        .review
        .import_residents(ImportResidentsRequest {
            request_id: Uuid::now_v7().to_string(),
            residents: vec![good.resident(), bad_id, bad_dates, duplicate],
        })
        .await
        .unwrap_err();

    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(
        fields(&status),
        [
            "residents[1].card_items.citizen_id",
            "residents[2].card_items.birth_date",
            "residents[2].domicile_region_code",
            "residents[2].cards[0].validity_end",
            "residents[3].card_items.citizen_id",
        ]
    );
    // The good row was not loaded either.
    let application = good.application(ApplicationKind::Renewal);
    app.receive(application.clone()).await;
    assert_eq!(
        codes(&app.get(&application.application_id).await),
        ["NO_REGISTER_RECORD"]
    );
    app.stop().await;
}

#[tokio::test]
async fn import_replayed_with_the_same_request_id_returns_the_first_answer() {
    let mut app = App::spawn().await;
    let request = ImportResidentsRequest {
        request_id: Uuid::now_v7().to_string(),
        residents: vec![Person::aged(30, 123).resident()],
    };

    let first = app.review.import_residents(request.clone()).await.unwrap().into_inner();
    let again = app.review.import_residents(request).await.unwrap().into_inner();

    assert_eq!((first.inserted, first.updated), (1, 0));
    assert_eq!(again, first);
    app.stop().await;
}

#[tokio::test]
async fn empty_import_and_missing_request_id_are_refused() {
    let mut app = App::spawn().await;

    let status = app
        .review
        .import_residents(ImportResidentsRequest {
            request_id: String::new(),
            residents: vec![],
        })
        .await
        .unwrap_err();

    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(fields(&status), ["request_id", "residents"]);
    app.stop().await;
}

#[tokio::test]
async fn card_id_of_another_residents_card_is_refused_and_nothing_is_loaded() {
    let mut app = App::spawn().await;
    let owner = Person::aged(30, 123).resident();
    app.import(vec![owner.clone()]).await;
    let newcomer = Person::aged(40, 125);
    let mut other = newcomer.resident();
    other.cards[0].card_id = owner.cards[0].card_id.clone();

    let status = app
        .review
        .import_residents(ImportResidentsRequest {
            request_id: Uuid::now_v7().to_string(),
            residents: vec![other],
        })
        .await
        .unwrap_err();

    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(fields(&status), ["residents[0].cards[0].card_id"]);
    let application = newcomer.application(ApplicationKind::Renewal);
    app.receive(application.clone()).await;
    assert_eq!(
        codes(&app.get(&application.application_id).await),
        ["NO_REGISTER_RECORD"]
    );
    app.stop().await;
}

#[tokio::test]
async fn import_of_more_than_ten_thousand_rows_is_refused() {
    let mut app = App::spawn().await;
    let resident = Person::aged(30, 123).resident();

    let status = app
        .review
        .import_residents(ImportResidentsRequest {
            request_id: Uuid::now_v7().to_string(),
            residents: vec![resident; 10_001],
        })
        .await
        .unwrap_err();

    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(fields(&status), ["residents"]);
    app.stop().await;
}

#[tokio::test]
async fn many_bad_rows_are_reported_up_to_a_limit_with_a_count_of_the_rest() {
    let mut app = App::spawn().await;
    let mut bad = Person::aged(30, 123).resident();
    bad.domicile_region_code = "999999".to_string();
    let residents: Vec<_> = (0..300)
        .map(|i| {
            let mut row = bad.clone();
            row.card_items.as_mut().unwrap().citizen_id = Person::aged(30, i).citizen_id;
            row.card_items.as_mut().unwrap().sex = Person::aged(30, i).sex.into();
            row
        })
        .collect();

    let status = app
        .review
        .import_residents(ImportResidentsRequest {
            request_id: Uuid::now_v7().to_string(),
            residents,
        })
        .await
        .unwrap_err();

    let named = fields(&status);
    assert_eq!(status.code(), Code::InvalidArgument);
    let shown = named.len() - 1;
    assert!((10..300).contains(&shown), "{shown} shown");
    assert!(
        named[..shown]
            .iter()
            .enumerate()
            .all(|(i, f)| *f == format!("residents[{i}].domicile_region_code"))
    );
    assert_eq!(named[shown], "residents");
    assert!(
        status
            .message()
            .contains(&format!("{} more errors not shown", 300 - shown))
    );
    app.stop().await;
}
