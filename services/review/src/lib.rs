//! The review service: the domicile county-level public security bureau.
//!
//! It owns the household register it checks against (`residents`), every card it issued
//! or imported (`cards`, the system of record for card status) and the review cases it
//! received from acceptance services (`review_cases`). It serves
//! `idcard.v1.ReviewService` to reviewers (pending list, case with pre-check findings,
//! approve, reject, register import) and `idcard.v1.ReviewInboxService` to acceptance
//! services, and sends decisions to the acceptance service a case came from and
//! production orders to the production centre it names, through the transactional
//! outbox.
//!
//! Order of what it sends: the production order for an approved case is enqueued only
//! once the approval has been delivered to the acceptance side (in
//! `delivery::ReviewDeliverer::on_delivered`), so the acceptance point hears
//! "approved" before any production progress.
//!
//! It must not read another service's tables, decide anything the domain crate
//! decides (eligibility, validity, deadlines), or log personal data: citizen ids are
//! masked and names, addresses and phones never reach a log. Personal data is read
//! and written only in the `store` module, so that encryption at rest stays a change there.

mod case;
pub mod config;
mod decision;
mod delivery;
mod error;
mod inbox;
mod issuance;
mod precheck;
mod register;
mod service;
mod store;
mod wire;

use std::sync::Arc;

use idcard_db::{Db, MigrationSet};
use idcard_outbox::{Relay, RelayHandle};
use idcard_proto::v1::review_inbox_service_server::{self, ReviewInboxServiceServer};
use idcard_proto::v1::review_service_server::{self, ReviewServiceServer};
use idcard_server::Peers;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::service::Routes;

pub use config::Config;
pub use error::Error;

/// The port the review service listens on unless `IDCARD_LISTEN_ADDR` says otherwise.
pub const DEFAULT_PORT: u16 = 50052;

/// Largest request the service decodes: an import of 10,000 residents with their cards.
const MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;

/// The review service's tables (residents, cards, review cases), one folder per database.
pub static MIGRATIONS: MigrationSet = MigrationSet {
    sqlite: &sqlx::migrate!("migrations/sqlite"),
    postgres: &sqlx::migrate!("migrations/postgres"),
};

/// What the handlers share.
pub(crate) struct State {
    pub db: Db,
    pub peers: Peers,
    pub relay: RelayHandle,
}

/// Binds `config.common.listen_addr_or(DEFAULT_PORT)` and serves until `shutdown`.
pub async fn serve(config: Config, shutdown: CancellationToken) -> Result<(), Error> {
    let addr = config.common.listen_addr_or(DEFAULT_PORT);
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| Error::Bind { addr, source })?;
    serve_with_listener(config, listener, shutdown).await
}

/// Serves on `listener` until `shutdown`: connects and migrates the database, starts
/// the outbox relay, serves gRPC (with health and reflection), and on shutdown drains
/// in-flight calls, then stops the relay and closes the pool.
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
        delivery::ReviewDeliverer::new(peers.clone()),
        common.relay_config(),
    );
    let state = Arc::new(State {
        db: db.clone(),
        peers,
        relay: relay.handle(),
    });
    let relay_stop = CancellationToken::new();
    let relay_task = tokio::spawn(relay.run(relay_stop.clone()));
    // Messages left by a previous run go out without waiting for a poll.
    state.relay.wake();

    let routes = Routes::new(
        ReviewServiceServer::from_arc(Arc::new(service::Handlers::new(Arc::clone(&state))))
            .max_decoding_message_size(MAX_MESSAGE_BYTES),
    )
    .add_service(
        ReviewInboxServiceServer::from_arc(Arc::new(inbox::Handlers::new(Arc::clone(&state))))
            .max_decoding_message_size(MAX_MESSAGE_BYTES),
    );
    tracing::info!(addr = ?listener.local_addr().ok(), "review service listening");
    let served = idcard_server::serve_grpc(
        listener,
        routes,
        &[
            review_service_server::SERVICE_NAME,
            review_inbox_service_server::SERVICE_NAME,
        ],
        shutdown,
    )
    .await;

    relay_stop.cancel();
    if let Err(err) = relay_task.await {
        tracing::error!(error = %err, "outbox relay task failed");
    }
    db.close().await;
    tracing::info!("review service stopped");
    served.map_err(Error::from)
}
