//! Reliable delivery between services (ARCHITECTURE.md section 3): the transactional
//! outbox a handler writes in its own transaction, the relay that delivers it with
//! backoff and a dead-letter bound, and the inbox a receiver records message ids in.
//!
//! This crate knows nothing of what a message means: the service gives the relay a
//! [`Deliverer`] that turns a row into a gRPC call.

mod backlog;
mod dead_letter;
mod inbox;
mod message;
mod relay;
pub mod trace_context;

use idcard_db::MigrationSet;

pub use backlog::{Backlog, backlog};
pub use dead_letter::{DeadLetter, list_dead_letters, replay_dead_letters};
pub use inbox::accept as accept_inbound;
pub use message::{Message, NewMessage, enqueue};
pub use relay::{Deliverer, DeliveryError, Relay, RelayConfig, RelayHandle, backoff};

/// The outbox and inbox tables, one migration folder per database.
pub static MIGRATIONS: MigrationSet = MigrationSet {
    sqlite: &sqlx::migrate!("migrations/sqlite"),
    postgres: &sqlx::migrate!("migrations/postgres"),
};
