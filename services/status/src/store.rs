//! Every SQL statement of the service, written once for SQLite and PostgreSQL.
//!
//! No column holds personal data in clear. Cards are found by keyed blind indexes (HMAC
//! under the index key) of their printed data and of the citizen id; the free text of a
//! found card (where found, where to collect) is sealed with the data key and bound to
//! its row and column. Callers pass domain values ([`PrintedCard`], [`CitizenId`]) and get
//! plain values back, never an index or a ciphertext. [`reseal_batch`] moves found cards
//! sealed under an older data key to the active one after a rotation.
//!
//! Look-ups go through every index key ([`Keyring::blind_indexes`]), so rows written
//! before an index key rotation are still found; a card's row takes the new key's index
//! the next time it is published.

mod cards;
mod found_cards;
mod sealing;
mod verifications;

use idcard_crypto::Keyring;
use idcard_db::DbError;
use idcard_domain::CitizenId;

pub use cards::{CardRecord, KnownCard, Published, card_for, publish, status_for};
pub use found_cards::{NewFoundCard, insert_found_card, newest_found_card};
pub use sealing::reseal_batch;
pub use verifications::{Verification, insert_verifications};

#[cfg(test)]
use crate::card::PrintedCard;

/// Every blind index of `citizen_id` (one per index key, the active key's first).
fn citizen_id_indexes(keys: &Keyring, citizen_id: &CitizenId) -> Vec<Vec<u8>> {
    keys.blind_indexes(&citizen_id_text(citizen_id))
}

/// The blind index of `citizen_id` under the active index key, as rows are written.
fn citizen_id_index(keys: &Keyring, citizen_id: &CitizenId) -> Vec<u8> {
    keys.blind_index(&citizen_id_text(citizen_id))
}

/// The field name keeps equal strings of other fields from matching.
fn citizen_id_text(citizen_id: &CitizenId) -> String {
    format!("citizen_id:{}", citizen_id.as_str())
}

/// `$first, $first + 1, ...`: `count` placeholders for an `IN (...)` list.
fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A stored value this version cannot read: an internal error, never shown to callers.
fn corrupt(column: &str, err: impl std::error::Error + Send + Sync + 'static) -> DbError {
    DbError::Sqlx(sqlx::Error::ColumnDecode {
        index: column.to_string(),
        source: Box::new(err),
    })
}

fn sealing_failed(err: idcard_crypto::CryptoError) -> DbError {
    DbError::Sqlx(sqlx::Error::Encode(Box::new(err)))
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::*;

    #[test]
    fn placeholders_number_from_the_first() {
        assert_eq!(placeholders(1, 1), "$1");
        assert_eq!(placeholders(3, 3), "$3, $4, $5");
    }

    #[test]
    fn the_two_indexes_of_one_citizen_differ() {
        let dir = tempfile::tempdir().expect("temp dir");
        let keys = Keyring::generate(dir.path().join("keys")).expect("keys");
        let id = CitizenId::parse("11010519491231002X", date!(2026 - 01 - 01)).expect("valid id");
        let printed = PrintedCard::new(id.clone(), "王秀英", date!(2016 - 03 - 02)).expect("a name");
        assert_ne!(citizen_id_index(&keys, &id), keys.blind_index(&printed.key_text()));
        assert_eq!(citizen_id_indexes(&keys, &id), vec![citizen_id_index(&keys, &id)]);
    }
}
