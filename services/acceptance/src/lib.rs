//! The residence-side acceptance service: takes renewal and replacement applications
//! from citizens whose household is registered elsewhere, sends them to the domicile
//! review service through the outbox, follows their progress, and hands the card over.
//! It also takes loss reports at the counter and follows what the domicile bureau makes
//! of them, and tells applicants (through `idcard-notify`) when an application is
//! rejected or a card is ready for collection.
//!
//! It owns its database and never reads another service's; every rule comes from
//! `idcard-domain`. Personal data is sealed at rest by `store` alone, every change and
//! every read of personal data is audited, and a clerk sees only the acceptance points of
//! their token's scope. It must not log a citizen id unmasked, or a name, address, phone
//! or photo at all.

mod api;
mod audit;
pub mod config;
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
use idcard_outbox::Relay;
use idcard_proto::v1::acceptance_inbox_service_server::AcceptanceInboxServiceServer;
use idcard_proto::v1::acceptance_service_server::AcceptanceServiceServer;
use idcard_server::Exposure;
use idcard_server::background::Background;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::service::Routes as GrpcRoutes;

pub use config::Config;
pub use error::Error;

pub const DEFAULT_PORT: u16 = 50051;

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

/// Serves on `listener` until `shutdown`: migrates, starts the relay, the audit sealer,
/// the key reload and the resealer, serves gRPC, then lets the background work finish
/// its batch once the calls in flight have drained.
pub async fn serve_with_listener(
    config: Config,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), Error> {
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
        common.relay_config(),
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

    tracing::info!(addr = ?listener.local_addr().ok(), "acceptance service listening");
    let max = common.max_request_bytes;
    let grpc = GrpcRoutes::new(AcceptanceServiceServer::new(api).max_decoding_message_size(max))
        .add_service(AcceptanceInboxServiceServer::new(inbox).max_decoding_message_size(max));
    let served = idcard_server::serve_grpc(
        listener,
        Exposure {
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
