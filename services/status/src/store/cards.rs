//! The status index: one row per card, keyed for verification by the blind index of its
//! printed data.

use idcard_crypto::Keyring;
use idcard_db::{Backend, Db, DbError, Tx, now_ms, on_db, on_tx};
use idcard_server::wire::{date_from_text, date_to_text};
use sqlx::Row;
use time::Date;
use uuid::Uuid;

use super::{citizen_id_index, corrupt, placeholders};
use crate::card::{CardStatus, Indexed, PrintedCard, supersedes};

/// A card's status as a review service published it.
#[derive(Debug)]
pub struct CardRecord<'a> {
    pub card_id: Uuid,
    pub printed: &'a PrintedCard,
    pub status: CardStatus,
    pub validity_end: Option<Date>,
    pub issuer: &'a str,
    pub version: i64,
}

/// What [`publish`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Published {
    /// The card's row now says what the record says.
    Stored,
    /// The index already holds this version of the card or a newer one: nothing changed.
    Stale,
    /// Another card with the same printed data holds the key and supersedes this one:
    /// the record is not kept (and an older row of this card, if any, is gone).
    Superseded { by: Uuid },
}

// PostgreSQL locks the card's row, so that two publishes of one card take turns; SQLite
// has one writer at a time.
const HELD_VERSION_SQLITE: &str = "SELECT version FROM cards WHERE card_id = $1";
const HELD_VERSION_POSTGRES: &str = "SELECT version FROM cards WHERE card_id = $1 FOR UPDATE";

/// Stores `card` unless the index holds the same or a newer version of it, keeping one
/// card per verification key: of two cards with the same printed data, the one that
/// [`supersedes`] the other.
#[tracing::instrument(skip_all, fields(card_id = %card.card_id, version = card.version))]
pub async fn publish(tx: &mut Tx, keys: &Keyring, card: &CardRecord<'_>) -> Result<Published, DbError> {
    let sql = match tx.backend() {
        Backend::Sqlite => HELD_VERSION_SQLITE,
        Backend::Postgres => HELD_VERSION_POSTGRES,
    };
    let held: Option<i64> = on_tx!(&mut *tx, |conn| {
        sqlx::query_scalar(sql).bind(card.card_id).fetch_optional(conn).await?
    });
    if held.is_some_and(|held| held >= card.version) {
        return Ok(Published::Stale);
    }

    // Other cards under the same printed data, under any index key.
    let key_text = card.printed.key_text();
    let indexes = keys.blind_indexes(&key_text);
    let others_sql = format!(
        "SELECT card_id, status, version FROM cards WHERE verification_key IN ({}) AND card_id <> ${}",
        placeholders(1, indexes.len()),
        indexes.len() + 1
    );
    let others: Vec<(Uuid, String, i64)> = on_tx!(&mut *tx, |conn| {
        let mut query = sqlx::query_as(sqlx::AssertSqlSafe(others_sql.as_str()));
        for index in &indexes {
            query = query.bind(index.as_slice());
        }
        query.bind(card.card_id).fetch_all(conn).await?
    });
    for (other_id, other_status, other_version) in &others {
        let other_status = CardStatus::parse(other_status).ok_or_else(|| unknown_status(other_status))?;
        if supersedes((other_status, *other_version), (card.status, card.version)) {
            if held.is_some() {
                delete(tx, card.card_id).await?;
            }
            return Ok(Published::Superseded { by: *other_id });
        }
    }
    for (other_id, _, _) in &others {
        delete(tx, *other_id).await?;
    }

    let validity_end = card.validity_end.map(date_to_text);
    let stored = on_tx!(tx, |conn| {
        sqlx::query(
            "INSERT INTO cards (card_id, verification_key, citizen_id_index, status, validity_end, issuer, version, \
             updated_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (card_id) DO UPDATE SET verification_key = excluded.verification_key, \
             citizen_id_index = excluded.citizen_id_index, status = excluded.status, \
             validity_end = excluded.validity_end, issuer = excluded.issuer, version = excluded.version, \
             updated_at_ms = excluded.updated_at_ms \
             WHERE cards.version < excluded.version",
        )
        .bind(card.card_id)
        .bind(keys.blind_index(&key_text))
        .bind(citizen_id_index(keys, card.printed.citizen_id()))
        .bind(card.status.as_str())
        .bind(validity_end.as_deref())
        .bind(card.issuer)
        .bind(card.version)
        .bind(now_ms())
        .execute(conn)
        .await?
        .rows_affected()
    });
    Ok(if stored == 1 {
        Published::Stored
    } else {
        Published::Stale
    })
}

async fn delete(tx: &mut Tx, card_id: Uuid) -> Result<(), DbError> {
    on_tx!(tx, |conn| {
        sqlx::query("DELETE FROM cards WHERE card_id = $1")
            .bind(card_id)
            .execute(conn)
            .await?
            .rows_affected()
    });
    Ok(())
}

/// What the index holds for `printed`: the verification's one indexed read, on the pool
/// (a single statement needs no transaction).
pub async fn status_for(db: &Db, keys: &Keyring, printed: &PrintedCard) -> Result<Option<Indexed>, DbError> {
    let indexes = keys.blind_indexes(&printed.key_text());
    let sql = format!(
        "SELECT status, validity_end FROM cards WHERE verification_key IN ({}) LIMIT 1",
        placeholders(1, indexes.len())
    );
    let row: Option<(String, Option<String>)> = on_db!(db, |pool| {
        let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()));
        for index in &indexes {
            query = query.bind(index.as_slice());
        }
        query.fetch_optional(pool).await?
    });
    let Some((status, validity_end)) = row else {
        return Ok(None);
    };
    let status = CardStatus::parse(&status).ok_or_else(|| unknown_status(&status))?;
    let validity_end = match validity_end {
        None => None,
        Some(text) => Some(date_from_text(&text).ok_or_else(|| {
            corrupt(
                "cards.validity_end",
                std::io::Error::other(format!("{text:?} is not a YYYY-MM-DD date")),
            )
        })?),
    };
    Ok(Some(Indexed { status, validity_end }))
}

/// A card the index knows, as a found-card notice names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownCard {
    pub card_id: Uuid,
    /// The review service that issued it (a peer name).
    pub issuer: String,
}

/// The card the index holds for `printed`, if any.
pub async fn card_for(tx: &mut Tx, keys: &Keyring, printed: &PrintedCard) -> Result<Option<KnownCard>, DbError> {
    let indexes = keys.blind_indexes(&printed.key_text());
    let sql = format!(
        "SELECT card_id, issuer FROM cards WHERE verification_key IN ({}) LIMIT 1",
        placeholders(1, indexes.len())
    );
    let row = on_tx!(tx, |conn| {
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()));
        for index in &indexes {
            query = query.bind(index.as_slice());
        }
        match query.fetch_optional(conn).await? {
            Some(row) => Some(KnownCard {
                card_id: row.try_get(0)?,
                issuer: row.try_get(1)?,
            }),
            None => None,
        }
    });
    Ok(row)
}

fn unknown_status(text: &str) -> DbError {
    corrupt(
        "cards.status",
        std::io::Error::other(format!("unknown status {text:?}")),
    )
}
