//! `idcard.v1.ReviewInboxService`: messages delivered by peers' outbox relays:
//! applications, loss reports and their revocations, and collection notices from
//! acceptance services; found-card notices from the status service. A redelivered
//! message (same message id) is acknowledged and changes nothing.
//!
//! The auth layer lets only the sending service's certificate through (per method); the
//! peer it names is the actor of the audit entries.

mod application;
mod collection;
mod loss;

use std::sync::Arc;

use idcard_auth::PeerService;
use idcard_proto::v1::review_inbox_service_server::ReviewInboxService;
use idcard_proto::v1::{
    ReceiveApplicationRequest, ReceiveApplicationResponse, ReceiveCollectionNoticeRequest,
    ReceiveCollectionNoticeResponse, ReceiveFoundCardNoticeRequest, ReceiveFoundCardNoticeResponse,
    ReceiveLossReportRequest, ReceiveLossReportResponse, ReceiveLossReportRevocationRequest,
    ReceiveLossReportRevocationResponse,
};
use idcard_server::status::Reason;
use tonic::{Request, Response, Status};

use crate::State;

pub struct Handlers {
    state: Arc<State>,
}

impl Handlers {
    pub fn new(state: Arc<State>) -> Self {
        Handlers { state }
    }
}

/// The sending service named by its certificate; absent only in insecure mode.
fn peer_of<T>(request: &Request<T>) -> Option<String> {
    request
        .extensions()
        .get::<PeerService>()
        .map(|peer| peer.name().to_string())
}

/// A peer name this instance has no endpoint for: what it would send there would
/// dead-letter, so the sender is told now and retries until the peers are configured.
fn unknown_peer(field: &str, name: &str) -> Reason {
    Reason {
        code: "UNKNOWN_PEER".to_string(),
        message: format!("{field} {name:?} is not a peer of this review service (IDCARD_PEERS)"),
    }
}

#[tonic::async_trait]
impl ReviewInboxService for Handlers {
    async fn receive_application(
        &self,
        request: Request<ReceiveApplicationRequest>,
    ) -> Result<Response<ReceiveApplicationResponse>, Status> {
        let peer = peer_of(&request);
        application::receive(&self.state, peer, request.into_inner()).await?;
        Ok(Response::new(ReceiveApplicationResponse {}))
    }

    async fn receive_loss_report(
        &self,
        request: Request<ReceiveLossReportRequest>,
    ) -> Result<Response<ReceiveLossReportResponse>, Status> {
        let peer = peer_of(&request);
        loss::receive_report(&self.state, peer, request.into_inner()).await?;
        Ok(Response::new(ReceiveLossReportResponse {}))
    }

    async fn receive_loss_report_revocation(
        &self,
        request: Request<ReceiveLossReportRevocationRequest>,
    ) -> Result<Response<ReceiveLossReportRevocationResponse>, Status> {
        let peer = peer_of(&request);
        loss::receive_revocation(&self.state, peer, request.into_inner()).await?;
        Ok(Response::new(ReceiveLossReportRevocationResponse {}))
    }

    async fn receive_collection_notice(
        &self,
        request: Request<ReceiveCollectionNoticeRequest>,
    ) -> Result<Response<ReceiveCollectionNoticeResponse>, Status> {
        let peer = peer_of(&request);
        collection::receive(&self.state, peer, request.into_inner()).await?;
        Ok(Response::new(ReceiveCollectionNoticeResponse {}))
    }

    async fn receive_found_card_notice(
        &self,
        request: Request<ReceiveFoundCardNoticeRequest>,
    ) -> Result<Response<ReceiveFoundCardNoticeResponse>, Status> {
        let peer = peer_of(&request);
        loss::receive_found_card(&self.state, peer, request.into_inner()).await?;
        Ok(Response::new(ReceiveFoundCardNoticeResponse {}))
    }
}
