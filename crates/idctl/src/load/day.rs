//! `--scenario national-day`: one national peak day replayed as fast as the stack takes
//! it: 100,000 applications taken to collection, 30,000 loss reports and 1,000,000
//! verifications (times `--scale`), the three streams interleaved in the day's
//! proportions.
//!
//! - **Applications** run as in `flow` (`--concurrency` in flight, each from the counter
//!   to collection), but each is approved by the reviewer of the bureau of its
//!   citizen's province, under a token scoped to that province: the applicants are
//!   domiciled in every mainland province (31 jurisdictions), so the day is routed and
//!   reviewed across all of them.
//! - **Loss reports** are taken at the run's acceptance point for cards the household
//!   register holds; each counts as in effect once `VerifyCard` answers REPORTED_LOST for
//!   it (what a bank sees), polled every `--poll-interval` (at least 50 ms).
//! - **Verifications** go round robin over a set of those cards and others (about
//!   20,000 at scale 1): as the reports take effect their answers turn from VALID to
//!   REPORTED_LOST.
//!
//! The streams keep the day's mix: loss report `j` of `L` waits until `j / L` of the
//! applications have been started, and so do the verifications, so at every moment the
//! stack carries the day's proportions. The day ends when the last application is
//! collected, the last loss report is in effect and the last verification is answered.
//!
//! Backlog: every second the generator reads the services' outbox gauges
//! (`idcard_outbox_pending`, `idcard_outbox_oldest_pending_age_seconds`, which the
//! services sample every 5 s) and counts the applications waiting on it at each stage;
//! the summary gives the peaks and how long the outboxes took to empty after the day.
//!
//! Counted after the day, outside the clock: applications lost or duplicated (as in
//! `flow`); loss reports the acceptance service does not show in effect (`ACTIVE`), the
//! ones refused, and second reports of one card.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use hdrhistogram::Histogram;
use idcard_auth::Role;
use idcard_proto::v1 as pb;
use idcard_proto::v1::acceptance_service_client::AcceptanceServiceClient;
use idcard_proto::v1::card_status_service_client::CardStatusServiceClient;
use idcard_proto::v1::review_service_client::ReviewServiceClient;
use idctl::client::{Authed, Bearer};
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use super::citizens::Pool;
use super::flow::{self, Jurisdiction, Jurisdictions, Roles, Waiting};
use super::recorder::{self, Latency, round3};
use super::relay_lag;
use super::summary::Summary;
use super::{Context, Plan, Readings, Recorder, verify};
use crate::print;

/// A national peak day at scale 1.
const APPLICATIONS: f64 = 100_000.0;
const LOSS_REPORTS: f64 = 30_000.0;
const VERIFICATIONS: f64 = 1_000_000.0;
/// Cards verified besides the ones reported lost, at scale 1.
const OTHER_CARDS: f64 = 20_000.0;

const REPORT_LOSS: &str = "AcceptanceService/ReportLoss";
/// VerifyCard calls that wait for a loss report to take effect.
const LOSS_CHECK: &str = "CardStatusService/VerifyCard (loss report in effect?)";
const GET_LOSS_REPORT: &str = "AcceptanceService/GetLossReport";
const ATTEMPTS: u32 = 5;

const PENDING: &str = "idcard_outbox_pending";
const OLDEST: &str = "idcard_outbox_oldest_pending_age_seconds";
/// How often the backlog is read.
const SAMPLE_EVERY: Duration = Duration::from_secs(1);
/// Backlog readings kept for the JSON summary (evenly spaced over the day).
const TIMELINE_POINTS: usize = 60;

/// The day's volumes at a scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Volumes {
    pub applications: u64,
    pub loss_reports: u64,
    pub verifications: u64,
    /// Cards verified: the ones reported lost first, then others.
    pub cards: u64,
}

impl Volumes {
    pub fn at(scale: f64) -> Volumes {
        let of = |n: f64| ((n * scale).round() as u64).max(1);
        let loss_reports = of(LOSS_REPORTS);
        Volumes {
            applications: of(APPLICATIONS),
            loss_reports,
            verifications: of(VERIFICATIONS),
            cards: loss_reports + of(OTHER_CARDS),
        }
    }
}

/// Lets the other streams keep pace with the applications: operation `j` of `total`
/// waits until `j / total` of the applications were started.
#[derive(Clone)]
struct Pace {
    started: watch::Receiver<u64>,
    applications: u64,
}

impl Pace {
    /// Publishes the applications started every 10 ms until all were.
    fn follow(plan: &Arc<Plan>, applications: u64) -> (Pace, tokio::task::JoinHandle<()>) {
        let (tx, rx) = watch::channel(0);
        let plan = Arc::clone(plan);
        let task = tokio::spawn(async move {
            loop {
                let started = plan.handed_out();
                tx.send_replace(started);
                if started >= applications {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        });
        (
            Pace {
                started: rx,
                applications,
            },
            task,
        )
    }

    async fn wait(&mut self, j: u64, total: u64) {
        let due =
            |started: &u64| u128::from(j) * u128::from(self.applications) <= u128::from(*started) * u128::from(total);
        // The sender stops once every application was started: then nothing waits.
        let _ = self.started.wait_for(due).await;
    }
}

pub async fn run(cx: &Context) -> anyhow::Result<Summary> {
    let volumes = Volumes::at(cx.args.scale);
    let pool = Arc::new(Pool::new(cx.run_id, volumes.applications + volumes.cards));
    cx.note(&format!(
        "national day at scale {}: {} applications, {} loss reports, {} verifications over {} cards",
        cx.args.scale, volumes.applications, volumes.loss_reports, volumes.verifications, volumes.cards
    ));
    let prepared = super::submit::prepare(cx, &pool).await?;
    let roles = Roles::connect(cx).await?;
    let jurisdictions = bureaus(cx, &pool).await?;
    let provinces = jurisdictions.len();
    let status = verify::channels(cx).await?;
    let tokens = Arc::new(verify::verifier_tokens(cx)?);
    let cards: Arc<Vec<pb::VerifyCardRequest>> = Arc::new(
        (0..volumes.cards)
            .map(|k| pool.citizen(volumes.applications + k).map(|c| c.verify_request()))
            .collect::<anyhow::Result<_>>()?,
    );

    let mut applications = Plan::new(Some(volumes.applications), None, volumes.applications, false);
    let mut losses = Plan::new(Some(volumes.loss_reports), None, volumes.loss_reports, false);
    let mut verifications = Plan::new(Some(volumes.verifications), None, volumes.cards, true);
    let before = Readings::take(cx).await;
    for plan in [&mut applications, &mut losses, &mut verifications] {
        plan.start();
    }
    let day_started = Instant::now();
    let (applications, losses, verifications) = (Arc::new(applications), Arc::new(losses), Arc::new(verifications));
    let progress = cx.progress(&applications);
    let (pace, pacer) = Pace::follow(&applications, volumes.applications);
    let (waiting_tx, waiting_rx) = tokio::sync::oneshot::channel();
    let stop_sampling = CancellationToken::new();
    let sampler = tokio::spawn(sample(
        cx.metrics_urls.clone(),
        waiting_rx,
        day_started,
        stop_sampling.clone(),
    ));

    let loss_stream = LossStream {
        plan: Arc::clone(&losses),
        pool: Arc::clone(&pool),
        first_card: volumes.applications,
        point: cx.point.clone(),
        tokens: Arc::clone(&tokens),
        poll: cx.args.poll_interval.max(Duration::from_millis(50)),
        give_up: CancellationToken::new(),
    };
    let loss_workers = (cx.args.concurrency / 4).max(1) as usize;
    let (driven, losses_seen, verified) = tokio::join!(
        flow::drive(cx, &roles, &applications, &pool, jurisdictions, Some(waiting_tx)),
        loss_stream.run(cx, &roles, &status, &pace, loss_workers),
        verify_stream(
            &verifications,
            &cards,
            &status,
            &tokens,
            &pace,
            cx.args.concurrency as usize
        ),
    );
    pacer.abort();
    let (driven, losses_seen, verified) = (driven?, losses_seen?, verified?);
    progress.finish();
    let day_ended = [
        Some(driven.last_collected()),
        losses_seen.last_in_effect,
        verified.last_answer,
    ]
    .into_iter()
    .flatten()
    .max()
    .unwrap_or_else(Instant::now);
    let after = Readings::take(cx).await;
    cx.note("  the day is over: waiting for the outboxes to empty");
    let drained = drain(&cx.metrics_urls, cx.args.settle)
        .await
        .map(|at| at.duration_since(day_ended));
    stop_sampling.cancel();
    let backlog = sampler.await.context("the backlog sampler")?;

    // Outside the clock: what the services say happened.
    let audit = audit_reports(cx, &roles, &losses_seen.numbers).await?;

    let flow::Driven { report, .. } = driven;
    let collected_by_province: Vec<u64> = report.by_province.values().copied().collect();
    let mut others = losses_seen.recorder;
    others.merge(verified.recorder);
    let elapsed = day_ended.saturating_duration_since(day_started);
    let mut summary = flow::summarize(
        cx,
        &roles,
        Arc::clone(&applications),
        report,
        others,
        prepared,
        [before, after],
        elapsed,
    )
    .await?;

    let secs = elapsed.as_secs_f64().max(0.001);
    summary.extra(
        "day",
        json!({
            "scale": cx.args.scale,
            "applications": volumes.applications,
            "loss_reports": volumes.loss_reports,
            "verifications": volumes.verifications,
            "cards": volumes.cards,
            "duration_s": round3(secs),
        }),
        format!(
            "the day: {} applications, {} loss reports, {} verifications in {}",
            volumes.applications,
            volumes.loss_reports,
            volumes.verifications,
            minutes(elapsed)
        ),
    );
    let per_province = collected_by_province;
    summary.extra(
        "jurisdictions",
        json!({
            "bureaus": provinces,
            "with_collected_applications": per_province.len(),
            "collected_min": per_province.iter().min(),
            "collected_max": per_province.iter().max(),
        }),
        format!(
            "jurisdictions: {} provincial bureaus reviewed; collected per province {}..{}",
            per_province.len(),
            per_province.iter().min().unwrap_or(&0),
            per_province.iter().max().unwrap_or(&0)
        ),
    );
    let in_effect = Latency::of(&losses_seen.in_effect);
    summary.extra(
        "loss_reports",
        json!({
            "taken": losses_seen.numbers.len(),
            "in_effect": losses_seen.in_effect.len(),
            "in_effect_latency": in_effect.to_json(),
            "active_at_acceptance": audit.active,
            "not_in_effect": audit.not_active.len(),
            "refused": audit.refused,
            "duplicated": audit.duplicated,
            "failed": losses_seen.failed,
            "per_s": round3(losses_seen.numbers.len() as f64 / secs),
        }),
        format!(
            "loss reports: {} taken ({:.1}/s), {} in effect (report to REPORTED_LOST p50 {:.0} ms, p99 {:.0} ms), \
             {} shown active at the point, not in effect {}, refused {}, duplicated {}, failed {}",
            losses_seen.numbers.len(),
            losses_seen.numbers.len() as f64 / secs,
            losses_seen.in_effect.len(),
            in_effect.p50_ms,
            in_effect.p99_ms,
            audit.active,
            audit.not_active.len(),
            audit.refused,
            audit.duplicated,
            losses_seen.failed
        ),
    );
    if !audit.not_active.is_empty() {
        summary.note(format!(
            "loss reports not in effect after --settle:{}",
            flow::reasons(audit.not_active.values().map(|state| print::loss_state_name(*state)))
        ));
    }
    summary.extra(
        "verifications",
        json!({
            "count": verified.count,
            "ok": verified.ok,
            "per_s": round3(verified.ok as f64 / secs),
            "answers": verified.answers,
        }),
        format!(
            "verifications: {} answered ({:.0}/s): {}",
            verified.ok,
            verified.ok as f64 / secs,
            verified
                .answers
                .iter()
                .map(|(answer, n)| format!("{answer} {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    );
    let (backlog_json, backlog_line) = backlog.describe(drained);
    summary.extra("backlog", backlog_json, backlog_line);
    Ok(summary)
}

/// "12 min 5.3 s".
fn minutes(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs < 60.0 {
        format!("{secs:.1} s")
    } else {
        format!("{} min {:.1} s", (secs / 60.0).floor(), secs % 60.0)
    }
}

/// One reviewer per province of the pool, each with a token scoped to its province,
/// over `--connections` channels to the review service.
async fn bureaus(cx: &Context, pool: &Pool) -> anyhow::Result<Jurisdictions> {
    let url = &cx.endpoints.review_url;
    let ca = cx.endpoints.ca();
    let mut channels: Vec<Channel> = Vec::new();
    for _ in 0..cx.args.connections {
        channels.push(
            idctl::client::endpoint(url, ca.as_deref())?
                .connect()
                .await
                .map_err(|err| anyhow::anyhow!("cannot connect to {url}: {err} (is the stack up? `idctl up`)"))?,
        );
    }
    let mut out = Jurisdictions::new();
    for province in pool.province_codes() {
        let reviewer = format!("load-bureau-{province:02}-{:x}", cx.run_id);
        let token = cx.token(&reviewer, Role::Reviewer, &[&format!("{province:02}")])?;
        let clients = channels
            .iter()
            .map(|channel| {
                let bearer = Bearer::new(token.as_deref())?;
                anyhow::Ok(ReviewServiceClient::new(InterceptedService::new(
                    channel.clone(),
                    bearer,
                )))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        out.insert(province, Jurisdiction { reviewer, clients });
    }
    Ok(out)
}

/// The loss reports of the day.
struct LossStream {
    plan: Arc<Plan>,
    pool: Arc<Pool>,
    /// Pool index of the first card (the applicants come before).
    first_card: u64,
    point: String,
    tokens: Arc<Vec<MetadataValue<Ascii>>>,
    poll: Duration,
    /// Cancelled `--settle` after the last report was taken: waits give up.
    give_up: CancellationToken,
}

/// What the loss-report workers saw.
struct LossesSeen {
    recorder: Recorder,
    /// Report numbers of the reports taken.
    numbers: Vec<String>,
    /// Report sent to VerifyCard answering REPORTED_LOST.
    in_effect: Histogram<u64>,
    last_in_effect: Option<Instant>,
    /// Reports the point did not take (the call failed for good).
    failed: u64,
}

impl LossesSeen {
    fn new() -> LossesSeen {
        LossesSeen {
            recorder: Recorder::default(),
            numbers: Vec::new(),
            in_effect: recorder::histogram(),
            last_in_effect: None,
            failed: 0,
        }
    }

    fn merge(&mut self, other: LossesSeen) {
        self.recorder.merge(other.recorder);
        self.numbers.extend(other.numbers);
        let _ = self.in_effect.add(&other.in_effect);
        self.last_in_effect = self.last_in_effect.max(other.last_in_effect);
        self.failed += other.failed;
    }
}

impl LossStream {
    async fn run(
        self,
        cx: &Context,
        roles: &Roles,
        status: &[Channel],
        pace: &Pace,
        workers: usize,
    ) -> anyhow::Result<LossesSeen> {
        let this = Arc::new(self);
        let give_up = tokio::spawn({
            let (plan, token, settle) = (Arc::clone(&this.plan), this.give_up.clone(), cx.args.settle);
            async move {
                plan.ended().await;
                tokio::time::sleep(settle).await;
                token.cancel();
            }
        });
        let mut set = JoinSet::new();
        for w in 0..workers {
            let acceptance = AcceptanceServiceClient::new(roles.acceptance()[w % roles.acceptance().len()].clone());
            let status = CardStatusServiceClient::new(status[w % status.len()].clone());
            set.spawn(Arc::clone(&this).worker(w, acceptance, status, pace.clone()));
        }
        let mut seen = LossesSeen::new();
        while let Some(joined) = set.join_next().await {
            seen.merge(joined??);
        }
        give_up.abort();
        Ok(seen)
    }

    async fn worker(
        self: Arc<Self>,
        w: usize,
        acceptance: AcceptanceServiceClient<Authed>,
        mut status: CardStatusServiceClient<Channel>,
        mut pace: Pace,
    ) -> anyhow::Result<LossesSeen> {
        let mut seen = LossesSeen::new();
        let mut turn = w;
        let total = self.plan.count.unwrap_or(1);
        while let Some(k) = self.plan.next() {
            pace.wait(k, total).await;
            let citizen = self.pool.citizen(self.first_card + k)?;
            let request = citizen.loss_request(&self.point);
            let sent = Instant::now();
            let taken = seen
                .recorder
                .call_retrying(&self.plan, REPORT_LOSS, ATTEMPTS, || {
                    let (mut client, request) = (acceptance.clone(), request.clone());
                    async move { client.report_loss(request).await }
                })
                .await;
            let number = match taken {
                Ok(answer) => {
                    answer
                        .report
                        .context("ReportLoss answered without the report")?
                        .report_number
                }
                Err(_) => {
                    seen.failed += 1;
                    self.plan.finished.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
            };
            seen.numbers.push(number);
            // In effect once a bank is told the card is reported lost.
            let check = citizen.verify_request();
            loop {
                turn += 1;
                let token = self.tokens.get(turn % self.tokens.len().max(1));
                let answer = seen
                    .recorder
                    .call(
                        &self.plan,
                        LOSS_CHECK,
                        status.verify_card(verify::request_with(check.clone(), token)),
                    )
                    .await;
                if answer.is_ok_and(|a| a.answer == i32::from(pb::VerificationAnswer::ReportedLost)) {
                    recorder::add(&mut seen.in_effect, sent.elapsed());
                    seen.last_in_effect = Some(Instant::now());
                    break;
                }
                tokio::select! {
                    _ = tokio::time::sleep(self.poll) => {}
                    _ = self.give_up.cancelled() => break,
                }
            }
            self.plan.finished.fetch_add(1, Ordering::Relaxed);
        }
        Ok(seen)
    }
}

/// What the verification workers saw.
#[derive(Default)]
struct Verified {
    recorder: Recorder,
    count: u64,
    ok: u64,
    answers: BTreeMap<&'static str, u64>,
    last_answer: Option<Instant>,
}

/// The day's verifications, round robin over the cards, each carrying one of the
/// verifier tokens in turn.
async fn verify_stream(
    plan: &Arc<Plan>,
    cards: &Arc<Vec<pb::VerifyCardRequest>>,
    status: &[Channel],
    tokens: &Arc<Vec<MetadataValue<Ascii>>>,
    pace: &Pace,
    workers: usize,
) -> anyhow::Result<Verified> {
    let total = plan.count.unwrap_or(1);
    let mut set = JoinSet::new();
    for w in 0..workers {
        let mut client = CardStatusServiceClient::new(status[w % status.len()].clone());
        let (plan, cards, tokens, mut pace) = (Arc::clone(plan), Arc::clone(cards), Arc::clone(tokens), pace.clone());
        set.spawn(async move {
            let mut seen = Verified::default();
            while let Some((ticket, i)) = plan.next_ticket() {
                pace.wait(ticket, total).await;
                let token = tokens.get((w + seen.count as usize * workers) % tokens.len().max(1));
                let request = verify::request_with(cards[i as usize].clone(), token);
                if let Ok(answer) = seen
                    .recorder
                    .call(&plan, verify::METHOD, client.verify_card(request))
                    .await
                {
                    seen.ok += 1;
                    *seen.answers.entry(print::verification(answer.answer)).or_insert(0) += 1;
                    seen.last_answer = Some(Instant::now());
                }
                seen.count += 1;
                plan.finished.fetch_add(1, Ordering::Relaxed);
            }
            seen
        });
    }
    let mut out = Verified::default();
    while let Some(joined) = set.join_next().await {
        let seen = joined?;
        out.recorder.merge(seen.recorder);
        out.count += seen.count;
        out.ok += seen.ok;
        for (answer, n) in seen.answers {
            *out.answers.entry(answer).or_insert(0) += n;
        }
        out.last_answer = out.last_answer.max(seen.last_answer);
    }
    Ok(out)
}

/// The peaks of the backlog over the day.
#[derive(Debug, Default)]
struct Backlog {
    readings: u64,
    /// (seconds into the day, messages pending in every outbox).
    timeline: Vec<(f64, f64)>,
    peak_pending: f64,
    peak_pending_at_s: f64,
    /// `service->destination` -> peak pending.
    peak_by_route: BTreeMap<String, f64>,
    peak_oldest_s: f64,
    /// Stage -> most applications waiting there at once.
    peak_waiting: BTreeMap<&'static str, usize>,
    /// Whether any endpoint gave outbox gauges.
    gauges_seen: bool,
}

impl Backlog {
    fn record(&mut self, at_s: f64, gauges: &relay_lag::Gauges) {
        self.readings += 1;
        if let Some(pending) = gauges.get(PENDING).filter(|g| !g.is_empty()) {
            self.gauges_seen = true;
            let total: f64 = pending.values().sum();
            self.timeline.push((round3(at_s), total));
            if total > self.peak_pending {
                self.peak_pending = total;
                self.peak_pending_at_s = round3(at_s);
            }
            for (labels, value) in pending {
                let peak = self.peak_by_route.entry(route(labels)).or_insert(0.0);
                *peak = peak.max(*value);
            }
        }
        if let Some(oldest) = gauges.get(OLDEST) {
            let max = oldest.values().copied().fold(0.0, f64::max);
            self.peak_oldest_s = self.peak_oldest_s.max(max);
        }
    }

    fn record_waiting(&mut self, waiting: &Waiting) {
        for (stage, n) in waiting.now() {
            let peak = self.peak_waiting.entry(stage).or_insert(0);
            *peak = (*peak).max(n);
        }
    }

    /// Every `len / TIMELINE_POINTS`-th reading.
    fn timeline(&self) -> Vec<Value> {
        let step = self.timeline.len().div_ceil(TIMELINE_POINTS).max(1);
        self.timeline
            .iter()
            .step_by(step)
            .map(|(at, pending)| json!([at, pending]))
            .collect()
    }

    fn describe(&self, drained: Option<Duration>) -> (Value, String) {
        let drained_s = drained.map(|d| round3(d.as_secs_f64()));
        let value = json!({
            "readings": self.readings,
            "peak_outbox_pending": self.peak_pending,
            "peak_outbox_pending_at_s": self.peak_pending_at_s,
            "peak_outbox_pending_by_route": self.peak_by_route,
            "peak_oldest_pending_s": round3(self.peak_oldest_s),
            "peak_applications_waiting": self.peak_waiting,
            "outboxes_empty_after_day_s": drained_s,
            "timeline": self.timeline(),
        });
        let line = if self.gauges_seen {
            let routes = self
                .peak_by_route
                .iter()
                .filter(|(_, peak)| **peak > 0.0)
                .map(|(route, peak)| format!("{route} {peak:.0}"))
                .collect::<Vec<_>>()
                .join(", ");
            format!(
                "backlog: peak {:.0} messages in the outboxes at {:.0} s ({routes}); oldest waiting {:.1} s at worst; \
                 outboxes empty {} after the day",
                self.peak_pending,
                self.peak_pending_at_s,
                self.peak_oldest_s,
                drained_s.map_or("not within --settle".to_string(), |s| format!("{s:.1} s"))
            )
        } else {
            "backlog: no outbox gauges (pass --metrics-url or --probe-ports)".to_string()
        };
        let waiting = self
            .peak_waiting
            .iter()
            .map(|(stage, n)| format!("{stage} {n}"))
            .collect::<Vec<_>>()
            .join(", ");
        (value, format!("{line}; applications waiting at most: {waiting}"))
    }
}

/// `service->destination` of a gauge's labels.
fn route(labels: &[(String, String)]) -> String {
    let get = |key: &str| labels.iter().find(|(k, _)| k == key).map_or("?", |(_, v)| v.as_str());
    format!("{}->{}", get("service"), get("destination"))
}

/// Reads the backlog every second until stopped.
async fn sample(
    urls: Vec<String>,
    waiting: tokio::sync::oneshot::Receiver<Waiting>,
    started: Instant,
    stop: CancellationToken,
) -> Backlog {
    let mut backlog = Backlog::default();
    let waiting = waiting.await.ok();
    loop {
        if let Some(gauges) = relay_lag::gauges(&urls, &[PENDING, OLDEST]).await {
            backlog.record(started.elapsed().as_secs_f64(), &gauges);
        }
        if let Some(waiting) = &waiting {
            backlog.record_waiting(waiting);
        }
        tokio::select! {
            _ = tokio::time::sleep(SAMPLE_EVERY) => {}
            _ = stop.cancelled() => return backlog,
        }
    }
}

/// Waits until every outbox gauge reads 0 (two readings in a row, the gauges being
/// sampled by the services); when, or `None` without gauges or within `settle`. A
/// reading no endpoint answered is skipped.
async fn drain(urls: &[String], settle: Duration) -> Option<Instant> {
    let deadline = Instant::now() + settle;
    let mut empty_since: Option<Instant> = None;
    let mut readings_empty = 0;
    while !urls.is_empty() && Instant::now() < deadline {
        if let Some(gauges) = relay_lag::gauges(urls, &[PENDING]).await {
            let pending = gauges.get(PENDING).filter(|g| !g.is_empty())?;
            if pending.values().sum::<f64>() == 0.0 {
                empty_since.get_or_insert_with(Instant::now);
                readings_empty += 1;
                if readings_empty >= 2 {
                    return empty_since;
                }
            } else {
                empty_since = None;
                readings_empty = 0;
            }
        }
        tokio::time::sleep(SAMPLE_EVERY).await;
    }
    None
}

/// What the acceptance service shows of the day's loss reports.
struct ReportAudit {
    active: u64,
    refused: u64,
    /// Second reports of a card already reported.
    duplicated: u64,
    /// Report number -> state, for reports not in effect.
    not_active: BTreeMap<String, i32>,
}

/// Reads every report back until it shows in effect (`ACTIVE`) or refused, for at most
/// `--settle`.
async fn audit_reports(cx: &Context, roles: &Roles, numbers: &[String]) -> anyhow::Result<ReportAudit> {
    let plan = Arc::new(Plan::new(None, None, 0, false));
    let deadline = Instant::now() + cx.args.settle;
    let mut audit = ReportAudit {
        active: 0,
        refused: 0,
        duplicated: 0,
        not_active: BTreeMap::new(),
    };
    let mut open: Vec<String> = numbers.to_vec();
    loop {
        let chunks = open.chunks(open.len().div_ceil(cx.args.concurrency as usize).max(1));
        let mut set = JoinSet::new();
        for (w, chunk) in chunks.enumerate() {
            let mut client = AcceptanceServiceClient::new(roles.acceptance()[w % roles.acceptance().len()].clone());
            let (chunk, plan) = (chunk.to_vec(), Arc::clone(&plan));
            set.spawn(async move {
                let mut rec = Recorder::default();
                let mut states = Vec::new();
                for number in chunk {
                    let request = pb::GetLossReportRequest {
                        report_number: number.clone(),
                    };
                    let report = rec
                        .call(&plan, GET_LOSS_REPORT, client.get_loss_report(request))
                        .await
                        .map_err(|s| anyhow::Error::from(s).context("reading a loss report back"))?
                        .report
                        .unwrap_or_default();
                    states.push((number, report.state, !report.same_as_report_number.is_empty()));
                }
                anyhow::Ok(states)
            });
        }
        let mut still_open = Vec::new();
        audit.not_active.clear();
        while let Some(joined) = set.join_next().await {
            for (number, state, second) in joined?? {
                if state == i32::from(pb::LossReportState::Active) {
                    audit.active += 1;
                    audit.duplicated += u64::from(second);
                } else if state == i32::from(pb::LossReportState::Refused) {
                    audit.refused += 1;
                    audit.duplicated += u64::from(second);
                } else {
                    audit.not_active.insert(number.clone(), state);
                    still_open.push(number);
                }
            }
        }
        if still_open.is_empty() || Instant::now() >= deadline {
            return Ok(audit);
        }
        open = still_open;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_whole_day_has_the_volumes_of_the_issue() {
        let day = Volumes::at(1.0);
        assert_eq!(day.applications, 100_000);
        assert_eq!(day.loss_reports, 30_000);
        assert_eq!(day.verifications, 1_000_000);
        assert_eq!(day.cards, 50_000);
        let small = Volumes::at(0.00001);
        assert_eq!(
            (small.applications, small.loss_reports, small.verifications),
            (1, 1, 10)
        );
    }

    #[tokio::test]
    async fn a_paced_stream_waits_for_its_share_of_the_applications() {
        let mut plan = Plan::new(Some(10), None, 10, false);
        plan.start();
        let plan = Arc::new(plan);
        let (mut pace, task) = Pace::follow(&plan, 10);
        // Nothing started: only the first of 30 may go.
        tokio::time::timeout(Duration::from_secs(1), pace.wait(0, 30))
            .await
            .expect("the first goes at once");
        assert!(
            tokio::time::timeout(Duration::from_millis(100), pace.wait(3, 30))
                .await
                .is_err(),
            "the fourth of 30 waits for the first application"
        );
        plan.next();
        tokio::time::timeout(Duration::from_secs(1), pace.wait(3, 30))
            .await
            .expect("one application in ten lets three of thirty go");
        while plan.next().is_some() {}
        tokio::time::timeout(Duration::from_secs(1), pace.wait(29, 30))
            .await
            .expect("every application started: everything goes");
        task.await.expect("the pacer stops once every application was started");
    }

    #[test]
    fn the_backlog_keeps_its_peaks() {
        let mut backlog = Backlog::default();
        let reading = |a: f64, b: f64| {
            let labels = |s: &str, d: &str| {
                vec![
                    ("destination".to_string(), d.to_string()),
                    ("service".to_string(), s.to_string()),
                ]
            };
            let mut gauges = BTreeMap::new();
            gauges.insert(
                PENDING,
                BTreeMap::from([(labels("acceptance", "review"), a), (labels("review", "status"), b)]),
            );
            gauges.insert(OLDEST, BTreeMap::from([(labels("acceptance", "review"), a / 10.0)]));
            gauges
        };
        backlog.record(1.0, &reading(5.0, 1.0));
        backlog.record(2.0, &reading(40.0, 2.0));
        backlog.record(3.0, &reading(0.0, 7.0));
        assert_eq!(backlog.peak_pending, 42.0);
        assert_eq!(backlog.peak_pending_at_s, 2.0);
        assert_eq!(backlog.peak_by_route.get("acceptance->review"), Some(&40.0));
        assert_eq!(backlog.peak_by_route.get("review->status"), Some(&7.0));
        assert_eq!(backlog.peak_oldest_s, 4.0);
        let (value, line) = backlog.describe(Some(Duration::from_millis(1500)));
        assert_eq!(value["outboxes_empty_after_day_s"], json!(1.5));
        assert!(line.contains("peak 42 messages"), "{line}");
    }
}
