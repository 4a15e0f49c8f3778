//! Sealing and opening the personal data of one row, and the blind indexes the rows are
//! found by.
//!
//! Every sealed value is bound to its place by associated data
//! `<table>.<column>:<row id>` (a row id that never changes, not a blind index, which
//! would change with the index key): a ciphertext copied into another row or column
//! does not open.

use std::fmt::Display;

use idcard_crypto::{Keyring, Purpose};
use idcard_db::DbError;

use super::corrupt;

fn aad(column: &str, row: &dyn Display) -> Vec<u8> {
    format!("{column}:{row}").into_bytes()
}

/// Seals `plaintext` for `column` (`table.column`) of `row`.
pub(super) fn seal(
    keys: &Keyring,
    purpose: Purpose,
    column: &str,
    row: &dyn Display,
    plaintext: &[u8],
) -> Result<Vec<u8>, DbError> {
    keys.seal(purpose, plaintext, &aad(column, row))
        .map_err(|err| DbError::Config(format!("sealing {column}: {err}")))
}

pub(super) fn seal_text(keys: &Keyring, column: &str, row: &dyn Display, text: &str) -> Result<Vec<u8>, DbError> {
    seal(keys, Purpose::Data, column, row, text.as_bytes())
}

pub(super) fn open(
    keys: &Keyring,
    purpose: Purpose,
    column: &str,
    row: &dyn Display,
    sealed: &[u8],
) -> Result<Vec<u8>, DbError> {
    keys.open(purpose, sealed, &aad(column, row))
        .map_err(|err| corrupt(format!("{column} of {row} does not open: {err}")))
}

pub(super) fn open_text(keys: &Keyring, column: &str, row: &dyn Display, sealed: &[u8]) -> Result<String, DbError> {
    String::from_utf8(open(keys, Purpose::Data, column, row, sealed)?)
        .map_err(|_| corrupt(format!("{column} of {row} is not utf-8")))
}

/// The value re-sealed under the active key of `purpose`, or `None` when it already is.
pub(super) fn reseal(
    keys: &Keyring,
    purpose: Purpose,
    column: &str,
    row: &dyn Display,
    sealed: &[u8],
) -> Result<Option<Vec<u8>>, DbError> {
    if keys.is_current(purpose, sealed) {
        return Ok(None);
    }
    let plaintext = open(keys, purpose, column, row, sealed)?;
    seal(keys, purpose, column, row, &plaintext).map(Some)
}

/// What `sealed_under` says for a row sealed with `keys`: the active data and biometric
/// key ids. A row whose marker differs may hold values under older keys.
pub(super) fn marker(keys: &Keyring) -> String {
    format!(
        "{}/{}",
        keys.active_key_id(Purpose::Data),
        keys.active_key_id(Purpose::Biometric)
    )
}

/// The blind index a row is stored under: the normalised citizen id under the active
/// index key.
pub(super) fn citizen_index(keys: &Keyring, citizen_id: &str) -> Vec<u8> {
    keys.blind_index(&citizen_key(citizen_id))
}

/// Every blind index `citizen_id` may be stored under (one per index key), for look-ups.
pub(super) fn citizen_indexes(keys: &Keyring, citizen_id: &str) -> Vec<Vec<u8>> {
    keys.blind_indexes(&citizen_key(citizen_id))
}

fn citizen_key(citizen_id: &str) -> String {
    format!("citizen_id:{}", citizen_id.trim().to_ascii_uppercase())
}
