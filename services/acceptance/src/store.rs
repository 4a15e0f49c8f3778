//! Every SQL statement of the acceptance service. Functions take the caller's
//! transaction so that a change, its status event and its outbox rows commit together.

use idcard_db::{DbError, Tx, on_tx};
use idcard_domain::{ApplicationKind, ApplicationState};
use uuid::Uuid;

/// An application as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ApplicationRow {
    pub seq: i64,
    pub application_id: Uuid,
    pub receipt_number: String,
    pub kind: String,
    pub state: String,
    pub acceptance_point_code: String,
    pub citizen_id: String,
    pub submission: Vec<u8>,
    pub accepted_at_ms: i64,
    pub due_date: String,
    pub issuance: Option<Vec<u8>>,
    pub rejection: Option<Vec<u8>>,
    pub collection: Option<Vec<u8>>,
}

impl ApplicationRow {
    pub fn state(&self) -> Result<ApplicationState, DbError> {
        self.state
            .parse()
            .map_err(|_| DbError::Config(format!("stored state {:?} is unknown", self.state)))
    }

    pub fn kind(&self) -> Result<ApplicationKind, DbError> {
        self.kind
            .parse()
            .map_err(|_| DbError::Config(format!("stored kind {:?} is unknown", self.kind)))
    }
}

/// A step in an application's history.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EventRow {
    pub state: String,
    pub at_ms: i64,
    pub actor: String,
    pub note: String,
}

/// A new application, as [`insert_application`] writes it.
pub struct NewApplication<'a> {
    pub application_id: Uuid,
    pub receipt_number: &'a str,
    pub kind: ApplicationKind,
    pub acceptance_point_code: &'a str,
    pub citizen_id: &'a str,
    pub domicile_region_code: &'a str,
    pub review_peer: &'a str,
    pub submission: &'a [u8],
    pub fee_amount_fen: i64,
    pub fee_waiver: &'a str,
    pub accepted_at_ms: i64,
    pub due_date: &'a str,
}

const COLUMNS: &str = "seq, application_id, receipt_number, kind, state, acceptance_point_code, citizen_id, \
    submission, accepted_at_ms, due_date, issuance, rejection, collection";

pub async fn insert_application(tx: &mut Tx, app: &NewApplication<'_>) -> Result<(), DbError> {
    on_tx!(tx, |conn| {
        sqlx::query(
            "INSERT INTO applications (application_id, receipt_number, kind, state, acceptance_point_code, citizen_id, \
             domicile_region_code, review_peer, submission, fee_amount_fen, fee_waiver, accepted_at_ms, due_date, updated_at_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $12)",
        )
        .bind(app.application_id)
        .bind(app.receipt_number)
        .bind(app.kind.as_str())
        .bind(ApplicationState::Submitted.as_str())
        .bind(app.acceptance_point_code)
        .bind(app.citizen_id)
        .bind(app.domicile_region_code)
        .bind(app.review_peer)
        .bind(app.submission)
        .bind(app.fee_amount_fen)
        .bind(app.fee_waiver)
        .bind(app.accepted_at_ms)
        .bind(app.due_date)
        .execute(conn)
        .await?
        .rows_affected()
    });
    Ok(())
}

/// The receipt number of an open application of this citizen and kind, if any.
pub async fn open_application(tx: &mut Tx, citizen_id: &str, kind: ApplicationKind) -> Result<Option<String>, DbError> {
    let found = on_tx!(tx, |conn| {
        sqlx::query_scalar::<_, String>(
            "SELECT receipt_number FROM applications WHERE citizen_id = $1 AND kind = $2 \
             AND state NOT IN ('collected', 'rejected')",
        )
        .bind(citizen_id)
        .bind(kind.as_str())
        .fetch_optional(conn)
        .await?
    });
    Ok(found)
}

pub async fn find(tx: &mut Tx, application_id: Uuid) -> Result<Option<ApplicationRow>, DbError> {
    let sql = format!("SELECT {COLUMNS} FROM applications WHERE application_id = $1");
    let row = on_tx!(tx, |conn| {
        sqlx::query_as::<_, ApplicationRow>(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(application_id)
            .fetch_optional(conn)
            .await?
    });
    Ok(row)
}

pub async fn find_by_receipt(tx: &mut Tx, receipt_number: &str) -> Result<Option<ApplicationRow>, DbError> {
    let sql = format!("SELECT {COLUMNS} FROM applications WHERE receipt_number = $1");
    let row = on_tx!(tx, |conn| {
        sqlx::query_as::<_, ApplicationRow>(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(receipt_number)
            .fetch_optional(conn)
            .await?
    });
    Ok(row)
}

pub async fn history(tx: &mut Tx, application_id: Uuid) -> Result<Vec<EventRow>, DbError> {
    let rows = on_tx!(tx, |conn| {
        sqlx::query_as::<_, EventRow>(
            "SELECT state, at_ms, actor, note FROM status_events WHERE application_id = $1 ORDER BY seq",
        )
        .bind(application_id)
        .fetch_all(conn)
        .await?
    });
    Ok(rows)
}

/// Moves an application to `state` and records the step in its history.
pub async fn record_step(
    tx: &mut Tx,
    application_id: Uuid,
    state: ApplicationState,
    at_ms: i64,
    actor: &str,
    note: &str,
) -> Result<(), DbError> {
    on_tx!(tx, |conn| {
        sqlx::query("UPDATE applications SET state = $1, updated_at_ms = $2 WHERE application_id = $3")
            .bind(state.as_str())
            .bind(at_ms)
            .bind(application_id)
            .execute(&mut *conn)
            .await?;
        sqlx::query("INSERT INTO status_events (application_id, state, at_ms, actor, note) VALUES ($1, $2, $3, $4, $5)")
            .bind(application_id)
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

/// What the domicile decided or the applicant signed, encoded.
#[derive(Debug, Clone, Copy)]
pub enum Record {
    Issuance,
    Rejection,
    Collection,
}

pub async fn set_record(tx: &mut Tx, application_id: Uuid, record: Record, encoded: &[u8]) -> Result<(), DbError> {
    let sql = match record {
        Record::Issuance => "UPDATE applications SET issuance = $1 WHERE application_id = $2",
        Record::Rejection => "UPDATE applications SET rejection = $1 WHERE application_id = $2",
        Record::Collection => "UPDATE applications SET collection = $1 WHERE application_id = $2",
    };
    on_tx!(tx, |conn| sqlx::query(sql)
        .bind(encoded)
        .bind(application_id)
        .execute(conn)
        .await?
        .rows_affected());
    Ok(())
}

/// A page of one acceptance point's applications, newest first, after position `before`.
pub async fn list(
    tx: &mut Tx,
    acceptance_point_code: &str,
    state: Option<ApplicationState>,
    before: Option<i64>,
    limit: u32,
) -> Result<Vec<ApplicationRow>, DbError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM applications WHERE acceptance_point_code = $1 AND ($2 = '' OR state = $2) \
         AND seq < $3 ORDER BY seq DESC LIMIT $4"
    );
    let state = state.map(|s| s.as_str()).unwrap_or("");
    let rows = on_tx!(tx, |conn| {
        sqlx::query_as::<_, ApplicationRow>(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(acceptance_point_code)
            .bind(state)
            .bind(before.unwrap_or(i64::MAX))
            .bind(i64::from(limit))
            .fetch_all(conn)
            .await?
    });
    Ok(rows)
}
