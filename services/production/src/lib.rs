//! The production service: the residence-side production centre.
//!
//! It owns the production jobs and their quality checks. It receives production orders
//! from review services after approval (`idcard.v1.ProductionInboxService`), and serves
//! the production operators (`idcard.v1.ProductionService`): list and read jobs, record
//! each card's check of printed and chip data (a failure remakes the card, which is
//! checked again) and dispatch a checked card to the acceptance point. Every step is
//! reported through the outbox to the acceptance service named by the order's `origin`.
//!
//! It must not call a peer inline from a handler (the outbox relay does), read another
//! service's tables, decide a rule the domain crate owns, or log personal data (citizen
//! ids only masked; names, addresses and photos never).

pub mod config;
mod delivery;
mod error;
mod inbox;
mod job;
mod report;
mod service;
mod store;

use idcard_db::Db;
use idcard_outbox::Relay;
use idcard_proto::v1::production_inbox_service_server::ProductionInboxServiceServer;
use idcard_proto::v1::production_service_server::ProductionServiceServer;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::server::NamedService;
use tonic::service::Routes;

pub use config::Config;
pub use error::Error;

/// The port the service listens on unless `IDCARD_LISTEN_ADDR` says otherwise.
pub const DEFAULT_PORT: u16 = 50053;

/// The migrations of this service's tables (jobs, quality checks).
pub static MIGRATIONS: idcard_db::MigrationSet = idcard_db::MigrationSet {
    sqlite: &sqlx::migrate!("migrations/sqlite"),
    postgres: &sqlx::migrate!("migrations/postgres"),
};

/// Binds `config.common.listen_addr_or(DEFAULT_PORT)` and serves until `shutdown`.
pub async fn serve(config: Config, shutdown: CancellationToken) -> Result<(), Error> {
    let addr = config.common.listen_addr_or(DEFAULT_PORT);
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| Error::Bind { addr, source })?;
    serve_with_listener(config, listener, shutdown).await
}

/// Serves on `listener` until `shutdown`: connects and migrates the database, starts the
/// outbox relay, serves gRPC (with health and reflection), then lets the relay finish its
/// batch and closes the pool.
pub async fn serve_with_listener(
    config: Config,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    let common = &config.common;
    let peers = common.peers()?;
    let db = Db::connect(&common.database_url, &common.db_options()).await?;
    db.migrate(&[&idcard_outbox::MIGRATIONS, &MIGRATIONS]).await?;

    let relay = Relay::new(
        db.clone(),
        delivery::ProductionDeliverer::new(peers.clone()),
        common.relay_config(),
    );
    let relay_handle = relay.handle();
    // The relay stops with the service, and also when the server fails on its own.
    let relay_stop = shutdown.child_token();
    let relay_task = tokio::spawn(relay.run(relay_stop.clone()));

    let reporter = common.instance_name.clone().unwrap_or_else(|| "production".to_string());
    let front = service::Production::new(db.clone(), relay_handle.clone());
    let inbox = inbox::ProductionInbox::new(db.clone(), relay_handle, peers, reporter);
    let routes = Routes::new(ProductionServiceServer::new(front)).add_service(ProductionInboxServiceServer::new(inbox));
    let names = [
        <ProductionServiceServer<service::Production> as NamedService>::NAME,
        <ProductionInboxServiceServer<inbox::ProductionInbox> as NamedService>::NAME,
    ];
    tracing::info!(addr = ?listener.local_addr().ok(), "production service listening");
    let served = idcard_server::serve_grpc(listener, routes, &names, shutdown).await;

    relay_stop.cancel();
    if let Err(err) = relay_task.await {
        tracing::error!(error = %err, "outbox relay task failed");
    }
    db.close().await;
    tracing::info!("production service stopped");
    served.map_err(Error::from)
}
