//! The found-card register.

use idcard_crypto::Keyring;
use idcard_db::{DbError, Tx, on_tx};
use idcard_domain::CitizenId;
use uuid::Uuid;

use super::sealing::{Sealed, open_collect_at, open_found_at};
use super::{citizen_id_index, citizen_id_indexes, placeholders};

/// A found card to register.
#[derive(Debug)]
pub struct NewFoundCard<'a> {
    pub found_card_id: Uuid,
    pub citizen_id: &'a CitizenId,
    pub found_at: &'a str,
    pub collect_at: &'a str,
    pub station_code: &'a str,
    /// The known card it matched, if any.
    pub matched_card_id: Option<Uuid>,
    pub registered_at_ms: i64,
}

/// Registers `card`, its free text sealed with the data key.
#[tracing::instrument(skip_all, fields(found_card_id = %card.found_card_id))]
pub async fn insert_found_card(tx: &mut Tx, keys: &Keyring, card: &NewFoundCard<'_>) -> Result<(), DbError> {
    let sealed = Sealed::seal(keys, card.found_card_id, card.found_at, card.collect_at)?;
    on_tx!(tx, |conn| {
        sqlx::query(
            "INSERT INTO found_cards (found_card_id, citizen_id_index, found_at_sealed, collect_at_sealed, data_key_id, \
             station_code, matched_card_id, registered_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(card.found_card_id)
        .bind(citizen_id_index(keys, card.citizen_id))
        .bind(&sealed.found_at)
        .bind(&sealed.collect_at)
        .bind(&sealed.key_id)
        .bind(card.station_code)
        .bind(card.matched_card_id)
        .bind(card.registered_at_ms)
        .execute(conn)
        .await?
        .rows_affected()
    });
    Ok(())
}

/// A registered found card, opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundCard {
    pub found_card_id: Uuid,
    pub found_at: String,
    pub collect_at: String,
    pub registered_at_ms: i64,
}

/// The most recently registered found card of `citizen_id`, if any.
#[tracing::instrument(skip_all)]
pub async fn newest_found_card(
    tx: &mut Tx,
    keys: &Keyring,
    citizen_id: &CitizenId,
) -> Result<Option<FoundCard>, DbError> {
    let indexes = citizen_id_indexes(keys, citizen_id);
    let sql = format!(
        "SELECT found_card_id, found_at_sealed, collect_at_sealed, registered_at_ms FROM found_cards \
         WHERE citizen_id_index IN ({}) ORDER BY registered_at_ms DESC, found_card_id DESC LIMIT 1",
        placeholders(1, indexes.len())
    );
    let row: Option<(Uuid, Vec<u8>, Vec<u8>, i64)> = on_tx!(tx, |conn| {
        let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()));
        for index in &indexes {
            query = query.bind(index.as_slice());
        }
        query.fetch_optional(conn).await?
    });
    let Some((found_card_id, found_at, collect_at, registered_at_ms)) = row else {
        return Ok(None);
    };
    Ok(Some(FoundCard {
        found_card_id,
        found_at: open_found_at(keys, found_card_id, &found_at)?,
        collect_at: open_collect_at(keys, found_card_id, &collect_at)?,
        registered_at_ms,
    }))
}
