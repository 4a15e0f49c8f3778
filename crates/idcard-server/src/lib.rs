//! What every service needs once: the gRPC server bootstrap (health, reflection,
//! graceful stop), named peer channels, the error-to-status helpers, shutdown signals
//! and logging setup.
//!
//! Nothing here knows an application, a card or a table.

mod grpc;
pub mod idempotent;
mod peers;
pub mod settings;
pub mod status;
mod telemetry;
pub mod wire;

pub use grpc::{ServeError, serve_grpc};
pub use peers::{PeerError, Peers, parse_pairs};
pub use telemetry::init_tracing;

use tokio_util::sync::CancellationToken;

/// A token cancelled on Ctrl-C or SIGTERM.
pub fn shutdown_on_signal() -> CancellationToken {
    let token = CancellationToken::new();
    let cancel = token.clone();
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(err) => {
                    tracing::warn!(error = %err, "cannot listen for SIGTERM");
                    let _ = ctrl_c.await;
                    cancel.cancel();
                    return;
                }
            };
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
        }
        #[cfg(not(unix))]
        let _ = ctrl_c.await;
        tracing::info!("shutdown signal received");
        cancel.cancel();
    });
    token
}
