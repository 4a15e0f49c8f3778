//! Collection notices from acceptance services: a renewed card was collected, so the
//! card it renews (surrendered at the counter) is invalid from now on. A replacement's
//! old card was invalidated when the replacement was issued; its notice changes nothing.

use idcard_audit::Entry;
use idcard_db::now_ms;
use idcard_domain::ApplicationKind;
use idcard_proto::v1::ReceiveCollectionNoticeRequest;
use idcard_server::status::{self, invalid_argument};
use idcard_server::wire::parse_uuid;
use tonic::Status;
use uuid::Uuid;

use crate::card_status::{self, Context};
use crate::case::CaseState;
use crate::{State, audit, store};

/// The inbox kind of a collection notice.
pub const RECEIVE_COLLECTION_NOTICE: &str = "review.receive_collection_notice";

#[tracing::instrument(skip_all, fields(application_id = %request.application_id))]
pub async fn receive(
    state: &State,
    peer: Option<String>,
    request: ReceiveCollectionNoticeRequest,
) -> Result<(), Status> {
    let mut errors = Vec::new();
    let message_id = parse_uuid("message_id", &request.message_id)
        .map_err(|e| errors.push(e))
        .ok();
    let application_id = parse_uuid("application_id", &request.application_id)
        .map_err(|e| errors.push(e))
        .ok();
    let (Some(message_id), Some(application_id)) = (message_id, application_id) else {
        return Err(invalid_argument(&errors));
    };

    let keys = state.keys.current();
    let mut tx = state.db.begin().await.map_err(status::from_db)?;
    if !idcard_outbox::accept_inbound(&mut tx, message_id, RECEIVE_COLLECTION_NOTICE)
        .await
        .map_err(status::from_db)?
    {
        tracing::info!(%message_id, "duplicate message acknowledged");
        return Ok(());
    }
    let Some(case) = store::find_case(&mut tx, &keys, application_id, |_| true)
        .await
        .map_err(status::from_db)?
    else {
        return Err(Status::not_found(format!(
            "no application {application_id} at this review service"
        )));
    };
    let new_card = case
        .issuance
        .as_ref()
        .and_then(|issuance| Uuid::parse_str(&issuance.card_id).ok());
    let (CaseState::Approved, Some(new_card)) = (case.state, new_card) else {
        // The acceptance side hands out only approved cards; nothing to do here.
        tracing::warn!(
            state = case.state.as_str(),
            "collection notice for a case without an issued card; acknowledged"
        );
        tx.commit().await.map_err(status::from_db)?;
        return Ok(());
    };
    let actor = peer.as_deref().unwrap_or(&case.request.origin);
    let mut invalidated = 0;
    if case.kind == ApplicationKind::Renewal {
        let cx = Context {
            keys: &keys,
            publisher: &state.publisher,
            actor,
            role: audit::SERVICE_ROLE,
            at_ms: now_ms(),
        };
        let name = store::find_resident(&mut tx, &keys, &case.citizen_id)
            .await
            .map_err(status::from_db)?
            .map(|resident| resident.name)
            .or_else(|| {
                let applicant = case.request.applicant.as_ref()?;
                applicant.card_items.as_ref().map(|items| items.name.clone())
            })
            .unwrap_or_default();
        invalidated = card_status::retire_renewed(&mut tx, &cx, &case.citizen_id, &name, new_card).await?;
    }
    audit::record(
        &mut tx,
        Entry {
            actor,
            role: audit::SERVICE_ROLE,
            action: audit::COLLECTION,
            target: &audit::application(application_id),
            detail: &format!(
                "kind:{} old_card_surrendered:{} invalidated:{invalidated}",
                case.kind, request.old_card_surrendered
            ),
        },
    )
    .await?;
    tx.commit().await.map_err(status::from_db)?;
    if invalidated > 0 {
        state.relay.wake();
    }
    tracing::info!(kind = %case.kind, invalidated, "card collected");
    Ok(())
}
