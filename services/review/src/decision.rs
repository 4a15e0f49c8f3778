//! Reading a case as the reviewer sees it, and deciding it: approval issues the card
//! and tells the acceptance side; rejection tells it why and whom to contact.

use idcard_audit::Entry;
use idcard_crypto::{Keyring, Purpose};
use idcard_db::{Db, Tx, now_ms};
use idcard_domain::{ApplicationKind, CitizenId, RegionCode};
use idcard_outbox::NewMessage;
use idcard_proto::v1::{
    self, ApproveApplicationResponse, ReceiveDecisionRequest, RejectApplicationRequest, RejectApplicationResponse,
    receive_decision_request::Decision,
};
use idcard_server::status::{self, FieldError, Reason};
use idcard_server::wire::{ms_to_timestamp, required_text, today_cst};
use prost::Message as _;
use tonic::Status;
use uuid::Uuid;

use crate::actor::Actor;
use crate::card_status::{self, Context, Publisher};
use crate::case::{Case, CaseState};
use crate::loss_report::lifecycle;
use crate::precheck::{self, Subject};
use crate::wire::optional_text;
use crate::{audit, delivery, issuance, store};

/// The answer for an unknown case and for a case outside the caller's jurisdictions
/// alike, so that a caller cannot learn that a case exists elsewhere.
fn not_found(application_id: Uuid) -> Status {
    Status::not_found(format!("no application {application_id} at this review service"))
}

/// `NOT_FOUND` unless the case exists and `actor` may see it, without opening it: the
/// check before a client request id's stored answer may be replayed.
pub async fn check_visible(db: &Db, actor: &Actor, application_id: Uuid) -> Result<(), Status> {
    let mut tx = db.begin_read().await.map_err(status::from_db)?;
    let region = store::case_region(&mut tx, application_id)
        .await
        .map_err(status::from_db)?;
    match region {
        Some(region) if actor.can_see_region(&region) => Ok(()),
        _ => Err(not_found(application_id)),
    }
}

/// The case, or `NOT_FOUND` (also for a case outside the caller's jurisdictions).
pub async fn find_case(tx: &mut Tx, keys: &Keyring, actor: &Actor, application_id: Uuid) -> Result<Case, Status> {
    store::find_case(tx, keys, application_id, |region| actor.can_see_region(region))
        .await
        .map_err(status::from_db)?
        .ok_or_else(|| not_found(application_id))
}

/// The case as the reviewer sees it, with findings against the register as it is now.
pub async fn review_case(tx: &mut Tx, keys: &Keyring, case: &Case) -> Result<v1::ReviewCase, Status> {
    let register = precheck::load(tx, keys, &case.citizen_id, case.application_id)
        .await
        .map_err(status::from_db)?;
    let subject = Subject {
        kind: case.kind,
        application_date: case.application_date(),
        request: &case.request,
    };
    let findings = precheck::findings(&subject, register.as_ref());
    Ok(case.to_wire(findings, register.is_some()))
}

fn already_decided(case: &Case) -> Status {
    status::refused(&[Reason {
        code: "CASE_ALREADY_DECIDED".to_string(),
        message: format!("application {} is already {}", case.application_id, case.state.as_str()),
    }])
}

/// Who decides: the caller, and the reviewer recorded (the token subject; the request's
/// free-text field only without a token).
pub struct Decider<'a> {
    pub actor: &'a Actor,
    pub reviewer: &'a str,
}

/// Issues the card, records the approval and enqueues the decision for the acceptance
/// side, in `tx`. The production order follows once the decision is delivered.
///
/// The card is valid from today (China Standard Time) for the applicant's age then,
/// counted from the birth date inside the citizen id (a different birth date on the
/// form is a finding the reviewer has seen). Its status is published as active. A
/// replacement invalidates the resident's other cards for good and closes their loss
/// reports; a renewal leaves the old card active until the new one is collected.
pub async fn approve(
    tx: &mut Tx,
    keys: &Keyring,
    publisher: &Publisher,
    decider: &Decider<'_>,
    application_id: Uuid,
    note: &str,
) -> Result<ApproveApplicationResponse, Status> {
    let mut case = find_case(tx, keys, decider.actor, application_id).await?;
    if case.state != CaseState::Pending {
        return Err(already_decided(&case));
    }
    let issue_date = today_cst();
    let citizen_id = CitizenId::parse(&case.citizen_id, issue_date).map_err(|err| stored_case_unreadable(&err))?;
    let domicile = RegionCode::parse(&case.domicile_region_code).map_err(|err| stored_case_unreadable(&err))?;
    let now = now_ms();
    let issued = issuance::issue(
        citizen_id.as_str(),
        citizen_id.birth_date(),
        domicile,
        application_id,
        issue_date,
        now,
    );

    let approval = store::Approval {
        issuance: &issued.issuance,
        card_id: issued.card.card_id,
        reviewer: decider.reviewer,
        note,
        decided_at_ms: now,
    };
    if !store::record_approval(tx, keys, application_id, &approval)
        .await
        .map_err(status::from_db)?
    {
        return Err(already_decided(&case));
    }
    store::insert_card(tx, keys, &issued.card)
        .await
        .map_err(status::from_db)?;
    let cx = Context {
        keys,
        publisher,
        actor: decider.reviewer,
        role: decider.actor.role(),
        at_ms: now,
    };
    // The new card carries the name as applied for; earlier cards the register's.
    let new_name = case
        .request
        .applicant
        .as_ref()
        .and_then(|applicant| applicant.card_items.as_ref())
        .map(|items| items.name.clone())
        .unwrap_or_default();
    card_status::publish(tx, &cx, &issued.card, &new_name, issued.card.issued_at_ms).await?;
    if case.kind == ApplicationKind::Replacement {
        let old_name = store::find_resident(tx, keys, citizen_id.as_str())
            .await
            .map_err(status::from_db)?
            .map_or(new_name, |resident| resident.name);
        let invalidated =
            lifecycle::close_for_replacement(tx, &cx, citizen_id.as_str(), &old_name, issued.card.card_id).await?;
        tracing::info!(invalidated, "earlier cards invalidated by the replacement");
    }
    let decision = Decision::Approval(v1::Approval {
        issuance: Some(issued.issuance.clone()),
    });
    enqueue_decision(tx, keys, &case, decision, decider.reviewer, now).await?;
    audit::record(
        tx,
        Entry {
            actor: decider.reviewer,
            role: decider.actor.role(),
            action: audit::APPROVE,
            target: &audit::application(application_id),
            detail: &format!("card:{}", issued.card.card_id),
        },
    )
    .await?;

    case.state = CaseState::Approved;
    case.issuance = Some(issued.issuance);
    case.reviewer = Some(decider.reviewer.to_string());
    Ok(ApproveApplicationResponse {
        review_case: Some(review_case(tx, keys, &case).await?),
    })
}

pub async fn reject(
    tx: &mut Tx,
    keys: &Keyring,
    decider: &Decider<'_>,
    application_id: Uuid,
    rejection: v1::Rejection,
) -> Result<RejectApplicationResponse, Status> {
    let mut case = find_case(tx, keys, decider.actor, application_id).await?;
    if case.state != CaseState::Pending {
        return Err(already_decided(&case));
    }
    let now = now_ms();
    if !store::record_rejection(tx, keys, application_id, &rejection, decider.reviewer, now)
        .await
        .map_err(status::from_db)?
    {
        return Err(already_decided(&case));
    }
    let codes: Vec<&str> = rejection.reasons.iter().map(|r| r.code.as_str()).collect();
    audit::record(
        tx,
        Entry {
            actor: decider.reviewer,
            role: decider.actor.role(),
            action: audit::REJECT,
            target: &audit::application(application_id),
            detail: &format!("reasons:{}", codes.join(",")),
        },
    )
    .await?;
    enqueue_decision(
        tx,
        keys,
        &case,
        Decision::Rejection(rejection.clone()),
        decider.reviewer,
        now,
    )
    .await?;

    case.state = CaseState::Rejected;
    case.rejection = Some(rejection);
    case.reviewer = Some(decider.reviewer.to_string());
    Ok(RejectApplicationResponse {
        review_case: Some(review_case(tx, keys, &case).await?),
    })
}

/// The decision goes to the acceptance service the case came from, in order with any
/// other message about the application. It carries no personal data of the applicant.
async fn enqueue_decision(
    tx: &mut Tx,
    keys: &Keyring,
    case: &Case,
    decision: Decision,
    reviewer: &str,
    now: i64,
) -> Result<(), Status> {
    let message = ReceiveDecisionRequest {
        message_id: String::new(),
        application_id: case.application_id.to_string(),
        decision: Some(decision),
        decided_at: Some(ms_to_timestamp(now)),
        reviewer: reviewer.to_string(),
    };
    let ordering_key = case.application_id.to_string();
    idcard_outbox::enqueue(
        tx,
        keys,
        NewMessage {
            destination: &case.request.origin,
            kind: delivery::RECEIVE_DECISION,
            ordering_key: &ordering_key,
            payload: message.encode_to_vec(),
            sealed_for: Purpose::Data,
        },
    )
    .await
    .map_err(status::from_db)?;
    Ok(())
}

fn stored_case_unreadable(err: &dyn std::fmt::Display) -> Status {
    tracing::error!(error = %err, "stored case does not parse");
    Status::internal("stored case does not parse")
}

/// Reasons (at least one; upper-snake codes and details) and a contact (office and
/// phone), all errors at once.
pub fn check_rejection(request: &RejectApplicationRequest, errors: &mut Vec<FieldError>) -> v1::Rejection {
    if request.reasons.is_empty() {
        errors.push(FieldError::new(
            "reasons",
            "required: at least one reason with a code and details",
        ));
    }
    let mut reasons = Vec::with_capacity(request.reasons.len());
    for (i, reason) in request.reasons.iter().enumerate() {
        let code = reason.code.trim();
        if code.is_empty() {
            errors.push(FieldError::new(format!("reasons[{i}].code"), "required"));
        } else if !is_reason_code(code) {
            errors.push(FieldError::new(
                format!("reasons[{i}].code"),
                format!("expected an upper-snake reason code such as IDENTITY_INCONSISTENT, got {code:?}"),
            ));
        }
        let detail = required_text(&format!("reasons[{i}].detail"), &reason.detail, 1000).map_err(|e| errors.push(e));
        reasons.push(v1::RejectionReason {
            code: code.to_string(),
            detail: detail.unwrap_or_default(),
        });
    }
    let contact = match request.contact.as_ref() {
        None => {
            errors.push(FieldError::new(
                "contact",
                "required: the office and phone the applicant contacts",
            ));
            None
        }
        Some(contact) => {
            let office = required_text("contact.office", &contact.office, 100).map_err(|e| errors.push(e));
            let phone = required_text("contact.phone", &contact.phone, 32).map_err(|e| errors.push(e));
            let person = optional_text("contact.person", &contact.person, 64).map_err(|e| errors.push(e));
            Some(v1::Contact {
                office: office.unwrap_or_default(),
                person: person.unwrap_or_default(),
                phone: phone.unwrap_or_default(),
            })
        }
    };
    v1::Rejection { reasons, contact }
}

/// `IDENTITY_INCONSISTENT`, `RECORD_LOCKED`: upper-case words joined by single
/// underscores, starting with a letter, at most 64 characters.
fn is_reason_code(code: &str) -> bool {
    code.len() <= 64
        && code.starts_with(|c: char| c.is_ascii_uppercase())
        && code
            .split('_')
            .all(|word| !word.is_empty() && word.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_codes_are_upper_snake() {
        assert!(is_reason_code("IDENTITY_INCONSISTENT"));
        assert!(is_reason_code("RULE_2"));
        for bad in ["identity", "_X", "X__Y", "X_", "2X", "X-Y", ""] {
            assert!(!is_reason_code(bad), "{bad}");
        }
    }
}
