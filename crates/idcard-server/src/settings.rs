//! Settings every service takes, from flags or environment variables (twelve-factor).
//! Each service flattens [`CommonSettings`] into its own `Config`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use idcard_auth::{AuthSettings, TlsFiles};
use idcard_crypto::{KeySource, Keyring};
use idcard_db::DbOptions;
use idcard_outbox::RelayConfig;

use crate::Peers;

mod validate;

pub use validate::InvalidSettings;

/// `IDCARD_SHUTDOWN_GRACE` unless set.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// `IDCARD_DRAIN_TIMEOUT` unless set.
pub const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(20);

#[derive(Debug, Clone, clap::Args)]
pub struct CommonSettings {
    /// Address the gRPC server listens on.
    #[arg(long, env = "IDCARD_LISTEN_ADDR")]
    pub listen_addr: Option<SocketAddr>,

    /// Database URL: `sqlite:PATH` (embedded) or `postgres://USER@HOST:PORT/DB`.
    #[arg(long, env = "IDCARD_DATABASE_URL")]
    pub database_url: String,

    /// Database pool size.
    #[arg(long, env = "IDCARD_DB_MAX_CONNECTIONS", default_value_t = 16)]
    pub db_max_connections: u32,

    /// Statement timeout (PostgreSQL) or busy timeout (SQLite), e.g. `5s`.
    #[arg(long, env = "IDCARD_DB_STATEMENT_TIMEOUT", default_value = "5s", value_parser = humantime::parse_duration)]
    pub db_statement_timeout: Duration,

    /// This instance's name, as the peers it sends to know it (sent as `origin`).
    #[arg(long, env = "IDCARD_INSTANCE_NAME")]
    pub instance_name: Option<String>,

    /// The services this one sends to: `name=url,...`.
    #[arg(long, env = "IDCARD_PEERS", default_value = "")]
    pub peers: String,

    /// Timeout of one call to a peer.
    #[arg(long, env = "IDCARD_PEER_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub peer_timeout: Duration,

    /// Outbox rows the relay claims per round.
    #[arg(long, env = "IDCARD_RELAY_BATCH_SIZE", default_value_t = 64)]
    pub relay_batch_size: u32,

    /// How often the relay looks for due rows when not woken.
    #[arg(long, env = "IDCARD_RELAY_POLL_INTERVAL", default_value = "500ms", value_parser = humantime::parse_duration)]
    pub relay_poll_interval: Duration,

    /// How long a relay's claim on a row holds before another replica may take it.
    #[arg(long, env = "IDCARD_RELAY_CLAIM_TTL", default_value = "30s", value_parser = humantime::parse_duration)]
    pub relay_claim_ttl: Duration,

    /// Delivery attempts before a message is dead-lettered.
    #[arg(long, env = "IDCARD_RELAY_MAX_ATTEMPTS", default_value_t = 12)]
    pub relay_max_attempts: i32,

    /// First retry delay; it doubles per attempt, with jitter.
    #[arg(long, env = "IDCARD_RELAY_BASE_BACKOFF", default_value = "200ms", value_parser = humantime::parse_duration)]
    pub relay_base_backoff: Duration,

    /// Longest retry delay.
    #[arg(long, env = "IDCARD_RELAY_MAX_BACKOFF", default_value = "60s", value_parser = humantime::parse_duration)]
    pub relay_max_backoff: Duration,

    /// How long delivered outbox rows are kept before they are deleted.
    #[arg(long, env = "IDCARD_OUTBOX_RETENTION", default_value = "7d", value_parser = humantime::parse_duration)]
    pub outbox_retention: Duration,

    /// Log as JSON lines.
    #[arg(long, env = "IDCARD_LOG_JSON", default_value_t = false)]
    pub log_json: bool,

    /// OTLP/gRPC collector the traces are exported to, e.g. `http://otel-collector:4317`
    /// (`OTEL_EXPORTER_OTLP_ENDPOINT` when unset). No export without one; log lines carry
    /// trace ids either way.
    #[arg(long, env = "IDCARD_OTLP_ENDPOINT")]
    pub otlp_endpoint: Option<String>,

    /// Fraction of new traces exported, 0 to 1 (a trace that started in another service
    /// follows the choice made there).
    #[arg(long, env = "IDCARD_TRACE_SAMPLE_RATIO", default_value_t = 1.0)]
    pub trace_sample_ratio: f64,

    /// Plaintext address serving only gRPC health, for Kubernetes probes (which do not
    /// speak TLS).
    #[arg(long, env = "IDCARD_PROBE_ADDR")]
    pub probe_addr: Option<SocketAddr>,

    /// Largest request accepted, in bytes; a larger one is answered RESOURCE_EXHAUSTED.
    #[arg(long, env = "IDCARD_MAX_REQUEST_BYTES", default_value_t = 4 * 1024 * 1024)]
    pub max_request_bytes: usize,

    /// Key file for personal data at rest (`purpose key_id base64` lines, mode 0600);
    /// re-read every `IDCARD_KEY_RELOAD_INTERVAL`, so a rotated key takes effect.
    #[arg(long, env = "IDCARD_KEY_FILE")]
    pub key_file: Option<PathBuf>,

    /// The same keys as text, when no key file is used.
    #[arg(long, env = "IDCARD_KEYS", hide_env_values = true)]
    pub keys: Option<String>,

    /// How often the key file is re-read.
    #[arg(long, env = "IDCARD_KEY_RELOAD_INTERVAL", default_value = "10s", value_parser = humantime::parse_duration)]
    pub key_reload_interval: Duration,

    /// After SIGTERM: how long the service goes on serving while health says NOT_SERVING,
    /// so that Kubernetes takes the pod out of the endpoints before it stops accepting.
    #[arg(long, env = "IDCARD_SHUTDOWN_GRACE", default_value = "5s", value_parser = humantime::parse_duration)]
    pub shutdown_grace: Duration,

    /// After the grace period: how long calls in flight may take to finish once the
    /// service stops accepting; calls still running then are cut off (and logged).
    #[arg(long, env = "IDCARD_DRAIN_TIMEOUT", default_value = "20s", value_parser = humantime::parse_duration)]
    pub drain_timeout: Duration,

    #[command(flatten)]
    pub auth: AuthSettings,
}

impl CommonSettings {
    /// Settings for a service on `database_url` with every other value at its default.
    pub fn with_database(database_url: impl Into<String>) -> Self {
        CommonSettings {
            listen_addr: None,
            database_url: database_url.into(),
            db_max_connections: 16,
            db_statement_timeout: Duration::from_secs(5),
            instance_name: None,
            peers: String::new(),
            peer_timeout: Duration::from_secs(10),
            relay_batch_size: 64,
            relay_poll_interval: Duration::from_millis(500),
            relay_claim_ttl: Duration::from_secs(30),
            relay_max_attempts: 12,
            relay_base_backoff: Duration::from_millis(200),
            relay_max_backoff: Duration::from_secs(60),
            outbox_retention: Duration::from_secs(7 * 24 * 3600),
            log_json: false,
            otlp_endpoint: None,
            trace_sample_ratio: 1.0,
            probe_addr: None,
            max_request_bytes: 4 * 1024 * 1024,
            key_file: None,
            keys: None,
            key_reload_interval: Duration::from_secs(10),
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
            drain_timeout: DEFAULT_DRAIN_TIMEOUT,
            auth: AuthSettings::default(),
        }
    }

    /// The keys for personal data at rest; one of the two key settings is required.
    pub fn key_source(&self) -> Result<KeySource, SettingsError> {
        match (&self.key_file, &self.keys) {
            (Some(path), _) => KeySource::from_file(path)
                .map_err(|err| SettingsError::new("IDCARD_KEY_FILE", format!("{}: {err}", path.display()))),
            (None, Some(text)) => Keyring::from_text(text)
                .map(KeySource::fixed)
                .map_err(|err| SettingsError::new("IDCARD_KEYS", err.to_string())),
            (None, None) => Err(SettingsError::new(
                "IDCARD_KEY_FILE",
                "required (or IDCARD_KEYS): personal data is encrypted at rest",
            )),
        }
    }

    /// This service's TLS files, if configured.
    pub fn tls_files(&self) -> Result<Option<TlsFiles>, SettingsError> {
        self.auth
            .tls_files()
            .map_err(|err| SettingsError::new("IDCARD_TLS_CERT", err.to_string()))
    }

    pub fn db_options(&self) -> DbOptions {
        DbOptions {
            max_connections: self.db_max_connections,
            statement_timeout: self.db_statement_timeout,
        }
    }

    /// The relay settings of `service` (the `service` label of its metrics).
    pub fn relay_config(&self, service: &'static str) -> RelayConfig {
        // A malformed peer list is reported by `peers()`; here it only means no gauges yet.
        let destinations = crate::parse_pairs("IDCARD_PEERS", &self.peers)
            .map(|pairs| pairs.into_iter().map(|(name, _)| name).collect())
            .unwrap_or_default();
        RelayConfig {
            service,
            destinations,
            batch_size: self.relay_batch_size.max(1),
            poll_interval: self.relay_poll_interval,
            claim_ttl: self.relay_claim_ttl,
            max_attempts: self.relay_max_attempts.max(1),
            base_backoff: self.relay_base_backoff,
            max_backoff: self.relay_max_backoff.max(self.relay_base_backoff),
            delivery_timeout: self.peer_timeout,
            retention: self.outbox_retention,
        }
    }

    /// The peers, over mutual TLS when TLS is configured.
    pub fn peers(&self) -> Result<Peers, SettingsError> {
        let tls = match self.tls_files()? {
            Some(files) => Some(
                files
                    .client_config()
                    .map_err(|err| SettingsError::new("IDCARD_TLS_CERT", err.to_string()))?,
            ),
            None => None,
        };
        Peers::parse("IDCARD_PEERS", &self.peers, self.peer_timeout, tls)
            .map_err(|err| SettingsError::new("IDCARD_PEERS", err.to_string()))
    }

    /// How this process logs and traces, as `service_name` (the `service.name` of its
    /// spans).
    pub fn telemetry(&self, service_name: &str) -> crate::TelemetryConfig {
        let endpoint = self
            .otlp_endpoint
            .clone()
            .or_else(|| std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT").ok())
            .filter(|endpoint| !endpoint.trim().is_empty());
        crate::TelemetryConfig {
            service_name: service_name.to_string(),
            log_json: self.log_json,
            log_filter: None,
            log_writer: None,
            otlp_endpoint: endpoint,
            sample_ratio: self.trace_sample_ratio,
        }
    }

    /// The trace export settings' problems: an endpoint that is not an http(s) URL, a
    /// sample ratio outside 0 to 1.
    fn check_telemetry(&self, problems: &mut InvalidSettings) {
        let endpoint = self.otlp_endpoint.as_deref().map(str::trim).unwrap_or_default();
        let url = endpoint.starts_with("http://") || endpoint.starts_with("https://");
        if !(endpoint.is_empty() || url) {
            problems.add(
                "IDCARD_OTLP_ENDPOINT",
                format!(
                    "{endpoint:?} is not the http:// URL of an OTLP/gRPC collector, e.g. http://otel-collector:4317"
                ),
            );
        }
        if !(0.0..=1.0).contains(&self.trace_sample_ratio) {
            problems.add(
                "IDCARD_TRACE_SAMPLE_RATIO",
                format!("is {}, expected a fraction from 0 to 1", self.trace_sample_ratio),
            );
        }
    }

    pub fn listen_addr_or(&self, port: u16) -> SocketAddr {
        self.listen_addr
            .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], port)))
    }
}

/// A setting that is missing or wrong, named so the operator can fix it.
#[derive(Debug, thiserror::Error)]
#[error("{setting}: {reason}")]
pub struct SettingsError {
    pub setting: &'static str,
    pub reason: String,
}

impl SettingsError {
    pub fn new(setting: &'static str, reason: impl Into<String>) -> Self {
        SettingsError {
            setting,
            reason: reason.into(),
        }
    }
}

#[cfg(test)]
mod telemetry_tests {
    use super::*;

    #[test]
    fn a_wrong_trace_endpoint_or_sample_ratio_is_named() {
        let mut settings = CommonSettings::with_database("sqlite:/tmp/idcard-test.db");
        settings.otlp_endpoint = Some("otel-collector:4317".to_string());
        settings.trace_sample_ratio = 2.0;
        let mut problems = InvalidSettings::new();
        settings.check_telemetry(&mut problems);
        let named: Vec<&str> = problems.settings().collect();
        assert_eq!(named, ["IDCARD_OTLP_ENDPOINT", "IDCARD_TRACE_SAMPLE_RATIO"]);
    }

    #[test]
    fn trace_export_is_off_unless_an_endpoint_is_set() {
        let mut settings = CommonSettings::with_database("sqlite:/tmp/idcard-test.db");
        let mut problems = InvalidSettings::new();
        settings.check_telemetry(&mut problems);
        assert!(problems.is_empty());
        settings.otlp_endpoint = Some("http://otel-collector:4317".to_string());
        let telemetry = settings.telemetry("review");
        assert_eq!(telemetry.otlp_endpoint.as_deref(), Some("http://otel-collector:4317"));
        assert_eq!(telemetry.service_name, "review");
    }
}
