//! The residence-side acceptance service: takes renewal and replacement applications
//! from citizens whose household is registered elsewhere, sends them to the domicile
//! review service through the outbox, follows their progress, and hands the card over.
//! It also takes loss reports at the counter and follows what the domicile bureau makes
//! of them, and tells applicants (through `idcard-notify`) when an application is
//! rejected or a card is ready for collection. It keeps the 60-day clock of its
//! applications (`deadline`: the overdue list, the one extension for a remote area).
//!
//! It owns its database and never reads another service's; every rule comes from
//! `idcard-domain`. Personal data is sealed at rest by `store` alone, every change and
//! every read of personal data is audited, and a clerk sees only the acceptance points of
//! their token's scope. It must not log a citizen id unmasked, or a name, address, phone
//! or photo at all.

mod api;
mod audit;
pub mod config;
mod deadline;
mod delivery;
mod error;
mod inbox;
mod loss_report;
mod notification;
mod routing;
mod store;
mod submission;
mod view;

use idcard_db::{Db, MigrationSet};
use idcard_domain::Stage;
use idcard_outbox::Relay;
use idcard_proto::v1::acceptance_inbox_service_server::AcceptanceInboxServiceServer;
use idcard_proto::v1::acceptance_service_server::AcceptanceServiceServer;
use idcard_server::Exposure;
use idcard_server::background::Background;
use idcard_server::deadline as clock;
use idcard_server::wire::today_cst;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::service::Routes as GrpcRoutes;

pub use config::Config;
pub use error::Error;

pub const DEFAULT_PORT: u16 = 50051;

/// The `service` label of this service's metrics.
const SERVICE: &str = "acceptance";

/// Applications (and loss reports) re-sealed per transaction after a key rotation. Each may hold a photo,
/// and on SQLite the batch holds the write lock.
const RESEAL_BATCH: u32 = 32;

/// The acceptance service's tables, one folder per database.
pub static MIGRATIONS: MigrationSet = MigrationSet {
    sqlite: &sqlx::migrate!("migrations/sqlite"),
    postgres: &sqlx::migrate!("migrations/postgres"),
};

/// Every migration set in the acceptance database, in order (`idctl migrate` uses it).
pub static MIGRATION_SETS: [&MigrationSet; 3] = [&idcard_outbox::MIGRATIONS, &idcard_audit::MIGRATIONS, &MIGRATIONS];

/// Binds the configured address and serves until `shutdown`.
pub async fn serve(config: Config, shutdown: CancellationToken) -> Result<(), Error> {
    let addr = config.common.listen_addr_or(DEFAULT_PORT);
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| Error::Bind { addr, source })?;
    serve_with_listener(config, listener, shutdown).await
}

/// Serves on `listener` until `shutdown`: checks every setting, migrates, starts the relay, the audit sealer,
/// the key reload and the resealer, serves gRPC, then lets the background work finish
/// its batch once the calls in flight have drained.
pub async fn serve_with_listener(
    config: Config,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    config.validate()?;
    let common = &config.common;
    let keys = common.key_source()?;
    let peers = common.peers()?;
    let routes = routing::Routes::parse(&config.routes, &peers)?;
    let notifier = idcard_notify::Notifier::from_settings(&config.notify)?;
    let db = Db::connect(&common.database_url, &common.db_options()).await?;
    db.migrate(&MIGRATION_SETS).await?;

    let relay = Relay::new(
        db.clone(),
        keys.clone(),
        delivery::AcceptanceDeliverer { peers, notifier },
        common.relay_config(SERVICE),
    );
    let api = api::Acceptance {
        db: db.clone(),
        keys: keys.clone(),
        routes,
        relay: relay.handle(),
        instance_name: config.instance_name().to_string(),
        production_centre: config.production_centre.clone(),
        max_photo_bytes: config.max_photo_bytes,
    };
    let inbox = inbox::AcceptanceInbox {
        db: db.clone(),
        keys: keys.clone(),
        relay: relay.handle(),
    };
    let mut background = Background::start(&db, &keys, relay, common.key_reload_interval);
    background.resealer("acceptance records", config.reseal_interval, {
        let db = db.clone();
        move || {
            let db = db.clone();
            let keyring = keys.current();
            async move {
                store::reseal_batch(&db, &keyring, RESEAL_BATCH)
                    .await
                    .map_err(|err| err.to_string())
            }
        }
    });

    let applications = idcard_server::metrics::SampledGauge::new("idcard_applications", SERVICE, "state");
    background.every("application gauges", idcard_server::metrics::SAMPLE_INTERVAL, {
        let db = db.clone();
        move || {
            let (db, applications) = (db.clone(), applications.clone());
            async move {
                let counts = store::count_by_state(&db).await.map_err(|err| err.to_string())?;
                applications.set_all(counts.into_iter().map(|(state, count)| (state, count as f64)));
                Ok(())
            }
        }
    });

    // The statutory clock: open applications overdue, and due within
    // `DUE_SOON_DAYS` (today and the next two days).
    background.every("deadline gauges", clock::SAMPLE_INTERVAL, {
        let db = db.clone();
        move || {
            let db = db.clone();
            async move {
                let window = clock::Window::new(today_cst(), clock::DUE_SOON_DAYS);
                let counts = store::deadlines::count_due(&db, &window)
                    .await
                    .map_err(|err| err.to_string())?;
                clock::record(SERVICE, Stage::Application, counts);
                Ok(())
            }
        }
    });

    tracing::info!(addr = ?listener.local_addr().ok(), "acceptance service listening");
    let max = common.max_request_bytes;
    let grpc = GrpcRoutes::new(AcceptanceServiceServer::new(api).max_decoding_message_size(max))
        .add_service(AcceptanceInboxServiceServer::new(inbox).max_decoding_message_size(max));
    let served = idcard_server::serve_grpc(
        listener,
        Exposure {
            service: SERVICE,
            routes: grpc,
            service_names: &["idcard.v1.AcceptanceService", "idcard.v1.AcceptanceInboxService"],
            policy: idcard_auth::policy::acceptance(),
            settings: common,
        },
        shutdown,
    )
    .await;
    background.stop().await;
    db.close().await;
    served?;
    Ok(())
}
