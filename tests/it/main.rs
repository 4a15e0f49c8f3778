//! End-to-end tests: the three real services over gRPC on loopback, each on its own fresh
//! database (SQLite files, or PostgreSQL when `IDCARD_TEST_POSTGRES_URL` is set).

#![allow(clippy::unwrap_used)]

mod bad_input;
mod delivery;
mod flow;
mod loss;
mod metrics;
mod replicas;
mod security;
mod support;
mod surface;
mod traces;
