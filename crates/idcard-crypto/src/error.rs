use std::fmt;
use std::path::PathBuf;

use thiserror::Error;

use crate::Purpose;

/// Everything that can go wrong with keys and sealed values.
#[derive(Debug, Error)]
pub enum CryptoError {
    #[error("bad key lines: {}", KeyLineErrors(.0))]
    KeyLines(Vec<KeyLineError>),
    #[error("keys have no {0} key, expected at least one per purpose (data, biometric, index)")]
    MissingPurpose(Purpose),
    #[error(
        "key file {} has mode {mode:04o}, expected no access for group or others; run `chmod 600 {}`",
        path.display(),
        path.display()
    )]
    KeyFilePermissions { path: PathBuf, mode: u32 },
    #[error("key file {} already exists, refusing to overwrite keys", .0.display())]
    KeyFileExists(PathBuf),
    #[error("another key rotation holds {}; remove it if no rotation is running", lock.display())]
    RotationInProgress { lock: PathBuf },
    #[error("key file {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0} keys do not seal values, expected data or biometric")]
    NotSealingPurpose(Purpose),
    #[error("sealed value is truncated: {0}")]
    Truncated(&'static str),
    #[error("sealed value has format version {0}, expected 1")]
    UnsupportedVersion(u8),
    #[error("sealed value is malformed: {0}")]
    Malformed(&'static str),
    #[error("sealed value names {purpose} key {key_id:?}, which the keyring does not hold")]
    UnknownKey { purpose: Purpose, key_id: String },
    #[error("sealed value does not authenticate: wrong associated data, wrong key or altered bytes")]
    Authentication,
    #[error("opened value is not utf-8")]
    NotUtf8,
    #[error("the system random number generator failed")]
    Random,
}

/// One bad line of a key file or key text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyLineError {
    /// 1-based.
    pub line: usize,
    pub reason: String,
}

impl fmt::Display for KeyLineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

struct KeyLineErrors<'a>(&'a [KeyLineError]);

impl fmt::Display for KeyLineErrors<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, err) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{err}")?;
        }
        Ok(())
    }
}
