//! `idcard.v1.ProductionInboxService`: production orders from review services.

use idcard_audit::Entry;
use idcard_auth::PeerService;
use idcard_crypto::KeySource;
use idcard_db::{Db, now_ms};
use idcard_domain::{CitizenId, ReceiptNo, Stage, due_date};
use idcard_outbox::{RelayHandle, accept_inbound};
use idcard_proto::v1::production_inbox_service_server::ProductionInboxService;
use idcard_proto::v1::{ProductionStep, ReceiveProductionOrderRequest, ReceiveProductionOrderResponse};
use idcard_server::Peers;
use idcard_server::status::{FieldError, from_db, invalid_argument};
use idcard_server::wire::{date_cst_of_ms, date_from_wire, parse_uuid, required_text, today_cst};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::report::{self, Update};
use crate::store::{self, NewJob};

/// The inbox kind of a production order.
const RECEIVE_PRODUCTION_ORDER: &str = "production.receive_production_order";

/// The audit role of a peer service's act.
const SERVICE_ROLE: &str = "service";

pub struct ProductionInbox {
    db: Db,
    keys: KeySource,
    relay: RelayHandle,
    peers: Peers,
    /// Who the STARTED report names as its operator: this instance.
    reporter: String,
}

impl ProductionInbox {
    pub fn new(db: Db, keys: KeySource, relay: RelayHandle, peers: Peers, reporter: String) -> Self {
        ProductionInbox {
            db,
            keys,
            relay,
            peers,
            reporter,
        }
    }
}

/// A production order that passed validation.
struct Order {
    message_id: Uuid,
    application_id: Uuid,
    receipt_number: ReceiptNo,
    acceptance_point_code: String,
    origin: String,
    citizen_id: CitizenId,
}

/// Checks every field of `order`, naming each one at fault.
fn validate(order: &ReceiveProductionOrderRequest, peers: &Peers, today: time::Date) -> Result<Order, Vec<FieldError>> {
    let mut errors = Vec::new();
    let message_id = parse_uuid("message_id", &order.message_id)
        .map_err(|e| errors.push(e))
        .ok();
    let application_id = parse_uuid("application_id", &order.application_id)
        .map_err(|e| errors.push(e))
        .ok();
    let receipt_number = match order.receipt_number.trim() {
        "" => Err(FieldError::new("receipt_number", "required")),
        text => ReceiptNo::parse(text).map_err(|e| FieldError::new("receipt_number", e.to_string())),
    }
    .map_err(|e| errors.push(e))
    .ok();
    let acceptance_point_code = required_text("acceptance_point_code", &order.acceptance_point_code, 64)
        .map_err(|e| errors.push(e))
        .ok();
    let origin = required_text("origin", &order.origin, 128)
        .and_then(|origin| {
            // Refused here rather than dead-lettered later: every report would go nowhere.
            if peers.contains(&origin) {
                Ok(origin)
            } else {
                Err(FieldError::new(
                    "origin",
                    format!("no acceptance service named {origin:?} is configured as a peer"),
                ))
            }
        })
        .map_err(|e| errors.push(e))
        .ok();
    let citizen_id = match &order.card_items {
        None => Err(FieldError::new("card_items", "required")),
        Some(items) if items.citizen_id.is_empty() => Err(FieldError::new("card_items.citizen_id", "required")),
        Some(items) => CitizenId::parse(&items.citizen_id, today)
            .map_err(|e| FieldError::new("card_items.citizen_id", e.to_string())),
    }
    .map_err(|e| errors.push(e))
    .ok();
    match &order.issuance {
        None => errors.push(FieldError::new("issuance", "required")),
        Some(issuance) => {
            if let Err(e) = date_from_wire("issuance.validity_start", issuance.validity_start.as_ref()) {
                errors.push(e);
            }
        }
    }
    match (
        message_id,
        application_id,
        receipt_number,
        acceptance_point_code,
        origin,
        citizen_id,
    ) {
        (
            Some(message_id),
            Some(application_id),
            Some(receipt_number),
            Some(acceptance_point_code),
            Some(origin),
            Some(citizen_id),
        ) if errors.is_empty() => Ok(Order {
            message_id,
            application_id,
            receipt_number,
            acceptance_point_code,
            origin,
            citizen_id,
        }),
        _ => Err(errors),
    }
}

#[tonic::async_trait]
impl ProductionInboxService for ProductionInbox {
    /// Creates the job, audited as the sending service's act, and reports STARTED. A
    /// repeated message, or a second order for an application that already has a job, is
    /// acknowledged and changes nothing.
    #[tracing::instrument(skip_all, fields(application_id = %request.get_ref().application_id))]
    async fn receive_production_order(
        &self,
        request: Request<ReceiveProductionOrderRequest>,
    ) -> Result<Response<ReceiveProductionOrderResponse>, Status> {
        // The access layer admitted the peer by its certificate and named it.
        let sender = request
            .extensions()
            .get::<PeerService>()
            .map_or_else(|| "unknown".to_string(), |peer| peer.name().to_string());
        let request = request.into_inner();
        let order = validate(&request, &self.peers, today_cst()).map_err(|errors| invalid_argument(&errors))?;
        let keys = self.keys.current();

        let mut tx = self.db.begin().await.map_err(from_db)?;
        if !accept_inbound(&mut tx, order.message_id, RECEIVE_PRODUCTION_ORDER)
            .await
            .map_err(from_db)?
        {
            tracing::info!(message_id = %order.message_id, "repeated production order acknowledged");
            return Ok(Response::new(ReceiveProductionOrderResponse {}));
        }
        let received_at_ms = now_ms();
        let production_due_date = due_date(Stage::Production, date_cst_of_ms(received_at_ms), false);
        let job_id = Uuid::now_v7();
        let new_job = NewJob {
            job_id,
            application_id: order.application_id,
            receipt_number: order.receipt_number.as_str(),
            acceptance_point_code: &order.acceptance_point_code,
            origin: &order.origin,
            citizen_id: &order.citizen_id,
            order: &request,
            received_at_ms,
            production_due_date,
        };
        let created = store::insert_job(&mut tx, &keys, &new_job).await.map_err(from_db)?;
        if created {
            // The operators' steps on the job resume this trace, the application's.
            store::trace::keep_current(&mut tx, job_id).await.map_err(from_db)?;
            let entry = Entry {
                actor: &sender,
                role: SERVICE_ROLE,
                action: "production_job.create",
                target: &format!("production_job:{job_id}"),
                detail: &format!(
                    "application {} from {}, due {production_due_date}",
                    order.application_id, order.origin
                ),
            };
            idcard_audit::record(&mut tx, &entry).await.map_err(from_db)?;
            let update = Update {
                step: ProductionStep::Started,
                at_ms: received_at_ms,
                detail: format!("production due {production_due_date}"),
                operator: &self.reporter,
            };
            report::enqueue_for(&mut tx, &keys, &order.origin, order.application_id, update)
                .await
                .map_err(from_db)?;
        }
        // Commits the inbox record even when the application already had a job, so that
        // a redelivery of this message is known as such.
        tx.commit().await.map_err(from_db)?;
        if created {
            self.relay.wake();
            tracing::info!(%job_id, citizen_id = %order.citizen_id.masked(), %production_due_date, "production job created");
        } else {
            tracing::info!(message_id = %order.message_id, "application already has a job; order acknowledged");
        }
        Ok(Response::new(ReceiveProductionOrderResponse {}))
    }
}
