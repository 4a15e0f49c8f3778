//! `online_report_challenges` and `online_report_locks`: the one-time codes of online
//! loss reports and the lock-out after wrong codes.
//!
//! A code is never stored: only its keyed hash (HMAC under the index key, bound to the
//! challenge id), so the database alone does not let anyone try the million codes.

use idcard_crypto::Keyring;
use idcard_db::{DbError, Tx, on_tx};
use uuid::Uuid;

use super::sealing::{citizen_index, marker, open_text, seal_text};

pub(super) const CITIZEN_ID: &str = "online_report_challenges.citizen_id";

/// A challenge: a code sent to the phone on record of the holder of `card_id`.
pub struct Challenge {
    pub challenge_id: Uuid,
    pub citizen_id: String,
    pub card_id: Uuid,
    pub created_at_ms: i64,
    pub expires_at_ms: i64,
    /// Set once the right code recorded a report.
    pub report_number: Option<String>,
    code_hash: Vec<u8>,
}

impl Challenge {
    pub fn new(challenge_id: Uuid, citizen_id: &str, card_id: Uuid, created_at_ms: i64, expires_at_ms: i64) -> Self {
        Challenge {
            challenge_id,
            citizen_id: citizen_id.to_string(),
            card_id,
            created_at_ms,
            expires_at_ms,
            report_number: None,
            code_hash: Vec::new(),
        }
    }

    /// Whether `code` is this challenge's code (under any index key, so a key rotation
    /// during the code's validity does not spoil it).
    pub fn code_matches(&self, keys: &Keyring, code: &str) -> bool {
        keys.blind_indexes(&code_text(self.challenge_id, code))
            .iter()
            .any(|hash| hash == &self.code_hash)
    }
}

fn code_text(challenge_id: Uuid, code: &str) -> String {
    format!("one_time_code:{challenge_id}:{code}")
}

/// Stores `challenge` with the keyed hash of `code`.
pub async fn insert_challenge(tx: &mut Tx, keys: &Keyring, challenge: &Challenge, code: &str) -> Result<(), DbError> {
    let id = challenge.challenge_id;
    let citizen_id = seal_text(keys, CITIZEN_ID, &id, &challenge.citizen_id)?;
    let code_hash = keys.blind_index(&code_text(id, code));
    on_tx!(tx, |conn| {
        sqlx::query(
            "INSERT INTO online_report_challenges (challenge_id, citizen_id_index, citizen_id_sealed, card_id, \
             code_hash, created_at_ms, expires_at_ms, sealed_under) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(id)
        .bind(citizen_index(keys, &challenge.citizen_id))
        .bind(citizen_id.as_slice())
        .bind(challenge.card_id)
        .bind(code_hash.as_slice())
        .bind(challenge.created_at_ms)
        .bind(challenge.expires_at_ms)
        .bind(marker(keys))
        .execute(conn)
        .await?
        .rows_affected()
    });
    Ok(())
}

type ChallengeColumns = (Vec<u8>, Uuid, Vec<u8>, i64, i64, Option<String>);

pub async fn find_challenge(tx: &mut Tx, keys: &Keyring, challenge_id: Uuid) -> Result<Option<Challenge>, DbError> {
    let row: Option<ChallengeColumns> = on_tx!(tx, |conn| {
        sqlx::query_as(
            "SELECT citizen_id_sealed, card_id, code_hash, created_at_ms, expires_at_ms, report_number \
             FROM online_report_challenges WHERE challenge_id = $1",
        )
        .bind(challenge_id)
        .fetch_optional(conn)
        .await?
    });
    let Some((citizen_id, card_id, code_hash, created_at_ms, expires_at_ms, report_number)) = row else {
        return Ok(None);
    };
    Ok(Some(Challenge {
        challenge_id,
        citizen_id: open_text(keys, CITIZEN_ID, &challenge_id, &citizen_id)?,
        card_id,
        created_at_ms,
        expires_at_ms,
        report_number,
        code_hash,
    }))
}

/// Marks a challenge used by report `report_number`. Returns `false` when another
/// confirmation used it first.
pub async fn claim_challenge(tx: &mut Tx, challenge_id: Uuid, report_number: &str) -> Result<bool, DbError> {
    let updated = on_tx!(tx, |conn| {
        sqlx::query(
            "UPDATE online_report_challenges SET report_number = $2 WHERE challenge_id = $1 AND report_number IS NULL",
        )
        .bind(challenge_id)
        .bind(report_number)
        .execute(conn)
        .await?
        .rows_affected()
    });
    Ok(updated == 1)
}

/// Until when online reporting for `card_id` is locked, if it is at `now_ms`.
pub async fn locked_until(tx: &mut Tx, card_id: Uuid, now_ms: i64) -> Result<Option<i64>, DbError> {
    let until: Option<Option<i64>> = on_tx!(tx, |conn| {
        sqlx::query_scalar("SELECT locked_until_ms FROM online_report_locks WHERE card_id = $1")
            .bind(card_id)
            .fetch_optional(conn)
            .await?
    });
    Ok(until.flatten().filter(|until| *until > now_ms))
}

/// What a wrong code did.
pub struct WrongCode {
    /// Wrong codes left before the lock.
    pub attempts_left: u32,
    /// Set when this wrong code locked reporting for the card.
    pub locked_until_ms: Option<i64>,
}

/// Counts a wrong code for `card_id`; the `max_attempts`th in a row locks online
/// reporting for the card until `now_ms + lock_ms` (and starts the count again).
pub async fn count_wrong_code(
    tx: &mut Tx,
    card_id: Uuid,
    now_ms: i64,
    max_attempts: u32,
    lock_ms: i64,
) -> Result<WrongCode, DbError> {
    let failed: i64 = on_tx!(&mut *tx, |conn| {
        sqlx::query_scalar(
            "INSERT INTO online_report_locks (card_id, failed_attempts, locked_until_ms) VALUES ($1, 1, NULL) \
             ON CONFLICT (card_id) DO UPDATE SET failed_attempts = online_report_locks.failed_attempts + 1 \
             RETURNING failed_attempts",
        )
        .bind(card_id)
        .fetch_one(conn)
        .await?
    });
    let max = i64::from(max_attempts);
    if failed < max {
        return Ok(WrongCode {
            attempts_left: u32::try_from(max - failed).unwrap_or(0),
            locked_until_ms: None,
        });
    }
    let until = now_ms.saturating_add(lock_ms);
    on_tx!(tx, |conn| {
        sqlx::query("UPDATE online_report_locks SET failed_attempts = 0, locked_until_ms = $2 WHERE card_id = $1")
            .bind(card_id)
            .bind(until)
            .execute(conn)
            .await?
            .rows_affected()
    });
    Ok(WrongCode {
        attempts_left: 0,
        locked_until_ms: Some(until),
    })
}

/// The right code: wrong codes before it no longer count.
pub async fn clear_wrong_codes(tx: &mut Tx, card_id: Uuid) -> Result<(), DbError> {
    on_tx!(tx, |conn| {
        sqlx::query("UPDATE online_report_locks SET failed_attempts = 0 WHERE card_id = $1")
            .bind(card_id)
            .execute(conn)
            .await?
            .rows_affected()
    });
    Ok(())
}
