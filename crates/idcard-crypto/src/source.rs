use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use crate::{CryptoError, Keyring, Purpose};

/// The keyring a running service uses, replaced in place when the operator adds a key
/// to the key file (`idctl keys rotate`): [`KeySource::reload`] picks it up, so new
/// values are sealed with the new key while old ones still open.
#[derive(Clone)]
pub struct KeySource {
    current: Arc<RwLock<Arc<Keyring>>>,
    path: Option<PathBuf>,
}

impl KeySource {
    /// Keys that never change (from an environment variable, or in tests).
    pub fn fixed(keyring: Keyring) -> KeySource {
        KeySource {
            current: Arc::new(RwLock::new(Arc::new(keyring))),
            path: None,
        }
    }

    /// Keys from a key file, re-read by [`KeySource::reload`].
    pub fn from_file(path: impl AsRef<Path>) -> Result<KeySource, CryptoError> {
        let keyring = Keyring::load(path.as_ref())?;
        Ok(KeySource {
            current: Arc::new(RwLock::new(Arc::new(keyring))),
            path: Some(path.as_ref().to_path_buf()),
        })
    }

    /// The keyring as it is now.
    pub fn current(&self) -> Arc<Keyring> {
        match self.current.read() {
            Ok(guard) => Arc::clone(&guard),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Re-reads the key file; returns whether an active key changed. Keys from
    /// [`KeySource::fixed`] never change.
    pub fn reload(&self) -> Result<bool, CryptoError> {
        let Some(path) = &self.path else { return Ok(false) };
        let fresh = Keyring::load(path)?;
        let before = self.current();
        let changed = Purpose::ALL
            .iter()
            .any(|p| fresh.active_key_id(*p) != before.active_key_id(*p));
        if changed {
            match self.current.write() {
                Ok(mut guard) => *guard = Arc::new(fresh),
                Err(poisoned) => *poisoned.into_inner() = Arc::new(fresh),
            }
        }
        Ok(changed)
    }
}

impl std::fmt::Debug for KeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeySource")
            .field("path", &self.path)
            .field("keys", &self.current())
            .finish()
    }
}
