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

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, OnceLock, PoisonError, Weak};
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{ConnectOptions, PgPool, Postgres, Sqlite, SqlitePool, Transaction};
use tokio::sync::{Mutex, OwnedMutexGuard};

pub use error::{DbError, is_unique_violation};

/// Runs `$body` with `$conn` bound to the concrete connection of a [`Tx`].
#[macro_export]
macro_rules! on_tx {
    ($tx:expr, |$conn:ident| $body:expr) => {
        match $tx {
            $crate::Tx::Sqlite(__t, _) => {
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
            $crate::Db::Sqlite(__p, _) => {
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
    /// The pool and the queue its write transactions take turns in.
    Sqlite(SqlitePool, WriteQueue),
    Postgres(PgPool),
}

/// A transaction on either backend. Dropped without [`Tx::commit`], it rolls back.
#[derive(Debug)]
pub enum Tx {
    /// The transaction, then its turn in the write queue (fields drop in this order:
    /// the rollback of a dropped transaction is queued before the next writer goes).
    Sqlite(Transaction<'static, Sqlite>, WriteTurn),
    Postgres(Transaction<'static, Postgres>),
}

/// The writers of one SQLite database file in this process queue here, first come
/// first served, rather than in SQLite's busy handler, which sleeps (1, 2, 5, 10... ms)
/// between tries: under load that left the CPU idle while handlers, the relay and the
/// sealer waited, and let late comers overtake. The busy timeout still covers other
/// processes on the file (idctl commands).
#[derive(Debug, Clone, Default)]
pub struct WriteQueue(Arc<Mutex<()>>);

impl WriteQueue {
    /// The queue of the database file at `path`, shared by every pool on it in this
    /// process (replicas side by side in one test): queues of their own would leave one
    /// pool's head waiting in the busy handler while the other handed the lock along.
    fn of_file(path: &Path) -> WriteQueue {
        type Queues = std::sync::Mutex<HashMap<PathBuf, Weak<Mutex<()>>>>;
        static QUEUES: OnceLock<Queues> = OnceLock::new();
        // In memory, or not there: no other pool can be on it.
        let Ok(path) = path.canonicalize() else {
            return WriteQueue::default();
        };
        let mut queues = QUEUES
            .get_or_init(Queues::default)
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        queues.retain(|_, queue| queue.strong_count() > 0);
        if let Some(queue) = queues.get(&path).and_then(Weak::upgrade) {
            return WriteQueue(queue);
        }
        let queue = WriteQueue::default();
        queues.insert(path, Arc::downgrade(&queue.0));
        queue
    }
}

/// A write transaction's turn in its [`WriteQueue`], released when the transaction
/// ends; empty for a read transaction.
#[derive(Debug)]
pub struct WriteTurn(#[expect(dead_code, reason = "held, never read")] Option<OwnedMutexGuard<()>>);

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
                let filename = connect.get_filename().to_path_buf();
                let pool = SqlitePoolOptions::new()
                    .max_connections(options.max_connections.max(1))
                    .connect_with(connect)
                    .await?;
                Ok(Db::Sqlite(pool, WriteQueue::of_file(&filename)))
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
            Db::Sqlite(..) => Backend::Sqlite,
            Db::Postgres(_) => Backend::Postgres,
        }
    }

    /// A transaction that may write. On SQLite, the writers of a database file in this
    /// process take turns: it waits for those before it, so a task must not call this
    /// while it holds another write transaction on the same file (it would wait for
    /// itself).
    pub async fn begin(&self) -> Result<Tx, DbError> {
        Ok(match self {
            Db::Sqlite(pool, queue) => {
                // The turn first, then a connection: waiters hold none of the pool's.
                let turn = WriteTurn(Some(Arc::clone(&queue.0).lock_owned().await));
                // IMMEDIATE takes SQLite's write lock up front, waiting out the busy
                // timeout if another process holds it. A deferred transaction that reads
                // first (a request-id lookup) and writes later fails at once with
                // SQLITE_BUSY_SNAPSHOT (517) if another connection committed in between.
                Tx::Sqlite(pool.begin_with("BEGIN IMMEDIATE").await?, turn)
            }
            Db::Postgres(pool) => Tx::Postgres(pool.begin().await?),
        })
    }

    /// A transaction for reads only. On SQLite it does not take the write lock, so reads
    /// run beside writers (WAL); on PostgreSQL it is an ordinary transaction.
    pub async fn begin_read(&self) -> Result<Tx, DbError> {
        Ok(match self {
            Db::Sqlite(pool, _) => Tx::Sqlite(pool.begin().await?, WriteTurn(None)),
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
                Db::Sqlite(pool, _) => {
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
            // The turn passes on once the commit is done (or failed).
            Tx::Sqlite(tx, _turn) => tx.commit().await?,
            Tx::Postgres(tx) => tx.commit().await?,
        }
        Ok(())
    }

    pub fn backend(&self) -> Backend {
        match self {
            Tx::Sqlite(..) => Backend::Sqlite,
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::time::Duration;

    use super::{Db, DbOptions};

    /// A database whose busy timeout is too short to wait out another writer.
    async fn impatient_db(dir: &tempfile::TempDir) -> Db {
        let url = format!("sqlite:{}", dir.path().join("queue.db").display());
        let options = DbOptions {
            max_connections: 4,
            statement_timeout: Duration::from_millis(1),
        };
        let db = Db::connect(&url, &options).await.unwrap();
        on_db!(&db, |pool| sqlx::query("CREATE TABLE t (v TEXT NOT NULL)")
            .execute(pool)
            .await
            .map(drop)
            .unwrap());
        db
    }

    async fn insert(tx: &mut super::Tx, v: &str) {
        on_tx!(tx, |conn| sqlx::query("INSERT INTO t (v) VALUES ($1)")
            .bind(v)
            .execute(conn)
            .await
            .map(drop)
            .unwrap());
    }

    async fn count(db: &Db) -> i64 {
        let mut tx = db.begin_read().await.unwrap();
        on_tx!(&mut tx, |conn| sqlx::query_scalar("SELECT count(*) FROM t")
            .fetch_one(conn)
            .await
            .unwrap())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writers_of_one_sqlite_pool_wait_their_turn_instead_of_failing_busy() {
        let dir = tempfile::tempdir().unwrap();
        let db = impatient_db(&dir).await;

        let mut first = db.begin().await.unwrap();
        insert(&mut first, "first").await;
        let second = tokio::spawn({
            let db = db.clone();
            async move {
                let mut tx = db.begin().await?;
                insert(&mut tx, "second").await;
                tx.commit().await
            }
        });
        // Hold the write transaction far longer than the busy timeout while the second
        // writer is waiting; a reader is not held up by either.
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(count(&db).await, 0);
        first.commit().await.unwrap();

        second
            .await
            .unwrap()
            .expect("the second writer commits after the first");
        assert_eq!(count(&db).await, 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_pools_on_one_sqlite_file_share_the_queue() {
        let dir = tempfile::tempdir().unwrap();
        let db = impatient_db(&dir).await;
        let url = format!("sqlite:{}", dir.path().join("queue.db").display());
        let options = DbOptions {
            max_connections: 2,
            statement_timeout: Duration::from_millis(1),
        };
        let other = Db::connect(&url, &options).await.unwrap();

        let mut first = db.begin().await.unwrap();
        insert(&mut first, "first").await;
        let second = tokio::spawn(async move {
            let mut tx = other.begin().await?;
            insert(&mut tx, "second").await;
            tx.commit().await
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        first.commit().await.unwrap();

        second
            .await
            .unwrap()
            .expect("the other pool's writer commits after the first");
        assert_eq!(count(&db).await, 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn many_writers_of_one_sqlite_pool_all_commit() {
        let dir = tempfile::tempdir().unwrap();
        let db = impatient_db(&dir).await;

        let mut writers = tokio::task::JoinSet::new();
        for writer in 0..8 {
            let db = db.clone();
            writers.spawn(async move {
                for i in 0..20 {
                    let mut tx = db.begin().await?;
                    insert(&mut tx, &format!("{writer}-{i}")).await;
                    if i % 5 == 4 {
                        // A rolled-back transaction passes the turn on too.
                        drop(tx);
                        continue;
                    }
                    tokio::task::yield_now().await;
                    tx.commit().await?;
                }
                Ok::<_, super::DbError>(())
            });
        }
        while let Some(joined) = writers.join_next().await {
            joined.unwrap().expect("every writer commits");
        }
        assert_eq!(count(&db).await, 8 * 16);
    }
}
