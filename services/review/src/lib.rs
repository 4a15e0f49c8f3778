//! The review service: the domicile county-level public security bureau.
//!
//! It owns the household register it checks against (`residents`), every card it issued
//! or imported (`cards`, the system of record for card status), the review cases it
//! received from acceptance services (`review_cases`) and the loss reports of its
//! residents' cards (`loss_reports`, from any acceptance point or online). It serves
//! `idcard.v1.ReviewService` to reviewers (pending list, case with pre-check findings,
//! approve, reject, register import, and in `overdue` the cases past or near their
//! 5-day limit), `idcard.v1.CitizenService` to citizens (online loss reports with a
//! one-time code) and `idcard.v1.ReviewInboxService` to acceptance
//! services (applications, loss reports, revocations, collection notices) and the status
//! service (found cards). Through the transactional outbox it sends decisions and loss
//! report outcomes to the acceptance service a case or report came from, production
//! orders to the production centre a case names, every card status change to the status
//! service (`card_status`), and citizens' notifications to its notifier (`notify`).
//!
//! Order of what it sends: the production order for an approved case is enqueued only
//! once the approval has been delivered to the acceptance side (in
//! `delivery::ReviewDeliverer::on_delivered`), so the acceptance point hears
//! "approved" before any production progress.
//!
//! Security (issue 6): the auth layer admits reviewers and auditors to
//! `ReviewService` and only the acceptance service's certificate to the inbox; handlers
//! apply the caller's jurisdictions (`actor`). Personal data is sealed at rest and found
//! by blind indexes, all inside the `store` module, which also re-seals old values after
//! a key rotation. Every state change and every read of a case is audited (`audit`).
//!
//! It must not read another service's tables, decide anything the domain crate
//! decides (eligibility, validity, deadlines), or log personal data: citizen ids are
//! masked and names, addresses and phones never reach a log.

mod actor;
mod audit;
mod card_status;
mod case;
pub mod config;
mod decision;
mod delivery;
mod error;
mod inbox;
mod issuance;
mod loss_report;
mod notify;
mod online;
mod overdue;
mod precheck;
mod register;
mod service;
mod store;
mod wire;

use std::sync::Arc;

use idcard_crypto::KeySource;
use idcard_db::{Db, MigrationSet};
use idcard_notify::Notifier;
use idcard_outbox::{Relay, RelayHandle};
use idcard_proto::v1::citizen_service_server::{self, CitizenServiceServer};
use idcard_proto::v1::review_inbox_service_server::{self, ReviewInboxServiceServer};
use idcard_proto::v1::review_service_server::{self, ReviewServiceServer};
use idcard_server::background::Background;
use idcard_server::deadline;
use idcard_server::settings::SettingsError;
use idcard_server::{Exposure, Peers};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::service::Routes;

use crate::card_status::Publisher;
pub use config::Config;
pub use error::Error;

/// The port the review service listens on unless `IDCARD_LISTEN_ADDR` says otherwise.
pub const DEFAULT_PORT: u16 = 50052;

/// The `service` label of this service's metrics.
const SERVICE: &str = "review";

/// Rows the resealer re-seals per transaction after a key rotation.
const RESEAL_BATCH: u32 = 200;

/// The review service's tables (residents, cards, review cases, loss reports, online
/// reporting), one folder per database.
pub static MIGRATIONS: MigrationSet = MigrationSet {
    sqlite: &sqlx::migrate!("migrations/sqlite"),
    postgres: &sqlx::migrate!("migrations/postgres"),
};

/// Every migration set of a review database, in order (`idctl migrate` applies them too).
pub static MIGRATION_SETS: [&MigrationSet; 3] = [&idcard_outbox::MIGRATIONS, &idcard_audit::MIGRATIONS, &MIGRATIONS];

/// What the handlers share.
pub(crate) struct State {
    pub db: Db,
    pub keys: KeySource,
    pub peers: Peers,
    pub relay: RelayHandle,
    pub publisher: Publisher,
}

/// Binds `config.common.listen_addr_or(DEFAULT_PORT)` and serves until `shutdown`.
pub async fn serve(config: Config, shutdown: CancellationToken) -> Result<(), Error> {
    let addr = config.common.listen_addr_or(DEFAULT_PORT);
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| Error::Bind { addr, source })?;
    serve_with_listener(config, listener, shutdown).await
}

/// Serves on `listener` until `shutdown`: loads the keys, checks that the status service
/// is a peer and a notification sender is configured, connects and migrates the
/// database, starts the outbox relay, the audit sealer, the key reload and the
/// resealer, serves gRPC (TLS and the access policy per the settings, with health and
/// reflection), and on shutdown drains in-flight calls, then stops the background tasks
/// and closes the pool.
pub async fn serve_with_listener(
    config: Config,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    config.validate()?;
    let common = &config.common;
    let keys = common.key_source()?;
    let peers = common.peers()?;
    let publisher = publisher(&config, &peers)?;
    let notifier = Notifier::from_settings(&config.notify)?;
    tracing::info!(sender = notifier.sender_kind(), status_peer = %publisher.peer, "notifications and card status configured");
    let db = Db::connect(&common.database_url, &common.db_options()).await?;
    db.migrate(&MIGRATION_SETS).await?;

    let relay = Relay::new(
        db.clone(),
        keys.clone(),
        delivery::ReviewDeliverer::new(peers.clone(), keys.clone(), notifier),
        common.relay_config(SERVICE),
    );
    let state = Arc::new(State {
        db: db.clone(),
        keys: keys.clone(),
        peers,
        relay: relay.handle(),
        publisher,
    });
    let mut background = Background::start(&db, &keys, relay, common.key_reload_interval);
    // Messages left by a previous run go out without waiting for a poll.
    state.relay.wake();
    {
        let (db, keys) = (db.clone(), keys.clone());
        background.resealer("review personal data", common.key_reload_interval, move || {
            let (db, keys) = (db.clone(), keys.current());
            async move {
                store::reseal_batch(&db, &keys, RESEAL_BATCH)
                    .await
                    .map_err(|err| err.to_string())
            }
        });
    }

    let cases = idcard_server::metrics::SampledGauge::new("idcard_review_cases", SERVICE, "state");
    background.every("review case gauges", idcard_server::metrics::SAMPLE_INTERVAL, {
        let db = db.clone();
        move || {
            let (db, cases) = (db.clone(), cases.clone());
            async move {
                let counts = store::count_cases_by_state(&db).await.map_err(|err| err.to_string())?;
                cases.set_all(counts.into_iter().map(|(state, count)| (state, count as f64)));
                Ok(())
            }
        }
    });

    // The statutory clock: pending cases overdue, and due within
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
                deadline::record(SERVICE, idcard_domain::Stage::Review, counts);
                Ok(())
            }
        }
    });

    let max_bytes = common.max_request_bytes;
    let routes = Routes::new(
        ReviewServiceServer::from_arc(Arc::new(service::Handlers::new(Arc::clone(&state))))
            .max_decoding_message_size(max_bytes),
    )
    .add_service(
        ReviewInboxServiceServer::from_arc(Arc::new(inbox::Handlers::new(Arc::clone(&state))))
            .max_decoding_message_size(max_bytes),
    )
    .add_service(
        CitizenServiceServer::from_arc(Arc::new(online::Handlers::new(Arc::clone(&state))))
            .max_decoding_message_size(max_bytes),
    );
    tracing::info!(addr = ?listener.local_addr().ok(), "review service listening");
    let served = idcard_server::serve_grpc(
        listener,
        Exposure {
            service: SERVICE,
            routes,
            service_names: &[
                review_service_server::SERVICE_NAME,
                review_inbox_service_server::SERVICE_NAME,
                citizen_service_server::SERVICE_NAME,
            ],
            policy: idcard_auth::policy::review(),
            settings: common,
        },
        shutdown,
    )
    .await;

    background.stop().await;
    db.close().await;
    tracing::info!("review service stopped");
    served.map_err(Error::from)
}

/// Where card status goes. Every status change is published, so a review service that
/// cannot reach the status service must not start: verifiers would see stale status.
fn publisher(config: &Config, peers: &Peers) -> Result<Publisher, SettingsError> {
    let peer = config.status_peer.trim();
    if peer.is_empty() {
        return Err(SettingsError::new(
            "IDCARD_STATUS_PEER",
            "required: the peer name of the status service that card status is published to",
        ));
    }
    if !peers.contains(peer) {
        return Err(SettingsError::new(
            "IDCARD_STATUS_PEER",
            format!(
                "the status service {peer:?} is not in IDCARD_PEERS: every card status change is published there, \
                 so add {peer}=<url> to IDCARD_PEERS (or set IDCARD_STATUS_PEER to the name it has there)"
            ),
        ));
    }
    Ok(Publisher {
        peer: peer.to_string(),
        issuer: config.instance_name().to_string(),
    })
}
