//! Latencies per call (HDR histograms in microseconds) and failures by status code. Each
//! worker keeps its own and they are merged at the end, so the hot path takes no lock.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use super::{Plan, code_name, transient};

/// Up to an hour, in microseconds, three significant figures.
const HIGHEST_US: u64 = 3_600_000_000;

pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, HIGHEST_US, 3).expect("constant, valid histogram bounds")
}

/// Adds `elapsed` to `histogram` (saturating at the top of its range).
pub fn add(histogram: &mut Histogram<u64>, elapsed: Duration) {
    let us = u64::try_from(elapsed.as_micros())
        .unwrap_or(HIGHEST_US)
        .clamp(1, HIGHEST_US);
    histogram.saturating_record(us);
}

#[derive(Default)]
pub struct Recorder {
    /// Successful calls by method (`AcceptanceService/SubmitApplication`).
    pub calls: BTreeMap<&'static str, Histogram<u64>>,
    /// Failed calls by (method, status code).
    pub errors: BTreeMap<(&'static str, &'static str), u64>,
}

impl Recorder {
    pub fn ok(&mut self, method: &'static str, elapsed: Duration) {
        add(self.calls.entry(method).or_insert_with(histogram), elapsed);
    }

    pub fn failed(&mut self, method: &'static str, code: tonic::Code) {
        *self.errors.entry((method, code_name(code))).or_insert(0) += 1;
    }

    pub fn merge(&mut self, other: Recorder) {
        for (method, theirs) in other.calls {
            let mine = self.calls.entry(method).or_insert_with(histogram);
            // Both have the same bounds, so adding cannot fail.
            let _ = mine.add(&theirs);
        }
        for (key, count) in other.errors {
            *self.errors.entry(key).or_insert(0) += count;
        }
    }

    /// Failed calls by status code, over every method.
    pub fn errors_by_code(&self) -> BTreeMap<&'static str, u64> {
        let mut out = BTreeMap::new();
        for ((_, code), count) in &self.errors {
            *out.entry(*code).or_insert(0) += count;
        }
        out
    }

    /// Makes one call, timing it; a failure is counted under its code (and on `plan`'s
    /// live counter).
    pub async fn call<T, Fut>(&mut self, plan: &Plan, method: &'static str, call: Fut) -> Result<T, tonic::Status>
    where
        Fut: Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    {
        let started = Instant::now();
        match call.await {
            Ok(response) => {
                self.ok(method, started.elapsed());
                Ok(response.into_inner())
            }
            Err(status) => {
                self.failed(method, status.code());
                plan.failed.fetch_add(1, Ordering::Relaxed);
                Err(status)
            }
        }
    }

    /// [`Recorder::call`] again after a transient failure (same request, so the same
    /// request id), up to `attempts` times with a growing pause.
    pub async fn call_retrying<T, F, Fut>(
        &mut self,
        plan: &Plan,
        method: &'static str,
        attempts: u32,
        mut make: F,
    ) -> Result<T, tonic::Status>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    {
        let mut pause = Duration::from_millis(50);
        let mut attempt = 1;
        loop {
            match self.call(plan, method, make()).await {
                Ok(value) => return Ok(value),
                Err(status) if attempt < attempts && transient(status.code()) => {
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(2));
                    attempt += 1;
                }
                Err(status) => return Err(status),
            }
        }
    }
}

/// Latency figures of one histogram, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Latency {
    pub count: u64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
}

impl Latency {
    pub fn of(histogram: &Histogram<u64>) -> Latency {
        let ms = |us: u64| us as f64 / 1000.0;
        Latency {
            count: histogram.len(),
            p50_ms: ms(histogram.value_at_quantile(0.50)),
            p90_ms: ms(histogram.value_at_quantile(0.90)),
            p99_ms: ms(histogram.value_at_quantile(0.99)),
            p999_ms: ms(histogram.value_at_quantile(0.999)),
            max_ms: ms(histogram.max()),
            mean_ms: histogram.mean() / 1000.0,
        }
    }

    pub fn to_json(self) -> serde_json::Value {
        serde_json::json!({
            "count": self.count,
            "p50_ms": round3(self.p50_ms),
            "p90_ms": round3(self.p90_ms),
            "p99_ms": round3(self.p99_ms),
            "p999_ms": round3(self.p999_ms),
            "max_ms": round3(self.max_ms),
            "mean_ms": round3(self.mean_ms),
        })
    }
}

pub fn round3(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merged_recorders_add_up() {
        let mut a = Recorder::default();
        a.ok("S/M", Duration::from_millis(2));
        a.failed("S/M", tonic::Code::Unavailable);
        let mut b = Recorder::default();
        b.ok("S/M", Duration::from_millis(4));
        b.failed("S/N", tonic::Code::Unavailable);
        b.failed("S/N", tonic::Code::Internal);
        a.merge(b);
        assert_eq!(a.calls["S/M"].len(), 2);
        assert_eq!(a.errors.values().sum::<u64>(), 3);
        let by_code = a.errors_by_code();
        assert_eq!(by_code["UNAVAILABLE"], 2);
        assert_eq!(by_code["INTERNAL"], 1);
    }

    #[test]
    fn latency_is_reported_in_milliseconds() {
        let mut h = histogram();
        for ms in 1..=100 {
            add(&mut h, Duration::from_millis(ms));
        }
        let latency = Latency::of(&h);
        assert_eq!(latency.count, 100);
        assert!((latency.p50_ms - 50.0).abs() < 0.1, "{latency:?}");
        assert!((latency.p99_ms - 99.0).abs() < 0.1, "{latency:?}");
        assert!((latency.max_ms - 100.0).abs() < 0.1, "{latency:?}");
    }
}
