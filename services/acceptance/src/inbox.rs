//! `idcard.v1.AcceptanceInboxService`: decisions from review services and progress from
//! production centres, and outcomes of loss reports, delivered by their outbox relays.
//! The auth layer admits only the expected peer's certificate; every change is audited
//! with that peer as the actor.

use idcard_auth::PeerService;
use idcard_crypto::{KeySource, Keyring};
use idcard_db::{Db, Tx};
use idcard_domain::{ApplicationEvent, ApplicationState, transition};
use idcard_outbox::{RelayHandle, accept_inbound};
use idcard_proto::v1 as pb;
use idcard_proto::v1::acceptance_inbox_service_server::AcceptanceInboxService;
use idcard_server::status::{FieldError, from_db, invalid_argument};
use idcard_server::wire;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::audit::{self, Actor};
use crate::loss_report;
use crate::notification;
use crate::store::{self, ApplicationRow, Record};

pub struct AcceptanceInbox {
    pub db: Db,
    pub keys: KeySource,
    /// Woken when a change enqueued a notification.
    pub relay: RelayHandle,
}

#[tonic::async_trait]
impl AcceptanceInboxService for AcceptanceInbox {
    #[tracing::instrument(skip_all, fields(application_id = %request.get_ref().application_id))]
    async fn receive_decision(
        &self,
        request: Request<pb::ReceiveDecisionRequest>,
    ) -> Result<Response<pb::ReceiveDecisionResponse>, Status> {
        let peer = Actor::peer(request.extensions().get::<PeerService>());
        let request = request.into_inner();
        let (message_id, application_id) = ids(&request.message_id, &request.application_id)?;
        let reviewer = if request.reviewer.is_empty() {
            "domicile bureau".to_string()
        } else {
            request.reviewer.clone()
        };
        let at = request
            .decided_at
            .as_ref()
            .map(wire::timestamp_to_ms)
            .unwrap_or_else(idcard_db::now_ms);
        let (event, record, note) = match &request.decision {
            Some(pb::receive_decision_request::Decision::Approval(approval)) => {
                let issuance = approval
                    .issuance
                    .as_ref()
                    .ok_or_else(|| invalid_argument(&[FieldError::new("approval.issuance", "required")]))?;
                let note = format!("approved; issued by {}", issuance.issuing_authority);
                (ApplicationEvent::Approved, Record::Issuance(issuance.clone()), note)
            }
            Some(pb::receive_decision_request::Decision::Rejection(rejection)) => {
                if rejection.reasons.is_empty() {
                    return Err(invalid_argument(&[FieldError::new(
                        "rejection.reasons",
                        "at least one reason",
                    )]));
                }
                let codes = rejection
                    .reasons
                    .iter()
                    .map(|r| r.code.as_str())
                    .collect::<Vec<_>>()
                    .join(", ");
                (
                    ApplicationEvent::Rejected,
                    Record::Rejection(rejection.clone()),
                    format!("rejected: {codes}"),
                )
            }
            None => {
                return Err(invalid_argument(&[FieldError::new(
                    "decision",
                    "required: approval or rejection",
                )]));
            }
        };
        let keys = self.keys.current();
        apply(
            &self.db,
            message_id,
            "acceptance.receive_decision",
            application_id,
            |tx, row| {
                Box::pin(async move {
                    let Some(next) = step(row.state().map_err(from_db)?, event)? else {
                        return Ok(None);
                    };
                    store::set_record(tx, &keys, application_id, &record)
                        .await
                        .map_err(from_db)?;
                    store::record_step(tx, application_id, next, at, &reviewer, &note)
                        .await
                        .map_err(from_db)?;
                    if let Record::Rejection(rejection) = &record {
                        tell_rejection(tx, &keys, &row, rejection).await?;
                    }
                    Ok(Some(Change {
                        actor: peer,
                        action: audit::DECISION,
                        detail: note,
                    }))
                })
            },
        )
        .await?;
        self.relay.wake();
        Ok(Response::new(pb::ReceiveDecisionResponse {}))
    }

    #[tracing::instrument(skip_all, fields(application_id = %request.get_ref().application_id))]
    async fn receive_production_update(
        &self,
        request: Request<pb::ReceiveProductionUpdateRequest>,
    ) -> Result<Response<pb::ReceiveProductionUpdateResponse>, Status> {
        let peer = Actor::peer(request.extensions().get::<PeerService>());
        let request = request.into_inner();
        let (message_id, application_id) = ids(&request.message_id, &request.application_id)?;
        let events: &[ApplicationEvent] = match pb::ProductionStep::try_from(request.step) {
            Ok(pb::ProductionStep::Started) => &[ApplicationEvent::ProductionStarted],
            Ok(pb::ProductionStep::QualityCheckFailed) => {
                &[ApplicationEvent::QualityCheckFailed, ApplicationEvent::Remade]
            }
            Ok(pb::ProductionStep::QualityCheckPassed) => &[ApplicationEvent::QualityCheckPassed],
            Ok(pb::ProductionStep::Dispatched) => &[ApplicationEvent::Dispatched],
            _ => {
                return Err(invalid_argument(&[FieldError::new(
                    "step",
                    "required: a production step",
                )]));
            }
        };
        let at = request
            .at
            .as_ref()
            .map(wire::timestamp_to_ms)
            .unwrap_or_else(idcard_db::now_ms);
        let actor = if request.operator.is_empty() {
            "production centre".to_string()
        } else {
            request.operator.clone()
        };
        let detail = request.detail.clone();
        apply(
            &self.db,
            message_id,
            "acceptance.receive_production_update",
            application_id,
            |tx, row| {
                Box::pin(async move {
                    let mut state = row.state().map_err(from_db)?;
                    let mut steps = Vec::new();
                    for (i, event) in events.iter().enumerate() {
                        let Some(next) = step(state, *event)? else {
                            break;
                        };
                        let note = match (event, i) {
                            (ApplicationEvent::Remade, _) => "the card is being remade".to_string(),
                            _ => detail.clone(),
                        };
                        store::record_step(tx, application_id, next, at, &actor, &note)
                            .await
                            .map_err(from_db)?;
                        steps.push(next.as_str());
                        state = next;
                    }
                    if steps.is_empty() {
                        return Ok(None);
                    }
                    Ok(Some(Change {
                        actor: peer,
                        action: audit::PRODUCTION_UPDATE,
                        detail: format!("now {}", steps.join(", then ")),
                    }))
                })
            },
        )
        .await?;
        Ok(Response::new(pb::ReceiveProductionUpdateResponse {}))
    }

    async fn receive_loss_report_outcome(
        &self,
        request: Request<pb::ReceiveLossReportOutcomeRequest>,
    ) -> Result<Response<pb::ReceiveLossReportOutcomeResponse>, Status> {
        let peer = Actor::peer(request.extensions().get::<PeerService>());
        loss_report::outcome::receive(&self.db, peer, request.into_inner()).await?;
        Ok(Response::new(pb::ReceiveLossReportOutcomeResponse {}))
    }
}

/// Tells the applicant, at the phone the submission gave, why the application was
/// rejected and whom to contact.
async fn tell_rejection(
    tx: &mut Tx,
    keys: &Keyring,
    row: &ApplicationRow,
    rejection: &pb::Rejection,
) -> Result<(), Status> {
    let details = store::details(tx, keys, row.application_id).await.map_err(from_db)?;
    if let Some(phone) = notification::applicant_phone(&details.submission) {
        let message = notification::rejected(&row.receipt_number, phone, rejection);
        notification::send(tx, keys, &row.application_id.to_string(), &message)
            .await
            .map_err(from_db)?;
    }
    Ok(())
}

fn ids(message_id: &str, application_id: &str) -> Result<(Uuid, Uuid), Status> {
    let message = wire::parse_uuid("message_id", message_id);
    let application = wire::parse_uuid("application_id", application_id);
    match (message, application) {
        (Ok(m), Ok(a)) => Ok((m, a)),
        (m, a) => Err(invalid_argument(
            &[m.err(), a.err()].into_iter().flatten().collect::<Vec<_>>(),
        )),
    }
}

/// A change an inbound message made, for the audit log.
struct Change {
    actor: Actor,
    action: &'static str,
    detail: String,
}

/// What a message does to an application as it stands: `None` when it changes nothing.
type Changing<'a> = std::pin::Pin<Box<dyn Future<Output = Result<Option<Change>, Status>> + Send + 'a>>;

/// Applies an inbound message once: records its id in the inbox, makes the change and
/// audits it in one transaction. A message seen before is acknowledged without a change.
async fn apply(
    db: &Db,
    message_id: Uuid,
    kind: &str,
    application_id: Uuid,
    change: impl for<'t> FnOnce(&'t mut Tx, ApplicationRow) -> Changing<'t>,
) -> Result<(), Status> {
    let mut tx = db.begin().await.map_err(from_db)?;
    if !accept_inbound(&mut tx, message_id, kind).await.map_err(from_db)? {
        tracing::info!(%message_id, kind, "duplicate message acknowledged");
        return Ok(());
    }
    let row = store::find(&mut tx, application_id)
        .await
        .map_err(from_db)?
        .ok_or_else(|| Status::not_found("no such application"))?;
    if let Some(change) = change(&mut tx, row).await? {
        audit::record(&mut tx, &change.actor, change.action, application_id, &change.detail)
            .await
            .map_err(from_db)?;
    }
    tx.commit().await.map_err(from_db)
}

/// The next state, `None` when the application is already past this step (a stale
/// message: acknowledged, no change), or `ABORTED` when it has not reached the step yet
/// (messages from two services crossed; the sender retries).
fn step(state: ApplicationState, event: ApplicationEvent) -> Result<Option<ApplicationState>, Status> {
    match transition(state, event) {
        Ok(next) => Ok(Some(next)),
        Err(err) if progress(state) < progress(required_state(event)) => {
            Err(Status::aborted(format!("not yet: {err}")))
        }
        Err(err) => {
            tracing::warn!(error = %err, "stale message acknowledged without change");
            Ok(None)
        }
    }
}

fn required_state(event: ApplicationEvent) -> ApplicationState {
    match event {
        ApplicationEvent::DeliveredToReview => ApplicationState::Submitted,
        ApplicationEvent::Approved | ApplicationEvent::Rejected => ApplicationState::UnderReview,
        ApplicationEvent::ProductionStarted => ApplicationState::Approved,
        ApplicationEvent::QualityCheckFailed | ApplicationEvent::QualityCheckPassed => ApplicationState::InProduction,
        ApplicationEvent::Remade => ApplicationState::QualityCheckFailed,
        ApplicationEvent::Dispatched => ApplicationState::Produced,
        ApplicationEvent::Arrived => ApplicationState::Dispatched,
        ApplicationEvent::Collected => ApplicationState::ReadyForCollection,
    }
}

/// How far along the flow a state is (a rejection ends it at the review step).
fn progress(state: ApplicationState) -> u8 {
    match state {
        ApplicationState::Submitted => 0,
        ApplicationState::UnderReview => 1,
        ApplicationState::Approved | ApplicationState::Rejected => 2,
        ApplicationState::InProduction => 3,
        ApplicationState::QualityCheckFailed => 4,
        ApplicationState::Produced => 5,
        ApplicationState::Dispatched => 6,
        ApplicationState::ReadyForCollection => 7,
        ApplicationState::Collected => 8,
    }
}
