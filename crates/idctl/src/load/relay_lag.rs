//! Outbox relay lag (a row written to its delivery acknowledged) during a run, from the
//! services' own histogram `idcard_outbox_relay_lag_seconds{service,destination}`: its
//! buckets are read from each service's `/metrics` (Prometheus text on the plaintext
//! probe port) before and after the run, and quantiles are interpolated from the bucket
//! deltas, as Prometheus' `histogram_quantile` does.
//!
//! When the services of a stack share one process (`idctl up`), every probe port may
//! serve the same series: a series (its full label set) is taken from the first
//! endpoint that has it, so nothing is counted twice.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub const METRIC: &str = "idcard_outbox_relay_lag_seconds";

/// Cumulative bucket counts by series (labels other than `le`, sorted) and upper bound.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Buckets(BTreeMap<Vec<(String, String)>, BTreeMap<Bound, f64>>);

/// A bucket's upper bound, ordered (`+Inf` last).
#[derive(Debug, Clone, Copy)]
pub struct Bound(pub f64);

impl PartialEq for Bound {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == std::cmp::Ordering::Equal
    }
}

impl Eq for Bound {}

impl PartialOrd for Bound {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Bound {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// One reading of every endpoint.
#[derive(Debug, Clone, Default)]
pub struct Scrape {
    /// `None` when no endpoint was given.
    pub buckets: Option<Buckets>,
    /// Endpoints that did not answer, with why.
    pub failures: Vec<String>,
}

impl Scrape {
    pub async fn take(urls: &[String]) -> Scrape {
        if urls.is_empty() {
            return Scrape::default();
        }
        let mut buckets = Buckets::default();
        let mut failures = Vec::new();
        for url in urls {
            match fetch(url).await {
                Ok(text) => buckets.add_first(parse(&text, METRIC)),
                Err(err) => failures.push(format!("{url}: {err:#}")),
            }
        }
        Scrape {
            buckets: Some(buckets),
            failures,
        }
    }
}

impl Buckets {
    /// Adds the series `other` has and this does not.
    fn add_first(&mut self, other: Buckets) {
        for (labels, buckets) in other.0 {
            self.0.entry(labels).or_insert(buckets);
        }
    }

    /// Increase from `before` to `self`, series by series (a series new since `before`
    /// counts whole).
    pub fn since(&self, before: &Buckets) -> Buckets {
        let mut out = BTreeMap::new();
        for (labels, after) in &self.0 {
            let earlier = before.0.get(labels);
            let delta = after
                .iter()
                .map(|(bound, count)| {
                    let was = earlier.and_then(|b| b.get(bound)).copied().unwrap_or(0.0);
                    (*bound, (count - was).max(0.0))
                })
                .collect();
            out.insert(labels.clone(), delta);
        }
        Buckets(out)
    }

    /// Sums the series into one per value of `label` pairs chosen by `key`
    /// (`|_| String::new()` sums everything).
    pub fn group_by(&self, key: impl Fn(&[(String, String)]) -> String) -> BTreeMap<String, BTreeMap<Bound, f64>> {
        let mut out: BTreeMap<String, BTreeMap<Bound, f64>> = BTreeMap::new();
        for (labels, buckets) in &self.0 {
            let group = out.entry(key(labels)).or_default();
            for (bound, count) in buckets {
                *group.entry(*bound).or_insert(0.0) += count;
            }
        }
        out
    }
}

/// The `le`-bucketed series of histogram `name` in Prometheus text.
pub fn parse(text: &str, name: &str) -> Buckets {
    let bucket_name = format!("{name}_bucket");
    let mut out: BTreeMap<Vec<(String, String)>, BTreeMap<Bound, f64>> = BTreeMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some(rest) = line.strip_prefix(&bucket_name) else {
            continue;
        };
        let Some((labels, value)) = split_sample(rest) else {
            continue;
        };
        let Some(mut labels) = parse_labels(labels) else {
            continue;
        };
        let Some(le) = labels.iter().position(|(k, _)| k == "le").map(|i| labels.remove(i).1) else {
            continue;
        };
        let bound = match le.as_str() {
            "+Inf" | "Inf" | "inf" => f64::INFINITY,
            other => match other.parse::<f64>() {
                Ok(bound) => bound,
                Err(_) => continue,
            },
        };
        let Ok(count) = value.parse::<f64>() else {
            continue;
        };
        labels.sort();
        out.entry(labels).or_default().insert(Bound(bound), count);
    }
    Buckets(out)
}

/// Samples of the gauge `name` in Prometheus text, by their labels (sorted).
pub fn gauge(text: &str, name: &str) -> BTreeMap<Vec<(String, String)>, f64> {
    let mut out = BTreeMap::new();
    for line in text.lines().map(str::trim) {
        let Some(rest) = line.strip_prefix(name) else {
            continue;
        };
        let Some((labels, value)) = split_sample(rest) else {
            continue;
        };
        let (Some(mut labels), Ok(value)) = (parse_labels(labels), value.parse::<f64>()) else {
            continue;
        };
        labels.sort();
        out.insert(labels, value);
    }
    out
}

/// Gauges named `names` on every endpoint that answers: name -> labels -> value, a series
/// taken from the first endpoint that has it (as for the histograms). `None` when no
/// endpoint answered.
pub async fn gauges(urls: &[String], names: &[&'static str]) -> Option<Gauges> {
    let mut out: Option<Gauges> = None;
    for url in urls {
        let Ok(text) = fetch(url).await else {
            continue;
        };
        let out = out.get_or_insert_with(Gauges::new);
        for name in names {
            let series = out.entry(*name).or_default();
            for (labels, value) in gauge(&text, name) {
                series.entry(labels).or_insert(value);
            }
        }
    }
    out
}

/// Gauge name -> labels -> value.
pub type Gauges = BTreeMap<&'static str, BTreeMap<Vec<(String, String)>, f64>>;

/// `{labels} value [timestamp]` (or ` value` without labels) -> (labels, value).
fn split_sample(rest: &str) -> Option<(&str, &str)> {
    if let Some(inner) = rest.strip_prefix('{') {
        // The closing brace is the first one outside a quoted value.
        let mut quoted = false;
        let mut escaped = false;
        for (i, c) in inner.char_indices() {
            match c {
                _ if escaped => escaped = false,
                '\\' if quoted => escaped = true,
                '"' => quoted = !quoted,
                '}' if !quoted => {
                    let value = inner[i + 1..].split_whitespace().next()?;
                    return Some((&inner[..i], value));
                }
                _ => {}
            }
        }
        None
    } else if rest.starts_with(' ') {
        Some(("", rest.split_whitespace().next()?))
    } else {
        // Another metric whose name merely starts with ours.
        None
    }
}

/// `a="x",b="y\"z"` -> pairs, unescaped.
fn parse_labels(text: &str) -> Option<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        let (key, after) = rest.split_once('=')?;
        let after = after.trim_start().strip_prefix('"')?;
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            let (i, c) = chars.next()?;
            match c {
                '\\' => match chars.next()?.1 {
                    'n' => value.push('\n'),
                    other => value.push(other),
                },
                '"' => break i,
                c => value.push(c),
            }
        };
        out.push((key.trim().to_string(), value));
        rest = after[end + 1..].trim_start();
        rest = rest.strip_prefix(',').unwrap_or(rest).trim_start();
    }
    Some(out)
}

/// The `q` quantile of cumulative `buckets`, interpolated linearly within the bucket it
/// falls in (the lowest bucket from 0); in the `+Inf` bucket, the highest finite bound.
/// `None` without observations.
pub fn quantile(q: f64, buckets: &BTreeMap<Bound, f64>) -> Option<f64> {
    let total = buckets.iter().next_back().map(|(_, count)| *count)?;
    if total <= 0.0 {
        return None;
    }
    let rank = q.clamp(0.0, 1.0) * total;
    let mut lower = 0.0;
    let mut below = 0.0;
    for (bound, count) in buckets {
        if *count >= rank && *count > below {
            if bound.0.is_infinite() {
                return Some(lower);
            }
            return Some(lower + (bound.0 - lower) * (rank - below) / (count - below));
        }
        if bound.0.is_finite() {
            lower = bound.0;
        }
        below = *count;
    }
    Some(lower)
}

/// The highest finite bucket bound: a quantile there may be anything above it.
pub fn highest_finite(buckets: &BTreeMap<Bound, f64>) -> Option<f64> {
    buckets.keys().rev().map(|b| b.0).find(|b| b.is_finite())
}

/// The observations counted by cumulative `buckets`.
pub fn count(buckets: &BTreeMap<Bound, f64>) -> f64 {
    buckets.iter().next_back().map_or(0.0, |(_, count)| *count)
}

/// GETs `url` (plain `http://HOST:PORT[/PATH]`, path default `/metrics`) over HTTP/1.0,
/// so the body is the rest of the stream.
async fn fetch(url: &str) -> anyhow::Result<String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| anyhow::anyhow!("expected an http:// URL (the probe port is plaintext)"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/metrics"),
    };
    let exchange = async {
        let mut stream = TcpStream::connect(authority).await?;
        let request = format!("GET {path} HTTP/1.0\r\nHost: {authority}\r\nAccept: text/plain\r\n\r\n");
        stream.write_all(request.as_bytes()).await?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await?;
        anyhow::Ok(response)
    };
    let response = tokio::time::timeout(Duration::from_secs(10), exchange)
        .await
        .map_err(|_| anyhow::anyhow!("no answer within 10 s"))??;
    let text = String::from_utf8_lossy(&response);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| anyhow::anyhow!("not an HTTP response"))?;
    let status = head.lines().next().unwrap_or_default();
    anyhow::ensure!(status.split_whitespace().nth(1) == Some("200"), "answered {status:?}");
    Ok(body.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gauges_are_read_by_their_labels_and_not_by_a_longer_name() {
        let text = "# TYPE idcard_outbox_pending gauge\n\
            idcard_outbox_pending{service=\"acceptance\",destination=\"review\"} 12\n\
            idcard_outbox_pending_total 99\n\
            idcard_outbox_pending{destination=\"production\",service=\"review\"} 3.5\n";
        let found = gauge(text, "idcard_outbox_pending");
        assert_eq!(found.len(), 2);
        let key = vec![
            ("destination".to_string(), "production".to_string()),
            ("service".to_string(), "review".to_string()),
        ];
        assert_eq!(found.get(&key), Some(&3.5));
        assert_eq!(found.values().sum::<f64>(), 15.5);
    }

    const BEFORE: &str = r#"# HELP idcard_outbox_relay_lag_seconds Outbox row created to delivery acknowledged.
# TYPE idcard_outbox_relay_lag_seconds histogram
idcard_outbox_relay_lag_seconds_bucket{service="acceptance",destination="review",le="0.01"} 10
idcard_outbox_relay_lag_seconds_bucket{service="acceptance",destination="review",le="0.05"} 20
idcard_outbox_relay_lag_seconds_bucket{service="acceptance",destination="review",le="0.1"} 20
idcard_outbox_relay_lag_seconds_bucket{service="acceptance",destination="review",le="+Inf"} 20
idcard_outbox_relay_lag_seconds_sum{service="acceptance",destination="review"} 0.4
idcard_outbox_relay_lag_seconds_count{service="acceptance",destination="review"} 20
idcard_outbox_relay_lag_seconds_total_bogus_bucket{le="1"} 99
idcard_rpc_requests_total{service="acceptance",method="AcceptanceService/SubmitApplication",code="OK"} 20
"#;

    const AFTER: &str = r#"idcard_outbox_relay_lag_seconds_bucket{service="acceptance",destination="review",le="0.01"} 10
idcard_outbox_relay_lag_seconds_bucket{service="acceptance",destination="review",le="0.05"} 70
idcard_outbox_relay_lag_seconds_bucket{service="acceptance",destination="review",le="0.1"} 110
idcard_outbox_relay_lag_seconds_bucket{service="acceptance",destination="review",le="+Inf"} 120
idcard_outbox_relay_lag_seconds_bucket{destination="acceptance",service="review",le="0.01"} 0
idcard_outbox_relay_lag_seconds_bucket{destination="acceptance",service="review",le="0.05"} 100
idcard_outbox_relay_lag_seconds_bucket{destination="acceptance",service="review",le="0.1"} 100
idcard_outbox_relay_lag_seconds_bucket{destination="acceptance",service="review",le="+Inf"} 100 1700000000000
"#;

    fn route(labels: &[(String, String)]) -> String {
        let get = |k: &str| {
            labels
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        format!("{}->{}", get("service"), get("destination"))
    }

    #[test]
    fn bucket_deltas_give_interpolated_quantiles() {
        let before = parse(BEFORE, METRIC);
        let after = parse(AFTER, METRIC);
        assert_eq!(before.0.len(), 1, "only the relay lag buckets: {before:?}");
        let delta = after.since(&before);
        let routes = delta.group_by(route);

        // acceptance->review: 100 new: 0 under 10 ms, 50 in (10, 50] ms, 40 in (50, 100]
        // ms, 10 above.
        let ar = &routes["acceptance->review"];
        assert_eq!(count(ar), 100.0);
        let p50 = quantile(0.5, ar).expect("observations");
        assert!((p50 - 0.05).abs() < 1e-9, "{p50}");
        let p25 = quantile(0.25, ar).expect("observations");
        assert!((p25 - 0.03).abs() < 1e-9, "{p25}");
        let p70 = quantile(0.7, ar).expect("observations");
        assert!((p70 - 0.075).abs() < 1e-9, "{p70}");
        // In the +Inf bucket: the highest finite bound, only a lower bound then.
        assert_eq!(quantile(0.99, ar), Some(0.1));
        assert_eq!(highest_finite(ar), Some(0.1));

        // review->acceptance is new since `before`: all 100 in (10, 50] ms.
        let ra = &routes["review->acceptance"];
        let p99 = quantile(0.99, ra).expect("observations");
        assert!((p99 - 0.0496).abs() < 1e-9, "{p99}");

        let all = delta.group_by(|_| String::new());
        assert_eq!(count(&all[""]), 200.0);
        let p50 = quantile(0.5, &all[""]).expect("observations");
        assert!(p50 > 0.01 && p50 < 0.05, "{p50}");
    }

    #[test]
    fn no_observations_have_no_quantile() {
        let same = parse(AFTER, METRIC).since(&parse(AFTER, METRIC));
        let all = same.group_by(|_| String::new());
        assert_eq!(quantile(0.5, &all[""]), None);
    }

    #[test]
    fn a_series_served_by_two_endpoints_counts_once() {
        let mut both = Buckets::default();
        both.add_first(parse(AFTER, METRIC));
        both.add_first(parse(AFTER, METRIC));
        let all = both.group_by(|_| String::new());
        assert_eq!(count(&all[""]), 220.0);
    }

    #[test]
    fn quoted_label_values_may_hold_braces_commas_and_escapes() {
        let text = r#"m_bucket{a="x}y",b="q\"r,s",le="1"} 3"#;
        let parsed = parse(text, "m");
        let (labels, buckets) = parsed.0.iter().next().expect("one series");
        assert_eq!(
            labels,
            &vec![
                ("a".to_string(), "x}y".to_string()),
                ("b".to_string(), "q\"r,s".to_string())
            ]
        );
        assert_eq!(buckets[&Bound(1.0)], 3.0);
    }
}
