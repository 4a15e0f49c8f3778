//! The statutory clock at the production centre: jobs not yet dispatched past (or near)
//! their 30-day limit in `ListOverdue`.
//!
//! The service reads the calendar itself, so a test makes a job late the honest way: it
//! moves the stored production due date in the test's own database.

use idcard_auth::Role;
use idcard_db::{Db, on_db};
use idcard_proto::v1::{DeadlineStage, JobState, OverdueJob, ProductionServiceListOverdueRequest};
use idcard_server::wire::{date_to_text, date_to_wire, today_cst};
use time::{Date, Duration};
use tonic::Code;
use uuid::Uuid;

use crate::support::{ACCEPTANCE_POINT, CENTRE, FakeAcceptance, TestApp};

fn within(days: i32) -> ProductionServiceListOverdueRequest {
    ProductionServiceListOverdueRequest {
        due_within_days: days,
        ..Default::default()
    }
}

fn ids(jobs: &[OverdueJob]) -> Vec<&str> {
    jobs.iter().map(|j| j.job_id.as_str()).collect()
}

/// Moves the stored production due date of a job, as if its order had come earlier.
async fn set_due_date(db: &Db, job_id: &str, due: Date) {
    let id: Uuid = job_id.parse().unwrap();
    on_db!(db, |pool| {
        sqlx::query("UPDATE jobs SET production_due_date = $1 WHERE job_id = $2")
            .bind(date_to_text(due))
            .bind(id)
            .execute(pool)
            .await
            .unwrap()
            .rows_affected()
    });
}

async fn list(app: &mut TestApp, request: ProductionServiceListOverdueRequest) -> Vec<OverdueJob> {
    app.production.list_overdue(request).await.unwrap().into_inner().jobs
}

#[tokio::test]
async fn an_undispatched_job_past_its_limit_is_overdue_and_a_dispatched_one_is_not() {
    // Arrange
    let acceptance = FakeAcceptance::start().await;
    let mut app = TestApp::spawn(acceptance.addr).await;
    let late = app.job_for_new_order().await;
    let passed_late = app.job_for_new_order().await;
    let dispatched_late = app.job_for_new_order().await;
    let near = app.job_for_new_order().await;
    let fresh = app.job_for_new_order().await;
    app.check(&passed_late.job_id, true, &[]).await.unwrap();
    app.check(&dispatched_late.job_id, true, &[]).await.unwrap();
    app.dispatch(&dispatched_late.job_id, "EMS-1").await.unwrap();
    let today = today_cst();
    let db = app.database().await;
    set_due_date(&db, &late.job_id, today - Duration::days(6)).await;
    set_due_date(&db, &passed_late.job_id, today - Duration::days(1)).await;
    set_due_date(&db, &dispatched_late.job_id, today - Duration::days(8)).await;
    set_due_date(&db, &near.job_id, today).await;
    db.close().await;

    // Act
    let overdue = list(&mut app, within(0)).await;
    let due_today = list(&mut app, within(1)).await;
    let within_a_month = list(&mut app, within(31)).await;

    // Assert
    assert_eq!(ids(&overdue), [late.job_id.as_str(), passed_late.job_id.as_str()]);
    let job = &overdue[0];
    assert_eq!(job.application_id, late.application_id);
    assert_eq!(job.receipt_number, late.receipt_number);
    assert_eq!(job.acceptance_point_code, ACCEPTANCE_POINT);
    assert_eq!(job.state(), JobState::InProduction);
    assert_eq!(overdue[1].state(), JobState::Passed);
    let deadline = job.deadline.as_ref().unwrap();
    assert_eq!(deadline.stage(), DeadlineStage::Production);
    assert_eq!(deadline.days_overdue, 6);
    assert_eq!(deadline.due_date, Some(date_to_wire(today - Duration::days(6))));
    assert_eq!(
        ids(&due_today),
        [late.job_id.as_str(), passed_late.job_id.as_str(), near.job_id.as_str()]
    );
    assert_eq!(due_today[2].deadline.as_ref().unwrap().days_overdue, 0);
    assert!(ids(&within_a_month).contains(&fresh.job_id.as_str()));
    assert!(!ids(&within_a_month).contains(&dispatched_late.job_id.as_str()));
}

#[tokio::test]
async fn overdue_jobs_are_filtered_by_acceptance_point_and_scoped_to_the_centre() {
    // Arrange
    let acceptance = FakeAcceptance::start().await;
    let mut app = TestApp::spawn(acceptance.addr).await;
    let late = app.job_for_new_order().await;
    let db = app.database().await;
    set_due_date(&db, &late.job_id, today_cst() - Duration::days(2)).await;
    db.close().await;
    let mut other_centre = app.production_as("operator-9", Role::ProductionOperator, &["another-centre"]);
    let mut auditor = app.production_as("auditor-1", Role::Auditor, &[]);

    // Act
    let same_point = list(
        &mut app,
        ProductionServiceListOverdueRequest {
            acceptance_point_code: ACCEPTANCE_POINT.into(),
            ..Default::default()
        },
    )
    .await;
    let other_point = list(
        &mut app,
        ProductionServiceListOverdueRequest {
            acceptance_point_code: "110105-09".into(),
            ..Default::default()
        },
    )
    .await;
    let refused = other_centre.list_overdue(within(0)).await.unwrap_err();
    let audited = auditor.list_overdue(within(0)).await.unwrap().into_inner().jobs;

    // Assert
    assert_eq!(ids(&same_point), [late.job_id.as_str()]);
    assert!(other_point.is_empty());
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
    assert!(refused.message().contains(CENTRE), "{refused:?}");
    assert_eq!(ids(&audited), [late.job_id.as_str()]);
}

#[tokio::test]
async fn overdue_jobs_page_earliest_due_first() {
    let acceptance = FakeAcceptance::start().await;
    let mut app = TestApp::spawn(acceptance.addr).await;
    let db = app.database().await;
    let mut jobs = Vec::new();
    for days_late in [1, 5, 3] {
        let job = app.job_for_new_order().await;
        set_due_date(&db, &job.job_id, today_cst() - Duration::days(days_late)).await;
        jobs.push(job.job_id);
    }
    db.close().await;

    let first = app
        .production
        .list_overdue(ProductionServiceListOverdueRequest {
            page_size: 2,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let second = app
        .production
        .list_overdue(ProductionServiceListOverdueRequest {
            page_size: 2,
            page_token: first.next_page_token.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();

    assert_eq!(ids(&first.jobs), [jobs[1].as_str(), jobs[2].as_str()]);
    assert_eq!(ids(&second.jobs), [jobs[0].as_str()]);
    assert!(second.next_page_token.is_empty());
}
