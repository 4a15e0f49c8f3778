use std::time::Duration;

use idcard_db::{Backend, Db, Tx, on_tx};
use sqlx::Row;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::AuditError;
use crate::chain::{Content, entry_hash};

/// Entries sealed per transaction unless [`Sealer::with_batch_size`] says otherwise.
pub const DEFAULT_BATCH_SIZE: u32 = 500;

/// Chains recorded entries in the background, one batch per transaction.
///
/// Any number of sealers may run against one database (one per replica): each batch
/// locks the chain head, so they take turns and the chain stays one line.
#[derive(Debug, Clone)]
pub struct Sealer {
    db: Db,
    interval: Duration,
    batch_size: u32,
}

impl Sealer {
    /// A sealer that looks for unsealed entries every `interval` (and at once again
    /// after a full batch).
    pub fn new(db: Db, interval: Duration) -> Sealer {
        Sealer {
            db,
            interval,
            batch_size: DEFAULT_BATCH_SIZE,
        }
    }

    pub fn with_batch_size(mut self, batch_size: u32) -> Sealer {
        self.batch_size = batch_size.max(1);
        self
    }

    /// Seals until `shutdown`. A batch under way is finished, and one last batch seals
    /// what the final requests recorded.
    pub async fn run(self, shutdown: CancellationToken) {
        tracing::info!(
            interval_ms = self.interval.as_millis() as u64,
            batch_size = self.batch_size,
            "audit sealer started"
        );
        while !shutdown.is_cancelled() {
            let sealed = match self.seal_batch().await {
                Ok(sealed) => sealed,
                Err(err) => {
                    tracing::warn!(error = %err, "audit sealing failed; will retry");
                    0
                }
            };
            if sealed < self.batch_size as usize {
                tokio::select! {
                    _ = tokio::time::sleep(self.interval) => {}
                    _ = shutdown.cancelled() => {}
                }
            }
        }
        if let Err(err) = self.seal_batch().await {
            tracing::warn!(error = %err, "audit sealing on shutdown failed; the next start seals the rest");
        }
        tracing::info!("audit sealer stopped");
    }

    /// Seals up to one batch of unsealed entries; returns how many.
    pub async fn seal_batch(&self) -> Result<usize, AuditError> {
        seal(&self.db, self.batch_size).await
    }
}

/// Seals up to [`DEFAULT_BATCH_SIZE`] unsealed entries now; returns how many.
pub async fn seal_once(db: &Db) -> Result<usize, AuditError> {
    seal(db, DEFAULT_BATCH_SIZE).await
}

struct Unsealed {
    seq: i64,
    content: Content,
}

#[tracing::instrument(skip_all)]
async fn seal(db: &Db, limit: u32) -> Result<usize, AuditError> {
    // BEGIN IMMEDIATE on SQLite: the write lock serializes sealers there.
    let mut tx = db.begin().await?;
    let (head_position, head_hash) = lock_head(&mut tx).await?;
    let batch: Vec<Unsealed> = on_tx!(&mut tx, |conn| {
        sqlx::query(
            "SELECT seq, entry_id, at_ms, actor, role, action, target, detail FROM audit_log \
             WHERE chain_position IS NULL ORDER BY seq LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(conn)
        .await?
        .iter()
        .map(|row| -> Result<Unsealed, sqlx::Error> {
            Ok(Unsealed {
                seq: row.try_get("seq")?,
                content: Content {
                    entry_id: row.try_get::<Uuid, _>("entry_id")?,
                    at_ms: row.try_get("at_ms")?,
                    actor: row.try_get("actor")?,
                    role: row.try_get("role")?,
                    action: row.try_get("action")?,
                    target: row.try_get("target")?,
                    detail: row.try_get("detail")?,
                },
            })
        })
        .collect::<Result<_, _>>()?
    });
    if batch.is_empty() {
        return Ok(0);
    }

    let mut position = head_position;
    let mut prev_hash = head_hash;
    for entry in &batch {
        position += 1;
        let hash = entry_hash(&prev_hash, position, &entry.content);
        let updated = on_tx!(&mut tx, |conn| {
            sqlx::query(
                "UPDATE audit_log SET chain_position = $1, prev_hash = $2, hash = $3 \
                 WHERE seq = $4 AND chain_position IS NULL",
            )
            .bind(position)
            .bind(prev_hash.as_slice())
            .bind(hash.as_slice())
            .bind(entry.seq)
            .execute(conn)
            .await?
            .rows_affected()
        });
        if updated != 1 {
            return Err(AuditError::Inconsistent(format!(
                "entry seq {} was sealed by someone else",
                entry.seq
            )));
        }
        prev_hash = hash.to_vec();
    }
    on_tx!(&mut tx, |conn| {
        sqlx::query("UPDATE audit_chain_head SET position = $1, hash = $2 WHERE id = 1")
            .bind(position)
            .bind(prev_hash.as_slice())
            .execute(conn)
            .await?
            .rows_affected()
    });
    tx.commit().await?;
    tracing::debug!(sealed = batch.len(), position, "audit entries sealed");
    Ok(batch.len())
}

/// Reads the chain head and, on PostgreSQL, locks it until the transaction ends.
async fn lock_head(tx: &mut Tx) -> Result<(i64, Vec<u8>), AuditError> {
    let sql = match tx.backend() {
        Backend::Sqlite => "SELECT position, hash FROM audit_chain_head WHERE id = 1",
        Backend::Postgres => "SELECT position, hash FROM audit_chain_head WHERE id = 1 FOR UPDATE",
    };
    let row = on_tx!(tx, |conn| {
        sqlx::query(sql)
            .fetch_optional(conn)
            .await?
            .map(|row| -> Result<(i64, Vec<u8>), sqlx::Error> { Ok((row.try_get(0)?, row.try_get(1)?)) })
            .transpose()?
    });
    row.ok_or_else(|| AuditError::Inconsistent("the chain head row is missing".into()))
}
