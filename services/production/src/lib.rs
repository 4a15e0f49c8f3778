//! The production service: the residence-side production centre.
//!
//! It owns the production jobs and their quality checks. It receives production orders
//! from review services after approval (`idcard.v1.ProductionInboxService`), and serves
//! the production operators (`idcard.v1.ProductionService`): list and read jobs (in
//! `overdue`, those past or near their 30-day limit), record each card's check of
//! printed and chip data (a failure remakes the card, which is checked again) and
//! dispatch a checked card to the acceptance point. Every step is
//! reported through the outbox to the acceptance service named by the order's `origin`.
//!
//! Only the review service's certificate delivers orders; production operators whose
//! scope names this centre (`IDCARD_INSTANCE_NAME`) work the jobs and auditors read them.
//! The citizen id and the order (card items, photo) are sealed at rest; every change and
//! every read of jobs is recorded in the audit log.
//!
//! It must not call a peer inline from a handler (the outbox relay does), read another
//! service's tables, decide a rule the domain crate owns, or log personal data (citizen
//! ids only masked; names, addresses and photos never).

pub mod config;
mod delivery;
mod error;
mod inbox;
mod job;
mod overdue;
mod report;
mod service;
mod store;

use idcard_db::{Db, MigrationSet};
use idcard_outbox::Relay;
use idcard_proto::v1::production_inbox_service_server::ProductionInboxServiceServer;
use idcard_proto::v1::production_service_server::ProductionServiceServer;
use idcard_server::Exposure;
use idcard_server::background::Background;
use idcard_server::deadline;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::server::NamedService;
use tonic::service::Routes;

pub use config::Config;
pub use error::Error;

/// The port the service listens on unless `IDCARD_LISTEN_ADDR` says otherwise.
pub const DEFAULT_PORT: u16 = 50053;

/// The `service` label of this service's metrics.
const SERVICE: &str = "production";

/// The production centre this instance is, unless `IDCARD_INSTANCE_NAME` says otherwise:
/// operators' scopes name it, and progress reports name it as their operator.
pub const DEFAULT_INSTANCE_NAME: &str = "production";

/// Jobs re-sealed per transaction after a key rotation.
const RESEAL_BATCH: u32 = 100;

/// The migrations of this service's tables (jobs, quality checks).
pub static MIGRATIONS: MigrationSet = MigrationSet {
    sqlite: &sqlx::migrate!("migrations/sqlite"),
    postgres: &sqlx::migrate!("migrations/postgres"),
};

/// Every migration set in this service's database: the outbox and inbox, the audit log,
/// and the service's own tables (`idctl migrate` applies the same).
pub static MIGRATION_SETS: [&MigrationSet; 3] = [&idcard_outbox::MIGRATIONS, &idcard_audit::MIGRATIONS, &MIGRATIONS];

/// Binds `config.common.listen_addr_or(DEFAULT_PORT)` and serves until `shutdown`.
pub async fn serve(config: Config, shutdown: CancellationToken) -> Result<(), Error> {
    let addr = config.common.listen_addr_or(DEFAULT_PORT);
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| Error::Bind { addr, source })?;
    serve_with_listener(config, listener, shutdown).await
}

/// Serves on `listener` until `shutdown`: loads the keys, connects and migrates the
/// database, starts the background tasks (outbox relay, audit sealer, key reload,
/// re-sealer), serves gRPC (TLS and the access policy from the settings, with health and
/// reflection), then lets the background tasks finish their round and closes the pool.
pub async fn serve_with_listener(
    config: Config,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    config.validate()?;
    let common = &config.common;
    let keys = common.key_source()?;
    let peers = common.peers()?;
    let db = Db::connect(&common.database_url, &common.db_options()).await?;
    db.migrate(&MIGRATION_SETS).await?;

    let relay = Relay::new(
        db.clone(),
        keys.clone(),
        delivery::ProductionDeliverer::new(peers.clone()),
        common.relay_config(SERVICE),
    );
    let relay_handle = relay.handle();
    let mut background = Background::start(&db, &keys, relay, common.key_reload_interval);
    {
        let (db, keys) = (db.clone(), keys.clone());
        // A rotation shows up at a key reload, so looking as often is enough.
        background.resealer("production jobs", common.key_reload_interval, move || {
            let (db, keys) = (db.clone(), keys.current());
            async move {
                store::reseal_batch(&db, &keys, RESEAL_BATCH)
                    .await
                    .map_err(|err| err.to_string())
            }
        });
    }

    let jobs = idcard_server::metrics::SampledGauge::new("idcard_production_jobs", SERVICE, "state");
    background.every("production job gauges", idcard_server::metrics::SAMPLE_INTERVAL, {
        let db = db.clone();
        move || {
            let (db, jobs) = (db.clone(), jobs.clone());
            async move {
                let counts = store::count_jobs_by_state(&db).await.map_err(|err| err.to_string())?;
                jobs.set_all(counts.into_iter().map(|(state, count)| (state, count as f64)));
                Ok(())
            }
        }
    });

    // The statutory clock: jobs not yet dispatched that are overdue, and due within
    // `deadline::DUE_SOON_DAYS` (today and the next two days).
    background.every("deadline gauges", deadline::SAMPLE_INTERVAL, {
        let db = db.clone();
        move || {
            let db = db.clone();
            async move {
                let window = deadline::Window::new(idcard_server::wire::today_cst(), deadline::DUE_SOON_DAYS);
                let counts = store::deadlines::count_due(&db, &window)
                    .await
                    .map_err(|err| err.to_string())?;
                deadline::record(SERVICE, idcard_domain::Stage::Production, counts);
                Ok(())
            }
        }
    });

    let centre = common
        .instance_name
        .clone()
        .unwrap_or_else(|| DEFAULT_INSTANCE_NAME.to_string());
    let front = service::Production::new(db.clone(), keys.clone(), relay_handle.clone(), centre.clone());
    let inbox = inbox::ProductionInbox::new(db.clone(), keys, relay_handle, peers, centre);
    let max_bytes = common.max_request_bytes;
    let routes = Routes::new(ProductionServiceServer::new(front).max_decoding_message_size(max_bytes))
        .add_service(ProductionInboxServiceServer::new(inbox).max_decoding_message_size(max_bytes));
    let names = [
        <ProductionServiceServer<service::Production> as NamedService>::NAME,
        <ProductionInboxServiceServer<inbox::ProductionInbox> as NamedService>::NAME,
    ];
    tracing::info!(addr = ?listener.local_addr().ok(), "production service listening");
    let exposure = Exposure {
        service: SERVICE,
        routes,
        service_names: &names,
        policy: idcard_auth::policy::production(),
        settings: common,
    };
    let served = idcard_server::serve_grpc(listener, exposure, shutdown).await;

    background.stop().await;
    db.close().await;
    tracing::info!("production service stopped");
    served.map_err(Error::from)
}
