use std::fmt;
use std::str::FromStr;

use ring::aead::{AES_256_GCM, LessSafeKey, UnboundKey};
use ring::hmac;
use ring::rand::SystemRandom;

use crate::CryptoError;
use crate::key_file::{self, KeyLine};

/// What a key is for. Each purpose has its own keys; a value sealed for one purpose
/// does not open under another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Purpose {
    /// Citizen id number, name, address, phone, photo: AES-256-GCM.
    Data,
    /// Fingerprints: AES-256-GCM under a key kept apart from the data keys.
    Biometric,
    /// The blind index: HMAC-SHA256. Never seals.
    Index,
}

impl Purpose {
    pub const ALL: [Purpose; 3] = [Purpose::Data, Purpose::Biometric, Purpose::Index];

    /// The word used in key files.
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Data => "data",
            Purpose::Biometric => "biometric",
            Purpose::Index => "index",
        }
    }
}

impl fmt::Display for Purpose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Purpose {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "data" => Ok(Purpose::Data),
            "biometric" => Ok(Purpose::Biometric),
            "index" => Ok(Purpose::Index),
            other => Err(format!("unknown purpose {other:?}, expected data, biometric or index")),
        }
    }
}

#[derive(Clone)]
pub(crate) struct SealingKey {
    pub(crate) id: String,
    pub(crate) key: LessSafeKey,
}

#[derive(Clone)]
pub(crate) struct IndexKey {
    pub(crate) id: String,
    pub(crate) key: hmac::Key,
}

/// The operator's keys, by purpose; the last key of each purpose is active.
///
/// Loaded once at start from a key file ([`Keyring::load`]) or from text held in an
/// environment variable ([`Keyring::from_text`]). The format is one key per line,
/// `purpose key_id base64-of-32-bytes`, with `#` starting a comment line:
///
/// ```text
/// # the last key of each purpose is active
/// data data-1 <base64>
/// biometric biometric-1 <base64>
/// index index-1 <base64>
/// ```
///
/// Every purpose needs at least one key. `Debug` shows key ids only.
#[derive(Clone)]
pub struct Keyring {
    pub(crate) data: Vec<SealingKey>,
    pub(crate) biometric: Vec<SealingKey>,
    pub(crate) index: Vec<IndexKey>,
    pub(crate) rng: SystemRandom,
}

impl Keyring {
    /// Parses key text (the content of a key file, or an environment variable holding the
    /// same). Every bad line is reported with its number.
    pub fn from_text(text: &str) -> Result<Keyring, CryptoError> {
        Keyring::from_lines(key_file::parse(text)?)
    }

    pub(crate) fn from_lines(lines: Vec<KeyLine>) -> Result<Keyring, CryptoError> {
        let mut keyring = Keyring {
            data: Vec::new(),
            biometric: Vec::new(),
            index: Vec::new(),
            rng: SystemRandom::new(),
        };
        for line in lines {
            match line.purpose {
                Purpose::Data | Purpose::Biometric => {
                    let key = UnboundKey::new(&AES_256_GCM, &line.key)
                        .map_err(|_| CryptoError::Malformed("aes-256-gcm refused a 32-byte key"))?;
                    let sealing = SealingKey {
                        id: line.id,
                        key: LessSafeKey::new(key),
                    };
                    if line.purpose == Purpose::Data {
                        keyring.data.push(sealing);
                    } else {
                        keyring.biometric.push(sealing);
                    }
                }
                Purpose::Index => keyring.index.push(IndexKey {
                    id: line.id,
                    key: hmac::Key::new(hmac::HMAC_SHA256, &line.key),
                }),
            }
        }
        for purpose in Purpose::ALL {
            if keyring.key_ids(purpose).is_empty() {
                return Err(CryptoError::MissingPurpose(purpose));
            }
        }
        Ok(keyring)
    }

    /// The ids of `purpose`'s keys, oldest first; the last is active.
    pub fn key_ids(&self, purpose: Purpose) -> Vec<&str> {
        match purpose {
            Purpose::Data => self.data.iter().map(|k| k.id.as_str()).collect(),
            Purpose::Biometric => self.biometric.iter().map(|k| k.id.as_str()).collect(),
            Purpose::Index => self.index.iter().map(|k| k.id.as_str()).collect(),
        }
    }

    /// The id of the key that seals (or indexes) new values for `purpose`.
    pub fn active_key_id(&self, purpose: Purpose) -> &str {
        let active = match purpose {
            Purpose::Data => self.data.last().map(|k| k.id.as_str()),
            Purpose::Biometric => self.biometric.last().map(|k| k.id.as_str()),
            Purpose::Index => self.index.last().map(|k| k.id.as_str()),
        };
        // A keyring cannot be built without a key for every purpose.
        active.expect("a keyring holds at least one key per purpose")
    }

    pub(crate) fn sealing_keys(&self, purpose: Purpose) -> Result<&[SealingKey], CryptoError> {
        match purpose {
            Purpose::Data => Ok(&self.data),
            Purpose::Biometric => Ok(&self.biometric),
            Purpose::Index => Err(CryptoError::NotSealingPurpose(purpose)),
        }
    }
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("data", &self.key_ids(Purpose::Data))
            .field("biometric", &self.key_ids(Purpose::Biometric))
            .field("index", &self.key_ids(Purpose::Index))
            .finish_non_exhaustive()
    }
}
