//! Service-level tests of the acceptance service: TLS, bearer tokens and scopes, limits,
//! delivery over mutual TLS, loss reports, notifications, personal data at rest, the
//! audit log and key rotation. They run on SQLite, and on PostgreSQL when
//! `IDCARD_TEST_POSTGRES_URL` is set.
#![allow(clippy::unwrap_used)]

mod access;
mod at_rest;
mod deadlines;
mod delivery;
mod limits;
mod loss;
mod notify;
mod rotation;
mod settings;
mod shutdown;
mod support;
