//! Trace context across services, so that one application's journey is one trace:
//!
//! - [`TraceLayer`] runs every call a service receives in a span that continues the
//!   caller's trace (the W3C `traceparent` in the request metadata);
//! - [`SendTraceContext`] puts the current context into the metadata of every call to a
//!   peer ([`crate::PeerChannel`]), so the peer's span continues the relay's;
//! - [`application_span`] resumes an application's own trace (the context stored with
//!   it when it was received) for the work an operator's call does on it.
//!
//! The outbox keeps the context of the work that wrote a message (`idcard-outbox`'s
//! `trace_context`), and its relay delivers in a span of that trace.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use opentelemetry::propagation::{Extractor, Injector};
use opentelemetry::trace::TraceContextExt;
use tonic::Status;
use tonic::codegen::http;
use tonic::metadata::{MetadataKey, MetadataMap, MetadataValue};
use tonic::service::Interceptor;
use tower::{Layer, Service};
use tracing::field::Empty;
use tracing::{Instrument, Span};
use tracing_opentelemetry::OpenTelemetrySpanExt;

pub use idcard_outbox::trace_context::current as current_traceparent;
use idcard_outbox::trace_context::{self, adopt, record_trace_id};

/// Runs each call in a span named by its path (`/idcard.v1.ReviewService/ApproveApplication`)
/// with `rpc.service`, `rpc.method`, `idcard.service` (which of our services answered)
/// and `trace_id`, a child of the caller's span when the metadata carries a
/// `traceparent`. Health checks are not traced.
#[derive(Debug, Clone, Copy)]
pub struct TraceLayer {
    service: &'static str,
}

impl TraceLayer {
    /// For the service named `service` (acceptance, review, production, status).
    pub fn new(service: &'static str) -> Self {
        TraceLayer { service }
    }
}

impl<S> Layer<S> for TraceLayer {
    type Service = Traced<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Traced {
            inner,
            service: self.service,
        }
    }
}

/// The service [`TraceLayer`] makes.
#[derive(Debug, Clone)]
pub struct Traced<S> {
    inner: S,
    service: &'static str,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, ReqBody, ResBody> Service<http::Request<ReqBody>> for Traced<S>
where
    S: Service<http::Request<ReqBody>, Response = http::Response<ResBody>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<ReqBody>) -> Self::Future {
        let span = request_span(self.service, &request);
        let called = span.in_scope(|| self.inner.call(request));
        Box::pin(
            async move {
                let answer = called.await;
                if let Ok(response) = &answer {
                    record_status(response);
                }
                answer
            }
            .instrument(span),
        )
    }
}

/// The span of one received call, continuing the caller's trace.
fn request_span<B>(service: &'static str, request: &http::Request<B>) -> Span {
    let path = request.uri().path();
    if path.starts_with("/grpc.health.v1.Health/") {
        return Span::none();
    }
    let (rpc_service, method) = path.trim_start_matches('/').split_once('/').unwrap_or((path, ""));
    let span = tracing::info_span!(
        "rpc",
        otel.name = path,
        otel.kind = "server",
        otel.status_code = Empty,
        rpc.grpc.status_code = Empty,
        idcard.service = service,
        trace_id = Empty,
    );
    // Attributes of the exported span only: the path already names them in log lines.
    span.set_attribute("rpc.system", "grpc");
    span.set_attribute("rpc.service", rpc_service.to_string());
    span.set_attribute("rpc.method", method.to_string());
    let parent = trace_context::extract(&HeaderExtractor(request.headers()));
    adopt(&span, parent.as_ref());
    record_trace_id(&span);
    span
}

/// The call's gRPC status. A unary call that fails answers with the status in the
/// headers; one that succeeds sends it in the trailers, after this layer: OK then.
fn record_status<B>(response: &http::Response<B>) {
    let code = response
        .headers()
        .get("grpc-status")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<i32>().ok())
        .unwrap_or(0);
    let span = Span::current();
    span.record("rpc.grpc.status_code", code);
    // The server's fault, as the semantic conventions count it; a refusal or bad input
    // is the caller's.
    let fault = matches!(
        tonic::Code::from_i32(code),
        tonic::Code::Unknown
            | tonic::Code::DeadlineExceeded
            | tonic::Code::Unimplemented
            | tonic::Code::Internal
            | tonic::Code::Unavailable
            | tonic::Code::DataLoss
    );
    if fault {
        span.record("otel.status_code", "ERROR");
    }
}

/// Sends the current span's trace context with every call on a peer channel.
#[derive(Debug, Clone, Copy, Default)]
pub struct SendTraceContext;

impl Interceptor for SendTraceContext {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, Status> {
        // Called when the client sends, inside the caller's task and span.
        trace_context::inject(
            &Span::current().context(),
            &mut MetadataInjector(request.metadata_mut()),
        );
        Ok(request)
    }
}

/// The span in which an operator's call works on one application (a case, a job): a
/// child of the application's own trace, `stored` (its `traceparent`, kept with it when
/// it was received), and linked to the operator's call, which started a trace of its
/// own. What the work enqueues carries the application's trace on, so the whole journey
/// stays one trace. Without a stored context the span stays in the call's trace.
///
/// `operation` names the work in the trace (`ApproveApplication`). Enter it before the
/// state change and its outbox rows: `idempotent::run(..).instrument(span)`.
pub fn application_span(service: &'static str, operation: &'static str, stored: Option<&str>) -> Span {
    let span = tracing::info_span!(
        "application",
        otel.name = %format_args!("{service} {operation}"),
        idcard.service = service,
        operation,
        trace_id = Empty,
    );
    let call = Span::current().context().span().span_context().clone();
    let parent = stored.and_then(trace_context::parse);
    if adopt(&span, parent.as_ref()) {
        span.add_link(call);
    }
    record_trace_id(&span);
    span
}

/// Reads the trace context from request headers (gRPC metadata).
struct HeaderExtractor<'a>(&'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

/// Writes the trace context into outgoing metadata.
struct MetadataInjector<'a>(&'a mut MetadataMap);

impl Injector for MetadataInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(key), Ok(value)) = (MetadataKey::from_bytes(key.as_bytes()), MetadataValue::try_from(value)) {
            self.0.insert(key, value);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::convert::Infallible;

    use opentelemetry::trace::TracerProvider as _;
    use opentelemetry_sdk::trace::SdkTracerProvider;
    use tracing_subscriber::layer::SubscriberExt;

    use super::*;

    const STORED: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    /// Runs `f` under a subscriber of its own with the OpenTelemetry layer (nothing
    /// exported), without touching the process-wide one.
    fn traced<T>(f: impl FnOnce() -> T) -> T {
        let provider = SdkTracerProvider::builder().build();
        let subscriber =
            tracing_subscriber::registry().with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
        tracing::subscriber::with_default(subscriber, f)
    }

    fn trace_id(traceparent: &str) -> &str {
        traceparent.split('-').nth(1).unwrap()
    }

    #[test]
    fn work_on_an_application_continues_its_stored_trace() {
        traced(|| {
            let call = tracing::info_span!("call");
            let _call = call.enter();
            let in_call = current_traceparent().unwrap();
            let span = application_span("review", "ApproveApplication", Some(STORED));
            let _work = span.enter();
            let in_work = current_traceparent().unwrap();
            assert_eq!(trace_id(&in_work), trace_id(STORED));
            assert_ne!(trace_id(&in_call), trace_id(STORED));
        });
    }

    #[test]
    fn without_a_stored_trace_the_work_stays_in_the_call() {
        traced(|| {
            let call = tracing::info_span!("call");
            let _call = call.enter();
            let in_call = current_traceparent().unwrap();
            for stored in [None, Some("garbage")] {
                let span = application_span("review", "ApproveApplication", stored);
                let _work = span.enter();
                assert_eq!(trace_id(&current_traceparent().unwrap()), trace_id(&in_call));
            }
        });
    }

    #[test]
    fn calls_to_peers_carry_the_current_trace() {
        traced(|| {
            let span = tracing::info_span!("delivery");
            let _span = span.enter();
            let request = SendTraceContext.call(tonic::Request::new(())).unwrap();
            let sent = request.metadata().get("traceparent").unwrap().to_str().unwrap();
            assert_eq!(sent, current_traceparent().unwrap());
        });
    }

    /// Answers with the trace context its call ran in.
    #[derive(Clone)]
    struct Echo;

    impl Service<http::Request<()>> for Echo {
        type Response = http::Response<Option<String>>;
        type Error = Infallible;
        type Future = std::future::Ready<Result<Self::Response, Infallible>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, _: http::Request<()>) -> Self::Future {
            std::future::ready(Ok(http::Response::new(current_traceparent())))
        }
    }

    #[test]
    fn a_received_call_continues_the_callers_trace() {
        traced(|| {
            let mut service = TraceLayer::new("review").layer(Echo);
            let request = http::Request::builder()
                .uri("/idcard.v1.ReviewInboxService/ReceiveApplication")
                .header("traceparent", STORED)
                .body(())
                .unwrap();
            let answered = block_on(service.call(request)).unwrap();
            let seen = answered.into_body().unwrap();
            assert_eq!(trace_id(&seen), trace_id(STORED));
            assert_ne!(seen, STORED, "the call runs in a span of its own");
        });
    }

    /// Polls a future that needs no runtime to completion.
    fn block_on<F: Future>(future: F) -> F::Output {
        let mut future = std::pin::pin!(future);
        let waker = std::task::Waker::noop();
        let mut cx = Context::from_waker(waker);
        loop {
            if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
                return output;
            }
        }
    }

    #[test]
    fn a_traceparent_in_metadata_is_read_back() {
        let text = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let cx = trace_context::parse(text).unwrap();
        let mut metadata = MetadataMap::new();
        trace_context::inject(&cx, &mut MetadataInjector(&mut metadata));
        let headers = metadata.into_headers();
        assert_eq!(headers.get("traceparent").unwrap(), text);
        let read = trace_context::extract(&HeaderExtractor(&headers)).unwrap();
        assert_eq!(
            read.span().span_context().trace_id(),
            cx.span().span_context().trace_id()
        );
    }

    #[test]
    fn without_a_traceparent_there_is_no_parent() {
        let headers = http::HeaderMap::new();
        assert!(trace_context::extract(&HeaderExtractor(&headers)).is_none());
    }
}
