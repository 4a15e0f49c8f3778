//! What the services say about the run's applications once every worker is done: the
//! lost and duplicated counts (see the module above for how they are defined).

use std::collections::{BTreeMap, BTreeSet};

use idcard_proto::v1 as pb;

use super::watch::{applications, jobs};
use super::{Clients, Report};
use crate::load::{Plan, Recorder};

const GET_APPLICATION: &str = "AcceptanceService/GetApplication";

/// What the services say about the run's applications, once every worker is done.
pub(super) struct Audit {
    /// Accepted, not abandoned, and not collected: application -> state.
    pub(super) lost: BTreeMap<String, i32>,
    /// Application -> why it counts as applied twice.
    pub(super) duplicated: BTreeMap<String, String>,
    pub(super) unacknowledged: usize,
}

pub(super) async fn audit(c: &mut Clients, point: &str, report: &Report) -> anyhow::Result<Audit> {
    // Not the run's calls: these go uncounted.
    let plan = Plan::new(None, None, 0, false);
    let mut rec = Recorder::default();
    let listed = applications(c, point, None, &plan, &mut rec)
        .await
        .map_err(|s| anyhow::Error::from(s).context("listing the run's applications"))?;
    let jobs = jobs(c, point, None, &plan, &mut rec)
        .await
        .map_err(|s| anyhow::Error::from(s).context("listing the run's production jobs"))?;

    let accepted: BTreeSet<&str> = report.accepted.iter().map(String::as_str).collect();
    let abandoned: BTreeSet<&str> = report.abandoned.iter().map(|(id, _)| id.as_str()).collect();
    let state_of: BTreeMap<&str, i32> = listed.iter().map(|a| (a.application_id.as_str(), a.state)).collect();
    let collected = i32::from(pb::ApplicationState::Collected);
    let lost = accepted
        .iter()
        .filter(|id| !abandoned.contains(**id))
        .filter_map(|id| match state_of.get(id) {
            Some(state) if *state == collected => None,
            Some(state) => Some((id.to_string(), *state)),
            None => Some((id.to_string(), 0)),
        })
        .collect();

    let mut duplicated: BTreeMap<String, String> = report.duplicated.iter().cloned().collect();
    let mut jobs_per_application: BTreeMap<&str, usize> = BTreeMap::new();
    for job in &jobs {
        *jobs_per_application.entry(job.application_id.as_str()).or_insert(0) += 1;
    }
    for (id, n) in jobs_per_application {
        if n > 1 {
            duplicated.insert(id.to_string(), format!("{n} production jobs"));
        }
    }
    // An application the generator never heard of: a second one for a citizen it
    // submitted once, or one created without an answer reaching the generator.
    let mut unacknowledged = 0;
    let extras: Vec<&str> = listed
        .iter()
        .map(|a| a.application_id.as_str())
        .filter(|id| !accepted.contains(id))
        .collect();
    if !extras.is_empty() {
        let citizens_of_accepted = citizens_of(c, accepted.iter().copied(), &plan, &mut rec).await?;
        let known: BTreeSet<&String> = citizens_of_accepted.values().collect();
        for (id, citizen) in citizens_of(c, extras.iter().copied(), &plan, &mut rec).await? {
            if known.contains(&citizen) {
                duplicated.insert(id, "a second application of one citizen".to_string());
            } else {
                unacknowledged += 1;
            }
        }
    }
    Ok(Audit {
        lost,
        duplicated,
        unacknowledged,
    })
}

/// The citizen id of each application (only when the audit found an application the
/// generator did not make: reading one is audited by the service).
async fn citizens_of<'a>(
    c: &mut Clients,
    ids: impl Iterator<Item = &'a str>,
    plan: &Plan,
    rec: &mut Recorder,
) -> anyhow::Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for id in ids {
        let request = pb::GetApplicationRequest {
            key: Some(pb::get_application_request::Key::ApplicationId(id.to_string())),
        };
        let answer = rec
            .call(plan, GET_APPLICATION, c.acceptance.get_application(request))
            .await
            .map_err(|s| anyhow::Error::from(s).context("reading an application of the run"))?;
        let citizen = answer
            .application
            .and_then(|a| a.applicant)
            .and_then(|a| a.card_items)
            .map(|items| items.citizen_id)
            .unwrap_or_default();
        out.insert(id.to_string(), citizen);
    }
    Ok(out)
}
