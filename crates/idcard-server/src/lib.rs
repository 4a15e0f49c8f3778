//! What every service needs once: the gRPC server bootstrap (health, reflection,
//! graceful stop), named peer channels, the error-to-status helpers, shutdown signals
//! and logging and tracing setup (trace context across calls, in `trace`).
//!
//! Nothing here knows an application, a card or a table.

pub mod background;
pub mod deadline;
mod drain;
mod grpc;
pub mod idempotent;
pub mod metrics;
mod peers;
mod rpc_metrics;
pub mod settings;
pub mod status;
mod telemetry;
mod too_large;
pub mod trace;
pub mod wire;

pub use grpc::{Exposure, ServeError, serve_grpc};
pub use peers::{PeerChannel, PeerError, Peers, parse_pairs};
pub use rpc_metrics::code_name;
pub use telemetry::{TelemetryConfig, flush_traces, init_telemetry, init_tracing, shutdown_tracing};

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

/// Re-reads the key file every `interval` until `shutdown`, so a key added by
/// `idctl keys rotate` seals new values without a restart.
pub fn spawn_key_reload(
    keys: idcard_crypto::KeySource,
    interval: std::time::Duration,
    shutdown: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = shutdown.cancelled() => return,
            }
            match keys.reload() {
                Ok(true) => tracing::info!("key file changed: new values are sealed with the new keys"),
                Ok(false) => {}
                Err(err) => tracing::warn!(error = %err, "cannot re-read the key file; keeping the keys in use"),
            }
        }
    })
}

/// Runs `batch` (re-seal up to N values not under the active keys, returning how many it
/// re-sealed) until it finds nothing, then waits `interval`; until `shutdown`. This is
/// how a key rotation reaches old rows in the background.
pub fn spawn_resealer<F, Fut>(
    what: &'static str,
    interval: std::time::Duration,
    shutdown: CancellationToken,
    mut batch: F,
) -> tokio::task::JoinHandle<()>
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<usize, String>> + Send,
{
    tokio::spawn(async move {
        while !shutdown.is_cancelled() {
            match batch().await {
                Ok(0) => {}
                Ok(count) => {
                    tracing::info!(what, count, "re-sealed values under the active keys");
                    continue;
                }
                Err(err) => tracing::warn!(what, error = %err, "re-sealing failed; will try again"),
            }
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = shutdown.cancelled() => {}
            }
        }
    })
}
