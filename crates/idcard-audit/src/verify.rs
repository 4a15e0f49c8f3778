use std::fmt;

use futures::TryStreamExt;
use idcard_db::{Db, Tx, on_tx};
use sqlx::Row;
use uuid::Uuid;

use crate::chain::{Content, entry_hash};
use crate::{AuditError, GENESIS_HASH};

/// An intact chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// Sealed entries, all checked.
    pub entries: u64,
    /// Entries recorded but not sealed yet, which the chain does not cover.
    pub unsealed: u64,
    /// The hash of the last sealed entry (the genesis hash when none is sealed). Kept
    /// somewhere the database's administrators cannot write, it also catches a rewrite of
    /// the whole chain.
    pub head_hash: Vec<u8>,
}

/// The first place where the chain does not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broken {
    /// The chain position of the broken (or missing) entry.
    pub position: i64,
    /// The entry found at `position`, if there is one.
    pub entry_id: Option<Uuid>,
    pub reason: BrokenReason,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BrokenReason {
    /// The entry's content no longer matches its hash.
    ContentAltered,
    /// The entry's stored hash was changed; its content still matches the next link.
    HashAltered,
    /// No entry holds this position, though later ones exist: it was deleted.
    Missing,
    /// The entry does not link to the hash of the one before it: an entry before it was
    /// removed or rewritten with a fresh hash, or its own link was changed.
    LinkBroken,
    /// The head records more entries than there are: entries at the end were deleted.
    TailMissing { head_position: i64 },
    /// The head disagrees with the last entry (position or hash).
    HeadMismatch { head_position: i64 },
    /// A sealed entry lacks its hashes.
    Incomplete,
}

impl fmt::Display for BrokenReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BrokenReason::ContentAltered => f.write_str("entry content was altered (it no longer matches its hash)"),
            BrokenReason::HashAltered => f.write_str("entry hash was altered (the next entry links to another hash)"),
            BrokenReason::Missing => f.write_str("entry is missing (deleted) while later entries exist"),
            BrokenReason::LinkBroken => f.write_str(
                "entry does not link to the previous entry's hash (an entry was removed or rewritten before it)",
            ),
            BrokenReason::TailMissing { head_position } => {
                write!(
                    f,
                    "entries from here to the head's position {head_position} are missing (deleted)"
                )
            }
            BrokenReason::HeadMismatch { head_position } => {
                write!(
                    f,
                    "chain head (position {head_position}) does not match the last sealed entry"
                )
            }
            BrokenReason::Incomplete => f.write_str("sealed entry lacks its previous hash or hash"),
        }
    }
}

impl fmt::Display for Broken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "audit chain broken at position {}", self.position)?;
        if let Some(entry_id) = self.entry_id {
            write!(f, " (entry {entry_id})")?;
        }
        write!(f, ": {}", self.reason)
    }
}

/// Walks the sealed chain from the genesis, recomputing every hash, checking every link,
/// that positions run without gaps and that the head matches the last entry. Reads one
/// consistent snapshot and streams the entries. `Err(AuditError::Broken)` names the first
/// broken entry.
pub async fn verify(db: &Db) -> Result<Verified, AuditError> {
    let mut tx = db.begin_read().await?;
    if let Tx::Postgres(pg) = &mut tx {
        // Head, entries and the unsealed count from the same snapshot, while sealers run.
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut **pg)
            .await?;
    }
    let mut walk = Walk::new();
    let (head_position, head_hash, unsealed) = on_tx!(&mut tx, |conn| {
        let head = sqlx::query("SELECT position, hash FROM audit_chain_head WHERE id = 1")
            .fetch_optional(&mut *conn)
            .await?;
        let Some(head) = head else {
            return Err(AuditError::Inconsistent("the chain head row is missing".into()));
        };
        let head: (i64, Vec<u8>) = (head.try_get(0)?, head.try_get(1)?);
        let unsealed: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE chain_position IS NULL")
            .fetch_one(&mut *conn)
            .await?;
        let mut rows = sqlx::query(
            "SELECT chain_position, entry_id, at_ms, actor, role, action, target, detail, prev_hash, hash \
             FROM audit_log WHERE chain_position IS NOT NULL ORDER BY chain_position",
        )
        .fetch(&mut *conn);
        while let Some(row) = rows.try_next().await? {
            let sealed = Sealed {
                position: row.try_get("chain_position")?,
                prev_hash: row.try_get("prev_hash")?,
                hash: row.try_get("hash")?,
                content: Content {
                    entry_id: row.try_get("entry_id")?,
                    at_ms: row.try_get("at_ms")?,
                    actor: row.try_get("actor")?,
                    role: row.try_get("role")?,
                    action: row.try_get("action")?,
                    target: row.try_get("target")?,
                    detail: row.try_get("detail")?,
                },
            };
            walk.step(sealed).map_err(AuditError::Broken)?;
        }
        (head.0, head.1, unsealed)
    });
    drop(tx);
    let entries = walk.finish(head_position, &head_hash).map_err(AuditError::Broken)?;
    Ok(Verified {
        entries,
        unsealed: u64::try_from(unsealed).unwrap_or(0),
        head_hash,
    })
}

struct Sealed {
    position: i64,
    prev_hash: Option<Vec<u8>>,
    hash: Option<Vec<u8>>,
    content: Content,
}

/// An entry whose hash does not match its content. Whether its content or its hash was
/// changed shows in what the next link (or the head) points to.
struct Mismatch {
    position: i64,
    entry_id: Uuid,
    computed: [u8; 32],
}

impl Mismatch {
    fn classify(self, next_link: Option<&[u8]>) -> Broken {
        let reason = if next_link == Some(self.computed.as_slice()) {
            BrokenReason::HashAltered
        } else {
            BrokenReason::ContentAltered
        };
        Broken {
            position: self.position,
            entry_id: Some(self.entry_id),
            reason,
        }
    }
}

struct Walk {
    /// Position of the last entry walked (0 before the first).
    position: i64,
    last_entry: Option<Uuid>,
    /// Stored hash of the last entry walked.
    hash: Vec<u8>,
    mismatch: Option<Mismatch>,
}

impl Walk {
    fn new() -> Walk {
        Walk {
            position: 0,
            last_entry: None,
            hash: GENESIS_HASH.to_vec(),
            mismatch: None,
        }
    }

    fn step(&mut self, entry: Sealed) -> Result<(), Broken> {
        if let Some(mismatch) = self.mismatch.take() {
            return Err(mismatch.classify(entry.prev_hash.as_deref()));
        }
        let expected = self.position + 1;
        let entry_id = entry.content.entry_id;
        if entry.position != expected {
            return Err(Broken {
                position: expected,
                entry_id: None,
                reason: BrokenReason::Missing,
            });
        }
        let (Some(prev_hash), Some(hash)) = (entry.prev_hash, entry.hash) else {
            return Err(Broken {
                position: expected,
                entry_id: Some(entry_id),
                reason: BrokenReason::Incomplete,
            });
        };
        if prev_hash != self.hash {
            return Err(Broken {
                position: expected,
                entry_id: Some(entry_id),
                reason: BrokenReason::LinkBroken,
            });
        }
        let computed = entry_hash(&prev_hash, expected, &entry.content);
        if computed.as_slice() != hash.as_slice() {
            self.mismatch = Some(Mismatch {
                position: expected,
                entry_id,
                computed,
            });
        }
        self.position = expected;
        self.last_entry = Some(entry_id);
        self.hash = hash;
        Ok(())
    }

    fn finish(self, head_position: i64, head_hash: &[u8]) -> Result<u64, Broken> {
        if let Some(mismatch) = self.mismatch {
            let head_link = (head_position == mismatch.position).then_some(head_hash);
            return Err(mismatch.classify(head_link));
        }
        if head_position > self.position {
            return Err(Broken {
                position: self.position + 1,
                entry_id: None,
                reason: BrokenReason::TailMissing { head_position },
            });
        }
        if head_position < self.position || head_hash != self.hash.as_slice() {
            return Err(Broken {
                position: self.position,
                entry_id: self.last_entry,
                reason: BrokenReason::HeadMismatch { head_position },
            });
        }
        Ok(u64::try_from(self.position).unwrap_or(0))
    }
}
