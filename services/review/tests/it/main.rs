//! The review service over gRPC on port 0 with TLS and bearer tokens, against a fresh
//! SQLite database (or PostgreSQL when `IDCARD_TEST_POSTGRES_URL` is set), with fake
//! acceptance and production inboxes.

#![allow(clippy::unwrap_used)]

mod decisions;
mod findings;
mod import;
mod inbox;
mod pending;
mod security;
mod support;
