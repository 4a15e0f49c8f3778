use thiserror::Error;

#[derive(Debug, Error)]
pub enum DbError {
    #[error("database configuration: {0}")]
    Config(String),
    #[error("a record with the same key already exists ({constraint})")]
    UniqueViolation { constraint: String },
    #[error("request id {0} was already used for a different request")]
    RequestIdReused(String),
    #[error("database: {0}")]
    Sqlx(#[source] sqlx::Error),
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl From<sqlx::Error> for DbError {
    fn from(err: sqlx::Error) -> Self {
        if is_unique_violation(&err) {
            let constraint = match &err {
                sqlx::Error::Database(db) => db.constraint().unwrap_or("unique").to_string(),
                _ => String::new(),
            };
            DbError::UniqueViolation { constraint }
        } else {
            DbError::Sqlx(err)
        }
    }
}

/// Unique and primary-key violations, by SQLSTATE on PostgreSQL (23505) and by
/// extended result code on SQLite (2067 UNIQUE, 1555 PRIMARY KEY).
pub fn is_unique_violation(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Database(db) => matches!(db.code().as_deref(), Some("23505" | "2067" | "1555")),
        _ => false,
    }
}
