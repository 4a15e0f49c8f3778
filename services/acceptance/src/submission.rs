//! Turns a `SubmitApplicationRequest` into an accepted application, or says everything
//! that is wrong with it at once: field errors (bad input) first, then refusals under
//! the rules.

use idcard_domain::{
    ApplicationKind, CitizenId, EligibilityFacts, Fee, Policy, ReceiptNo, RegionCode, application_fee, check_documents,
};
use idcard_proto::v1 as pb;
use idcard_server::status::{FieldError, Reason};
use idcard_server::wire::{self, enums};

use crate::routing::Routes;

/// A request that passed every check, with what the checks found.
pub struct Submission {
    pub kind: ApplicationKind,
    pub acceptance_point_code: String,
    pub citizen_id: CitizenId,
    pub domicile: RegionCode,
    pub review_peer: String,
    pub fee: Fee,
    /// The loss report a replacement follows, if the clerk named one.
    pub loss_report: Option<ReceiptNo>,
}

pub enum Rejected {
    BadInput(Vec<FieldError>),
    Refused(Vec<Reason>),
}

const MAX_FINGERPRINT_BYTES: usize = 64 * 1024;

/// Field errors collected across a whole request, so the clerk hears them all at once.
#[derive(Default)]
struct Errors(Vec<FieldError>);

impl Errors {
    fn push(&mut self, field: &str, description: impl Into<String>) {
        self.0.push(FieldError::new(field, description));
    }

    /// The value, or `None` with its error noted.
    fn take<T>(&mut self, result: Result<T, FieldError>) -> Option<T> {
        result.map_err(|err| self.0.push(err)).ok()
    }
}

/// What the checks depend on beyond the request.
pub struct Limits<'a> {
    pub routes: &'a Routes,
    /// The largest photo accepted, in bytes.
    pub max_photo_bytes: usize,
}

/// Validates `request` as received on `today` (China Standard Time). The clerk is not
/// checked here: it is the caller's token subject.
pub fn check(
    request: &pb::SubmitApplicationRequest,
    limits: &Limits<'_>,
    today: time::Date,
) -> Result<Submission, Rejected> {
    let mut errors = Errors::default();
    let acceptance_point_code = errors.take(point_code("acceptance_point_code", &request.acceptance_point_code));
    let kind = errors.take(enums::kind_from_wire("kind", request.kind));

    let (citizen_id, domicile) = match request.applicant.as_ref() {
        None => {
            errors.push("applicant", "required");
            (None, None)
        }
        Some(applicant) => applicant_fields(applicant, limits.max_photo_bytes, today, &mut errors),
    };
    let review_peer = domicile.and_then(|code| {
        let peer = limits.routes.review_peer(code).map(str::to_string);
        if peer.is_none() {
            errors.push(
                "applicant.domicile_region_code",
                format!("no review service serves region {} ({})", code.as_string(), code.name()),
            );
        }
        peer
    });

    let documents: Vec<_> = request
        .documents
        .iter()
        .enumerate()
        .filter_map(|(i, value)| errors.take(enums::document_from_wire(&format!("documents[{i}]"), *value)))
        .collect();
    let waiver = match request.fee.as_ref() {
        None => {
            errors.push("fee", "required");
            None
        }
        Some(fee) => errors.take(enums::waiver_from_wire("fee.waiver", fee.waiver)),
    };

    if let (Some(id), Some(kind)) = (&citizen_id, kind) {
        let age = id.age_on(today);
        if age < idcard_domain::documents::GUARDIAN_AGE {
            errors.take(guardian(request.guardian.as_ref(), today));
        }
        if let Err(missing) = check_documents(kind, age, &documents) {
            let list = missing
                .iter()
                .map(|m| format!("{} ({})", m.message, m.code))
                .collect::<Vec<_>>()
                .join("; ");
            errors.push("documents", format!("missing: {list}"));
        }
    }
    let fee = match (kind, waiver, request.fee.as_ref()) {
        (Some(kind), Some(waiver), Some(paid)) => {
            let fee = application_fee(kind, waiver, today);
            if paid.amount_fen != i64::from(fee.amount_fen) {
                errors.push(
                    "fee.amount_fen",
                    format!(
                        "the fee for a {} with waiver {} is {} fen, got {}",
                        kind.as_str(),
                        waiver.as_str(),
                        fee.amount_fen,
                        paid.amount_fen
                    ),
                );
            }
            if fee.amount_fen > 0 {
                errors.take(wire::required_text(
                    "fee.payment_reference",
                    &paid.payment_reference,
                    64,
                ));
            }
            Some(fee)
        }
        _ => None,
    };
    let current_card_expiry = match (kind, request.current_card_expiry.as_ref()) {
        (Some(ApplicationKind::Renewal), None) => {
            errors.push(
                "current_card_expiry",
                "required for a renewal: the expiry date on the card being renewed",
            );
            None
        }
        (_, Some(expiry)) => errors.take(wire::date_from_wire("current_card_expiry", Some(expiry))),
        (_, None) => None,
    };

    let loss_report = match (kind, request.loss_report_number.as_str()) {
        (_, "") => None,
        (Some(ApplicationKind::Renewal), _) => {
            errors.push(
                "loss_report_number",
                "only a replacement follows a loss report; a renewal names none",
            );
            None
        }
        (_, number) => {
            errors.take(ReceiptNo::parse(number).map_err(|err| FieldError::new("loss_report_number", err.to_string())))
        }
    };

    let (Some(acceptance_point_code), Some(kind), Some(citizen_id), Some(domicile), Some(review_peer), Some(fee)) =
        (acceptance_point_code, kind, citizen_id, domicile, review_peer, fee)
    else {
        return Err(Rejected::BadInput(errors.0));
    };
    if !errors.0.is_empty() {
        return Err(Rejected::BadInput(errors.0));
    }

    // The rules the acceptance point can apply itself; the domicile bureau applies the
    // rest against the household register.
    let facts = EligibilityFacts {
        kind,
        application_date: today,
        first_application: false,
        identity_consistent: true,
        appearance_changed: request.appearance_changed,
        fingerprint_on_record: true,
        forged_documents_on_record: false,
        bad_credit: false,
        current_card_expiry,
        record_locked: false,
        duplicate_records: false,
    };
    if let Err(refusals) = Policy::standard().check(&facts) {
        return Err(Rejected::Refused(
            refusals
                .into_iter()
                .map(|r| Reason {
                    code: r.code.to_string(),
                    message: r.message.to_string(),
                })
                .collect(),
        ));
    }

    Ok(Submission {
        kind,
        acceptance_point_code,
        citizen_id,
        domicile,
        review_peer,
        fee,
        loss_report,
    })
}

/// The applicant's card items, domicile, phone, photo and fingerprints.
fn applicant_fields(
    applicant: &pb::Applicant,
    max_photo_bytes: usize,
    today: time::Date,
    errors: &mut Errors,
) -> (Option<CitizenId>, Option<RegionCode>) {
    let citizen_id = match applicant.card_items.as_ref() {
        None => {
            errors.push("applicant.card_items", "required");
            None
        }
        Some(items) => {
            let id = errors.take(
                CitizenId::parse(&items.citizen_id, today)
                    .map_err(|err| FieldError::new("applicant.card_items.citizen_id", err.to_string())),
            );
            errors.take(wire::required_text("applicant.card_items.name", &items.name, 64));
            errors.take(wire::required_text(
                "applicant.card_items.ethnicity",
                &items.ethnicity,
                32,
            ));
            errors.take(wire::required_text(
                "applicant.card_items.domicile_address",
                &items.domicile_address,
                200,
            ));
            let sex = errors.take(enums::sex_from_wire("applicant.card_items.sex", items.sex));
            let birth = errors.take(wire::date_from_wire(
                "applicant.card_items.birth_date",
                items.birth_date.as_ref(),
            ));
            if let Some(id) = &id {
                if sex.is_some_and(|sex| sex != id.sex()) {
                    errors.push("applicant.card_items.sex", "does not match the citizen id");
                }
                if birth.is_some_and(|birth| birth != id.birth_date()) {
                    errors.push("applicant.card_items.birth_date", "does not match the citizen id");
                }
            }
            id
        }
    };
    let domicile = errors.take(
        RegionCode::parse_current(&applicant.domicile_region_code)
            .map_err(|err| FieldError::new("applicant.domicile_region_code", err.to_string())),
    );
    errors.take(phone("applicant.phone", &applicant.phone));
    if applicant.photo.is_empty() {
        errors.push("applicant.photo", "required: the photo taken at the acceptance point");
    } else if applicant.photo.len() > max_photo_bytes {
        errors.push(
            "applicant.photo",
            format!(
                "at most {max_photo_bytes} bytes (IDCARD_MAX_PHOTO_BYTES), got {}",
                applicant.photo.len()
            ),
        );
    }
    if applicant.fingerprints.len() > 2 {
        errors.push("applicant.fingerprints", "at most two fingerprints");
    }
    if applicant
        .fingerprints
        .iter()
        .any(|f| f.is_empty() || f.len() > MAX_FINGERPRINT_BYTES)
    {
        errors.push(
            "applicant.fingerprints",
            format!("each 1 to {MAX_FINGERPRINT_BYTES} bytes"),
        );
    }
    (citizen_id, domicile)
}

/// Acceptance point codes: 1 to 32 letters, digits or hyphens.
pub fn point_code(field: &str, code: &str) -> Result<String, FieldError> {
    if code.is_empty() || code.len() > 32 || !code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return Err(FieldError::new(field, "required: 1 to 32 letters, digits or hyphens"));
    }
    Ok(code.to_string())
}

/// A mainland mobile number: 11 digits starting with 1.
fn phone(field: &str, phone: &str) -> Result<(), FieldError> {
    if phone.len() == 11 && phone.starts_with('1') && phone.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(FieldError::new(
            field,
            "required: an 11-digit mobile number starting with 1",
        ))
    }
}

fn guardian(guardian: Option<&pb::Guardian>, today: time::Date) -> Result<(), FieldError> {
    let Some(g) = guardian else {
        return Err(FieldError::new(
            "guardian",
            "required: an applicant under 16 applies through a guardian",
        ));
    };
    wire::required_text("guardian.name", &g.name, 64)?;
    wire::required_text("guardian.relationship", &g.relationship, 32)?;
    CitizenId::parse(&g.citizen_id, today).map_err(|err| FieldError::new("guardian.citizen_id", err.to_string()))?;
    Ok(())
}
