//! Loss reports taken at the counter (DOMAIN.md "Loss reports"). Any acceptance point
//! takes them, also away from the domicile; the report goes to the domicile review
//! service, the system of record for card status, through the outbox, and its outcome
//! comes back through the inbox ([`outcome`]). No fee.
//!
//! A second report of a citizen whose report here is still submitted or active is that
//! report (same number). Another point's report answers NOT_FOUND exactly as an unknown
//! one; the state changes only when the domicile bureau says so.

pub mod input;
pub mod outcome;
mod view;

use idcard_crypto::{Keyring, Purpose};
use idcard_db::{Tx, now_ms};
use idcard_domain::{LossReportEvent, LossReportState, ReceiptNo, loss_transition};
use idcard_outbox::{NewMessage, enqueue};
use idcard_proto::v1 as pb;
use idcard_server::idempotent;
use idcard_server::status::{FieldError, Reason, from_db, invalid_argument, refused};
use idcard_server::wire;
use prost::Message;
use tonic::{Code, Request, Response, Status};

use crate::api::{Acceptance, caller_of, may_see, outside_scope};
use crate::audit::{self, Actor};
use crate::store::loss_reports::{self as store, LossReportRow, NewLossReport};
use crate::submission::point_code;
use input::Identity;

/// Message kind of a loss report sent to the domicile review service.
pub const KIND_RECEIVE_LOSS_REPORT: &str = "review.receive_loss_report";
/// Message kind of a revocation sent to the domicile review service.
pub const KIND_RECEIVE_LOSS_REPORT_REVOCATION: &str = "review.receive_loss_report_revocation";

/// The history note of a revocation sent and not yet answered.
const REVOCATION_REQUESTED: &str = "revocation requested";

impl Acceptance {
    #[tracing::instrument(skip_all, fields(acceptance_point = %request.get_ref().acceptance_point_code))]
    pub(crate) async fn take_loss_report(
        &self,
        request: Request<pb::ReportLossRequest>,
    ) -> Result<Response<pb::ReportLossResponse>, Status> {
        let caller = caller_of(&request);
        let request = request.into_inner();
        let foreign_point = point_code("acceptance_point_code", &request.acceptance_point_code)
            .ok()
            .filter(|point| !may_see(caller.as_ref(), point));
        if let Some(point) = foreign_point {
            return Err(outside_scope(&point));
        }
        let actor = Actor::caller(caller.as_ref());
        let report = input::report(&request, &self.routes, wire::today_cst()).map_err(|e| invalid_argument(&e))?;
        let keys = self.keys.current();
        // Two first reports of one citizen racing (PostgreSQL): the later commit breaks
        // the one-open-report index, and running it again finds the earlier report.
        let mut retried = false;
        let (response, new) = loop {
            let result = idempotent::run(
                &self.db,
                &keys,
                "ReportLoss",
                &request.request_id,
                &request,
                async |tx| self.record_report(tx, &keys, &actor, &report).await,
            )
            .await;
            match result {
                Err(status) if status.code() == Code::AlreadyExists && !retried => retried = true,
                other => break other?,
            }
        };
        if new {
            self.relay.wake();
        }
        Ok(Response::new(response))
    }

    /// Returns the report as the point shows it (citizen id masked); every read is
    /// audited all the same.
    #[tracing::instrument(skip_all, fields(report_number = %request.get_ref().report_number))]
    pub(crate) async fn show_loss_report(
        &self,
        request: Request<pb::GetLossReportRequest>,
    ) -> Result<Response<pb::GetLossReportResponse>, Status> {
        let caller = caller_of(&request);
        let number = input::report_number("report_number", &request.get_ref().report_number)
            .map_err(|e| invalid_argument(&[e]))?;
        let keys = self.keys.current();
        let mut tx = self.db.begin_read().await.map_err(from_db)?;
        find_visible(&mut tx, &number, caller.as_ref()).await?;
        let report = current(&mut tx, &keys, number.as_str()).await?;
        drop(tx);
        let mut tx = self.db.begin().await.map_err(from_db)?;
        audit::record_loss_report(
            &mut tx,
            &Actor::caller(caller.as_ref()),
            audit::LOSS_REPORT_READ,
            number.as_str(),
            "",
        )
        .await
        .map_err(from_db)?;
        tx.commit().await.map_err(from_db)?;
        Ok(Response::new(pb::GetLossReportResponse { report: Some(report) }))
    }

    /// Sends the revocation to the domicile bureau; the report shows it requested, and
    /// changes state when the outcome arrives. A revocation still unanswered is not sent
    /// again.
    #[tracing::instrument(skip_all, fields(report_number = %request.get_ref().report_number))]
    pub(crate) async fn request_revocation(
        &self,
        request: Request<pb::RevokeLossReportRequest>,
    ) -> Result<Response<pb::RevokeLossReportResponse>, Status> {
        let caller = caller_of(&request);
        let request = request.into_inner();
        let number = input::report_number("report_number", &request.report_number);
        let identity = input::identity("identity", request.identity.as_ref());
        let (number, identity) = match (number, identity) {
            (Ok(number), Ok(identity)) => (number, identity),
            (number, identity) => {
                let errors: Vec<FieldError> = [number.err(), identity.err()].into_iter().flatten().collect();
                return Err(invalid_argument(&errors));
            }
        };
        let actor = Actor::caller(caller.as_ref());
        // Before the request id is looked up, so that a stored answer is never replayed
        // to another point.
        {
            let mut tx = self.db.begin_read().await.map_err(from_db)?;
            find_visible(&mut tx, &number, caller.as_ref()).await?;
        }
        let keys = self.keys.current();
        let (response, new) = idempotent::run(
            &self.db,
            &keys,
            "RevokeLossReport",
            &request.request_id,
            &request,
            async |tx| {
                let row = find_visible(tx, &number, caller.as_ref()).await?;
                let state = row.state().map_err(from_db)?;
                loss_transition(state, LossReportEvent::Revoked).map_err(|err| {
                    refused(&[Reason {
                        code: err.reason_code().into(),
                        message: err.to_string(),
                    }])
                })?;
                if !row.revocation_pending {
                    self.send_revocation(tx, &keys, &actor, &row, state, identity).await?;
                }
                Ok(pb::RevokeLossReportResponse {
                    report: Some(current(tx, &keys, number.as_str()).await?),
                })
            },
        )
        .await?;
        if new {
            self.relay.wake();
        }
        Ok(Response::new(response))
    }

    /// A new report, or the citizen's open one with the repeat in its history.
    async fn record_report(
        &self,
        tx: &mut Tx,
        keys: &Keyring,
        actor: &Actor,
        report: &input::Report,
    ) -> Result<pb::ReportLossResponse, Status> {
        let now = now_ms();
        let point = report.acceptance_point_code.as_str();
        if let Some(open) = store::open_for_citizen(tx, keys, &report.citizen_id)
            .await
            .map_err(from_db)?
        {
            let number = open.report_number.as_str();
            let note = format!("reported again at {point}");
            store::record_step(tx, number, open.state().map_err(from_db)?, now, &actor.subject, &note)
                .await
                .map_err(from_db)?;
            audit::record_loss_report(tx, actor, audit::LOSS_REPORT_AGAIN, number, &format!("point={point}"))
                .await
                .map_err(from_db)?;
            tracing::info!(report_number = %number, citizen_id = %report.citizen_id, "card already reported: the open report stands");
            return Ok(pb::ReportLossResponse {
                report: Some(current(tx, keys, number).await?),
            });
        }

        let number = ReceiptNo::from_u64(fastrand::u64(..));
        let number = number.as_str();
        store::insert(
            tx,
            keys,
            &NewLossReport {
                report_number: number,
                kind: report.kind,
                acceptance_point_code: point,
                citizen_id: &report.citizen_id,
                name: &report.name,
                circumstance: &report.circumstance,
                identity_confirmation: &report.identity.as_text(),
                domicile_region_code: &report.domicile.as_string(),
                review_peer: &report.review_peer,
                reported_at_ms: now,
            },
        )
        .await
        .map_err(from_db)?;
        store::record_step(
            tx,
            number,
            LossReportState::Submitted,
            now,
            &actor.subject,
            &format!("reported at {point}"),
        )
        .await
        .map_err(from_db)?;
        let message = pb::ReceiveLossReportRequest {
            message_id: String::new(),
            report_number: number.to_string(),
            citizen_id: report.citizen_id.as_str().to_string(),
            name: report.name.clone(),
            kind: input::kind_to_wire(report.kind).into(),
            circumstance: report.circumstance.clone(),
            identity: Some(identity_to_wire(report.identity)),
            reported_at: Some(wire::ms_to_timestamp(now)),
            origin: self.instance_name.clone(),
        };
        enqueue(
            tx,
            keys,
            NewMessage {
                destination: &report.review_peer,
                kind: KIND_RECEIVE_LOSS_REPORT,
                ordering_key: number,
                payload: message.encode_to_vec(),
                sealed_for: Purpose::Data,
            },
        )
        .await
        .map_err(from_db)?;
        let detail = format!(
            "kind={} point={point} review={} identity={}",
            report.kind,
            report.review_peer,
            report.identity.as_text()
        );
        audit::record_loss_report(tx, actor, audit::LOSS_REPORT, number, &detail)
            .await
            .map_err(from_db)?;
        tracing::info!(report_number = %number, citizen_id = %report.citizen_id, kind = %report.kind, review = %report.review_peer, "loss report taken");
        Ok(pb::ReportLossResponse {
            report: Some(current(tx, keys, number).await?),
        })
    }

    async fn send_revocation(
        &self,
        tx: &mut Tx,
        keys: &Keyring,
        actor: &Actor,
        row: &LossReportRow,
        state: LossReportState,
        identity: Identity,
    ) -> Result<(), Status> {
        let number = row.report_number.as_str();
        let now = now_ms();
        store::set_revocation_pending(tx, number, true).await.map_err(from_db)?;
        store::record_step(tx, number, state, now, &actor.subject, REVOCATION_REQUESTED)
            .await
            .map_err(from_db)?;
        let message = pb::ReceiveLossReportRevocationRequest {
            message_id: String::new(),
            report_number: number.to_string(),
            identity: Some(identity_to_wire(identity)),
            at: Some(wire::ms_to_timestamp(now)),
            origin: self.instance_name.clone(),
        };
        enqueue(
            tx,
            keys,
            NewMessage {
                destination: &row.review_peer,
                kind: KIND_RECEIVE_LOSS_REPORT_REVOCATION,
                ordering_key: number,
                payload: message.encode_to_vec(),
                sealed_for: Purpose::Data,
            },
        )
        .await
        .map_err(from_db)?;
        let detail = format!("review={} identity={}", row.review_peer, identity.as_text());
        audit::record_loss_report(tx, actor, audit::LOSS_REPORT_REVOKE, number, &detail)
            .await
            .map_err(from_db)?;
        tracing::info!(report_number = %number, review = %row.review_peer, "loss report revocation requested");
        Ok(())
    }
}

/// The one answer for a report that does not exist or that the caller may not see.
fn no_such_report() -> Status {
    Status::not_found("no such loss report")
}

/// The report, if this service took it and `caller` may see its point.
async fn find_visible(
    tx: &mut Tx,
    number: &ReceiptNo,
    caller: Option<&idcard_auth::Caller>,
) -> Result<LossReportRow, Status> {
    store::find(tx, number.as_str())
        .await
        .map_err(from_db)?
        .filter(|row| may_see(caller, &row.acceptance_point_code))
        .ok_or_else(no_such_report)
}

/// The report as it now stands in `tx`, with its history.
async fn current(tx: &mut Tx, keys: &Keyring, number: &str) -> Result<pb::LossReport, Status> {
    let opened = store::find_opened(tx, keys, number)
        .await
        .map_err(from_db)?
        .ok_or_else(no_such_report)?;
    let history = store::history(tx, number).await.map_err(from_db)?;
    view::report(&opened, &history).map_err(from_db)
}

fn identity_to_wire(identity: Identity) -> pb::IdentityConfirmation {
    use pb::identity_confirmation::Method;
    let method = match identity {
        Identity::Fingerprint => Method::FingerprintMatched(true),
        Identity::Document(document) => Method::IdentityDocument(document_to_wire(document).into()),
    };
    pb::IdentityConfirmation { method: Some(method) }
}

fn document_to_wire(document: idcard_domain::DocumentKind) -> pb::DocumentKind {
    use idcard_domain::DocumentKind as D;
    use pb::DocumentKind as W;
    match document {
        D::HouseholdBooklet => W::HouseholdBooklet,
        D::OldIdCard => W::OldIdCard,
        D::ResidencePermit => W::ResidencePermit,
        D::DrivingLicence => W::DrivingLicence,
        D::Passport => W::Passport,
        D::TemporaryResidenceRegistration => W::TemporaryResidenceRegistration,
        D::LabourContract => W::LabourContract,
        D::BusinessLicence => W::BusinessLicence,
        D::StudentId => W::StudentId,
        D::PropertyDeed => W::PropertyDeed,
        D::Lease => W::Lease,
        D::GuardianIdentity => W::GuardianIdentity,
        D::GuardianshipProof => W::GuardianshipProof,
    }
}
