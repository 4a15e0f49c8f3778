//! Personal data at rest (ARCHITECTURE.md section 4, issue 6): the operator's
//! [`Keyring`], sealing of values with AES-256-GCM under a key id stored with each value,
//! and the keyed blind index (HMAC-SHA256) that lets a store find a record by citizen id
//! without keeping the id in clear.
//!
//! Keys serve one [`Purpose`] each: [`Purpose::Data`] for the citizen id number, name,
//! address, phone and photo; [`Purpose::Biometric`] for fingerprints, under a separate key
//! as PIPL Art. 28 and GB/T 35273 ask; [`Purpose::Index`] for the blind index. Each
//! purpose keeps an ordered list of keys: the last seals new values, the older ones still
//! open what they sealed, so a key can be rotated ([`Keyring::add_key`]) while a
//! background job re-seals old values ([`Keyring::is_current`] says which).
//!
//! This crate must not touch a database, log or print a key or a plaintext, or use any
//! crypto library but `ring`. It knows no table: callers choose the associated data that
//! binds a value to its row and column (see [`Keyring::seal`]).

mod blind_index;
mod error;
mod key_file;
mod keyring;
mod sealed;
mod source;

pub use error::{CryptoError, KeyLineError};
pub use keyring::{Keyring, Purpose};
pub use sealed::key_id_of;
pub use source::KeySource;
