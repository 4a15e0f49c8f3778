//! `idcard.v1.CitizenService`: a citizen reports their card lost online.
//!
//! The citizen's token names their own ID number (scope); a request for another number
//! is `PERMISSION_DENIED`. [`StartOnlineLossReport`] checks the name and number against
//! the register (a resident with an active or reported card; otherwise `NOT_FOUND` "no
//! card to report for this name and number": the caller is that citizen, so this tells
//! nothing they do not know) and sends a 6-digit one-time code to the phone on record
//! through the notifier outbox. The code is random, kept only as a keyed hash and valid
//! for 10 minutes. [`ConfirmOnlineLossReport`] with the right code records the report
//! exactly like one taken at a counter (channel online); a wrong code is
//! `UNAUTHENTICATED` with the attempts left (in the message and in an `ErrorInfo`
//! entry, `attempts_left`), and the fifth wrong code in a row for a card, across
//! challenges, locks online reporting for that card for 15 minutes
//! (`FAILED_PRECONDITION`, `REPORTING_LOCKED`). A challenge or report of another
//! citizen answers `NOT_FOUND`, exactly as an unknown one.
//!
//! [`StartOnlineLossReport`]: CitizenService::start_online_loss_report
//! [`ConfirmOnlineLossReport`]: CitizenService::confirm_online_loss_report

use std::collections::HashMap;
use std::sync::Arc;

use idcard_audit::Entry;
use idcard_crypto::Keyring;
use idcard_db::{Tx, now_ms};
use idcard_domain::{CitizenId, ReceiptNo};
use idcard_notify::{Event, mask_phone};
use idcard_proto::v1::citizen_service_server::CitizenService;
use idcard_proto::v1::{
    ConfirmOnlineLossReportRequest, ConfirmOnlineLossReportResponse, GetOnlineLossReportRequest,
    GetOnlineLossReportResponse, StartOnlineLossReportRequest, StartOnlineLossReportResponse,
};
use idcard_server::idempotent::{self, check_request_id};
use idcard_server::status::{self, FieldError, Reason, invalid_argument};
use idcard_server::wire::{ms_to_timestamp, parse_uuid, required_text, today_cst};
use ring::rand::{SecureRandom, SystemRandom};
use tonic::{Code, Request, Response, Status};
use tonic_types::{ErrorDetails, StatusExt};
use uuid::Uuid;

use crate::actor::Actor;
use crate::card_status::Context;
use crate::loss_report::intake::{self, Intake};
use crate::loss_report::{Identity, ReportChannel, card_to_report, kind_from_wire};
use crate::precheck::same_text;
use crate::store::{self, Challenge};
use crate::wire::optional_text;
use crate::{State, audit, notify};

/// How long a one-time code is valid.
pub const CODE_VALID_MINUTES: u32 = 10;
/// Wrong codes in a row that lock online reporting for a card.
pub const MAX_WRONG_CODES: u32 = 5;
/// How long the lock lasts.
pub const LOCK_MINUTES: i64 = 15;
/// The `ErrorInfo` reason of a wrong code; its metadata holds `attempts_left`.
pub const WRONG_CODE: &str = "WRONG_CODE";
pub const REPORTING_LOCKED: &str = "REPORTING_LOCKED";

const MINUTE_MS: i64 = 60_000;
const NO_CARD: &str = "no card to report for this name and number";

pub struct Handlers {
    state: Arc<State>,
}

impl Handlers {
    pub fn new(state: Arc<State>) -> Self {
        Handlers { state }
    }
}

#[tonic::async_trait]
impl CitizenService for Handlers {
    #[tracing::instrument(skip_all)]
    async fn start_online_loss_report(
        &self,
        request: Request<StartOnlineLossReportRequest>,
    ) -> Result<Response<StartOnlineLossReportResponse>, Status> {
        let actor = Actor::of(&request);
        let request = request.into_inner();
        let mut errors = Vec::new();
        check_request_id(&request.request_id).unwrap_or_else(|e| errors.push(e));
        let citizen_id = CitizenId::parse(request.citizen_id.trim(), today_cst())
            .map_err(|err| errors.push(FieldError::new("citizen_id", err.to_string())))
            .ok();
        let name = required_text("name", &request.name, 64)
            .map_err(|e| errors.push(e))
            .ok();
        let (Some(citizen_id), Some(name)) = (citizen_id, name) else {
            return Err(invalid_argument(&errors));
        };
        if !errors.is_empty() {
            return Err(invalid_argument(&errors));
        }
        if !actor.is_citizen(citizen_id.as_str()) {
            return Err(Status::permission_denied(
                "a citizen reports only their own card: the token is for another citizen id",
            ));
        }
        let keys = self.state.keys.current();
        let (response, new) = idempotent::run(
            &self.state.db,
            &keys,
            "idcard.v1.CitizenService/StartOnlineLossReport",
            &request.request_id,
            &request,
            async |tx| send_code(tx, &keys, &actor, &citizen_id, &name).await,
        )
        .await?;
        if new {
            self.state.relay.wake();
            tracing::info!(citizen_id = %citizen_id.masked(), "one-time code sent for an online loss report");
        }
        Ok(Response::new(response))
    }

    #[tracing::instrument(skip_all, fields(challenge_id = %request.get_ref().challenge_id))]
    async fn confirm_online_loss_report(
        &self,
        request: Request<ConfirmOnlineLossReportRequest>,
    ) -> Result<Response<ConfirmOnlineLossReportResponse>, Status> {
        let actor = Actor::of(&request);
        let request = request.into_inner();
        let mut errors = Vec::new();
        check_request_id(&request.request_id).unwrap_or_else(|e| errors.push(e));
        let challenge_id = parse_uuid("challenge_id", &request.challenge_id)
            .map_err(|e| errors.push(e))
            .ok();
        let code = request.code.trim();
        if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
            errors.push(FieldError::new(
                "code",
                "expected the 6 digits sent to the phone on record",
            ));
        }
        let kind = kind_from_wire("kind", request.kind).map_err(|e| errors.push(e)).ok();
        let circumstance = optional_text("circumstance", &request.circumstance, 1000)
            .map_err(|e| errors.push(e))
            .ok();
        let (Some(challenge_id), Some(kind), Some(circumstance)) = (challenge_id, kind, circumstance) else {
            return Err(invalid_argument(&errors));
        };
        if !errors.is_empty() {
            return Err(invalid_argument(&errors));
        }
        let keys = self.state.keys.current();
        // The code is checked in a transaction of its own: a wrong code counts although
        // the call fails.
        check_code(&self.state, &keys, &actor, challenge_id, code).await?;

        let (response, new) = idempotent::run(
            &self.state.db,
            &keys,
            "idcard.v1.CitizenService/ConfirmOnlineLossReport",
            &request.request_id,
            &request,
            async |tx| {
                let cx = Context {
                    keys: &keys,
                    publisher: &self.state.publisher,
                    actor: actor.name(),
                    role: actor.role(),
                    at_ms: now_ms(),
                };
                let report = report_online(tx, &cx, challenge_id, kind, &circumstance).await?;
                Ok(ConfirmOnlineLossReportResponse { report: Some(report) })
            },
        )
        .await?;
        if new {
            self.state.relay.wake();
        }
        Ok(Response::new(response))
    }

    #[tracing::instrument(skip_all, fields(report_number = %request.get_ref().report_number))]
    async fn get_online_loss_report(
        &self,
        request: Request<GetOnlineLossReportRequest>,
    ) -> Result<Response<GetOnlineLossReportResponse>, Status> {
        let actor = Actor::of(&request);
        let number = ReceiptNo::parse(request.get_ref().report_number.trim())
            .map_err(|err| invalid_argument(&[FieldError::new("report_number", err.to_string())]))?;
        let keys = self.state.keys.current();
        // A write transaction: the read is audited with it.
        let mut tx = self.state.db.begin().await.map_err(status::from_db)?;
        let report = store::report_by_number(&mut tx, &keys, number.as_str())
            .await
            .map_err(status::from_db)?
            .filter(|report| actor.can_see_citizen(&report.citizen_id))
            .ok_or_else(|| Status::not_found(format!("no loss report {number}")))?;
        let history = store::events_of(&mut tx, &keys, report.report_id)
            .await
            .map_err(status::from_db)?;
        audit::record(
            &mut tx,
            Entry {
                actor: actor.name(),
                role: actor.role(),
                action: audit::LOSS_REPORT_READ,
                target: &audit::loss_report(number.as_str()),
                detail: "",
            },
        )
        .await?;
        tx.commit().await.map_err(status::from_db)?;
        Ok(Response::new(GetOnlineLossReportResponse {
            report: Some(report.to_wire(&history)),
        }))
    }
}

/// Finds the card to report and sends a code for it to the phone on record.
async fn send_code(
    tx: &mut Tx,
    keys: &Keyring,
    actor: &Actor,
    citizen_id: &CitizenId,
    name: &str,
) -> Result<StartOnlineLossReportResponse, Status> {
    let resident = store::find_resident(tx, keys, citizen_id.as_str())
        .await
        .map_err(status::from_db)?
        .filter(|resident| same_text(name, &resident.name))
        .ok_or_else(|| Status::not_found(NO_CARD))?;
    let cards = store::cards_of(tx, keys, citizen_id.as_str())
        .await
        .map_err(status::from_db)?;
    let card = card_to_report(&cards).ok_or_else(|| Status::not_found(NO_CARD))?;
    let now = now_ms();
    if let Some(until) = store::locked_until(tx, card.card_id, now)
        .await
        .map_err(status::from_db)?
    {
        return Err(locked(until, now));
    }
    if resident.phone.trim().is_empty() {
        return Err(status::refused(&[Reason {
            code: "NO_PHONE_ON_RECORD".to_string(),
            message: "no phone on record to send a code to; report the loss at any acceptance point".to_string(),
        }]));
    }
    let code = one_time_code()?;
    let challenge_id = Uuid::now_v7();
    let expires_at_ms = now + i64::from(CODE_VALID_MINUTES) * MINUTE_MS;
    let challenge = Challenge::new(challenge_id, citizen_id.as_str(), card.card_id, now, expires_at_ms);
    store::insert_challenge(tx, keys, &challenge, &code)
        .await
        .map_err(status::from_db)?;
    let event = Event::OneTimeCode {
        code,
        valid_minutes: CODE_VALID_MINUTES,
    };
    notify::enqueue(tx, keys, &resident.phone, event, &challenge_id.to_string())
        .await
        .map_err(status::from_db)?;
    audit::record(
        tx,
        Entry {
            actor: actor.name(),
            role: actor.role(),
            action: audit::ONLINE_CODE_SENT,
            target: &audit::challenge(challenge_id),
            detail: &audit::card(card.card_id),
        },
    )
    .await?;
    Ok(StartOnlineLossReportResponse {
        challenge_id: challenge_id.to_string(),
        phone_masked: mask_phone(resident.phone.trim()),
        expires_at: Some(ms_to_timestamp(expires_at_ms)),
    })
}

/// Checks `code` against the challenge and commits what it learnt: a wrong code is
/// counted (and may lock the card), a right one clears the count.
async fn check_code(
    state: &State,
    keys: &Keyring,
    actor: &Actor,
    challenge_id: Uuid,
    code: &str,
) -> Result<(), Status> {
    let mut tx = state.db.begin().await.map_err(status::from_db)?;
    let challenge = store::find_challenge(&mut tx, keys, challenge_id)
        .await
        .map_err(status::from_db)?
        .filter(|challenge| actor.is_citizen(&challenge.citizen_id))
        .ok_or_else(|| Status::not_found(format!("no challenge {challenge_id}")))?;
    let now = now_ms();
    if let Some(until) = store::locked_until(&mut tx, challenge.card_id, now)
        .await
        .map_err(status::from_db)?
    {
        return Err(locked(until, now));
    }
    if challenge.report_number.is_none() && now > challenge.expires_at_ms {
        return Err(status::refused(&[Reason {
            code: "CODE_EXPIRED".to_string(),
            message: format!("the code was valid for {CODE_VALID_MINUTES} minutes; start again for a new code"),
        }]));
    }
    if challenge.code_matches(keys, code) {
        store::clear_wrong_codes(&mut tx, challenge.card_id)
            .await
            .map_err(status::from_db)?;
        tx.commit().await.map_err(status::from_db)?;
        return Ok(());
    }
    let wrong = store::count_wrong_code(
        &mut tx,
        challenge.card_id,
        now,
        MAX_WRONG_CODES,
        LOCK_MINUTES * MINUTE_MS,
    )
    .await
    .map_err(status::from_db)?;
    audit::record(
        &mut tx,
        Entry {
            actor: actor.name(),
            role: actor.role(),
            action: audit::ONLINE_WRONG_CODE,
            target: &audit::challenge(challenge_id),
            detail: &format!(
                "attempts_left:{}{}",
                wrong.attempts_left,
                if wrong.locked_until_ms.is_some() { " locked" } else { "" }
            ),
        },
    )
    .await?;
    tx.commit().await.map_err(status::from_db)?;
    tracing::info!(
        attempts_left = wrong.attempts_left,
        locked = wrong.locked_until_ms.is_some(),
        "wrong one-time code"
    );
    Err(wrong_code(wrong.attempts_left))
}

/// Records the report of a verified challenge, once: a challenge already used answers
/// with the report it recorded.
async fn report_online(
    tx: &mut Tx,
    cx: &Context<'_>,
    challenge_id: Uuid,
    kind: idcard_domain::LossKind,
    circumstance: &str,
) -> Result<idcard_proto::v1::LossReport, Status> {
    let challenge = store::find_challenge(tx, cx.keys, challenge_id)
        .await
        .map_err(status::from_db)?
        .ok_or_else(|| Status::not_found(format!("no challenge {challenge_id}")))?;
    let number = ReceiptNo::from_u64(random_u64()?);
    let used = match challenge.report_number {
        Some(used) => Some(used),
        None => {
            if store::claim_challenge(tx, challenge_id, number.as_str())
                .await
                .map_err(status::from_db)?
            {
                None
            } else {
                // Another confirmation of the same challenge won: answer with its report.
                store::find_challenge(tx, cx.keys, challenge_id)
                    .await
                    .map_err(status::from_db)?
                    .and_then(|challenge| challenge.report_number)
            }
        }
    };
    if let Some(used) = used {
        let report = store::report_by_number(tx, cx.keys, &used)
            .await
            .map_err(status::from_db)?
            .ok_or_else(|| Status::internal("the report of a used challenge is missing"))?;
        let history = store::events_of(tx, cx.keys, report.report_id)
            .await
            .map_err(status::from_db)?;
        return Ok(report.to_wire(&history));
    }
    let citizen_id = CitizenId::parse(&challenge.citizen_id, today_cst()).map_err(|err| {
        tracing::error!(error = %err, "stored challenge's citizen id does not parse");
        Status::internal("stored challenge does not parse")
    })?;
    let intake = Intake {
        report_number: number.as_str(),
        citizen_id: &citizen_id,
        name: None,
        kind,
        circumstance,
        identity: Identity::OneTimeCode,
        channel: ReportChannel::Online,
        origin: None,
        reported_at_ms: cx.at_ms,
    };
    let recorded = intake::record(tx, cx, &intake).await?;
    Ok(recorded.report.to_wire(&recorded.history))
}

fn wrong_code(attempts_left: u32) -> Status {
    let message = if attempts_left == 0 {
        format!("wrong code, no attempts left: online reporting for this card is locked for {LOCK_MINUTES} minutes")
    } else {
        format!("wrong code, {attempts_left} attempts left")
    };
    let metadata = HashMap::from([("attempts_left".to_string(), attempts_left.to_string())]);
    Status::with_error_details(
        Code::Unauthenticated,
        message,
        ErrorDetails::with_error_info(WRONG_CODE, "idcard.v1", metadata),
    )
}

fn locked(until_ms: i64, now_ms: i64) -> Status {
    let minutes = (until_ms - now_ms + MINUTE_MS - 1) / MINUTE_MS;
    status::refused(&[Reason {
        code: REPORTING_LOCKED.to_string(),
        message: format!(
            "{MAX_WRONG_CODES} wrong codes: online reporting for this card is locked for {minutes} more minutes; \
             report the loss at any acceptance point meanwhile"
        ),
    }])
}

/// A uniformly random 6-digit code from the operating system's generator.
fn one_time_code() -> Result<String, Status> {
    const RANGE: u32 = 1_000_000;
    // The largest multiple of the range that fits: values above it would bias the code.
    const LIMIT: u32 = u32::MAX - u32::MAX % RANGE;
    loop {
        let mut bytes = [0u8; 4];
        fill(&mut bytes)?;
        let value = u32::from_le_bytes(bytes);
        if value < LIMIT {
            return Ok(format!("{:06}", value % RANGE));
        }
    }
}

fn random_u64() -> Result<u64, Status> {
    let mut bytes = [0u8; 8];
    fill(&mut bytes)?;
    Ok(u64::from_le_bytes(bytes))
}

fn fill(bytes: &mut [u8]) -> Result<(), Status> {
    SystemRandom::new().fill(bytes).map_err(|_| {
        tracing::error!("the system random generator failed");
        Status::internal("no randomness available")
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_six_digits() {
        for _ in 0..100 {
            let code = one_time_code().unwrap();
            assert_eq!(code.len(), 6);
            assert!(code.bytes().all(|b| b.is_ascii_digit()));
        }
    }

    #[test]
    fn wrong_code_carries_attempts_left() {
        let status = wrong_code(3);
        assert_eq!(status.code(), Code::Unauthenticated);
        assert!(status.message().contains("3 attempts left"));
        let info = status.get_details_error_info().unwrap();
        assert_eq!(info.reason, WRONG_CODE);
        assert_eq!(info.metadata["attempts_left"], "3");
    }
}
