//! The record of verifications: who asked, when, and the answer.

use idcard_db::{Db, DbError, on_tx};
use uuid::Uuid;

/// One verification as recorded. Nothing of what was asked is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    pub verification_id: Uuid,
    /// The token subject of the verifier.
    pub verifier: String,
    /// `valid`, `reported_lost`, `invalidated`, `no_match` or `invalid_argument`.
    pub answer: &'static str,
    pub at_ms: i64,
}

/// Rows per INSERT statement: 4 parameters each, well under either database's limit.
const ROWS_PER_STATEMENT: usize = 250;

/// Writes `batch` in one transaction, a few hundred rows per statement.
#[tracing::instrument(skip_all, fields(count = batch.len()))]
pub async fn insert_verifications(db: &Db, batch: &[Verification]) -> Result<(), DbError> {
    if batch.is_empty() {
        return Ok(());
    }
    let mut tx = db.begin().await?;
    for chunk in batch.chunks(ROWS_PER_STATEMENT) {
        let values = (0..chunk.len())
            .map(|row| {
                let n = row * 4;
                format!("(${}, ${}, ${}, ${})", n + 1, n + 2, n + 3, n + 4)
            })
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!("INSERT INTO verifications (verification_id, verifier, answer, at_ms) VALUES {values}");
        on_tx!(&mut tx, |conn| {
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()));
            for verification in chunk {
                query = query
                    .bind(verification.verification_id)
                    .bind(verification.verifier.as_str())
                    .bind(verification.answer)
                    .bind(verification.at_ms);
            }
            query.execute(conn).await?.rows_affected()
        });
    }
    tx.commit().await?;
    Ok(())
}
