//! Start-up checks of the settings: every wrong one is reported at once, each under the
//! environment variable an operator sets, before the service binds a port or opens its
//! database. A service's `Config::validate` adds its own checks to [`CommonSettings::check`].

use std::collections::HashSet;
use std::fmt;
use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use idcard_auth::{MAX_LEEWAY, Verifier};
use idcard_crypto::KeySource;
use tonic::transport::Endpoint;

use super::{CommonSettings, SettingsError};
use crate::parse_pairs;

const MS: Duration = Duration::from_millis(1);
const SECOND: Duration = Duration::from_secs(1);
const MINUTE: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(24 * 3600);

/// Largest database pool: more connections than this only queue in the database.
const MAX_DB_CONNECTIONS: u32 = 1000;
/// Largest relay batch: a batch is delivered concurrently and settled row by row.
const MAX_RELAY_BATCH: u32 = 10_000;
/// Smallest request limit: a request below it cannot carry an application.
const MIN_REQUEST_BYTES: usize = 1024;
const MAX_REQUEST_BYTES: usize = 1024 * 1024 * 1024;

/// Every wrong setting of a service, found before it starts. Displays as `invalid
/// settings:` and one line per problem, `VARIABLE: reason`.
#[derive(Debug, Default)]
pub struct InvalidSettings {
    problems: Vec<SettingsError>,
}

impl InvalidSettings {
    pub fn new() -> InvalidSettings {
        InvalidSettings::default()
    }

    pub fn add(&mut self, setting: &'static str, reason: impl Into<String>) {
        self.problems.push(SettingsError::new(setting, reason));
    }

    pub fn push(&mut self, problem: SettingsError) {
        self.problems.push(problem);
    }

    /// The problems, in the order they were found.
    pub fn problems(&self) -> &[SettingsError] {
        &self.problems
    }

    /// The variables named, in order (a variable with two problems appears twice).
    pub fn settings(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.problems.iter().map(|p| p.setting)
    }

    pub fn is_empty(&self) -> bool {
        self.problems.is_empty()
    }

    /// `Ok` when no problem was found.
    pub fn into_result(self) -> Result<(), InvalidSettings> {
        if self.is_empty() { Ok(()) } else { Err(self) }
    }

    /// Prints this on stderr and gives the exit code for it: 2, as for a usage error (clap
    /// exits with 2 on a value it cannot parse, too). For a service's `main`.
    pub fn exit(&self) -> ExitCode {
        eprintln!("{self}");
        ExitCode::from(2)
    }

    /// `value` must lie within `min..=max`.
    pub fn duration_within(&mut self, setting: &'static str, value: Duration, min: Duration, max: Duration) {
        if value < min {
            let reason = if min == MS {
                "must be more than zero".to_string()
            } else {
                format!("is {}, expected at least {}", human(value), human(min))
            };
            self.add(setting, reason);
        } else if value > max {
            self.add(setting, format!("is {}, expected at most {}", human(value), human(max)));
        }
    }

    /// `value` must lie within `min..=max`.
    pub fn count_within<T>(&mut self, setting: &'static str, value: T, min: T, max: T)
    where
        T: PartialOrd + fmt::Display,
    {
        if value < min {
            self.add(setting, format!("is {value}, expected at least {min}"));
        } else if value > max {
            self.add(setting, format!("is {value}, expected at most {max}"));
        }
    }
}

impl fmt::Display for InvalidSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid settings:")?;
        for problem in &self.problems {
            write!(f, "\n  {problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for InvalidSettings {}

fn human(duration: Duration) -> String {
    humantime::format_duration(duration).to_string()
}

impl CommonSettings {
    /// Every problem of these settings, or `Ok`.
    pub fn validate(&self) -> Result<(), InvalidSettings> {
        let mut problems = InvalidSettings::new();
        self.check(&mut problems);
        problems.into_result()
    }

    /// Adds every problem of these settings to `problems`. Reads the key file and the TLS
    /// files (and checks the key file's mode), so a file that is missing or unreadable is
    /// reported here rather than when it is first used.
    pub fn check(&self, problems: &mut InvalidSettings) {
        self.check_database(problems);
        self.check_relay(problems);
        self.check_addresses(problems);
        self.check_peers(problems);
        self.check_keys(problems);
        self.check_tls(problems);
        self.check_tokens(problems);
        self.check_telemetry(problems);
        problems.duration_within("IDCARD_PEER_TIMEOUT", self.peer_timeout, MS, HOUR);
        problems.count_within(
            "IDCARD_MAX_REQUEST_BYTES",
            self.max_request_bytes,
            MIN_REQUEST_BYTES,
            MAX_REQUEST_BYTES,
        );
        problems.duration_within(
            "IDCARD_SHUTDOWN_GRACE",
            self.shutdown_grace,
            Duration::ZERO,
            10 * MINUTE,
        );
        problems.duration_within("IDCARD_DRAIN_TIMEOUT", self.drain_timeout, MS, HOUR);
        let not_a_name =
            |name: &&String| name.is_empty() || name.contains([',', '=']) || name.contains(char::is_whitespace);
        if let Some(name) = self.instance_name.as_ref().filter(not_a_name) {
            problems.add(
                "IDCARD_INSTANCE_NAME",
                format!("{name:?} is not a name: expected a word without spaces, commas or '='"),
            );
        }
    }

    fn check_database(&self, problems: &mut InvalidSettings) {
        let url = self.database_url.trim();
        if url.is_empty() {
            problems.add(
                "IDCARD_DATABASE_URL",
                "required: sqlite:PATH or postgres://USER@HOST:PORT/DB",
            );
        } else if let Some(path) = url.strip_prefix("sqlite:") {
            if path.trim_start_matches("//").is_empty() {
                problems.add(
                    "IDCARD_DATABASE_URL",
                    "sqlite: needs a file path, e.g. sqlite:/var/lib/idcard/acceptance.db",
                );
            }
        } else if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            // The URL may hold a password: name only its scheme.
            let scheme = url.split(':').next().unwrap_or_default();
            problems.add(
                "IDCARD_DATABASE_URL",
                format!("scheme {scheme:?} is not supported, expected sqlite:PATH or postgres://USER@HOST:PORT/DB"),
            );
        }
        problems.count_within(
            "IDCARD_DB_MAX_CONNECTIONS",
            self.db_max_connections,
            1,
            MAX_DB_CONNECTIONS,
        );
        problems.duration_within(
            "IDCARD_DB_STATEMENT_TIMEOUT",
            self.db_statement_timeout,
            MS,
            10 * MINUTE,
        );
    }

    fn check_relay(&self, problems: &mut InvalidSettings) {
        problems.count_within("IDCARD_RELAY_BATCH_SIZE", self.relay_batch_size, 1, MAX_RELAY_BATCH);
        problems.duration_within("IDCARD_RELAY_POLL_INTERVAL", self.relay_poll_interval, MS, HOUR);
        problems.duration_within("IDCARD_RELAY_CLAIM_TTL", self.relay_claim_ttl, SECOND, DAY);
        problems.count_within("IDCARD_RELAY_MAX_ATTEMPTS", self.relay_max_attempts, 1, i32::MAX);
        problems.duration_within("IDCARD_RELAY_BASE_BACKOFF", self.relay_base_backoff, MS, HOUR);
        problems.duration_within("IDCARD_RELAY_MAX_BACKOFF", self.relay_max_backoff, MS, DAY);
        if self.relay_base_backoff > self.relay_max_backoff {
            problems.add(
                "IDCARD_RELAY_BASE_BACKOFF",
                format!(
                    "is {}, longer than IDCARD_RELAY_MAX_BACKOFF ({}): the first retry delay cannot exceed the longest",
                    human(self.relay_base_backoff),
                    human(self.relay_max_backoff)
                ),
            );
        }
        problems.duration_within("IDCARD_OUTBOX_RETENTION", self.outbox_retention, SECOND, 3650 * DAY);
    }

    fn check_addresses(&self, problems: &mut InvalidSettings) {
        match (self.probe_addr, self.listen_addr) {
            (Some(probe), Some(listen)) if same_port(probe, listen) => problems.add(
                "IDCARD_PROBE_ADDR",
                format!(
                    "{probe} is the gRPC address (IDCARD_LISTEN_ADDR {listen}): the probe port needs a port of its own"
                ),
            ),
            _ => {}
        }
    }

    fn check_peers(&self, problems: &mut InvalidSettings) {
        let pairs = match parse_pairs("IDCARD_PEERS", &self.peers) {
            Ok(pairs) => pairs,
            Err(err) => {
                problems.add("IDCARD_PEERS", err.to_string().trim_start_matches("IDCARD_PEERS: "));
                return;
            }
        };
        let tls = matches!(self.auth.tls_files(), Ok(Some(_)));
        let mut names = HashSet::new();
        for (name, url) in pairs {
            if !names.insert(name.clone()) {
                problems.add("IDCARD_PEERS", format!("peer {name} is named twice"));
            }
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                problems.add(
                    "IDCARD_PEERS",
                    format!("peer {name}: {url:?} is not an http:// or https:// URL"),
                );
            } else if let Err(err) = Endpoint::from_shared(url.clone()) {
                problems.add("IDCARD_PEERS", format!("peer {name}: {url:?} is not a URL: {err}"));
            } else if tls && !url.starts_with("https://") {
                problems.add(
                    "IDCARD_PEERS",
                    format!("peer {name}: {url:?} must be https://, since TLS is configured (IDCARD_TLS_CERT)"),
                );
            }
        }
    }

    fn check_keys(&self, problems: &mut InvalidSettings) {
        match (&self.key_file, &self.keys) {
            (Some(_), Some(_)) => problems.add("IDCARD_KEYS", "set IDCARD_KEY_FILE or IDCARD_KEYS, not both"),
            (Some(path), None) => match readable_file(path) {
                // The error names the file, and for a mode that lets others read it, the fix.
                Ok(()) => {
                    if let Err(err) = KeySource::from_file(path) {
                        problems.add("IDCARD_KEY_FILE", err.to_string());
                    }
                }
                Err(reason) => problems.add("IDCARD_KEY_FILE", reason),
            },
            (None, _) => {
                if let Err(problem) = self.key_source() {
                    problems.push(problem);
                }
            }
        }
        problems.duration_within("IDCARD_KEY_RELOAD_INTERVAL", self.key_reload_interval, 10 * MS, DAY);
    }

    fn check_tls(&self, problems: &mut InvalidSettings) {
        let auth = &self.auth;
        let files = [
            ("IDCARD_TLS_CA_CERT", &auth.tls_ca_cert),
            ("IDCARD_TLS_CERT", &auth.tls_cert),
            ("IDCARD_TLS_KEY", &auth.tls_key),
        ];
        let set: Vec<&'static str> = files.iter().filter(|(_, p)| p.is_some()).map(|(s, _)| *s).collect();
        if set.is_empty() {
            if !auth.insecure {
                problems.add(
                    "IDCARD_TLS_CERT",
                    "required (with IDCARD_TLS_CA_CERT and IDCARD_TLS_KEY): inbound service-to-service calls are \
                     checked by client certificate (or set IDCARD_INSECURE=true for local debugging)",
                );
            }
            return;
        }
        let mut readable = true;
        for (setting, path) in files {
            match path {
                None => {
                    readable = false;
                    problems.add(
                        setting,
                        format!(
                            "required when {} is set: the three TLS files go together",
                            set.join(" and ")
                        ),
                    );
                }
                Some(path) => {
                    if let Err(reason) = readable_file(path) {
                        readable = false;
                        problems.add(setting, reason);
                    }
                }
            }
        }
        if readable {
            match self.tls_files() {
                Ok(Some(files)) => {
                    if let Err(err) = files.server_config() {
                        problems.add("IDCARD_TLS_CERT", err.to_string());
                    }
                }
                Ok(None) => {}
                Err(problem) => problems.push(problem),
            }
        }
    }

    fn check_tokens(&self, problems: &mut InvalidSettings) {
        let auth = &self.auth;
        if auth.auth_leeway > MAX_LEEWAY {
            problems.add(
                "IDCARD_AUTH_LEEWAY",
                format!("is {}, expected at most {}", human(auth.auth_leeway), human(MAX_LEEWAY)),
            );
        }
        let mut keys = 0;
        let mut unreadable = false;
        match Verifier::from_setting("IDCARD_AUTH_PUBLIC_KEYS", &auth.auth_public_keys, auth.auth_leeway) {
            Ok(verifier) => keys += verifier.key_ids().count(),
            Err(err) => {
                unreadable = true;
                problems.add(
                    "IDCARD_AUTH_PUBLIC_KEYS",
                    err.to_string().trim_start_matches("IDCARD_AUTH_PUBLIC_KEYS: "),
                );
            }
        }
        if let Some(dir) = &auth.auth_public_keys_dir {
            if !dir.is_dir() {
                unreadable = true;
                problems.add(
                    "IDCARD_AUTH_PUBLIC_KEYS_DIR",
                    format!("{}: not a directory", dir.display()),
                );
            } else {
                match Verifier::from_dir(dir, auth.auth_leeway) {
                    Ok(verifier) => keys += verifier.key_ids().count(),
                    Err(err) => {
                        unreadable = true;
                        problems.add("IDCARD_AUTH_PUBLIC_KEYS_DIR", err.to_string());
                    }
                }
            }
        }
        if keys == 0 && !unreadable && !auth.insecure {
            match &auth.auth_public_keys_dir {
                Some(dir) => problems.add(
                    "IDCARD_AUTH_PUBLIC_KEYS_DIR",
                    format!(
                        "{} holds no <kid>.pub.pem key and IDCARD_AUTH_PUBLIC_KEYS names none: bearer tokens are \
                         checked against these keys",
                        dir.display()
                    ),
                ),
                None => problems.add(
                    "IDCARD_AUTH_PUBLIC_KEYS",
                    "required (or IDCARD_AUTH_PUBLIC_KEYS_DIR): bearer tokens are checked against these keys (or \
                     set IDCARD_INSECURE=true for local debugging)",
                ),
            }
        }
    }
}

/// Whether two listening addresses would take the same port.
fn same_port(a: SocketAddr, b: SocketAddr) -> bool {
    a.port() == b.port() && a.port() != 0 && (a.ip() == b.ip() || a.ip().is_unspecified() || b.ip().is_unspecified())
}

fn readable_file(path: &Path) -> Result<(), String> {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_file() => std::fs::File::open(path)
            .map(drop)
            .map_err(|err| format!("{}: {err}", path.display())),
        Ok(_) => Err(format!("{}: not a file", path.display())),
        Err(err) => Err(format!("{}: {err}", path.display())),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::os::unix::fs::PermissionsExt;
    use std::path::PathBuf;

    use clap::Parser;

    use super::*;

    /// A directory removed when dropped.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new() -> Scratch {
            let dir = std::env::temp_dir().join(format!("idcard-settings-{}", uuid::Uuid::now_v7().simple()));
            std::fs::create_dir_all(&dir).unwrap();
            Scratch(dir)
        }

        fn key_file(&self) -> PathBuf {
            let path = self.0.join("keys");
            idcard_crypto::Keyring::generate(&path).unwrap();
            path
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// Settings that pass: SQLite, a key file, insecure (no TLS files or token keys).
    fn valid(scratch: &Scratch) -> CommonSettings {
        let mut settings = CommonSettings::with_database("sqlite:/tmp/acceptance.db");
        settings.key_file = Some(scratch.key_file());
        settings.auth.insecure = true;
        settings
    }

    fn named(settings: &CommonSettings) -> Vec<&'static str> {
        match settings.validate() {
            Ok(()) => Vec::new(),
            Err(invalid) => invalid.settings().collect(),
        }
    }

    #[test]
    fn defaults_with_a_key_file_are_valid() {
        let scratch = Scratch::new();
        assert_eq!(named(&valid(&scratch)), Vec::<&str>::new());
    }

    #[test]
    fn every_wrong_setting_is_reported_under_its_variable_not_only_the_first() {
        let scratch = Scratch::new();
        let mut settings = valid(&scratch);
        settings.database_url = "mysql://root@db/idcard".into();
        settings.db_max_connections = 0;
        settings.relay_batch_size = 0;
        settings.relay_poll_interval = Duration::ZERO;
        settings.relay_claim_ttl = Duration::ZERO;
        settings.peer_timeout = Duration::ZERO;
        settings.relay_max_attempts = 0;
        settings.relay_base_backoff = Duration::from_secs(120);
        settings.relay_max_backoff = Duration::from_secs(60);
        settings.listen_addr = Some("0.0.0.0:50051".parse().unwrap());
        settings.probe_addr = Some("127.0.0.1:50051".parse().unwrap());
        settings.peers = "review=https://review:50052,production".into();
        settings.key_file = Some(scratch.0.join("no-such-keys"));
        settings.drain_timeout = Duration::ZERO;
        settings.shutdown_grace = Duration::from_secs(3600);

        let invalid = settings.validate().unwrap_err();

        let named: Vec<&str> = invalid.settings().collect();
        assert_eq!(
            named,
            [
                "IDCARD_DATABASE_URL",
                "IDCARD_DB_MAX_CONNECTIONS",
                "IDCARD_RELAY_BATCH_SIZE",
                "IDCARD_RELAY_POLL_INTERVAL",
                "IDCARD_RELAY_CLAIM_TTL",
                "IDCARD_RELAY_MAX_ATTEMPTS",
                "IDCARD_RELAY_BASE_BACKOFF",
                "IDCARD_PROBE_ADDR",
                "IDCARD_PEERS",
                "IDCARD_KEY_FILE",
                "IDCARD_PEER_TIMEOUT",
                "IDCARD_SHUTDOWN_GRACE",
                "IDCARD_DRAIN_TIMEOUT",
            ],
            "{invalid}"
        );
        let text = invalid.to_string();
        assert!(text.starts_with("invalid settings:\n  IDCARD_DATABASE_URL: "), "{text}");
        assert_eq!(text.lines().count(), 1 + named.len(), "{text}");
        assert!(!text.contains("root@db"), "the URL may hold credentials: {text}");
        assert!(
            text.contains("IDCARD_RELAY_BATCH_SIZE: is 0, expected at least 1"),
            "{text}"
        );
        assert!(text.contains("IDCARD_PEERS: expected name=value pairs"), "{text}");
        assert!(text.contains("no-such-keys"), "{text}");
    }

    #[test]
    fn a_key_file_others_may_read_is_refused_with_the_fix() {
        let scratch = Scratch::new();
        let mut settings = valid(&scratch);
        let path = settings.key_file.clone().unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();

        let invalid = settings.validate().unwrap_err();

        assert_eq!(invalid.settings().collect::<Vec<_>>(), ["IDCARD_KEY_FILE"]);
        assert!(invalid.to_string().contains("chmod 600"), "{invalid}");
        settings.key_file = None;
        settings.keys = None;
        assert_eq!(named(&settings), ["IDCARD_KEY_FILE"], "no keys at all");
    }

    #[test]
    fn tls_files_go_together_and_must_exist() {
        let scratch = Scratch::new();
        let mut settings = valid(&scratch);
        settings.auth.insecure = false;
        settings.auth.tls_cert = Some(scratch.0.join("missing.crt"));
        settings.auth.auth_public_keys_dir = Some(scratch.0.clone());

        let invalid = settings.validate().unwrap_err();

        assert_eq!(
            invalid.settings().collect::<Vec<_>>(),
            [
                "IDCARD_TLS_CA_CERT",
                "IDCARD_TLS_CERT",
                "IDCARD_TLS_KEY",
                "IDCARD_AUTH_PUBLIC_KEYS_DIR"
            ],
            "{invalid}"
        );
        assert!(invalid.to_string().contains("missing.crt"), "{invalid}");
    }

    #[test]
    fn enforcing_without_tls_or_token_keys_is_refused() {
        let scratch = Scratch::new();
        let mut settings = valid(&scratch);
        settings.auth.insecure = false;
        settings.peers = "review=http://review:50052".into();

        assert_eq!(named(&settings), ["IDCARD_TLS_CERT", "IDCARD_AUTH_PUBLIC_KEYS"]);
    }

    #[test]
    fn peers_are_checked_one_by_one() {
        let scratch = Scratch::new();
        let mut settings = valid(&scratch);
        settings.peers = "a=http://a:1,a=http://a:2,b=ftp://b,c=https://c:3".into();

        let invalid = settings.validate().unwrap_err();

        let text = invalid.to_string();
        assert_eq!(invalid.problems().len(), 2, "{text}");
        assert!(text.contains("peer a is named twice"), "{text}");
        assert!(text.contains("peer b: \"ftp://b\""), "{text}");
    }

    #[test]
    fn the_probe_port_may_not_be_the_grpc_port() {
        let at = |s: &str| s.parse::<SocketAddr>().unwrap();
        assert!(same_port(at("0.0.0.0:8080"), at("127.0.0.1:8080")));
        assert!(same_port(at("10.0.0.1:8080"), at("10.0.0.1:8080")));
        assert!(!same_port(at("10.0.0.1:8080"), at("10.0.0.2:8080")));
        assert!(
            !same_port(at("127.0.0.1:0"), at("127.0.0.1:0")),
            "two ports the system picks"
        );
        assert!(!same_port(at("0.0.0.0:8080"), at("0.0.0.0:50051")));
    }

    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        common: CommonSettings,
    }

    #[test]
    fn parsed_defaults_match_with_database() {
        let parsed = Cli::try_parse_from(["svc", "--database-url", "sqlite:x.db"])
            .unwrap()
            .common;
        let built = CommonSettings::with_database("sqlite:x.db");
        assert_eq!(parsed.shutdown_grace, built.shutdown_grace);
        assert_eq!(parsed.drain_timeout, built.drain_timeout);
        assert_eq!(parsed.relay_batch_size, built.relay_batch_size);
        assert_eq!(parsed.relay_poll_interval, built.relay_poll_interval);
        assert_eq!(parsed.peer_timeout, built.peer_timeout);
    }
}
