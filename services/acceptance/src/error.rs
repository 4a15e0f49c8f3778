use thiserror::Error;

/// Why the acceptance service could not start or stopped early.
#[derive(Debug, Error)]
pub enum Error {
    #[error("cannot bind {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Database(#[from] idcard_db::DbError),
    #[error(transparent)]
    Peers(#[from] idcard_server::PeerError),
    #[error(transparent)]
    Routes(#[from] crate::routing::RouteError),
    #[error(transparent)]
    Serve(#[from] idcard_server::ServeError),
}
