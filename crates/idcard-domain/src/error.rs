//! The crate's error umbrella: each concept has its own precise error type, and
//! [`DomainError`] gathers them for callers that map errors in one place.

use crate::{CitizenIdError, ReceiptError, RegionError, TransitionError};

/// Any error this crate returns, with a stable reason code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    #[error(transparent)]
    CitizenId(#[from] CitizenIdError),
    #[error(transparent)]
    Region(#[from] RegionError),
    #[error(transparent)]
    Receipt(#[from] ReceiptError),
    #[error(transparent)]
    Transition(#[from] TransitionError),
    #[error(transparent)]
    UnknownValue(#[from] ParseEnumError),
}

impl DomainError {
    /// A stable SCREAMING_SNAKE code for clients and metrics.
    pub fn reason_code(&self) -> &'static str {
        match self {
            DomainError::CitizenId(e) => e.reason_code(),
            DomainError::Region(e) => e.reason_code(),
            DomainError::Receipt(e) => e.reason_code(),
            DomainError::Transition(e) => e.reason_code(),
            DomainError::UnknownValue(e) => e.reason_code(),
        }
    }
}

/// A string that is not one of an enum's spellings, e.g. an unknown application kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {input:?}, expected one of {}", expected.join(", "))]
pub struct ParseEnumError {
    /// What was being parsed, e.g. "application kind".
    pub what: &'static str,
    /// The rejected input.
    pub input: String,
    /// The accepted spellings.
    pub expected: &'static [&'static str],
}

impl ParseEnumError {
    pub(crate) fn new(what: &'static str, input: &str, expected: &'static [&'static str]) -> Self {
        ParseEnumError {
            what,
            input: input.to_owned(),
            expected,
        }
    }

    pub fn reason_code(&self) -> &'static str {
        "UNKNOWN_VALUE"
    }
}
