//! The production service over real gRPC on port 0, against a fresh database (SQLite,
//! or PostgreSQL when `IDCARD_TEST_POSTGRES_URL` is set), with a fake acceptance inbox
//! recording the progress reports it receives. Everything runs as deployed: TLS from a
//! development PKI (orders come with the review service's certificate, reports go out
//! with the production one), bearer tokens, and a key file per service.

#![allow(clippy::unwrap_used)]

mod access;
mod at_rest;
mod audit;
mod delivery;
mod dispatch;
mod jobs;
mod orders;
mod overdue;
mod quality_checks;
mod support;
