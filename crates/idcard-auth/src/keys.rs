//! Ed25519 token keys: PEM files, key generation, and the ring backend that
//! `jsonwebtoken` signs and verifies with.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Once;

use jsonwebtoken::crypto::{CryptoProvider, JwkUtils, JwtSigner, JwtVerifier};
use jsonwebtoken::errors::{Error as JwtError, ErrorKind};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, signature};
use ring::signature::{ED25519, Ed25519KeyPair, UnparsedPublicKey};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{PrivatePkcs8KeyDer, SubjectPublicKeyInfoDer};

use crate::AuthError;

/// File name suffix of a public token key in a key directory: `<kid>.pub.pem`.
pub const PUBLIC_KEY_SUFFIX: &str = ".pub.pem";
/// File name suffix of a private token key: `<kid>.key.pem`.
pub const PRIVATE_KEY_SUFFIX: &str = ".key.pem";

/// DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410): SEQUENCE { SEQUENCE { OID
/// 1.3.101.112 }, BIT STRING (33 bytes) }; the 32-byte key follows.
const ED25519_SPKI_PREFIX: [u8; 12] = [0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00];

/// Checks a key id before it becomes part of a file name or a lookup key.
pub(crate) fn check_kid(kid: &str) -> Result<(), AuthError> {
    let valid = !kid.is_empty()
        && kid.len() <= 64
        && !kid.starts_with('.')
        && kid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if valid {
        Ok(())
    } else {
        Err(AuthError::InvalidKeyId(kid.to_string()))
    }
}

/// The raw 32-byte Ed25519 public key in a `PUBLIC KEY` PEM.
pub(crate) fn ed25519_public_key_from_pem(what: &str, pem: &[u8]) -> Result<[u8; 32], AuthError> {
    let spki = SubjectPublicKeyInfoDer::from_pem_slice(pem)
        .map_err(|err| AuthError::bad_key(what, format!("expected a PEM `PUBLIC KEY`: {err}")))?;
    let der: &[u8] = spki.as_ref();
    der.strip_prefix(&ED25519_SPKI_PREFIX[..])
        .and_then(|raw| <[u8; 32]>::try_from(raw).ok())
        .ok_or_else(|| AuthError::bad_key(what, "expected an Ed25519 public key"))
}

/// The PKCS#8 DER of an Ed25519 `PRIVATE KEY` PEM, checked to parse.
pub(crate) fn ed25519_private_key_from_pem(what: &str, pem: &[u8]) -> Result<Vec<u8>, AuthError> {
    let pkcs8 = PrivatePkcs8KeyDer::from_pem_slice(pem)
        .map_err(|err| AuthError::bad_key(what, format!("expected a PKCS#8 PEM `PRIVATE KEY`: {err}")))?;
    let der = pkcs8.secret_pkcs8_der().to_vec();
    ed25519_key_pair(&der).map_err(|_| AuthError::bad_key(what, "expected an Ed25519 private key"))?;
    Ok(der)
}

/// Accepts PKCS#8 v1 (as `openssl genpkey -algorithm ed25519` writes) and v2.
fn ed25519_key_pair(pkcs8: &[u8]) -> Result<Ed25519KeyPair, ring::error::KeyRejected> {
    Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8)
}

pub(crate) fn read(path: &Path) -> Result<Vec<u8>, AuthError> {
    fs::read(path).map_err(|err| AuthError::io(path, err))
}

/// Writes a new file; private files are created owner-only (0600) before any byte is in.
pub(crate) fn write_new(path: &Path, contents: &[u8], private: bool) -> Result<(), AuthError> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    let mut file = options.open(path).map_err(|err| AuthError::io(path, err))?;
    file.write_all(contents)
        .and_then(|()| file.sync_all())
        .map_err(|err| AuthError::io(path, err))
}

/// The two files of a token signing key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningKeyFiles {
    pub kid: String,
    /// `<dir>/<kid>.key.pem`, PKCS#8, mode 0600: give it to the issuer only.
    pub private_key: PathBuf,
    /// `<dir>/<kid>.pub.pem`: give it (or the directory) to every service's verifier.
    pub public_key: PathBuf,
}

impl SigningKeyFiles {
    pub fn in_dir(dir: &Path, kid: &str) -> Self {
        SigningKeyFiles {
            kid: kid.to_string(),
            private_key: dir.join(format!("{kid}{PRIVATE_KEY_SUFFIX}")),
            public_key: dir.join(format!("{kid}{PUBLIC_KEY_SUFFIX}")),
        }
    }
}

/// Creates a new Ed25519 token signing key `kid` in `dir`: `<kid>.key.pem` (0600) and
/// `<kid>.pub.pem`. Refuses to overwrite an existing key.
pub fn generate_signing_key(dir: &Path, kid: &str) -> Result<SigningKeyFiles, AuthError> {
    check_kid(kid)?;
    fs::create_dir_all(dir).map_err(|err| AuthError::io(dir, err))?;
    let files = SigningKeyFiles::in_dir(dir, kid);
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519)?;
    // The public half first: a crash in between leaves a verifiable but unusable key,
    // never a private key whose public half is missing.
    write_new(&files.public_key, key.public_key_pem().as_bytes(), false)?;
    write_new(&files.private_key, key.serialize_pem().as_bytes(), true)?;
    Ok(files)
}

/// The signing key `kid` in `dir`, created on first use (as `idctl up` wants).
pub fn ensure_signing_key(dir: &Path, kid: &str) -> Result<SigningKeyFiles, AuthError> {
    check_kid(kid)?;
    let files = SigningKeyFiles::in_dir(dir, kid);
    if files.private_key.exists() && files.public_key.exists() {
        return Ok(files);
    }
    generate_signing_key(dir, kid)
}

/// Makes `jsonwebtoken` sign and verify with ring. Only EdDSA is implemented, so no
/// other algorithm can verify even if a validation were misconfigured.
pub(crate) fn install_jwt_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Already installed (by another crate) is fine: every provider implements EdDSA.
        let _ = RING_EDDSA.install_default();
    });
}

static RING_EDDSA: CryptoProvider = CryptoProvider {
    signer_factory: new_signer,
    verifier_factory: new_verifier,
    jwk_utils: JwkUtils::new_unimplemented(),
};

fn new_signer(algorithm: &Algorithm, key: &EncodingKey) -> Result<Box<dyn JwtSigner>, JwtError> {
    if *algorithm != Algorithm::EdDSA {
        return Err(ErrorKind::InvalidAlgorithm.into());
    }
    let pair = ed25519_key_pair(key.inner()).map_err(|_| JwtError::from(ErrorKind::InvalidEddsaKey))?;
    Ok(Box::new(RingSigner(pair)))
}

fn new_verifier(algorithm: &Algorithm, key: &DecodingKey) -> Result<Box<dyn JwtVerifier>, JwtError> {
    if *algorithm != Algorithm::EdDSA {
        return Err(ErrorKind::InvalidAlgorithm.into());
    }
    Ok(Box::new(RingVerifier(key.as_bytes().to_vec())))
}

struct RingSigner(Ed25519KeyPair);

impl signature::Signer<Vec<u8>> for RingSigner {
    fn try_sign(&self, message: &[u8]) -> Result<Vec<u8>, signature::Error> {
        Ok(self.0.sign(message).as_ref().to_vec())
    }
}

impl JwtSigner for RingSigner {
    fn algorithm(&self) -> Algorithm {
        Algorithm::EdDSA
    }
}

/// The raw 32-byte public key.
struct RingVerifier(Vec<u8>);

impl signature::Verifier<Vec<u8>> for RingVerifier {
    fn verify(&self, message: &[u8], signature: &Vec<u8>) -> Result<(), signature::Error> {
        UnparsedPublicKey::new(&ED25519, &self.0)
            .verify(message, signature)
            .map_err(|_| signature::Error::new())
    }
}

impl JwtVerifier for RingVerifier {
    fn algorithm(&self) -> Algorithm {
        Algorithm::EdDSA
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use ring::signature::KeyPair;

    use super::*;

    #[test]
    fn generated_key_files_load_and_the_private_one_is_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let files = generate_signing_key(dir.path(), "k1").unwrap();
        let public = ed25519_public_key_from_pem("pub", &read(&files.public_key).unwrap()).unwrap();
        let private = ed25519_private_key_from_pem("key", &read(&files.private_key).unwrap()).unwrap();
        assert_eq!(public_of(&private), public.to_vec());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&files.private_key).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    fn public_of(pkcs8: &[u8]) -> Vec<u8> {
        ed25519_key_pair(pkcs8).unwrap().public_key().as_ref().to_vec()
    }

    #[test]
    fn generating_over_an_existing_key_is_refused_but_ensure_reuses_it() {
        let dir = tempfile::tempdir().unwrap();
        let first = generate_signing_key(dir.path(), "k1").unwrap();
        let before = read(&first.private_key).unwrap();
        assert!(matches!(
            generate_signing_key(dir.path(), "k1"),
            Err(AuthError::Io { .. })
        ));
        let again = ensure_signing_key(dir.path(), "k1").unwrap();
        assert_eq!(read(&again.private_key).unwrap(), before);
    }

    #[test]
    fn key_ids_that_would_escape_the_directory_are_refused() {
        for kid in ["", "../k", "a/b", ".hidden", "k 1"] {
            assert!(check_kid(kid).is_err(), "{kid:?}");
        }
        for kid in ["k1", "2026-05.main", "dev_key"] {
            assert!(check_kid(kid).is_ok(), "{kid:?}");
        }
    }

    #[test]
    fn a_non_ed25519_public_key_is_refused() {
        let p256 = rcgen::KeyPair::generate().unwrap();
        let err = ed25519_public_key_from_pem("p256", p256.public_key_pem().as_bytes()).unwrap_err();
        assert!(err.to_string().contains("Ed25519"), "{err}");
    }
}
