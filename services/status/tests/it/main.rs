//! The status service over real gRPC on port 0, against a fresh database (SQLite, or
//! PostgreSQL when `IDCARD_TEST_POSTGRES_URL` is set), with a fake review inbox
//! recording the found-card notices it receives. Everything runs as deployed: TLS from a
//! development PKI (status comes with the review service's certificate, notices go out
//! with the status one), bearer tokens, and a key file per service.

#![allow(clippy::unwrap_used)]

mod access;
mod at_rest;
mod audit;
mod found_cards;
mod publish;
mod support;
mod verifications;
mod verify;
