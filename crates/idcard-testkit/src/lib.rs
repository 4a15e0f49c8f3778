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

/// Everything a test database holds, as bytes to search for data that must not be stored
/// in clear: on SQLite the files themselves (database, write-ahead log, shared memory) in
/// the database's directory; on PostgreSQL every row of every table of the schema as text
/// (bytea shows as hex). Asserts that `expected_table` is among the tables it read.
pub async fn stored_bytes(url: &str, expected_table: &str) -> Vec<u8> {
    use sqlx::Connection;
    if let Some(path) = url.strip_prefix("sqlite:") {
        let dir = std::path::Path::new(path)
            .parent()
            .expect("a SQLite file has a directory");
        let mut bytes = Vec::new();
        for entry in std::fs::read_dir(dir).expect("read the database directory") {
            let path = entry.expect("a directory entry").path();
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default();
            if name.ends_with(".db") || name.ends_with("-wal") || name.ends_with("-shm") {
                bytes.extend(std::fs::read(&path).expect("read a database file"));
            }
        }
        assert!(!bytes.is_empty(), "no database file found in {}", dir.display());
        return bytes;
    }
    let mut conn = sqlx::PgConnection::connect(url)
        .await
        .expect("connect to the test database");
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables \
         WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
    )
    .fetch_all(&mut conn)
    .await
    .expect("list the tables");
    assert!(tables.iter().any(|t| t == expected_table), "{tables:?}");
    let mut text = String::new();
    for table in tables {
        let rows: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT CAST(t AS TEXT) FROM \"{table}\" t"
        )))
        .fetch_all(&mut conn)
        .await
        .expect("read a table");
        for row in rows {
            text.push_str(&row);
            text.push('\n');
        }
    }
    conn.close().await.ok();
    text.into_bytes()
}

/// Runs one statement with text parameters (`$1`, `$2`, ...) on a test database, SQLite
/// or PostgreSQL, and returns the rows it affected. For a test that must change what no
/// RPC changes, such as moving a stored due date into the past to make work late.
pub async fn execute(url: &str, sql: &str, params: &[&str]) -> u64 {
    let db = idcard_db::Db::connect(url, &idcard_db::DbOptions::default())
        .await
        .expect("connect to the test database");
    let affected = idcard_db::on_db!(&db, |pool| {
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for param in params {
            query = query.bind(*param);
        }
        query.execute(pool).await.expect("run the statement").rows_affected()
    });
    db.close().await;
    affected
}
