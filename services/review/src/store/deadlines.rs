//! The statutory clock of review cases: pending cases by their 5-day review due date,
//! and the counts behind the deadline gauges. Nothing here is sealed or opened: ids,
//! receipt numbers, region codes and dates only.

use idcard_db::{Db, DbError, Tx, on_db, on_tx};
use idcard_server::deadline::{Counts, Cursor, Window};
use time::Date;
use uuid::Uuid;

use super::date_from_sql;

/// Which domicile regions a list covers: every one, or those within any of these
/// inclusive ranges of six-digit codes (a jurisdiction prefix padded with 0s and 9s).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Regions {
    All,
    Within(Vec<(String, String)>),
}

/// A pending case against its review due date.
pub struct DueCase {
    pub seq: i64,
    pub application_id: Uuid,
    pub receipt_number: String,
    pub state: String,
    pub acceptance_point_code: String,
    pub domicile_region_code: String,
    pub review_due_date: Date,
    /// As stored, for the page token.
    pub due_text: String,
}

type DueColumns = (i64, Uuid, String, String, String, String, String);

/// Up to `limit` pending cases of `regions` due before `window.until`, earliest due
/// first, after `after`.
pub async fn list_due(
    tx: &mut Tx,
    regions: &Regions,
    window: &Window,
    after: &Cursor,
    limit: u32,
) -> Result<Vec<DueCase>, DbError> {
    let ranges: &[(String, String)] = match regions {
        Regions::All => &[],
        Regions::Within(ranges) if ranges.is_empty() => return Ok(Vec::new()),
        Regions::Within(ranges) => ranges,
    };
    let region_filter = if ranges.is_empty() {
        String::new()
    } else {
        let each: Vec<String> = (0..ranges.len())
            .map(|i| {
                let low = 5 + 2 * i;
                format!(
                    "(domicile_region_code >= ${low} AND domicile_region_code <= ${})",
                    low + 1
                )
            })
            .collect();
        format!(" AND ({})", each.join(" OR "))
    };
    let sql = format!(
        "SELECT seq, application_id, receipt_number, state, acceptance_point_code, domicile_region_code, \
         review_due_date FROM review_cases WHERE state = 'pending' AND review_due_date < $1 \
         AND (review_due_date > $2 OR (review_due_date = $2 AND seq > $3)){region_filter} \
         ORDER BY review_due_date, seq LIMIT $4"
    );
    let rows: Vec<DueColumns> = on_tx!(tx, |conn| {
        let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(window.until_text())
            .bind(after.due_text.as_str())
            .bind(after.seq)
            .bind(i64::from(limit));
        for (low, high) in ranges {
            query = query.bind(low.as_str()).bind(high.as_str());
        }
        query.fetch_all(conn).await?
    });
    rows.into_iter()
        .map(
            |(seq, application_id, receipt_number, state, acceptance_point_code, domicile_region_code, due)| {
                Ok(DueCase {
                    seq,
                    application_id,
                    receipt_number,
                    state,
                    acceptance_point_code,
                    domicile_region_code,
                    review_due_date: date_from_sql(&due)?,
                    due_text: due,
                })
            },
        )
        .collect()
}

/// Pending cases overdue on `window.today`, and due from today to before
/// `window.until`.
pub async fn count_due(db: &Db, window: &Window) -> Result<Counts, DbError> {
    let (overdue, due_soon) = on_db!(db, |pool| {
        let overdue: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM review_cases WHERE state = 'pending' AND review_due_date < $1")
                .bind(window.today_text())
                .fetch_one(pool)
                .await?;
        let due_soon: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM review_cases WHERE state = 'pending' AND review_due_date >= $1 \
             AND review_due_date < $2",
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
