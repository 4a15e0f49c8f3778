use idcard_auth::Role;
use idcard_db::on_db;
use idcard_proto::v1::{GetJobRequest, ListJobsRequest, get_job_request};
use sqlx::Row;

use crate::support::{CENTRE, FakeAcceptance, OPERATOR, TestApp};

#[tokio::test]
async fn every_change_and_every_read_is_audited_and_the_chain_verifies() {
    // Arrange
    let acceptance = FakeAcceptance::start().await;
    let mut app = TestApp::spawn(acceptance.addr).await;
    let mut auditor = app.production_as("auditor-1", Role::Auditor, &[]);

    // Act
    let job = app.job_for_new_order().await;
    app.check(&job.job_id, false, &["name misprinted"]).await.unwrap();
    app.check(&job.job_id, true, &[]).await.unwrap();
    app.dispatch(&job.job_id, "SF1234567890").await.unwrap();
    auditor.list_jobs(ListJobsRequest::default()).await.unwrap();
    auditor
        .get_job(GetJobRequest {
            key: Some(get_job_request::Key::JobId(job.job_id.clone())),
        })
        .await
        .unwrap();

    // Assert
    let db = app.database().await;
    idcard_audit::seal_once(&db).await.unwrap();
    let verified = idcard_audit::verify(&db).await.unwrap();
    assert_eq!(verified.entries, 7);
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
    let target = format!("production_job:{}", job.job_id);
    let expected = [
        ["review", "service", "production_job.create", target.as_str()],
        [OPERATOR, "production_operator", "production_job.read", &target],
        [OPERATOR, "production_operator", "production_job.quality_check", &target],
        [OPERATOR, "production_operator", "production_job.quality_check", &target],
        [OPERATOR, "production_operator", "production_job.dispatch", &target],
        [
            "auditor-1",
            "auditor",
            "production_job.list",
            &format!("production_centre:{CENTRE}"),
        ],
        ["auditor-1", "auditor", "production_job.read", &target],
    ];
    assert_eq!(entries, expected.map(|entry| entry.map(str::to_string)));
    db.close().await;
}
