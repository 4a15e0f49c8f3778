//! Re-sealing after a key rotation: values sealed under a key that is no longer the
//! active one of its purpose are opened and sealed again under the active key, a batch
//! at a time, by the background resealer (`idcard_server::spawn_resealer`). Old keys
//! stay in the key file, so nothing is unreadable meanwhile.
//!
//! Rows are found by `sealed_under` (the active key ids when the row was last sealed
//! whole), so a batch reads only rows that may need it; each of their values is then
//! checked with `Keyring::is_current`.

use idcard_crypto::{Keyring, Purpose};
use idcard_db::{Backend, Db, DbError, Tx, on_tx};
use sqlx::Row;
use uuid::Uuid;

use super::sealing::{marker, reseal};
use super::{cases, loss_reports, online, register};

/// A table with sealed columns: its name, its row id column, and its sealed columns
/// with the associated-data name and purpose of each.
struct Sealed {
    table: &'static str,
    key: &'static str,
    columns: &'static [(&'static str, &'static str, Purpose)],
}

const TABLES: [Sealed; 5] = [
    Sealed {
        table: "residents",
        key: "resident_id",
        columns: &[
            ("citizen_id_sealed", register::CITIZEN_ID, Purpose::Data),
            ("name_sealed", register::NAME, Purpose::Data),
            ("ethnicity_sealed", register::ETHNICITY, Purpose::Data),
            ("birth_date_sealed", register::BIRTH_DATE, Purpose::Data),
            ("domicile_address_sealed", register::ADDRESS, Purpose::Data),
            ("phone_sealed", register::PHONE, Purpose::Data),
        ],
    },
    Sealed {
        table: "review_cases",
        key: "application_id",
        columns: &[
            ("citizen_id_sealed", cases::CITIZEN_ID, Purpose::Data),
            ("request_sealed", cases::REQUEST, Purpose::Data),
            ("fingerprints_sealed", cases::FINGERPRINTS, Purpose::Biometric),
            ("rejection_sealed", cases::REJECTION, Purpose::Data),
            ("review_note_sealed", cases::REVIEW_NOTE, Purpose::Data),
        ],
    },
    Sealed {
        table: "loss_reports",
        key: "report_id",
        columns: &[
            ("citizen_id_sealed", loss_reports::CITIZEN_ID, Purpose::Data),
            ("circumstance_sealed", loss_reports::CIRCUMSTANCE, Purpose::Data),
        ],
    },
    Sealed {
        table: "loss_report_events",
        key: "event_id",
        columns: &[("note_sealed", loss_reports::NOTE, Purpose::Data)],
    },
    Sealed {
        table: "online_report_challenges",
        key: "challenge_id",
        columns: &[("citizen_id_sealed", online::CITIZEN_ID, Purpose::Data)],
    },
];

/// Re-seals up to `limit` rows whose values may be under keys that are no longer
/// active, in one transaction; returns how many rows it brought up to date (0 when
/// there is nothing left to do).
#[tracing::instrument(skip_all)]
pub async fn reseal_batch(db: &Db, keys: &Keyring, limit: u32) -> Result<usize, DbError> {
    let marker = marker(keys);
    // Most rounds find nothing: look first without taking SQLite's write lock.
    if !anything_stale(db, &marker).await? {
        return Ok(0);
    }
    let mut tx = db.begin().await?;
    let mut done = 0;
    for table in &TABLES {
        let left = limit.saturating_sub(u32::try_from(done).unwrap_or(u32::MAX));
        if left == 0 {
            break;
        }
        done += reseal_table(&mut tx, keys, &marker, table, left).await?;
    }
    tx.commit().await?;
    Ok(done)
}

/// Rows whose marker is not `marker`. Written as two ranges rather than `<>`, so that
/// the `sealed_under` index can answer it.
const STALE: &str = "(sealed_under < $1 OR sealed_under > $1)";

async fn anything_stale(db: &Db, marker: &str) -> Result<bool, DbError> {
    let mut tx = db.begin_read().await?;
    for Sealed { table, .. } in &TABLES {
        let sql = format!("SELECT COUNT(*) FROM (SELECT 1 FROM {table} WHERE {STALE} LIMIT 1) stale");
        let found: i64 = on_tx!(&mut tx, |conn| {
            sqlx::query_scalar(sqlx::AssertSqlSafe(sql.as_str()))
                .bind(marker)
                .fetch_one(conn)
                .await?
        });
        if found > 0 {
            return Ok(true);
        }
    }
    Ok(false)
}

type SealedRow = (Uuid, Vec<Option<Vec<u8>>>);

async fn reseal_table(
    tx: &mut Tx,
    keys: &Keyring,
    marker: &str,
    sealed: &Sealed,
    limit: u32,
) -> Result<usize, DbError> {
    let Sealed { table, key, columns } = sealed;
    let names: Vec<&str> = columns.iter().map(|(name, _, _)| *name).collect();
    // Another replica's resealer skips the rows this one holds.
    let lock = match tx.backend() {
        Backend::Sqlite => "",
        Backend::Postgres => " FOR UPDATE SKIP LOCKED",
    };
    let select = format!(
        "SELECT {key}, {} FROM {table} WHERE {STALE} ORDER BY {key} LIMIT $2{lock}",
        names.join(", ")
    );
    let rows: Vec<SealedRow> = on_tx!(&mut *tx, |conn| {
        sqlx::query(sqlx::AssertSqlSafe(select.as_str()))
            .bind(marker)
            .bind(i64::from(limit))
            .fetch_all(conn)
            .await?
            .iter()
            .map(|row| -> Result<SealedRow, sqlx::Error> {
                let values = (1..=columns.len())
                    .map(|i| row.try_get::<Option<Vec<u8>>, _>(i))
                    .collect::<Result<_, _>>()?;
                Ok((row.try_get(0)?, values))
            })
            .collect::<Result<_, _>>()?
    });

    let assignments: Vec<String> = names
        .iter()
        .enumerate()
        .map(|(i, name)| format!("{name} = ${}", i + 2))
        .collect();
    let update = format!(
        "UPDATE {table} SET {}, sealed_under = ${} WHERE {key} = $1",
        assignments.join(", "),
        columns.len() + 2
    );
    for (id, values) in &rows {
        let mut fresh = Vec::with_capacity(values.len());
        for ((_, aad_name, purpose), value) in columns.iter().zip(values) {
            let resealed = match value {
                Some(value) => Some(reseal(keys, *purpose, aad_name, id, value)?.unwrap_or_else(|| value.clone())),
                None => None,
            };
            fresh.push(resealed);
        }
        on_tx!(&mut *tx, |conn| {
            let mut query = sqlx::query(sqlx::AssertSqlSafe(update.as_str())).bind(*id);
            for value in &fresh {
                query = query.bind(value.as_deref());
            }
            query.bind(marker).execute(conn).await?.rows_affected()
        });
    }
    Ok(rows.len())
}
