//! The household register this bureau keeps: one record per resident with the items
//! printed on the card, and every card the resident holds or held. Imports are checked
//! here, row by row, before anything is written.

use std::collections::HashMap;

use idcard_domain::{CitizenId, RegionCode, Sex};
use idcard_proto::v1;
use idcard_server::status::FieldError;
use idcard_server::wire::{date_from_wire, parse_uuid, required_text};
use time::{Date, OffsetDateTime, UtcOffset};
use uuid::Uuid;

use crate::wire::sex_from_wire;

/// Most residents one import call may carry.
pub const MAX_IMPORT_ROWS: usize = 10_000;

/// A card's status, as organisations that check ID cards learn it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardStatus {
    Active,
    ReportedLost,
    Invalidated,
}

impl CardStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CardStatus::Active => "active",
            CardStatus::ReportedLost => "reported_lost",
            CardStatus::Invalidated => "invalidated",
        }
    }

    pub fn parse(text: &str) -> Option<CardStatus> {
        match text {
            "active" => Some(CardStatus::Active),
            "reported_lost" => Some(CardStatus::ReportedLost),
            "invalidated" => Some(CardStatus::Invalidated),
            _ => None,
        }
    }

    pub fn to_wire(self) -> v1::CardStatus {
        match self {
            CardStatus::Active => v1::CardStatus::Active,
            CardStatus::ReportedLost => v1::CardStatus::ReportedLost,
            CardStatus::Invalidated => v1::CardStatus::Invalidated,
        }
    }

    fn from_wire(status: i32) -> Option<CardStatus> {
        match v1::CardStatus::try_from(status) {
            Ok(v1::CardStatus::Active) => Some(CardStatus::Active),
            Ok(v1::CardStatus::ReportedLost) => Some(CardStatus::ReportedLost),
            Ok(v1::CardStatus::Invalidated) => Some(CardStatus::Invalidated),
            _ => None,
        }
    }
}

/// One household register record.
#[derive(Clone, PartialEq, Eq)]
pub struct Resident {
    /// Normalised (upper-case check character).
    pub citizen_id: String,
    pub name: String,
    pub sex: Sex,
    pub ethnicity: String,
    pub birth_date: Date,
    pub domicile_address: String,
    pub domicile_region_code: String,
    pub fingerprint_on_record: bool,
    pub phone: String,
    pub record_locked: bool,
    pub bad_credit: bool,
    pub forged_documents_on_record: bool,
}

/// Personal data does not print.
impl std::fmt::Debug for Resident {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resident")
            .field("domicile_region_code", &self.domicile_region_code)
            .finish_non_exhaustive()
    }
}

/// A card a resident holds or held.
#[derive(Clone, PartialEq, Eq)]
pub struct Card {
    pub card_id: Uuid,
    pub citizen_id: String,
    pub validity_start: Date,
    /// `None`: long-term.
    pub validity_end: Option<Date>,
    pub issuing_authority: String,
    pub status: CardStatus,
    /// The application this bureau issued it for; `None` for an imported card.
    pub application_id: Option<Uuid>,
    pub issued_at_ms: i64,
}

/// The holder's citizen id does not print.
impl std::fmt::Debug for Card {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Card")
            .field("card_id", &self.card_id)
            .field("status", &self.status)
            .field("application_id", &self.application_id)
            .finish_non_exhaustive()
    }
}

/// A checked import row.
#[derive(Debug, Clone)]
pub struct ImportRow {
    pub resident: Resident,
    pub cards: Vec<Card>,
}

/// Checks every row and returns them all, or every error found (fields named
/// `residents[i].card_items.citizen_id`, `residents[i].cards[j].validity_end`, ...).
pub fn check_import(residents: &[v1::Resident], today: Date) -> Result<Vec<ImportRow>, Vec<FieldError>> {
    let mut errors = Vec::new();
    if residents.is_empty() {
        errors.push(FieldError::new("residents", "required: at least one resident"));
    }
    if residents.len() > MAX_IMPORT_ROWS {
        errors.push(FieldError::new(
            "residents",
            format!(
                "at most {MAX_IMPORT_ROWS} residents per call, got {}; split the file",
                residents.len()
            ),
        ));
        return Err(errors);
    }
    let mut rows = Vec::with_capacity(residents.len());
    let mut seen_ids: HashMap<String, usize> = HashMap::new();
    let mut seen_cards: HashMap<Uuid, String> = HashMap::new();
    for (i, resident) in residents.iter().enumerate() {
        let prefix = format!("residents[{i}]");
        let before = errors.len();
        let row = check_resident(&prefix, resident, today, &mut errors);
        if let Some(row) = row {
            if let Some(first) = seen_ids.insert(row.resident.citizen_id.clone(), i) {
                errors.push(FieldError::new(
                    format!("{prefix}.card_items.citizen_id"),
                    format!("the same citizen id is at residents[{first}]; each resident appears once"),
                ));
            }
            for (j, card) in row.cards.iter().enumerate() {
                let field = format!("{prefix}.cards[{j}].card_id");
                if let Some(first) = seen_cards.insert(card.card_id, field.clone()) {
                    errors.push(FieldError::new(field, format!("the same card id is at {first}")));
                }
            }
            if errors.len() == before {
                rows.push(row);
            }
        }
    }
    if errors.is_empty() { Ok(rows) } else { Err(errors) }
}

fn check_resident(
    prefix: &str,
    resident: &v1::Resident,
    today: Date,
    errors: &mut Vec<FieldError>,
) -> Option<ImportRow> {
    let mut push = |result: Result<(), FieldError>| {
        if let Err(err) = result {
            errors.push(err);
        }
    };
    let Some(items) = resident.card_items.as_ref() else {
        push(Err(FieldError::new(format!("{prefix}.card_items"), "required")));
        return None;
    };
    let field = |name: &str| format!("{prefix}.card_items.{name}");

    let citizen_id = match CitizenId::parse(items.citizen_id.trim(), today) {
        Ok(id) => Some(id),
        Err(err) => {
            push(Err(FieldError::new(field("citizen_id"), err.to_string())));
            None
        }
    };
    let name = required_text(&field("name"), &items.name, 64)
        .map_err(|e| push(Err(e)))
        .ok();
    let sex = match sex_from_wire(items.sex) {
        None => {
            push(Err(FieldError::new(field("sex"), "required: SEX_MALE or SEX_FEMALE")));
            None
        }
        Some(sex) => {
            if let Some(id) = citizen_id.as_ref().filter(|id| id.sex() != sex) {
                push(Err(FieldError::new(
                    field("sex"),
                    format!("is {sex} but the citizen id's sequence number says {}", id.sex()),
                )));
            }
            Some(sex)
        }
    };
    let ethnicity = required_text(&field("ethnicity"), &items.ethnicity, 32)
        .map_err(|e| push(Err(e)))
        .ok();
    let birth_date = match date_from_wire(&field("birth_date"), items.birth_date.as_ref()) {
        Ok(date) => {
            if let Some(id) = citizen_id.as_ref().filter(|id| id.birth_date() != date) {
                push(Err(FieldError::new(
                    field("birth_date"),
                    format!(
                        "{date} does not match the birth date in the citizen id, {}",
                        id.birth_date()
                    ),
                )));
            }
            Some(date)
        }
        Err(err) => {
            push(Err(err));
            None
        }
    };
    let domicile_address = required_text(&field("domicile_address"), &items.domicile_address, 200)
        .map_err(|e| push(Err(e)))
        .ok();
    let region = match RegionCode::parse_current(resident.domicile_region_code.trim()) {
        Ok(region) => Some(region),
        Err(err) => {
            push(Err(FieldError::new(
                format!("{prefix}.domicile_region_code"),
                err.to_string(),
            )));
            None
        }
    };
    let phone = resident.phone.trim();
    if phone.chars().count() > 32 {
        push(Err(FieldError::new(format!("{prefix}.phone"), "at most 32 characters")));
    }

    let mut cards = Vec::with_capacity(resident.cards.len());
    for (j, card) in resident.cards.iter().enumerate() {
        let card_prefix = format!("{prefix}.cards[{j}]");
        match check_card(&card_prefix, card) {
            Ok(card) => cards.push(card),
            Err(card_errors) => errors.extend(card_errors),
        }
    }

    let citizen_id = citizen_id?;
    let resident = Resident {
        citizen_id: citizen_id.as_str().to_string(),
        name: name?,
        sex: sex?,
        ethnicity: ethnicity?,
        birth_date: birth_date?,
        domicile_address: domicile_address?,
        domicile_region_code: region?.as_string(),
        fingerprint_on_record: resident.fingerprint_on_record,
        phone: phone.to_string(),
        record_locked: resident.record_locked,
        bad_credit: resident.bad_credit,
        forged_documents_on_record: resident.forged_documents_on_record,
    };
    for card in &mut cards {
        card.citizen_id.clone_from(&resident.citizen_id);
    }
    Some(ImportRow { resident, cards })
}

/// A card row; its citizen id is filled in by the caller.
fn check_card(prefix: &str, card: &v1::ResidentCard) -> Result<Card, Vec<FieldError>> {
    let mut errors = Vec::new();
    let field = |name: &str| format!("{prefix}.{name}");
    let card_id = if card.card_id.trim().is_empty() {
        Some(Uuid::now_v7())
    } else {
        parse_uuid(&field("card_id"), card.card_id.trim())
            .map_err(|e| errors.push(e))
            .ok()
    };
    let start = date_from_wire(&field("validity_start"), card.validity_start.as_ref())
        .map_err(|e| errors.push(e))
        .ok();
    let end = match (card.long_term, card.validity_end.as_ref()) {
        (true, None) => None,
        (true, Some(_)) => {
            errors.push(FieldError::new(
                field("validity_end"),
                "must be absent for a long-term card",
            ));
            None
        }
        (false, end) => match date_from_wire(&field("validity_end"), end) {
            Ok(end) if start.is_some_and(|start| end <= start) => {
                errors.push(FieldError::new(field("validity_end"), "must be after validity_start"));
                None
            }
            Ok(end) => Some(end),
            Err(_) if end.is_none() => {
                errors.push(FieldError::new(
                    field("validity_end"),
                    "required unless long_term is set",
                ));
                None
            }
            Err(err) => {
                errors.push(err);
                None
            }
        },
    };
    let authority = required_text(&field("issuing_authority"), &card.issuing_authority, 100)
        .map_err(|e| errors.push(e))
        .ok();
    let status = CardStatus::from_wire(card.status);
    if status.is_none() {
        errors.push(FieldError::new(
            field("status"),
            "required: CARD_STATUS_ACTIVE, CARD_STATUS_REPORTED_LOST or CARD_STATUS_INVALIDATED",
        ));
    }
    match (card_id, start, authority, status) {
        (Some(card_id), Some(start), Some(issuing_authority), Some(status)) if errors.is_empty() => Ok(Card {
            card_id,
            citizen_id: String::new(),
            validity_start: start,
            validity_end: end,
            issuing_authority,
            status,
            application_id: None,
            issued_at_ms: midnight_cst_ms(start),
        }),
        _ => Err(errors),
    }
}

/// An imported card was issued on its first day of validity; midnight in China
/// Standard Time stands for the hour, which the register does not keep.
fn midnight_cst_ms(date: Date) -> i64 {
    let offset = UtcOffset::from_hms(8, 0, 0).expect("UTC+8 is a valid offset");
    let at: OffsetDateTime = date.midnight().assume_offset(offset);
    at.unix_timestamp().saturating_mul(1000)
}
