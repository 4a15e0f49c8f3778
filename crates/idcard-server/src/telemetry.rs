//! Logs and traces, set up once per process.
//!
//! Logs go to stderr (JSON lines when asked), filtered by `RUST_LOG`. Spans go through
//! OpenTelemetry: every span has a trace context, which travels in gRPC metadata and in
//! outbox rows (see [`crate::trace`]), and the log lines inside a call or a delivery name
//! its `trace_id`. With an OTLP endpoint the spans are also exported, in batches over
//! OTLP/gRPC; without one they are not recorded anywhere.

use std::io::IsTerminal;
use std::sync::{Mutex, PoisonError};

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use tracing::Level;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::writer::BoxMakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::settings::SettingsError;

/// Log filter unless `RUST_LOG` says otherwise.
const DEFAULT_LOG_FILTER: &str = "info,sqlx=warn,h2=warn,tower=warn";

/// The provider of the exported spans, kept for [`flush_traces`] and [`shutdown_tracing`].
static PROVIDER: Mutex<Option<SdkTracerProvider>> = Mutex::new(None);

/// How a process logs and traces.
#[derive(Debug)]
pub struct TelemetryConfig {
    /// `service.name` of the exported spans (their `idcard.service` attribute names the
    /// service that made each span, also when several share a process).
    pub service_name: String,
    /// Log JSON lines instead of text.
    pub log_json: bool,
    /// Log filter in `RUST_LOG` syntax; `RUST_LOG` (or `info`) when `None`.
    pub log_filter: Option<String>,
    /// Where log lines go; stderr when `None` (a test binary captures them).
    pub log_writer: Option<BoxMakeWriter>,
    /// OTLP/gRPC endpoint the spans are exported to (`http://collector:4317`); none, no
    /// export.
    pub otlp_endpoint: Option<String>,
    /// Fraction of new traces exported, 0 to 1. A trace continued from another service
    /// follows the sampling choice made where it started.
    pub sample_ratio: f64,
}

impl TelemetryConfig {
    /// Logs only (trace ids in them, no export).
    pub fn logs(service_name: impl Into<String>, log_json: bool) -> TelemetryConfig {
        TelemetryConfig {
            service_name: service_name.into(),
            log_json,
            log_filter: None,
            log_writer: None,
            otlp_endpoint: None,
            sample_ratio: 1.0,
        }
    }
}

/// Installs the process-wide subscriber: logs on stderr, and the OpenTelemetry layer
/// that gives spans their trace context and exports them when `otlp_endpoint` is set.
/// Returns `Ok(false)` and changes nothing when a subscriber is already installed.
///
/// With an endpoint it must run inside a multi-thread Tokio runtime, which must outlive
/// the export: the exporter's channel lives there. Call [`shutdown_tracing`] before the
/// runtime stops so that the last spans leave.
pub fn init_telemetry(config: TelemetryConfig) -> Result<bool, SettingsError> {
    if !(0.0..=1.0).contains(&config.sample_ratio) {
        return Err(SettingsError::new(
            "IDCARD_TRACE_SAMPLE_RATIO",
            format!("is {}, expected a fraction from 0 to 1", config.sample_ratio),
        ));
    }
    if tracing::dispatcher::has_been_set() {
        return Ok(false);
    }
    let log_filter = match &config.log_filter {
        Some(filter) => EnvFilter::try_new(filter).map_err(|err| SettingsError::new("RUST_LOG", err.to_string()))?,
        None => EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_LOG_FILTER)),
    };
    let logs = match config.log_writer {
        Some(writer) => log_layer(config.log_json, log_filter, writer, false),
        None => log_layer(
            config.log_json,
            log_filter,
            std::io::stderr,
            std::io::stderr().is_terminal(),
        ),
    };

    let exporter = match config.otlp_endpoint.as_deref().map(str::trim) {
        Some(endpoint) if !endpoint.is_empty() => Some(exporter(endpoint)?),
        _ => None,
    };
    let exporting = exporter.is_some();
    // Without an exporter nothing new is sampled: spans still get trace ids (for the logs
    // and for the services downstream) but are not recorded.
    let root = if exporting {
        Sampler::TraceIdRatioBased(config.sample_ratio)
    } else {
        Sampler::AlwaysOff
    };
    let mut provider = SdkTracerProvider::builder()
        .with_resource(
            Resource::builder()
                .with_service_name(config.service_name.clone())
                .build(),
        )
        .with_sampler(Sampler::ParentBased(Box::new(root)));
    if let Some(exporter) = exporter {
        provider = provider.with_batch_exporter(exporter);
    }
    let provider = provider.build();
    let traces = tracing_opentelemetry::layer()
        .with_tracer(provider.tracer("idcard"))
        .with_filter(span_filter());

    let installed = tracing_subscriber::registry()
        .with(logs)
        .with(traces)
        .try_init()
        .is_ok();
    if installed && exporting {
        *PROVIDER.lock().unwrap_or_else(PoisonError::into_inner) = Some(provider);
        tracing::info!(
            endpoint = config.otlp_endpoint.as_deref().unwrap_or_default(),
            sample_ratio = config.sample_ratio,
            "exporting traces over OTLP"
        );
    }
    Ok(installed)
}

/// Logs on stderr (JSON when `json`) with trace ids, no trace export. Does nothing when a
/// subscriber is already installed.
pub fn init_tracing(json: bool) {
    let _ = init_telemetry(TelemetryConfig::logs("idcard", json));
}

/// Exports the spans finished so far. For tests; the batch exporter sends on its own
/// every few seconds.
pub async fn flush_traces() {
    let provider = PROVIDER.lock().unwrap_or_else(PoisonError::into_inner).clone();
    if let Some(provider) = provider {
        // Blocks until the exporter thread has sent the batch.
        match tokio::task::spawn_blocking(move || provider.force_flush()).await {
            Ok(Ok(())) => {}
            Ok(Err(err)) => tracing::warn!(error = %err, "flushing traces failed"),
            Err(err) => tracing::warn!(error = %err, "flushing traces failed"),
        }
    }
}

/// Exports the spans still buffered and stops the exporter; spans ended later are
/// dropped. Call it once at exit, inside the runtime the exporter was started in.
pub async fn shutdown_tracing() {
    let provider = PROVIDER.lock().unwrap_or_else(PoisonError::into_inner).take();
    if let Some(provider) = provider {
        match tokio::task::spawn_blocking(move || provider.shutdown()).await {
            Ok(Ok(())) => {}
            Ok(Err(err)) => eprintln!("traces not all exported at exit: {err}"),
            Err(err) => eprintln!("traces not all exported at exit: {err}"),
        }
    }
}

/// Log lines to `writer`, as JSON lines when `json`. A JSON line lists the spans it was
/// written in with their fields: the call's `trace_id` (and, inside an operator's call,
/// the application's) is in every line written inside a call.
fn log_layer<S, W>(json: bool, filter: EnvFilter, writer: W, ansi: bool) -> Box<dyn Layer<S> + Send + Sync>
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let logs = tracing_subscriber::fmt::layer().with_writer(writer).with_ansi(ansi);
    if json {
        logs.json()
            .with_current_span(true)
            .with_span_list(true)
            .with_filter(filter)
            .boxed()
    } else {
        logs.with_filter(filter).boxed()
    }
}

/// The OTLP/gRPC span exporter, on a channel of the current (multi-thread) runtime.
fn exporter(endpoint: &str) -> Result<opentelemetry_otlp::SpanExporter, SettingsError> {
    const SETTING: &str = "IDCARD_OTLP_ENDPOINT";
    if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
        return Err(SettingsError::new(
            SETTING,
            format!("{endpoint:?} is not an http:// URL of an OTLP/gRPC collector, e.g. http://otel-collector:4317"),
        ));
    }
    match tokio::runtime::Handle::try_current().map(|handle| handle.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => {}
        _ => {
            return Err(SettingsError::new(
                SETTING,
                "the OTLP exporter needs a multi-thread Tokio runtime (start telemetry inside #[tokio::main])",
            ));
        }
    }
    opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(endpoint)
        .build()
        .map_err(|err| SettingsError::new(SETTING, err.to_string()))
}

/// Which spans become OpenTelemetry spans: ours and the libraries' at INFO, less the
/// transport's internals.
fn span_filter() -> Targets {
    Targets::new()
        .with_default(Level::INFO)
        .with_target("h2", Level::WARN)
        .with_target("hyper", Level::WARN)
        .with_target("tower", Level::WARN)
        .with_target("sqlx", Level::WARN)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn a_sample_ratio_outside_0_to_1_is_refused() {
        let mut config = TelemetryConfig::logs("test", false);
        config.sample_ratio = 1.5;
        assert_eq!(init_telemetry(config).unwrap_err().setting, "IDCARD_TRACE_SAMPLE_RATIO");
    }

    #[test]
    fn the_endpoint_must_be_an_http_url() {
        let err = exporter("otel-collector:4317").unwrap_err();
        assert_eq!(err.setting, "IDCARD_OTLP_ENDPOINT");
        assert!(err.reason.contains("http://"), "{err}");
    }

    #[test]
    fn the_exporter_needs_a_multi_thread_runtime() {
        let err = exporter("http://127.0.0.1:4317").unwrap_err();
        assert!(err.reason.contains("multi-thread"), "{err}");
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let err = runtime.block_on(async { exporter("http://127.0.0.1:4317").unwrap_err() });
        assert!(err.reason.contains("multi-thread"), "{err}");
    }

    #[test]
    fn json_lines_inside_a_call_carry_its_trace_id() {
        let written = Arc::new(Mutex::new(Vec::new()));
        let writer = {
            let written = Arc::clone(&written);
            move || Written(Arc::clone(&written))
        };
        let provider = SdkTracerProvider::builder().build();
        let subscriber = tracing_subscriber::registry()
            .with(log_layer(true, EnvFilter::new("info"), writer, false))
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
        let stored = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        tracing::subscriber::with_default(subscriber, || {
            let span = crate::trace::application_span("review", "ApproveApplication", Some(stored));
            let _in = span.enter();
            let inner = tracing::info_span!("handler", application_id = "a");
            let _inner = inner.enter();
            tracing::info!("approved");
        });
        let text = String::from_utf8(written.lock().unwrap().clone()).unwrap();
        let line = text.lines().find(|line| line.contains("approved")).unwrap();
        assert!(
            line.contains(r#""trace_id":"4bf92f3577b34da6a3ce929d0e0e4736""#),
            "{line}"
        );
    }

    /// A log writer into a shared buffer.
    struct Written(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Written {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn the_exporter_starts_inside_a_multi_thread_runtime() {
        assert!(exporter("http://127.0.0.1:4317").is_ok());
    }
}
