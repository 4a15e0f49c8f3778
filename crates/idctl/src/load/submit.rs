//! `--scenario submit`: `SubmitApplication` only, each call a distinct citizen of the
//! prepared pool, at the run's own acceptance point. No retries: a failed call is
//! counted under its status code and the worker moves on.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use idcard_auth::Role;
use idcard_proto::v1::acceptance_service_client::AcceptanceServiceClient;
use tokio::task::JoinSet;

use super::citizens::{self, Pool};
use super::summary::{Prepared, Summary};
use super::{Context, Measured, Readings, Recorder};

pub const METHOD: &str = "AcceptanceService/SubmitApplication";

/// Submissions per second the default pool of a `--duration` run is sized for.
const POOL_PER_SECOND: u64 = 1_500;

pub async fn run(cx: &Context) -> anyhow::Result<Summary> {
    let pool = Arc::new(Pool::new(cx.run_id, super::pool_size(&cx.args, POOL_PER_SECOND, None)));
    let prepared = prepare(cx, &pool).await?;

    let clerk = format!("load-clerk-{:x}", cx.run_id);
    let token = cx.token(&clerk, Role::Clerk, &[&cx.point])?;
    let channels = cx.channels(&cx.endpoints.acceptance_url, token.as_deref()).await?;
    let photo = Arc::new(citizens::photo(cx.args.photo_bytes));

    let mut plan = super::plan(&cx.args, pool.size(), false);
    let before = Readings::take(cx).await;
    plan.start();
    let plan = Arc::new(plan);
    let progress = cx.progress(&plan);
    let mut workers = JoinSet::new();
    for w in 0..cx.args.concurrency as usize {
        let mut client = AcceptanceServiceClient::new(channels[w % channels.len()].clone());
        let (plan, pool, photo, point, clerk) = (
            Arc::clone(&plan),
            Arc::clone(&pool),
            Arc::clone(&photo),
            cx.point.clone(),
            clerk.clone(),
        );
        workers.spawn(async move {
            let mut recorder = Recorder::default();
            let (mut count, mut ok) = (0u64, 0u64);
            while let Some(i) = plan.next() {
                let request = pool.citizen(i)?.submit_request(&point, &clerk, &photo);
                if recorder
                    .call(&plan, METHOD, client.submit_application(request))
                    .await
                    .is_ok()
                {
                    ok += 1;
                }
                count += 1;
                plan.finished.fetch_add(1, Ordering::Relaxed);
            }
            anyhow::Ok((recorder, count, ok))
        });
    }
    let mut recorder = Recorder::default();
    let (mut count, mut ok) = (0, 0);
    while let Some(joined) = workers.join_next().await {
        let (worker, n, k) = joined??;
        recorder.merge(worker);
        count += n;
        ok += k;
    }
    let elapsed = plan.elapsed();
    progress.finish();
    let after = Readings::take(cx).await;
    let measured = Measured {
        plan,
        recorder,
        prepared,
        before,
        after,
        count,
        ok,
        elapsed,
    };
    Ok(Summary::new(cx, measured, METHOD, None))
}

/// Imports the pool into the household register and waits until the status service has
/// the imported cards, so that their publication does not run during the measurement.
pub async fn prepare(cx: &Context, pool: &Pool) -> anyhow::Result<Prepared> {
    let started = Instant::now();
    cx.note(&format!(
        "preparing: {} residents domiciled in {} provinces into the household register",
        pool.size(),
        pool.provinces()
    ));
    if let Some(last) = citizens::import(cx, pool).await? {
        cx.note("  waiting for the status service to receive the imported cards");
        citizens::wait_published(cx, &last).await?;
    }
    Ok(Prepared {
        what: "residents imported",
        count: pool.size(),
        seconds: started.elapsed().as_secs_f64(),
    })
}
