//! PostgreSQL server administration the tools need: creating a service's database.

use sqlx::{Connection, PgConnection};

use crate::DbError;

/// The URL of database `name` on the server of `server_url` (`postgres://USER@HOST:PORT`,
/// with or without a database path).
pub fn database_url(server_url: &str, name: &str) -> String {
    format!("{}/{name}", server_root(server_url))
}

/// Creates database `name` unless it exists; returns its URL.
pub async fn ensure_database(server_url: &str, name: &str) -> Result<String, DbError> {
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(DbError::Config(format!(
            "database name {name:?} must be letters, digits and underscores"
        )));
    }
    let mut conn = PgConnection::connect(&database_url(server_url, "postgres")).await?;
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
        .bind(name)
        .fetch_one(&mut conn)
        .await?;
    if !exists {
        match sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
            .execute(&mut conn)
            .await
        {
            Ok(_) => tracing::info!(database = name, "created database"),
            // 42P04: created meanwhile by someone else.
            Err(sqlx::Error::Database(db)) if db.code().as_deref() == Some("42P04") => {}
            Err(err) => return Err(err.into()),
        }
    }
    conn.close().await.ok();
    Ok(database_url(server_url, name))
}

/// `postgres://user@host:port` without a trailing database path or slash.
fn server_root(server_url: &str) -> &str {
    let trimmed = server_url.trim_end_matches('/');
    let after_scheme = trimmed.find("://").map(|i| i + 3).unwrap_or(0);
    match trimmed[after_scheme..].find('/') {
        Some(slash) => &trimmed[..after_scheme + slash],
        None => trimmed,
    }
}

#[cfg(test)]
mod tests {
    use super::database_url;

    #[test]
    fn database_url_replaces_any_database_path() {
        assert_eq!(database_url("postgres://pg@h:5432", "x"), "postgres://pg@h:5432/x");
        assert_eq!(database_url("postgres://pg@h:5432/", "x"), "postgres://pg@h:5432/x");
        assert_eq!(
            database_url("postgres://pg@h:5432/other", "x"),
            "postgres://pg@h:5432/x"
        );
    }
}
