//! The graceful stop of the gRPC server, in the order STYLE.md gives: on the shutdown
//! signal health turns NOT_SERVING on every name (main port and probe port), the server
//! goes on serving for `IDCARD_SHUTDOWN_GRACE` (time for Kubernetes to take the pod out
//! of the endpoints), then stops accepting and lets the calls in flight finish, for at
//! most `IDCARD_DRAIN_TIMEOUT`. The caller stops its background tasks afterwards.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tonic::codegen::http;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

/// How a server stops: the grace period, the drain bound, and the calls in flight.
pub(crate) struct Drain {
    grace: Duration,
    timeout: Duration,
    in_flight: InFlight,
    /// Cancelled when the server stops accepting.
    draining: CancellationToken,
}

impl Drain {
    pub(crate) fn new(grace: Duration, timeout: Duration) -> Drain {
        Drain {
            grace,
            timeout,
            in_flight: InFlight::default(),
            draining: CancellationToken::new(),
        }
    }

    /// The layer that keeps count of the calls in flight, for the drain's log lines.
    pub(crate) fn layer(&self) -> InFlightLayer {
        InFlightLayer(self.in_flight.clone())
    }

    /// The server's shutdown future: resolves (so the server stops accepting and drains)
    /// `grace` after `shutdown`, having turned every name in `names` (and the server as a
    /// whole, "") NOT_SERVING at once.
    pub(crate) fn signal(
        &self,
        shutdown: CancellationToken,
        reporter: HealthReporter,
        names: Vec<String>,
    ) -> impl Future<Output = ()> + Send + 'static {
        let (grace, in_flight, draining) = (self.grace, self.in_flight.clone(), self.draining.clone());
        async move {
            shutdown.cancelled().await;
            for name in names.iter().map(String::as_str).chain(std::iter::once("")) {
                reporter.set_service_status(name, ServingStatus::NotServing).await;
            }
            let (calls, _) = in_flight.snapshot();
            tracing::info!(
                grace = ?grace,
                calls,
                "stopping: health says NOT_SERVING, serving on for the grace period"
            );
            tokio::time::sleep(grace).await;
            let (calls, methods) = in_flight.snapshot();
            tracing::info!(calls, methods = %methods, "stopping: no longer accepting; draining the calls in flight");
            draining.cancel();
        }
    }

    /// Runs `serve` (a server with [`Drain::signal`] as its shutdown) to its end, or
    /// until the drain has taken longer than the timeout; then the calls still in flight
    /// are cut off, and logged.
    pub(crate) async fn run<E>(&self, serve: impl Future<Output = Result<(), E>>) -> Result<(), E> {
        let bound = async {
            self.draining.cancelled().await;
            let started = Instant::now();
            tokio::time::sleep(self.timeout).await;
            started
        };
        tokio::select! {
            served = serve => {
                if self.draining.is_cancelled() {
                    tracing::info!("stopping: every call in flight finished");
                }
                served
            }
            started = bound => {
                let (calls, methods) = self.in_flight.snapshot();
                tracing::warn!(
                    calls,
                    methods = %methods,
                    waited = ?started.elapsed(),
                    "stopping: drain timeout (IDCARD_DRAIN_TIMEOUT) expired; the calls still running are cut off"
                );
                Ok(())
            }
        }
    }
}

/// The calls in flight, by method.
#[derive(Debug, Clone, Default)]
pub(crate) struct InFlight {
    calls: Arc<Mutex<BTreeMap<String, usize>>>,
}

impl InFlight {
    fn enter(&self, path: &str) -> Call {
        let method = method_of(path);
        *self.map().entry(method.clone()).or_default() += 1;
        Call {
            in_flight: self.clone(),
            method,
        }
    }

    /// How many calls are in flight, and how many per method (`Service/Method xN, ...`).
    fn snapshot(&self) -> (usize, String) {
        let calls = self.map();
        let total = calls.values().sum();
        let methods = calls
            .iter()
            .map(|(method, count)| format!("{method} x{count}"))
            .collect::<Vec<_>>()
            .join(", ");
        (total, methods)
    }

    fn map(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, usize>> {
        // A count is still right after a panic elsewhere.
        self.calls.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// `AcceptanceService/SubmitApplication` of `/idcard.v1.AcceptanceService/SubmitApplication`.
fn method_of(path: &str) -> String {
    let path = path.trim_start_matches('/');
    match path.split_once('/') {
        Some((service, method)) => {
            let service = service.rsplit('.').next().unwrap_or(service);
            format!("{service}/{method}")
        }
        None => path.to_string(),
    }
}

/// One call in flight; dropping it (the handler answered, or its future was dropped)
/// takes it off.
struct Call {
    in_flight: InFlight,
    method: String,
}

impl Drop for Call {
    fn drop(&mut self) {
        let mut calls = self.in_flight.map();
        if let Some(count) = calls.get_mut(&self.method) {
            *count -= 1;
            if *count == 0 {
                calls.remove(&self.method);
            }
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct InFlightLayer(InFlight);

impl<S> tower::Layer<S> for InFlightLayer {
    type Service = Counted<S>;

    fn layer(&self, inner: S) -> Counted<S> {
        Counted {
            inner,
            in_flight: self.0.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Counted<S> {
    inner: S,
    in_flight: InFlight,
}

impl<S, ReqBody> tower::Service<http::Request<ReqBody>> for Counted<S>
where
    S: tower::Service<http::Request<ReqBody>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<ReqBody>) -> Self::Future {
        let call = self.in_flight.enter(request.uri().path());
        let answer = self.inner.call(request);
        Box::pin(async move {
            let answered = answer.await;
            drop(call);
            answered
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn methods_are_named_without_the_package() {
        assert_eq!(
            method_of("/idcard.v1.AcceptanceService/SubmitApplication"),
            "AcceptanceService/SubmitApplication"
        );
        assert_eq!(method_of("/grpc.health.v1.Health/Check"), "Health/Check");
    }

    #[tokio::test]
    async fn a_drain_that_outlasts_its_timeout_is_cut_off_and_a_quick_one_is_not() {
        let drain = Drain::new(Duration::ZERO, Duration::from_millis(10));
        let (reporter, _health) = tonic_health::server::health_reporter();
        let shutdown = CancellationToken::new();
        let signal = drain.signal(shutdown.clone(), reporter, vec!["idcard.v1.AcceptanceService".into()]);
        let stuck = drain.in_flight.enter("/idcard.v1.AcceptanceService/SubmitApplication");
        // A server that stops accepting on the signal, then waits for a call that never ends.
        let serve = async {
            signal.await;
            std::future::pending::<Result<(), String>>().await
        };
        shutdown.cancel();

        assert_eq!(drain.run(serve).await, Ok(()));
        assert_eq!(
            drain.in_flight.snapshot(),
            (1, "AcceptanceService/SubmitApplication x1".to_string()),
            "what the warning names"
        );
        drop(stuck);

        let quick = Drain::new(Duration::ZERO, Duration::from_secs(3600));
        assert_eq!(
            quick.run(async { Err::<(), _>("failed".to_string()) }).await,
            Err("failed".to_string())
        );
    }

    #[test]
    fn calls_are_counted_until_they_end() {
        let in_flight = InFlight::default();
        let a = in_flight.enter("/idcard.v1.AcceptanceService/SubmitApplication");
        let b = in_flight.enter("/idcard.v1.AcceptanceService/SubmitApplication");
        let c = in_flight.enter("/idcard.v1.AcceptanceService/GetApplication");
        assert_eq!(
            in_flight.snapshot(),
            (
                3,
                "AcceptanceService/GetApplication x1, AcceptanceService/SubmitApplication x2".to_string()
            )
        );
        drop((a, c));
        assert_eq!(
            in_flight.snapshot(),
            (1, "AcceptanceService/SubmitApplication x1".to_string())
        );
        drop(b);
        assert_eq!(in_flight.snapshot(), (0, String::new()));
    }
}
