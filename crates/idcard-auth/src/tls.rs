//! Mutual TLS with rustls and ring: the server side (optional client certificates, so
//! that token-carrying front ends connect too) and the client side of peer calls.

use std::path::{Path, PathBuf};

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tonic::transport::{Certificate, ClientTlsConfig, Identity, ServerTlsConfig};

use crate::AuthError;
use crate::keys::read;

/// Installs rustls' ring provider as the process default, once; later calls (and a
/// provider someone else installed first) are fine. Call it at the start of `main`.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// PEM files of one service's TLS identity and the CA that signs its peers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The CA certificate(s) peer certificates must chain to.
    pub ca_cert: PathBuf,
    /// This service's certificate chain (leaf first).
    pub cert: PathBuf,
    /// Its private key (PKCS#8, SEC1 or PKCS#1).
    pub key: PathBuf,
}

impl TlsFiles {
    /// Server side: this service's identity; client certificates are verified against the
    /// CA when presented but not required, because front ends authenticate with tokens.
    /// Internal methods require one through the access policy instead.
    pub fn server_config(&self) -> Result<ServerTlsConfig, AuthError> {
        install_crypto_provider();
        Ok(ServerTlsConfig::new()
            .identity(self.identity()?)
            .client_ca_root(ca_certificate(&self.ca_cert)?)
            .client_auth_optional(true))
    }

    /// Client side of a peer call: trust the CA, present this service's certificate.
    pub fn client_config(&self) -> Result<ClientTlsConfig, AuthError> {
        Ok(client_config_with_ca(&self.ca_cert)?.identity(self.identity()?))
    }

    fn identity(&self) -> Result<Identity, AuthError> {
        let cert = read(&self.cert)?;
        let count = CertificateDer::pem_slice_iter(&cert).filter(Result::is_ok).count();
        if count == 0 {
            return Err(AuthError::bad_key(
                self.cert.display().to_string(),
                "expected a PEM CERTIFICATE",
            ));
        }
        let key = read(&self.key)?;
        PrivateKeyDer::from_pem_slice(&key).map_err(|err| {
            AuthError::bad_key(
                self.key.display().to_string(),
                format!("expected a PEM private key: {err}"),
            )
        })?;
        Ok(Identity::from_pem(cert, key))
    }
}

/// Client side for a caller without a certificate of its own (`idctl`, which sends a
/// bearer token over TLS): trust the CA only.
pub fn client_config_with_ca(ca_cert: &Path) -> Result<ClientTlsConfig, AuthError> {
    install_crypto_provider();
    Ok(ClientTlsConfig::new().ca_certificate(ca_certificate(ca_cert)?))
}

fn ca_certificate(path: &Path) -> Result<Certificate, AuthError> {
    let pem = read(path)?;
    let count = CertificateDer::pem_slice_iter(&pem).filter(Result::is_ok).count();
    if count == 0 {
        return Err(AuthError::bad_key(
            path.display().to_string(),
            "expected a PEM CA CERTIFICATE",
        ));
    }
    Ok(Certificate::from_pem(pem))
}
