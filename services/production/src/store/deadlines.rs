//! The statutory clock of production jobs: jobs not yet dispatched by their 30-day
//! production due date, and the counts behind the deadline gauges. Nothing here is
//! sealed or opened: ids, receipt numbers, point codes and dates only.

use idcard_db::{Db, DbError, Tx, on_db, on_tx};
use idcard_server::deadline::{Counts, Cursor, Window};
use uuid::Uuid;

use crate::job::JobState;

/// A job not yet dispatched, against its production due date.
pub struct DueJob {
    pub seq: i64,
    pub job_id: Uuid,
    pub application_id: Uuid,
    pub receipt_number: String,
    pub state: JobState,
    pub acceptance_point_code: String,
    /// As stored (`YYYY-MM-DD`).
    pub due_text: String,
}

type DueColumns = (i64, Uuid, Uuid, String, String, String, String);

/// Up to `limit` jobs not yet dispatched (of one acceptance point, if given) due before
/// `window.until`, earliest due first, after `after`.
pub async fn list_due(
    tx: &mut Tx,
    acceptance_point_code: Option<&str>,
    window: &Window,
    after: &Cursor,
    limit: u32,
) -> Result<Vec<DueJob>, DbError> {
    let rows: Vec<DueColumns> = on_tx!(tx, |conn| {
        sqlx::query_as(
            "SELECT seq, job_id, application_id, receipt_number, state, acceptance_point_code, production_due_date \
             FROM jobs WHERE state <> 'dispatched' AND production_due_date < $1 \
             AND (production_due_date > $2 OR (production_due_date = $2 AND seq > $3)) \
             AND ($5 IS NULL OR acceptance_point_code = $5) ORDER BY production_due_date, seq LIMIT $4",
        )
        .bind(window.until_text())
        .bind(after.due_text.as_str())
        .bind(after.seq)
        .bind(i64::from(limit))
        .bind(acceptance_point_code)
        .fetch_all(conn)
        .await?
    });
    rows.into_iter()
        .map(
            |(seq, job_id, application_id, receipt_number, state, acceptance_point_code, due_text)| {
                let state = JobState::parse(&state).ok_or_else(|| {
                    DbError::Sqlx(sqlx::Error::Decode(
                        format!("stored job state {state:?} is unknown").into(),
                    ))
                })?;
                Ok(DueJob {
                    seq,
                    job_id,
                    application_id,
                    receipt_number,
                    state,
                    acceptance_point_code,
                    due_text,
                })
            },
        )
        .collect()
}

/// Jobs not yet dispatched, overdue on `window.today`, and due from today to before
/// `window.until`.
pub async fn count_due(db: &Db, window: &Window) -> Result<Counts, DbError> {
    let (overdue, due_soon) = on_db!(db, |pool| {
        let overdue: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE state <> 'dispatched' AND production_due_date < $1")
                .bind(window.today_text())
                .fetch_one(pool)
                .await?;
        let due_soon: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM jobs WHERE state <> 'dispatched' AND production_due_date >= $1 \
             AND production_due_date < $2",
        )
        .bind(window.today_text())
        .bind(window.until_text())
        .fetch_one(pool)
        .await?;
        (overdue, due_soon)
    });
    Ok(Counts {
        overdue: u64::try_from(overdue).unwrap_or(0),
        due_soon: u64::try_from(due_soon).unwrap_or(0),
    })
}
