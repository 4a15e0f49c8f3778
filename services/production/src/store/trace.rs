//! The trace context kept with a job: the `traceparent` of the delivery that brought
//! the production order in, which the operators' steps on the job resume, so that the
//! application's journey is one trace (`idcard_server::trace::application_span`).

use idcard_db::{Db, DbError, Tx, on_db, on_tx};
use uuid::Uuid;

/// Keeps the current span's trace context with job `job_id` (nothing outside a trace).
pub async fn keep_current(tx: &mut Tx, job_id: Uuid) -> Result<(), DbError> {
    let Some(traceparent) = idcard_server::trace::current_traceparent() else {
        return Ok(());
    };
    on_tx!(tx, |conn| {
        sqlx::query("UPDATE jobs SET trace_context = $1 WHERE job_id = $2")
            .bind(traceparent.as_str())
            .bind(job_id)
            .execute(conn)
            .await?
            .rows_affected()
    });
    Ok(())
}

/// The trace context kept with job `job_id`, if any.
pub async fn of(db: &Db, job_id: Uuid) -> Result<Option<String>, DbError> {
    Ok(on_db!(db, |pool| {
        sqlx::query_scalar::<_, Option<String>>("SELECT trace_context FROM jobs WHERE job_id = $1")
            .bind(job_id)
            .fetch_optional(pool)
            .await?
            .flatten()
    }))
}
