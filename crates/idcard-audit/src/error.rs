use idcard_db::DbError;
use thiserror::Error;

use crate::Broken;

#[derive(Debug, Error)]
pub enum AuditError {
    /// `verify` found the chain broken.
    #[error("{0}")]
    Broken(Broken),
    /// The chain head and the sealed entries disagree, so sealing cannot continue.
    #[error("audit chain head is inconsistent: {0}")]
    Inconsistent(String),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<sqlx::Error> for AuditError {
    fn from(err: sqlx::Error) -> Self {
        AuditError::Db(err.into())
    }
}
