//! `--scenario verify`: `VerifyCard` over a prepared set of cards, as banks and hotels
//! call it.
//!
//! The set is made before the clock starts: synthetic residents with one active card
//! each are imported into the household register, the review service publishes the
//! cards to the status service through its outbox (the path every real card takes), and
//! each card is verified once until it answers VALID. The run then verifies the set
//! round robin. Each call carries one of `--verifiers` tokens in turn: the status
//! service limits each token's rate, as it would each bank's.
//!
//! With `--no-prepare` nothing is imported: the cards are generated only, so that the
//! scenario can run against the empty-handler ceiling (`idctl ceiling`), which has no
//! review service behind it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use idcard_auth::Role;
use idcard_proto::v1 as pb;
use idcard_proto::v1::card_status_service_client::CardStatusServiceClient;
use serde_json::json;
use tokio::task::JoinSet;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::transport::Channel;

use super::citizens::Pool;
use super::summary::{Prepared, Summary};
use super::{Context, Measured, Readings, Recorder};
use crate::print;

pub const METHOD: &str = "CardStatusService/VerifyCard";

/// The set's size unless --pool or a smaller --count says otherwise.
const DEFAULT_CARDS: u64 = 10_000;

pub async fn run(cx: &Context) -> anyhow::Result<Summary> {
    let pool = Pool::new(
        cx.run_id,
        super::pool_size(&cx.args, DEFAULT_CARDS, Some(DEFAULT_CARDS)),
    );
    let tokens = Arc::new(verifier_tokens(cx)?);
    let channels = channels(cx).await?;
    let (cards, prepared) = if cx.args.no_prepare {
        generated(&pool)?
    } else {
        prepare(cx, &pool, &channels, &tokens).await?
    };
    let cards = Arc::new(cards);

    let mut plan = super::plan(&cx.args, cards.len() as u64, true);
    let before = Readings::take(cx).await;
    plan.start();
    let plan = Arc::new(plan);
    let progress = cx.progress(&plan);
    let mut workers = JoinSet::new();
    let concurrency = cx.args.concurrency as usize;
    for w in 0..concurrency {
        let mut client = CardStatusServiceClient::new(channels[w % channels.len()].clone());
        let (plan, cards, tokens) = (Arc::clone(&plan), Arc::clone(&cards), Arc::clone(&tokens));
        workers.spawn(async move {
            let mut recorder = Recorder::default();
            let mut answers: BTreeMap<&'static str, u64> = BTreeMap::new();
            let (mut count, mut ok) = (0u64, 0u64);
            while let Some(i) = plan.next() {
                // Spread the calls over the tokens, whatever the concurrency.
                let token = tokens.get((w + count as usize * concurrency) % tokens.len().max(1));
                let request = request_with(cards[i as usize].clone(), token);
                if let Ok(answer) = recorder.call(&plan, METHOD, client.verify_card(request)).await {
                    ok += 1;
                    *answers.entry(print::verification(answer.answer)).or_insert(0) += 1;
                }
                count += 1;
                plan.finished.fetch_add(1, Ordering::Relaxed);
            }
            (recorder, answers, count, ok)
        });
    }
    let mut recorder = Recorder::default();
    let mut answers: BTreeMap<&'static str, u64> = BTreeMap::new();
    let (mut count, mut ok) = (0, 0);
    while let Some(joined) = workers.join_next().await {
        let (worker, worker_answers, n, k) = joined?;
        recorder.merge(worker);
        for (answer, m) in worker_answers {
            *answers.entry(answer).or_insert(0) += m;
        }
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
    let mut summary = Summary::new(cx, measured, METHOD, None);
    let line = format!(
        "answers: {}",
        answers
            .iter()
            .map(|(answer, n)| format!("{answer} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    summary.extra("answers", json!(answers), line);
    summary.extra(
        "verifier_tokens",
        json!(tokens.len()),
        format!("verifier tokens: {}", tokens.len().max(1)),
    );
    Ok(summary)
}

/// `Bearer` values of `--verifiers` tokens with distinct subjects (none when insecure).
pub(super) fn verifier_tokens(cx: &Context) -> anyhow::Result<Vec<MetadataValue<Ascii>>> {
    let mut out = Vec::new();
    for i in 0..cx.args.verifiers {
        let Some(token) = cx.token(&format!("load-verifier-{:x}-{i}", cx.run_id), Role::Verifier, &[])? else {
            break;
        };
        out.push(
            format!("Bearer {token}")
                .parse()
                .context("a token is not valid header text")?,
        );
    }
    Ok(out)
}

/// Channels to the status service without a token of their own: each call carries one.
pub(super) async fn channels(cx: &Context) -> anyhow::Result<Vec<Channel>> {
    let ca = cx.endpoints.ca();
    let mut out = Vec::new();
    for _ in 0..cx.args.connections {
        let url = &cx.endpoints.status_url;
        let channel = idctl::client::endpoint(url, ca.as_deref())?
            .connect()
            .await
            .map_err(|err| anyhow::anyhow!("cannot connect to {url}: {err} (is the stack up? `idctl up`)"))?;
        out.push(channel);
    }
    Ok(out)
}

pub(super) fn request_with(
    request: pb::VerifyCardRequest,
    token: Option<&MetadataValue<Ascii>>,
) -> tonic::Request<pb::VerifyCardRequest> {
    let mut request = tonic::Request::new(request);
    if let Some(token) = token {
        request.metadata_mut().insert("authorization", token.clone());
    }
    request
}

/// The set's cards as generated, never imported (`--no-prepare`).
fn generated(pool: &Pool) -> anyhow::Result<(Vec<pb::VerifyCardRequest>, Prepared)> {
    let started = Instant::now();
    let cards = (0..pool.size())
        .map(|i| pool.citizen(i).map(|c| c.verify_request()))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let prepared = Prepared {
        what: "cards generated, not imported",
        count: cards.len() as u64,
        seconds: started.elapsed().as_secs_f64(),
    };
    Ok((cards, prepared))
}

/// Imports the set's residents, then verifies each card until it answers VALID (the
/// publication through the review outbox takes a moment). Cards that never do within
/// --settle are left out of the set, and said so.
async fn prepare(
    cx: &Context,
    pool: &Pool,
    channels: &[Channel],
    tokens: &Arc<Vec<MetadataValue<Ascii>>>,
) -> anyhow::Result<(Vec<pb::VerifyCardRequest>, Prepared)> {
    let started = Instant::now();
    super::submit::prepare(cx, pool).await?;
    cx.note(&format!("  verifying the {} cards once", pool.size()));
    let requests: Vec<pb::VerifyCardRequest> = (0..pool.size())
        .map(|i| pool.citizen(i).map(|c| c.verify_request()))
        .collect::<anyhow::Result<_>>()?;
    let requests = Arc::new(requests);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let deadline = Instant::now() + cx.args.settle;
    let mut workers = JoinSet::new();
    for w in 0..cx.args.concurrency as usize {
        let mut client = CardStatusServiceClient::new(channels[w % channels.len()].clone());
        let (requests, next, tokens) = (Arc::clone(&requests), Arc::clone(&next), Arc::clone(tokens));
        workers.spawn(async move {
            let mut valid = Vec::new();
            let mut turn = w;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(request) = requests.get(i) else {
                    return anyhow::Ok(valid);
                };
                loop {
                    turn += 1;
                    let token = tokens.get(turn % tokens.len().max(1));
                    match client.verify_card(request_with(request.clone(), token)).await {
                        Ok(answer) if answer.get_ref().answer == i32::from(pb::VerificationAnswer::Valid) => {
                            valid.push(i);
                            break;
                        }
                        Ok(_) => {}
                        Err(status) if super::transient(status.code()) => {}
                        Err(status) => return Err(anyhow::Error::from(status).context("verifying a prepared card")),
                    }
                    if Instant::now() > deadline {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        });
    }
    let mut valid = Vec::new();
    while let Some(joined) = workers.join_next().await {
        valid.extend(joined??);
    }
    valid.sort_unstable();
    let missing = requests.len() - valid.len();
    anyhow::ensure!(!valid.is_empty(), "no prepared card verifies as VALID");
    if missing > 0 {
        cx.note(&format!(
            "  {missing} card(s) did not verify as VALID within --settle and are left out"
        ));
    }
    let cards = valid.into_iter().map(|i| requests[i].clone()).collect::<Vec<_>>();
    let prepared = Prepared {
        what: "cards imported and verified once",
        count: cards.len() as u64,
        seconds: started.elapsed().as_secs_f64(),
    };
    Ok((cards, prepared))
}
