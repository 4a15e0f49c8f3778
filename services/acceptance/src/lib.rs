//! The residence-side acceptance service: takes renewal and replacement applications
//! from citizens whose household is registered elsewhere, sends them to the domicile
//! review service through the outbox, follows their progress, and hands the card over.
//!
//! It owns its database and never reads another service's; every rule comes from
//! `idcard-domain`.

mod api;
pub mod config;
mod delivery;
mod error;
mod inbox;
mod routing;
mod store;
mod submission;
mod view;

use idcard_db::{Db, MigrationSet};
use idcard_outbox::Relay;
use idcard_proto::v1::acceptance_inbox_service_server::AcceptanceInboxServiceServer;
use idcard_proto::v1::acceptance_service_server::AcceptanceServiceServer;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::service::Routes as GrpcRoutes;

pub use config::Config;
pub use error::Error;

pub const DEFAULT_PORT: u16 = 50051;

/// The acceptance service's tables, one folder per database.
pub static MIGRATIONS: MigrationSet = MigrationSet {
    sqlite: &sqlx::migrate!("migrations/sqlite"),
    postgres: &sqlx::migrate!("migrations/postgres"),
};

/// Binds the configured address and serves until `shutdown`.
pub async fn serve(config: Config, shutdown: CancellationToken) -> Result<(), Error> {
    let addr = config.common.listen_addr_or(DEFAULT_PORT);
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| Error::Bind { addr, source })?;
    serve_with_listener(config, listener, shutdown).await
}

/// Serves on `listener` until `shutdown`: migrates, starts the relay, serves gRPC, then
/// lets the relay finish its batch.
pub async fn serve_with_listener(
    config: Config,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    let db = Db::connect(&config.common.database_url, &config.common.db_options()).await?;
    db.migrate(&[&idcard_outbox::MIGRATIONS, &MIGRATIONS]).await?;
    let peers = config.common.peers()?;
    let routes = routing::Routes::parse(&config.routes, &peers)?;

    let relay = Relay::new(
        db.clone(),
        delivery::AcceptanceDeliverer { peers },
        config.common.relay_config(),
    );
    let api = api::Acceptance {
        db: db.clone(),
        routes,
        relay: relay.handle(),
        instance_name: config.instance_name().to_string(),
        production_centre: config.production_centre.clone(),
    };
    let inbox = inbox::AcceptanceInbox { db: db.clone() };
    let relay_task = tokio::spawn(relay.run(shutdown.clone()));

    tracing::info!(addr = ?listener.local_addr().ok(), "acceptance service listening");
    let grpc = GrpcRoutes::new(AcceptanceServiceServer::new(api)).add_service(AcceptanceInboxServiceServer::new(inbox));
    let served = idcard_server::serve_grpc(
        listener,
        grpc,
        &["idcard.v1.AcceptanceService", "idcard.v1.AcceptanceInboxService"],
        shutdown.clone(),
    )
    .await;
    shutdown.cancel();
    let _ = relay_task.await;
    db.close().await;
    served?;
    Ok(())
}
