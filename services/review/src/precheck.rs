//! The pre-check a reviewer sees: the application compared with the household register
//! as it is now, and the eligibility rules of the domain policy applied to what the
//! register says. The reviewer decides; findings never block a decision.

use idcard_crypto::Keyring;
use idcard_db::{DbError, Tx};
use idcard_domain::{ApplicationKind, EligibilityFacts, Policy};
use idcard_proto::v1;
use idcard_server::wire::date_from_wire;
use time::Date;
use uuid::Uuid;

use crate::register::{Card, CardStatus, Resident};
use crate::store;
use crate::wire::sex_from_wire;

/// Set when no register record has the applicant's citizen id.
pub const NO_REGISTER_RECORD: &str = "NO_REGISTER_RECORD";
const IDENTITY_INCONSISTENT: &str = "IDENTITY_INCONSISTENT";

/// What the register holds about the applicant.
pub struct RegisterView {
    pub resident: Resident,
    /// The resident's cards, less any card issued for the case being checked (so that a
    /// decided case is checked as it was before the decision).
    pub cards: Vec<Card>,
    pub duplicate_records: bool,
}

/// Reads the register for `citizen_id`; `None` when it has no record.
pub async fn load(
    tx: &mut Tx,
    keys: &Keyring,
    citizen_id: &str,
    application_id: Uuid,
) -> Result<Option<RegisterView>, DbError> {
    let Some(resident) = store::find_resident(tx, keys, citizen_id).await? else {
        return Ok(None);
    };
    let cards = store::cards_of(tx, keys, citizen_id)
        .await?
        .into_iter()
        .filter(|card| card.application_id != Some(application_id))
        .collect();
    let duplicate_records = store::has_duplicate_record(tx, keys, &resident).await?;
    Ok(Some(RegisterView {
        resident,
        cards,
        duplicate_records,
    }))
}

/// The application being checked.
pub struct Subject<'a> {
    pub kind: ApplicationKind,
    pub application_date: Date,
    pub request: &'a v1::ReceiveApplicationRequest,
}

/// Every finding, in a stable order: one `IDENTITY_INCONSISTENT` per card item that
/// differs from the register, then the other reasons of the standard policy; or a single
/// `NO_REGISTER_RECORD` when the register has no record.
pub fn findings(subject: &Subject<'_>, register: Option<&RegisterView>) -> Vec<v1::Finding> {
    let Some(register) = register else {
        return vec![finding(
            NO_REGISTER_RECORD,
            "applicant.card_items.citizen_id",
            "the household register of this bureau has no record with this citizen id",
        )];
    };
    let mismatches = mismatches(subject.request, &register.resident);
    let facts = EligibilityFacts {
        kind: subject.kind,
        application_date: subject.application_date,
        first_application: register.cards.is_empty(),
        identity_consistent: mismatches.is_empty(),
        appearance_changed: subject.request.appearance_changed,
        fingerprint_on_record: register.resident.fingerprint_on_record,
        forged_documents_on_record: register.resident.forged_documents_on_record,
        bad_credit: register.resident.bad_credit,
        current_card_expiry: current_card(&register.cards).and_then(|card| card.validity_end),
        record_locked: register.resident.record_locked,
        duplicate_records: register.duplicate_records,
    };
    let Err(refusals) = Policy::standard().check(&facts) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for refusal in refusals {
        if refusal.code == IDENTITY_INCONSISTENT {
            // The rule says identity cannot be confirmed; the reviewer needs to know where.
            out.extend(
                mismatches
                    .iter()
                    .map(|(field, message)| finding(IDENTITY_INCONSISTENT, field, message)),
            );
        } else {
            out.push(finding(refusal.code, field_of(refusal.code), refusal.message));
        }
    }
    out
}

/// The card the resident uses now: the active card valid from the latest date.
fn current_card(cards: &[Card]) -> Option<&Card> {
    cards
        .iter()
        .filter(|card| card.status == CardStatus::Active)
        .max_by_key(|card| (card.validity_start, card.issued_at_ms))
}

/// The application field a rule's finding concerns, if one does.
fn field_of(code: &str) -> &'static str {
    match code {
        "APPEARANCE_CHANGED_NO_FINGERPRINT" => "appearance_changed",
        "RENEWAL_TOO_EARLY" => "kind",
        _ => "",
    }
}

/// Card items (and the declared domicile) that differ from the register, as
/// (field, message). Messages do not repeat the values: they are personal data, and the
/// reviewer has the application in front of them.
fn mismatches(request: &v1::ReceiveApplicationRequest, resident: &Resident) -> Vec<(&'static str, &'static str)> {
    let applicant = request.applicant.clone().unwrap_or_default();
    let items = applicant.card_items.unwrap_or_default();
    let mut out = Vec::new();
    if !same_text(&items.name, &resident.name) {
        out.push((
            "applicant.card_items.name",
            "the name differs from the household register",
        ));
    }
    if sex_from_wire(items.sex) != Some(resident.sex) {
        out.push((
            "applicant.card_items.sex",
            "the sex differs from the household register",
        ));
    }
    if !same_text(&items.ethnicity, &resident.ethnicity) {
        out.push((
            "applicant.card_items.ethnicity",
            "the ethnicity differs from the household register",
        ));
    }
    if date_from_wire("", items.birth_date.as_ref()).ok() != Some(resident.birth_date) {
        out.push((
            "applicant.card_items.birth_date",
            "the birth date differs from the household register",
        ));
    }
    if !same_text(&items.domicile_address, &resident.domicile_address) {
        out.push((
            "applicant.card_items.domicile_address",
            "the domicile address differs from the household register",
        ));
    }
    if applicant.domicile_region_code.trim() != resident.domicile_region_code {
        out.push((
            "applicant.domicile_region_code",
            "the declared domicile region differs from the household register",
        ));
    }
    out
}

/// Equal but for surrounding and repeated white space.
pub fn same_text(a: &str, b: &str) -> bool {
    a.split_whitespace().eq(b.split_whitespace())
}

fn finding(code: &str, field: &str, message: &str) -> v1::Finding {
    v1::Finding {
        code: code.to_string(),
        field: field.to_string(),
        message: message.to_string(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use idcard_domain::Sex;
    use idcard_server::wire::date_to_wire;
    use time::macros::date;

    use super::*;

    fn resident() -> Resident {
        Resident {
            citizen_id: "11010519491231002X".into(),
            name: "张三".into(),
            sex: Sex::Female,
            ethnicity: "汉".into(),
            birth_date: date!(1949 - 12 - 31),
            domicile_address: "北京市朝阳区某街1号".into(),
            domicile_region_code: "110105".into(),
            fingerprint_on_record: true,
            phone: String::new(),
            record_locked: false,
            bad_credit: false,
            forged_documents_on_record: false,
        }
    }

    fn card(end: Option<Date>) -> Card {
        Card {
            card_id: Uuid::nil(),
            citizen_id: "11010519491231002X".into(),
            validity_start: date!(2006 - 01 - 01),
            validity_end: end,
            issuing_authority: "北京市公安局朝阳分局".into(),
            status: CardStatus::Active,
            application_id: None,
            issued_at_ms: 0,
        }
    }

    fn request() -> v1::ReceiveApplicationRequest {
        v1::ReceiveApplicationRequest {
            applicant: Some(v1::Applicant {
                card_items: Some(v1::CardItems {
                    citizen_id: "11010519491231002X".into(),
                    name: "张三".into(),
                    sex: v1::Sex::Female.into(),
                    ethnicity: "汉".into(),
                    birth_date: Some(date_to_wire(date!(1949 - 12 - 31))),
                    domicile_address: "北京市朝阳区某街1号 ".into(),
                }),
                domicile_region_code: "110105".into(),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn codes(findings: &[v1::Finding]) -> Vec<&str> {
        findings.iter().map(|f| f.code.as_str()).collect()
    }

    #[test]
    fn renewal_asked_long_before_expiry_is_found_too_early() {
        let request = request();
        let subject = Subject {
            kind: ApplicationKind::Renewal,
            application_date: date!(2026 - 01 - 01),
            request: &request,
        };
        let view = RegisterView {
            resident: resident(),
            cards: vec![card(Some(date!(2026 - 12 - 31)))],
            duplicate_records: false,
        };
        assert_eq!(codes(&findings(&subject, Some(&view))), ["RENEWAL_TOO_EARLY"]);
    }

    #[test]
    fn resident_without_cards_is_a_first_application() {
        let request = request();
        let subject = Subject {
            kind: ApplicationKind::Replacement,
            application_date: date!(2026 - 01 - 01),
            request: &request,
        };
        let view = RegisterView {
            resident: resident(),
            cards: vec![],
            duplicate_records: true,
        };
        assert_eq!(
            codes(&findings(&subject, Some(&view))),
            ["FIRST_APPLICATION", "DUPLICATE_RECORDS"]
        );
    }

    #[test]
    fn every_differing_item_is_a_finding_with_its_field() {
        let mut request = request();
        let applicant = request.applicant.as_mut().unwrap();
        applicant.domicile_region_code = "110108".into();
        let items = applicant.card_items.as_mut().unwrap();
        items.name = "张四".into();
        items.sex = v1::Sex::Male.into();
        let subject = Subject {
            kind: ApplicationKind::Replacement,
            application_date: date!(2026 - 01 - 01),
            request: &request,
        };
        let view = RegisterView {
            resident: resident(),
            cards: vec![card(None)],
            duplicate_records: false,
        };
        let found = findings(&subject, Some(&view));
        let fields: Vec<_> = found.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(codes(&found), [IDENTITY_INCONSISTENT; 3]);
        assert_eq!(
            fields,
            [
                "applicant.card_items.name",
                "applicant.card_items.sex",
                "applicant.domicile_region_code"
            ]
        );
    }
}
