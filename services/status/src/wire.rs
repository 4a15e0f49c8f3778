//! The fields every request of this service shares, parsed into domain values, each
//! error naming its field.

use idcard_domain::CitizenId;
use idcard_proto::v1::CalendarDate;
use idcard_server::status::FieldError;
use idcard_server::wire::date_from_wire;

use crate::card::{PrintedCard, normalise_name};

/// The longest name accepted, in characters.
pub const MAX_NAME_CHARS: usize = 64;

/// Collects the error of `result` into `errors`.
pub fn field<T>(errors: &mut Vec<FieldError>, result: Result<T, FieldError>) -> Option<T> {
    result.map_err(|e| errors.push(e)).ok()
}

/// A required citizen id (surrounding white space ignored, `x` taken as `X`).
pub fn citizen_id(field: &str, text: &str, today: time::Date) -> Result<CitizenId, FieldError> {
    match text.trim() {
        "" => Err(FieldError::new(field, "required")),
        text => CitizenId::parse(text, today).map_err(|e| FieldError::new(field, e.to_string())),
    }
}

/// The printed data of a card from its three fields, each error pushed onto `errors`.
pub fn printed_card(
    errors: &mut Vec<FieldError>,
    id: &str,
    name: &str,
    validity_start: Option<&CalendarDate>,
    today: time::Date,
) -> Option<PrintedCard> {
    let citizen_id = field(errors, citizen_id("citizen_id", id, today));
    let name = field(errors, printed_name(name));
    let validity_start = field(errors, date_from_wire("validity_start", validity_start));
    PrintedCard::new(citizen_id?, &name?, validity_start?)
}

fn printed_name(name: &str) -> Result<String, FieldError> {
    let name = normalise_name(name);
    if name.is_empty() {
        return Err(FieldError::new("name", "required"));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(FieldError::new("name", format!("at most {MAX_NAME_CHARS} characters")));
    }
    Ok(name)
}
