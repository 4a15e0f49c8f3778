//! Loss report requests into domain types, every field at fault named at once, and the
//! contract's loss enums to the domain's and back.

use idcard_domain::{CitizenId, DocumentKind, LossKind, LossReportEvent, LossReportState, ReceiptNo, RegionCode};
use idcard_proto::v1 as pb;
use idcard_server::status::FieldError;
use idcard_server::wire::{self, enums};

use crate::routing::Routes;
use crate::submission::point_code;

/// The longest circumstance taken, in characters.
pub const MAX_CIRCUMSTANCE_CHARS: usize = 500;

/// The longest name taken, in characters (as on applications).
const MAX_NAME_CHARS: usize = 64;

/// Documents that identify their holder, accepted when no fingerprint is compared.
const IDENTITY_DOCUMENTS: [DocumentKind; 4] = [
    DocumentKind::HouseholdBooklet,
    DocumentKind::Passport,
    DocumentKind::DrivingLicence,
    DocumentKind::ResidencePermit,
];

/// A `ReportLossRequest` that passed every check.
pub struct Report {
    pub acceptance_point_code: String,
    pub citizen_id: CitizenId,
    pub name: String,
    pub domicile: RegionCode,
    pub review_peer: String,
    pub kind: LossKind,
    pub identity: Identity,
    pub circumstance: String,
}

/// How the clerk confirmed the reporter's identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Identity {
    /// The reporter's fingerprint matched the one on record.
    Fingerprint,
    /// An identity document was checked (no fingerprint compared).
    Document(DocumentKind),
}

impl Identity {
    /// As stored: `fingerprint` or `document:<kind>`.
    pub fn as_text(self) -> String {
        match self {
            Identity::Fingerprint => "fingerprint".to_string(),
            Identity::Document(kind) => format!("document:{}", kind.as_str()),
        }
    }
}

/// Validates `request` as received on `today`; the point's scope is the caller's check.
pub fn report(request: &pb::ReportLossRequest, routes: &Routes, today: time::Date) -> Result<Report, Vec<FieldError>> {
    let mut errors = Vec::new();
    let acceptance_point_code = take(
        &mut errors,
        point_code("acceptance_point_code", &request.acceptance_point_code),
    );
    let citizen_id = take(
        &mut errors,
        CitizenId::parse(&request.citizen_id, today).map_err(|err| FieldError::new("citizen_id", err.to_string())),
    );
    let name = take(&mut errors, wire::required_text("name", &request.name, MAX_NAME_CHARS));
    let domicile = take(
        &mut errors,
        RegionCode::parse_current(&request.domicile_region_code)
            .map_err(|err| FieldError::new("domicile_region_code", err.to_string())),
    );
    let review_peer = domicile.and_then(|code| {
        let peer = routes.review_peer(code).map(str::to_string).ok_or_else(|| {
            FieldError::new(
                "domicile_region_code",
                format!("no review service serves region {} ({})", code.as_string(), code.name()),
            )
        });
        take(&mut errors, peer)
    });
    let kind = take(&mut errors, kind_from_wire("kind", request.kind));
    let identity = take(&mut errors, identity("identity", request.identity.as_ref()));
    let circumstance = take(&mut errors, circumstance("circumstance", &request.circumstance));
    match (
        acceptance_point_code,
        citizen_id,
        name,
        domicile,
        review_peer,
        kind,
        identity,
        circumstance,
    ) {
        (
            Some(acceptance_point_code),
            Some(citizen_id),
            Some(name),
            Some(domicile),
            Some(review_peer),
            Some(kind),
            Some(identity),
            Some(circumstance),
        ) if errors.is_empty() => Ok(Report {
            acceptance_point_code,
            citizen_id,
            name,
            domicile,
            review_peer,
            kind,
            identity,
            circumstance,
        }),
        _ => Err(errors),
    }
}

/// The value, or `None` with its error noted.
fn take<T>(errors: &mut Vec<FieldError>, result: Result<T, FieldError>) -> Option<T> {
    result.map_err(|err| errors.push(err)).ok()
}

/// The identity confirmation: a matched fingerprint or an identity document.
pub fn identity(field: &str, identity: Option<&pb::IdentityConfirmation>) -> Result<Identity, FieldError> {
    use pb::identity_confirmation::Method;
    match identity.and_then(|i| i.method.as_ref()) {
        None => Err(FieldError::new(
            field,
            "required: the fingerprint matched, or the identity document checked",
        )),
        Some(Method::FingerprintMatched(true)) => Ok(Identity::Fingerprint),
        Some(Method::FingerprintMatched(false)) => Err(FieldError::new(
            format!("{field}.fingerprint_matched"),
            "the fingerprint did not match: identity is not confirmed",
        )),
        Some(Method::IdentityDocument(value)) => {
            let document_field = format!("{field}.identity_document");
            let document = enums::document_from_wire(&document_field, *value)?;
            if IDENTITY_DOCUMENTS.contains(&document) {
                Ok(Identity::Document(document))
            } else {
                let accepted = IDENTITY_DOCUMENTS.map(|d| d.as_str()).join(", ");
                Err(FieldError::new(
                    document_field,
                    format!("{document} does not identify its holder; one of {accepted}"),
                ))
            }
        }
    }
}

/// A free-text circumstance of at most [`MAX_CIRCUMSTANCE_CHARS`] characters, trimmed;
/// it may be empty.
fn circumstance(field: &str, text: &str) -> Result<String, FieldError> {
    let trimmed = text.trim();
    let count = trimmed.chars().count();
    if count > MAX_CIRCUMSTANCE_CHARS {
        return Err(FieldError::new(
            field,
            format!("at most {MAX_CIRCUMSTANCE_CHARS} characters, got {count}"),
        ));
    }
    Ok(trimmed.to_string())
}

/// A report number (a receipt number).
pub fn report_number(field: &str, text: &str) -> Result<ReceiptNo, FieldError> {
    if text.is_empty() {
        return Err(FieldError::new(field, "required"));
    }
    ReceiptNo::parse(text).map_err(|err| FieldError::new(field, err.to_string()))
}

pub fn kind_from_wire(field: &str, value: i32) -> Result<LossKind, FieldError> {
    match pb::LossKind::try_from(value) {
        Ok(pb::LossKind::Lost) => Ok(LossKind::Lost),
        Ok(pb::LossKind::Stolen) => Ok(LossKind::Stolen),
        Ok(pb::LossKind::Misplaced) => Ok(LossKind::Misplaced),
        _ => Err(FieldError::new(field, "required: lost, stolen or misplaced")),
    }
}

pub fn kind_to_wire(kind: LossKind) -> pb::LossKind {
    match kind {
        LossKind::Lost => pb::LossKind::Lost,
        LossKind::Stolen => pb::LossKind::Stolen,
        LossKind::Misplaced => pb::LossKind::Misplaced,
    }
}

pub fn state_to_wire(state: LossReportState) -> pb::LossReportState {
    match state {
        LossReportState::Submitted => pb::LossReportState::Submitted,
        LossReportState::Active => pb::LossReportState::Active,
        LossReportState::Revoked => pb::LossReportState::Revoked,
        LossReportState::Closed => pb::LossReportState::Closed,
        LossReportState::Refused => pb::LossReportState::Refused,
    }
}

/// What an outcome's state means for the report: the event the domicile bureau applied.
pub fn outcome_event(field: &str, value: i32) -> Result<LossReportEvent, FieldError> {
    match pb::LossReportState::try_from(value) {
        Ok(pb::LossReportState::Active) => Ok(LossReportEvent::Recorded),
        Ok(pb::LossReportState::Revoked) => Ok(LossReportEvent::Revoked),
        Ok(pb::LossReportState::Closed) => Ok(LossReportEvent::ReplacementIssued),
        Ok(pb::LossReportState::Refused) => Ok(LossReportEvent::Refused),
        _ => Err(FieldError::new(field, "required: active, revoked, closed or refused")),
    }
}
