//! The trace context kept with a review case: the `traceparent` of the delivery that
//! brought the application in, which the reviewer's decision on it resumes, so that the
//! application's journey is one trace (`idcard_server::trace::application_span`).

use idcard_db::{Db, DbError, Tx, on_db, on_tx};
use uuid::Uuid;

/// Keeps the current span's trace context with case `application_id` (nothing outside
/// a trace).
pub async fn keep_current(tx: &mut Tx, application_id: Uuid) -> Result<(), DbError> {
    let Some(traceparent) = idcard_server::trace::current_traceparent() else {
        return Ok(());
    };
    on_tx!(tx, |conn| {
        sqlx::query("UPDATE review_cases SET trace_context = $1 WHERE application_id = $2")
            .bind(traceparent.as_str())
            .bind(application_id)
            .execute(conn)
            .await?
            .rows_affected()
    });
    Ok(())
}

/// The trace context kept with case `application_id`, if any.
pub async fn of(db: &Db, application_id: Uuid) -> Result<Option<String>, DbError> {
    Ok(on_db!(db, |pool| {
        sqlx::query_scalar::<_, Option<String>>("SELECT trace_context FROM review_cases WHERE application_id = $1")
            .bind(application_id)
            .fetch_optional(pool)
            .await?
            .flatten()
    }))
}
