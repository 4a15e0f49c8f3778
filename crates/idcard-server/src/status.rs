//! The one place where error kinds become `tonic::Status`, with the details a front end
//! reads: field violations for bad input, reason codes for refusals.

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, FieldViolation, PreconditionViolation, StatusExt};

/// A field at fault and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub description: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, description: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            description: description.into(),
        }
    }
}

/// A refusal under the rules, with a stable code the front end can show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason {
    pub code: String,
    pub message: String,
}

/// `INVALID_ARGUMENT` naming every field at fault.
pub fn invalid_argument(errors: &[FieldError]) -> Status {
    let message = errors
        .iter()
        .map(|e| format!("{}: {}", e.field, e.description))
        .collect::<Vec<_>>()
        .join("; ");
    let violations = errors
        .iter()
        .map(|e| FieldViolation::new(e.field.clone(), e.description.clone()))
        .collect::<Vec<_>>();
    Status::with_error_details(
        Code::InvalidArgument,
        message,
        ErrorDetails::with_bad_request(violations),
    )
}

/// `FAILED_PRECONDITION` listing every reason: one precondition violation per reason
/// (type = reason code), and the first reason as the `ErrorInfo` reason.
pub fn refused(reasons: &[Reason]) -> Status {
    let message = reasons
        .iter()
        .map(|r| format!("{}: {}", r.code, r.message))
        .collect::<Vec<_>>()
        .join("; ");
    let violations = reasons
        .iter()
        .map(|r| PreconditionViolation::new(r.code.clone(), "application", r.message.clone()))
        .collect::<Vec<_>>();
    let mut details = ErrorDetails::with_precondition_failure(violations);
    if let Some(first) = reasons.first() {
        details.set_error_info(first.code.clone(), "idcard.v1", std::collections::HashMap::new());
    }
    Status::with_error_details(Code::FailedPrecondition, message, details)
}

/// The reason codes carried by a status made with [`refused`].
pub fn reason_codes(status: &Status) -> Vec<String> {
    status
        .get_details_precondition_failure()
        .map(|failure| failure.violations.into_iter().map(|v| v.r#type).collect())
        .unwrap_or_default()
}

/// The field violations of a status made with [`invalid_argument`].
pub fn field_violations(status: &Status) -> Vec<FieldError> {
    status
        .get_details_bad_request()
        .map(|bad| {
            bad.field_violations
                .into_iter()
                .map(|v| FieldError::new(v.field, v.description))
                .collect()
        })
        .unwrap_or_default()
}

/// The fields named by a status made with [`invalid_argument`].
pub fn violated_fields(status: &Status) -> Vec<String> {
    field_violations(status).into_iter().map(|v| v.field).collect()
}

/// Maps a database error. A unique violation is a duplicate; anything else is internal
/// and logged, not shown.
pub fn from_db(err: idcard_db::DbError) -> Status {
    match err {
        idcard_db::DbError::UniqueViolation { constraint } => {
            Status::already_exists(format!("duplicate ({constraint})"))
        }
        idcard_db::DbError::RequestIdReused(id) => invalid_argument(&[FieldError::new(
            "request_id",
            format!("{id} was already used for a different request"),
        )]),
        other => {
            tracing::error!(error = %other, "database error");
            Status::internal("internal database error")
        }
    }
}

/// How an outbox relay treats a peer's answer: codes that may pass with time are
/// retried, codes that say the message itself is wrong dead-letter it.
pub fn delivery_error(status: &Status) -> idcard_outbox::DeliveryError {
    let text = format!("{:?}: {}", status.code(), status.message());
    match status.code() {
        Code::InvalidArgument
        | Code::NotFound
        | Code::AlreadyExists
        | Code::PermissionDenied
        | Code::Unauthenticated
        | Code::Unimplemented
        | Code::OutOfRange => idcard_outbox::DeliveryError::Permanent(text),
        _ => idcard_outbox::DeliveryError::Retryable(text),
    }
}
