//! The statutory clock at the acceptance point: open applications past (or near) their
//! 60-day limit in `ListOverdue`, scoped to the clerk's points, and the one extension of
//! the limit for an area with poor transport.
//!
//! The service reads the calendar itself, so a test makes an application late the honest
//! way: it moves the stored due date in the test's own database.

use idcard_auth::Role;
use idcard_db::{Db, on_db};
use idcard_proto::v1 as pb;
use idcard_server::status::{reason_codes, violated_fields};
use idcard_server::wire::{date_from_wire, date_to_text, date_to_wire, today_cst};
use time::{Date, Duration};
use tonic::Code;

use crate::support::{
    CLERK, Client, LI, OTHER_POINT, POINT, Person, TestApp, audit_entries, eventually, replacement, token,
};

/// More applicants of Guangzhou (the sequence's parity gives the sex).
const ZHAO: Person = Person {
    citizen_id: "440106198501010031",
    name: "赵一",
    sex: pb::Sex::Male,
    birth: (1985, 1, 1),
    address: "广东省广州市天河区天河路2号",
    domicile: "440106",
    phone: "13900000031",
};

const QIAN: Person = Person {
    citizen_id: "440106198501010058",
    name: "钱二",
    sex: pb::Sex::Male,
    birth: (1985, 1, 1),
    address: "广东省广州市天河区天河路3号",
    domicile: "440106",
    phone: "13900000058",
};

const REASON: &str = "山区乡镇道路因塌方中断，制证寄送需绕行";

fn extend(application_id: &str, reason: &str) -> pb::ExtendApplicationDeadlineRequest {
    pb::ExtendApplicationDeadlineRequest {
        request_id: uuid::Uuid::now_v7().to_string(),
        application_id: application_id.to_string(),
        reason: reason.to_string(),
        clerk: String::new(),
    }
}

fn overdue_within(days: i32) -> pb::AcceptanceServiceListOverdueRequest {
    pb::AcceptanceServiceListOverdueRequest {
        due_within_days: days,
        ..Default::default()
    }
}

async fn list(client: &mut Client, request: pb::AcceptanceServiceListOverdueRequest) -> Vec<pb::OverdueApplication> {
    client.list_overdue(request).await.unwrap().into_inner().applications
}

fn ids(listed: &[pb::OverdueApplication]) -> Vec<&str> {
    listed.iter().map(|a| a.application_id.as_str()).collect()
}

/// Moves the stored due date of an application, as if it had been accepted earlier.
async fn set_due_date(db: &Db, application_id: &str, due: Date) {
    let id: uuid::Uuid = application_id.parse().unwrap();
    on_db!(db, |pool| {
        sqlx::query("UPDATE applications SET due_date = $1 WHERE application_id = $2")
            .bind(date_to_text(due))
            .bind(id)
            .execute(pool)
            .await
            .unwrap()
            .rows_affected()
    });
}

fn due_date(application: &pb::Application) -> Date {
    date_from_wire("due_date", application.due_date.as_ref()).unwrap()
}

#[tokio::test]
async fn an_application_past_its_limit_is_overdue_and_one_near_it_shows_only_within_the_window() {
    // Arrange
    let app = TestApp::start().await;
    let late = app.submit(replacement(&LI)).await;
    let near = app.submit(replacement(&ZHAO)).await;
    let on_time = app.submit(replacement(&QIAN)).await;
    let today = today_cst();
    let db = app.database().await;
    set_due_date(&db, &late.application_id, today - Duration::days(3)).await;
    set_due_date(&db, &near.application_id, today + Duration::days(1)).await;
    let mut clerk = app.clerk();

    // Act
    let overdue = list(&mut clerk, overdue_within(0)).await;
    let within_one_day = list(&mut clerk, overdue_within(1)).await;
    let within_two_days = list(&mut clerk, overdue_within(2)).await;

    // Assert
    assert_eq!(ids(&overdue), [late.application_id.as_str()]);
    let row = &overdue[0];
    assert_eq!(row.receipt_number, late.receipt_number);
    assert_eq!(row.acceptance_point_code, POINT);
    // Delivered to the domicile meanwhile, or not yet.
    assert!(
        matches!(
            row.state(),
            pb::ApplicationState::Submitted | pb::ApplicationState::UnderReview
        ),
        "{row:?}"
    );
    assert_eq!(row.extension, None);
    let deadline = row.deadline.as_ref().unwrap();
    assert_eq!(deadline.stage(), pb::DeadlineStage::Application);
    assert_eq!(deadline.days_overdue, 3);
    assert_eq!(deadline.due_date, Some(date_to_wire(today - Duration::days(3))));
    // Due tomorrow: inside a two-day window (today and tomorrow), not a one-day one.
    assert_eq!(ids(&within_one_day), [late.application_id.as_str()]);
    assert_eq!(
        ids(&within_two_days),
        [late.application_id.as_str(), near.application_id.as_str()]
    );
    assert_eq!(within_two_days[1].deadline.as_ref().unwrap().days_overdue, -1);
    assert!(
        list(&mut clerk, overdue_within(366))
            .await
            .iter()
            .any(|a| a.application_id == on_time.application_id),
        "a 366-day window reaches the 60-day limit"
    );
}

#[tokio::test]
async fn overdue_list_is_scoped_to_the_clerks_points_and_pages_earliest_due_first() {
    // Arrange
    let app = TestApp::start().await;
    let here_late = app.submit(replacement(&LI)).await;
    let here_later = app.submit(replacement(&ZHAO)).await;
    let mut other_clerk = app.client(Some(&token("clerk-9", Role::Clerk, &[OTHER_POINT])));
    let mut elsewhere = replacement(&QIAN);
    elsewhere.acceptance_point_code = OTHER_POINT.into();
    let elsewhere = other_clerk
        .submit_application(elsewhere)
        .await
        .unwrap()
        .into_inner()
        .application
        .unwrap();
    let today = today_cst();
    let db = app.database().await;
    set_due_date(&db, &here_late.application_id, today - Duration::days(9)).await;
    set_due_date(&db, &here_later.application_id, today - Duration::days(2)).await;
    set_due_date(&db, &elsewhere.application_id, today - Duration::days(5)).await;
    let mut clerk = app.clerk();
    let mut auditor = app.client(Some(&token("auditor-1", Role::Auditor, &[])));

    // Act
    let first = clerk
        .list_overdue(pb::AcceptanceServiceListOverdueRequest {
            page_size: 1,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let second = clerk
        .list_overdue(pb::AcceptanceServiceListOverdueRequest {
            page_size: 1,
            page_token: first.next_page_token.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let foreign_point = clerk
        .list_overdue(pb::AcceptanceServiceListOverdueRequest {
            acceptance_point_code: OTHER_POINT.into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    let everywhere = list(&mut auditor, overdue_within(0)).await;
    let one_point = list(
        &mut auditor,
        pb::AcceptanceServiceListOverdueRequest {
            acceptance_point_code: OTHER_POINT.into(),
            ..Default::default()
        },
    )
    .await;

    // Assert
    assert_eq!(ids(&first.applications), [here_late.application_id.as_str()]);
    assert!(!first.next_page_token.is_empty());
    assert_eq!(ids(&second.applications), [here_later.application_id.as_str()]);
    assert!(second.next_page_token.is_empty());
    assert_eq!(foreign_point.code(), Code::PermissionDenied, "{foreign_point:?}");
    assert_eq!(
        ids(&everywhere),
        [
            here_late.application_id.as_str(),
            elsewhere.application_id.as_str(),
            here_later.application_id.as_str()
        ]
    );
    assert_eq!(ids(&one_point), [elsewhere.application_id.as_str()]);
}

#[tokio::test]
async fn extension_adds_thirty_days_with_its_reason_in_the_application_history_and_audit_log() {
    // Arrange
    let app = TestApp::start().await;
    let submitted = app.submit(replacement(&LI)).await;
    let mut clerk = app.clerk();

    // Act
    let extended = clerk
        .extend_application_deadline(extend(&submitted.application_id, REASON))
        .await
        .unwrap()
        .into_inner()
        .application
        .unwrap();
    let read = app.get(&mut clerk, &submitted.application_id).await.unwrap();

    // Assert
    assert_eq!(due_date(&extended), due_date(&submitted) + Duration::days(30));
    let extension = extended.deadline_extension.clone().unwrap();
    assert_eq!(extension.previous_due_date, submitted.due_date);
    assert_eq!(extension.days, 30);
    assert_eq!(extension.reason, REASON);
    assert_eq!(extension.extended_by, CLERK);
    assert!(extension.extended_at.is_some());
    assert_eq!(read.due_date, extended.due_date);
    assert_eq!(read.deadline_extension, Some(extension));
    // The history line is in the state the application was in (the relay may have
    // delivered it to the domicile meanwhile).
    let line = extended
        .history
        .iter()
        .find(|e| e.note.contains("deadline extended"))
        .unwrap();
    assert_eq!(line.actor, CLERK);
    assert!(line.note.contains(REASON), "{line:?}");
    let audit = audit_entries(&app.database().await, &submitted.application_id).await;
    let entry = audit
        .iter()
        .find(|e| e.action == "application.extend_deadline")
        .unwrap();
    assert_eq!(entry.actor, CLERK);
    assert!(
        !entry.detail.contains(REASON),
        "the audit entry holds dates only: {entry:?}"
    );
    // The list shows the extension and why.
    let listed = list(&mut clerk, overdue_within(366)).await;
    let row = listed
        .iter()
        .find(|a| a.application_id == submitted.application_id)
        .unwrap();
    assert_eq!(row.extension.as_ref().unwrap().reason, REASON);
    assert_eq!(row.deadline.as_ref().unwrap().due_date, extended.due_date);
}

#[tokio::test]
async fn a_second_extension_is_refused_and_a_repeated_request_returns_the_first_answer() {
    // Arrange
    let app = TestApp::start().await;
    let submitted = app.submit(replacement(&LI)).await;
    let mut clerk = app.clerk();
    let request = extend(&submitted.application_id, REASON);
    let first = clerk
        .extend_application_deadline(request.clone())
        .await
        .unwrap()
        .into_inner();

    // Act
    let repeated = clerk.extend_application_deadline(request).await.unwrap().into_inner();
    let second = clerk
        .extend_application_deadline(extend(&submitted.application_id, "又一次"))
        .await
        .unwrap_err();

    // Assert
    assert_eq!(repeated, first);
    assert_eq!(second.code(), Code::FailedPrecondition, "{second:?}");
    assert_eq!(reason_codes(&second), ["DEADLINE_ALREADY_EXTENDED"]);
    let read = app.get(&mut clerk, &submitted.application_id).await.unwrap();
    assert_eq!(
        due_date(&read),
        due_date(&submitted) + Duration::days(30),
        "extended once only"
    );
}

#[tokio::test]
async fn an_extension_without_a_reason_is_invalid_and_names_the_field() {
    let app = TestApp::start().await;
    let submitted = app.submit(replacement(&LI)).await;
    let mut clerk = app.clerk();

    let empty = clerk
        .extend_application_deadline(extend(&submitted.application_id, "  "))
        .await
        .unwrap_err();
    let too_long = clerk
        .extend_application_deadline(extend(&submitted.application_id, &"路".repeat(501)))
        .await
        .unwrap_err();
    let mut bad_id = extend("not-a-uuid", "");
    bad_id.request_id = String::new();
    let everything_wrong = clerk.extend_application_deadline(bad_id).await.unwrap_err();

    assert_eq!(empty.code(), Code::InvalidArgument, "{empty:?}");
    assert_eq!(violated_fields(&empty), ["reason"]);
    assert_eq!(violated_fields(&too_long), ["reason"]);
    assert_eq!(
        violated_fields(&everything_wrong),
        ["request_id", "application_id", "reason"]
    );
    let read = app.get(&mut clerk, &submitted.application_id).await.unwrap();
    assert_eq!(read.due_date, submitted.due_date, "nothing changed");
}

#[tokio::test]
async fn a_closed_or_already_late_application_and_another_points_one_are_not_extended() {
    // Arrange
    let app = TestApp::start().await;
    let rejected = app.submit(replacement(&LI)).await;
    let late = app.submit(replacement(&ZHAO)).await;
    app.under_review(&rejected.application_id).await;
    app.decide(
        &rejected.application_id,
        pb::receive_decision_request::Decision::Rejection(pb::Rejection {
            reasons: vec![pb::RejectionReason {
                code: "RECORD_LOCKED".into(),
                detail: "户籍信息锁定".into(),
            }],
            contact: None,
        }),
    )
    .await;
    eventually("the application is rejected", || async {
        let current = app.get(&mut app.clerk(), &rejected.application_id).await.unwrap();
        (current.state() == pb::ApplicationState::Rejected).then_some(())
    })
    .await;
    set_due_date(
        &app.database().await,
        &late.application_id,
        today_cst() - Duration::days(1),
    )
    .await;
    let mut clerk = app.clerk();
    let mut other_clerk = app.client(Some(&token("clerk-9", Role::Clerk, &[OTHER_POINT])));

    // Act
    let closed = clerk
        .extend_application_deadline(extend(&rejected.application_id, REASON))
        .await
        .unwrap_err();
    let passed = clerk
        .extend_application_deadline(extend(&late.application_id, REASON))
        .await
        .unwrap_err();
    let foreign = other_clerk
        .extend_application_deadline(extend(&late.application_id, REASON))
        .await
        .unwrap_err();

    // Assert
    assert_eq!(reason_codes(&closed), ["APPLICATION_CLOSED"]);
    assert_eq!(reason_codes(&passed), ["DEADLINE_PASSED"]);
    assert_eq!(foreign.code(), Code::NotFound, "{foreign:?}");
    // A rejected application is closed: it is not overdue either.
    let overdue = list(&mut clerk, overdue_within(0)).await;
    assert_eq!(ids(&overdue), [late.application_id.as_str()]);
}

#[tokio::test]
async fn malformed_list_requests_name_their_fields() {
    let app = TestApp::start().await;
    let mut clerk = app.clerk();

    let status = clerk
        .list_overdue(pb::AcceptanceServiceListOverdueRequest {
            acceptance_point_code: "not a point".into(),
            due_within_days: -1,
            page_size: -1,
            page_token: "12".into(),
        })
        .await
        .unwrap_err();

    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert_eq!(
        violated_fields(&status),
        ["acceptance_point_code", "due_within_days", "page_size", "page_token"]
    );
}
