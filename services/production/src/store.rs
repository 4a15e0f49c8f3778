//! Every SQL statement of the service, written once for SQLite and PostgreSQL.
//!
//! Personal data (the citizen id, and the order with card items and photo) is read and
//! written only here, sealed with the data key and bound to its row and column, so no
//! column holds it in clear. Callers get a [`Job`] with a parsed [`CitizenId`] and the
//! issuance, never ciphertext or the raw order. [`reseal_batch`] moves values sealed
//! under an older key to the active one after a rotation.

pub mod deadlines;
mod sealing;
pub mod trace;

use std::collections::HashMap;

use idcard_crypto::Keyring;
use idcard_db::{Backend, DbError, Tx, on_tx};
use idcard_domain::CitizenId;
use idcard_proto::v1::ReceiveProductionOrderRequest;
use idcard_server::wire::today_cst;
use prost::Message;
use sqlx::Row;
use time::macros::format_description;
use uuid::Uuid;

use crate::job::{Job, JobState, QualityCheck};

pub use sealing::reseal_batch;
use sealing::{Sealed, open_citizen_id, open_order};

const DATE_FORMAT: &[time::format_description::BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day]");

/// A job to create from a production order.
pub struct NewJob<'a> {
    pub job_id: Uuid,
    pub application_id: Uuid,
    pub receipt_number: &'a str,
    pub acceptance_point_code: &'a str,
    pub origin: &'a str,
    pub citizen_id: &'a CitizenId,
    pub order: &'a ReceiveProductionOrderRequest,
    pub received_at_ms: i64,
    pub production_due_date: time::Date,
}

/// How a caller names a job.
#[derive(Debug, Clone, Copy)]
pub enum JobKey {
    JobId(Uuid),
    ApplicationId(Uuid),
}

/// Which jobs a list shows.
#[derive(Debug, Clone, Default)]
pub struct JobFilter {
    pub state: Option<JobState>,
    pub acceptance_point_code: Option<String>,
}

// SQLite has one writer at a time, so MAX(seq) + 1 cannot race; PostgreSQL numbers the
// row itself.
const INSERT_JOB_SQLITE: &str = "INSERT INTO jobs (job_id, seq, application_id, receipt_number, acceptance_point_code, \
    origin, citizen_id_sealed, order_data, data_key_id, state, remake_count, received_at_ms, production_due_date) \
    VALUES ($1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM jobs), $2, $3, $4, $5, $6, $7, $8, 'in_production', 0, $9, $10) \
    ON CONFLICT (application_id) DO NOTHING";
const INSERT_JOB_POSTGRES: &str = "INSERT INTO jobs (job_id, application_id, receipt_number, acceptance_point_code, \
    origin, citizen_id_sealed, order_data, data_key_id, state, remake_count, received_at_ms, production_due_date) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'in_production', 0, $9, $10) \
    ON CONFLICT (application_id) DO NOTHING";

/// Creates a job in production, its personal data sealed with `keys`. Returns `false`,
/// writing nothing, when the application already has a job.
pub async fn insert_job(tx: &mut Tx, keys: &Keyring, job: &NewJob<'_>) -> Result<bool, DbError> {
    let sql = match tx.backend() {
        Backend::Sqlite => INSERT_JOB_SQLITE,
        Backend::Postgres => INSERT_JOB_POSTGRES,
    };
    let due = job
        .production_due_date
        .format(DATE_FORMAT)
        .expect("a calendar date formats as YYYY-MM-DD");
    let sealed = Sealed::seal(keys, job.job_id, job.citizen_id.as_str(), &job.order.encode_to_vec())?;
    let inserted = on_tx!(tx, |conn| {
        sqlx::query(sql)
            .bind(job.job_id)
            .bind(job.application_id)
            .bind(job.receipt_number)
            .bind(job.acceptance_point_code)
            .bind(job.origin)
            .bind(&sealed.citizen_id)
            .bind(&sealed.order)
            .bind(&sealed.key_id)
            .bind(job.received_at_ms)
            .bind(due.as_str())
            .execute(conn)
            .await?
            .rows_affected()
    });
    Ok(inserted == 1)
}

const JOB_COLUMNS: &str = "seq, job_id, application_id, receipt_number, acceptance_point_code, origin, \
    citizen_id_sealed, order_data, state, remake_count, tracking_number, received_at_ms, production_due_date, dispatched_at_ms";

/// A `jobs` row as stored, before its personal data and enums are parsed.
struct JobRow {
    seq: i64,
    job_id: Uuid,
    application_id: Uuid,
    receipt_number: String,
    acceptance_point_code: String,
    origin: String,
    citizen_id_sealed: Vec<u8>,
    order_data: Vec<u8>,
    state: String,
    remake_count: i32,
    tracking_number: Option<String>,
    received_at_ms: i64,
    production_due_date: String,
    dispatched_at_ms: Option<i64>,
}

/// Reads a row selected with [`JOB_COLUMNS`] (a macro so that it expands per backend).
macro_rules! job_row {
    ($row:expr) => {{
        let row = $row;
        Ok::<_, sqlx::Error>(JobRow {
            seq: row.try_get(0)?,
            job_id: row.try_get(1)?,
            application_id: row.try_get(2)?,
            receipt_number: row.try_get(3)?,
            acceptance_point_code: row.try_get(4)?,
            origin: row.try_get(5)?,
            citizen_id_sealed: row.try_get(6)?,
            order_data: row.try_get(7)?,
            state: row.try_get(8)?,
            remake_count: row.try_get(9)?,
            tracking_number: row.try_get(10)?,
            received_at_ms: row.try_get(11)?,
            production_due_date: row.try_get(12)?,
            dispatched_at_ms: row.try_get(13)?,
        })
    }};
}

/// Reads a `quality_checks` row selected as `job_id, attempt, passed, defects, operator, at_ms`.
macro_rules! check_row {
    ($row:expr) => {{
        let row = $row;
        Ok::<_, sqlx::Error>((
            row.try_get::<Uuid, _>(0)?,
            row.try_get::<i32, _>(1)?,
            row.try_get::<bool, _>(2)?,
            row.try_get::<String, _>(3)?,
            row.try_get::<String, _>(4)?,
            row.try_get::<i64, _>(5)?,
        ))
    }};
}

type CheckRow = (Uuid, i32, bool, String, String, i64);

/// The job named by `key`, with its checks.
pub async fn find_job(tx: &mut Tx, keys: &Keyring, key: JobKey) -> Result<Option<Job>, DbError> {
    let (column, id) = match key {
        JobKey::JobId(id) => ("job_id", id),
        JobKey::ApplicationId(id) => ("application_id", id),
    };
    let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE {column} = $1");
    let row = on_tx!(&mut *tx, |conn| {
        match sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(conn)
            .await?
        {
            Some(row) => Some(job_row!(&row)?),
            None => None,
        }
    });
    let Some(row) = row else { return Ok(None) };
    let checks = on_tx!(tx, |conn| {
        sqlx::query(
            "SELECT job_id, attempt, passed, defects, operator, at_ms FROM quality_checks WHERE job_id = $1 ORDER BY attempt",
        )
        .bind(row.job_id)
        .fetch_all(conn)
        .await?
        .iter()
        .map(|row| check_row!(row))
        .collect::<Result<Vec<CheckRow>, _>>()?
    });
    let checks = checks.into_iter().map(quality_check).collect::<Result<Vec<_>, _>>()?;
    Ok(Some(job(keys, row, checks)?))
}

/// How many jobs are in each state (for the `idcard_production_jobs` gauge).
pub async fn count_jobs_by_state(db: &idcard_db::Db) -> Result<Vec<(String, i64)>, DbError> {
    let counts: Vec<(String, i64)> = idcard_db::on_db!(db, |pool| {
        sqlx::query_as("SELECT state, COUNT(*) FROM jobs GROUP BY state")
            .fetch_all(pool)
            .await?
    });
    Ok(counts)
}

/// Up to `limit` jobs matching `filter` after paging position `after`, in order of
/// arrival, with their checks.
pub async fn list_jobs(
    tx: &mut Tx,
    keys: &Keyring,
    filter: &JobFilter,
    after: Option<i64>,
    limit: u32,
) -> Result<Vec<Job>, DbError> {
    let after = after.unwrap_or(0);
    let rows = on_tx!(&mut *tx, |conn| {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE ($1 IS NULL OR state = $1) \
             AND ($2 IS NULL OR acceptance_point_code = $2) AND seq > $3 ORDER BY seq LIMIT $4"
        )))
        .bind(filter.state.map(JobState::as_str))
        .bind(filter.acceptance_point_code.as_deref())
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(conn)
        .await?
        .iter()
        .map(|row| job_row!(row))
        .collect::<Result<Vec<JobRow>, _>>()?
    });
    let Some(last) = rows.last().map(|r| r.seq) else {
        return Ok(Vec::new());
    };
    // One query for the checks of the whole page: those of every job in its seq range.
    let check_rows = on_tx!(tx, |conn| {
        sqlx::query(
            "SELECT job_id, attempt, passed, defects, operator, at_ms FROM quality_checks \
             WHERE job_id IN (SELECT job_id FROM jobs WHERE seq > $1 AND seq <= $2) ORDER BY attempt",
        )
        .bind(after)
        .bind(last)
        .fetch_all(conn)
        .await?
        .iter()
        .map(|row| check_row!(row))
        .collect::<Result<Vec<CheckRow>, _>>()?
    });
    let mut checks: HashMap<Uuid, Vec<QualityCheck>> = HashMap::new();
    for row in check_rows {
        let job_id = row.0;
        checks.entry(job_id).or_default().push(quality_check(row)?);
    }
    rows.into_iter()
        .map(|row| {
            let own = checks.remove(&row.job_id).unwrap_or_default();
            job(keys, row, own)
        })
        .collect()
}

/// Records `check` of `job` and moves the job to `state` with `remake_count`, unless the
/// job changed since it was read (returns `false`, writing nothing).
pub async fn record_check(
    tx: &mut Tx,
    job: &Job,
    check: &QualityCheck,
    state: JobState,
    remake_count: i32,
) -> Result<bool, DbError> {
    let updated = on_tx!(&mut *tx, |conn| {
        sqlx::query(
            "UPDATE jobs SET state = $1, remake_count = $2 WHERE job_id = $3 AND state = $4 AND remake_count = $5",
        )
        .bind(state.as_str())
        .bind(remake_count)
        .bind(job.job_id)
        .bind(job.state.as_str())
        .bind(job.remake_count)
        .execute(conn)
        .await?
        .rows_affected()
    });
    if updated != 1 {
        return Ok(false);
    }
    let defects = serde_json::to_string(&check.defects).expect("a list of strings serialises");
    on_tx!(tx, |conn| {
        sqlx::query(
            "INSERT INTO quality_checks (job_id, attempt, passed, defects, operator, at_ms) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(job.job_id)
        .bind(check.attempt)
        .bind(check.passed)
        .bind(defects)
        .bind(check.operator.as_str())
        .bind(check.at_ms)
        .execute(conn)
        .await?
        .rows_affected()
    });
    Ok(true)
}

/// Moves `job` to `state` with its tracking number, unless the job changed since it was
/// read (returns `false`, writing nothing).
pub async fn record_dispatch(
    tx: &mut Tx,
    job: &Job,
    state: JobState,
    tracking_number: &str,
    at_ms: i64,
) -> Result<bool, DbError> {
    let updated = on_tx!(tx, |conn| {
        sqlx::query(
            "UPDATE jobs SET state = $1, tracking_number = $2, dispatched_at_ms = $3 WHERE job_id = $4 AND state = $5",
        )
        .bind(state.as_str())
        .bind(tracking_number)
        .bind(at_ms)
        .bind(job.job_id)
        .bind(job.state.as_str())
        .execute(conn)
        .await?
        .rows_affected()
    });
    Ok(updated == 1)
}

fn job(keys: &Keyring, row: JobRow, checks: Vec<QualityCheck>) -> Result<Job, DbError> {
    let citizen_id = open_citizen_id(keys, row.job_id, &row.citizen_id_sealed)?;
    // Parsed against today: a birth date that was not in the future on receipt is not now.
    let citizen_id = CitizenId::parse(&citizen_id, today_cst()).map_err(|e| corrupt("jobs.citizen_id_sealed", e))?;
    let order = open_order(keys, row.job_id, &row.order_data)?;
    let order = ReceiveProductionOrderRequest::decode(order.as_slice()).map_err(|e| corrupt("jobs.order_data", e))?;
    let state = JobState::parse(&row.state).ok_or_else(|| {
        corrupt(
            "jobs.state",
            std::io::Error::other(format!("unknown state {:?}", row.state)),
        )
    })?;
    let production_due_date =
        time::Date::parse(&row.production_due_date, DATE_FORMAT).map_err(|e| corrupt("jobs.production_due_date", e))?;
    Ok(Job {
        seq: row.seq,
        job_id: row.job_id,
        application_id: row.application_id,
        receipt_number: row.receipt_number,
        acceptance_point_code: row.acceptance_point_code,
        origin: row.origin,
        citizen_id,
        issuance: order.issuance,
        state,
        remake_count: row.remake_count,
        tracking_number: row.tracking_number,
        received_at_ms: row.received_at_ms,
        production_due_date,
        dispatched_at_ms: row.dispatched_at_ms,
        checks,
    })
}

fn quality_check((_, attempt, passed, defects, operator, at_ms): CheckRow) -> Result<QualityCheck, DbError> {
    let defects = serde_json::from_str(&defects).map_err(|e| corrupt("quality_checks.defects", e))?;
    Ok(QualityCheck {
        attempt,
        passed,
        defects,
        operator,
        at_ms,
    })
}

/// A stored value this version cannot read: an internal error, never shown to callers.
fn corrupt(column: &str, err: impl std::error::Error + Send + Sync + 'static) -> DbError {
    DbError::Sqlx(sqlx::Error::ColumnDecode {
        index: column.to_string(),
        source: Box::new(err),
    })
}
