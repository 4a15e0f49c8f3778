//! The status service: the national card-status index and found-card register.
//!
//! It owns the status index (one row per card, published by every review service through
//! its outbox: `idcard.v1.StatusInboxService`), the record of verifications and the
//! found-card register. It serves organisations that check ID cards
//! (`idcard.v1.CardStatusService/VerifyCard`: one of VALID, REPORTED_LOST, INVALIDATED,
//! NO_MATCH, from one indexed read, rate limited per token), stations that register found
//! cards and citizens who ask whether theirs was found (`idcard.v1.FoundCardService`); a
//! found card that matches a known card is reported to its issuing review service
//! through the outbox.
//!
//! No personal data is kept in clear: cards are found by keyed blind indexes of the
//! printed data (citizen id, name, validity start) and of the citizen id; the found
//! card's free text is sealed. Only review services' certificates publish status;
//! verifiers verify, clerks register for their station, a citizen queries their own id.
//! Registrations, queries and status changes are audited; verifications are recorded in
//! their own table instead.
//!
//! It must not decide a card's status (the review services do), call a peer inline from
//! a handler (the outbox relay does), read another service's tables, tell a verifier
//! anything but the answer, or log personal data (citizen ids only masked; names never).

mod card;
pub mod config;
mod delivery;
mod error;
mod found_card;
mod inbox;
mod notice;
mod rate_limit;
mod store;
mod verification;
mod verify;
mod wire;

use idcard_db::{Db, MigrationSet};
use idcard_outbox::Relay;
use idcard_proto::v1::card_status_service_server::CardStatusServiceServer;
use idcard_proto::v1::found_card_service_server::FoundCardServiceServer;
use idcard_proto::v1::status_inbox_service_server::StatusInboxServiceServer;
use idcard_server::Exposure;
use idcard_server::background::Background;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::server::NamedService;
use tonic::service::Routes;

pub use config::Config;
pub use error::Error;
pub use verification::FLUSH_INTERVAL as VERIFICATION_FLUSH_INTERVAL;

/// The port the service listens on unless `IDCARD_LISTEN_ADDR` says otherwise.
pub const DEFAULT_PORT: u16 = 50054;

/// The `service` label of this service's metrics.
const SERVICE: &str = "status";

/// Found cards re-sealed per transaction after a key rotation.
const RESEAL_BATCH: u32 = 100;

/// The migrations of this service's tables (cards, found cards, verifications).
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
/// re-sealer, verification record writer), serves gRPC (TLS and the access policy from
/// the settings, with health and reflection), then lets the background tasks finish
/// their round (the writer commits every verification answered) and closes the pool.
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
        delivery::StatusDeliverer::new(peers.clone()),
        common.relay_config(SERVICE),
    );
    let relay_handle = relay.handle();
    let mut background = Background::start(&db, &keys, relay, common.key_reload_interval);
    {
        let (db, keys) = (db.clone(), keys.clone());
        // A rotation shows up at a key reload, so looking as often is enough.
        background.resealer("found cards", common.key_reload_interval, move || {
            let (db, keys) = (db.clone(), keys.current());
            async move {
                store::reseal_batch(&db, &keys, RESEAL_BATCH)
                    .await
                    .map_err(|err| err.to_string())
            }
        });
    }
    // Stopped with the other background tasks, after the server's last answer.
    let (recorder, writer_task) = verification::spawn(db.clone(), background.token());
    background.add("verification writer", writer_task);

    let limiter = rate_limit::RateLimiter::new(config.verify_rate_per_second, config.verify_burst);
    let verify = verify::CardStatus::new(db.clone(), keys.clone(), limiter, recorder);
    let found = found_card::FoundCards::new(db.clone(), keys.clone(), relay_handle);
    let inbox = inbox::StatusInbox::new(db.clone(), keys, peers);
    let max_bytes = common.max_request_bytes;
    let routes = Routes::new(CardStatusServiceServer::new(verify).max_decoding_message_size(max_bytes))
        .add_service(FoundCardServiceServer::new(found).max_decoding_message_size(max_bytes))
        .add_service(StatusInboxServiceServer::new(inbox).max_decoding_message_size(max_bytes));
    let names = [
        <CardStatusServiceServer<verify::CardStatus> as NamedService>::NAME,
        <FoundCardServiceServer<found_card::FoundCards> as NamedService>::NAME,
        <StatusInboxServiceServer<inbox::StatusInbox> as NamedService>::NAME,
    ];
    tracing::info!(addr = ?listener.local_addr().ok(), "status service listening");
    let exposure = Exposure {
        service: SERVICE,
        routes,
        service_names: &names,
        policy: idcard_auth::policy::status(),
        settings: common,
    };
    let served = idcard_server::serve_grpc(listener, exposure, shutdown).await;

    background.stop().await;
    db.close().await;
    tracing::info!("status service stopped");
    served.map_err(Error::from)
}
