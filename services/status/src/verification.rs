//! The record of every verification, written off the hot path.
//!
//! `VerifyCard` hands each record (who asked, when, the answer) to a background writer
//! through a bounded channel and answers; the writer inserts what has queued in one
//! transaction at least every [`FLUSH_INTERVAL`] (sooner when [`MAX_BATCH`] records
//! wait), and writes everything still queued when the service stops. So a verification's
//! one read is its only database work on the request path.
//!
//! The window: an orderly stop loses nothing (the writer stops only after the server has
//! answered its last call, and drains the channel). A crash loses the records queued
//! since the last commit, about the last 100 ms of verifications, more only while the
//! database is slow. When the writer falls behind, the full channel makes verifications
//! wait for room rather than go unrecorded; if the writer is gone, verifications are
//! refused.

use std::time::Duration;

use idcard_db::{Db, now_ms};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::store::{self, Verification};

/// The longest a queued record waits for its commit while the database keeps up.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(100);

/// Records written per transaction at most.
pub const MAX_BATCH: usize = 500;

/// Records that may wait in memory before verifications wait for the writer.
const CHANNEL_CAPACITY: usize = 10_000;

/// Commit attempts for what is left when the service stops.
const FINAL_ATTEMPTS: u32 = 3;

/// Where handlers hand verification records to the writer. Cheap to clone.
#[derive(Clone)]
pub struct Recorder {
    sender: mpsc::Sender<Verification>,
}

/// The writer is gone: the verification cannot be recorded.
#[derive(Debug, thiserror::Error)]
#[error("the verification record writer has stopped")]
pub struct WriterStopped;

impl Recorder {
    /// Queues the record of a verification by `verifier` with `answer`, now.
    pub async fn record(&self, verifier: &str, answer: &'static str) -> Result<(), WriterStopped> {
        let verification = Verification {
            verification_id: Uuid::now_v7(),
            verifier: verifier.to_string(),
            answer,
            at_ms: now_ms(),
        };
        self.sender.send(verification).await.map_err(|_| WriterStopped)
    }
}

/// Starts the writer on `db`. It runs until `stop` (cancel it only once no call can be
/// recorded any more) or until every [`Recorder`] is dropped, then writes what is queued.
pub fn spawn(db: Db, stop: CancellationToken) -> (Recorder, JoinHandle<()>) {
    let (sender, receiver) = mpsc::channel(CHANNEL_CAPACITY);
    (Recorder { sender }, tokio::spawn(run(db, receiver, stop)))
}

async fn run(db: Db, mut receiver: mpsc::Receiver<Verification>, stop: CancellationToken) {
    let mut pending: Vec<Verification> = Vec::with_capacity(MAX_BATCH);
    let mut tick = tokio::time::interval(FLUSH_INTERVAL);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        let room = MAX_BATCH - pending.len();
        tokio::select! {
            // A batch that failed to commit stays pending; while it is full, nothing more
            // is taken, so the channel fills and callers wait.
            received = receiver.recv_many(&mut pending, room), if room > 0 => {
                if received == 0 {
                    break;
                }
                if pending.len() >= MAX_BATCH {
                    flush(&db, &mut pending).await;
                }
            }
            _ = tick.tick() => flush(&db, &mut pending).await,
            _ = stop.cancelled() => break,
        }
    }
    receiver.close();
    while let Some(verification) = receiver.recv().await {
        pending.push(verification);
    }
    let mut attempt = 0;
    while !pending.is_empty() {
        attempt += 1;
        let batch = pending.len().min(MAX_BATCH);
        match store::insert_verifications(&db, &pending[..batch]).await {
            Ok(()) => {
                pending.drain(..batch);
                attempt = 0;
            }
            Err(err) if attempt >= FINAL_ATTEMPTS => {
                tracing::error!(error = %err, lost = pending.len(), "verification records could not be written at stop");
                return;
            }
            Err(err) => {
                tracing::warn!(error = %err, attempt, "writing verification records failed; retrying");
                tokio::time::sleep(FLUSH_INTERVAL).await;
            }
        }
    }
    tracing::debug!("verification record writer stopped");
}

/// Commits `pending`, emptying it; on failure keeps it for the next round.
async fn flush(db: &Db, pending: &mut Vec<Verification>) {
    if pending.is_empty() {
        return;
    }
    match store::insert_verifications(db, pending).await {
        Ok(()) => pending.clear(),
        Err(err) => {
            tracing::warn!(error = %err, waiting = pending.len(), "writing verification records failed; will retry")
        }
    }
}
