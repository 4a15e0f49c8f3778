//! `idcard.v1.AcceptanceService`: what the acceptance-point front end calls.
//!
//! The auth layer has checked the token and the role before a handler runs; handlers
//! check the scope. A clerk works only at the points of their token's scope: submitting
//! or listing for another point is PERMISSION_DENIED, and another point's application
//! answers NOT_FOUND exactly as an unknown one, so its existence does not leak. Loss
//! reports are handled in `loss_report`, the statutory clock (overdue list, deadline
//! extension) in `deadline`.

use idcard_auth::Caller;
use idcard_crypto::{KeySource, Keyring, Purpose};
use idcard_db::{Db, Tx, now_ms};
use idcard_domain::{ApplicationEvent, ApplicationKind, ApplicationState, ReceiptNo, Stage, due_date, transition};
use idcard_outbox::{NewMessage, RelayHandle, enqueue};
use idcard_proto::v1 as pb;
use idcard_proto::v1::acceptance_service_server::AcceptanceService;
use idcard_server::status::{FieldError, Reason, from_db, invalid_argument, refused};
use idcard_server::trace::application_span;
use idcard_server::{idempotent, wire};
use prost::Message;
use tonic::{Request, Response, Status};
use tracing::Instrument;
use uuid::Uuid;

use crate::audit::{self, Actor};
use crate::notification;
use crate::routing::Routes;
use crate::store::{self, ApplicationRow, NewApplication, Record};
use crate::submission::{self, Limits, Rejected};
use crate::view;

/// Message kind of an application sent to the domicile review service.
pub const KIND_RECEIVE_APPLICATION: &str = "review.receive_application";
/// Message kind of a collection sent to the domicile review service (on renewal the
/// surrendered card becomes invalid).
pub const KIND_RECEIVE_COLLECTION_NOTICE: &str = "review.receive_collection_notice";

pub struct Acceptance {
    pub db: Db,
    pub keys: KeySource,
    pub routes: Routes,
    pub relay: RelayHandle,
    /// This service's name, as review services reply to it.
    pub instance_name: String,
    pub production_centre: String,
    pub max_photo_bytes: usize,
}

#[tonic::async_trait]
impl AcceptanceService for Acceptance {
    #[tracing::instrument(skip_all, fields(acceptance_point = %request.get_ref().acceptance_point_code))]
    async fn submit_application(
        &self,
        request: Request<pb::SubmitApplicationRequest>,
    ) -> Result<Response<pb::SubmitApplicationResponse>, Status> {
        let caller = caller_of(&request);
        let request = request.into_inner();
        // A malformed point code is a field error below; a well-formed one outside the
        // caller's scope is refused before anything else is looked at.
        let foreign_point = submission::point_code("acceptance_point_code", &request.acceptance_point_code)
            .ok()
            .filter(|point| !may_see(caller.as_ref(), point));
        if let Some(point) = foreign_point {
            return Err(outside_scope(&point));
        }
        let actor = Actor::clerk(caller.as_ref(), &request.clerk).map_err(|e| invalid_argument(&[e]))?;
        let keys = self.keys.current();
        let today = wire::today_cst();
        let limits = Limits {
            routes: &self.routes,
            max_photo_bytes: self.max_photo_bytes,
        };
        let accepted = match submission::check(&request, &limits, today) {
            Ok(accepted) => accepted,
            Err(Rejected::BadInput(errors)) => return Err(invalid_argument(&errors)),
            Err(Rejected::Refused(reasons)) => return Err(refused(&reasons)),
        };
        let (response, new) = idempotent::run(
            &self.db,
            &keys,
            "SubmitApplication",
            &request.request_id,
            &request,
            async |tx| {
                if let Some(receipt) = store::open_application(tx, &keys, &accepted.citizen_id, accepted.kind)
                    .await
                    .map_err(from_db)?
                {
                    return Err(refused(&[Reason {
                        code: "APPLICATION_ALREADY_OPEN".into(),
                        message: format!(
                            "this citizen already has an open {} application, receipt {receipt}",
                            accepted.kind.as_str()
                        ),
                    }]));
                }
                if let Some(report) = &accepted.loss_report {
                    check_loss_report(tx, &keys, report, &accepted.citizen_id).await?;
                }
                let application_id = Uuid::now_v7();
                let receipt = ReceiptNo::from_u64(fastrand::u64(..));
                let now = now_ms();
                let due = due_date(Stage::Application, today, false);
                store::insert_application(
                    tx,
                    &keys,
                    &NewApplication {
                        application_id,
                        receipt_number: receipt.as_str(),
                        kind: accepted.kind,
                        acceptance_point_code: &accepted.acceptance_point_code,
                        citizen_id: &accepted.citizen_id,
                        domicile_region_code: &accepted.domicile.as_string(),
                        review_peer: &accepted.review_peer,
                        submission: &request,
                        fee_amount_fen: i64::from(accepted.fee.amount_fen),
                        fee_waiver: accepted.fee.waiver.as_str(),
                        accepted_at_ms: now,
                        due_date: &wire::date_to_text(due),
                    },
                )
                .await
                .map_err(from_db)?;
                // Later steps on the application resume this trace.
                store::trace::keep_current(tx, application_id).await.map_err(from_db)?;
                let note = match &accepted.loss_report {
                    Some(report) => format!(
                        "accepted at {}; follows loss report {report}",
                        accepted.acceptance_point_code
                    ),
                    None => format!("accepted at {}", accepted.acceptance_point_code),
                };
                store::record_step(tx, application_id, ApplicationState::Submitted, now, &actor.subject, &note)
                    .await
                    .map_err(from_db)?;
                // The domicile bureau needs everything, fingerprints included: the
                // payload is sealed with the biometric key.
                let message = pb::ReceiveApplicationRequest {
                    message_id: String::new(),
                    application_id: application_id.to_string(),
                    receipt_number: receipt.as_str().to_string(),
                    kind: request.kind,
                    acceptance_point_code: accepted.acceptance_point_code.clone(),
                    applicant: request.applicant.clone(),
                    guardian: request.guardian.clone(),
                    documents: request.documents.clone(),
                    accepted_at: Some(wire::ms_to_timestamp(now)),
                    application_due_date: Some(wire::date_to_wire(due)),
                    appearance_changed: request.appearance_changed,
                    origin: self.instance_name.clone(),
                    production_centre: self.production_centre.clone(),
                };
                enqueue(
                    tx,
                    &keys,
                    NewMessage {
                        destination: &accepted.review_peer,
                        kind: KIND_RECEIVE_APPLICATION,
                        ordering_key: &application_id.to_string(),
                        payload: message.encode_to_vec(),
                        sealed_for: Purpose::Biometric,
                    },
                )
                .await
                .map_err(from_db)?;
                let mut detail = format!(
                    "kind={} point={} review={}",
                    accepted.kind.as_str(),
                    accepted.acceptance_point_code,
                    accepted.review_peer
                );
                if let Some(report) = &accepted.loss_report {
                    detail.push_str(&format!(" loss_report={report}"));
                }
                audit::record(tx, &actor, audit::SUBMIT, application_id, &detail)
                    .await
                    .map_err(from_db)?;
                tracing::info!(%application_id, citizen_id = %accepted.citizen_id, kind = accepted.kind.as_str(), review = %accepted.review_peer, "application accepted");
                Ok(pb::SubmitApplicationResponse {
                    application: Some(current(tx, &keys, application_id).await?),
                })
            },
        )
        .await?;
        if new {
            self.relay.wake();
        }
        Ok(Response::new(response))
    }

    /// Returns the applicant's personal data, so every call is audited.
    #[tracing::instrument(skip_all)]
    async fn get_application(
        &self,
        request: Request<pb::GetApplicationRequest>,
    ) -> Result<Response<pb::GetApplicationResponse>, Status> {
        let caller = caller_of(&request);
        let key = Key::from_wire(request.into_inner().key)?;
        let keys = self.keys.current();
        let mut tx = self.db.begin_read().await.map_err(from_db)?;
        let row = key.find(&mut tx, caller.as_ref()).await?;
        let application = application_view(&mut tx, &keys, &row).await?;
        drop(tx);
        let mut tx = self.db.begin().await.map_err(from_db)?;
        audit::record(
            &mut tx,
            &Actor::caller(caller.as_ref()),
            audit::READ_PERSONAL_DATA,
            row.application_id,
            "",
        )
        .await
        .map_err(from_db)?;
        tx.commit().await.map_err(from_db)?;
        Ok(Response::new(pb::GetApplicationResponse {
            application: Some(application),
        }))
    }

    /// Rows show the citizen id masked and nothing else personal, so lists are not
    /// audited.
    async fn list_applications(
        &self,
        request: Request<pb::ListApplicationsRequest>,
    ) -> Result<Response<pb::ListApplicationsResponse>, Status> {
        let caller = caller_of(&request);
        let request = request.into_inner();
        let mut errors = Vec::new();
        let point = submission::point_code("acceptance_point_code", &request.acceptance_point_code)
            .map_err(|e| errors.push(e))
            .ok();
        let state = wire::enums::state_filter_from_wire("state", request.state)
            .map_err(|e| errors.push(e))
            .ok()
            .flatten();
        let limit = wire::page_size("page_size", request.page_size, 50, 500)
            .map_err(|e| errors.push(e))
            .ok();
        let before = wire::page_after("page_token", &request.page_token)
            .map_err(|e| errors.push(e))
            .ok()
            .flatten();
        let (Some(point), Some(limit)) = (point, limit) else {
            return Err(invalid_argument(&errors));
        };
        if !errors.is_empty() {
            return Err(invalid_argument(&errors));
        }
        if !may_see(caller.as_ref(), &point) {
            return Err(outside_scope(&point));
        }
        let keys = self.keys.current();
        let mut tx = self.db.begin_read().await.map_err(from_db)?;
        let rows = store::list(&mut tx, &keys, &point, state, before, limit)
            .await
            .map_err(from_db)?;
        let next_page_token = match rows.last() {
            Some(last) if rows.len() == limit as usize => last.row.seq.to_string(),
            _ => String::new(),
        };
        let applications = rows
            .iter()
            .map(view::summary)
            .collect::<Result<_, _>>()
            .map_err(from_db)?;
        Ok(Response::new(pb::ListApplicationsResponse {
            applications,
            next_page_token,
        }))
    }

    #[tracing::instrument(skip_all, fields(application_id = %request.get_ref().application_id))]
    async fn confirm_card_arrival(
        &self,
        request: Request<pb::ConfirmCardArrivalRequest>,
    ) -> Result<Response<pb::ConfirmCardArrivalResponse>, Status> {
        let caller = caller_of(&request);
        let request = request.into_inner();
        let key = Key::id(&request.application_id)?;
        let actor = Actor::clerk(caller.as_ref(), &request.clerk).map_err(|e| invalid_argument(&[e]))?;
        let trace = self.visible_trace(&key, caller.as_ref()).await?;
        let keys = self.keys.current();
        let (response, new) = idempotent::run(
            &self.db,
            &keys,
            "ConfirmCardArrival",
            &request.request_id,
            &request,
            async |tx| {
                let row = key.find(tx, caller.as_ref()).await?;
                let state = row.state().map_err(from_db)?;
                let next = transition(state, ApplicationEvent::Arrived).map_err(|_| {
                    refused(&[Reason {
                        code: "CARD_NOT_DISPATCHED".into(),
                        message: format!("no card was dispatched for this application; it is {}", state.as_str()),
                    }])
                })?;
                let id = row.application_id;
                store::record_step(
                    tx,
                    id,
                    next,
                    now_ms(),
                    &actor.subject,
                    "card arrived at the acceptance point",
                )
                .await
                .map_err(from_db)?;
                audit::record(tx, &actor, audit::CARD_ARRIVED, id, next.as_str())
                    .await
                    .map_err(from_db)?;
                let details = store::details(tx, &keys, id).await.map_err(from_db)?;
                if let Some(phone) = notification::applicant_phone(&details.submission) {
                    let ready =
                        notification::ready_for_collection(&row.receipt_number, &row.acceptance_point_code, phone);
                    notification::send(tx, &keys, &id.to_string(), &ready)
                        .await
                        .map_err(from_db)?;
                }
                Ok(pb::ConfirmCardArrivalResponse {
                    application: Some(current(tx, &keys, id).await?),
                })
            },
        )
        .instrument(application_span(crate::SERVICE, "ConfirmCardArrival", trace.as_deref()))
        .await?;
        if new {
            self.relay.wake();
        }
        Ok(Response::new(response))
    }

    #[tracing::instrument(skip_all)]
    async fn collect_card(
        &self,
        request: Request<pb::CollectCardRequest>,
    ) -> Result<Response<pb::CollectCardResponse>, Status> {
        let caller = caller_of(&request);
        let request = request.into_inner();
        let key = Key::from_collect(request.key.clone())?;
        let actor = Actor::clerk(caller.as_ref(), &request.clerk).map_err(|e| invalid_argument(&[e]))?;
        let trace = self.visible_trace(&key, caller.as_ref()).await?;
        let keys = self.keys.current();
        let (response, new) = idempotent::run(
            &self.db,
            &keys,
            "CollectCard",
            &request.request_id,
            &request,
            async |tx| {
                let row = key.find(tx, caller.as_ref()).await?;
                let state = row.state().map_err(from_db)?;
                let mut reasons = Vec::new();
                if !request.applicant_checked_and_signed {
                    reasons.push(Reason {
                        code: "APPLICANT_NOT_SIGNED".into(),
                        message: "the applicant must check the printed and chip data and sign".into(),
                    });
                }
                if row.kind().map_err(from_db)? == ApplicationKind::Renewal && !request.old_card_surrendered {
                    reasons.push(Reason {
                        code: "OLD_CARD_NOT_SURRENDERED".into(),
                        message: "on renewal the old card is handed back when the new one is collected".into(),
                    });
                }
                let next = transition(state, ApplicationEvent::Collected);
                if next.is_err() {
                    reasons.insert(
                        0,
                        Reason {
                            code: "CARD_NOT_READY".into(),
                            message: format!(
                                "the card is not ready for collection; the application is {}",
                                state.as_str()
                            ),
                        },
                    );
                }
                let next = match next {
                    Ok(next) if reasons.is_empty() => next,
                    _ => return Err(refused(&reasons)),
                };
                let now = now_ms();
                let id = row.application_id;
                let collection = pb::Collection {
                    collected_at: Some(wire::ms_to_timestamp(now)),
                    clerk: actor.subject.clone(),
                    applicant_checked_and_signed: true,
                    old_card_surrendered: request.old_card_surrendered,
                };
                store::set_record(tx, &keys, id, &Record::Collection(collection))
                    .await
                    .map_err(from_db)?;
                store::record_step(tx, id, next, now, &actor.subject, "collected by the applicant")
                    .await
                    .map_err(from_db)?;
                audit::record(tx, &actor, audit::COLLECT, id, next.as_str())
                    .await
                    .map_err(from_db)?;
                // The domicile bureau invalidates the surrendered card of a renewal.
                let notice = pb::ReceiveCollectionNoticeRequest {
                    message_id: String::new(),
                    application_id: id.to_string(),
                    collected_at: Some(wire::ms_to_timestamp(now)),
                    old_card_surrendered: request.old_card_surrendered,
                };
                enqueue(
                    tx,
                    &keys,
                    NewMessage {
                        destination: &row.review_peer,
                        kind: KIND_RECEIVE_COLLECTION_NOTICE,
                        ordering_key: &id.to_string(),
                        payload: notice.encode_to_vec(),
                        sealed_for: Purpose::Data,
                    },
                )
                .await
                .map_err(from_db)?;
                tracing::info!(application_id = %id, "card collected");
                Ok(pb::CollectCardResponse {
                    application: Some(current(tx, &keys, id).await?),
                })
            },
        )
        .instrument(application_span(crate::SERVICE, "CollectCard", trace.as_deref()))
        .await?;
        if new {
            self.relay.wake();
        }
        Ok(Response::new(response))
    }

    async fn report_loss(
        &self,
        request: Request<pb::ReportLossRequest>,
    ) -> Result<Response<pb::ReportLossResponse>, Status> {
        self.take_loss_report(request).await
    }

    async fn get_loss_report(
        &self,
        request: Request<pb::GetLossReportRequest>,
    ) -> Result<Response<pb::GetLossReportResponse>, Status> {
        self.show_loss_report(request).await
    }

    async fn revoke_loss_report(
        &self,
        request: Request<pb::RevokeLossReportRequest>,
    ) -> Result<Response<pb::RevokeLossReportResponse>, Status> {
        self.request_revocation(request).await
    }

    async fn list_overdue(
        &self,
        request: Request<pb::AcceptanceServiceListOverdueRequest>,
    ) -> Result<Response<pb::AcceptanceServiceListOverdueResponse>, Status> {
        self.list_overdue_applications(request).await
    }

    async fn extend_application_deadline(
        &self,
        request: Request<pb::ExtendApplicationDeadlineRequest>,
    ) -> Result<Response<pb::ExtendApplicationDeadlineResponse>, Status> {
        self.extend_deadline(request).await
    }
}

impl Acceptance {
    /// NOT_FOUND unless the caller may see the application. Checked before the request id
    /// is looked up too, so that a stored answer is never replayed to another point.
    pub(crate) async fn check_visible(&self, key: &Key, caller: Option<&Caller>) -> Result<(), Status> {
        let mut tx = self.db.begin_read().await.map_err(from_db)?;
        key.find(&mut tx, caller).await.map(|_| ())
    }

    /// As [`Self::check_visible`], then the trace context kept with the application,
    /// which a clerk's step on it resumes.
    async fn visible_trace(&self, key: &Key, caller: Option<&Caller>) -> Result<Option<String>, Status> {
        let mut tx = self.db.begin_read().await.map_err(from_db)?;
        let application_id = key.find(&mut tx, caller).await?.application_id;
        drop(tx);
        store::trace::of(&self.db, application_id).await.map_err(from_db)
    }
}

/// The verified caller the auth layer put into the request. Absent only when no auth
/// layer is in front (insecure mode gives a synthetic caller): then unrestricted.
pub(crate) fn caller_of<T>(request: &Request<T>) -> Option<Caller> {
    request.extensions().get::<Caller>().cloned()
}

pub(crate) fn may_see(caller: Option<&Caller>, point: &str) -> bool {
    caller.is_none_or(|caller| caller.can_see_point(point))
}

pub(crate) fn outside_scope(point: &str) -> Status {
    Status::permission_denied(format!("acceptance point {point} is outside your scope"))
}

/// A replacement may follow a loss report taken elsewhere; one this service holds must be
/// the applicant's own.
async fn check_loss_report(
    tx: &mut Tx,
    keys: &Keyring,
    report: &ReceiptNo,
    citizen_id: &idcard_domain::CitizenId,
) -> Result<(), Status> {
    match store::loss_reports::belongs_to(tx, keys, report.as_str(), citizen_id)
        .await
        .map_err(from_db)?
    {
        Some(false) => Err(invalid_argument(&[FieldError::new(
            "loss_report_number",
            "not a loss report of this applicant",
        )])),
        Some(true) | None => Ok(()),
    }
}

/// The one answer for an application that does not exist or that the caller may not see.
fn no_such_application() -> Status {
    Status::not_found("no such application")
}

/// How a front end names an application.
pub(crate) enum Key {
    Id(Uuid),
    Receipt(ReceiptNo),
}

impl Key {
    fn from_wire(key: Option<pb::get_application_request::Key>) -> Result<Key, Status> {
        use pb::get_application_request::Key as K;
        match key {
            Some(K::ApplicationId(id)) => Key::id(&id),
            Some(K::ReceiptNumber(receipt)) => Key::receipt(&receipt),
            None => Err(invalid_argument(&[FieldError::new(
                "key",
                "required: application_id or receipt_number",
            )])),
        }
    }

    fn from_collect(key: Option<pb::collect_card_request::Key>) -> Result<Key, Status> {
        use pb::collect_card_request::Key as K;
        match key {
            Some(K::ApplicationId(id)) => Key::id(&id),
            Some(K::ReceiptNumber(receipt)) => Key::receipt(&receipt),
            None => Err(invalid_argument(&[FieldError::new(
                "key",
                "required: application_id or receipt_number",
            )])),
        }
    }

    pub(crate) fn id(text: &str) -> Result<Key, Status> {
        wire::parse_uuid("application_id", text)
            .map(Key::Id)
            .map_err(|e| invalid_argument(&[e]))
    }

    fn receipt(text: &str) -> Result<Key, Status> {
        ReceiptNo::parse(text)
            .map(Key::Receipt)
            .map_err(|err| invalid_argument(&[FieldError::new("receipt_number", err.to_string())]))
    }

    /// The application, if it exists and `caller` may see it.
    pub(crate) async fn find(&self, tx: &mut Tx, caller: Option<&Caller>) -> Result<ApplicationRow, Status> {
        let row = match self {
            Key::Id(id) => store::find(tx, *id).await,
            Key::Receipt(receipt) => store::find_by_receipt(tx, receipt.as_str()).await,
        };
        row.map_err(from_db)?
            .filter(|row| may_see(caller, &row.acceptance_point_code))
            .ok_or_else(no_such_application)
    }
}

/// The application as it now stands in `tx`, with its history.
pub(crate) async fn current(tx: &mut Tx, keys: &Keyring, application_id: Uuid) -> Result<pb::Application, Status> {
    let row = store::find(tx, application_id)
        .await
        .map_err(from_db)?
        .ok_or_else(no_such_application)?;
    application_view(tx, keys, &row).await
}

async fn application_view(tx: &mut Tx, keys: &Keyring, row: &ApplicationRow) -> Result<pb::Application, Status> {
    let details = store::details(tx, keys, row.application_id).await.map_err(from_db)?;
    let history = store::history(tx, row.application_id).await.map_err(from_db)?;
    let extension = store::deadlines::extension_of(tx, row.application_id)
        .await
        .map_err(from_db)?;
    view::application(row, details, &history, &extension).map_err(from_db)
}
