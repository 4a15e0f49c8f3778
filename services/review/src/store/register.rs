//! `residents` and `cards`: the household register and the cards of each resident.
//!
//! A resident is found by the blind index of their citizen id; their card items and
//! phone are sealed with the data key. Cards carry the holder's blind index only.

use std::str::FromStr;

use idcard_crypto::Keyring;
use idcard_db::{DbError, Tx, on_tx};
use idcard_domain::Sex;
use uuid::Uuid;

use super::sealing::{citizen_index, citizen_indexes, marker, open_text, seal_text};
use super::{corrupt, date_from_sql, date_to_sql, placeholders};
use crate::register::{Card, CardStatus, Resident};

type ResidentColumns = (
    Uuid,
    Vec<u8>,
    Vec<u8>,
    String,
    Vec<u8>,
    Vec<u8>,
    Vec<u8>,
    String,
    bool,
    Vec<u8>,
    bool,
    bool,
    bool,
);

pub async fn find_resident(tx: &mut Tx, keys: &Keyring, citizen_id: &str) -> Result<Option<Resident>, DbError> {
    let indexes = citizen_indexes(keys, citizen_id);
    let sql = format!(
        "SELECT resident_id, citizen_id_sealed, name_sealed, sex, ethnicity_sealed, birth_date_sealed, \
         domicile_address_sealed, domicile_region_code, fingerprint_on_record, phone_sealed, record_locked, bad_credit, \
         forged_documents_on_record FROM residents WHERE citizen_id_index IN ({})",
        placeholders(1, indexes.len())
    );
    let row: Option<ResidentColumns> = on_tx!(tx, |conn| {
        let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()));
        for index in &indexes {
            query = query.bind(index.as_slice());
        }
        query.fetch_optional(conn).await?
    });
    let Some((
        id,
        citizen_id,
        name,
        sex,
        ethnicity,
        birth,
        address,
        region,
        fingerprint,
        phone,
        locked,
        bad_credit,
        forged,
    )) = row
    else {
        return Ok(None);
    };
    let open = |column: &str, sealed: &[u8]| open_text(keys, column, &id, sealed);
    Ok(Some(Resident {
        citizen_id: open(CITIZEN_ID, &citizen_id)?,
        name: open(NAME, &name)?,
        sex: Sex::from_str(&sex).map_err(|err| corrupt(err.to_string()))?,
        ethnicity: open(ETHNICITY, &ethnicity)?,
        birth_date: date_from_sql(&open(BIRTH_DATE, &birth)?)?,
        domicile_address: open(ADDRESS, &address)?,
        domicile_region_code: region,
        fingerprint_on_record: fingerprint,
        phone: open(PHONE, &phone)?,
        record_locked: locked,
        bad_credit,
        forged_documents_on_record: forged,
    }))
}

// The sealed columns of `residents`, as their values' associated data names them.
pub(super) const CITIZEN_ID: &str = "residents.citizen_id";
pub(super) const NAME: &str = "residents.name";
pub(super) const ETHNICITY: &str = "residents.ethnicity";
pub(super) const BIRTH_DATE: &str = "residents.birth_date";
pub(super) const ADDRESS: &str = "residents.domicile_address";
pub(super) const PHONE: &str = "residents.phone";

/// The text behind the identity index: name, sex, birth date and address, white space
/// collapsed, each part length-prefixed so that no two tuples give the same text.
fn identity_text(resident: &Resident) -> String {
    let collapse = |text: &str| text.split_whitespace().collect::<Vec<_>>().join(" ");
    let parts = [
        collapse(&resident.name),
        resident.sex.as_str().to_string(),
        date_to_sql(resident.birth_date),
        collapse(&resident.domicile_address),
    ];
    parts.iter().fold(String::from("resident_identity"), |mut text, part| {
        text.push_str(&format!("|{}:{part}", part.chars().count()));
        text
    })
}

/// Whether another record (another citizen id) has the same name, sex, birth date and
/// domicile address: the same person registered twice. Compared through the identity
/// blind index, so no name or address is ever compared in clear.
pub async fn has_duplicate_record(tx: &mut Tx, keys: &Keyring, resident: &Resident) -> Result<bool, DbError> {
    let identities = keys.blind_indexes(&identity_text(resident));
    let sql = format!(
        "SELECT citizen_id_index FROM residents WHERE identity_index IN ({})",
        placeholders(1, identities.len())
    );
    let holders: Vec<Vec<u8>> = on_tx!(tx, |conn| {
        let mut query = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.as_str()));
        for index in &identities {
            query = query.bind(index.as_slice());
        }
        query.fetch_all(conn).await?
    });
    let own = citizen_indexes(keys, &resident.citizen_id);
    Ok(holders.iter().any(|holder| !own.contains(holder)))
}

pub enum Upserted {
    Inserted,
    Updated,
}

/// A resident's values as stored.
struct SealedResident {
    citizen_id_index: Vec<u8>,
    identity_index: Vec<u8>,
    citizen_id: Vec<u8>,
    name: Vec<u8>,
    ethnicity: Vec<u8>,
    birth_date: Vec<u8>,
    address: Vec<u8>,
    phone: Vec<u8>,
    sealed_under: String,
}

impl SealedResident {
    fn seal(keys: &Keyring, resident_id: Uuid, resident: &Resident) -> Result<SealedResident, DbError> {
        let seal = |column: &str, text: &str| seal_text(keys, column, &resident_id, text);
        Ok(SealedResident {
            citizen_id_index: citizen_index(keys, &resident.citizen_id),
            identity_index: keys.blind_index(&identity_text(resident)),
            citizen_id: seal(CITIZEN_ID, &resident.citizen_id)?,
            name: seal(NAME, &resident.name)?,
            ethnicity: seal(ETHNICITY, &resident.ethnicity)?,
            birth_date: seal(BIRTH_DATE, &date_to_sql(resident.birth_date))?,
            address: seal(ADDRESS, &resident.domicile_address)?,
            phone: seal(PHONE, &resident.phone)?,
            sealed_under: marker(keys),
        })
    }
}

/// Creates or replaces the record of `resident.citizen_id`.
pub async fn upsert_resident(
    tx: &mut Tx,
    keys: &Keyring,
    resident: &Resident,
    now_ms: i64,
) -> Result<Upserted, DbError> {
    let indexes = citizen_indexes(keys, &resident.citizen_id);
    let sql = format!(
        "SELECT resident_id FROM residents WHERE citizen_id_index IN ({})",
        placeholders(1, indexes.len())
    );
    let existing: Option<Uuid> = on_tx!(&mut *tx, |conn| {
        let mut query = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.as_str()));
        for index in &indexes {
            query = query.bind(index.as_slice());
        }
        query.fetch_optional(conn).await?
    });
    let resident_id = existing.unwrap_or_else(Uuid::now_v7);
    let sealed = SealedResident::seal(keys, resident_id, resident)?;
    let sql = if existing.is_some() {
        "UPDATE residents SET citizen_id_index = $2, identity_index = $3, citizen_id_sealed = $4, name_sealed = $5, \
         sex = $6, ethnicity_sealed = $7, birth_date_sealed = $8, domicile_address_sealed = $9, \
         domicile_region_code = $10, fingerprint_on_record = $11, phone_sealed = $12, record_locked = $13, \
         bad_credit = $14, forged_documents_on_record = $15, sealed_under = $16, updated_at_ms = $17 \
         WHERE resident_id = $1"
    } else {
        "INSERT INTO residents (resident_id, citizen_id_index, identity_index, citizen_id_sealed, name_sealed, sex, \
         ethnicity_sealed, birth_date_sealed, domicile_address_sealed, domicile_region_code, fingerprint_on_record, \
         phone_sealed, record_locked, bad_credit, forged_documents_on_record, sealed_under, updated_at_ms) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)"
    };
    on_tx!(tx, |conn| {
        sqlx::query(sql)
            .bind(resident_id)
            .bind(sealed.citizen_id_index.as_slice())
            .bind(sealed.identity_index.as_slice())
            .bind(sealed.citizen_id.as_slice())
            .bind(sealed.name.as_slice())
            .bind(resident.sex.as_str())
            .bind(sealed.ethnicity.as_slice())
            .bind(sealed.birth_date.as_slice())
            .bind(sealed.address.as_slice())
            .bind(resident.domicile_region_code.as_str())
            .bind(resident.fingerprint_on_record)
            .bind(sealed.phone.as_slice())
            .bind(resident.record_locked)
            .bind(resident.bad_credit)
            .bind(resident.forged_documents_on_record)
            .bind(sealed.sealed_under.as_str())
            .bind(now_ms)
            .execute(conn)
            .await?
            .rows_affected()
    });
    Ok(if existing.is_some() {
        Upserted::Updated
    } else {
        Upserted::Inserted
    })
}

type CardColumns = (Uuid, String, Option<String>, String, String, Option<Uuid>, i64);

/// Every card of a resident, oldest first.
pub async fn cards_of(tx: &mut Tx, keys: &Keyring, citizen_id: &str) -> Result<Vec<Card>, DbError> {
    let indexes = citizen_indexes(keys, citizen_id);
    let sql = format!(
        "SELECT card_id, validity_start, validity_end, issuing_authority, status, application_id, issued_at_ms \
         FROM cards WHERE citizen_id_index IN ({}) ORDER BY validity_start, issued_at_ms",
        placeholders(1, indexes.len())
    );
    let rows: Vec<CardColumns> = on_tx!(tx, |conn| {
        let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()));
        for index in &indexes {
            query = query.bind(index.as_slice());
        }
        query.fetch_all(conn).await?
    });
    rows.into_iter()
        .map(
            |(card_id, start, end, issuing_authority, status, application_id, issued_at_ms)| {
                Ok(Card {
                    card_id,
                    citizen_id: citizen_id.to_string(),
                    validity_start: date_from_sql(&start)?,
                    validity_end: end.as_deref().map(date_from_sql).transpose()?,
                    issuing_authority,
                    status: CardStatus::parse(&status).ok_or_else(|| corrupt(format!("card status {status:?}")))?,
                    application_id,
                    issued_at_ms,
                })
            },
        )
        .collect()
}

/// Inserts a card issued on approval; its first status version is its issue time.
pub async fn insert_card(tx: &mut Tx, keys: &Keyring, card: &Card) -> Result<(), DbError> {
    let index = citizen_index(keys, &card.citizen_id);
    on_tx!(tx, |conn| {
        sqlx::query(
            "INSERT INTO cards (card_id, citizen_id_index, validity_start, validity_end, issuing_authority, status, \
             application_id, issued_at_ms, status_version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
        )
        .bind(card.card_id)
        .bind(index.as_slice())
        .bind(date_to_sql(card.validity_start))
        .bind(card.validity_end.map(date_to_sql))
        .bind(card.issuing_authority.as_str())
        .bind(card.status.as_str())
        .bind(card.application_id)
        .bind(card.issued_at_ms)
        .execute(conn)
        .await?
        .rows_affected()
    });
    Ok(())
}

/// The next status version of a card whose last one is `column`, for a change at `$n`:
/// the change time, or one more than the last version when that is not earlier.
fn next_version(column: &str, at: &str) -> String {
    format!("CASE WHEN {column} >= {at} THEN {column} + 1 ELSE {at} END")
}

/// Sets the status of card `card_id` as of `at_ms` and returns its new status version
/// (strictly greater than any before), or `None` for an unknown card.
pub async fn set_card_status(
    tx: &mut Tx,
    card_id: Uuid,
    status: CardStatus,
    at_ms: i64,
) -> Result<Option<i64>, DbError> {
    let sql = format!(
        "UPDATE cards SET status = $2, status_version = {} WHERE card_id = $1 RETURNING status_version",
        next_version("status_version", "$3")
    );
    Ok(on_tx!(tx, |conn| {
        sqlx::query_scalar(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(card_id)
            .bind(status.as_str())
            .bind(at_ms)
            .fetch_optional(conn)
            .await?
    }))
}

/// What an import did to a resident's cards.
pub struct ImportedCards {
    /// Positions in `cards` whose id belongs to another resident's card; the caller
    /// rolls back.
    pub foreign: Vec<usize>,
    /// The status version each written card got, by position in `cards`.
    pub versions: Vec<(usize, i64)>,
}

/// Replaces the imported cards of `citizen_id` with `cards`, as of `at_ms`. Cards this
/// bureau issued on approval stay unless `cards` names them (then they are updated).
/// Every written card gets a new status version (its status is published again).
pub async fn upsert_imported_cards(
    tx: &mut Tx,
    keys: &Keyring,
    citizen_id: &str,
    cards: &[Card],
    at_ms: i64,
) -> Result<ImportedCards, DbError> {
    let indexes = citizen_indexes(keys, citizen_id);
    // Cards named again keep their row, so that their status version keeps increasing.
    let kept = if cards.is_empty() {
        String::new()
    } else {
        format!(" AND card_id NOT IN ({})", placeholders(indexes.len() + 1, cards.len()))
    };
    let delete = format!(
        "DELETE FROM cards WHERE application_id IS NULL AND citizen_id_index IN ({}){kept}",
        placeholders(1, indexes.len())
    );
    on_tx!(&mut *tx, |conn| {
        let mut query = sqlx::query(sqlx::AssertSqlSafe(delete.as_str()));
        for index in &indexes {
            query = query.bind(index.as_slice());
        }
        for card in cards {
            query = query.bind(card.card_id);
        }
        query.execute(conn).await?.rows_affected()
    });
    // A card already stored under an older index key of the same citizen is theirs too.
    let upsert = format!(
        "INSERT INTO cards (card_id, citizen_id_index, validity_start, validity_end, issuing_authority, status, \
         application_id, issued_at_ms, status_version) VALUES ($1, $2, $3, $4, $5, $6, NULL, $7, $8) \
         ON CONFLICT (card_id) DO UPDATE SET citizen_id_index = excluded.citizen_id_index, \
         validity_start = excluded.validity_start, validity_end = excluded.validity_end, \
         issuing_authority = excluded.issuing_authority, status = excluded.status, status_version = {} \
         WHERE cards.citizen_id_index IN ({}) RETURNING status_version",
        next_version("cards.status_version", "$8"),
        placeholders(9, indexes.len())
    );
    let active = citizen_index(keys, citizen_id);
    let mut imported = ImportedCards {
        foreign: Vec::new(),
        versions: Vec::with_capacity(cards.len()),
    };
    for (position, card) in cards.iter().enumerate() {
        let version: Option<i64> = on_tx!(&mut *tx, |conn| {
            let mut query = sqlx::query_scalar(sqlx::AssertSqlSafe(upsert.as_str()))
                .bind(card.card_id)
                .bind(active.as_slice())
                .bind(date_to_sql(card.validity_start))
                .bind(card.validity_end.map(date_to_sql))
                .bind(card.issuing_authority.as_str())
                .bind(card.status.as_str())
                .bind(card.issued_at_ms)
                .bind(at_ms);
            for index in &indexes {
                query = query.bind(index.as_slice());
            }
            query.fetch_optional(conn).await?
        });
        match version {
            Some(version) => imported.versions.push((position, version)),
            None => imported.foreign.push(position),
        }
    }
    Ok(imported)
}
