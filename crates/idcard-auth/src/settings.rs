//! Authentication and TLS settings every service takes, from flags or environment
//! variables. Each service flattens [`AuthSettings`] into its `Config` next to
//! `CommonSettings`.

use std::path::PathBuf;
use std::time::Duration;

use crate::{AuthError, AuthMode, TlsFiles, Verifier};

#[derive(Debug, Clone, clap::Args)]
pub struct AuthSettings {
    /// Bearer token verification keys: `kid=PATH,...` of PEM Ed25519 public keys. List the
    /// old and the new key while rotating.
    #[arg(long, env = "IDCARD_AUTH_PUBLIC_KEYS", default_value = "")]
    pub auth_public_keys: String,

    /// A directory whose `<kid>.pub.pem` files are verification keys too.
    #[arg(long, env = "IDCARD_AUTH_PUBLIC_KEYS_DIR")]
    pub auth_public_keys_dir: Option<PathBuf>,

    /// The `iss` claim tokens must carry; unset accepts any issuer.
    #[arg(long, env = "IDCARD_AUTH_ISSUER")]
    pub auth_issuer: Option<String>,

    /// Clock skew tolerated on token expiry (at most 5m).
    #[arg(long, env = "IDCARD_AUTH_LEEWAY", default_value = "30s", value_parser = humantime::parse_duration)]
    pub auth_leeway: Duration,

    /// CA certificate (PEM) that peer certificates chain to.
    #[arg(long, env = "IDCARD_TLS_CA_CERT")]
    pub tls_ca_cert: Option<PathBuf>,

    /// This service's certificate chain (PEM), for serving and for calling peers.
    #[arg(long, env = "IDCARD_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,

    /// This service's private key (PEM).
    #[arg(long, env = "IDCARD_TLS_KEY")]
    pub tls_key: Option<PathBuf>,

    /// Check no tokens and no peer certificates. For local debugging only; says so loudly.
    #[arg(long, env = "IDCARD_INSECURE", default_value_t = false)]
    pub insecure: bool,
}

impl Default for AuthSettings {
    /// Nothing configured, enforcing: every front-end call is refused until keys are set.
    fn default() -> Self {
        AuthSettings {
            auth_public_keys: String::new(),
            auth_public_keys_dir: None,
            auth_issuer: None,
            auth_leeway: Duration::from_secs(30),
            tls_ca_cert: None,
            tls_cert: None,
            tls_key: None,
            insecure: false,
        }
    }
}

impl AuthSettings {
    pub fn mode(&self) -> AuthMode {
        if self.insecure {
            AuthMode::Insecure
        } else {
            AuthMode::Enforce
        }
    }

    /// The verifier of the configured keys. Enforcing without any key is an error, so a
    /// service does not start refusing everything by mistake.
    pub fn verifier(&self) -> Result<Verifier, AuthError> {
        let mut verifier = Verifier::new(self.auth_leeway);
        verifier.add_setting("IDCARD_AUTH_PUBLIC_KEYS", &self.auth_public_keys)?;
        if let Some(dir) = &self.auth_public_keys_dir {
            verifier.add_dir(dir)?;
        }
        if let Some(issuer) = &self.auth_issuer {
            verifier = verifier.with_issuer(issuer.clone());
        }
        if verifier.is_empty() && !self.insecure {
            return Err(AuthError::BadSetting {
                setting: "IDCARD_AUTH_PUBLIC_KEYS",
                reason: "no token verification key is configured (set it or IDCARD_AUTH_PUBLIC_KEYS_DIR, or run \
                         with --insecure for local debugging)"
                    .to_string(),
            });
        }
        Ok(verifier)
    }

    /// The TLS files when all three are set, `None` when none is; one or two is an error.
    pub fn tls_files(&self) -> Result<Option<TlsFiles>, AuthError> {
        match (&self.tls_ca_cert, &self.tls_cert, &self.tls_key) {
            (Some(ca_cert), Some(cert), Some(key)) => Ok(Some(TlsFiles {
                ca_cert: ca_cert.clone(),
                cert: cert.clone(),
                key: key.clone(),
            })),
            (None, None, None) => Ok(None),
            _ => Err(AuthError::BadSetting {
                setting: "IDCARD_TLS_CA_CERT",
                reason: "set IDCARD_TLS_CA_CERT, IDCARD_TLS_CERT and IDCARD_TLS_KEY together".to_string(),
            }),
        }
    }

    /// Point the TLS settings at `files` (as `idctl up` does with the development PKI).
    pub fn set_tls_files(&mut self, files: &TlsFiles) {
        self.tls_ca_cert = Some(files.ca_cert.clone());
        self.tls_cert = Some(files.cert.clone());
        self.tls_key = Some(files.key.clone());
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::generate_signing_key;

    #[test]
    fn enforcing_without_keys_is_refused_at_start_but_insecure_is_not() {
        assert!(matches!(
            AuthSettings::default().verifier(),
            Err(AuthError::BadSetting { .. })
        ));
        let insecure = AuthSettings {
            insecure: true,
            ..AuthSettings::default()
        };
        assert!(insecure.verifier().unwrap().is_empty());
        assert_eq!(insecure.mode(), AuthMode::Insecure);
    }

    #[test]
    fn keys_come_from_the_list_and_the_directory() {
        let listed = tempfile::tempdir().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let old = generate_signing_key(listed.path(), "old").unwrap();
        generate_signing_key(dir.path(), "new").unwrap();
        let settings = AuthSettings {
            auth_public_keys: format!("old={}", old.public_key.display()),
            auth_public_keys_dir: Some(dir.path().to_path_buf()),
            ..AuthSettings::default()
        };
        assert_eq!(
            settings.verifier().unwrap().key_ids().collect::<Vec<_>>(),
            ["new", "old"]
        );
    }

    #[test]
    fn tls_files_are_all_or_nothing() {
        let mut settings = AuthSettings::default();
        assert_eq!(settings.tls_files().unwrap(), None);
        settings.tls_cert = Some("cert.pem".into());
        assert!(settings.tls_files().is_err());
        let files = TlsFiles {
            ca_cert: "ca.pem".into(),
            cert: "c.pem".into(),
            key: "k.pem".into(),
        };
        settings.set_tls_files(&files);
        assert_eq!(settings.tls_files().unwrap(), Some(files));
    }
}
