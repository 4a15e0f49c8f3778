//! One application's journey is one trace: the spans of acceptance, review and
//! production, across the outbox hops and the operators' calls, reach an OTLP collector
//! under one trace id, and none of them shows a citizen's personal data.
//!
//! The subscriber is process-wide, so this module installs it once for the whole test
//! binary, on the first call of [`collector`] or [`captured_log`]: a test that needs
//! spans or log lines calls one of them, and no test installs a subscriber of its own.
//! It exports to a collector that lives on its own runtime, as long as the process, and
//! captures every log line at debug level. Tests that call neither run without a
//! subscriber, as fast as before, though their spans and lines are taken too once it is
//! installed.

use std::collections::BTreeSet;
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use idcard_proto::v1 as pb;
use idcard_server::TelemetryConfig;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{TraceService, TraceServiceServer};
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use opentelemetry_proto::tonic::trace::v1::Span;
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::{Request, Response, Status};
use tracing_subscriber::fmt::writer::BoxMakeWriter;

use crate::support::{CHEN, LI, Person, TestStack, WANG, renewal, replacement};

/// The spans exported to the test collector so far, from every test of the binary.
#[derive(Debug, Clone, Default)]
pub struct Collector {
    spans: Arc<Mutex<Vec<Span>>>,
}

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        let spans = request
            .into_inner()
            .resource_spans
            .into_iter()
            .flat_map(|resource| resource.scope_spans)
            .flat_map(|scope| scope.spans);
        self.spans.lock().unwrap().extend(spans);
        Ok(Response::new(ExportTraceServiceResponse { partial_success: None }))
    }
}

impl Collector {
    /// The spans of trace `trace_id` received so far.
    fn trace(&self, trace_id: &[u8]) -> Vec<Span> {
        let spans = self.spans.lock().unwrap();
        spans.iter().filter(|span| span.trace_id == trace_id).cloned().collect()
    }

    fn all(&self) -> Vec<Span> {
        self.spans.lock().unwrap().clone()
    }
}

/// The test binary's collector, with the process's subscriber exporting to it; started
/// on first use.
pub fn collector() -> &'static Collector {
    &process_telemetry().0
}

/// Everything the services logged in this test binary, at debug level.
pub fn captured_log() -> Arc<Mutex<Vec<u8>>> {
    Arc::clone(&process_telemetry().1)
}

/// The collector and the log, set up once.
fn process_telemetry() -> &'static (Collector, Arc<Mutex<Vec<u8>>>) {
    static TELEMETRY: OnceLock<(Collector, Arc<Mutex<Vec<u8>>>)> = OnceLock::new();
    TELEMETRY.get_or_init(|| {
        let log = Arc::new(Mutex::new(Vec::new()));
        let writer = Capture(Arc::clone(&log));
        let (started, ready) = std::sync::mpsc::channel();
        // Tests each run on a runtime of their own that ends with them; the collector and
        // the exporter's channel must outlive them all.
        std::thread::Builder::new()
            .name("otlp-collector".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(1)
                    .enable_all()
                    .build()
                    .unwrap();
                runtime.block_on(async move {
                    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
                    let addr = listener.local_addr().unwrap();
                    let collector = Collector::default();
                    let mut telemetry = TelemetryConfig::logs("idcard-e2e", false);
                    telemetry.otlp_endpoint = Some(format!("http://{addr}"));
                    telemetry.log_filter =
                        Some("debug,h2=info,hyper=info,tower=info,rustls=info,sqlx=info".to_string());
                    telemetry.log_writer = Some(BoxMakeWriter::new(move || writer.clone()));
                    let installed = idcard_server::init_telemetry(telemetry).unwrap();
                    assert!(
                        installed,
                        "a tracing subscriber was installed before the test collector's"
                    );
                    started.send(collector.clone()).unwrap();
                    tonic::transport::Server::builder()
                        .add_service(TraceServiceServer::new(collector))
                        .serve_with_incoming(TcpListenerStream::new(listener))
                        .await
                        .unwrap();
                });
            })
            .unwrap();
        (ready.recv().unwrap(), log)
    })
}

#[derive(Clone)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn one_application_is_one_trace_across_the_three_services() {
    let collector = collector();
    let mut stack = TestStack::start().await;
    // The front end starts the trace: its traceparent is the parent of everything after.
    let trace_hex = uuid::Uuid::now_v7().simple().to_string();
    let mut submit = Request::new(renewal(&WANG));
    submit.metadata_mut().insert(
        "traceparent",
        format!("00-{trace_hex}-00f067aa0ba902b7-01").parse().unwrap(),
    );
    let submitted = stack
        .acceptance
        .submit_application(submit)
        .await
        .unwrap()
        .into_inner()
        .application
        .unwrap();
    let id = submitted.application_id;

    // The operators' calls carry no trace context: each starts a trace of its own.
    stack.drive_to_ready(&id, false).await;
    stack.collect(&id, true).await.unwrap();

    let trace_id = hex(&trace_hex);
    let expected = [
        "/idcard.v1.AcceptanceService/SubmitApplication",
        "deliver review.receive_application",
        "/idcard.v1.ReviewInboxService/ReceiveApplication",
        "review ApproveApplication",
        "/idcard.v1.AcceptanceInboxService/ReceiveDecision",
        "/idcard.v1.ProductionInboxService/ReceiveProductionOrder",
        "production RecordQualityCheck",
        "production DispatchCard",
        "/idcard.v1.AcceptanceInboxService/ReceiveProductionUpdate",
        "acceptance ConfirmCardArrival",
        "acceptance CollectCard",
        "/idcard.v1.ReviewInboxService/ReceiveCollectionNotice",
    ];
    let started = Instant::now();
    let spans = loop {
        idcard_server::flush_traces().await;
        let spans = collector.trace(&trace_id);
        let names: BTreeSet<&str> = spans.iter().map(|span| span.name.as_str()).collect();
        let missing: Vec<&str> = expected.iter().copied().filter(|name| !names.contains(name)).collect();
        if missing.is_empty() {
            break spans;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the application's trace lacks {missing:?}; it has {names:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };

    let services: BTreeSet<String> = spans
        .iter()
        .filter_map(|span| attribute(span, "idcard.service"))
        .collect();
    for service in ["acceptance", "review", "production"] {
        assert!(
            services.contains(service),
            "no {service} span in the trace: {services:?}"
        );
    }
    let received = spans
        .iter()
        .find(|span| span.name == "/idcard.v1.ReviewInboxService/ReceiveApplication")
        .unwrap();
    assert_eq!(
        attribute(received, "rpc.service").as_deref(),
        Some("idcard.v1.ReviewInboxService")
    );
    assert_eq!(attribute(received, "rpc.method").as_deref(), Some("ReceiveApplication"));
    assert_eq!(attribute(received, "idcard.service").as_deref(), Some("review"));
    // Each operator's step is linked to the call that made it, in a trace of its own.
    for span in spans.iter().filter(|span| attribute(span, "operation").is_some()) {
        assert_eq!(span.links.len(), 1, "{}", span.name);
        assert_ne!(span.links[0].trace_id, trace_id, "{}", span.name);
    }
    stack.stop().await;
}

#[tokio::test]
async fn spans_show_no_citizen_id_name_or_address() {
    let collector = collector();
    let mut stack = TestStack::start().await;
    let submitted = stack.submit(replacement(&LI)).await.unwrap();
    stack.drive_to_ready(&submitted.application_id, false).await;
    stack.collect(&submitted.application_id, false).await.unwrap();
    let app = stack.get(&submitted.application_id).await;
    assert_eq!(app.state(), pb::ApplicationState::Collected);
    stack.stop().await;

    idcard_server::flush_traces().await;
    let spans = collector.all();
    assert!(!spans.is_empty());
    // Every span of the binary so far, whichever test made it.
    let personal: Vec<&str> = [WANG, LI, CHEN]
        .iter()
        .flat_map(|p: &Person| [p.citizen_id, p.name, p.address])
        .collect();
    for span in &spans {
        for text in texts(span) {
            for value in &personal {
                assert!(!text.contains(value), "span {:?} shows {value:?}: {text}", span.name);
            }
        }
    }
    // The masked id is what spans may show (the events' fields are read too).
    let masked = idcard_domain::CitizenId::parse(LI.citizen_id, idcard_server::wire::today_cst())
        .unwrap()
        .masked();
    assert!(
        spans.iter().flat_map(texts).any(|text| text.contains(&masked)),
        "no span shows the masked citizen id {masked}"
    );
}

/// The string value of attribute `key` of `span`.
fn attribute(span: &Span, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| text(kv.value.as_ref()))
}

/// Every text a span shows: its name, and its attributes' and its events' attributes'
/// values.
fn texts(span: &Span) -> Vec<String> {
    let attributes = |kvs: &[KeyValue]| kvs.iter().filter_map(|kv| text(kv.value.as_ref())).collect::<Vec<_>>();
    let mut texts = vec![span.name.clone()];
    texts.extend(attributes(&span.attributes));
    for event in &span.events {
        texts.push(event.name.clone());
        texts.extend(attributes(&event.attributes));
    }
    texts
}

fn text(value: Option<&AnyValue>) -> Option<String> {
    match value?.value.as_ref()? {
        Value::StringValue(text) => Some(text.clone()),
        Value::IntValue(n) => Some(n.to_string()),
        Value::BoolValue(b) => Some(b.to_string()),
        Value::DoubleValue(x) => Some(x.to_string()),
        other => Some(format!("{other:?}")),
    }
}

fn hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}
