use std::net::SocketAddr;

use idcard_auth::{AccessPolicy, AuthLayer, AuthMode};
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tokio_util::sync::CancellationToken;
use tonic::service::Routes;
use tonic_health::ServingStatus;

use crate::settings::{CommonSettings, SettingsError};

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("reflection: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    #[error("grpc server: {0}")]
    Transport(#[from] tonic::transport::Error),
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error("cannot bind the probe port {addr}: {source}")]
    ProbeBind { addr: SocketAddr, source: std::io::Error },
}

/// How a service is exposed: its gRPC services, the access policy its methods are
/// checked against, and the settings for TLS, tokens and the probe port.
pub struct Exposure<'a> {
    /// The `service` label of this service's metrics: acceptance, review, production, status.
    pub service: &'static str,
    pub routes: Routes,
    /// Names for `grpc.health.v1`, e.g. `idcard.v1.AcceptanceService`.
    pub service_names: &'a [&'a str],
    pub policy: AccessPolicy,
    pub settings: &'a CommonSettings,
}

/// Serves `exposure` on `listener` until `shutdown`, with `grpc.health.v1` (each service
/// and the server as a whole) and server reflection; over TLS with client certificates
/// when configured, every call checked by the [`AuthLayer`] and counted in the RPC
/// metrics. Health is also served in plaintext on the probe port, with the Prometheus
/// text at `GET /metrics` (HTTP/1.1 there), and nothing else. On shutdown health turns
/// NOT_SERVING at once (on both ports), the server goes on serving for
/// `IDCARD_SHUTDOWN_GRACE`, then stops accepting and drains the calls in flight for at
/// most `IDCARD_DRAIN_TIMEOUT` (see [`crate::drain`]); the probe port stops last.
pub async fn serve_grpc(
    listener: TcpListener,
    exposure: Exposure<'_>,
    shutdown: CancellationToken,
) -> Result<(), ServeError> {
    let settings = exposure.settings;
    let auth = &settings.auth;
    let verifier = auth
        .verifier()
        .map_err(|err| SettingsError::new("IDCARD_AUTH_PUBLIC_KEYS", err.to_string()))?;
    let mode = auth.mode();
    if mode == AuthMode::Insecure {
        tracing::warn!(
            "INSECURE MODE: no bearer tokens and no peer certificates are checked. For local debugging only; never \
             expose this service."
        );
    }
    let tls = match settings.tls_files()? {
        Some(files) => Some(
            files
                .server_config()
                .map_err(|err| SettingsError::new("IDCARD_TLS_CERT", err.to_string()))?,
        ),
        None if mode == AuthMode::Insecure => None,
        None => {
            return Err(SettingsError::new(
                "IDCARD_TLS_CERT",
                "required: inbound service-to-service calls are checked by client certificate (or run with \
                 --insecure for local debugging)",
            )
            .into());
        }
    };

    let (reporter, health) = tonic_health::server::health_reporter();
    for name in exposure.service_names.iter().copied().chain(std::iter::once("")) {
        reporter.set_service_status(name, ServingStatus::Serving).await;
    }
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(idcard_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?;

    crate::metrics::install();
    // The probe port outlives the grace period and the drain, answering NOT_SERVING.
    let probe_stop = CancellationToken::new();
    // Stops it however this function returns.
    let _probe_guard = probe_stop.clone().drop_guard();
    let probe = match settings.probe_addr {
        Some(addr) => {
            let probe_listener = TcpListener::bind(addr)
                .await
                .map_err(|source| ServeError::ProbeBind { addr, source })?;
            tracing::info!(addr = %probe_listener.local_addr().unwrap_or(addr), "probe port listening");
            let health = health.clone();
            let stop = probe_stop.clone();
            Some(tokio::spawn(async move {
                // Health stays gRPC (HTTP/2); Prometheus scrapes /metrics over HTTP/1.1.
                let probe_routes = Routes::new(health)
                    .into_axum_router()
                    .route("/metrics", axum::routing::get(crate::metrics::scrape));
                tonic::transport::Server::builder()
                    .accept_http1(true)
                    .add_routes(Routes::from(probe_routes))
                    .serve_with_incoming_shutdown(TcpListenerStream::new(probe_listener), stop.cancelled())
                    .await
            }))
        }
        None => None,
    };

    let names: Vec<String> = exposure.service_names.iter().map(|n| n.to_string()).collect();
    let drain = crate::drain::Drain::new(settings.shutdown_grace, settings.drain_timeout);
    let stopping = drain.signal(shutdown, reporter, names);
    let mut builder = tonic::transport::Server::builder();
    if let Some(tls) = tls {
        builder = builder.tls_config(tls)?;
    }
    let serving = builder
        .layer(crate::trace::TraceLayer::new(exposure.service))
        .layer(drain.layer())
        .layer(crate::rpc_metrics::RpcMetricsLayer::new(exposure.service))
        .layer(AuthLayer::new(exposure.policy, verifier, mode))
        .layer(crate::too_large::TooLargeLayer)
        .add_routes(exposure.routes)
        .add_service(health)
        .add_service(reflection)
        // TcpIncoming sets TCP_NODELAY on each accepted connection (the builder's own
        // setting does not apply to an incoming stream): without it a small answer's last
        // frame waits for the client's delayed ACK, about 40 ms per call.
        .serve_with_incoming_shutdown(
            tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true)),
            stopping,
        );
    let served = drain.run(serving).await;
    probe_stop.cancel();
    let probe_outcome = match probe {
        Some(probe) => probe.await.ok(),
        None => None,
    };
    if let Some(Err(err)) = probe_outcome {
        tracing::warn!(error = %err, "probe port stopped with an error");
    }
    served?;
    Ok(())
}
