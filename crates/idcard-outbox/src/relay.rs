use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use idcard_crypto::{KeySource, Purpose};
use idcard_db::{Db, DbError, Tx, now_ms, on_db, on_tx};
use sqlx::Row;
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, Span};

use crate::message::payload_aad;
use crate::{Message, trace_context};

/// Why a delivery failed, and whether trying again can help.
#[derive(Debug, Clone)]
pub enum DeliveryError {
    /// The peer is down, slow, or not ready for this message yet: retry with backoff.
    Retryable(String),
    /// The peer refused the message for good (or no peer has that name): dead-letter it.
    Permanent(String),
}

/// Turns a claimed outbox row into a call to its destination.
pub trait Deliverer: Send + Sync + 'static {
    fn deliver(&self, message: &Message) -> impl Future<Output = Result<(), DeliveryError>> + Send;

    /// Runs in the transaction that marks `message` delivered, for a sender that records
    /// the hand-over in its own state.
    fn on_delivered(&self, _tx: &mut Tx, _message: &Message) -> impl Future<Output = Result<(), DbError>> + Send {
        async { Ok(()) }
    }
}

/// Relay settings.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// The sending service, as the `service` label of the relay's metrics.
    pub service: &'static str,
    /// The peers it sends to, so that their outbox gauges read 0 before a first message.
    pub destinations: Vec<String>,
    /// Rows claimed (and delivered concurrently) per round.
    pub batch_size: u32,
    /// How often to look for due rows when nothing wakes the relay.
    pub poll_interval: Duration,
    /// How long a claim holds before another relay may take the row (a crashed replica).
    pub claim_ttl: Duration,
    /// Attempts before a message is dead-lettered.
    pub max_attempts: i32,
    pub base_backoff: Duration,
    pub max_backoff: Duration,
    /// Timeout of one delivery call.
    pub delivery_timeout: Duration,
    /// How long delivered rows are kept (for inspection) before they are deleted.
    pub retention: Duration,
}

impl Default for RelayConfig {
    fn default() -> Self {
        RelayConfig {
            service: "unknown",
            destinations: Vec::new(),
            batch_size: 64,
            poll_interval: Duration::from_millis(500),
            claim_ttl: Duration::from_secs(30),
            max_attempts: 12,
            base_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(60),
            delivery_timeout: Duration::from_secs(10),
            retention: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

/// Exponential backoff with full jitter: a random wait in `[0, min(max, base * 2^attempt)]`,
/// never below 10% of the capped value so that a failing peer is not hammered.
pub fn backoff(config: &RelayConfig, attempt: i32) -> Duration {
    let exp = config.base_backoff.saturating_mul(1u32 << attempt.clamp(0, 20));
    let cap = exp.min(config.max_backoff);
    let floor = cap / 10;
    floor + (cap - floor).mul_f64(fastrand::f64())
}

/// Wakes the relay right after a commit that wrote outbox rows.
#[derive(Debug, Clone, Default)]
pub struct RelayHandle {
    notify: Arc<Notify>,
}

impl RelayHandle {
    pub fn wake(&self) {
        self.notify.notify_one();
    }
}

/// Delivers outbox rows until shut down.
pub struct Relay<D> {
    db: Db,
    keys: KeySource,
    deliverer: Arc<D>,
    config: RelayConfig,
    handle: RelayHandle,
}

impl<D: Deliverer> Relay<D> {
    pub fn new(db: Db, keys: KeySource, deliverer: D, config: RelayConfig) -> Self {
        Relay {
            db,
            keys,
            deliverer: Arc::new(deliverer),
            config,
            handle: RelayHandle::default(),
        }
    }

    pub fn handle(&self) -> RelayHandle {
        self.handle.clone()
    }

    /// The sending service's name ([`RelayConfig::service`]).
    pub fn service(&self) -> &'static str {
        self.config.service
    }

    /// The configured destinations ([`RelayConfig::destinations`]).
    pub fn destinations(&self) -> &[String] {
        &self.config.destinations
    }

    /// Runs until `shutdown`; a batch under way is finished first.
    pub async fn run(self, shutdown: CancellationToken) {
        tracing::info!(batch_size = self.config.batch_size, "outbox relay started");
        let mut last_prune = tokio::time::Instant::now();
        while !shutdown.is_cancelled() {
            if last_prune.elapsed() >= PRUNE_EVERY {
                last_prune = tokio::time::Instant::now();
                if let Err(err) = prune(&self.db, self.config.retention).await {
                    tracing::warn!(error = %err, "pruning delivered outbox rows failed");
                }
            }
            let delivered = match self.round().await {
                Ok(count) => count,
                Err(err) => {
                    tracing::warn!(error = %err, "outbox relay round failed");
                    0
                }
            };
            if delivered == 0 {
                tokio::select! {
                    _ = self.handle.notify.notified() => {}
                    _ = tokio::time::sleep(self.config.poll_interval) => {}
                    _ = shutdown.cancelled() => {}
                }
            }
        }
        tracing::info!("outbox relay stopped");
    }

    /// Claims one batch and delivers it. Returns how many rows it claimed.
    pub async fn round(&self) -> Result<usize, DbError> {
        let batch = claim(&self.db, &self.config).await?;
        let claimed = batch.len();
        let keys = self.keys.current();
        let mut deliveries = JoinSet::new();
        for (mut message, sealed_for) in batch {
            let span = delivery_span(self.config.service, &message);
            // A payload that does not open (a key removed too soon, or tampering) cannot
            // be delivered by retrying.
            let opened = sealed_for
                .parse::<Purpose>()
                .map_err(|_| format!("unknown seal {sealed_for:?}"))
                .and_then(|purpose| {
                    keys.open(purpose, &message.payload, &payload_aad(message.message_id))
                        .map_err(|err| err.to_string())
                });
            match opened {
                Ok(payload) => message.payload = payload,
                Err(reason) => {
                    let outcome = Err(DeliveryError::Permanent(format!("payload does not open: {reason}")));
                    if let Err(err) = self.settle(&message, outcome).instrument(span).await {
                        tracing::warn!(error = %err, message_id = %message.message_id, "could not record delivery outcome");
                    }
                    continue;
                }
            }
            let deliverer = Arc::clone(&self.deliverer);
            let timeout = self.config.delivery_timeout;
            let settle_in = span.clone();
            deliveries.spawn(
                async move {
                    let outcome = match tokio::time::timeout(timeout, deliverer.deliver(&message)).await {
                        Ok(outcome) => outcome,
                        Err(_) => Err(DeliveryError::Retryable(format!("no answer within {timeout:?}"))),
                    };
                    (message, outcome, settle_in)
                }
                .instrument(span),
            );
        }
        // Outcomes are recorded as they come, those that arrived together in one
        // transaction: one commit (on SQLite, one turn of the write lock) per group
        // rather than per message.
        while let Some(joined) = deliveries.join_next().await {
            let mut group: Vec<Settled> = joined.into_iter().collect();
            while let Some(joined) = deliveries.try_join_next() {
                group.extend(joined);
            }
            self.settle_group(group).await;
        }
        Ok(claimed)
    }

    /// Records `group`'s outcomes in one transaction; if that fails, each on its own, so
    /// that one message's failing hook does not hold up the others.
    async fn settle_group(&self, group: Vec<Settled>) {
        if group.len() > 1 {
            match self.settle_together(&group).await {
                Ok(()) => return,
                Err(err) => tracing::debug!(error = %err, count = group.len(), "settling together failed; one by one"),
            }
        }
        for (message, outcome, span) in group {
            if let Err(err) = self.settle(&message, outcome).instrument(span).await {
                // The claim expires and the row is tried again; the receiver's inbox
                // makes the repeat harmless.
                tracing::warn!(error = %err, message_id = %message.message_id, "could not record delivery outcome");
            }
        }
    }

    async fn settle_together(&self, group: &[Settled]) -> Result<(), DbError> {
        let now = now_ms();
        let mut tx = self.db.begin().await?;
        let mut settled = Vec::with_capacity(group.len());
        for (message, outcome, span) in group {
            // In the delivery's span: what `on_delivered` enqueues joins the same trace.
            let state = self
                .record(&mut tx, message, outcome.clone(), now)
                .instrument(span.clone())
                .await?;
            settled.push(state);
        }
        tx.commit().await?;
        for ((message, _, _), state) in group.iter().zip(settled) {
            self.count(message, state, now);
        }
        Ok(())
    }

    async fn settle(&self, message: &Message, outcome: Result<(), DeliveryError>) -> Result<(), DbError> {
        let now = now_ms();
        let mut tx = self.db.begin().await?;
        let settled = self.record(&mut tx, message, outcome, now).await?;
        tx.commit().await?;
        self.count(message, settled, now);
        Ok(())
    }

    /// Writes one delivery's outcome in `tx`: delivered (and the deliverer's hook), back
    /// to pending with a backoff, or dead. Returns the outcome's metric label.
    async fn record(
        &self,
        tx: &mut Tx,
        message: &Message,
        outcome: Result<(), DeliveryError>,
        now: i64,
    ) -> Result<&'static str, DbError> {
        let settled = match outcome {
            Ok(()) => {
                on_tx!(&mut *tx, |conn| {
                    sqlx::query(
                        "UPDATE outbox SET state = 'delivered', delivered_at_ms = $1, claimed_until_ms = NULL, \
                         attempts = attempts + 1 WHERE seq = $2",
                    )
                    .bind(now)
                    .bind(message.seq)
                    .execute(conn)
                    .await?
                    .rows_affected()
                });
                self.deliverer.on_delivered(tx, message).await?;
                tracing::debug!(message_id = %message.message_id, kind = %message.kind, "delivered");
                "delivered"
            }
            Err(err) => {
                let attempts = message.attempts + 1;
                let (dead, reason) = match &err {
                    DeliveryError::Permanent(reason) => (true, reason),
                    DeliveryError::Retryable(reason) => (attempts >= self.config.max_attempts, reason),
                };
                let next =
                    now.saturating_add(i64::try_from(backoff(&self.config, attempts).as_millis()).unwrap_or(i64::MAX));
                let state = if dead { "dead" } else { "pending" };
                on_tx!(&mut *tx, |conn| {
                    sqlx::query(
                        "UPDATE outbox SET state = $1, attempts = $2, next_attempt_at_ms = $3, claimed_until_ms = NULL, \
                         last_error = $4 WHERE seq = $5",
                    )
                    .bind(state)
                    .bind(attempts)
                    .bind(next)
                    .bind(reason.as_str())
                    .bind(message.seq)
                    .execute(conn)
                    .await?
                    .rows_affected()
                });
                if dead {
                    tracing::error!(message_id = %message.message_id, kind = %message.kind, destination = %message.destination,
                        attempts, error = %reason, "outbox message dead-lettered");
                } else {
                    tracing::info!(message_id = %message.message_id, kind = %message.kind, destination = %message.destination,
                        attempts, error = %reason, "delivery failed, will retry");
                }
                if dead { "dead" } else { "retry" }
            }
        };
        Ok(settled)
    }

    /// Counts a settled delivery and, when delivered, how long the message took from
    /// its outbox row to the acknowledgement.
    fn count(&self, message: &Message, outcome: &'static str, now: i64) {
        let (service, destination) = (self.config.service, message.destination.clone());
        metrics::counter!("idcard_outbox_deliveries_total", "service" => service,
            "destination" => destination.clone(), "outcome" => outcome)
        .increment(1);
        if outcome == "delivered" {
            let lag_ms = now.saturating_sub(message.created_at_ms).max(0);
            metrics::histogram!("idcard_outbox_relay_lag_seconds", "service" => service, "destination" => destination)
                .record(lag_ms as f64 / 1000.0);
        }
    }
}

/// The span one delivery (and the recording of its outcome) runs in: a child of the
/// work that enqueued the message, by the trace context stored with it, so that the
/// receiver's span, which the peer channel's metadata parents to this one, joins that
/// trace.
fn delivery_span(service: &'static str, message: &Message) -> Span {
    let span = tracing::info_span!(
        "outbox.deliver",
        otel.name = %format_args!("deliver {}", message.kind),
        otel.kind = "producer",
        idcard.service = service,
        message_id = %message.message_id,
        kind = %message.kind,
        destination = %message.destination,
        attempt = message.attempts + 1,
        trace_id = tracing::field::Empty,
    );
    let parent = message.trace_context.as_deref().and_then(trace_context::parse);
    trace_context::adopt(&span, parent.as_ref());
    trace_context::record_trace_id(&span);
    span
}

/// A finished delivery: the message, its outcome, and the span it ran in.
type Settled = (Message, Result<(), DeliveryError>, Span);

/// How often delivered rows past their retention are deleted.
const PRUNE_EVERY: Duration = Duration::from_secs(60);

/// Deletes delivered rows older than `retention` (their payloads are sealed under the
/// keys of their day; pruning lets retired keys go).
async fn prune(db: &Db, retention: Duration) -> Result<u64, DbError> {
    let before = now_ms().saturating_sub(i64::try_from(retention.as_millis()).unwrap_or(i64::MAX));
    let pruned = on_db!(db, |pool| {
        sqlx::query("DELETE FROM outbox WHERE state = 'delivered' AND delivered_at_ms < $1")
            .bind(before)
            .execute(pool)
            .await?
            .rows_affected()
    });
    if pruned > 0 {
        tracing::debug!(pruned, "pruned delivered outbox rows");
    }
    Ok(pruned)
}

/// The first due row of each (destination, ordering key), so that one application's
/// messages leave in order. PostgreSQL replicas skip rows another relay holds.
const CLAIM_SQLITE: &str = "UPDATE outbox SET claimed_until_ms = $1 WHERE seq IN ( \
    SELECT o.seq FROM outbox o WHERE o.state = 'pending' AND o.next_attempt_at_ms <= $2 \
    AND (o.claimed_until_ms IS NULL OR o.claimed_until_ms < $2) \
    AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.state = 'pending' AND p.destination = o.destination \
        AND p.ordering_key = o.ordering_key AND p.seq < o.seq) \
    ORDER BY o.seq LIMIT $3) \
    RETURNING seq, message_id, destination, kind, ordering_key, payload, attempts, trace_context, sealed_for, \
    created_at_ms";

const CLAIM_POSTGRES: &str = "UPDATE outbox SET claimed_until_ms = $1 WHERE seq IN ( \
    SELECT o.seq FROM outbox o WHERE o.state = 'pending' AND o.next_attempt_at_ms <= $2 \
    AND (o.claimed_until_ms IS NULL OR o.claimed_until_ms < $2) \
    AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.state = 'pending' AND p.destination = o.destination \
        AND p.ordering_key = o.ordering_key AND p.seq < o.seq) \
    ORDER BY o.seq LIMIT $3 FOR UPDATE SKIP LOCKED) \
    RETURNING seq, message_id, destination, kind, ordering_key, payload, attempts, trace_context, sealed_for, \
    created_at_ms";

/// Claimed rows, their payloads still sealed, with the purpose of the sealing key.
async fn claim(db: &Db, config: &RelayConfig) -> Result<Vec<(Message, String)>, DbError> {
    let now = now_ms();
    let until = now.saturating_add(i64::try_from(config.claim_ttl.as_millis()).unwrap_or(i64::MAX));
    let limit = i64::from(config.batch_size);
    let sql = match db.backend() {
        idcard_db::Backend::Sqlite => CLAIM_SQLITE,
        idcard_db::Backend::Postgres => CLAIM_POSTGRES,
    };
    // In a write transaction, so that on SQLite the claim queues with the other writers
    // of this process instead of sleeping in the busy handler.
    let mut tx = db.begin().await?;
    let mut messages: Vec<(Message, String)> = on_tx!(&mut tx, |conn| {
        sqlx::query(sql)
            .bind(until)
            .bind(now)
            .bind(limit)
            .fetch_all(conn)
            .await?
            .into_iter()
            .map(|row| {
                let message = Message {
                    seq: row.get(0),
                    message_id: row.get(1),
                    destination: row.get(2),
                    kind: row.get(3),
                    ordering_key: row.get(4),
                    payload: row.get(5),
                    attempts: row.get(6),
                    trace_context: row.get(7),
                    created_at_ms: row.get(9),
                };
                (message, row.get(8))
            })
            .collect()
    });
    tx.commit().await?;
    messages.sort_by_key(|(m, _)| m.seq);
    Ok(messages)
}
