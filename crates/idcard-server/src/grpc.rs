use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tokio_util::sync::CancellationToken;
use tonic::service::Routes;
use tonic_health::ServingStatus;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("reflection: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    #[error("grpc server: {0}")]
    Transport(#[from] tonic::transport::Error),
}

/// Serves `routes` plus `grpc.health.v1` (each of `service_names` and the server as a
/// whole) and server reflection on `listener` until `shutdown`. On shutdown health turns
/// NOT_SERVING first, then in-flight calls drain.
pub async fn serve_grpc(
    listener: TcpListener,
    routes: Routes,
    service_names: &[&str],
    shutdown: CancellationToken,
) -> Result<(), ServeError> {
    let (reporter, health) = tonic_health::server::health_reporter();
    for name in service_names.iter().copied().chain(std::iter::once("")) {
        reporter.set_service_status(name, ServingStatus::Serving).await;
    }
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(idcard_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    let names: Vec<String> = service_names.iter().map(|n| n.to_string()).collect();
    let stopping = async move {
        shutdown.cancelled().await;
        for name in names.iter().map(String::as_str).chain(std::iter::once("")) {
            reporter.set_service_status(name, ServingStatus::NotServing).await;
        }
    };
    tonic::transport::Server::builder()
        .add_routes(routes)
        .add_service(health)
        .add_service(reflection)
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), stopping)
        .await?;
    Ok(())
}
