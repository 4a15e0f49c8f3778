//! A case with its pre-check findings against the household register as it is now.

use idcard_proto::v1::{ApplicationKind, ReviewServiceGetApplicationRequest};
use tonic::Code;
use uuid::Uuid;

use crate::support::{App, Person, citizen_id, codes, fields};

#[tokio::test]
async fn application_matching_the_register_has_no_findings() {
    let mut app = App::spawn().await;
    let person = Person::aged(30, 123);
    app.import(vec![person.resident()]).await;
    let application = person.application(ApplicationKind::Renewal);
    app.receive(application.clone()).await;

    let case = app.get(&application.application_id).await;

    assert!(case.register_record_found);
    assert!(case.findings.is_empty(), "{:?}", case.findings);
    assert_eq!(app.list("44").await[0].finding_count, 0);
    app.stop().await;
}

#[tokio::test]
async fn mismatching_name_is_an_identity_finding_on_the_name_field() {
    let mut app = App::spawn().await;
    let person = Person::aged(30, 123);
    app.import(vec![person.resident()]).await;
    let mut application = person.application(ApplicationKind::Renewal);
    application
        .applicant
        .as_mut()
        .unwrap()
        .card_items
        .as_mut()
        .unwrap()
        .name = "韩梅梅".to_string();
    app.receive(application.clone()).await;

    let case = app.get(&application.application_id).await;

    assert_eq!(codes(&case), ["IDENTITY_INCONSISTENT"]);
    assert_eq!(case.findings[0].field, "applicant.card_items.name");
    app.stop().await;
}

#[tokio::test]
async fn locked_record_is_a_finding() {
    let mut app = App::spawn().await;
    let person = Person::aged(30, 123);
    let mut resident = person.resident();
    resident.record_locked = true;
    app.import(vec![resident]).await;
    let application = person.application(ApplicationKind::Replacement);
    app.receive(application.clone()).await;

    let case = app.get(&application.application_id).await;

    assert_eq!(codes(&case), ["RECORD_LOCKED"]);
    app.stop().await;
}

#[tokio::test]
async fn bad_credit_is_a_finding() {
    let mut app = App::spawn().await;
    let person = Person::aged(30, 123);
    let mut resident = person.resident();
    resident.bad_credit = true;
    app.import(vec![resident]).await;
    let application = person.application(ApplicationKind::Replacement);
    app.receive(application.clone()).await;

    let case = app.get(&application.application_id).await;

    assert_eq!(codes(&case), ["BAD_CREDIT"]);
    app.stop().await;
}

#[tokio::test]
async fn same_person_registered_under_another_citizen_id_is_a_duplicate_record_finding() {
    let mut app = App::spawn().await;
    let person = Person::aged(30, 123);
    let mut twin = person.clone();
    twin.citizen_id = citizen_id("440106", person.birth, 125);
    // The same address, with white space around it.
    twin.address = format!(" {} ", person.address);
    let mut namesake = Person::aged(30, 127);
    namesake.name = person.name.clone();
    app.import(vec![person.resident(), twin.resident(), namesake.resident()])
        .await;
    let application = person.application(ApplicationKind::Renewal);
    let namesakes_application = namesake.application(ApplicationKind::Renewal);
    app.receive(application.clone()).await;
    app.receive(namesakes_application.clone()).await;

    let case = app.get(&application.application_id).await;
    let namesakes_case = app.get(&namesakes_application.application_id).await;

    assert_eq!(codes(&case), ["DUPLICATE_RECORDS"]);
    assert!(
        namesakes_case.findings.is_empty(),
        "the same name at another address is another person: {:?}",
        namesakes_case.findings
    );
    app.stop().await;
}

#[tokio::test]
async fn resident_without_any_card_is_a_first_application() {
    let mut app = App::spawn().await;
    let person = Person::aged(30, 123);
    let mut resident = person.resident();
    resident.cards.clear();
    app.import(vec![resident]).await;
    let application = person.application(ApplicationKind::Replacement);
    app.receive(application.clone()).await;

    let case = app.get(&application.application_id).await;

    assert_eq!(codes(&case), ["FIRST_APPLICATION"]);
    app.stop().await;
}

#[tokio::test]
async fn renewal_long_before_expiry_is_found_too_early() {
    let mut app = App::spawn().await;
    let person = Person::aged(30, 123);
    let mut resident = person.resident();
    let card = &mut resident.cards[0];
    let end = card.validity_end.as_mut().unwrap();
    end.year += 2;
    app.import(vec![resident]).await;
    let application = person.application(ApplicationKind::Renewal);
    app.receive(application.clone()).await;

    let case = app.get(&application.application_id).await;

    assert_eq!(codes(&case), ["RENEWAL_TOO_EARLY"]);
    app.stop().await;
}

#[tokio::test]
async fn application_without_a_register_record_says_so() {
    let mut app = App::spawn().await;
    let application = Person::aged(30, 123).application(ApplicationKind::Renewal);
    app.receive(application.clone()).await;

    let case = app.get(&application.application_id).await;

    assert!(!case.register_record_found);
    assert_eq!(codes(&case), ["NO_REGISTER_RECORD"]);
    assert_eq!(case.findings[0].field, "applicant.card_items.citizen_id");
    app.stop().await;
}

#[tokio::test]
async fn findings_follow_the_register_as_it_is_now() {
    let mut app = App::spawn().await;
    let person = Person::aged(30, 123);
    let application = person.application(ApplicationKind::Renewal);
    app.receive(application.clone()).await;

    let mut resident = person.resident();
    resident.card_items.as_mut().unwrap().domicile_address = "广东省广州市天河区另一条路9号".to_string();
    app.import(vec![resident]).await;
    let case = app.get(&application.application_id).await;

    assert!(case.register_record_found);
    assert_eq!(codes(&case), ["IDENTITY_INCONSISTENT"]);
    assert_eq!(case.findings[0].field, "applicant.card_items.domicile_address");
    app.stop().await;
}

#[tokio::test]
async fn unknown_application_is_not_found_and_a_malformed_id_is_refused() {
    let mut app = App::spawn().await;

    let unknown = app
        .review
        .get_application(ReviewServiceGetApplicationRequest {
            application_id: Uuid::now_v7().to_string(),
        })
        .await
        .unwrap_err();
    let malformed = app
        .review
        .get_application(ReviewServiceGetApplicationRequest {
            application_id: "42".to_string(),
        })
        .await
        .unwrap_err();

    assert_eq!(unknown.code(), Code::NotFound);
    assert_eq!(malformed.code(), Code::InvalidArgument);
    assert_eq!(fields(&malformed), ["application_id"]);
    app.stop().await;
}
