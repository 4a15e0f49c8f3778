//! Integration tests of the domain rules: table tests of the cases DOMAIN.md and the
//! issue name, and property tests of the check characters. One binary, one module per
//! concept.

#![allow(clippy::unwrap_used)]

mod application;
mod citizen_id;
mod deadlines;
mod documents;
mod eligibility;
mod fees;
mod receipt;
mod region;
mod support;
mod validity;
