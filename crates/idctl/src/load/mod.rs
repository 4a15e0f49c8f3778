//! `idctl load`: a load generator against a running stack (issue 9).
//!
//! Four scenarios, each prepared before the clock starts:
//!
//! - `submit`: `SubmitApplication` only, one distinct citizen per call;
//! - `flow`: each application from the counter to collection, the generator acting as
//!   clerk, reviewer and production operator (see [`flow`] for how waits, lost and
//!   duplicated applications are counted);
//! - `verify`: `VerifyCard` over a prepared set of cards the status service holds;
//! - `national-day`: a national peak day (100,000 applications, 30,000 loss reports,
//!   1,000,000 verifications, times `--scale`) replayed as fast as the stack takes it,
//!   reviewed by every province's bureau, with the peak backlog ([`day`]).
//!
//! The applicants are synthetic citizens with valid numbers, spread over every province
//! the routing table serves, imported into the household register first
//! ([`citizens`]). Latencies go into HDR histograms; the summary prints as text or as
//! one JSON line (`--json`).

mod citizens;
mod day;
mod flow;
mod host;
mod recorder;
mod relay_lag;
mod submit;
mod summary;
mod verify;

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use idcard_auth::{ALL_SCOPE, Issuer, Role};
use idctl::client::Authed;
use idctl::security::DevSecurity;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::endpoints::Endpoints;

pub use idcard_server::code_name;
pub use recorder::Recorder;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// What to load the stack with.
    #[arg(long, value_enum)]
    pub scenario: Scenario,
    /// Calls in flight at once. For `flow`: applications in flight, each with at most one
    /// call outstanding.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub concurrency: u32,
    /// How long to run, e.g. `30s` (default 10s unless --count is given).
    #[arg(long, value_parser = humantime::parse_duration, conflicts_with = "count")]
    pub duration: Option<Duration>,
    /// How many operations to make: submissions, applications (flow) or verifications.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub count: Option<u64>,
    /// Print the summary as one JSON line on stdout (no progress bar, no notes).
    #[arg(long)]
    pub json: bool,
    /// HTTP/2 connections to each service; calls are spread over them.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub connections: u32,
    /// Citizens to prepare (submit, flow) or cards (verify). Default: --count (at most
    /// 10,000 cards for verify), or an estimate for --duration; a run that uses every
    /// citizen up stops early and says so.
    #[arg(long)]
    pub pool: Option<u64>,
    /// Distinct verifier tokens for `verify`: the status service limits each token's
    /// rate, as it would each bank's.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub verifiers: u32,
    /// verify: call VerifyCard with generated cards that were never imported (a real
    /// status service answers NO_MATCH), without touching the review service: for
    /// measuring the empty-handler ceiling (`idctl load --scenario verify --no-prepare
    /// --status-url` the address of `idctl ceiling`).
    #[arg(long)]
    pub no_prepare: bool,
    /// Bytes of the applicant photo sent with each application (an ID photo is about
    /// 16 KiB).
    #[arg(long, default_value_t = 16 * 1024)]
    pub photo_bytes: usize,
    /// After the last application is started, how long the ones in flight may take to
    /// reach collection before they count as lost (flow); also how long the preparation
    /// waits for the status service to hold the imported cards.
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    pub settle: Duration,
    /// flow: how often the generator lists applications and jobs waiting on it.
    #[arg(long, default_value = "20ms", value_parser = humantime::parse_duration)]
    pub poll_interval: Duration,
    /// national-day: the share of a national peak day to replay: 1 is 100,000
    /// applications, 30,000 loss reports and 1,000,000 verifications (--count and
    /// --duration do not apply).
    #[arg(long, default_value_t = 1.0, value_parser = scale)]
    pub scale: f64,
    /// Prometheus endpoints (`http://HOST:PORT/metrics` on the services' plaintext probe
    /// ports) to read the outbox relay lag from, before and after the run. Repeat or
    /// separate with commas.
    #[arg(long = "metrics-url", env = "IDCARD_METRICS_URLS", value_delimiter = ',')]
    pub metrics_urls: Vec<String>,
    /// Without --metrics-url: the stack's probe ports, as given to `idctl up
    /// --probe-ports`, on the acceptance URL's host. Default: `idctl up`'s own probe
    /// ports when the acceptance service is on its default port.
    #[arg(long, env = "IDCARD_PROBE_PORTS", value_delimiter = ',')]
    pub probe_ports: Vec<u16>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    /// SubmitApplication only.
    Submit,
    /// Submit, review approval, quality check, dispatch, arrival and collection.
    Flow,
    /// VerifyCard over a prepared set of cards.
    Verify,
    /// A national peak day compressed: applications to collection, loss reports and
    /// verifications in the day's proportions, over every province's bureau.
    NationalDay,
}

impl Scenario {
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Submit => "submit",
            Scenario::Flow => "flow",
            Scenario::Verify => "verify",
            Scenario::NationalDay => "national-day",
        }
    }
}

/// When a run stops: after `count` operations, or at a deadline, or when the prepared
/// pool is used up.
pub struct Plan {
    count: Option<u64>,
    duration: Option<Duration>,
    pool: u64,
    /// Whether operations past the pool wrap around (verify reuses its cards).
    wrap: bool,
    started: Instant,
    issued: AtomicU64,
    /// Set once no further operation will be handed out.
    done: AtomicBool,
    exhausted: AtomicBool,
    done_notify: tokio::sync::Notify,
    /// Operations finished (for the progress bar).
    pub finished: AtomicU64,
    /// Failed calls (for the progress bar).
    pub failed: AtomicU64,
}

impl Plan {
    fn new(count: Option<u64>, duration: Option<Duration>, pool: u64, wrap: bool) -> Plan {
        Plan {
            count,
            duration,
            pool,
            wrap,
            started: Instant::now(),
            issued: AtomicU64::new(0),
            done: AtomicBool::new(false),
            exhausted: AtomicBool::new(false),
            done_notify: tokio::sync::Notify::new(),
            finished: AtomicU64::new(0),
            failed: AtomicU64::new(0),
        }
    }

    /// Starts the clock (after preparation).
    fn start(&mut self) {
        self.started = Instant::now();
    }

    /// The next operation's index into the pool, or `None` when the run is over. Handing
    /// out the last operation ends the run at once (see [`Plan::ended`]).
    pub fn next(&self) -> Option<u64> {
        self.next_ticket().map(|(_, index)| index)
    }

    /// The next operation as (its place in the run, its index into the pool).
    pub fn next_ticket(&self) -> Option<(u64, u64)> {
        if self.done.load(Ordering::Acquire) {
            return None;
        }
        if self.duration.is_some_and(|d| self.started.elapsed() >= d) {
            self.finish();
            return None;
        }
        let by_pool = (!self.wrap).then_some(self.pool);
        let limit = match (self.count, by_pool) {
            (Some(count), Some(pool)) => Some(count.min(pool)),
            (count, pool) => count.or(pool),
        };
        let ticket = self.issued.fetch_add(1, Ordering::AcqRel);
        if let Some(limit) = limit {
            if ticket >= limit {
                self.finish();
                return None;
            }
            if ticket + 1 == limit {
                // The pool, not the count, ends the run: say so in the summary.
                if by_pool == Some(limit) && self.count.is_none_or(|count| count > limit) {
                    self.exhausted.store(true, Ordering::Release);
                }
                self.finish();
            }
        }
        Some((ticket, ticket % self.pool.max(1)))
    }

    fn finish(&self) {
        if !self.done.swap(true, Ordering::AcqRel) {
            self.done_notify.notify_waiters();
        }
    }

    /// Resolves once no further operation will be handed out.
    pub async fn ended(&self) {
        loop {
            let notified = self.done_notify.notified();
            if self.done.load(Ordering::Acquire) {
                return;
            }
            // A deadline passes without anyone asking for a ticket.
            let left = self
                .duration
                .map(|d| d.saturating_sub(self.started.elapsed()))
                .unwrap_or(Duration::from_secs(3600));
            tokio::select! {
                _ = notified => {}
                _ = tokio::time::sleep(left.max(Duration::from_millis(1))) => {
                    if self.duration.is_some_and(|d| self.started.elapsed() >= d) {
                        self.finish();
                    }
                }
            }
        }
    }

    /// Operations handed out so far.
    pub fn handed_out(&self) -> u64 {
        let issued = self.issued.load(Ordering::Acquire);
        match self.count {
            Some(count) => issued.min(count),
            None => issued,
        }
    }

    pub fn exhausted(&self) -> bool {
        self.exhausted.load(Ordering::Acquire)
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }
}

/// Clients of the stack as the generator's roles, over several connections.
pub struct Context {
    pub args: Args,
    pub endpoints: Endpoints,
    /// `None` when the stack runs insecure (no tokens).
    issuer: Option<Issuer>,
    /// This run's acceptance point: every application of the run is taken there, so
    /// that listings find exactly the run's applications.
    pub point: String,
    /// Tells this run's request ids, citizens and point from other runs'.
    pub run_id: u64,
    pub quiet: bool,
    /// Where the services' Prometheus text is (none: relay lag is not available).
    pub metrics_urls: Vec<String>,
}

/// How long the generator's tokens live: the run, its preparation and its settling.
const TOKEN_TTL: Duration = Duration::from_secs(4 * 3600);

impl Context {
    /// A token for `role` (`None` when insecure).
    pub fn token(&self, subject: &str, role: Role, scope: &[&str]) -> anyhow::Result<Option<String>> {
        match &self.issuer {
            None => Ok(None),
            Some(issuer) => issuer
                .issue(subject, role, scope.iter().map(|s| s.to_string()).collect(), TOKEN_TTL)
                .map(Some)
                .context("signing a token"),
        }
    }

    /// `connections` channels to `url`, each carrying `token`.
    pub async fn channels(&self, url: &str, token: Option<&str>) -> anyhow::Result<Vec<Authed>> {
        let mut channels = Vec::new();
        for _ in 0..self.args.connections {
            channels.push(self.endpoints.channel(url, token).await?);
        }
        Ok(channels)
    }

    /// The generator's reviewer, of every jurisdiction.
    pub fn reviewer(&self) -> String {
        format!("load-reviewer-{:x}", self.run_id)
    }

    /// `connections` channels to the review service as [`Context::reviewer`].
    pub async fn reviewer_channels(&self, connections: u32) -> anyhow::Result<Vec<Authed>> {
        let token = self.token(&self.reviewer(), Role::Reviewer, &[ALL_SCOPE])?;
        let mut channels = Vec::new();
        for _ in 0..connections {
            channels.push(
                self.endpoints
                    .channel(&self.endpoints.review_url, token.as_deref())
                    .await?,
            );
        }
        Ok(channels)
    }

    /// A note on stderr, unless the output is JSON.
    pub fn note(&self, text: &str) {
        if !self.quiet {
            eprintln!("{text}");
        }
    }

    pub fn progress(&self, plan: &Arc<Plan>) -> Progress {
        Progress::start(plan, self.quiet || !std::io::stderr().is_terminal())
    }
}

pub async fn run(args: Args, endpoints: &Endpoints) -> anyhow::Result<ExitCode> {
    let secure = endpoints.acceptance_url.starts_with("https://");
    let issuer = if secure {
        Some(DevSecurity::ensure(&endpoints.data_dir, false)?.issuer()?)
    } else {
        None
    };
    let run_id = run_id();
    let metrics_urls = metrics_urls(&args, endpoints);
    let cx = Context {
        metrics_urls,
        quiet: args.json,
        point: format!("LOAD-{:08X}", run_id & 0xFFFF_FFFF),
        run_id,
        args,
        endpoints: endpoints.clone(),
        issuer,
    };
    let summary = match cx.args.scenario {
        Scenario::Submit => submit::run(&cx).await?,
        Scenario::Flow => flow::run(&cx).await?,
        Scenario::Verify => verify::run(&cx).await?,
        Scenario::NationalDay => day::run(&cx).await?,
    };
    if cx.args.json {
        println!("{}", summary.to_json());
    } else {
        print!("{}", summary.to_text());
    }
    Ok(ExitCode::SUCCESS)
}

/// `--metrics-url`, or the probe ports on the acceptance service's host.
fn metrics_urls(args: &Args, endpoints: &Endpoints) -> Vec<String> {
    if !args.metrics_urls.is_empty() {
        return args.metrics_urls.clone();
    }
    let url = endpoints.acceptance_url.as_str();
    let authority = url
        .split_once("://")
        .map_or(url, |(_, rest)| rest)
        .split('/')
        .next()
        .unwrap_or_default();
    let Some((host, port)) = authority.rsplit_once(':') else {
        return Vec::new();
    };
    let ports = if !args.probe_ports.is_empty() {
        args.probe_ports.clone()
    } else if port.parse::<u16>().ok() == Some(acceptance::DEFAULT_PORT) {
        idctl::stack::PROBE_PORTS.to_vec()
    } else {
        return Vec::new();
    };
    ports
        .into_iter()
        .map(|port| format!("http://{host}:{port}/metrics"))
        .collect()
}

/// `--scale`: a share above 0 and at most 10 days.
fn scale(text: &str) -> Result<f64, String> {
    let scale: f64 = text.parse().map_err(|_| format!("{text:?} is not a number"))?;
    if scale > 0.0 && scale <= 10.0 {
        Ok(scale)
    } else {
        Err("the scale is above 0 and at most 10".to_string())
    }
}

/// A run id from the clock and the random bits of a UUID v7.
fn run_id() -> u64 {
    let uuid = uuid::Uuid::now_v7();
    let bytes = uuid.as_bytes();
    let mut id = 0u64;
    for byte in &bytes[8..16] {
        id = id << 8 | u64::from(*byte);
    }
    id
}

/// The stop rule for a scenario: `--count`, else `--duration` (default 10 s).
fn plan(args: &Args, pool: u64, wrap: bool) -> Plan {
    let duration = match (args.count, args.duration) {
        (Some(_), _) => None,
        (None, Some(d)) => Some(d),
        (None, None) => Some(Duration::from_secs(10)),
    };
    Plan::new(args.count, duration, pool, wrap)
}

/// The pool to prepare: `--pool`, or `--count`, or `per_second` times the duration.
fn pool_size(args: &Args, per_second: u64, at_most: Option<u64>) -> u64 {
    let wanted = match (args.pool, args.count) {
        (Some(pool), _) => pool,
        (None, Some(count)) => count,
        (None, None) => {
            let secs = args.duration.unwrap_or(Duration::from_secs(10)).as_secs_f64();
            (secs * per_second as f64).ceil() as u64
        }
    };
    let wanted = wanted.max(1);
    match (args.pool, at_most) {
        (None, Some(limit)) => wanted.min(limit),
        _ => wanted,
    }
}

/// The progress bar on stderr while a run lasts (hidden for JSON or when stderr is not a
/// terminal).
pub struct Progress {
    bar: ProgressBar,
    ticker: tokio::task::JoinHandle<()>,
}

impl Progress {
    fn start(plan: &Arc<Plan>, hidden: bool) -> Progress {
        let (len, template) = match (plan.count, plan.duration) {
            (Some(count), _) => (count, "{elapsed_precise} [{bar:30}] {pos}/{len} {msg}"),
            (None, Some(d)) => (d.as_millis() as u64, "{elapsed_precise} [{bar:30}] {msg}"),
            (None, None) => (0, "{elapsed_precise} {msg}"),
        };
        let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
        if hidden {
            bar.set_draw_target(ProgressDrawTarget::hidden());
        }
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style.progress_chars("=> "));
        }
        let plan = Arc::clone(plan);
        let ticking = bar.clone();
        let ticker = tokio::spawn(async move {
            loop {
                let finished = plan.finished.load(Ordering::Relaxed);
                let failed = plan.failed.load(Ordering::Relaxed);
                let secs = plan.elapsed().as_secs_f64().max(0.001);
                if plan.count.is_some() {
                    ticking.set_position(finished);
                } else {
                    ticking.set_position((plan.elapsed().as_millis() as u64).min(ticking.length().unwrap_or(0)));
                }
                ticking.set_message(format!(
                    "{finished} done, {:.0}/s, {failed} failed call(s)",
                    finished as f64 / secs
                ));
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        Progress { bar, ticker }
    }

    pub fn finish(self) {
        self.ticker.abort();
        self.bar.finish_and_clear();
    }
}

/// Whether a call that failed with `code` may succeed when repeated with the same
/// request id.
pub fn transient(code: tonic::Code) -> bool {
    use tonic::Code;
    matches!(
        code,
        Code::Unavailable | Code::DeadlineExceeded | Code::Aborted | Code::ResourceExhausted | Code::Unknown
    )
}

/// What a run measured, common to every scenario.
pub struct Measured {
    pub plan: Arc<Plan>,
    pub recorder: Recorder,
    pub prepared: summary::Prepared,
    /// As the clock started, and as it stopped.
    pub before: Readings,
    pub after: Readings,
    /// Operations made.
    pub count: u64,
    /// Operations that succeeded.
    pub ok: u64,
    pub elapsed: Duration,
}

/// Readings taken as the clock starts and as it stops: the stack's processes and the
/// relay-lag histograms.
pub struct Readings {
    pub host: host::Snapshot,
    pub relay: relay_lag::Scrape,
}

impl Readings {
    pub async fn take(cx: &Context) -> Readings {
        Readings {
            host: host::Snapshot::take(&cx.endpoints),
            relay: relay_lag::Scrape::take(&cx.metrics_urls).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_counted_plan_hands_out_count_tickets() {
        let plan = Plan::new(Some(3), None, 10, false);
        let tickets: Vec<_> = std::iter::from_fn(|| plan.next()).collect();
        assert_eq!(tickets, vec![0, 1, 2]);
        assert!(!plan.exhausted());
    }

    #[tokio::test]
    async fn handing_out_the_last_operation_ends_the_plan() {
        let plan = Plan::new(Some(1), None, 10, false);
        assert_eq!(plan.next(), Some(0));
        // A worker still busy with operation 0 must not keep the run from ending.
        tokio::time::timeout(Duration::from_secs(5), plan.ended())
            .await
            .expect("the plan ended");
        assert_eq!(plan.next(), None);
    }

    #[test]
    fn a_plan_stops_at_the_end_of_its_pool_unless_it_wraps() {
        let plan = Plan::new(Some(5), None, 2, false);
        let tickets: Vec<_> = std::iter::from_fn(|| plan.next()).collect();
        assert_eq!(tickets, vec![0, 1]);
        assert!(plan.exhausted());

        let plan = Plan::new(Some(5), None, 2, true);
        let tickets: Vec<_> = std::iter::from_fn(|| plan.next()).collect();
        assert_eq!(tickets, vec![0, 1, 0, 1, 0]);
    }

    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        endpoints: Endpoints,
        #[command(flatten)]
        load: Args,
    }

    fn urls(args: &[&str]) -> Vec<String> {
        use clap::Parser;
        let all = ["idctl", "--scenario", "submit"].iter().chain(args);
        let cli = Cli::try_parse_from(all).expect("arguments parse");
        metrics_urls(&cli.load, &cli.endpoints)
    }

    #[test]
    fn metrics_are_looked_for_on_the_probe_ports_of_the_stack() {
        let given = urls(&["--metrics-url", "http://a:1/metrics,http://b:2/metrics"]);
        assert_eq!(given, vec!["http://a:1/metrics", "http://b:2/metrics"]);
        let ports = urls(&[
            "--acceptance-url",
            "https://127.0.0.1:56051",
            "--probe-ports",
            "56061,56062",
        ]);
        assert_eq!(
            ports,
            vec!["http://127.0.0.1:56061/metrics", "http://127.0.0.1:56062/metrics"]
        );
        // `idctl up`'s defaults go with its default ports only.
        let defaults = urls(&["--acceptance-url", "https://127.0.0.1:50051"]);
        assert_eq!(defaults.len(), 4);
        assert_eq!(defaults[0], "http://127.0.0.1:50061/metrics");
        assert!(urls(&["--acceptance-url", "https://127.0.0.1:56051"]).is_empty());
    }

    #[test]
    fn status_codes_are_named_as_in_metrics() {
        assert_eq!(code_name(tonic::Code::InvalidArgument), "INVALID_ARGUMENT");
        assert_eq!(code_name(tonic::Code::Unavailable), "UNAVAILABLE");
    }
}
