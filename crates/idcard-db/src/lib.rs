//! The database handle every service shares: one pool type over SQLite (the embedded
//! default) and PostgreSQL (production), transactions, migrations, SQLSTATE mapping and
//! client request ids.
//!
//! Queries are written once and run on either backend through [`on_tx!`] and
//! [`on_db!`], which expand the same code per concrete driver (sqlx's `Any` driver
//! cannot carry UUIDs). Timestamps are stored as UTC milliseconds since the epoch and
//! ids as UUIDs, so the SQL is the same on both. This crate knows no table but its own
//! `client_requests`.

mod error;
pub mod idempotency;
pub mod postgres;

use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{ConnectOptions, PgPool, Postgres, Sqlite, SqlitePool, Transaction};

pub use error::{DbError, is_unique_violation};

/// Runs `$body` with `$conn` bound to the concrete connection of a [`Tx`].
#[macro_export]
macro_rules! on_tx {
    ($tx:expr, |$conn:ident| $body:expr) => {
        match $tx {
            $crate::Tx::Sqlite(__t) => {
                let $conn = &mut **__t;
                $body
            }
            $crate::Tx::Postgres(__t) => {
                let $conn = &mut **__t;
                $body
            }
        }
    };
}

/// Runs `$body` with `$pool` bound to the concrete pool of a [`Db`].
#[macro_export]
macro_rules! on_db {
    ($db:expr, |$pool:ident| $body:expr) => {
        match $db {
            $crate::Db::Sqlite(__p) => {
                let $pool = __p;
                $body
            }
            $crate::Db::Postgres(__p) => {
                let $pool = __p;
                $body
            }
        }
    };
}

/// Which database a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn of_url(url: &str) -> Result<Backend, DbError> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            Err(DbError::Config(format!(
                "database url must start with sqlite: or postgres://, got {:?}",
                url.split(':').next().unwrap_or_default()
            )))
        }
    }
}

/// Pool settings.
#[derive(Debug, Clone)]
pub struct DbOptions {
    pub max_connections: u32,
    /// PostgreSQL `statement_timeout`; SQLite's busy timeout.
    pub statement_timeout: Duration,
}

impl Default for DbOptions {
    fn default() -> Self {
        DbOptions {
            max_connections: 16,
            statement_timeout: Duration::from_secs(5),
        }
    }
}

/// A pool on either backend. Cheap to clone.
#[derive(Debug, Clone)]
pub enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// A transaction on either backend. Dropped without [`Tx::commit`], it rolls back.
#[derive(Debug)]
pub enum Tx {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

impl Db {
    /// Connects (creating a SQLite file if missing; WAL journal).
    pub async fn connect(url: &str, options: &DbOptions) -> Result<Db, DbError> {
        match Backend::of_url(url)? {
            Backend::Sqlite => {
                let connect = SqliteConnectOptions::from_str(url)?
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .foreign_keys(true)
                    .busy_timeout(options.statement_timeout)
                    .disable_statement_logging();
                let pool = SqlitePoolOptions::new()
                    .max_connections(options.max_connections.max(1))
                    .connect_with(connect)
                    .await?;
                Ok(Db::Sqlite(pool))
            }
            Backend::Postgres => {
                let timeout_ms = options.statement_timeout.as_millis().to_string();
                let connect = PgConnectOptions::from_str(url)?
                    .options([("statement_timeout", timeout_ms.as_str())])
                    .disable_statement_logging();
                let pool = PgPoolOptions::new()
                    .max_connections(options.max_connections.max(1))
                    .acquire_timeout(Duration::from_secs(10))
                    .connect_with(connect)
                    .await?;
                Ok(Db::Postgres(pool))
            }
        }
    }

    pub fn backend(&self) -> Backend {
        match self {
            Db::Sqlite(_) => Backend::Sqlite,
            Db::Postgres(_) => Backend::Postgres,
        }
    }

    pub async fn begin(&self) -> Result<Tx, DbError> {
        Ok(match self {
            // IMMEDIATE takes the write lock up front, waiting out the busy timeout. A
            // deferred transaction that reads first (a request-id lookup) and writes later
            // fails at once with SQLITE_BUSY_SNAPSHOT (517) if another connection (the
            // relay) committed in between.
            Db::Sqlite(pool) => Tx::Sqlite(pool.begin_with("BEGIN IMMEDIATE").await?),
            Db::Postgres(pool) => Tx::Postgres(pool.begin().await?),
        })
    }

    /// A transaction for reads only. On SQLite it does not take the write lock, so reads
    /// run beside writers (WAL); on PostgreSQL it is an ordinary transaction.
    pub async fn begin_read(&self) -> Result<Tx, DbError> {
        Ok(match self {
            Db::Sqlite(pool) => Tx::Sqlite(pool.begin().await?),
            Db::Postgres(pool) => Tx::Postgres(pool.begin().await?),
        })
    }

    /// Applies this crate's migrations, then each of `sets` (one per crate that owns
    /// tables). Versions must not overlap between sets.
    pub async fn migrate(&self, sets: &[&MigrationSet]) -> Result<(), DbError> {
        let own = MigrationSet {
            sqlite: &sqlx::migrate!("migrations/sqlite"),
            postgres: &sqlx::migrate!("migrations/postgres"),
        };
        for set in std::iter::once(&own).chain(sets.iter().copied()) {
            match self {
                Db::Sqlite(pool) => {
                    // SQLite migrations take no lock: a replica starting beside another may
                    // lose the race for a migration and find it applied when it tries again.
                    let migrator = ignoring_others(set.sqlite);
                    let mut attempt = 0;
                    while let Err(err) = migrator.run(pool).await {
                        attempt += 1;
                        if attempt >= 20 {
                            return Err(err.into());
                        }
                        tracing::debug!(error = %err, attempt, "migration raced another replica; retrying");
                        tokio::time::sleep(Duration::from_millis(50 * attempt)).await;
                    }
                }
                // PostgreSQL migrations hold an advisory lock.
                Db::Postgres(pool) => ignoring_others(set.postgres).run(pool).await?,
            }
        }
        Ok(())
    }

    pub async fn close(&self) {
        on_db!(self, |pool| pool.close().await)
    }
}

/// A crate's migrations, one folder per database.
pub struct MigrationSet {
    pub sqlite: &'static Migrator,
    pub postgres: &'static Migrator,
}

/// Several crates keep migrations in one database, so each migrator must not complain
/// about the versions the others applied.
fn ignoring_others(migrator: &Migrator) -> Migrator {
    Migrator {
        migrations: migrator.migrations.clone(),
        ignore_missing: true,
        locking: migrator.locking,
        no_tx: migrator.no_tx,
        table_name: migrator.table_name.clone(),
        create_schemas: migrator.create_schemas.clone(),
    }
}

impl Tx {
    pub async fn commit(self) -> Result<(), DbError> {
        match self {
            Tx::Sqlite(tx) => tx.commit().await?,
            Tx::Postgres(tx) => tx.commit().await?,
        }
        Ok(())
    }

    pub fn backend(&self) -> Backend {
        match self {
            Tx::Sqlite(_) => Backend::Sqlite,
            Tx::Postgres(_) => Backend::Postgres,
        }
    }
}

/// Milliseconds since the Unix epoch, the form every timestamp is stored in.
pub fn now_ms() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(now.as_millis()).unwrap_or(i64::MAX)
}
