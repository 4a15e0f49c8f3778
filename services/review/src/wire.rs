//! Conversions between the contract's enums and the domain's, each failing with the
//! field at fault.

use idcard_domain::{ApplicationKind, Sex};
use idcard_proto::v1;
use idcard_server::status::FieldError;

pub fn kind_from_wire(field: &str, kind: i32) -> Result<ApplicationKind, FieldError> {
    match v1::ApplicationKind::try_from(kind) {
        Ok(v1::ApplicationKind::Renewal) => Ok(ApplicationKind::Renewal),
        Ok(v1::ApplicationKind::Replacement) => Ok(ApplicationKind::Replacement),
        _ => Err(FieldError::new(
            field,
            "required: APPLICATION_KIND_RENEWAL or APPLICATION_KIND_REPLACEMENT",
        )),
    }
}

pub fn kind_to_wire(kind: ApplicationKind) -> v1::ApplicationKind {
    match kind {
        ApplicationKind::Renewal => v1::ApplicationKind::Renewal,
        ApplicationKind::Replacement => v1::ApplicationKind::Replacement,
    }
}

/// `None` for an unspecified or unknown value.
pub fn sex_from_wire(sex: i32) -> Option<Sex> {
    match v1::Sex::try_from(sex) {
        Ok(v1::Sex::Male) => Some(Sex::Male),
        Ok(v1::Sex::Female) => Some(Sex::Female),
        _ => None,
    }
}

/// Text that may be empty, trimmed, at most `max` characters.
pub fn optional_text(field: &str, text: &str, max: usize) -> Result<String, FieldError> {
    let trimmed = text.trim();
    if trimmed.chars().count() > max {
        return Err(FieldError::new(field, format!("at most {max} characters")));
    }
    Ok(trimmed.to_string())
}
