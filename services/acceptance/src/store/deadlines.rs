//! The statutory clock of applications: open ones (neither collected nor rejected) by
//! due date, the counts behind the deadline gauges, and the one extension of the 60-day
//! limit. Nothing here is sealed: ids, receipt numbers, states, dates, the clerk's
//! subject and the extension's reason (which names an area, not a person).

use idcard_db::{Db, DbError, Tx, on_db, on_tx};
use idcard_server::deadline::{Counts, Cursor, Window};
use uuid::Uuid;

/// The states whose applications no deadline runs for any more.
const OPEN: &str = "state NOT IN ('collected', 'rejected')";

/// An open application against its due date, with its extension if any.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DueRow {
    pub seq: i64,
    pub application_id: Uuid,
    pub receipt_number: String,
    pub state: String,
    pub acceptance_point_code: String,
    pub due_date: String,
    #[sqlx(flatten)]
    pub extension: ExtensionRow,
}

/// The extension columns of an application: all `None` until extended.
#[derive(Debug, Clone, Default, sqlx::FromRow)]
pub struct ExtensionRow {
    pub deadline_extended_from: Option<String>,
    pub deadline_extended_at_ms: Option<i64>,
    pub deadline_extended_by: Option<String>,
    pub deadline_extension_reason: Option<String>,
}

/// Which acceptance points a list covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Points {
    All,
    Only(Vec<String>),
}

const DUE_COLUMNS: &str = "seq, application_id, receipt_number, state, acceptance_point_code, due_date, \
                           deadline_extended_from, deadline_extended_at_ms, deadline_extended_by, \
                           deadline_extension_reason";

/// Up to `limit` open applications of `points` due before `window.until`, earliest due
/// first, after `after`.
pub async fn list_due(
    tx: &mut Tx,
    points: &Points,
    window: &Window,
    after: &Cursor,
    limit: u32,
) -> Result<Vec<DueRow>, DbError> {
    let point_filter = match points {
        Points::All => String::new(),
        Points::Only(codes) if codes.is_empty() => return Ok(Vec::new()),
        Points::Only(codes) => {
            let placeholders: Vec<String> = (0..codes.len()).map(|i| format!("${}", i + 5)).collect();
            format!(" AND acceptance_point_code IN ({})", placeholders.join(", "))
        }
    };
    let sql = format!(
        "SELECT {DUE_COLUMNS} FROM applications WHERE {OPEN} AND due_date < $1 \
         AND (due_date > $2 OR (due_date = $2 AND seq > $3)){point_filter} ORDER BY due_date, seq LIMIT $4"
    );
    let codes: &[String] = match points {
        Points::All => &[],
        Points::Only(codes) => codes,
    };
    let rows = on_tx!(tx, |conn| {
        let mut query = sqlx::query_as::<_, DueRow>(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(window.until_text())
            .bind(after.due_text.as_str())
            .bind(after.seq)
            .bind(i64::from(limit));
        for code in codes {
            query = query.bind(code.as_str());
        }
        query.fetch_all(conn).await?
    });
    Ok(rows)
}

/// Open applications overdue on `window.today`, and due from today to before
/// `window.until`.
pub async fn count_due(db: &Db, window: &Window) -> Result<Counts, DbError> {
    let overdue_sql = format!("SELECT COUNT(*) FROM applications WHERE {OPEN} AND due_date < $1");
    let soon_sql = format!("SELECT COUNT(*) FROM applications WHERE {OPEN} AND due_date >= $1 AND due_date < $2");
    let (overdue, due_soon) = on_db!(db, |pool| {
        let overdue: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(overdue_sql.as_str()))
            .bind(window.today_text())
            .fetch_one(pool)
            .await?;
        let due_soon: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(soon_sql.as_str()))
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

/// The extension of an application (all `None` when it has none, or is unknown).
pub async fn extension_of(tx: &mut Tx, application_id: Uuid) -> Result<ExtensionRow, DbError> {
    let row = on_tx!(tx, |conn| {
        sqlx::query_as::<_, ExtensionRow>(
            "SELECT deadline_extended_from, deadline_extended_at_ms, deadline_extended_by, deadline_extension_reason \
             FROM applications WHERE application_id = $1",
        )
        .bind(application_id)
        .fetch_optional(conn)
        .await?
    });
    Ok(row.unwrap_or_default())
}

/// An extension to record.
pub struct Extension<'a> {
    pub application_id: Uuid,
    /// The due date it moves from, as stored.
    pub from: &'a str,
    pub to: &'a str,
    pub at_ms: i64,
    pub by: &'a str,
    pub reason: &'a str,
}

/// Moves the due date of an open, not yet extended application still due on
/// `extension.from`. Returns `false`, writing nothing, when the application changed in
/// the meantime (closed, or extended by a concurrent call).
pub async fn extend(tx: &mut Tx, extension: &Extension<'_>) -> Result<bool, DbError> {
    let sql = format!(
        "UPDATE applications SET due_date = $1, deadline_extended_from = $2, deadline_extended_at_ms = $3, \
         deadline_extended_by = $4, deadline_extension_reason = $5, updated_at_ms = $3 \
         WHERE application_id = $6 AND due_date = $2 AND deadline_extended_at_ms IS NULL AND {OPEN}"
    );
    let updated = on_tx!(tx, |conn| {
        sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(extension.to)
            .bind(extension.from)
            .bind(extension.at_ms)
            .bind(extension.by)
            .bind(extension.reason)
            .bind(extension.application_id)
            .execute(conn)
            .await?
            .rows_affected()
    });
    Ok(updated == 1)
}
