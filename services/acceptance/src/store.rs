//! Every SQL statement of the acceptance service, and the only place where personal data
//! is sealed and opened: handlers see clear values only. Functions take the caller's
//! transaction so that a change, its status event, its audit entry and its outbox rows
//! commit together.
//!
//! At rest, the citizen id is sealed with the data key and found through its keyed blind
//! index; the accepted submission (name, address, phone, photo) is sealed with the data
//! key after its fingerprints are split out and sealed with the biometric key; a rejection
//! is sealed with the data key. Each sealed value is bound to its column and application
//! id, so a value copied into another row or column does not open. Loss reports live
//! in [`loss_reports`] under the same rules.

pub mod deadlines;
pub mod loss_reports;
pub mod trace;

use idcard_crypto::{Keyring, Purpose};
use idcard_db::{Backend, Db, DbError, Tx, on_tx};
use idcard_domain::{ApplicationKind, ApplicationState, CitizenId};
use idcard_proto::v1 as pb;
use prost::Message;
use uuid::Uuid;

/// An application's clear columns: enough to check its state and scope, and to list it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ApplicationRow {
    pub seq: i64,
    pub application_id: Uuid,
    pub receipt_number: String,
    pub kind: String,
    pub state: String,
    pub acceptance_point_code: String,
    /// The review service (peer name) the application was routed to.
    pub review_peer: String,
    pub accepted_at_ms: i64,
    pub due_date: String,
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

/// What an application holds beyond its clear columns, opened.
#[derive(Debug, Clone)]
pub struct Details {
    /// The request as accepted, without the fingerprints.
    pub submission: pb::SubmitApplicationRequest,
    pub issuance: Option<pb::Issuance>,
    pub rejection: Option<pb::Rejection>,
    pub collection: Option<pb::Collection>,
}

/// A row of a list, with the citizen id opened (for masking).
#[derive(Debug, Clone)]
pub struct Listed {
    pub row: ApplicationRow,
    pub citizen_id: String,
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
    pub citizen_id: &'a CitizenId,
    pub domicile_region_code: &'a str,
    pub review_peer: &'a str,
    /// The request as accepted, fingerprints included: they are stored apart.
    pub submission: &'a pb::SubmitApplicationRequest,
    pub fee_amount_fen: i64,
    pub fee_waiver: &'a str,
    pub accepted_at_ms: i64,
    pub due_date: &'a str,
}

const ROW_COLUMNS: &str = "seq, application_id, receipt_number, kind, state, acceptance_point_code, review_peer, \
                           accepted_at_ms, due_date";

pub async fn insert_application(tx: &mut Tx, keys: &Keyring, app: &NewApplication<'_>) -> Result<(), DbError> {
    let id = app.application_id;
    let (submission, fingerprints) = split_fingerprints(app.submission);
    let citizen_id_sealed = seal(
        keys,
        Purpose::Data,
        Column::CitizenId,
        id,
        app.citizen_id.as_str().as_bytes(),
    )?;
    let submission = seal(keys, Purpose::Data, Column::Submission, id, &submission.encode_to_vec())?;
    let fingerprints = seal(
        keys,
        Purpose::Biometric,
        Column::Fingerprints,
        id,
        &fingerprints.encode_to_vec(),
    )?;
    on_tx!(tx, |conn| {
        sqlx::query(
            "INSERT INTO applications (application_id, receipt_number, kind, state, acceptance_point_code, \
             citizen_id_index, citizen_id_sealed, domicile_region_code, review_peer, submission, fingerprints, \
             sealed_with, fee_amount_fen, fee_waiver, accepted_at_ms, due_date, updated_at_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $15)",
        )
        .bind(id)
        .bind(app.receipt_number)
        .bind(app.kind.as_str())
        .bind(ApplicationState::Submitted.as_str())
        .bind(app.acceptance_point_code)
        .bind(citizen_id_index(keys, app.citizen_id.as_str()))
        .bind(&citizen_id_sealed)
        .bind(app.domicile_region_code)
        .bind(app.review_peer)
        .bind(&submission)
        .bind(&fingerprints)
        .bind(sealed_with(keys))
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

/// The receipt number of an open application of this citizen and kind, if any. Looks
/// under every index key, so rows not yet re-indexed after a rotation are found too.
pub async fn open_application(
    tx: &mut Tx,
    keys: &Keyring,
    citizen_id: &CitizenId,
    kind: ApplicationKind,
) -> Result<Option<String>, DbError> {
    for index in keys.blind_indexes(&index_input(citizen_id.as_str())) {
        let found = on_tx!(tx, |conn| {
            sqlx::query_scalar::<_, String>(
                "SELECT receipt_number FROM applications WHERE citizen_id_index = $1 AND kind = $2 \
                 AND state NOT IN ('collected', 'rejected')",
            )
            .bind(&index)
            .bind(kind.as_str())
            .fetch_optional(conn)
            .await?
        });
        if found.is_some() {
            return Ok(found);
        }
    }
    Ok(None)
}

pub async fn find(tx: &mut Tx, application_id: Uuid) -> Result<Option<ApplicationRow>, DbError> {
    let sql = format!("SELECT {ROW_COLUMNS} FROM applications WHERE application_id = $1");
    let row = on_tx!(tx, |conn| {
        sqlx::query_as::<_, ApplicationRow>(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(application_id)
            .fetch_optional(conn)
            .await?
    });
    Ok(row)
}

pub async fn find_by_receipt(tx: &mut Tx, receipt_number: &str) -> Result<Option<ApplicationRow>, DbError> {
    let sql = format!("SELECT {ROW_COLUMNS} FROM applications WHERE receipt_number = $1");
    let row = on_tx!(tx, |conn| {
        sqlx::query_as::<_, ApplicationRow>(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(receipt_number)
            .fetch_optional(conn)
            .await?
    });
    Ok(row)
}

#[derive(sqlx::FromRow)]
struct StoredDetails {
    submission: Vec<u8>,
    issuance: Option<Vec<u8>>,
    rejection: Option<Vec<u8>>,
    collection: Option<Vec<u8>>,
}

/// The submission and records of an application, opened.
pub async fn details(tx: &mut Tx, keys: &Keyring, application_id: Uuid) -> Result<Details, DbError> {
    let stored = on_tx!(tx, |conn| {
        sqlx::query_as::<_, StoredDetails>(
            "SELECT submission, issuance, rejection, collection FROM applications WHERE application_id = $1",
        )
        .bind(application_id)
        .fetch_optional(conn)
        .await?
    })
    .ok_or_else(|| DbError::Config(format!("application {application_id} vanished")))?;
    let submission = open(
        keys,
        Purpose::Data,
        Column::Submission,
        application_id,
        &stored.submission,
    )?;
    let rejection = stored
        .rejection
        .map(|sealed| open(keys, Purpose::Data, Column::Rejection, application_id, &sealed))
        .transpose()?;
    Ok(Details {
        submission: decode(Column::Submission, &submission)?,
        issuance: stored.issuance.map(|b| decode(Column::Issuance, &b)).transpose()?,
        rejection: rejection.map(|b| decode(Column::Rejection, &b)).transpose()?,
        collection: stored.collection.map(|b| decode(Column::Collection, &b)).transpose()?,
    })
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

/// Moves an application from `from` to `to` and records the step, only if it is still in
/// `from` (a concurrent change wins). Returns whether it moved.
pub async fn advance(
    tx: &mut Tx,
    application_id: Uuid,
    from: ApplicationState,
    to: ApplicationState,
    at_ms: i64,
    actor: &str,
    note: &str,
) -> Result<bool, DbError> {
    let moved = on_tx!(tx, |conn| {
        sqlx::query("UPDATE applications SET state = $1, updated_at_ms = $2 WHERE application_id = $3 AND state = $4")
            .bind(to.as_str())
            .bind(at_ms)
            .bind(application_id)
            .bind(from.as_str())
            .execute(&mut *conn)
            .await?
            .rows_affected()
    });
    if moved != 1 {
        return Ok(false);
    }
    on_tx!(tx, |conn| {
        sqlx::query("INSERT INTO status_events (application_id, state, at_ms, actor, note) VALUES ($1, $2, $3, $4, $5)")
            .bind(application_id)
            .bind(to.as_str())
            .bind(at_ms)
            .bind(actor)
            .bind(note)
            .execute(conn)
            .await?
            .rows_affected()
    });
    Ok(true)
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

/// What the domicile decided or the applicant signed.
#[derive(Debug, Clone)]
pub enum Record {
    Issuance(pb::Issuance),
    Rejection(pb::Rejection),
    Collection(pb::Collection),
}

pub async fn set_record(tx: &mut Tx, keys: &Keyring, application_id: Uuid, record: &Record) -> Result<(), DbError> {
    let (sql, stored) = match record {
        Record::Issuance(issuance) => (
            "UPDATE applications SET issuance = $1 WHERE application_id = $2",
            issuance.encode_to_vec(),
        ),
        Record::Rejection(rejection) => (
            "UPDATE applications SET rejection = $1 WHERE application_id = $2",
            seal(
                keys,
                Purpose::Data,
                Column::Rejection,
                application_id,
                &rejection.encode_to_vec(),
            )?,
        ),
        Record::Collection(collection) => (
            "UPDATE applications SET collection = $1 WHERE application_id = $2",
            collection.encode_to_vec(),
        ),
    };
    on_tx!(tx, |conn| sqlx::query(sql)
        .bind(&stored)
        .bind(application_id)
        .execute(conn)
        .await?
        .rows_affected());
    Ok(())
}

#[derive(sqlx::FromRow)]
struct ListedRow {
    #[sqlx(flatten)]
    row: ApplicationRow,
    citizen_id_sealed: Vec<u8>,
}

/// A page of one acceptance point's applications, newest first, after position `before`.
pub async fn list(
    tx: &mut Tx,
    keys: &Keyring,
    acceptance_point_code: &str,
    state: Option<ApplicationState>,
    before: Option<i64>,
    limit: u32,
) -> Result<Vec<Listed>, DbError> {
    let sql = format!(
        "SELECT {ROW_COLUMNS}, citizen_id_sealed FROM applications WHERE acceptance_point_code = $1 \
         AND ($2 = '' OR state = $2) AND seq < $3 ORDER BY seq DESC LIMIT $4"
    );
    let state = state.map(|s| s.as_str()).unwrap_or("");
    let rows = on_tx!(tx, |conn| {
        sqlx::query_as::<_, ListedRow>(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(acceptance_point_code)
            .bind(state)
            .bind(before.unwrap_or(i64::MAX))
            .bind(i64::from(limit))
            .fetch_all(conn)
            .await?
    });
    rows.into_iter()
        .map(|listed| {
            let id = listed.row.application_id;
            let citizen_id = open(keys, Purpose::Data, Column::CitizenId, id, &listed.citizen_id_sealed)?;
            let citizen_id = String::from_utf8(citizen_id).map_err(|_| corrupt(Column::CitizenId, id, "not utf-8"))?;
            Ok(Listed {
                row: listed.row,
                citizen_id,
            })
        })
        .collect()
}

#[derive(sqlx::FromRow)]
struct StaleRow {
    application_id: Uuid,
    citizen_id_sealed: Vec<u8>,
    submission: Vec<u8>,
    fingerprints: Vec<u8>,
    rejection: Option<Vec<u8>>,
}

/// How many applications are in each state (for the `idcard_applications` gauge).
pub async fn count_by_state(db: &Db) -> Result<Vec<(String, i64)>, DbError> {
    let counts: Vec<(String, i64)> = idcard_db::on_db!(db, |pool| {
        sqlx::query_as("SELECT state, COUNT(*) FROM applications GROUP BY state")
            .fetch_all(pool)
            .await?
    });
    Ok(counts)
}

/// Re-seals up to `limit` applications and up to `limit` loss reports whose values or
/// blind index are not under the active keys (after `idctl keys rotate`), and re-indexes
/// their citizen id; returns how many rows it rewrote. Old keys keep opening the rows it
/// has not reached yet.
pub async fn reseal_batch(db: &Db, keys: &Keyring, limit: u32) -> Result<usize, DbError> {
    let applications = reseal_applications(db, keys, limit).await?;
    let reports = loss_reports::reseal_batch(db, keys, limit).await?;
    Ok(applications + reports)
}

async fn reseal_applications(db: &Db, keys: &Keyring, limit: u32) -> Result<usize, DbError> {
    let current = sealed_with(keys);
    let mut tx = db.begin().await?;
    // SQLite's write transaction already excludes writers; PostgreSQL replicas take
    // different rows, and a handler changing a row waits for (or is skipped by) us.
    let lock = match tx.backend() {
        Backend::Sqlite => "",
        Backend::Postgres => " FOR UPDATE SKIP LOCKED",
    };
    // `<` or `>` rather than `<>`, so that the index on sealed_with finds the stale rows.
    let sql = format!(
        "SELECT application_id, citizen_id_sealed, submission, fingerprints, rejection FROM applications \
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
        let id = row.application_id;
        let citizen_id = open(keys, Purpose::Data, Column::CitizenId, id, &row.citizen_id_sealed)?;
        let citizen_id = String::from_utf8(citizen_id).map_err(|_| corrupt(Column::CitizenId, id, "not utf-8"))?;
        let citizen_id_sealed = reseal(keys, Purpose::Data, Column::CitizenId, id, &row.citizen_id_sealed)?;
        let submission = reseal(keys, Purpose::Data, Column::Submission, id, &row.submission)?;
        let fingerprints = reseal(keys, Purpose::Biometric, Column::Fingerprints, id, &row.fingerprints)?;
        let rejection = row
            .rejection
            .as_deref()
            .map(|sealed| reseal(keys, Purpose::Data, Column::Rejection, id, sealed))
            .transpose()?;
        on_tx!(&mut tx, |conn| {
            sqlx::query(
                "UPDATE applications SET citizen_id_index = $1, citizen_id_sealed = $2, submission = $3, \
                 fingerprints = $4, rejection = $5, sealed_with = $6 WHERE application_id = $7",
            )
            .bind(citizen_id_index(keys, &citizen_id))
            .bind(&citizen_id_sealed)
            .bind(&submission)
            .bind(&fingerprints)
            .bind(&rejection)
            .bind(&current)
            .bind(id)
            .execute(conn)
            .await?
            .rows_affected()
        });
    }
    tx.commit().await?;
    Ok(stale.len())
}

/// The sealed (or encoded) columns of `applications`, named in associated data and errors.
#[derive(Debug, Clone, Copy)]
enum Column {
    CitizenId,
    Submission,
    Fingerprints,
    Issuance,
    Rejection,
    Collection,
}

impl Column {
    fn name(self) -> &'static str {
        match self {
            Column::CitizenId => "citizen_id_sealed",
            Column::Submission => "submission",
            Column::Fingerprints => "fingerprints",
            Column::Issuance => "issuance",
            Column::Rejection => "rejection",
            Column::Collection => "collection",
        }
    }
}

/// Binds a sealed value to its column and row.
fn aad(column: Column, application_id: Uuid) -> Vec<u8> {
    format!("applications.{}:{application_id}", column.name()).into_bytes()
}

fn seal(
    keys: &Keyring,
    purpose: Purpose,
    column: Column,
    application_id: Uuid,
    plaintext: &[u8],
) -> Result<Vec<u8>, DbError> {
    keys.seal(purpose, plaintext, &aad(column, application_id))
        .map_err(|err| corrupt(column, application_id, err))
}

fn open(
    keys: &Keyring,
    purpose: Purpose,
    column: Column,
    application_id: Uuid,
    sealed: &[u8],
) -> Result<Vec<u8>, DbError> {
    keys.open(purpose, sealed, &aad(column, application_id))
        .map_err(|err| corrupt(column, application_id, err))
}

/// `sealed` under the active key of `purpose`: as it is, or opened and sealed again.
fn reseal(
    keys: &Keyring,
    purpose: Purpose,
    column: Column,
    application_id: Uuid,
    sealed: &[u8],
) -> Result<Vec<u8>, DbError> {
    if keys.is_current(purpose, sealed) {
        return Ok(sealed.to_vec());
    }
    let plaintext = open(keys, purpose, column, application_id, sealed)?;
    seal(keys, purpose, column, application_id, &plaintext)
}

/// The index input: the field name keeps equal strings of other fields from matching.
fn index_input(citizen_id: &str) -> String {
    format!("citizen_id:{citizen_id}")
}

fn citizen_id_index(keys: &Keyring, citizen_id: &str) -> Vec<u8> {
    keys.blind_index(&index_input(citizen_id))
}

/// The key ids a row written now is sealed and indexed under.
fn sealed_with(keys: &Keyring) -> String {
    [Purpose::Data, Purpose::Biometric, Purpose::Index]
        .map(|purpose| keys.active_key_id(purpose))
        .join(" ")
}

/// The request without its fingerprints, and an `Applicant` holding only them.
fn split_fingerprints(request: &pb::SubmitApplicationRequest) -> (pb::SubmitApplicationRequest, pb::Applicant) {
    let mut rest = request.clone();
    let fingerprints = rest
        .applicant
        .as_mut()
        .map(|applicant| std::mem::take(&mut applicant.fingerprints))
        .unwrap_or_default();
    (
        rest,
        pb::Applicant {
            fingerprints,
            ..pb::Applicant::default()
        },
    )
}

fn decode<M: Message + Default>(column: Column, bytes: &[u8]) -> Result<M, DbError> {
    M::decode(bytes)
        .map_err(|err| DbError::Config(format!("stored applications.{} does not decode: {err}", column.name())))
}

/// Errors name the column and row, never the value.
fn corrupt(column: Column, application_id: Uuid, err: impl std::fmt::Display) -> DbError {
    DbError::Config(format!(
        "applications.{} of application {application_id}: {err}",
        column.name()
    ))
}
