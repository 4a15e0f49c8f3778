//! The tokens a [`crate::Verifier`] has verified, so that a front end calling again with
//! the same token skips the Ed25519 signature check and the JSON parsing.
//!
//! An entry is keyed by the SHA-256 of the token (the token itself is not kept) and holds
//! the caller it verified to. It is used only while the token's `exp` (with the
//! verifier's leeway) has not passed, checked against the clock on every hit, and only
//! while the clock has not gone back before the verification (the `iat` and `nbf` checks
//! passed then, so they pass at any later time). A token that fails verification is
//! never stored. The verifier starts a fresh cache whenever its keys or its issuer
//! change, so every entry was verified under the configuration that reads it.
//!
//! Bounded: [`SHARDS`] shards of at most [`SHARD_CAPACITY`] entries each. A full shard
//! first drops its expired entries, then, if still full, everything: the tokens it held
//! are verified again on their next call.

use std::collections::HashMap;
use std::sync::{PoisonError, RwLock};

use ring::digest::{SHA256, digest};

use crate::Caller;

/// Shards, so that concurrent calls rarely take the same lock.
const SHARDS: usize = 16;

/// Entries per shard at most: [`SHARDS`] × this is the cache's bound (32,768 tokens;
/// with claims of the usual size, about 10 MB when full).
const SHARD_CAPACITY: usize = 2048;

/// The SHA-256 of a token.
pub(crate) type TokenDigest = [u8; 32];

pub(crate) struct TokenCache {
    shards: Box<[RwLock<HashMap<TokenDigest, Entry>>]>,
    shard_capacity: usize,
}

struct Entry {
    caller: Caller,
    /// Wall-clock seconds when the token was verified.
    verified_at: u64,
}

impl Default for TokenCache {
    fn default() -> Self {
        TokenCache::with_capacity(SHARD_CAPACITY)
    }
}

impl TokenCache {
    fn with_capacity(shard_capacity: usize) -> Self {
        TokenCache {
            shards: (0..SHARDS).map(|_| RwLock::new(HashMap::new())).collect(),
            shard_capacity: shard_capacity.max(1),
        }
    }

    pub(crate) fn digest(token: &str) -> TokenDigest {
        let mut out = [0; 32];
        out.copy_from_slice(digest(&SHA256, token.as_bytes()).as_ref());
        out
    }

    fn shard(&self, key: &TokenDigest) -> &RwLock<HashMap<TokenDigest, Entry>> {
        &self.shards[shard_index(key)]
    }

    /// The caller of a token verified before, if it is still good at `now` (Unix
    /// seconds) with `leeway`: `exp + leeway >= now` (as `jsonwebtoken` checks `exp`), and
    /// the clock not before the verification. A stale entry is dropped.
    pub(crate) fn get(&self, key: &TokenDigest, now: u64, leeway: u64) -> Option<Caller> {
        let shard = self.shard(key);
        {
            // A panic while holding the lock cannot leave an entry half-written.
            let entries = shard.read().unwrap_or_else(PoisonError::into_inner);
            let entry = entries.get(key)?;
            if is_fresh(entry, now, leeway) {
                return Some(entry.caller.clone());
            }
        }
        let mut entries = shard.write().unwrap_or_else(PoisonError::into_inner);
        if entries.get(key).is_some_and(|entry| !is_fresh(entry, now, leeway)) {
            entries.remove(key);
        }
        None
    }

    /// Stores `caller`, the caller of a token that verified at `verified_at`.
    pub(crate) fn insert(&self, key: TokenDigest, caller: &Caller, verified_at: u64, leeway: u64) {
        let mut entries = self.shard(&key).write().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= self.shard_capacity && !entries.contains_key(&key) {
            entries.retain(|_, entry| is_fresh(entry, verified_at, leeway));
            if entries.len() >= self.shard_capacity {
                entries.clear();
            }
        }
        entries.insert(
            key,
            Entry {
                caller: caller.clone(),
                verified_at,
            },
        );
    }

    /// Entries held, expired ones included.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|shard| shard.read().unwrap_or_else(PoisonError::into_inner).len())
            .sum()
    }
}

fn shard_index(key: &TokenDigest) -> usize {
    usize::from(key[0]) % SHARDS
}

fn is_fresh(entry: &Entry, now: u64, leeway: u64) -> bool {
    now >= entry.verified_at && entry.caller.claims().exp.saturating_add(leeway) >= now
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::{Claims, Role};

    fn caller(sub: &str, exp: u64) -> Caller {
        let mut claims = Claims::new(sub, Role::Verifier, vec![], Duration::ZERO, "idcard");
        claims.iat = 1_000;
        claims.exp = exp;
        Caller::from_claims(claims)
    }

    #[test]
    fn an_entry_is_used_until_exp_plus_leeway_only() {
        let cache = TokenCache::default();
        let key = TokenCache::digest("a.b.c");
        cache.insert(key, &caller("bank", 2_000), 1_000, 30);
        assert_eq!(
            cache.get(&key, 1_500, 30).map(|c| c.subject().to_string()),
            Some("bank".into())
        );
        assert!(cache.get(&key, 2_030, 30).is_some(), "exp + leeway is still good");
        assert!(cache.get(&key, 2_031, 30).is_none(), "one second later it is not");
        assert_eq!(cache.len(), 0, "the stale entry is dropped");
    }

    #[test]
    fn an_entry_is_not_used_once_the_clock_went_back_before_its_verification() {
        let cache = TokenCache::default();
        let key = TokenCache::digest("a.b.c");
        cache.insert(key, &caller("bank", 2_000), 1_000, 0);
        assert!(cache.get(&key, 999, 0).is_none());
    }

    #[test]
    fn other_tokens_miss() {
        let cache = TokenCache::default();
        cache.insert(TokenCache::digest("a.b.c"), &caller("bank", 2_000), 1_000, 0);
        assert!(cache.get(&TokenCache::digest("a.b.d"), 1_000, 0).is_none());
    }

    #[test]
    fn the_cache_stays_within_its_bound() {
        let cache = TokenCache::with_capacity(4);
        for i in 0..1_000 {
            cache.insert(
                TokenCache::digest(&format!("token-{i}")),
                &caller("bank", 2_000),
                1_000,
                0,
            );
            assert!(cache.len() <= 4 * SHARDS, "{} entries", cache.len());
        }
        // The last one inserted is always there.
        assert!(cache.get(&TokenCache::digest("token-999"), 1_000, 0).is_some());
    }

    #[test]
    fn a_full_shard_drops_its_expired_entries_first() {
        let cache = TokenCache::with_capacity(2);
        // Three keys of one shard: a live one, one that expires at 1_500, and a third.
        let shard = shard_index(&TokenCache::digest("t0"));
        let keys: Vec<TokenDigest> = (0..)
            .map(|i| TokenCache::digest(&format!("t{i}")))
            .filter(|key| shard_index(key) == shard)
            .take(3)
            .collect();
        let (live, expiring, third) = (keys[0], keys[1], keys[2]);
        cache.insert(live, &caller("live", 5_000), 1_000, 0);
        cache.insert(expiring, &caller("expiring", 1_500), 1_000, 0);
        cache.insert(third, &caller("third", 5_000), 2_000, 0);
        assert!(cache.get(&live, 2_000, 0).is_some(), "the live entry was kept");
        assert!(cache.get(&third, 2_000, 0).is_some());
        assert_eq!(cache.len(), 2);
    }
}
