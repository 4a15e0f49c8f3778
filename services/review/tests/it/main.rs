//! The review service over gRPC on port 0 with TLS and bearer tokens, against a fresh
//! SQLite database (or PostgreSQL when `IDCARD_TEST_POSTGRES_URL` is set), with fake
//! acceptance, production and status inboxes and a notification file.

#![allow(clippy::unwrap_used)]

mod decisions;
mod findings;
mod import;
mod inbox;
mod loss;
mod online;
mod overdue;
mod pending;
mod security;
mod support;
