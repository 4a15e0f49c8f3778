use idcard_db::{Db, DbError, Tx, now_ms, on_db, on_tx};
use uuid::Uuid;

/// One audited event. These fields are stored in clear and shown by audit tools, so
/// callers must never put personal data in them: name records by their ids
/// (`application:0190c7e2-...`), and a citizen id only masked (first digit and last two)
/// if at all; never a name, address, phone number or photo.
#[derive(Debug, Clone, Copy)]
pub struct Entry<'a> {
    /// Who: the token subject, or the peer service for service-to-service calls.
    pub actor: &'a str,
    /// The actor's role (clerk, reviewer, auditor, ...).
    pub role: &'a str,
    /// What happened, e.g. `application.submit` or `application.read_personal_data`.
    pub action: &'a str,
    /// The record acted on, e.g. `application:<uuid>`.
    pub target: &'a str,
    /// Anything else worth keeping, without personal data (a reason code, a new state).
    pub detail: &'a str,
}

/// Records `entry`, unsealed, in `tx`: it exists only if `tx` commits. Takes no lock
/// beyond the insert; the [`crate::Sealer`] chains it later. Returns the entry id.
pub async fn record(tx: &mut Tx, entry: &Entry<'_>) -> Result<Uuid, DbError> {
    let entry_id = Uuid::now_v7();
    on_tx!(tx, |conn| {
        sqlx::query(
            "INSERT INTO audit_log (entry_id, at_ms, actor, role, action, target, detail) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(entry_id)
        .bind(now_ms())
        .bind(entry.actor)
        .bind(entry.role)
        .bind(entry.action)
        .bind(entry.target)
        .bind(entry.detail)
        .execute(conn)
        .await?
        .rows_affected()
    });
    Ok(entry_id)
}

/// How long ago the oldest unsealed entry was recorded, or `None` when every entry is
/// sealed: how far the sealer lags (a metric).
pub async fn oldest_unsealed_age_ms(db: &Db) -> Result<Option<i64>, DbError> {
    let oldest: Option<i64> = on_db!(db, |pool| {
        sqlx::query_scalar("SELECT MIN(at_ms) FROM audit_log WHERE chain_position IS NULL")
            .fetch_one(pool)
            .await?
    });
    Ok(oldest.map(|at_ms| now_ms().saturating_sub(at_ms).max(0)))
}
