//! Finding what waits on the generator: while any worker waits at a stage, its watcher
//! lists the run's applications (or production jobs) in that state every
//! `--poll-interval` and hands each waiting worker its application.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use idcard_proto::v1 as pb;
use tokio::sync::{Notify, oneshot};
use tokio_util::sync::CancellationToken;

use super::Clients;
use crate::load::{Plan, Recorder};

const LIST_APPLICATIONS: &str = "AcceptanceService/ListApplications";
const LIST_JOBS: &str = "ProductionService/ListJobs";
/// The largest page the list calls allow.
const PAGE: i32 = 500;

/// Where an application waits on the generator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stage {
    /// Delivered to the domicile bureau: the reviewer may decide.
    UnderReview,
    /// The production centre has its job: the operator may check the card.
    InProduction,
    /// Dispatched: the clerk may record its arrival.
    Dispatched,
}

impl Stage {
    pub(super) const ALL: [Stage; 3] = [Stage::UnderReview, Stage::InProduction, Stage::Dispatched];

    /// The stage as a summary names it.
    pub(super) fn name(self) -> &'static str {
        match self {
            Stage::UnderReview => "under_review",
            Stage::InProduction => "in_production",
            Stage::Dispatched => "dispatched",
        }
    }

    pub(super) fn waiting_for(self) -> &'static str {
        match self {
            Stage::UnderReview => "delivery to the domicile bureau",
            Stage::InProduction => "a production job after approval",
            Stage::Dispatched => "the dispatch notice at the acceptance point",
        }
    }
}

/// Workers waiting at one stage, by application id; the watcher answers each with what
/// it found (the job id at `InProduction`).
#[derive(Default)]
pub(super) struct Watch {
    waiting: Mutex<HashMap<String, oneshot::Sender<String>>>,
    wake: Notify,
}

impl Watch {
    pub(super) fn register(&self, application_id: &str) -> oneshot::Receiver<String> {
        let (tx, rx) = oneshot::channel();
        self.lock().insert(application_id.to_string(), tx);
        self.wake.notify_one();
        rx
    }

    pub(super) fn forget(&self, application_id: &str) {
        self.lock().remove(application_id);
    }

    pub(super) fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// Workers waiting here now.
    pub(super) fn len(&self) -> usize {
        self.lock().len()
    }

    pub(super) fn answer(&self, application_id: &str, found: String) {
        if let Some(tx) = self.lock().remove(application_id) {
            let _ = tx.send(found);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, oneshot::Sender<String>>> {
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Lists what waits on the generator at `stage` while any worker waits there.
pub(super) async fn watch(
    stage: Stage,
    watch: Arc<Watch>,
    mut clients: Clients,
    point: String,
    plan: Arc<Plan>,
    interval: Duration,
    stop: CancellationToken,
) -> Recorder {
    let mut rec = Recorder::default();
    loop {
        if watch.is_empty() {
            tokio::select! {
                _ = watch.wake.notified() => continue,
                _ = stop.cancelled() => return rec,
            }
        }
        if let Ok(found) = list(stage, &mut clients, &point, &plan, &mut rec).await {
            for (application_id, answer) in found {
                watch.answer(&application_id, answer);
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = stop.cancelled() => return rec,
        }
    }
}

/// The run's applications at `stage`: (application id, job id or nothing).
async fn list(
    stage: Stage,
    c: &mut Clients,
    point: &str,
    plan: &Plan,
    rec: &mut Recorder,
) -> Result<Vec<(String, String)>, tonic::Status> {
    match stage {
        Stage::UnderReview | Stage::Dispatched => {
            let state = if stage == Stage::UnderReview {
                pb::ApplicationState::UnderReview
            } else {
                pb::ApplicationState::Dispatched
            };
            let found = applications(c, point, Some(state), plan, rec).await?;
            Ok(found.into_iter().map(|a| (a.application_id, String::new())).collect())
        }
        Stage::InProduction => {
            let found = jobs(c, point, Some(pb::JobState::InProduction), plan, rec).await?;
            Ok(found.into_iter().map(|j| (j.application_id, j.job_id)).collect())
        }
    }
}

/// Every application at `point` (of `state`), page by page.
pub(super) async fn applications(
    c: &mut Clients,
    point: &str,
    state: Option<pb::ApplicationState>,
    plan: &Plan,
    rec: &mut Recorder,
) -> Result<Vec<pb::ApplicationSummary>, tonic::Status> {
    let mut out = Vec::new();
    let mut page_token = String::new();
    loop {
        let request = pb::ListApplicationsRequest {
            acceptance_point_code: point.to_string(),
            state: state.map_or(0, i32::from),
            page_size: PAGE,
            page_token,
        };
        let page = rec
            .call(plan, LIST_APPLICATIONS, c.acceptance.list_applications(request))
            .await?;
        out.extend(page.applications);
        if page.next_page_token.is_empty() {
            return Ok(out);
        }
        page_token = page.next_page_token;
    }
}

/// Every production job for `point` (of `state`), page by page.
pub(super) async fn jobs(
    c: &mut Clients,
    point: &str,
    state: Option<pb::JobState>,
    plan: &Plan,
    rec: &mut Recorder,
) -> Result<Vec<pb::ProductionJob>, tonic::Status> {
    let mut out = Vec::new();
    let mut page_token = String::new();
    loop {
        let request = pb::ListJobsRequest {
            state: state.map_or(0, i32::from),
            acceptance_point_code: point.to_string(),
            page_size: PAGE,
            page_token,
        };
        let page = rec.call(plan, LIST_JOBS, c.production.list_jobs(request)).await?;
        out.extend(page.jobs);
        if page.next_page_token.is_empty() {
            return Ok(out);
        }
        page_token = page.next_page_token;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_watch_answers_the_worker_waiting_for_an_application() {
        let watch = Watch::default();
        let waiting = watch.register("a");
        assert!(!watch.is_empty());
        watch.answer("b", "ignored".into());
        watch.answer("a", "job-1".into());
        assert_eq!(waiting.await.ok().as_deref(), Some("job-1"));
        assert!(watch.is_empty());
    }
}
