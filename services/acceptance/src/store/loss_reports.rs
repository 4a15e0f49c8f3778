//! The `loss_reports` and `loss_report_events` tables. The citizen id, the name and the
//! circumstance are sealed with the data key, each bound to its column and report number;
//! the citizen id is found through its keyed blind index.

use idcard_crypto::{Keyring, Purpose};
use idcard_db::{Backend, Db, DbError, Tx, on_tx};
use idcard_domain::{CitizenId, LossKind, LossReportState};

use super::{EventRow, citizen_id_index, index_input};

/// A loss report's clear columns.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LossReportRow {
    pub report_number: String,
    pub kind: String,
    pub state: String,
    pub acceptance_point_code: String,
    pub review_peer: String,
    pub same_as_report_number: Option<String>,
    pub revocation_pending: bool,
    pub reported_at_ms: i64,
}

impl LossReportRow {
    pub fn state(&self) -> Result<LossReportState, DbError> {
        self.state
            .parse()
            .map_err(|_| DbError::Config(format!("stored loss report state {:?} is unknown", self.state)))
    }

    pub fn kind(&self) -> Result<LossKind, DbError> {
        self.kind
            .parse()
            .map_err(|_| DbError::Config(format!("stored loss kind {:?} is unknown", self.kind)))
    }
}

/// A report with its citizen id opened (for masking).
#[derive(Debug, Clone)]
pub struct Opened {
    pub row: LossReportRow,
    pub citizen_id: String,
}

/// A new report, as [`insert`] writes it.
pub struct NewLossReport<'a> {
    pub report_number: &'a str,
    pub kind: LossKind,
    pub acceptance_point_code: &'a str,
    pub citizen_id: &'a CitizenId,
    pub name: &'a str,
    pub circumstance: &'a str,
    /// `fingerprint` or `document:<kind>`.
    pub identity_confirmation: &'a str,
    pub domicile_region_code: &'a str,
    pub review_peer: &'a str,
    pub reported_at_ms: i64,
}

const ROW_COLUMNS: &str = "report_number, kind, state, acceptance_point_code, review_peer, same_as_report_number, \
                           revocation_pending, reported_at_ms";

/// Writes a new report in state `submitted` (its first history step is the caller's).
pub async fn insert(tx: &mut Tx, keys: &Keyring, report: &NewLossReport<'_>) -> Result<(), DbError> {
    let number = report.report_number;
    let citizen_id_sealed = seal(keys, Column::CitizenId, number, report.citizen_id.as_str())?;
    let name_sealed = seal(keys, Column::Name, number, report.name)?;
    let circumstance_sealed = seal(keys, Column::Circumstance, number, report.circumstance)?;
    on_tx!(tx, |conn| {
        sqlx::query(
            "INSERT INTO loss_reports (report_number, kind, state, acceptance_point_code, citizen_id_index, \
             citizen_id_sealed, name_sealed, circumstance_sealed, identity_confirmation, domicile_region_code, \
             review_peer, sealed_with, reported_at_ms, updated_at_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13)",
        )
        .bind(number)
        .bind(report.kind.as_str())
        .bind(LossReportState::Submitted.as_str())
        .bind(report.acceptance_point_code)
        .bind(citizen_id_index(keys, report.citizen_id.as_str()))
        .bind(&citizen_id_sealed)
        .bind(&name_sealed)
        .bind(&circumstance_sealed)
        .bind(report.identity_confirmation)
        .bind(report.domicile_region_code)
        .bind(report.review_peer)
        .bind(sealed_with(keys))
        .bind(report.reported_at_ms)
        .execute(conn)
        .await?
        .rows_affected()
    });
    Ok(())
}

/// The citizen's report that is still submitted or active, if any. Looks under every
/// index key, so reports not yet re-indexed after a rotation are found too.
pub async fn open_for_citizen(
    tx: &mut Tx,
    keys: &Keyring,
    citizen_id: &CitizenId,
) -> Result<Option<LossReportRow>, DbError> {
    let sql = format!(
        "SELECT {ROW_COLUMNS} FROM loss_reports WHERE citizen_id_index = $1 AND state IN ('submitted', 'active')"
    );
    for index in keys.blind_indexes(&index_input(citizen_id.as_str())) {
        let found = on_tx!(tx, |conn| {
            sqlx::query_as::<_, LossReportRow>(sqlx::AssertSqlSafe(sql.as_str()))
                .bind(&index)
                .fetch_optional(conn)
                .await?
        });
        if found.is_some() {
            return Ok(found);
        }
    }
    Ok(None)
}

pub async fn find(tx: &mut Tx, report_number: &str) -> Result<Option<LossReportRow>, DbError> {
    let sql = format!("SELECT {ROW_COLUMNS} FROM loss_reports WHERE report_number = $1");
    let row = on_tx!(tx, |conn| {
        sqlx::query_as::<_, LossReportRow>(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(report_number)
            .fetch_optional(conn)
            .await?
    });
    Ok(row)
}

#[derive(sqlx::FromRow)]
struct OpenedRow {
    #[sqlx(flatten)]
    row: LossReportRow,
    citizen_id_sealed: Vec<u8>,
}

/// The report with its citizen id opened.
pub async fn find_opened(tx: &mut Tx, keys: &Keyring, report_number: &str) -> Result<Option<Opened>, DbError> {
    let sql = format!("SELECT {ROW_COLUMNS}, citizen_id_sealed FROM loss_reports WHERE report_number = $1");
    let found = on_tx!(tx, |conn| {
        sqlx::query_as::<_, OpenedRow>(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(report_number)
            .fetch_optional(conn)
            .await?
    });
    found
        .map(|found| {
            let citizen_id = open(keys, Column::CitizenId, report_number, &found.citizen_id_sealed)?;
            Ok(Opened {
                row: found.row,
                citizen_id,
            })
        })
        .transpose()
}

/// Whether report `report_number` is `citizen_id`'s; `None` when this service does not
/// hold such a report.
pub async fn belongs_to(
    tx: &mut Tx,
    keys: &Keyring,
    report_number: &str,
    citizen_id: &CitizenId,
) -> Result<Option<bool>, DbError> {
    let index = on_tx!(tx, |conn| {
        sqlx::query_scalar::<_, Vec<u8>>("SELECT citizen_id_index FROM loss_reports WHERE report_number = $1")
            .bind(report_number)
            .fetch_optional(conn)
            .await?
    });
    Ok(index.map(|index| keys.blind_indexes(&index_input(citizen_id.as_str())).contains(&index)))
}

/// Moves a report to `state` (which may be the state it is in: a step that changes
/// nothing but the history) and records the step.
/// Adds a line to a report's history without changing its state (the line shows the
/// state as it is when the line is written).
pub async fn record_note(tx: &mut Tx, report_number: &str, at_ms: i64, actor: &str, note: &str) -> Result<(), DbError> {
    on_tx!(tx, |conn| {
        sqlx::query(
            "INSERT INTO loss_report_events (report_number, state, at_ms, actor, note) \
             SELECT report_number, state, $2, $3, $4 FROM loss_reports WHERE report_number = $1",
        )
        .bind(report_number)
        .bind(at_ms)
        .bind(actor)
        .bind(note)
        .execute(conn)
        .await?
        .rows_affected()
    });
    Ok(())
}

pub async fn record_step(
    tx: &mut Tx,
    report_number: &str,
    state: LossReportState,
    at_ms: i64,
    actor: &str,
    note: &str,
) -> Result<(), DbError> {
    on_tx!(tx, |conn| {
        sqlx::query("UPDATE loss_reports SET state = $1, updated_at_ms = $2 WHERE report_number = $3")
            .bind(state.as_str())
            .bind(at_ms)
            .bind(report_number)
            .execute(&mut *conn)
            .await?;
        sqlx::query(
            "INSERT INTO loss_report_events (report_number, state, at_ms, actor, note) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(report_number)
        .bind(state.as_str())
        .bind(at_ms)
        .bind(actor)
        .bind(note)
        .execute(conn)
        .await?
        .rows_affected()
    });
    Ok(())
}

/// Records that the domicile bureau holds `same_as` as the report that stands.
pub async fn set_same_as(tx: &mut Tx, report_number: &str, same_as: &str) -> Result<(), DbError> {
    on_tx!(tx, |conn| {
        sqlx::query("UPDATE loss_reports SET same_as_report_number = $1 WHERE report_number = $2")
            .bind(same_as)
            .bind(report_number)
            .execute(conn)
            .await?
            .rows_affected()
    });
    Ok(())
}

/// Marks a revocation as sent (`true`) or answered (`false`).
pub async fn set_revocation_pending(tx: &mut Tx, report_number: &str, pending: bool) -> Result<(), DbError> {
    on_tx!(tx, |conn| {
        sqlx::query("UPDATE loss_reports SET revocation_pending = $1 WHERE report_number = $2")
            .bind(pending)
            .bind(report_number)
            .execute(conn)
            .await?
            .rows_affected()
    });
    Ok(())
}

pub async fn history(tx: &mut Tx, report_number: &str) -> Result<Vec<EventRow>, DbError> {
    let rows = on_tx!(tx, |conn| {
        sqlx::query_as::<_, EventRow>(
            "SELECT state, at_ms, actor, note FROM loss_report_events WHERE report_number = $1 ORDER BY seq",
        )
        .bind(report_number)
        .fetch_all(conn)
        .await?
    });
    Ok(rows)
}

#[derive(sqlx::FromRow)]
struct StaleRow {
    report_number: String,
    citizen_id_sealed: Vec<u8>,
    name_sealed: Vec<u8>,
    circumstance_sealed: Vec<u8>,
}

/// Re-seals and re-indexes up to `limit` reports not under the active keys; returns how
/// many it rewrote.
pub async fn reseal_batch(db: &Db, keys: &Keyring, limit: u32) -> Result<usize, DbError> {
    let current = sealed_with(keys);
    let mut tx = db.begin().await?;
    let lock = match tx.backend() {
        Backend::Sqlite => "",
        Backend::Postgres => " FOR UPDATE SKIP LOCKED",
    };
    let sql = format!(
        "SELECT report_number, citizen_id_sealed, name_sealed, circumstance_sealed FROM loss_reports \
         WHERE sealed_with < $1 OR sealed_with > $1 LIMIT $2{lock}"
    );
    let stale = on_tx!(&mut tx, |conn| {
        sqlx::query_as::<_, StaleRow>(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(&current)
            .bind(i64::from(limit))
            .fetch_all(conn)
            .await?
    });
    for row in &stale {
        let number = row.report_number.as_str();
        let citizen_id = open(keys, Column::CitizenId, number, &row.citizen_id_sealed)?;
        let citizen_id_sealed = reseal(keys, Column::CitizenId, number, &row.citizen_id_sealed)?;
        let name_sealed = reseal(keys, Column::Name, number, &row.name_sealed)?;
        let circumstance_sealed = reseal(keys, Column::Circumstance, number, &row.circumstance_sealed)?;
        on_tx!(&mut tx, |conn| {
            sqlx::query(
                "UPDATE loss_reports SET citizen_id_index = $1, citizen_id_sealed = $2, name_sealed = $3, \
                 circumstance_sealed = $4, sealed_with = $5 WHERE report_number = $6",
            )
            .bind(citizen_id_index(keys, &citizen_id))
            .bind(&citizen_id_sealed)
            .bind(&name_sealed)
            .bind(&circumstance_sealed)
            .bind(&current)
            .bind(number)
            .execute(conn)
            .await?
            .rows_affected()
        });
    }
    tx.commit().await?;
    Ok(stale.len())
}

/// The sealed columns of `loss_reports`, named in associated data and errors.
#[derive(Debug, Clone, Copy)]
enum Column {
    CitizenId,
    Name,
    Circumstance,
}

impl Column {
    fn name(self) -> &'static str {
        match self {
            Column::CitizenId => "citizen_id_sealed",
            Column::Name => "name_sealed",
            Column::Circumstance => "circumstance_sealed",
        }
    }
}

/// Binds a sealed value to its column and report.
fn aad(column: Column, report_number: &str) -> Vec<u8> {
    format!("loss_reports.{}:{report_number}", column.name()).into_bytes()
}

fn seal(keys: &Keyring, column: Column, report_number: &str, plaintext: &str) -> Result<Vec<u8>, DbError> {
    keys.seal_str(Purpose::Data, plaintext, &aad(column, report_number))
        .map_err(|err| corrupt(column, report_number, err))
}

fn open(keys: &Keyring, column: Column, report_number: &str, sealed: &[u8]) -> Result<String, DbError> {
    keys.open_string(Purpose::Data, sealed, &aad(column, report_number))
        .map_err(|err| corrupt(column, report_number, err))
}

fn reseal(keys: &Keyring, column: Column, report_number: &str, sealed: &[u8]) -> Result<Vec<u8>, DbError> {
    if keys.is_current(Purpose::Data, sealed) {
        return Ok(sealed.to_vec());
    }
    let plaintext = open(keys, column, report_number, sealed)?;
    seal(keys, column, report_number, &plaintext)
}

/// The key ids a report written now is sealed and indexed under.
fn sealed_with(keys: &Keyring) -> String {
    [Purpose::Data, Purpose::Index]
        .map(|purpose| keys.active_key_id(purpose))
        .join(" ")
}

/// Errors name the column and report, never the value.
fn corrupt(column: Column, report_number: &str, err: impl std::fmt::Display) -> DbError {
    DbError::Config(format!(
        "loss_reports.{} of report {report_number}: {err}",
        column.name()
    ))
}
