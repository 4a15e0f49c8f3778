//! The tamper-evident audit log each service keeps (issue 6): who did what to which
//! record, and when, for every state change and every read of personal data.
//!
//! A handler [`record`]s an [`Entry`] in its own transaction, so the change and its audit
//! entry commit together or not at all. Entries are not chained there: reading the
//! previous hash in every transaction would let only one writer through at a time.
//! Instead a background [`Sealer`] chains committed entries in the order it finds them
//! (commit order, as transparency logs do): each sealed entry's hash covers the previous
//! entry's hash and its own content, and a one-row chain head holds the last position and
//! hash. [`verify`] walks the chain and names the first broken entry;
//! [`oldest_unsealed_age_ms`] says how far sealing lags.
//!
//! Triggers make the table append-only for the application; the chain is what catches
//! someone with enough database access to get past them.
//!
//! This crate owns the `audit_log` and `audit_chain_head` tables and nothing else. It
//! must not store personal data in clear (callers pass ids and masked values only) and
//! must not take a lock in the caller's transaction.

mod chain;
mod entry;
mod error;
mod sealer;
mod verify;

use idcard_db::MigrationSet;

pub use chain::GENESIS_HASH;
pub use entry::{Entry, oldest_unsealed_age_ms, record};
pub use error::AuditError;
pub use sealer::{DEFAULT_BATCH_SIZE, Sealer, seal_once};
pub use verify::{Broken, BrokenReason, Verified, verify};

/// The audit tables and their append-only triggers, one migration folder per database.
pub static MIGRATIONS: MigrationSet = MigrationSet {
    sqlite: &sqlx::migrate!("migrations/sqlite"),
    postgres: &sqlx::migrate!("migrations/postgres"),
};
