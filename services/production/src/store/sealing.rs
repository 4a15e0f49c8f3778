//! How a job's personal data is sealed at rest, and re-sealed after a key rotation.
//!
//! The citizen id and the order (card items and photo) are sealed with the data key, each
//! bound to its row and column by the associated data, and the row names the key that
//! sealed both (`data_key_id`), so the re-sealer finds old rows by an index look-up.

use idcard_crypto::{Keyring, Purpose};
use idcard_db::{Db, DbError, on_tx};
use sqlx::Row;
use uuid::Uuid;

use super::corrupt;

/// A job whose personal data an older data key sealed.
struct Stale {
    job_id: Uuid,
    citizen_id_sealed: Vec<u8>,
    order_data: Vec<u8>,
    key_id: String,
}

/// Re-seals the personal data of up to `limit` jobs sealed under an older data key with
/// the active one; returns how many jobs it re-sealed. A job whose values do not open is
/// logged (by job id) and left as it is.
///
/// The values are read and re-sealed outside the write transaction, which only swaps
/// them in where the row still names the old key: sealed values change nowhere else, so
/// a concurrent re-sealer (another replica) can only have put in equally good values,
/// and no lock is held while the keys work.
#[tracing::instrument(skip_all)]
pub async fn reseal_batch(db: &Db, keys: &Keyring, limit: u32) -> Result<usize, DbError> {
    let active = keys.active_key_id(Purpose::Data);
    // Equality on the indexed key id, older key by older key: with a single key this
    // costs no query at all.
    let older: Vec<&str> = keys
        .key_ids(Purpose::Data)
        .into_iter()
        .filter(|id| *id != active)
        .collect();
    if older.is_empty() {
        return Ok(0);
    }
    let mut stale: Vec<Stale> = Vec::new();
    let mut tx = db.begin_read().await?;
    for key_id in older {
        let wanted = limit.saturating_sub(u32::try_from(stale.len()).unwrap_or(u32::MAX));
        if wanted == 0 {
            break;
        }
        let rows = on_tx!(&mut tx, |conn| {
            sqlx::query("SELECT job_id, citizen_id_sealed, order_data FROM jobs WHERE data_key_id = $1 LIMIT $2")
                .bind(key_id)
                .bind(i64::from(wanted))
                .fetch_all(conn)
                .await?
                .iter()
                .map(|row| -> Result<Stale, sqlx::Error> {
                    Ok(Stale {
                        job_id: row.try_get(0)?,
                        citizen_id_sealed: row.try_get(1)?,
                        order_data: row.try_get(2)?,
                        key_id: key_id.to_string(),
                    })
                })
                .collect::<Result<Vec<_>, _>>()?
        });
        stale.extend(rows);
    }
    tx.commit().await?;
    if stale.is_empty() {
        return Ok(0);
    }

    let mut fresh = Vec::with_capacity(stale.len());
    for job in stale {
        match reseal(keys, &job) {
            Ok(sealed) => fresh.push((job, sealed)),
            Err(err) => {
                tracing::error!(job_id = %job.job_id, error = %err, "a job's personal data does not open; not re-sealed")
            }
        }
    }
    let mut tx = db.begin().await?;
    let mut resealed = 0;
    for (job, sealed) in &fresh {
        let updated = on_tx!(&mut tx, |conn| {
            sqlx::query(
                "UPDATE jobs SET citizen_id_sealed = $1, order_data = $2, data_key_id = $3 \
                 WHERE job_id = $4 AND data_key_id = $5",
            )
            .bind(&sealed.citizen_id)
            .bind(&sealed.order)
            .bind(&sealed.key_id)
            .bind(job.job_id)
            .bind(&job.key_id)
            .execute(conn)
            .await?
            .rows_affected()
        });
        resealed += usize::try_from(updated).unwrap_or(usize::MAX);
    }
    tx.commit().await?;
    Ok(resealed)
}

fn reseal(keys: &Keyring, job: &Stale) -> Result<Sealed, DbError> {
    let citizen_id = open_citizen_id(keys, job.job_id, &job.citizen_id_sealed)?;
    let order = open_order(keys, job.job_id, &job.order_data)?;
    Sealed::seal(keys, job.job_id, &citizen_id, &order)
}

/// A job's personal data as stored: sealed under the active data key.
pub(super) struct Sealed {
    pub(super) citizen_id: Vec<u8>,
    pub(super) order: Vec<u8>,
    pub(super) key_id: String,
}

impl Sealed {
    pub(super) fn seal(keys: &Keyring, job_id: Uuid, citizen_id: &str, order: &[u8]) -> Result<Sealed, DbError> {
        let citizen_id = keys
            .seal_str(Purpose::Data, citizen_id, &citizen_id_aad(job_id))
            .map_err(sealing_failed)?;
        let order = keys
            .seal(Purpose::Data, order, &order_aad(job_id))
            .map_err(sealing_failed)?;
        Ok(Sealed {
            citizen_id,
            order,
            key_id: keys.active_key_id(Purpose::Data).to_string(),
        })
    }
}

/// Binds a sealed citizen id to its row: copied into another row, it does not open.
fn citizen_id_aad(job_id: Uuid) -> Vec<u8> {
    format!("jobs.citizen_id_sealed:{job_id}").into_bytes()
}

fn order_aad(job_id: Uuid) -> Vec<u8> {
    format!("jobs.order_data:{job_id}").into_bytes()
}

pub(super) fn open_citizen_id(keys: &Keyring, job_id: Uuid, sealed: &[u8]) -> Result<String, DbError> {
    keys.open_string(Purpose::Data, sealed, &citizen_id_aad(job_id))
        .map_err(|e| corrupt("jobs.citizen_id_sealed", e))
}

pub(super) fn open_order(keys: &Keyring, job_id: Uuid, sealed: &[u8]) -> Result<Vec<u8>, DbError> {
    keys.open(Purpose::Data, sealed, &order_aad(job_id))
        .map_err(|e| corrupt("jobs.order_data", e))
}

fn sealing_failed(err: idcard_crypto::CryptoError) -> DbError {
    DbError::Sqlx(sqlx::Error::Encode(Box::new(err)))
}
