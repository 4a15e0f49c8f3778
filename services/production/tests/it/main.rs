//! The production service over real gRPC on port 0, against a fresh database (SQLite,
//! or PostgreSQL when `IDCARD_TEST_POSTGRES_URL` is set), with a fake acceptance inbox
//! recording the progress reports it receives.

#![allow(clippy::unwrap_used)]

mod delivery;
mod dispatch;
mod jobs;
mod orders;
mod quality_checks;
mod support;
