//! Prometheus metrics: the process-wide recorder, its text rendering for `GET /metrics`
//! on the probe port, and the samplers that turn database counts into gauges.
//!
//! Every series carries a `service` label (acceptance, review, production, status):
//! `idctl up` and the end-to-end tests run several services in one process, and they
//! share the one recorder a process can have, so each probe port shows them all. Label
//! values come from small fixed sets (method names, codes, states, peer names), never
//! from a request's data, and never hold personal data.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use idcard_db::Db;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Histogram buckets in seconds, from half a millisecond to ten seconds: an RPC answered
/// from one indexed read and a relay hop on a quiet stack both land in the low buckets,
/// a delivery that waited for retries in the high ones.
pub const SECONDS_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The histograms rendered with [`SECONDS_BUCKETS`] (any other would be a summary).
const HISTOGRAMS: [&str; 2] = ["idcard_rpc_duration_seconds", "idcard_outbox_relay_lag_seconds"];

/// How often the samplers turn database counts into gauges.
pub const SAMPLE_INTERVAL: Duration = Duration::from_secs(5);

/// The content type of the Prometheus text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4";

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process-wide recorder on first call (later calls return the same handle).
/// Metrics recorded before it is installed are dropped, which is why the server installs
/// it before it starts anything. If another recorder was installed first (a test's), the
/// handle renders an empty page and a warning says why.
pub fn install() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let mut builder = PrometheusBuilder::new();
        for name in HISTOGRAMS {
            // Refused only for an empty bucket list, which SECONDS_BUCKETS is not.
            builder = builder
                .set_buckets_for_metric(Matcher::Full(name.to_string()), &SECONDS_BUCKETS)
                .unwrap_or_else(|err| {
                    tracing::warn!(metric = name, error = %err, "histogram buckets refused; rendered as a summary");
                    PrometheusBuilder::new()
                });
        }
        match builder.install_recorder() {
            Ok(handle) => {
                describe();
                handle
            }
            Err(err) => {
                tracing::warn!(error = %err, "cannot install the metrics recorder; /metrics stays empty");
                PrometheusBuilder::new().build_recorder().handle()
            }
        }
    })
}

/// The `# HELP` lines (docs/operations.md has the same table).
fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        "idcard_rpc_requests_total",
        "gRPC calls answered, by method and status code"
    );
    describe_histogram!(
        "idcard_rpc_duration_seconds",
        metrics::Unit::Seconds,
        "Time from a call's arrival to its response head"
    );
    describe_gauge!(
        "idcard_outbox_pending",
        "Outbox messages waiting for delivery, retries included"
    );
    describe_gauge!(
        "idcard_outbox_oldest_pending_age_seconds",
        metrics::Unit::Seconds,
        "Age of the oldest outbox message waiting for delivery"
    );
    describe_gauge!(
        "idcard_outbox_dead",
        "Outbox messages the relay gave up on (dead letters)"
    );
    describe_counter!(
        "idcard_outbox_deliveries_total",
        "Outbox deliveries settled: delivered, retry or dead"
    );
    describe_histogram!(
        "idcard_outbox_relay_lag_seconds",
        metrics::Unit::Seconds,
        "Time from an outbox row's creation to the peer's acknowledgement"
    );
    describe_counter!(
        "idcard_inbox_messages_total",
        "Inbound messages: accepted, or duplicate (acknowledged without a change)"
    );
    describe_gauge!(
        "idcard_audit_oldest_unsealed_age_seconds",
        metrics::Unit::Seconds,
        "Age of the oldest audit entry not yet sealed into the chain"
    );
    describe_gauge!("idcard_applications", "Applications by state");
    describe_gauge!("idcard_review_cases", "Review cases by state");
    describe_gauge!("idcard_production_jobs", "Production jobs by state");
    describe_counter!("idcard_verifications_total", "Card verifications answered, by answer");
}

/// The metrics as Prometheus text.
pub fn render() -> String {
    install().render()
}

/// Drains histogram samples that no scrape has collected yet, so that memory stays
/// bounded when nobody scrapes (the exporter leaves this to its caller).
pub fn run_upkeep() {
    if let Some(handle) = HANDLE.get() {
        handle.run_upkeep();
    }
}

/// A gauge family filled from a `GROUP BY`: a label value missing from a round (no row
/// in that state any more) is set to zero instead of keeping its last count. Clones
/// share what was seen, so a sampler's rounds can each take one.
#[derive(Debug, Clone)]
pub struct SampledGauge {
    name: &'static str,
    service: &'static str,
    label: &'static str,
    seen: Arc<Mutex<BTreeSet<String>>>,
}

impl SampledGauge {
    /// The gauge `name{service, label}`.
    pub fn new(name: &'static str, service: &'static str, label: &'static str) -> SampledGauge {
        SampledGauge {
            name,
            service,
            label,
            seen: Arc::default(),
        }
    }

    /// Sets one value per label value found this round; zeroes the ones not found.
    pub fn set_all(&self, values: impl IntoIterator<Item = (String, f64)>) {
        let mut found = BTreeSet::new();
        for (value, count) in values {
            metrics::gauge!(self.name, "service" => self.service, self.label => value.clone()).set(count);
            found.insert(value);
        }
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        for gone in seen.difference(&found) {
            metrics::gauge!(self.name, "service" => self.service, self.label => gone.clone()).set(0.0);
        }
        *seen = found;
    }
}

/// The outbox gauges of one service, per destination.
#[derive(Debug, Clone)]
pub struct OutboxGauges {
    pending: SampledGauge,
    oldest_age: SampledGauge,
    dead: SampledGauge,
}

impl OutboxGauges {
    /// The gauges of `service`, at 0 for each of `destinations` until a round says more.
    pub fn new(service: &'static str, destinations: &[String]) -> OutboxGauges {
        let gauges = OutboxGauges {
            pending: SampledGauge::new("idcard_outbox_pending", service, "destination"),
            oldest_age: SampledGauge::new("idcard_outbox_oldest_pending_age_seconds", service, "destination"),
            dead: SampledGauge::new("idcard_outbox_dead", service, "destination"),
        };
        for gauge in [&gauges.pending, &gauges.oldest_age, &gauges.dead] {
            gauge.set_all(destinations.iter().map(|d| (d.clone(), 0.0)));
        }
        gauges
    }

    /// Reads the backlog in one query and sets the gauges.
    pub async fn sample(&self, db: &Db) -> Result<(), String> {
        let backlog = idcard_outbox::backlog(db).await.map_err(|err| err.to_string())?;
        let now = idcard_db::now_ms();
        self.pending
            .set_all(backlog.iter().map(|b| (b.destination.clone(), b.pending as f64)));
        self.oldest_age.set_all(backlog.iter().filter_map(|b| {
            b.oldest_pending_at_ms
                .map(|at| (b.destination.clone(), seconds_since(at, now)))
        }));
        self.dead
            .set_all(backlog.iter().map(|b| (b.destination.clone(), b.dead as f64)));
        Ok(())
    }
}

/// Sets `idcard_audit_oldest_unsealed_age_seconds` (zero when every entry is sealed).
pub async fn sample_audit(db: &Db, service: &'static str) -> Result<(), String> {
    let age_ms = idcard_audit::oldest_unsealed_age_ms(db)
        .await
        .map_err(|err| err.to_string())?
        .unwrap_or(0);
    metrics::gauge!("idcard_audit_oldest_unsealed_age_seconds", "service" => service).set(age_ms as f64 / 1000.0);
    Ok(())
}

/// Seconds from `at_ms` to `now_ms`, never negative (clocks of replicas differ a little).
pub fn seconds_since(at_ms: i64, now_ms: i64) -> f64 {
    now_ms.saturating_sub(at_ms).max(0) as f64 / 1000.0
}

/// `GET /metrics` on the probe port.
pub(crate) async fn scrape() -> ([(axum::http::header::HeaderName, &'static str); 1], String) {
    ([(axum::http::header::CONTENT_TYPE, CONTENT_TYPE)], render())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_gone_from_a_round_falls_to_zero() {
        let recorder = PrometheusBuilder::new().build_recorder();
        let page = recorder.handle();
        let gauge = SampledGauge::new("idcard_applications", "acceptance", "state");

        metrics::with_local_recorder(&recorder, || {
            gauge.set_all([("submitted".to_string(), 2.0), ("collected".to_string(), 5.0)]);
            gauge.clone().set_all([("collected".to_string(), 6.0)]);
        });

        let page = page.render();
        assert!(
            page.contains("idcard_applications{service=\"acceptance\",state=\"submitted\"} 0\n"),
            "{page}"
        );
        assert!(
            page.contains("idcard_applications{service=\"acceptance\",state=\"collected\"} 6\n"),
            "{page}"
        );
    }

    #[test]
    fn outbox_gauges_start_at_zero_for_every_peer() {
        let recorder = PrometheusBuilder::new().build_recorder();
        let page = recorder.handle();

        metrics::with_local_recorder(&recorder, || OutboxGauges::new("review", &["acceptance".to_string()]));

        let page = page.render();
        for gauge in [
            "idcard_outbox_pending",
            "idcard_outbox_oldest_pending_age_seconds",
            "idcard_outbox_dead",
        ] {
            assert!(
                page.contains(&format!("{gauge}{{service=\"review\",destination=\"acceptance\"}} 0\n")),
                "{page}"
            );
        }
    }
}
