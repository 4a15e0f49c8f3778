//! All SQL of the review service, and the only place that reads or writes personal
//! data (citizen ids, card items, photos inside the stored request, fingerprints,
//! phones, loss report circumstances). Personal data is sealed here on the way in and
//! opened on the way out ([`sealing`]); callers hand in the keyring and never see
//! ciphertext.
//!
//! Functions take `&mut Tx` so that a handler puts a state change, its audit entry and
//! its outbox row in one transaction. Calendar dates are stored as `YYYY-MM-DD` text,
//! instants as epoch milliseconds, ids as UUIDs, and messages kept whole as
//! prost-encoded blobs.

mod cases;
pub mod deadlines;
mod loss_reports;
mod online;
mod register;
mod reseal;
mod sealing;
pub mod trace;

use idcard_db::DbError;
use time::Date;
use time::macros::format_description;

pub use cases::{
    Approval, NewCase, case_region, count_cases_by_state, find_case, insert_case, list_pending,
    mark_production_ordered, record_approval, record_rejection,
};
pub use loss_reports::{
    active_reports_of_card, events_of, insert_event, insert_report, report_by_number, report_number_known,
    set_report_state,
};
pub use online::{
    Challenge, claim_challenge, clear_wrong_codes, count_wrong_code, find_challenge, insert_challenge, locked_until,
};
pub use register::{
    Upserted, cards_of, find_resident, has_duplicate_record, insert_card, set_card_status, upsert_imported_cards,
    upsert_resident,
};
pub use reseal::reseal_batch;

const DATE_FORMAT: &[time::format_description::BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day]");

fn date_to_sql(date: Date) -> String {
    date.format(DATE_FORMAT).expect("a calendar date formats as YYYY-MM-DD")
}

fn date_from_sql(text: &str) -> Result<Date, DbError> {
    Date::parse(text, DATE_FORMAT).map_err(|err| corrupt(format!("date {text:?}: {err}")))
}

/// A stored value this code cannot read back (written by a newer or broken version).
fn corrupt(what: String) -> DbError {
    DbError::Sqlx(sqlx::Error::Decode(what.into()))
}

fn decode<M: prost::Message + Default>(what: &str, bytes: &[u8]) -> Result<M, DbError> {
    M::decode(bytes).map_err(|err| corrupt(format!("stored {what}: {err}")))
}

/// `$first, $first+1, ...` for `count` values, for an `IN (...)` list of blind indexes
/// (one per index key while an index key is being rotated).
fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}
