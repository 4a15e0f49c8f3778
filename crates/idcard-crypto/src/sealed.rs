//! Sealed values. Byte layout (version 1):
//!
//! ```text
//! version (1 byte, = 1) | key id length n (1 byte) | key id (n bytes, ascii)
//!   | nonce (12 random bytes) | AES-256-GCM ciphertext | tag (16 bytes)
//! ```
//!
//! The associated data given to AES-GCM is the header (version, length, key id) followed
//! by the caller's associated data, so neither can change without the tag failing.

use ring::aead::{Aad, NONCE_LEN, Nonce};
use ring::rand::SecureRandom;

use crate::{CryptoError, Keyring, Purpose};

const VERSION: u8 = 1;
const TAG_LEN: usize = 16;

struct Parts<'a> {
    header: &'a [u8],
    key_id: &'a str,
    nonce: [u8; NONCE_LEN],
    ciphertext: &'a [u8],
}

fn split(sealed: &[u8]) -> Result<Parts<'_>, CryptoError> {
    let (&version, rest) = sealed.split_first().ok_or(CryptoError::Truncated("empty"))?;
    if version != VERSION {
        return Err(CryptoError::UnsupportedVersion(version));
    }
    let (&id_len, rest) = rest.split_first().ok_or(CryptoError::Truncated("no key id length"))?;
    let id_len = usize::from(id_len);
    if id_len == 0 {
        return Err(CryptoError::Malformed("empty key id"));
    }
    if rest.len() < id_len + NONCE_LEN + TAG_LEN {
        return Err(CryptoError::Truncated("shorter than key id, nonce and tag"));
    }
    let (key_id, rest) = rest.split_at(id_len);
    let key_id = std::str::from_utf8(key_id).map_err(|_| CryptoError::Malformed("key id is not utf-8"))?;
    let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
    let mut nonce_bytes = [0u8; NONCE_LEN];
    nonce_bytes.copy_from_slice(nonce);
    Ok(Parts {
        header: &sealed[..2 + id_len],
        key_id,
        nonce: nonce_bytes,
        ciphertext,
    })
}

/// The id of the key that sealed `sealed`, or `None` if it is not a sealed value.
pub fn key_id_of(sealed: &[u8]) -> Option<&str> {
    split(sealed).ok().map(|parts| parts.key_id)
}

fn full_aad(header: &[u8], aad: &[u8]) -> Vec<u8> {
    let mut full = Vec::with_capacity(header.len() + aad.len());
    full.extend_from_slice(header);
    full.extend_from_slice(aad);
    full
}

impl Keyring {
    /// Encrypts `plaintext` with the active key of `purpose` (data or biometric).
    ///
    /// `aad` (associated data) is not stored but must be given again to [`Keyring::open`].
    /// Bind each value to its place, table, column and row id, e.g.
    /// `b"applications.citizen_id:0190c7e2-..."`: a ciphertext copied into another row
    /// or column then fails to open instead of passing for that row's data. Do not put
    /// anything in `aad` that may change over the row's life.
    ///
    /// Nonces are random (96 bits), which keeps the chance of a repeat negligible for up
    /// to about 2^32 values per key; rotate a key long before it seals that many.
    ///
    /// Fails for [`Purpose::Index`] (which never seals) and if the system random number
    /// generator fails.
    pub fn seal(&self, purpose: Purpose, plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let keys = self.sealing_keys(purpose)?;
        let key = keys.last().ok_or(CryptoError::MissingPurpose(purpose))?;
        let mut nonce = [0u8; NONCE_LEN];
        self.rng.fill(&mut nonce).map_err(|_| CryptoError::Random)?;

        let id = key.id.as_bytes();
        let mut sealed = Vec::with_capacity(2 + id.len() + NONCE_LEN + plaintext.len() + TAG_LEN);
        sealed.push(VERSION);
        // Key ids are at most 64 bytes (checked when the keyring was read).
        sealed.push(u8::try_from(id.len()).map_err(|_| CryptoError::Malformed("key id longer than 255 bytes"))?);
        sealed.extend_from_slice(id);
        let aad = full_aad(&sealed, aad);
        sealed.extend_from_slice(&nonce);
        let body = sealed.len();
        sealed.extend_from_slice(plaintext);
        let mut in_out = sealed.split_off(body);
        key.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad.as_slice()),
                &mut in_out,
            )
            .map_err(|_| CryptoError::Malformed("plaintext too long for aes-gcm"))?;
        sealed.append(&mut in_out);
        Ok(sealed)
    }

    /// Decrypts a value sealed for `purpose` under any of its keys, with the same `aad`.
    pub fn open(&self, purpose: Purpose, sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let parts = split(sealed)?;
        let key = self
            .sealing_keys(purpose)?
            .iter()
            .find(|key| key.id == parts.key_id)
            .ok_or_else(|| CryptoError::UnknownKey {
                purpose,
                key_id: parts.key_id.to_string(),
            })?;
        let aad = full_aad(parts.header, aad);
        let mut in_out = parts.ciphertext.to_vec();
        let plaintext_len = key
            .key
            .open_in_place(
                Nonce::assume_unique_for_key(parts.nonce),
                Aad::from(aad.as_slice()),
                &mut in_out,
            )
            .map_err(|_| CryptoError::Authentication)?
            .len();
        in_out.truncate(plaintext_len);
        Ok(in_out)
    }

    /// [`Keyring::seal`] for text.
    pub fn seal_str(&self, purpose: Purpose, plaintext: &str, aad: &[u8]) -> Result<Vec<u8>, CryptoError> {
        self.seal(purpose, plaintext.as_bytes(), aad)
    }

    /// [`Keyring::open`] for text sealed with [`Keyring::seal_str`].
    pub fn open_string(&self, purpose: Purpose, sealed: &[u8], aad: &[u8]) -> Result<String, CryptoError> {
        String::from_utf8(self.open(purpose, sealed, aad)?).map_err(|_| CryptoError::NotUtf8)
    }

    /// Whether `sealed` is under the active key of `purpose`; a background job re-seals
    /// the values for which this is false after a rotation.
    pub fn is_current(&self, purpose: Purpose, sealed: &[u8]) -> bool {
        purpose != Purpose::Index && key_id_of(sealed) == Some(self.active_key_id(purpose))
    }
}
