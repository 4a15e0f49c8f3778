//! Counts every call and times it: `idcard_rpc_requests_total` and
//! `idcard_rpc_duration_seconds` by service, method and gRPC code.
//!
//! The method label is the path without the package (`AcceptanceService/SubmitApplication`)
//! for a method in the served descriptor sets, and `unknown` for any other path, so a
//! caller inventing paths cannot create series.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll};
use std::time::Instant;

use prost::Message as _;
use tonic::codegen::http;
use tonic::{Code, Status};

/// The method label of a path outside the descriptor sets.
const UNKNOWN_METHOD: &str = "unknown";

#[derive(Debug, Clone, Copy)]
pub(crate) struct RpcMetricsLayer {
    service: &'static str,
}

impl RpcMetricsLayer {
    pub(crate) fn new(service: &'static str) -> RpcMetricsLayer {
        RpcMetricsLayer { service }
    }
}

impl<S> tower::Layer<S> for RpcMetricsLayer {
    type Service = RpcMetrics<S>;

    fn layer(&self, inner: S) -> RpcMetrics<S> {
        RpcMetrics {
            inner,
            service: self.service,
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct RpcMetrics<S> {
    inner: S,
    service: &'static str,
}

impl<S, ReqBody, ResBody> tower::Service<http::Request<ReqBody>> for RpcMetrics<S>
where
    S: tower::Service<http::Request<ReqBody>, Response = http::Response<ResBody>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<ReqBody>) -> Self::Future {
        let mut call = Call {
            service: self.service,
            method: method_label(request.uri().path()),
            started: Instant::now(),
            done: false,
        };
        let answer = self.inner.call(request);
        Box::pin(async move {
            let outcome = answer.await;
            call.finish(match &outcome {
                Ok(response) => response_code(response),
                Err(_) => Code::Unknown,
            });
            outcome
        })
    }
}

/// One call being measured; recorded as CANCELLED if the caller goes away first.
struct Call {
    service: &'static str,
    method: &'static str,
    started: Instant,
    done: bool,
}

impl Call {
    fn finish(&mut self, code: Code) {
        self.done = true;
        let labels = [
            ("service", self.service),
            ("method", self.method),
            ("code", code_name(code)),
        ];
        metrics::counter!("idcard_rpc_requests_total", &labels).increment(1);
        metrics::histogram!("idcard_rpc_duration_seconds", &labels).record(self.started.elapsed().as_secs_f64());
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        if !self.done {
            self.finish(Code::Cancelled);
        }
    }
}

/// The call's gRPC code as far as the response head tells it. Every RPC here is unary,
/// and tonic answers a unary error (and the access and size layers their refusals)
/// trailers-only, with `grpc-status` in the headers; a unary success sends its message
/// and then `grpc-status: 0` in the trailers, so HTTP 200 without `grpc-status` is OK.
/// (A streaming call, such as reflection, that fails midway is counted OK: its status
/// comes after the head. The time is to the response head, which for a unary call is
/// when the handler has answered.)
fn response_code<B>(response: &http::Response<B>) -> Code {
    if let Some(status) = Status::from_header_map(response.headers()) {
        return status.code();
    }
    match response.status() {
        http::StatusCode::OK => Code::Ok,
        // gRPC's mapping of HTTP statuses without a grpc-status (doc/http-grpc-status-mapping.md).
        http::StatusCode::BAD_REQUEST => Code::Internal,
        http::StatusCode::UNAUTHORIZED => Code::Unauthenticated,
        http::StatusCode::FORBIDDEN => Code::PermissionDenied,
        http::StatusCode::NOT_FOUND => Code::Unimplemented,
        http::StatusCode::TOO_MANY_REQUESTS
        | http::StatusCode::BAD_GATEWAY
        | http::StatusCode::SERVICE_UNAVAILABLE
        | http::StatusCode::GATEWAY_TIMEOUT => Code::Unavailable,
        _ => Code::Unknown,
    }
}

/// The method label of `path`: `Service/Method` for a served method, else `unknown`.
pub(crate) fn method_label(path: &str) -> &'static str {
    known_methods().get(path).map_or(UNKNOWN_METHOD, String::as_str)
}

/// Every method of the descriptor sets a service serves, by path.
fn known_methods() -> &'static HashMap<String, String> {
    static KNOWN: OnceLock<HashMap<String, String>> = OnceLock::new();
    KNOWN.get_or_init(|| {
        let mut known = HashMap::new();
        for encoded in [
            idcard_proto::FILE_DESCRIPTOR_SET,
            tonic_health::pb::FILE_DESCRIPTOR_SET,
            tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET,
        ] {
            let set = match prost_types::FileDescriptorSet::decode(encoded) {
                Ok(set) => set,
                Err(err) => {
                    tracing::warn!(error = %err, "a descriptor set does not decode; its methods count as unknown");
                    continue;
                }
            };
            for file in &set.file {
                let package = file.package();
                for service in &file.service {
                    for method in &service.method {
                        let label = format!("{}/{}", service.name(), method.name());
                        let path = if package.is_empty() {
                            format!("/{label}")
                        } else {
                            format!("/{package}.{label}")
                        };
                        known.insert(path, label);
                    }
                }
            }
        }
        known
    })
}

/// The canonical upper-case name of `code`, as gRPC's status code table spells it.
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_served_method_is_labelled_without_its_package() {
        assert_eq!(
            method_label("/idcard.v1.AcceptanceService/SubmitApplication"),
            "AcceptanceService/SubmitApplication"
        );
        assert_eq!(method_label("/grpc.health.v1.Health/Check"), "Health/Check");
    }

    #[test]
    fn any_other_path_is_one_unknown_label() {
        for path in [
            "/idcard.v1.AcceptanceService/NoSuchMethod",
            "/made.up.Service/Call",
            "/",
            "/idcard.v1.AcceptanceService/SubmitApplication/extra",
        ] {
            assert_eq!(method_label(path), UNKNOWN_METHOD, "{path}");
        }
    }

    #[test]
    fn code_comes_from_grpc_status_header_else_from_http_status() {
        let refused = Status::invalid_argument("bad").into_http::<()>();
        assert_eq!(response_code(&refused), Code::InvalidArgument);

        let answered = http::Response::builder().status(200).body(()).unwrap();
        assert_eq!(response_code(&answered), Code::Ok);

        let unavailable = http::Response::builder().status(503).body(()).unwrap();
        assert_eq!(response_code(&unavailable), Code::Unavailable);
    }

    #[test]
    fn every_code_has_its_table_name() {
        assert_eq!(code_name(Code::InvalidArgument), "INVALID_ARGUMENT");
        assert_eq!(code_name(Code::from_i32(16)), "UNAUTHENTICATED");
    }
}
