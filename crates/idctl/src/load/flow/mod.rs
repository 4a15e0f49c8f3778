//! `--scenario flow`: applications from the counter to collection, the generator acting
//! as the clerk, the domicile reviewer and the production operator.
//!
//! Each of `--concurrency` workers takes one application at a time through every step:
//! submit; wait until it is under review; approve; wait for its production job; pass
//! the quality check; dispatch; wait until the acceptance point knows it is dispatched;
//! confirm arrival; collect. Waits do not poll per application: three watchers list
//! what waits on the generator (the run's acceptance point's applications under review
//! and dispatched, its production jobs in production) every `--poll-interval` while any
//! worker waits, and hand each worker its application. The run's acceptance point is its
//! own, so the lists hold exactly the run's applications. A call that fails with a
//! transient status is repeated with the same request id.
//!
//! Counted after the run (outside the clock):
//!
//! - **lost**: applications accepted (SubmitApplication OK) that are not collected, as
//!   the acceptance service lists them, once every worker is done; a worker gives up
//!   waiting `--settle` after the last application was started. Applications the
//!   generator itself abandoned after a call failed for good are counted apart
//!   (`abandoned`), with the failed call under `errors`.
//! - **duplicated**: applications applied twice anywhere the generator can see: an
//!   application at the run's point for a citizen who has another there (a repeated
//!   submission that created a second application); an application with more than one
//!   production job; a status history that records a step twice (a message applied
//!   twice by an inbox); a production job with more than one quality check recorded
//!   (the check was sent once, with retries under one request id). An application the
//!   service created but never acknowledged to the generator, with no other
//!   application of its citizen, is `unacknowledged`, not duplicated.

mod audit;
mod watch;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use anyhow::Context as _;
use hdrhistogram::Histogram;
use idcard_auth::{ALL_SCOPE, Role};
use idcard_domain::ApplicationKind;
use idcard_proto::v1 as pb;
use idcard_proto::v1::acceptance_service_client::AcceptanceServiceClient;
use idcard_proto::v1::production_service_client::ProductionServiceClient;
use idcard_proto::v1::review_service_client::ReviewServiceClient;
use idctl::client::Authed;
use serde_json::json;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use self::watch::{Stage, Watch};
use super::citizens::{self, Pool};
use super::recorder::{self, Latency};
use super::summary::Summary;
use super::{Context, Measured, Plan, Readings, Recorder};
use crate::print;

const SUBMIT: &str = "AcceptanceService/SubmitApplication";
const APPROVE: &str = "ReviewService/ApproveApplication";
const QUALITY_CHECK: &str = "ProductionService/RecordQualityCheck";
const DISPATCH: &str = "ProductionService/DispatchCard";
const ARRIVAL: &str = "AcceptanceService/ConfirmCardArrival";
const COLLECT: &str = "AcceptanceService/CollectCard";

/// Attempts of one step when it fails with a transient status.
const ATTEMPTS: u32 = 5;
/// Applications per second the default pool of a `--duration` run is sized for.
const POOL_PER_SECOND: u64 = 600;
const END_TO_END: &str = "end to end (submitted to collected)";

/// Clients of the three services, each under the generator's role there.
#[derive(Clone)]
pub(super) struct Clients {
    pub(super) acceptance: AcceptanceServiceClient<Authed>,
    pub(super) review: ReviewServiceClient<Authed>,
    pub(super) production: ProductionServiceClient<Authed>,
}

/// The generator's roles: the clerk of the run's point, a reviewer of every
/// jurisdiction and a production operator, each with `--connections` channels.
pub(super) struct Roles {
    clerk: String,
    reviewer: String,
    operator: String,
    acceptance: Vec<Authed>,
    review: Vec<Authed>,
    production: Vec<Authed>,
}

impl Roles {
    pub(super) async fn connect(cx: &Context) -> anyhow::Result<Roles> {
        let clerk = format!("load-clerk-{:x}", cx.run_id);
        let operator = format!("load-operator-{:x}", cx.run_id);
        let clerk_token = cx.token(&clerk, Role::Clerk, &[&cx.point])?;
        let operator_token = cx.token(&operator, Role::ProductionOperator, &[ALL_SCOPE])?;
        Ok(Roles {
            acceptance: cx
                .channels(&cx.endpoints.acceptance_url, clerk_token.as_deref())
                .await?,
            review: cx.reviewer_channels(cx.args.connections).await?,
            production: cx
                .channels(&cx.endpoints.production_url, operator_token.as_deref())
                .await?,
            clerk,
            reviewer: cx.reviewer(),
            operator,
        })
    }

    /// The clerk's channels to the acceptance service (loss reports are taken there too).
    pub(super) fn acceptance(&self) -> &[Authed] {
        &self.acceptance
    }

    pub(super) fn clients(&self, i: usize) -> Clients {
        Clients {
            acceptance: AcceptanceServiceClient::new(self.acceptance[i % self.acceptance.len()].clone()),
            review: ReviewServiceClient::new(self.review[i % self.review.len()].clone()),
            production: ProductionServiceClient::new(self.production[i % self.production.len()].clone()),
        }
    }
}

/// A domicile bureau's reviewer: the applications domiciled in its province are
/// approved by it, under a token scoped to the province.
pub(super) struct Jurisdiction {
    pub(super) reviewer: String,
    pub(super) clients: Vec<ReviewServiceClient<Authed>>,
}

/// Province (the first two digits of a region code) -> its bureau's reviewer. Empty: the
/// generator's reviewer of every jurisdiction approves everything.
pub(super) type Jurisdictions = BTreeMap<u32, Jurisdiction>;

/// What every worker shares.
struct Shared {
    plan: Arc<Plan>,
    pool: Arc<Pool>,
    photo: Vec<u8>,
    point: String,
    clerk: String,
    reviewer: String,
    operator: String,
    jurisdictions: Jurisdictions,
    watches: [Arc<Watch>; 3],
    /// Cancelled `--settle` after the last application was started: waits give up.
    give_up: CancellationToken,
}

impl Shared {
    fn watch(&self, stage: Stage) -> &Arc<Watch> {
        &self.watches[stage as usize]
    }

    /// Waits until the watcher finds `application_id` at `stage`; `None` on giving up.
    async fn wait(&self, stage: Stage, application_id: &str) -> Option<String> {
        let watch = self.watch(stage);
        let found = watch.register(application_id);
        tokio::select! {
            found = found => found.ok(),
            _ = self.give_up.cancelled() => {
                watch.forget(application_id);
                None
            }
        }
    }

    /// Who approves citizen `i`'s application, and over which client.
    fn reviewer_of(&self, citizen: &citizens::Citizen, i: u64, c: &Clients) -> (ReviewServiceClient<Authed>, &str) {
        let province = citizen.domicile.code() / 10_000;
        match self.jurisdictions.get(&province) {
            Some(bureau) if !bureau.clients.is_empty() => (
                bureau.clients[(i as usize) % bureau.clients.len()].clone(),
                bureau.reviewer.as_str(),
            ),
            _ => (c.review.clone(), self.reviewer.as_str()),
        }
    }
}

/// What one worker saw.
pub(super) struct Report {
    pub(super) recorder: Recorder,
    pub(super) end_to_end: Histogram<u64>,
    pub(super) started: u64,
    pub(super) accepted: Vec<String>,
    pub(super) collected: u64,
    /// Applications collected, by the province of the citizen's domicile.
    pub(super) by_province: BTreeMap<u32, u64>,
    /// (application, the call that failed for good).
    pub(super) abandoned: Vec<(String, &'static str)>,
    /// (application, what it was waiting for when the worker gave up).
    pub(super) stuck: Vec<(String, &'static str)>,
    /// (application, why it counts as applied twice).
    pub(super) duplicated: Vec<(String, String)>,
    pub(super) last_collected: Option<Instant>,
}

impl Report {
    fn new() -> Report {
        Report {
            recorder: Recorder::default(),
            end_to_end: recorder::histogram(),
            started: 0,
            accepted: Vec::new(),
            collected: 0,
            by_province: BTreeMap::new(),
            abandoned: Vec::new(),
            stuck: Vec::new(),
            duplicated: Vec::new(),
            last_collected: None,
        }
    }

    fn merge(&mut self, other: Report) {
        self.recorder.merge(other.recorder);
        let _ = self.end_to_end.add(&other.end_to_end);
        self.started += other.started;
        self.accepted.extend(other.accepted);
        self.collected += other.collected;
        for (province, n) in other.by_province {
            *self.by_province.entry(province).or_insert(0) += n;
        }
        self.abandoned.extend(other.abandoned);
        self.stuck.extend(other.stuck);
        self.duplicated.extend(other.duplicated);
        self.last_collected = self.last_collected.max(other.last_collected);
    }
}

pub async fn run(cx: &Context) -> anyhow::Result<Summary> {
    let pool = Arc::new(Pool::new(cx.run_id, super::pool_size(&cx.args, POOL_PER_SECOND, None)));
    let prepared = super::submit::prepare(cx, &pool).await?;
    let roles = Roles::connect(cx).await?;

    let mut plan = super::plan(&cx.args, pool.size(), false);
    let before = Readings::take(cx).await;
    plan.start();
    let plan = Arc::new(plan);
    let progress = cx.progress(&plan);
    let driven = drive(cx, &roles, &plan, &pool, Jurisdictions::new(), None).await?;
    progress.finish();
    // From the first submission to the last collection.
    let elapsed = driven.last_collected().saturating_duration_since(driven.started);
    let after = Readings::take(cx).await;
    let Driven { report, .. } = driven;
    summarize(
        cx,
        &roles,
        plan,
        report,
        Recorder::default(),
        prepared,
        [before, after],
        elapsed,
    )
    .await
}

/// The summary of a run's applications: the figures the workers took (with `others`, the
/// calls of any other stream of the run), then what the services say of them (lost,
/// duplicated).
#[allow(clippy::too_many_arguments)]
pub(super) async fn summarize(
    cx: &Context,
    roles: &Roles,
    plan: Arc<Plan>,
    mut report: Report,
    others: Recorder,
    prepared: super::summary::Prepared,
    [before, after]: [Readings; 2],
    elapsed: std::time::Duration,
) -> anyhow::Result<Summary> {
    let end_to_end = std::mem::replace(&mut report.end_to_end, recorder::histogram());
    let mut recorder = std::mem::take(&mut report.recorder);
    recorder.merge(others);
    let measured = Measured {
        plan,
        recorder,
        prepared,
        before,
        after,
        count: report.started,
        ok: report.collected,
        elapsed,
    };
    let mut summary = Summary::new(cx, measured, END_TO_END, Some(&end_to_end));
    counted(cx, roles, &report, &end_to_end, &mut summary).await?;
    Ok(summary)
}

/// Applications driven to collection, and when.
pub(super) struct Driven {
    pub(super) report: Report,
    /// When the plan's clock started.
    pub(super) started: Instant,
    /// When the last worker finished.
    pub(super) finished: Instant,
}

impl Driven {
    pub(super) fn last_collected(&self) -> Instant {
        self.report.last_collected.unwrap_or(self.finished)
    }
}

/// How many applications wait at each stage, for a sampler.
#[derive(Clone)]
pub(super) struct Waiting([Arc<Watch>; 3]);

impl Waiting {
    /// (stage, applications waiting there).
    pub(super) fn now(&self) -> [(&'static str, usize); 3] {
        Stage::ALL.map(|stage| (stage.name(), self.0[stage as usize].len()))
    }
}

/// Runs the plan's applications through the flow (the plan's clock already started);
/// `waiting` receives the watches, for a sampler of where applications wait.
pub(super) async fn drive(
    cx: &Context,
    roles: &Roles,
    plan: &Arc<Plan>,
    pool: &Arc<Pool>,
    jurisdictions: Jurisdictions,
    waiting: Option<tokio::sync::oneshot::Sender<Waiting>>,
) -> anyhow::Result<Driven> {
    let started = Instant::now() - plan.elapsed();
    let shared = Arc::new(Shared {
        plan: Arc::clone(plan),
        pool: Arc::clone(pool),
        photo: citizens::photo(cx.args.photo_bytes),
        point: cx.point.clone(),
        clerk: roles.clerk.clone(),
        reviewer: roles.reviewer.clone(),
        operator: roles.operator.clone(),
        jurisdictions,
        watches: Default::default(),
        give_up: CancellationToken::new(),
    });
    if let Some(waiting) = waiting {
        let _ = waiting.send(Waiting(shared.watches.clone()));
    }
    let stop_watching = CancellationToken::new();
    let mut watchers = JoinSet::new();
    for (i, stage) in Stage::ALL.into_iter().enumerate() {
        watchers.spawn(watch::watch(
            stage,
            Arc::clone(shared.watch(stage)),
            roles.clients(i),
            cx.point.clone(),
            Arc::clone(plan),
            cx.args.poll_interval,
            stop_watching.clone(),
        ));
    }
    let give_up = tokio::spawn({
        let (plan, token, settle) = (Arc::clone(plan), shared.give_up.clone(), cx.args.settle);
        async move {
            plan.ended().await;
            tokio::time::sleep(settle).await;
            token.cancel();
        }
    });
    let mut workers = JoinSet::new();
    for w in 0..cx.args.concurrency as usize {
        workers.spawn(worker(Arc::clone(&shared), roles.clients(w)));
    }
    let mut report = Report::new();
    while let Some(joined) = workers.join_next().await {
        report.merge(joined??);
    }
    let finished = Instant::now();
    give_up.abort();
    stop_watching.cancel();
    while let Some(joined) = watchers.join_next().await {
        report.recorder.merge(joined?);
    }
    Ok(Driven {
        report,
        started,
        finished,
    })
}

/// Outside the clock: what the services say happened to the run's applications (lost,
/// duplicated), added to `summary` with what the workers counted.
async fn counted(
    cx: &Context,
    roles: &Roles,
    report: &Report,
    end_to_end: &Histogram<u64>,
    summary: &mut Summary,
) -> anyhow::Result<()> {
    let mut audit_clients = roles.clients(0);
    let audit = audit::audit(&mut audit_clients, &cx.point, report).await?;
    let collected = report.collected;
    let started = report.started;
    summary.extra(
        "end_to_end",
        Latency::of(end_to_end).to_json(),
        format!(
            "accepted {}, collected {collected}, not accepted {}",
            report.accepted.len(),
            started - report.accepted.len() as u64
        ),
    );
    summary.extra("accepted", json!(report.accepted.len()), String::new());
    summary.extra(
        "lost",
        json!(audit.lost.len()),
        format!("lost: {}{}", audit.lost.len(), by_state(&audit.lost)),
    );
    summary.extra(
        "duplicated",
        json!(audit.duplicated.len()),
        format!(
            "duplicated: {}{}",
            audit.duplicated.len(),
            reasons(audit.duplicated.values())
        ),
    );
    summary.extra(
        "abandoned",
        json!(report.abandoned.len()),
        format!(
            "abandoned by the generator after a failed call: {}{}",
            report.abandoned.len(),
            reasons(report.abandoned.iter().map(|(_, call)| *call))
        ),
    );
    summary.extra(
        "unacknowledged",
        json!(audit.unacknowledged),
        format!(
            "unacknowledged (created, never answered to the generator): {}",
            audit.unacknowledged
        ),
    );
    if !report.stuck.is_empty() {
        summary.note(format!(
            "gave up waiting on {} application(s) after --settle:{}",
            report.stuck.len(),
            reasons(report.stuck.iter().map(|(_, why)| *why))
        ));
    }
    Ok(())
}

/// `" (3 under review, 1 dispatched)"`, or nothing.
fn by_state(lost: &BTreeMap<String, i32>) -> String {
    let mut counts: BTreeMap<&'static str, usize> = BTreeMap::new();
    for state in lost.values() {
        *counts.entry(print::state_name(*state)).or_insert(0) += 1;
    }
    listing(counts)
}

pub(super) fn reasons<T: AsRef<str>>(reasons: impl Iterator<Item = T>) -> String {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for reason in reasons {
        *counts.entry(reason.as_ref().to_string()).or_insert(0) += 1;
    }
    listing(counts)
}

fn listing<K: std::fmt::Display>(counts: BTreeMap<K, usize>) -> String {
    if counts.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = counts.iter().map(|(k, n)| format!("{n} {k}")).collect();
    format!(" ({})", parts.join(", "))
}

/// Takes applications through the flow until the plan ends.
async fn worker(shared: Arc<Shared>, mut clients: Clients) -> anyhow::Result<Report> {
    let mut report = Report::new();
    while let Some(i) = shared.plan.next() {
        report.started += 1;
        one(&shared, &mut clients, i, &mut report).await?;
        shared.plan.finished.fetch_add(1, Ordering::Relaxed);
    }
    Ok(report)
}

/// One application from the counter to collection.
async fn one(s: &Shared, c: &mut Clients, i: u64, report: &mut Report) -> anyhow::Result<()> {
    let citizen = s.pool.citizen(i)?;
    let plan = &*s.plan;
    let started = Instant::now();

    let request = citizen.submit_request(&s.point, &s.clerk, &s.photo);
    let submitted = report
        .recorder
        .call_retrying(plan, SUBMIT, ATTEMPTS, || {
            let (mut client, request) = (c.acceptance.clone(), request.clone());
            async move { client.submit_application(request).await }
        })
        .await;
    let Ok(submitted) = submitted else {
        return Ok(());
    };
    let id = submitted
        .application
        .context("SubmitApplication answered without the application")?
        .application_id;
    report.accepted.push(id.clone());

    if s.wait(Stage::UnderReview, &id).await.is_none() {
        report.stuck.push((id, Stage::UnderReview.waiting_for()));
        return Ok(());
    }
    let (review, reviewer) = s.reviewer_of(&citizen, i, c);
    let request = pb::ApproveApplicationRequest {
        request_id: uuid::Uuid::now_v7().to_string(),
        application_id: id.clone(),
        reviewer: reviewer.to_string(),
        note: "load generator: checked against the household register".to_string(),
    };
    let approved = report
        .recorder
        .call_retrying(plan, APPROVE, ATTEMPTS, || {
            let (mut client, request) = (review.clone(), request.clone());
            async move { client.approve_application(request).await }
        })
        .await;
    if approved.is_err() {
        report.abandoned.push((id, APPROVE));
        return Ok(());
    }

    let Some(job_id) = s.wait(Stage::InProduction, &id).await else {
        report.stuck.push((id, Stage::InProduction.waiting_for()));
        return Ok(());
    };
    let request = pb::RecordQualityCheckRequest {
        request_id: uuid::Uuid::now_v7().to_string(),
        job_id: job_id.clone(),
        passed: true,
        defects: Vec::new(),
        operator: s.operator.clone(),
    };
    let checked = report
        .recorder
        .call_retrying(plan, QUALITY_CHECK, ATTEMPTS, || {
            let (mut client, request) = (c.production.clone(), request.clone());
            async move { client.record_quality_check(request).await }
        })
        .await;
    if checked.is_err() {
        report.abandoned.push((id, QUALITY_CHECK));
        return Ok(());
    }
    let request = pb::DispatchCardRequest {
        request_id: uuid::Uuid::now_v7().to_string(),
        job_id: job_id.clone(),
        tracking_number: format!("LOAD{}", job_id.replace('-', "")),
        operator: s.operator.clone(),
    };
    let dispatched = report
        .recorder
        .call_retrying(plan, DISPATCH, ATTEMPTS, || {
            let (mut client, request) = (c.production.clone(), request.clone());
            async move { client.dispatch_card(request).await }
        })
        .await;
    let Ok(dispatched) = dispatched else {
        report.abandoned.push((id, DISPATCH));
        return Ok(());
    };
    if let Some(job) = dispatched.job.filter(|job| job.checks.len() != 1) {
        report.duplicated.push((
            id.clone(),
            format!("{} quality checks recorded for one", job.checks.len()),
        ));
    }

    if s.wait(Stage::Dispatched, &id).await.is_none() {
        report.stuck.push((id, Stage::Dispatched.waiting_for()));
        return Ok(());
    }
    let request = pb::ConfirmCardArrivalRequest {
        request_id: uuid::Uuid::now_v7().to_string(),
        application_id: id.clone(),
        clerk: s.clerk.clone(),
    };
    let arrived = report
        .recorder
        .call_retrying(plan, ARRIVAL, ATTEMPTS, || {
            let (mut client, request) = (c.acceptance.clone(), request.clone());
            async move { client.confirm_card_arrival(request).await }
        })
        .await;
    if arrived.is_err() {
        report.abandoned.push((id, ARRIVAL));
        return Ok(());
    }
    let request = pb::CollectCardRequest {
        request_id: uuid::Uuid::now_v7().to_string(),
        key: Some(pb::collect_card_request::Key::ApplicationId(id.clone())),
        applicant_checked_and_signed: true,
        old_card_surrendered: citizen.kind == ApplicationKind::Renewal,
        clerk: s.clerk.clone(),
    };
    let collected = report
        .recorder
        .call_retrying(plan, COLLECT, ATTEMPTS, || {
            let (mut client, request) = (c.acceptance.clone(), request.clone());
            async move { client.collect_card(request).await }
        })
        .await;
    let Ok(collected) = collected else {
        report.abandoned.push((id, COLLECT));
        return Ok(());
    };
    recorder::add(&mut report.end_to_end, started.elapsed());
    report.collected += 1;
    *report.by_province.entry(citizen.domicile.code() / 10_000).or_insert(0) += 1;
    report.last_collected = Some(Instant::now());
    if let Some(state) = collected.application.and_then(|a| repeated_step(&a.history)) {
        report
            .duplicated
            .push((id, format!("history records {} twice", print::state_name(state))));
    }
    Ok(())
}

/// A state the history records more than once (the flow never fails a check, so every
/// step happens once).
fn repeated_step(history: &[pb::StatusEvent]) -> Option<i32> {
    let mut seen = BTreeSet::new();
    history
        .iter()
        .map(|event| event.state)
        .find(|state| !seen.insert(*state))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(state: pb::ApplicationState) -> pb::StatusEvent {
        pb::StatusEvent {
            state: state.into(),
            ..Default::default()
        }
    }

    #[test]
    fn a_step_recorded_twice_is_found() {
        use pb::ApplicationState as S;
        let once = [S::Submitted, S::UnderReview, S::Approved, S::Collected].map(event);
        assert_eq!(repeated_step(&once), None);
        let twice = [S::Submitted, S::UnderReview, S::UnderReview].map(event);
        assert_eq!(repeated_step(&twice), Some(i32::from(S::UnderReview)));
    }
}
