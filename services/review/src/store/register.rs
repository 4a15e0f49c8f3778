//! `residents` and `cards`: the household register and the cards of each resident.

use idcard_db::{DbError, Tx, on_tx};
use idcard_domain::Sex;
use std::str::FromStr;
use uuid::Uuid;

use super::{corrupt, date_from_sql, date_to_sql};
use crate::register::{Card, CardStatus, Resident};

type ResidentColumns = (
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    bool,
    String,
    bool,
    bool,
    bool,
);

pub async fn find_resident(tx: &mut Tx, citizen_id: &str) -> Result<Option<Resident>, DbError> {
    let row: Option<ResidentColumns> = on_tx!(tx, |conn| {
        sqlx::query_as(
            "SELECT citizen_id, name, sex, ethnicity, birth_date, domicile_address, domicile_region_code, \
             fingerprint_on_record, phone, record_locked, bad_credit, forged_documents_on_record \
             FROM residents WHERE citizen_id = $1",
        )
        .bind(citizen_id)
        .fetch_optional(conn)
        .await?
    });
    let Some((
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
    Ok(Some(Resident {
        citizen_id,
        name,
        sex: Sex::from_str(&sex).map_err(|err| corrupt(err.to_string()))?,
        ethnicity,
        birth_date: date_from_sql(&birth)?,
        domicile_address: address,
        domicile_region_code: region,
        fingerprint_on_record: fingerprint,
        phone,
        record_locked: locked,
        bad_credit,
        forged_documents_on_record: forged,
    }))
}

/// Whether another record (another citizen id) has the same name, sex, birth date and
/// domicile address: the same person registered twice.
pub async fn has_duplicate_record(tx: &mut Tx, resident: &Resident) -> Result<bool, DbError> {
    let count: i64 = on_tx!(tx, |conn| {
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM residents WHERE name = $1 AND birth_date = $2 AND sex = $3 \
             AND domicile_address = $4 AND citizen_id <> $5",
        )
        .bind(resident.name.as_str())
        .bind(date_to_sql(resident.birth_date))
        .bind(resident.sex.as_str())
        .bind(resident.domicile_address.as_str())
        .bind(resident.citizen_id.as_str())
        .fetch_one(conn)
        .await?
    });
    Ok(count > 0)
}

pub enum Upserted {
    Inserted,
    Updated,
}

/// Creates or replaces the record of `resident.citizen_id`.
pub async fn upsert_resident(tx: &mut Tx, resident: &Resident, now_ms: i64) -> Result<Upserted, DbError> {
    let birth = date_to_sql(resident.birth_date);
    let updated = on_tx!(&mut *tx, |conn| {
        sqlx::query(
            "UPDATE residents SET name = $2, sex = $3, ethnicity = $4, birth_date = $5, domicile_address = $6, \
             domicile_region_code = $7, fingerprint_on_record = $8, phone = $9, record_locked = $10, bad_credit = $11, \
             forged_documents_on_record = $12, updated_at_ms = $13 WHERE citizen_id = $1",
        )
        .bind(resident.citizen_id.as_str())
        .bind(resident.name.as_str())
        .bind(resident.sex.as_str())
        .bind(resident.ethnicity.as_str())
        .bind(birth.as_str())
        .bind(resident.domicile_address.as_str())
        .bind(resident.domicile_region_code.as_str())
        .bind(resident.fingerprint_on_record)
        .bind(resident.phone.as_str())
        .bind(resident.record_locked)
        .bind(resident.bad_credit)
        .bind(resident.forged_documents_on_record)
        .bind(now_ms)
        .execute(conn)
        .await?
        .rows_affected()
    });
    if updated == 1 {
        return Ok(Upserted::Updated);
    }
    on_tx!(tx, |conn| {
        sqlx::query(
            "INSERT INTO residents (citizen_id, name, sex, ethnicity, birth_date, domicile_address, domicile_region_code, \
             fingerprint_on_record, phone, record_locked, bad_credit, forged_documents_on_record, updated_at_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(resident.citizen_id.as_str())
        .bind(resident.name.as_str())
        .bind(resident.sex.as_str())
        .bind(resident.ethnicity.as_str())
        .bind(birth.as_str())
        .bind(resident.domicile_address.as_str())
        .bind(resident.domicile_region_code.as_str())
        .bind(resident.fingerprint_on_record)
        .bind(resident.phone.as_str())
        .bind(resident.record_locked)
        .bind(resident.bad_credit)
        .bind(resident.forged_documents_on_record)
        .bind(now_ms)
        .execute(conn)
        .await?
        .rows_affected()
    });
    Ok(Upserted::Inserted)
}

type CardColumns = (Uuid, String, String, Option<String>, String, String, Option<Uuid>, i64);

/// Every card of a resident, oldest first.
pub async fn cards_of(tx: &mut Tx, citizen_id: &str) -> Result<Vec<Card>, DbError> {
    let rows: Vec<CardColumns> = on_tx!(tx, |conn| {
        sqlx::query_as(
            "SELECT card_id, citizen_id, validity_start, validity_end, issuing_authority, status, application_id, \
             issued_at_ms FROM cards WHERE citizen_id = $1 ORDER BY validity_start, issued_at_ms",
        )
        .bind(citizen_id)
        .fetch_all(conn)
        .await?
    });
    rows.into_iter()
        .map(
            |(card_id, citizen_id, start, end, issuing_authority, status, application_id, issued_at_ms)| {
                Ok(Card {
                    card_id,
                    citizen_id,
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

pub async fn insert_card(tx: &mut Tx, card: &Card) -> Result<(), DbError> {
    on_tx!(tx, |conn| {
        sqlx::query(
            "INSERT INTO cards (card_id, citizen_id, validity_start, validity_end, issuing_authority, status, \
             application_id, issued_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(card.card_id)
        .bind(card.citizen_id.as_str())
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

/// A replacement makes every other card of the resident invalid for good (an active
/// card, and a card reported lost, whose report ends here). Returns how many.
pub async fn invalidate_cards_except(tx: &mut Tx, citizen_id: &str, keep: Uuid) -> Result<u64, DbError> {
    let updated = on_tx!(tx, |conn| {
        sqlx::query(
            "UPDATE cards SET status = 'invalidated' WHERE citizen_id = $1 AND card_id <> $2 \
             AND status IN ('active', 'reported_lost')",
        )
        .bind(citizen_id)
        .bind(keep)
        .execute(conn)
        .await?
        .rows_affected()
    });
    Ok(updated)
}

/// Replaces the imported cards of `citizen_id` with `cards`. Cards this bureau issued
/// on approval stay unless `cards` names them (then they are updated). Returns the
/// positions in `cards` whose id belongs to another resident's card; the caller rolls
/// back.
pub async fn upsert_imported_cards(tx: &mut Tx, citizen_id: &str, cards: &[Card]) -> Result<Vec<usize>, DbError> {
    on_tx!(&mut *tx, |conn| {
        sqlx::query("DELETE FROM cards WHERE citizen_id = $1 AND application_id IS NULL")
            .bind(citizen_id)
            .execute(conn)
            .await?
            .rows_affected()
    });
    let mut foreign = Vec::new();
    for (position, card) in cards.iter().enumerate() {
        let written = on_tx!(&mut *tx, |conn| {
            sqlx::query(
                "INSERT INTO cards (card_id, citizen_id, validity_start, validity_end, issuing_authority, status, \
                 application_id, issued_at_ms) VALUES ($1, $2, $3, $4, $5, $6, NULL, $7) \
                 ON CONFLICT (card_id) DO UPDATE SET validity_start = excluded.validity_start, \
                 validity_end = excluded.validity_end, issuing_authority = excluded.issuing_authority, \
                 status = excluded.status WHERE cards.citizen_id = excluded.citizen_id",
            )
            .bind(card.card_id)
            .bind(citizen_id)
            .bind(date_to_sql(card.validity_start))
            .bind(card.validity_end.map(date_to_sql))
            .bind(card.issuing_authority.as_str())
            .bind(card.status.as_str())
            .bind(card.issued_at_ms)
            .execute(conn)
            .await?
            .rows_affected()
        });
        if written == 0 {
            foreign.push(position);
        }
    }
    Ok(foreign)
}
