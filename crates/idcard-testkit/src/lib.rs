//! Test support shared by every test suite: a fresh database per test, on SQLite by
//! default and on PostgreSQL when `IDCARD_TEST_POSTGRES_URL` is set, so the same suite
//! runs on both. Used only as a dev-dependency.

use sqlx::{Connection, PgConnection};

/// The environment variable that switches the suites to PostgreSQL, e.g.
/// `postgres://postgres@127.0.0.1:5432`.
pub const POSTGRES_URL_VAR: &str = "IDCARD_TEST_POSTGRES_URL";

/// A database that exists for one test. A SQLite file is removed with its directory when
/// this is dropped; a PostgreSQL database is left for the server's owner to drop (each
/// has a random `idcard_test_` name).
pub struct TestDb {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    /// A fresh, empty database named after `label` (a service name).
    pub async fn fresh(label: &str) -> TestDb {
        match std::env::var(POSTGRES_URL_VAR) {
            Ok(base) if !base.is_empty() => {
                let name = format!("idcard_test_{label}_{}", uuid::Uuid::now_v7().simple());
                let admin = format!("{}/postgres", base.trim_end_matches('/'));
                let mut conn = PgConnection::connect(&admin).await.expect("connect to the PostgreSQL test server");
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
                    .execute(&mut conn)
                    .await
                    .expect("create a test database");
                conn.close().await.ok();
                TestDb { url: format!("{}/{name}", base.trim_end_matches('/')), _dir: None }
            }
            _ => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite:{}", dir.path().join(format!("{label}.db")).display());
                TestDb { url, _dir: Some(dir) }
            }
        }
    }

    /// A path for other files of the test (SQLite runs only; a temp dir otherwise).
    pub fn is_postgres(&self) -> bool {
        self.url.starts_with("postgres")
    }
}
