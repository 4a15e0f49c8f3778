use std::net::SocketAddr;

/// Why the service could not start or stopped on its own.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Database(#[from] idcard_db::DbError),
    #[error(transparent)]
    Settings(#[from] idcard_server::settings::SettingsError),
    /// Settings found wrong before the start, every one of them.
    #[error(transparent)]
    InvalidSettings(#[from] idcard_server::settings::InvalidSettings),
    #[error(transparent)]
    Serve(#[from] idcard_server::ServeError),
}
