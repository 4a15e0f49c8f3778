use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use idcard_auth::dev_pki::{self, DevPki};
use idcard_auth::{
    AccessPolicy, AuthLayer, AuthMode, Caller, Issuer, PeerService, Verifier, client_config_with_ca,
    generate_signing_key,
};
use idcard_proto::v1::review_inbox_service_server::{ReviewInboxService, ReviewInboxServiceServer};
use idcard_proto::v1::review_service_client::ReviewServiceClient;
use idcard_proto::v1::review_service_server::{ReviewService, ReviewServiceServer};
use idcard_proto::v1::*;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::transport::{Channel, Endpoint, Server};
use tonic::{Request, Response, Status};

pub const LEEWAY: Duration = Duration::from_secs(5);
pub const HOUR: Duration = Duration::from_secs(3600);

/// What the handlers saw: the caller of each front-end call, the peer of each internal one.
#[derive(Clone, Default)]
pub struct Seen {
    pub callers: Arc<Mutex<Vec<Caller>>>,
    pub peers: Arc<Mutex<Vec<PeerService>>>,
}

impl Seen {
    fn caller<T>(&self, request: &Request<T>) {
        if let Some(caller) = request.extensions().get::<Caller>() {
            self.callers.lock().unwrap().push(caller.clone());
        }
    }

    pub fn last_caller(&self) -> Option<Caller> {
        self.callers.lock().unwrap().last().cloned()
    }

    pub fn last_peer(&self) -> Option<PeerService> {
        self.peers.lock().unwrap().last().cloned()
    }
}

struct Review(Seen);

#[tonic::async_trait]
impl ReviewService for Review {
    async fn list_pending_applications(
        &self,
        request: Request<ListPendingApplicationsRequest>,
    ) -> Result<Response<ListPendingApplicationsResponse>, Status> {
        self.0.caller(&request);
        Ok(Response::new(ListPendingApplicationsResponse::default()))
    }

    async fn get_application(
        &self,
        request: Request<ReviewServiceGetApplicationRequest>,
    ) -> Result<Response<ReviewServiceGetApplicationResponse>, Status> {
        self.0.caller(&request);
        Err(Status::not_found("no such application"))
    }

    async fn approve_application(
        &self,
        request: Request<ApproveApplicationRequest>,
    ) -> Result<Response<ApproveApplicationResponse>, Status> {
        self.0.caller(&request);
        Ok(Response::new(ApproveApplicationResponse::default()))
    }

    async fn reject_application(
        &self,
        request: Request<RejectApplicationRequest>,
    ) -> Result<Response<RejectApplicationResponse>, Status> {
        self.0.caller(&request);
        Ok(Response::new(RejectApplicationResponse::default()))
    }

    async fn import_residents(
        &self,
        request: Request<ImportResidentsRequest>,
    ) -> Result<Response<ImportResidentsResponse>, Status> {
        self.0.caller(&request);
        Ok(Response::new(ImportResidentsResponse::default()))
    }

    async fn list_overdue(
        &self,
        request: Request<idcard_proto::v1::ReviewServiceListOverdueRequest>,
    ) -> Result<Response<idcard_proto::v1::ReviewServiceListOverdueResponse>, Status> {
        self.0.caller(&request);
        Ok(Response::new(Default::default()))
    }
}

struct Inbox(Seen);

#[tonic::async_trait]
impl ReviewInboxService for Inbox {
    async fn receive_application(
        &self,
        request: Request<ReceiveApplicationRequest>,
    ) -> Result<Response<ReceiveApplicationResponse>, Status> {
        if let Some(peer) = request.extensions().get::<PeerService>() {
            self.0.peers.lock().unwrap().push(peer.clone());
        }
        Ok(Response::new(ReceiveApplicationResponse::default()))
    }

    async fn receive_loss_report(
        &self,
        _request: Request<idcard_proto::v1::ReceiveLossReportRequest>,
    ) -> Result<Response<idcard_proto::v1::ReceiveLossReportResponse>, Status> {
        Err(Status::unimplemented("not in this test"))
    }

    async fn receive_loss_report_revocation(
        &self,
        _request: Request<idcard_proto::v1::ReceiveLossReportRevocationRequest>,
    ) -> Result<Response<idcard_proto::v1::ReceiveLossReportRevocationResponse>, Status> {
        Err(Status::unimplemented("not in this test"))
    }

    async fn receive_collection_notice(
        &self,
        _request: Request<idcard_proto::v1::ReceiveCollectionNoticeRequest>,
    ) -> Result<Response<idcard_proto::v1::ReceiveCollectionNoticeResponse>, Status> {
        Err(Status::unimplemented("not in this test"))
    }

    async fn receive_found_card_notice(
        &self,
        _request: Request<idcard_proto::v1::ReceiveFoundCardNoticeRequest>,
    ) -> Result<Response<idcard_proto::v1::ReceiveFoundCardNoticeResponse>, Status> {
        Err(Status::unimplemented("not in this test"))
    }
}

/// A review server on 127.0.0.1:0 with TLS from a fresh development PKI, verifying tokens
/// of keys k1 and k2 (a rotation in progress). Stops when dropped.
pub struct TestServer {
    pub addr: SocketAddr,
    pub pki: DevPki,
    pub seen: Seen,
    pub k1: Issuer,
    pub k2: Issuer,
    /// Signs as "k1" with a key nobody configured.
    pub impostor: Issuer,
    /// Key "k9", not configured.
    pub stranger: Issuer,
    _dir: tempfile::TempDir,
    _stop: oneshot::Sender<()>,
}

pub async fn spawn(policy: AccessPolicy, mode: AuthMode) -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    let pki = dev_pki::ensure(&dir.path().join("pki")).unwrap();
    let keys = dir.path().join("keys");
    let k1 = generate_signing_key(&keys, "k1").unwrap();
    let k2 = generate_signing_key(&keys, "k2").unwrap();
    let other = dir.path().join("other-keys");
    let impostor = generate_signing_key(&other, "k1").unwrap();
    let stranger = generate_signing_key(&other, "k9").unwrap();
    let verifier = Verifier::from_dir(&keys, LEEWAY).unwrap();

    let seen = Seen::default();
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter.set_serving::<ReviewServiceServer<Review>>().await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = Server::builder()
        .tls_config(pki.service("review").unwrap().server_config().unwrap())
        .unwrap()
        .layer(AuthLayer::new(policy, verifier, mode))
        .add_service(health)
        .add_service(ReviewServiceServer::new(Review(seen.clone())))
        .add_service(ReviewInboxServiceServer::new(Inbox(seen.clone())));
    tokio::spawn(async move {
        server
            .serve_with_incoming_shutdown(TcpListenerStream::new(listener), async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
    });

    TestServer {
        addr,
        pki,
        seen,
        k1: Issuer::from_key_files(&k1).unwrap(),
        k2: Issuer::from_key_files(&k2).unwrap(),
        impostor: Issuer::from_key_files(&impostor).unwrap(),
        stranger: Issuer::from_key_files(&stranger).unwrap(),
        _dir: dir,
        _stop: stop,
    }
}

impl TestServer {
    /// A TLS channel presenting the certificate of `service`, or none.
    pub async fn channel(&self, service: Option<&str>) -> Channel {
        let tls = match service {
            Some(service) => self.pki.service(service).unwrap().client_config().unwrap(),
            None => client_config_with_ca(&self.pki.ca_cert).unwrap(),
        };
        Endpoint::from_shared(format!("https://127.0.0.1:{}", self.addr.port()))
            .unwrap()
            .tls_config(tls)
            .unwrap()
            .connect()
            .await
            .unwrap()
    }

    pub async fn review_client(&self) -> ReviewServiceClient<Channel> {
        ReviewServiceClient::new(self.channel(None).await)
    }
}

/// A request carrying `authorization: Bearer <token>`.
pub fn with_token<T>(message: T, token: &str) -> Request<T> {
    let mut request = Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    request
}

pub fn scope(entries: &[&str]) -> Vec<String> {
    entries.iter().map(|entry| entry.to_string()).collect()
}
