//! The statutory clock at the domicile bureau: pending cases past (or near) their 5-day
//! review limit in `ListOverdue`, scoped to the reviewer's jurisdictions.
//!
//! The service reads the calendar itself, so a test makes a case late the honest way: it
//! moves the stored review due date in the test's own database.

use idcard_auth::Role;
use idcard_db::{Db, on_db};
use idcard_proto::v1::{
    ApplicationKind, ApproveApplicationRequest, DeadlineStage, OverdueReviewCase, ReviewServiceListOverdueRequest,
    ReviewState,
};
use idcard_server::wire::{date_to_text, date_to_wire, today_cst};
use time::{Date, Duration};
use tonic::Code;
use uuid::Uuid;

use crate::support::{App, Authed, Person, fields};

type Client = idcard_proto::v1::review_service_client::ReviewServiceClient<Authed>;

fn within(days: i32) -> ReviewServiceListOverdueRequest {
    ReviewServiceListOverdueRequest {
        due_within_days: days,
        ..Default::default()
    }
}

async fn list(client: &mut Client, request: ReviewServiceListOverdueRequest) -> Vec<OverdueReviewCase> {
    client.list_overdue(request).await.unwrap().into_inner().cases
}

fn ids(cases: &[OverdueReviewCase]) -> Vec<&str> {
    cases.iter().map(|c| c.application_id.as_str()).collect()
}

/// Moves the stored review due date of a case, as if it had arrived earlier.
async fn set_review_due_date(db: &Db, application_id: &str, due: Date) {
    let id: Uuid = application_id.parse().unwrap();
    on_db!(db, |pool| {
        sqlx::query("UPDATE review_cases SET review_due_date = $1 WHERE application_id = $2")
            .bind(date_to_text(due))
            .bind(id)
            .execute(pool)
            .await
            .unwrap()
            .rows_affected()
    });
}

#[tokio::test]
async fn an_application_past_its_review_deadline_is_overdue_and_one_near_it_only_within_the_window() {
    // Arrange
    let mut app = App::spawn().await;
    let late = Person::aged(30, 101).application(ApplicationKind::Renewal);
    let near = Person::aged(30, 103).application(ApplicationKind::Renewal);
    let fresh = Person::aged(30, 105).application(ApplicationKind::Renewal);
    for application in [&late, &near, &fresh] {
        app.receive(application.clone()).await;
    }
    let today = today_cst();
    let db = app.database().await;
    set_review_due_date(&db, &late.application_id, today - Duration::days(2)).await;
    set_review_due_date(&db, &near.application_id, today + Duration::days(1)).await;
    db.close().await;

    // Act
    let overdue = list(&mut app.review, within(0)).await;
    let within_one_day = list(&mut app.review, within(1)).await;
    let within_two_days = list(&mut app.review, within(2)).await;
    let within_a_week = list(&mut app.review, within(7)).await;

    // Assert
    assert_eq!(ids(&overdue), [late.application_id.as_str()]);
    let case = &overdue[0];
    assert_eq!(case.receipt_number, late.receipt_number);
    assert_eq!(case.state(), ReviewState::Pending);
    assert_eq!(case.domicile_region_code, "440106");
    assert_eq!(case.acceptance_point_code, late.acceptance_point_code);
    let deadline = case.deadline.as_ref().unwrap();
    assert_eq!(deadline.stage(), DeadlineStage::Review);
    assert_eq!(deadline.days_overdue, 2);
    assert_eq!(deadline.due_date, Some(date_to_wire(today - Duration::days(2))));
    assert_eq!(ids(&within_one_day), [late.application_id.as_str()]);
    assert_eq!(
        ids(&within_two_days),
        [late.application_id.as_str(), near.application_id.as_str()]
    );
    assert_eq!(within_two_days[1].deadline.as_ref().unwrap().days_overdue, -1);
    // A case received today is due in 5 days.
    assert_eq!(
        ids(&within_a_week),
        [
            late.application_id.as_str(),
            near.application_id.as_str(),
            fresh.application_id.as_str()
        ]
    );
    assert_eq!(within_a_week[2].deadline.as_ref().unwrap().days_overdue, -5);
    app.stop().await;
}

#[tokio::test]
async fn another_jurisdictions_reviewer_does_not_see_a_late_case() {
    // Arrange
    let mut app = App::spawn().await;
    let guangzhou = Person::aged(30, 111).application(ApplicationKind::Renewal);
    let beijing = Person::aged(30, 113).in_beijing().application(ApplicationKind::Renewal);
    app.receive(guangzhou.clone()).await;
    app.receive(beijing.clone()).await;
    let db = app.database().await;
    for application in [&guangzhou, &beijing] {
        set_review_due_date(&db, &application.application_id, today_cst() - Duration::days(1)).await;
    }
    db.close().await;
    let mut beijing_reviewer = app.review_as("reviewer-bj", Role::Reviewer, &["11"]);
    let mut auditor = app.review_as("auditor-1", Role::Auditor, &[]);

    // Act
    let seen_in_guangdong = list(&mut app.review, within(0)).await;
    let seen_in_beijing = list(&mut beijing_reviewer, within(0)).await;
    let named_outside = beijing_reviewer
        .list_overdue(ReviewServiceListOverdueRequest {
            jurisdiction_code: "44".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    let named_inside = list(
        &mut app.review,
        ReviewServiceListOverdueRequest {
            jurisdiction_code: "4402".into(),
            ..Default::default()
        },
    )
    .await;
    let seen_by_auditor = list(&mut auditor, within(0)).await;

    // Assert
    assert_eq!(ids(&seen_in_guangdong), [guangzhou.application_id.as_str()]);
    assert_eq!(ids(&seen_in_beijing), [beijing.application_id.as_str()]);
    assert_eq!(named_outside.code(), Code::PermissionDenied, "{named_outside:?}");
    assert!(
        named_inside.is_empty(),
        "another prefecture of Guangdong: {named_inside:?}"
    );
    assert_eq!(seen_by_auditor.len(), 2);
    app.stop().await;
}

#[tokio::test]
async fn a_decided_case_is_no_longer_overdue() {
    let mut app = App::spawn().await;
    let application = Person::aged(30, 121).application(ApplicationKind::Renewal);
    app.receive(application.clone()).await;
    let db = app.database().await;
    set_review_due_date(&db, &application.application_id, today_cst() - Duration::days(3)).await;
    db.close().await;
    assert_eq!(list(&mut app.review, within(0)).await.len(), 1);

    app.review
        .approve_application(ApproveApplicationRequest {
            request_id: Uuid::now_v7().to_string(),
            application_id: application.application_id.clone(),
            reviewer: String::new(),
            note: String::new(),
        })
        .await
        .unwrap();

    assert!(list(&mut app.review, within(0)).await.is_empty());
    app.stop().await;
}

#[tokio::test]
async fn overdue_list_pages_and_refuses_malformed_requests() {
    let mut app = App::spawn().await;
    let mut received = Vec::new();
    for (days_late, sequence) in [(4, 131), (2, 133), (3, 135)] {
        let application = Person::aged(30, sequence).application(ApplicationKind::Renewal);
        app.receive(application.clone()).await;
        let db = app.database().await;
        set_review_due_date(
            &db,
            &application.application_id,
            today_cst() - Duration::days(days_late),
        )
        .await;
        db.close().await;
        received.push(application.application_id);
    }

    let first = app
        .review
        .list_overdue(ReviewServiceListOverdueRequest {
            page_size: 2,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let second = app
        .review
        .list_overdue(ReviewServiceListOverdueRequest {
            page_size: 2,
            page_token: first.next_page_token.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let malformed = app
        .review
        .list_overdue(ReviewServiceListOverdueRequest {
            jurisdiction_code: "4a".into(),
            due_within_days: 400,
            page_size: 0,
            page_token: "nope".into(),
        })
        .await
        .unwrap_err();

    // Most overdue first: 4, 3, then 2 days late.
    assert_eq!(ids(&first.cases), [received[0].as_str(), received[2].as_str()]);
    assert_eq!(ids(&second.cases), [received[1].as_str()]);
    assert!(second.next_page_token.is_empty());
    assert_eq!(malformed.code(), Code::InvalidArgument);
    assert_eq!(
        fields(&malformed),
        ["jurisdiction_code", "due_within_days", "page_token"]
    );
    app.stop().await;
}
