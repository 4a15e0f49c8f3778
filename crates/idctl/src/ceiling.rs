//! `idctl ceiling`: the empty-handler ceiling for the `verify` load scenario.
//!
//! It serves `CardStatusService.VerifyCard` with a handler that answers at once without
//! touching a database, through the same `serve_grpc` as the status service: the same
//! TLS with client certificates, bearer-token check, request-size limit, metrics and
//! tracing layers. `idctl load --scenario verify --status-url <this>` against it measures
//! what the machine can do for one call before the service does any work; the
//! verification figures are read against it (docs/benchmarks.md).

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use idcard_proto::v1 as pb;
use idcard_proto::v1::card_status_service_server::{CardStatusService, CardStatusServiceServer};
use idcard_server::Exposure;
use idcard_server::settings::CommonSettings;
use tonic::service::Routes;
use tonic::{Request, Response, Status};

use idctl::security::DevSecurity;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where the development keys, PKI and token key live (as for `idctl up`).
    #[arg(long, env = "IDCARD_DATA_DIR", default_value = "data")]
    data_dir: PathBuf,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:50070")]
    listen: SocketAddr,
    /// No TLS and no bearer tokens, as `idctl up --insecure`.
    #[arg(long)]
    insecure: bool,
}

/// Answers every verification NO_MATCH without looking anything up.
struct Empty;

#[tonic::async_trait]
impl CardStatusService for Empty {
    async fn verify_card(
        &self,
        _request: Request<pb::VerifyCardRequest>,
    ) -> Result<Response<pb::VerifyCardResponse>, Status> {
        Ok(Response::new(pb::VerifyCardResponse {
            answer: pb::VerificationAnswer::NoMatch.into(),
        }))
    }
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let security = DevSecurity::ensure(&args.data_dir, args.insecure)?;
    let mut settings = CommonSettings::with_database("sqlite::memory:");
    security.apply(&mut settings, "status")?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    eprintln!(
        "empty VerifyCard handler on {}://{} (Ctrl-C to stop)",
        security.scheme(),
        listener.local_addr()?
    );
    let shutdown = idcard_server::shutdown_on_signal();
    idcard_server::serve_grpc(
        listener,
        Exposure {
            service: "ceiling",
            routes: Routes::new(CardStatusServiceServer::new(Empty)),
            service_names: &["idcard.v1.CardStatusService"],
            policy: idcard_auth::policy::status(),
            settings: &settings,
        },
        shutdown,
    )
    .await?;
    Ok(())
}
