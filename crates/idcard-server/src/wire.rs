//! Conversions between wire values and Rust values that every service shares: dates,
//! instants and ids, each failing with the field at fault.

use idcard_proto::v1::CalendarDate;
use uuid::Uuid;

use crate::status::FieldError;

pub fn date_to_wire(date: time::Date) -> CalendarDate {
    CalendarDate {
        year: date.year(),
        month: i32::from(u8::from(date.month())),
        day: i32::from(date.day()),
    }
}

/// A required calendar date.
pub fn date_from_wire(field: &str, date: Option<&CalendarDate>) -> Result<time::Date, FieldError> {
    let date = date.ok_or_else(|| FieldError::new(field, "required"))?;
    let month = u8::try_from(date.month)
        .ok()
        .and_then(|m| time::Month::try_from(m).ok());
    let day = u8::try_from(date.day).ok();
    match (month, day) {
        (Some(month), Some(day)) => time::Date::from_calendar_date(date.year, month, day).map_err(|_| {
            FieldError::new(
                field,
                format!("{}-{:02}-{:02} is not a calendar date", date.year, date.month, date.day),
            )
        }),
        _ => Err(FieldError::new(
            field,
            format!("{}-{:02}-{:02} is not a calendar date", date.year, date.month, date.day),
        )),
    }
}

/// Milliseconds since the epoch as a protobuf timestamp.
pub fn ms_to_timestamp(ms: i64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: ms.div_euclid(1000),
        nanos: i32::try_from(ms.rem_euclid(1000) * 1_000_000).unwrap_or(0),
    }
}

pub fn timestamp_to_ms(ts: &prost_types::Timestamp) -> i64 {
    ts.seconds
        .saturating_mul(1000)
        .saturating_add(i64::from(ts.nanos / 1_000_000))
}

/// Today in China Standard Time (UTC+8), the calendar the statutory limits count in.
pub fn today_cst() -> time::Date {
    (time::OffsetDateTime::now_utc() + time::Duration::hours(8)).date()
}

/// The China Standard Time date of an instant in epoch milliseconds.
pub fn date_cst_of_ms(ms: i64) -> time::Date {
    let at = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    (at + time::Duration::hours(8)).date()
}

pub fn parse_uuid(field: &str, text: &str) -> Result<Uuid, FieldError> {
    if text.is_empty() {
        return Err(FieldError::new(field, "required"));
    }
    Uuid::parse_str(text).map_err(|_| FieldError::new(field, format!("{text:?} is not a UUID")))
}

/// A required non-empty text of at most `max` characters, trimmed.
pub fn required_text(field: &str, text: &str, max: usize) -> Result<String, FieldError> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(FieldError::new(field, "required"));
    }
    if trimmed.chars().count() > max {
        return Err(FieldError::new(field, format!("at most {max} characters")));
    }
    Ok(trimmed.to_string())
}

/// Page size: 0 means `default`, capped at `max`.
pub fn page_size(field: &str, requested: i32, default: u32, max: u32) -> Result<u32, FieldError> {
    match u32::try_from(requested) {
        Ok(0) => Ok(default),
        Ok(n) => Ok(n.min(max)),
        Err(_) => Err(FieldError::new(field, "must not be negative")),
    }
}

/// Page tokens are the opaque decimal position after which the next page starts.
pub fn page_after(field: &str, token: &str) -> Result<Option<i64>, FieldError> {
    if token.is_empty() {
        return Ok(None);
    }
    token
        .parse::<i64>()
        .map(Some)
        .map_err(|_| FieldError::new(field, "not a token this service gave out"))
}

/// Contract enums to domain enums and back. An unspecified or unknown wire value is a
/// field error.
pub mod enums {
    use idcard_domain::{ApplicationKind, ApplicationState, DocumentKind, Sex, Waiver};
    use idcard_proto::v1 as pb;

    use crate::status::FieldError;

    pub fn kind_from_wire(field: &str, value: i32) -> Result<ApplicationKind, FieldError> {
        match pb::ApplicationKind::try_from(value) {
            Ok(pb::ApplicationKind::Renewal) => Ok(ApplicationKind::Renewal),
            Ok(pb::ApplicationKind::Replacement) => Ok(ApplicationKind::Replacement),
            _ => Err(FieldError::new(field, "required: renewal or replacement")),
        }
    }

    pub fn kind_to_wire(kind: ApplicationKind) -> pb::ApplicationKind {
        match kind {
            ApplicationKind::Renewal => pb::ApplicationKind::Renewal,
            ApplicationKind::Replacement => pb::ApplicationKind::Replacement,
        }
    }

    pub fn state_to_wire(state: ApplicationState) -> pb::ApplicationState {
        match state {
            ApplicationState::Submitted => pb::ApplicationState::Submitted,
            ApplicationState::UnderReview => pb::ApplicationState::UnderReview,
            ApplicationState::Approved => pb::ApplicationState::Approved,
            ApplicationState::Rejected => pb::ApplicationState::Rejected,
            ApplicationState::InProduction => pb::ApplicationState::InProduction,
            ApplicationState::QualityCheckFailed => pb::ApplicationState::QualityCheckFailed,
            ApplicationState::Produced => pb::ApplicationState::Produced,
            ApplicationState::Dispatched => pb::ApplicationState::Dispatched,
            ApplicationState::ReadyForCollection => pb::ApplicationState::ReadyForCollection,
            ApplicationState::Collected => pb::ApplicationState::Collected,
        }
    }

    /// `None` for unspecified (a filter that matches every state).
    pub fn state_filter_from_wire(field: &str, value: i32) -> Result<Option<ApplicationState>, FieldError> {
        let state =
            pb::ApplicationState::try_from(value).map_err(|_| FieldError::new(field, "unknown application state"))?;
        Ok(match state {
            pb::ApplicationState::Unspecified => None,
            pb::ApplicationState::Submitted => Some(ApplicationState::Submitted),
            pb::ApplicationState::UnderReview => Some(ApplicationState::UnderReview),
            pb::ApplicationState::Approved => Some(ApplicationState::Approved),
            pb::ApplicationState::Rejected => Some(ApplicationState::Rejected),
            pb::ApplicationState::InProduction => Some(ApplicationState::InProduction),
            pb::ApplicationState::QualityCheckFailed => Some(ApplicationState::QualityCheckFailed),
            pb::ApplicationState::Produced => Some(ApplicationState::Produced),
            pb::ApplicationState::Dispatched => Some(ApplicationState::Dispatched),
            pb::ApplicationState::ReadyForCollection => Some(ApplicationState::ReadyForCollection),
            pb::ApplicationState::Collected => Some(ApplicationState::Collected),
        })
    }

    pub fn sex_from_wire(field: &str, value: i32) -> Result<Sex, FieldError> {
        match pb::Sex::try_from(value) {
            Ok(pb::Sex::Male) => Ok(Sex::Male),
            Ok(pb::Sex::Female) => Ok(Sex::Female),
            _ => Err(FieldError::new(field, "required: male or female")),
        }
    }

    pub fn sex_to_wire(sex: Sex) -> pb::Sex {
        match sex {
            Sex::Male => pb::Sex::Male,
            Sex::Female => pb::Sex::Female,
        }
    }

    pub fn document_from_wire(field: &str, value: i32) -> Result<DocumentKind, FieldError> {
        use pb::DocumentKind as W;
        Ok(match W::try_from(value) {
            Ok(W::HouseholdBooklet) => DocumentKind::HouseholdBooklet,
            Ok(W::OldIdCard) => DocumentKind::OldIdCard,
            Ok(W::ResidencePermit) => DocumentKind::ResidencePermit,
            Ok(W::DrivingLicence) => DocumentKind::DrivingLicence,
            Ok(W::Passport) => DocumentKind::Passport,
            Ok(W::TemporaryResidenceRegistration) => DocumentKind::TemporaryResidenceRegistration,
            Ok(W::LabourContract) => DocumentKind::LabourContract,
            Ok(W::BusinessLicence) => DocumentKind::BusinessLicence,
            Ok(W::StudentId) => DocumentKind::StudentId,
            Ok(W::PropertyDeed) => DocumentKind::PropertyDeed,
            Ok(W::Lease) => DocumentKind::Lease,
            Ok(W::GuardianIdentity) => DocumentKind::GuardianIdentity,
            Ok(W::GuardianshipProof) => DocumentKind::GuardianshipProof,
            Ok(W::Unspecified) | Err(_) => return Err(FieldError::new(field, "unknown document kind")),
        })
    }

    /// Unspecified means no waiver.
    pub fn waiver_from_wire(field: &str, value: i32) -> Result<Waiver, FieldError> {
        match pb::FeeWaiver::try_from(value) {
            Ok(pb::FeeWaiver::Unspecified | pb::FeeWaiver::None) => Ok(Waiver::None),
            Ok(pb::FeeWaiver::MinimumIncome) => Ok(Waiver::MinimumIncome),
            Ok(pb::FeeWaiver::Hardship) => Ok(Waiver::Hardship),
            Err(_) => Err(FieldError::new(field, "unknown fee waiver")),
        }
    }
}

const DATE_TEXT: &[time::format_description::BorrowedFormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]");

/// A calendar date as stored: `YYYY-MM-DD`.
pub fn date_to_text(date: time::Date) -> String {
    date.format(DATE_TEXT).unwrap_or_default()
}

/// A stored `YYYY-MM-DD` date.
pub fn date_from_text(text: &str) -> Option<time::Date> {
    time::Date::parse(text, DATE_TEXT).ok()
}
