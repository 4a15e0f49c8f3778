//! Why the service could not start or stopped with an error.

use std::net::SocketAddr;

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
    Notify(#[from] idcard_notify::NotifyError),
    #[error(transparent)]
    Serve(#[from] idcard_server::ServeError),
}
