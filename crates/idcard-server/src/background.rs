//! The tasks every service runs beside its gRPC server: the outbox relay, the audit
//! sealer, the key reload and the re-sealer. They are stopped after the server has
//! drained, so that the last calls' outbox rows and audit entries are still handled.

use std::future::Future;
use std::time::Duration;

use idcard_crypto::KeySource;
use idcard_db::Db;
use idcard_outbox::{Deliverer, Relay};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// How often the audit sealer chains newly recorded entries.
pub const AUDIT_SEAL_INTERVAL: Duration = Duration::from_millis(200);

pub struct Background {
    stop: CancellationToken,
    tasks: Vec<(&'static str, JoinHandle<()>)>,
}

impl Background {
    /// Starts `relay`, the audit sealer of `db`, the reload of `keys` every
    /// `key_reload_interval`, and the outbox and audit gauges (labelled with the relay's
    /// service).
    pub fn start<D: Deliverer>(
        db: &Db,
        keys: &KeySource,
        relay: Relay<D>,
        key_reload_interval: Duration,
    ) -> Background {
        crate::metrics::install();
        let service = relay.service();
        let outbox = crate::metrics::OutboxGauges::new(service, relay.destinations());
        let stop = CancellationToken::new();
        let tasks = vec![
            ("outbox relay", tokio::spawn(relay.run(stop.clone()))),
            (
                "audit sealer",
                tokio::spawn(idcard_audit::Sealer::new(db.clone(), AUDIT_SEAL_INTERVAL).run(stop.clone())),
            ),
            (
                "key reload",
                crate::spawn_key_reload(keys.clone(), key_reload_interval, stop.clone()),
            ),
        ];
        let mut background = Background { stop, tasks };
        let db = db.clone();
        background.every("outbox and audit gauges", crate::metrics::SAMPLE_INTERVAL, move || {
            let (db, outbox) = (db.clone(), outbox.clone());
            async move {
                crate::metrics::run_upkeep();
                outbox.sample(&db).await?;
                crate::metrics::sample_audit(&db, service).await
            }
        });
        background
    }

    /// Adds a re-sealer (see [`crate::spawn_resealer`]).
    pub fn resealer<F, Fut>(&mut self, what: &'static str, interval: Duration, batch: F)
    where
        F: FnMut() -> Fut + Send + 'static,
        Fut: Future<Output = Result<usize, String>> + Send,
    {
        let task = crate::spawn_resealer(what, interval, self.stop.clone(), batch);
        self.tasks.push(("re-sealer", task));
    }

    /// Adds a service's own task; it must end when [`Background::token`] is cancelled.
    pub fn add(&mut self, name: &'static str, task: JoinHandle<()>) {
        self.tasks.push((name, task));
    }

    /// Runs `round` every `interval` until stopped (a failed round is logged and tried
    /// again next time). For samplers that turn database counts into gauges.
    pub fn every<F, Fut>(&mut self, name: &'static str, interval: Duration, mut round: F)
    where
        F: FnMut() -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), String>> + Send,
    {
        let stop = self.stop.clone();
        let task = tokio::spawn(async move {
            while !stop.is_cancelled() {
                if let Err(err) = round().await {
                    tracing::warn!(task = name, error = %err, "periodic task failed; will try again");
                }
                tokio::select! {
                    _ = tokio::time::sleep(interval) => {}
                    _ = stop.cancelled() => {}
                }
            }
        });
        self.tasks.push((name, task));
    }

    /// The token the tasks stop on.
    pub fn token(&self) -> CancellationToken {
        self.stop.clone()
    }

    /// Stops every task and waits until each has finished its current round.
    pub async fn stop(self) {
        self.stop.cancel();
        for (task, handle) in self.tasks {
            if let Err(err) = handle.await {
                tracing::error!(task, error = %err, "background task failed");
            }
        }
    }
}
