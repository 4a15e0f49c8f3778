//! How a found card's free text is sealed at rest, and re-sealed after a key rotation.
//!
//! Where the card was found and where the owner collects it are free text a clerk typed
//! (it may name people or addresses), so both are sealed with the data key, each bound
//! to its row and column by the associated data, and the row names the key that sealed
//! them (`data_key_id`), so the re-sealer finds old rows by an index look-up.

use idcard_crypto::{Keyring, Purpose};
use idcard_db::{Db, DbError, on_tx};
use sqlx::Row;
use uuid::Uuid;

use super::{corrupt, sealing_failed};

/// A found card whose text an older data key sealed.
struct Stale {
    found_card_id: Uuid,
    found_at: Vec<u8>,
    collect_at: Vec<u8>,
    key_id: String,
}

/// Re-seals the text of up to `limit` found cards sealed under an older data key with
/// the active one; returns how many it re-sealed. A row whose values do not open is
/// logged (by id) and left as it is.
///
/// The values are read and re-sealed outside the write transaction, which only swaps
/// them in where the row still names the old key: sealed values change nowhere else, so
/// a concurrent re-sealer (another replica) can only have put in equally good values,
/// and no lock is held while the keys work.
#[tracing::instrument(skip_all)]
pub async fn reseal_batch(db: &Db, keys: &Keyring, limit: u32) -> Result<usize, DbError> {
    let active = keys.active_key_id(Purpose::Data);
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
            sqlx::query(
                "SELECT found_card_id, found_at_sealed, collect_at_sealed FROM found_cards WHERE data_key_id = $1 \
                 LIMIT $2",
            )
            .bind(key_id)
            .bind(i64::from(wanted))
            .fetch_all(conn)
            .await?
            .iter()
            .map(|row| -> Result<Stale, sqlx::Error> {
                Ok(Stale {
                    found_card_id: row.try_get(0)?,
                    found_at: row.try_get(1)?,
                    collect_at: row.try_get(2)?,
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
    for card in stale {
        match reseal(keys, &card) {
            Ok(sealed) => fresh.push((card, sealed)),
            Err(err) => tracing::error!(found_card_id = %card.found_card_id, error = %err,
                "a found card's text does not open; not re-sealed"),
        }
    }
    let mut tx = db.begin().await?;
    let mut resealed = 0;
    for (card, sealed) in &fresh {
        let updated = on_tx!(&mut tx, |conn| {
            sqlx::query(
                "UPDATE found_cards SET found_at_sealed = $1, collect_at_sealed = $2, data_key_id = $3 \
                 WHERE found_card_id = $4 AND data_key_id = $5",
            )
            .bind(&sealed.found_at)
            .bind(&sealed.collect_at)
            .bind(&sealed.key_id)
            .bind(card.found_card_id)
            .bind(&card.key_id)
            .execute(conn)
            .await?
            .rows_affected()
        });
        resealed += usize::try_from(updated).unwrap_or(usize::MAX);
    }
    tx.commit().await?;
    Ok(resealed)
}

fn reseal(keys: &Keyring, card: &Stale) -> Result<Sealed, DbError> {
    let found_at = open_found_at(keys, card.found_card_id, &card.found_at)?;
    let collect_at = open_collect_at(keys, card.found_card_id, &card.collect_at)?;
    Sealed::seal(keys, card.found_card_id, &found_at, &collect_at)
}

/// A found card's text as stored: sealed under the active data key.
pub(super) struct Sealed {
    pub(super) found_at: Vec<u8>,
    pub(super) collect_at: Vec<u8>,
    pub(super) key_id: String,
}

impl Sealed {
    pub(super) fn seal(
        keys: &Keyring,
        found_card_id: Uuid,
        found_at: &str,
        collect_at: &str,
    ) -> Result<Sealed, DbError> {
        Ok(Sealed {
            found_at: keys
                .seal_str(Purpose::Data, found_at, &aad(FOUND_AT, found_card_id))
                .map_err(sealing_failed)?,
            collect_at: keys
                .seal_str(Purpose::Data, collect_at, &aad(COLLECT_AT, found_card_id))
                .map_err(sealing_failed)?,
            key_id: keys.active_key_id(Purpose::Data).to_string(),
        })
    }
}

const FOUND_AT: &str = "found_cards.found_at_sealed";
const COLLECT_AT: &str = "found_cards.collect_at_sealed";

/// Binds a sealed value to its row and column: copied elsewhere, it does not open.
fn aad(column: &str, found_card_id: Uuid) -> Vec<u8> {
    format!("{column}:{found_card_id}").into_bytes()
}

pub(super) fn open_found_at(keys: &Keyring, found_card_id: Uuid, sealed: &[u8]) -> Result<String, DbError> {
    keys.open_string(Purpose::Data, sealed, &aad(FOUND_AT, found_card_id))
        .map_err(|e| corrupt(FOUND_AT, e))
}

pub(super) fn open_collect_at(keys: &Keyring, found_card_id: Uuid, sealed: &[u8]) -> Result<String, DbError> {
    keys.open_string(Purpose::Data, sealed, &aad(COLLECT_AT, found_card_id))
        .map_err(|e| corrupt(COLLECT_AT, e))
}
