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
    /// A setting is missing or wrong (keys, TLS, peers).
    #[error(transparent)]
    Settings(#[from] idcard_server::settings::SettingsError),
    /// Settings found wrong before the start, every one of them.
    #[error(transparent)]
    InvalidSettings(#[from] idcard_server::settings::InvalidSettings),
    #[error(transparent)]
    Routes(#[from] crate::routing::RouteError),
    /// The notification sink is misconfigured.
    #[error(transparent)]
    Notify(#[from] idcard_notify::NotifyError),
    #[error(transparent)]
    Serve(#[from] idcard_server::ServeError),
}
