//! Trace context as text: the W3C `traceparent` of a piece of work, as an outbox row
//! keeps it (and a service's records, and gRPC metadata carry it), so that work resumed
//! later or elsewhere joins the same trace.
//!
//! Everything here reads and writes `tracing` spans; it finds an OpenTelemetry context in
//! them only when the subscriber has the OpenTelemetry layer (`idcard-server` installs
//! it). Without it there is no trace: [`current`] is `None` and [`adopt`] does nothing.

use std::collections::HashMap;

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::TraceContextExt;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The W3C header (and metadata key) that carries the trace context.
pub const TRACEPARENT: &str = "traceparent";

/// The current span's context as a `traceparent` value, `None` outside any trace.
pub fn current() -> Option<String> {
    of(&Span::current())
}

/// `span`'s context as a `traceparent` value, `None` outside any trace.
pub fn of(span: &Span) -> Option<String> {
    let mut carrier = HashMap::new();
    inject(&span.context(), &mut carrier);
    carrier.remove(TRACEPARENT)
}

/// Writes the trace context of `cx` into `carrier` (nothing for an invalid context).
pub fn inject(cx: &opentelemetry::Context, carrier: &mut dyn Injector) {
    if cx.span().span_context().is_valid() {
        TraceContextPropagator::new().inject_context(cx, carrier);
    }
}

/// The remote parent the trace context in `carrier` names; `None` without a valid one.
pub fn extract(carrier: &dyn Extractor) -> Option<opentelemetry::Context> {
    let cx = TraceContextPropagator::new().extract(carrier);
    cx.span().span_context().is_valid().then_some(cx)
}

/// The remote parent a stored `traceparent` value names; `None` if it does not parse.
pub fn parse(traceparent: &str) -> Option<opentelemetry::Context> {
    let carrier = HashMap::from([(TRACEPARENT.to_string(), traceparent.to_string())]);
    extract(&carrier)
}

/// Makes `span` (not yet entered) a child of the work `parent` names, so that it joins
/// that trace. With no parent (or one that does not parse, or outside any trace) `span`
/// stays where it was started. Returns whether the parent was taken.
pub fn adopt(span: &Span, parent: Option<&opentelemetry::Context>) -> bool {
    match parent {
        Some(cx) => span.set_parent(cx.clone()).is_ok(),
        None => false,
    }
}

/// Records the trace id of `span` in its `trace_id` field (declared `Empty`), so that
/// every log line inside it names the trace. Call it once the parent is set.
pub fn record_trace_id(span: &Span) {
    let cx = span.context();
    let context = cx.span().span_context().clone();
    if context.is_valid() {
        span.record("trace_id", tracing::field::display(context.trace_id()));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_traceparent_parses_into_its_trace() {
        let text = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let cx = parse(text).unwrap();
        let span = cx.span();
        let context = span.span_context();
        assert_eq!(context.trace_id().to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(context.span_id().to_string(), "00f067aa0ba902b7");
        assert!(context.is_sampled());
        let mut carrier = HashMap::new();
        inject(&cx, &mut carrier);
        assert_eq!(carrier.get(TRACEPARENT).map(String::as_str), Some(text));
    }

    #[test]
    fn garbage_is_no_parent() {
        for bad in [
            "",
            "00-0-0-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "not a traceparent",
        ] {
            assert!(parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn outside_any_trace_there_is_no_context() {
        assert_eq!(current(), None);
    }
}
