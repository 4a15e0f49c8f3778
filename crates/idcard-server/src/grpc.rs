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
    pub routes: Routes,
    /// Names for `grpc.health.v1`, e.g. `idcard.v1.AcceptanceService`.
    pub service_names: &'a [&'a str],
    pub policy: AccessPolicy,
    pub settings: &'a CommonSettings,
}

/// Serves `exposure` on `listener` until `shutdown`, with `grpc.health.v1` (each service
/// and the server as a whole) and server reflection; over TLS with client certificates
/// when configured, every call checked by the [`AuthLayer`]. Health is also served in
/// plaintext on the probe port, which serves nothing else. On shutdown health turns
/// NOT_SERVING first, then in-flight calls drain.
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

    let probe = match settings.probe_addr {
        Some(addr) => {
            let probe_listener = TcpListener::bind(addr)
                .await
                .map_err(|source| ServeError::ProbeBind { addr, source })?;
            let health = health.clone();
            let stop = shutdown.clone();
            Some(tokio::spawn(async move {
                tonic::transport::Server::builder()
                    .add_service(health)
                    .serve_with_incoming_shutdown(TcpListenerStream::new(probe_listener), stop.cancelled())
                    .await
            }))
        }
        None => None,
    };

    let names: Vec<String> = exposure.service_names.iter().map(|n| n.to_string()).collect();
    let stopping = async move {
        shutdown.cancelled().await;
        for name in names.iter().map(String::as_str).chain(std::iter::once("")) {
            reporter.set_service_status(name, ServingStatus::NotServing).await;
        }
    };
    let mut builder = tonic::transport::Server::builder();
    if let Some(tls) = tls {
        builder = builder.tls_config(tls)?;
    }
    let served = builder
        .layer(AuthLayer::new(exposure.policy, verifier, mode))
        .layer(crate::too_large::TooLargeLayer)
        .add_routes(exposure.routes)
        .add_service(health)
        .add_service(reflection)
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), stopping)
        .await;
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
