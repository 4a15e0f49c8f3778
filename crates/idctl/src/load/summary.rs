//! The summary of a run, as text for a terminal or as one JSON line.
//!
//! JSON fields: `scenario`, `count` (operations made: submissions, applications started,
//! verifications), `ok` (of them, successful: for flow, taken to collection),
//! `duration_s` (from the first call to the last answer; for flow, to the last
//! collection), `throughput_per_s` (`ok / duration_s`), `p50_ms` .. `p999_ms` and
//! `max_ms` of the scenario's own latency (submit: SubmitApplication; verify:
//! VerifyCard; flow: the end-to-end application time, submission sent to collection
//! answered), `errors` (failed calls by gRPC status code, over every call the generator
//! made), `calls` (latency per method), and the scenario's extras (flow: `lost`,
//! `duplicated`, `abandoned`, `relay_lag`; verify: `answers`; national-day: those of
//! flow for its applications and `day`, `jurisdictions`, `loss_reports`,
//! `verifications`, `backlog`), `memory` (the stack's processes), `cpu` and `prepared`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde_json::{Map, Value, json};

use super::host::{self, Snapshot};
use super::recorder::{Latency, round3};
use super::relay_lag::{self, Scrape};
use super::{Context, Measured};

/// What was made before the clock started.
#[derive(Debug, Clone, Default)]
pub struct Prepared {
    /// e.g. "residents imported", "cards verified".
    pub what: &'static str,
    pub count: u64,
    pub seconds: f64,
}

/// Relay lag over the run, or why there is none.
#[derive(Debug, Clone, PartialEq)]
pub enum RelayLag {
    NotAvailable(String),
    Measured {
        deliveries: f64,
        p50_ms: Option<f64>,
        p99_ms: Option<f64>,
        /// `service->destination` -> (deliveries, p50, p99).
        routes: BTreeMap<String, (f64, Option<f64>, Option<f64>)>,
        /// The highest finite bucket: a quantile that reaches it is only a lower bound.
        highest_bucket_ms: Option<f64>,
    },
}

/// The `q` quantile of cumulative buckets in seconds, as milliseconds.
fn ms(q: f64, buckets: &BTreeMap<relay_lag::Bound, f64>) -> Option<f64> {
    relay_lag::quantile(q, buckets).map(|s| round3(s * 1000.0))
}

impl RelayLag {
    pub fn between(before: &Scrape, after: &Scrape) -> RelayLag {
        let (Some(before_buckets), Some(after_buckets)) = (&before.buckets, &after.buckets) else {
            return RelayLag::NotAvailable("no probe url: pass --metrics-url or --probe-ports".to_string());
        };
        if after_buckets == &relay_lag::Buckets::default() {
            let why = if after.failures.is_empty() {
                format!("the services export no {}", relay_lag::METRIC)
            } else {
                after.failures.join("; ")
            };
            return RelayLag::NotAvailable(why);
        }
        let delta = after_buckets.since(before_buckets);
        let all = delta.group_by(|_| String::new());
        let total = all.get("").cloned().unwrap_or_default();
        let routes = delta
            .group_by(|labels| {
                let get = |key: &str| {
                    labels
                        .iter()
                        .find(|(k, _)| k == key)
                        .map_or("?", |(_, v)| v.as_str())
                        .to_string()
                };
                format!("{}->{}", get("service"), get("destination"))
            })
            .into_iter()
            .map(|(route, buckets)| {
                (
                    route,
                    (relay_lag::count(&buckets), ms(0.5, &buckets), ms(0.99, &buckets)),
                )
            })
            .collect();
        RelayLag::Measured {
            deliveries: relay_lag::count(&total),
            p50_ms: ms(0.5, &total),
            p99_ms: ms(0.99, &total),
            routes,
            highest_bucket_ms: relay_lag::highest_finite(&total).map(|s| round3(s * 1000.0)),
        }
    }
}

pub struct Summary {
    scenario: &'static str,
    concurrency: u32,
    connections: u32,
    point: String,
    count: u64,
    ok: u64,
    duration: Duration,
    primary_name: String,
    primary: Latency,
    calls: BTreeMap<&'static str, Latency>,
    errors: BTreeMap<&'static str, u64>,
    errors_by_call: BTreeMap<(&'static str, &'static str), u64>,
    relay: RelayLag,
    host_before: Snapshot,
    host_after: Snapshot,
    prepared: Prepared,
    /// Scenario figures: JSON key, value, and a line for the text summary.
    extras: Vec<(String, Value, String)>,
    notes: Vec<String>,
}

impl Summary {
    /// `primary` is the scenario's own latency (for flow, the end-to-end time; else the
    /// histogram of the method it loads).
    pub fn new(cx: &Context, measured: Measured, primary_name: &str, primary: Option<&Histogram<u64>>) -> Summary {
        let Measured {
            plan,
            recorder,
            prepared,
            before,
            after,
            count,
            ok,
            elapsed,
        } = measured;
        let primary = primary
            .or_else(|| recorder.calls.get(primary_name))
            .map(Latency::of)
            .unwrap_or(Latency {
                count: 0,
                p50_ms: 0.0,
                p90_ms: 0.0,
                p99_ms: 0.0,
                p999_ms: 0.0,
                max_ms: 0.0,
                mean_ms: 0.0,
            });
        let mut notes = Vec::new();
        if plan.exhausted() {
            notes.push(format!(
                "the prepared pool of {} was used up: the run stopped early (pass a larger --pool)",
                prepared.count
            ));
        }
        Summary {
            scenario: cx.args.scenario.name(),
            concurrency: cx.args.concurrency,
            connections: cx.args.connections,
            point: cx.point.clone(),
            count,
            ok,
            duration: elapsed,
            primary_name: primary_name.to_string(),
            primary,
            calls: recorder.calls.iter().map(|(m, h)| (*m, Latency::of(h))).collect(),
            errors: recorder.errors_by_code(),
            errors_by_call: recorder.errors.clone(),
            relay: RelayLag::between(&before.relay, &after.relay),
            host_before: before.host,
            host_after: after.host,
            prepared,
            extras: Vec::new(),
            notes,
        }
    }

    /// Adds a scenario figure.
    pub fn extra(&mut self, key: &str, value: Value, line: String) {
        self.extras.push((key.to_string(), value, line));
    }

    pub fn note(&mut self, note: String) {
        self.notes.push(note);
    }

    fn throughput(&self) -> f64 {
        let secs = self.duration.as_secs_f64();
        if secs > 0.0 { self.ok as f64 / secs } else { 0.0 }
    }

    pub fn to_json(&self) -> String {
        let mut out = Map::new();
        out.insert("scenario".into(), json!(self.scenario));
        out.insert("concurrency".into(), json!(self.concurrency));
        out.insert("connections".into(), json!(self.connections));
        out.insert("acceptance_point".into(), json!(self.point));
        out.insert("count".into(), json!(self.count));
        out.insert("ok".into(), json!(self.ok));
        out.insert("duration_s".into(), json!(round3(self.duration.as_secs_f64())));
        out.insert("throughput_per_s".into(), json!(round3(self.throughput())));
        out.insert("latency".into(), json!(self.primary_name));
        out.insert("p50_ms".into(), json!(round3(self.primary.p50_ms)));
        out.insert("p90_ms".into(), json!(round3(self.primary.p90_ms)));
        out.insert("p99_ms".into(), json!(round3(self.primary.p99_ms)));
        out.insert("p999_ms".into(), json!(round3(self.primary.p999_ms)));
        out.insert("max_ms".into(), json!(round3(self.primary.max_ms)));
        out.insert("errors".into(), json!(self.errors));
        let by_call: BTreeMap<String, u64> = self
            .errors_by_call
            .iter()
            .map(|((method, code), n)| (format!("{method} {code}"), *n))
            .collect();
        out.insert("errors_by_call".into(), json!(by_call));
        let calls: Map<String, Value> = self
            .calls
            .iter()
            .map(|(method, latency)| (method.to_string(), latency.to_json()))
            .collect();
        out.insert("calls".into(), Value::Object(calls));
        for (key, value, _) in &self.extras {
            out.insert(key.clone(), value.clone());
        }
        out.insert("relay_lag".into(), self.relay_json());
        out.insert("memory".into(), self.memory_json());
        out.insert("cpu".into(), self.cpu_json());
        out.insert(
            "prepared".into(),
            json!({
                "what": self.prepared.what,
                "count": self.prepared.count,
                "seconds": round3(self.prepared.seconds),
            }),
        );
        out.insert("notes".into(), json!(self.notes));
        Value::Object(out).to_string()
    }

    fn relay_json(&self) -> Value {
        match &self.relay {
            RelayLag::NotAvailable(why) => json!({ "available": false, "why": why }),
            RelayLag::Measured {
                deliveries,
                p50_ms,
                p99_ms,
                routes,
                highest_bucket_ms,
            } => {
                let routes: Map<String, Value> = routes
                    .iter()
                    .map(|(route, (n, p50, p99))| {
                        (route.clone(), json!({ "deliveries": n, "p50_ms": p50, "p99_ms": p99 }))
                    })
                    .collect();
                // A quantile at the highest finite bucket means "at least this much".
                json!({
                    "available": true,
                    "deliveries": deliveries,
                    "p50_ms": p50_ms,
                    "p99_ms": p99_ms,
                    "highest_bucket_ms": highest_bucket_ms,
                    "routes": routes,
                })
            }
        }
    }

    /// The stack's processes, matched by pid before and after.
    fn processes(&self) -> Vec<(&host::Process, Option<&host::Process>)> {
        self.host_after
            .stack
            .iter()
            .map(|after| (after, self.host_before.stack.iter().find(|b| b.pid == after.pid)))
            .collect()
    }

    fn memory_json(&self) -> Value {
        let mib = |kib: u64| round3(kib as f64 / 1024.0);
        Value::Array(
            self.processes()
                .into_iter()
                .map(|(after, before)| {
                    json!({
                        "pid": after.pid,
                        "services": after.services,
                        "rss_before_mib": before.map(|b| mib(b.rss_kib)),
                        "rss_after_mib": mib(after.rss_kib),
                        "rss_peak_mib": mib(after.hwm_kib),
                    })
                })
                .collect(),
        )
    }

    fn cpu_json(&self) -> Value {
        let secs = self.duration.as_secs_f64().max(0.001);
        let mut out = Map::new();
        for (after, before) in self.processes() {
            if let Some(before) = before {
                let used = host::cpu_seconds(before.cpu_ticks, after.cpu_ticks);
                out.insert(
                    format!("stack_pid_{}", after.pid),
                    json!({ "seconds": round3(used), "percent": round3(100.0 * used / secs) }),
                );
            }
        }
        let pair = |before: Option<u64>, after: Option<u64>| match (before, after) {
            (Some(b), Some(a)) => {
                let used = host::cpu_seconds(b, a);
                Some(json!({ "seconds": round3(used), "percent": round3(100.0 * used / secs) }))
            }
            _ => None,
        };
        if let Some(value) = pair(self.host_before.postgres_cpu_ticks, self.host_after.postgres_cpu_ticks) {
            out.insert("postgres".into(), value);
        }
        if let Some(value) = pair(self.host_before.own_cpu_ticks, self.host_after.own_cpu_ticks) {
            out.insert("generator".into(), value);
        }
        Value::Object(out)
    }

    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{} at concurrency {} over {} connection(s), acceptance point {}",
            self.scenario, self.concurrency, self.connections, self.point
        );
        let _ = writeln!(
            out,
            "  prepared: {} {} in {:.1} s",
            self.prepared.count, self.prepared.what, self.prepared.seconds
        );
        let _ = writeln!(
            out,
            "  {} of {} ok in {:.2} s: {:.1}/s",
            self.ok,
            self.count,
            self.duration.as_secs_f64(),
            self.throughput()
        );
        let l = &self.primary;
        let _ = writeln!(
            out,
            "  {}: p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.2} ms",
            self.primary_name, l.p50_ms, l.p90_ms, l.p99_ms, l.p999_ms, l.max_ms
        );
        if self.calls.len() > 1 || !self.calls.contains_key(self.primary_name.as_str()) {
            let _ = writeln!(out, "  calls:");
            for (method, l) in &self.calls {
                let _ = writeln!(
                    out,
                    "    {method:<44} {:>8}  p50 {:>8.2}  p90 {:>8.2}  p99 {:>8.2}  p99.9 {:>8.2} ms",
                    l.count, l.p50_ms, l.p90_ms, l.p99_ms, l.p999_ms
                );
            }
        }
        if self.errors.is_empty() {
            let _ = writeln!(out, "  errors: none");
        } else {
            let _ = writeln!(out, "  errors:");
            for ((method, code), n) in &self.errors_by_call {
                let _ = writeln!(out, "    {method} {code}: {n}");
            }
        }
        for (_, _, line) in self.extras.iter().filter(|(_, _, line)| !line.is_empty()) {
            let _ = writeln!(out, "  {line}");
        }
        match &self.relay {
            RelayLag::NotAvailable(why) => {
                let _ = writeln!(out, "  relay lag: not available ({why})");
            }
            RelayLag::Measured { deliveries, .. } if *deliveries == 0.0 => {
                let _ = writeln!(out, "  relay lag: no deliveries during the run");
            }
            RelayLag::Measured {
                deliveries,
                p50_ms,
                p99_ms,
                routes,
                highest_bucket_ms,
            } => {
                let show = |v: &Option<f64>| match (v, highest_bucket_ms) {
                    (None, _) => "-".to_string(),
                    (Some(v), Some(top)) if v >= top => format!("over {v:.0} ms (the highest bucket)"),
                    (Some(v), _) => format!("{v:.1} ms"),
                };
                let _ = writeln!(
                    out,
                    "  relay lag (outbox write to delivery acknowledged): {deliveries} deliveries, p50 {}, p99 {}",
                    show(p50_ms),
                    show(p99_ms)
                );
                for (route, (n, p50, p99)) in routes {
                    if *n > 0.0 {
                        let _ = writeln!(out, "    {route}: {n} deliveries, p50 {}, p99 {}", show(p50), show(p99));
                    }
                }
            }
        }
        for (after, before) in self.processes() {
            let _ = writeln!(
                out,
                "  memory of pid {} ({}): {} -> {:.1} MiB resident, peak {:.1} MiB",
                after.pid,
                after.services.join(", "),
                before.map_or("?".to_string(), |b| format!("{:.1}", b.rss_kib as f64 / 1024.0)),
                after.rss_kib as f64 / 1024.0,
                after.hwm_kib as f64 / 1024.0
            );
        }
        if let Value::Object(cpu) = self.cpu_json() {
            for (who, figures) in cpu {
                let _ = writeln!(
                    out,
                    "  cpu {who}: {} s ({}% of one core)",
                    figures["seconds"], figures["percent"]
                );
            }
        }
        for note in &self.notes {
            let _ = writeln!(out, "  note: {note}");
        }
        out
    }
}
