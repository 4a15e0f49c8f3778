//! tonic answers a request larger than a server's `max_decoding_message_size` with
//! OUT_OF_RANGE; gRPC's status code table, `IDCARD_MAX_REQUEST_BYTES` and
//! docs/security.md say RESOURCE_EXHAUSTED. This layer relabels that one answer.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tonic::codegen::http;
use tonic::{Code, Status};

/// The start of tonic's message for a request over the decoding limit.
const TONIC_TOO_LARGE: &str = "Error, decoded message length too large";

#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct TooLargeLayer;

impl<S> tower::Layer<S> for TooLargeLayer {
    type Service = TooLarge<S>;

    fn layer(&self, inner: S) -> TooLarge<S> {
        TooLarge { inner }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct TooLarge<S> {
    inner: S,
}

impl<S, ReqBody, ResBody> tower::Service<http::Request<ReqBody>> for TooLarge<S>
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
        let answer = self.inner.call(request);
        Box::pin(async move {
            let mut response = answer.await?;
            relabel(response.headers_mut());
            Ok(response)
        })
    }
}

/// A unary call refused while decoding answers trailers-only: the status is in the headers.
fn relabel(headers: &mut http::HeaderMap) {
    let Some(status) = Status::from_header_map(headers) else {
        return;
    };
    if status.code() != Code::OutOfRange || !status.message().starts_with(TONIC_TOO_LARGE) {
        return;
    }
    let limit = status.message().split("the limit is: ").nth(1).unwrap_or("the limit");
    let relabelled =
        Status::resource_exhausted(format!("request too large: at most {limit} (IDCARD_MAX_REQUEST_BYTES)"));
    if relabelled.add_header(headers).is_err() {
        tracing::warn!("cannot relabel an over-size request's status");
    }
}
