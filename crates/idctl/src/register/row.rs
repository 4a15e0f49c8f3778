//! The checks one row gets, whatever the file format: the same rules the review
//! service applies to an import, so that an error names its line before anything is
//! sent.

use idcard_domain::{CitizenId, RegionCode, Sex};
use idcard_proto::v1 as pb;
use idcard_server::wire::{date_from_text, date_to_wire, enums};
use time::Date;

use super::RowError;

/// The scalar fields of a resident, as JSON keys and CSV columns.
pub(super) const RESIDENT_KEYS: [&str; 12] = [
    "citizen_id",
    "name",
    "sex",
    "ethnicity",
    "birth_date",
    "domicile_address",
    "domicile_region_code",
    "phone",
    "fingerprint_on_record",
    "record_locked",
    "bad_credit",
    "forged_documents_on_record",
];

/// Fields a resident must have.
pub(super) const REQUIRED_KEYS: [&str; 7] = [
    "citizen_id",
    "name",
    "sex",
    "ethnicity",
    "birth_date",
    "domicile_address",
    "domicile_region_code",
];

/// How a format names the fields of a card.
pub(super) struct CardKeys {
    pub card_id: &'static str,
    pub validity_start: &'static str,
    pub validity_end: &'static str,
    pub issuing_authority: &'static str,
    pub status: &'static str,
}

impl CardKeys {
    pub fn all(&self) -> [&'static str; 5] {
        [
            self.card_id,
            self.validity_start,
            self.validity_end,
            self.issuing_authority,
            self.status,
        ]
    }
}

/// The values of one row (a JSON object or a CSV record).
pub(super) trait Fields {
    /// Trimmed text, `None` when absent or empty; an error when present but not text.
    fn text(&self, key: &str) -> Result<Option<&str>, String>;
    /// `false` when absent; an error when present but not a boolean.
    fn flag(&self, key: &str) -> Result<bool, String>;
}

/// Collects the errors of one row under its line number.
pub(super) struct Row<'e> {
    pub line: usize,
    pub errors: &'e mut Vec<RowError>,
}

impl Row<'_> {
    pub fn fail(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.errors.push(RowError::new(self.line, field, message));
    }

    fn text<'f>(&mut self, fields: &'f impl Fields, key: &str, label: &str) -> Option<&'f str> {
        fields
            .text(key)
            .map_err(|message| self.fail(label, message))
            .ok()
            .flatten()
    }

    /// Required text of at most `max` characters. The value is never repeated in a
    /// message: it may be a name or an address.
    fn required<'f>(&mut self, fields: &'f impl Fields, key: &str, label: &str, max: usize) -> Option<&'f str> {
        match fields.text(key) {
            Ok(Some(text)) if text.chars().count() > max => {
                self.fail(label, format!("at most {max} characters"));
                None
            }
            Ok(Some(text)) => Some(text),
            Ok(None) => {
                self.fail(label, "required");
                None
            }
            Err(message) => {
                self.fail(label, message);
                None
            }
        }
    }

    fn flag(&mut self, fields: &impl Fields, key: &str) -> bool {
        fields
            .flag(key)
            .map_err(|message| self.fail(key, message))
            .unwrap_or(false)
    }

    fn date(&mut self, fields: &impl Fields, key: &str, label: &str) -> Option<Date> {
        let text = self.text(fields, key, label)?;
        let date = date_from_text(text);
        if date.is_none() {
            self.fail(label, "expected a calendar date YYYY-MM-DD");
        }
        date
    }
}

/// A resident without cards, and its parsed citizen id; `None` (with the errors noted)
/// if any field is wrong.
pub(super) fn resident(fields: &impl Fields, today: Date, row: &mut Row<'_>) -> Option<(pb::Resident, CitizenId)> {
    let before = row.errors.len();
    let citizen_id = row.required(fields, "citizen_id", "citizen_id", 64).and_then(|text| {
        CitizenId::parse(text, today)
            .map_err(|err| row.fail("citizen_id", err.to_string()))
            .ok()
    });
    let name = row.required(fields, "name", "name", 64);
    let sex = row
        .required(fields, "sex", "sex", 16)
        .and_then(|text| match text.parse::<Sex>() {
            Ok(sex) => Some(sex),
            Err(_) => {
                row.fail("sex", "expected male or female");
                None
            }
        });
    match (sex, &citizen_id) {
        (Some(sex), Some(id)) if sex != id.sex() => {
            let message = format!("is {sex} but the citizen id's sequence number says {}", id.sex());
            row.fail("sex", message);
        }
        _ => {}
    }
    let ethnicity = row.required(fields, "ethnicity", "ethnicity", 32);
    let birth_date = match fields.text("birth_date") {
        Ok(None) => {
            row.fail("birth_date", "required");
            None
        }
        _ => row.date(fields, "birth_date", "birth_date"),
    };
    if birth_date
        .zip(citizen_id.as_ref())
        .is_some_and(|(date, id)| date != id.birth_date())
    {
        row.fail("birth_date", "does not match the birth date in the citizen id");
    }
    let address = row.required(fields, "domicile_address", "domicile_address", 200);
    let region = row
        .required(fields, "domicile_region_code", "domicile_region_code", 32)
        .and_then(|text| {
            RegionCode::parse_current(text)
                .map_err(|err| row.fail("domicile_region_code", err.to_string()))
                .ok()
        });
    let phone = row.text(fields, "phone", "phone").unwrap_or_default();
    if phone.chars().count() > 32 {
        row.fail("phone", "at most 32 characters");
    }
    let fingerprint_on_record = row.flag(fields, "fingerprint_on_record");
    let record_locked = row.flag(fields, "record_locked");
    let bad_credit = row.flag(fields, "bad_credit");
    let forged_documents_on_record = row.flag(fields, "forged_documents_on_record");
    if row.errors.len() != before {
        return None;
    }
    let (citizen_id, name, sex, ethnicity, birth_date, address, region) =
        (citizen_id?, name?, sex?, ethnicity?, birth_date?, address?, region?);
    let resident = pb::Resident {
        card_items: Some(pb::CardItems {
            citizen_id: citizen_id.as_str().to_string(),
            name: name.to_string(),
            sex: enums::sex_to_wire(sex) as i32,
            ethnicity: ethnicity.to_string(),
            birth_date: Some(date_to_wire(birth_date)),
            domicile_address: address.to_string(),
        }),
        domicile_region_code: region.as_string(),
        fingerprint_on_record,
        phone: phone.to_string(),
        record_locked,
        bad_credit,
        forged_documents_on_record,
        cards: Vec::new(),
    };
    Some((resident, citizen_id))
}

/// Whether the row gives any card field (a CSV row may carry none).
pub(super) fn has_card(fields: &impl Fields, keys: &CardKeys) -> bool {
    keys.all().iter().any(|key| !matches!(fields.text(key), Ok(None)))
}

/// One card. `label` turns a key into the name errors use (`cards[1].validity_end`).
/// An absent card id is left empty: the service gives the card a new UUID v7, and the
/// same file sent twice stays the same request.
pub(super) fn card(
    fields: &impl Fields,
    keys: &CardKeys,
    label: &dyn Fn(&str) -> String,
    row: &mut Row<'_>,
) -> Option<pb::ResidentCard> {
    let before = row.errors.len();
    let card_id = match row.text(fields, keys.card_id, &label(keys.card_id)) {
        None => String::new(),
        Some(text) => match uuid::Uuid::parse_str(text) {
            Ok(id) => id.hyphenated().to_string(),
            Err(_) => {
                row.fail(label(keys.card_id), "expected a UUID");
                String::new()
            }
        },
    };
    let start = match fields.text(keys.validity_start) {
        Ok(None) => {
            row.fail(label(keys.validity_start), "required");
            None
        }
        _ => row.date(fields, keys.validity_start, &label(keys.validity_start)),
    };
    let end = row.date(fields, keys.validity_end, &label(keys.validity_end));
    if start.zip(end).is_some_and(|(start, end)| end <= start) {
        row.fail(label(keys.validity_end), "must be after the validity start");
    }
    let authority = row.required(fields, keys.issuing_authority, &label(keys.issuing_authority), 100);
    let status = match row.text(fields, keys.status, &label(keys.status)) {
        None => {
            row.fail(label(keys.status), "required: active, reported_lost or invalidated");
            None
        }
        Some("active") => Some(pb::CardStatus::Active),
        Some("reported_lost") => Some(pb::CardStatus::ReportedLost),
        Some("invalidated") => Some(pb::CardStatus::Invalidated),
        Some(other) => {
            row.fail(
                label(keys.status),
                format!("{other:?} is not a card status: expected active, reported_lost or invalidated"),
            );
            None
        }
    };
    if row.errors.len() != before {
        return None;
    }
    Some(pb::ResidentCard {
        card_id,
        validity_start: start.map(date_to_wire),
        validity_end: end.map(date_to_wire),
        long_term: end.is_none(),
        issuing_authority: authority?.to_string(),
        status: status? as i32,
    })
}

/// Booleans as CSV writes them.
pub(super) fn parse_flag(text: &str) -> Result<bool, String> {
    match text.to_ascii_lowercase().as_str() {
        "" | "false" | "no" | "0" | "n" => Ok(false),
        "true" | "yes" | "1" | "y" => Ok(true),
        _ => Err(format!("expected true or false, got {text:?}")),
    }
}
