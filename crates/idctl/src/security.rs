//! The development security material `idctl up` and the tests give the services: keys
//! for personal data at rest always; a development PKI (mutual TLS) and a token signing
//! key unless running insecure. Production material comes from files named by settings.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use idcard_auth::dev_pki::{self, DevPki};
use idcard_auth::{Issuer, Role, SigningKeyFiles, ensure_signing_key};
use idcard_crypto::Keyring;
use idcard_server::settings::CommonSettings;

/// The key id of the development token signing key.
pub const DEV_KID: &str = "dev-1";

#[derive(Debug, Clone)]
pub struct DevSecurity {
    /// Keys for personal data at rest (`purpose key_id base64` lines, 0600).
    pub key_file: PathBuf,
    /// `None` when running insecure (no TLS, no tokens).
    pub tls: Option<DevTls>,
}

#[derive(Debug, Clone)]
pub struct DevTls {
    pub pki: DevPki,
    pub signing: SigningKeyFiles,
}

impl DevSecurity {
    /// The material under `dir`, created on first use: `keys.txt`, `pki/`, `tokens/`.
    pub fn ensure(dir: &Path, insecure: bool) -> anyhow::Result<DevSecurity> {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let key_file = dir.join("keys.txt");
        if !key_file.exists() {
            Keyring::generate(&key_file).with_context(|| format!("creating {}", key_file.display()))?;
        }
        let tls = if insecure {
            None
        } else {
            let pki = dev_pki::ensure(&dir.join("pki")).context("creating the development PKI")?;
            let signing = ensure_signing_key(&dir.join("tokens"), DEV_KID).context("creating the token signing key")?;
            Some(DevTls { pki, signing })
        };
        Ok(DevSecurity { key_file, tls })
    }

    pub fn is_secure(&self) -> bool {
        self.tls.is_some()
    }

    /// `https` with TLS, `http` without.
    pub fn scheme(&self) -> &'static str {
        if self.is_secure() { "https" } else { "http" }
    }

    /// The CA clients trust, with TLS.
    pub fn ca_cert(&self) -> Option<&Path> {
        self.tls.as_ref().map(|tls| tls.pki.ca_cert.as_path())
    }

    /// Points `common` at the keys, and at the service's certificate and the token
    /// verification keys (or marks it insecure).
    pub fn apply(&self, common: &mut CommonSettings, service: &str) -> anyhow::Result<()> {
        common.key_file = Some(self.key_file.clone());
        match &self.tls {
            Some(tls) => {
                let files = tls
                    .pki
                    .service(service)
                    .with_context(|| format!("no certificate for {service}"))?;
                common.auth.set_tls_files(files);
                common.auth.auth_public_keys = format!("{}={}", tls.signing.kid, tls.signing.public_key.display());
                common.auth.insecure = false;
            }
            None => common.auth.insecure = true,
        }
        Ok(())
    }

    /// The development token issuer.
    pub fn issuer(&self) -> anyhow::Result<Issuer> {
        let tls = self
            .tls
            .as_ref()
            .context("running insecure: there is no token signing key")?;
        Issuer::from_key_files(&tls.signing).context("loading the token signing key")
    }

    /// A token for `subject`, or `None` when insecure (no token needed).
    pub fn token(&self, subject: &str, role: Role, scope: &[&str], ttl: Duration) -> anyhow::Result<Option<String>> {
        if !self.is_secure() {
            return Ok(None);
        }
        let scope = scope.iter().map(|s| s.to_string()).collect();
        Ok(Some(
            self.issuer()?
                .issue(subject, role, scope, ttl)
                .context("signing a token")?,
        ))
    }
}
