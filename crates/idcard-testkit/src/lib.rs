//! Test support shared by every test suite: a fresh database per test, on SQLite by
//! default and on PostgreSQL when `IDCARD_TEST_POSTGRES_URL` is set, so the same suite
//! runs on both. Used only as a dev-dependency.

/// The environment variable that switches the suites to PostgreSQL, e.g.
/// `postgres://postgres@127.0.0.1:5432`.
pub const POSTGRES_URL_VAR: &str = "IDCARD_TEST_POSTGRES_URL";

/// A database that exists for one test. A SQLite file is removed with its directory when
/// this is dropped; a PostgreSQL database (named `idcard_test_<label>_<uuid>`) is left for
/// `.ci/run` to drop.
pub struct TestDb {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    /// A fresh, empty database named after `label` (a service name).
    pub async fn fresh(label: &str) -> TestDb {
        match std::env::var(POSTGRES_URL_VAR) {
            Ok(server) if !server.is_empty() => {
                let name = format!("idcard_test_{label}_{}", uuid::Uuid::now_v7().simple());
                let url = idcard_db::postgres::ensure_database(&server, &name)
                    .await
                    .expect("create a test database");
                TestDb { url, _dir: None }
            }
            _ => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite:{}", dir.path().join(format!("{label}.db")).display());
                TestDb { url, _dir: Some(dir) }
            }
        }
    }

    pub fn is_postgres(&self) -> bool {
        self.url.starts_with("postgres")
    }
}
