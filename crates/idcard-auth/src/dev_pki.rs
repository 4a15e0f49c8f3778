//! A development PKI for `idctl up` and tests: a CA and one certificate per service,
//! created on first use under a directory and reused afterwards. Production
//! certificates come from files named by settings, never from here.
//!
//! Layout: `ca.pem`, and for each service `<service>.pem` and `<service>.key.pem` (0600).
//! Every service certificate is valid for `localhost`, `127.0.0.1` and `::1`, carries
//! `spiffe://idcard/<service>` as a URI SAN, and serves as both server and client
//! certificate. The CA's private key is not kept: nothing can sign more certificates,
//! and a new set means deleting the directory.

use std::collections::BTreeMap;
use std::fs;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use time::{Duration, OffsetDateTime};

use crate::policy::{ACCEPTANCE, PRODUCTION, REVIEW, STATUS};
use crate::{AuthError, TlsFiles, keys::write_new, service_uri};

/// The services a development PKI has certificates for.
pub const SERVICES: [&str; 4] = [ACCEPTANCE, REVIEW, PRODUCTION, STATUS];

const CA_FILE: &str = "ca.pem";
const VALIDITY_DAYS: i64 = 3650;

/// The files of a development PKI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevPki {
    pub dir: PathBuf,
    pub ca_cert: PathBuf,
    services: BTreeMap<String, TlsFiles>,
}

impl DevPki {
    fn at(dir: &Path) -> DevPki {
        let ca_cert = dir.join(CA_FILE);
        let services = SERVICES
            .iter()
            .map(|service| {
                let files = TlsFiles {
                    ca_cert: ca_cert.clone(),
                    cert: dir.join(format!("{service}.pem")),
                    key: dir.join(format!("{service}.key.pem")),
                };
                (service.to_string(), files)
            })
            .collect();
        DevPki {
            dir: dir.to_path_buf(),
            ca_cert,
            services,
        }
    }

    /// The TLS files of `service` (one of [`SERVICES`]).
    pub fn service(&self, service: &str) -> Option<&TlsFiles> {
        self.services.get(service)
    }

    pub fn services(&self) -> impl Iterator<Item = (&str, &TlsFiles)> {
        self.services.iter().map(|(name, files)| (name.as_str(), files))
    }

    fn files(&self) -> impl Iterator<Item = &Path> {
        std::iter::once(self.ca_cert.as_path()).chain(
            self.services
                .values()
                .flat_map(|files| [files.cert.as_path(), files.key.as_path()]),
        )
    }
}

/// The development PKI in `dir`, created if `dir` does not exist or is empty.
///
/// Creation is all or nothing: the files are written to a sibling staging directory that
/// is renamed into place, so concurrent first starts agree on one CA. A directory with
/// only some of the files is an error (delete it to start over), never silently replaced.
pub fn ensure(dir: &Path) -> Result<DevPki, AuthError> {
    let pki = DevPki::at(dir);
    if let Some(existing) = check_existing(&pki)? {
        return Ok(existing);
    }
    let parent = dir
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(parent).map_err(|err| AuthError::io(parent, err))?;
    let staging = parent.join(format!(
        ".{}.staging-{}-{}",
        dir.file_name().and_then(|n| n.to_str()).unwrap_or("pki"),
        std::process::id(),
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    ));
    create_private_dir(&staging)?;
    let written = write_pki(&DevPki::at(&staging));
    let placed = written.and_then(|()| {
        // Renaming onto an empty directory replaces it; onto a full one fails, and then
        // another process has won the race.
        match fs::rename(&staging, dir) {
            Ok(()) => Ok(true),
            Err(_) if dir.is_dir() => Ok(false),
            Err(err) => Err(AuthError::io(dir, err)),
        }
    });
    if !matches!(placed, Ok(true)) {
        let _ = fs::remove_dir_all(&staging);
    }
    placed?;
    check_existing(&pki)?.ok_or_else(|| AuthError::DevPki {
        dir: dir.to_path_buf(),
        reason: "vanished after creation".into(),
    })
}

/// `Some` when complete, `None` when absent or empty, an error when partial.
fn check_existing(pki: &DevPki) -> Result<Option<DevPki>, AuthError> {
    let empty = match fs::read_dir(&pki.dir) {
        Ok(mut entries) => entries.next().is_none(),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(AuthError::io(&pki.dir, err)),
    };
    if empty {
        return Ok(None);
    }
    let missing: Vec<String> = pki
        .files()
        .filter(|f| !f.is_file())
        .map(|f| f.display().to_string())
        .collect();
    if missing.is_empty() {
        Ok(Some(pki.clone()))
    } else {
        Err(AuthError::DevPki {
            dir: pki.dir.clone(),
            reason: format!(
                "incomplete (missing {}); delete the directory to create a new one",
                missing.join(", ")
            ),
        })
    }
}

fn create_private_dir(path: &Path) -> Result<(), AuthError> {
    let mut builder = fs::DirBuilder::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(path).map_err(|err| AuthError::io(path, err))
}

fn write_pki(pki: &DevPki) -> Result<(), AuthError> {
    let now = OffsetDateTime::now_utc();
    let ca_key = KeyPair::generate()?;
    let mut ca_params = CertificateParams::default();
    ca_params.distinguished_name = name("idcard development CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca_params.not_before = now - Duration::days(1);
    ca_params.not_after = now + Duration::days(VALIDITY_DAYS);
    let ca_cert = ca_params.self_signed(&ca_key)?;
    let ca = Issuer::new(ca_params, ca_key);

    for (service, files) in pki.services() {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::default();
        params.distinguished_name = name(service);
        params.subject_alt_names = vec![
            SanType::DnsName("localhost".try_into()?),
            SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            SanType::IpAddress(IpAddr::V6(Ipv6Addr::LOCALHOST)),
            SanType::URI(service_uri(service).try_into()?),
        ];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth];
        params.use_authority_key_identifier_extension = true;
        params.not_before = now - Duration::days(1);
        params.not_after = now + Duration::days(VALIDITY_DAYS);
        let cert = params.signed_by(&key, &ca)?;
        write_new(&files.cert, cert.pem().as_bytes(), false)?;
        write_new(&files.key, key.serialize_pem().as_bytes(), true)?;
    }
    // Last, so that a crash mid-way leaves a staging directory nobody uses.
    write_new(&pki.ca_cert, ca_cert.pem().as_bytes(), false)
}

fn name(common_name: &str) -> DistinguishedName {
    let mut name = DistinguishedName::new();
    name.push(DnType::OrganizationName, "idcard development");
    name.push(DnType::CommonName, common_name);
    name
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;

    use super::*;
    use crate::service_of_certificate;

    #[test]
    fn first_use_creates_and_later_use_reuses() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("pki");
        let first = ensure(&dir).unwrap();
        let ca_before = fs::read(&first.ca_cert).unwrap();
        let second = ensure(&dir).unwrap();
        assert_eq!(first, second);
        assert_eq!(fs::read(&second.ca_cert).unwrap(), ca_before);
        let leftovers: Vec<_> = fs::read_dir(root.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers, ["pki"], "no staging directory is left behind");
    }

    #[test]
    fn each_certificate_names_its_service_and_keys_are_owner_only() {
        let root = tempfile::tempdir().unwrap();
        let pki = ensure(&root.path().join("pki")).unwrap();
        for service in SERVICES {
            let files = pki.service(service).unwrap();
            let cert = CertificateDer::from_pem_file(&files.cert).unwrap();
            assert_eq!(service_of_certificate(&cert).as_deref(), Some(service));
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                assert_eq!(
                    fs::metadata(&files.key).unwrap().permissions().mode() & 0o777,
                    0o600,
                    "{service}"
                );
            }
        }
        let ca = CertificateDer::from_pem_file(&pki.ca_cert).unwrap();
        assert_eq!(service_of_certificate(&ca), None);
    }

    #[test]
    fn an_empty_directory_is_filled() {
        let root = tempfile::tempdir().unwrap();
        let pki = ensure(root.path()).unwrap();
        assert!(pki.service(REVIEW).unwrap().cert.is_file());
    }

    #[test]
    fn a_partial_directory_is_an_error_not_a_silent_replacement() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("pki");
        let pki = ensure(&dir).unwrap();
        fs::remove_file(&pki.service(PRODUCTION).unwrap().key).unwrap();
        let err = ensure(&dir).unwrap_err();
        assert!(err.to_string().contains("incomplete"), "{err}");
    }
}
