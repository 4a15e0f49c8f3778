//! The per-token rate limit on `VerifyCard`: a token bucket per token subject.
//!
//! The buckets live in this replica's memory: with N replicas behind a balancer, a token
//! may make up to N times the rate. That bounds what one leaked or runaway verifier
//! token costs without a shared store on the hottest call.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// How often idle buckets are dropped.
const PRUNE_INTERVAL: Duration = Duration::from_secs(60);

/// Token buckets by token subject: each refills at `rate` per second up to `burst`, and
/// each verification takes one.
pub struct RateLimiter {
    rate: f64,
    burst: f64,
    state: Mutex<State>,
}

struct State {
    buckets: HashMap<String, Bucket>,
    next_prune: Instant,
}

struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// A verification over the limit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limited {
    /// When the next verification would pass.
    pub retry_after: Duration,
    pub rate: u32,
    pub burst: u32,
}

impl Limited {
    /// `RESOURCE_EXHAUSTED`, saying the limit and when to retry (also as `RetryInfo`).
    pub fn to_status(self) -> Status {
        let retry_ms = self.retry_after.as_millis().max(1);
        Status::with_error_details(
            Code::ResourceExhausted,
            format!(
                "verification rate limit of this token reached ({} per second, bursts of {}); retry in {retry_ms} ms",
                self.rate, self.burst
            ),
            ErrorDetails::with_retry_info(Some(self.retry_after)),
        )
    }
}

impl RateLimiter {
    pub fn new(rate_per_second: NonZeroU32, burst: NonZeroU32) -> RateLimiter {
        RateLimiter {
            rate: f64::from(rate_per_second.get()),
            burst: f64::from(burst.get()),
            state: Mutex::new(State {
                buckets: HashMap::new(),
                next_prune: Instant::now() + PRUNE_INTERVAL,
            }),
        }
    }

    /// Takes one verification from `subject`'s bucket, or says when one will be there.
    pub fn check(&self, subject: &str) -> Result<(), Limited> {
        self.check_at(subject, Instant::now())
    }

    fn check_at(&self, subject: &str, now: Instant) -> Result<(), Limited> {
        // A panic elsewhere cannot leave a bucket half-updated in a way that matters.
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if now >= state.next_prune {
            self.prune(&mut state.buckets, now);
            state.next_prune = now + PRUNE_INTERVAL;
        }
        let Some(bucket) = state.buckets.get_mut(subject) else {
            state.buckets.insert(
                subject.to_string(),
                Bucket {
                    tokens: self.burst - 1.0,
                    updated: now,
                },
            );
            return Ok(());
        };
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.rate).min(self.burst);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            return Ok(());
        }
        Err(Limited {
            retry_after: Duration::from_secs_f64((1.0 - bucket.tokens) / self.rate),
            rate: self.rate as u32,
            burst: self.burst as u32,
        })
    }

    /// Drops the buckets idle long enough to be full again: a fresh bucket is the same.
    fn prune(&self, buckets: &mut HashMap<String, Bucket>, now: Instant) {
        let refill = Duration::from_secs_f64(self.burst / self.rate);
        buckets.retain(|_, bucket| now.saturating_duration_since(bucket.updated) < refill);
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.state.lock().unwrap_or_else(PoisonError::into_inner).buckets.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(rate: u32, burst: u32) -> RateLimiter {
        RateLimiter::new(
            NonZeroU32::new(rate).expect("non-zero"),
            NonZeroU32::new(burst).expect("non-zero"),
        )
    }

    #[test]
    fn a_burst_passes_then_the_rate_holds() {
        let limiter = limiter(2, 3);
        let start = Instant::now();
        for _ in 0..3 {
            assert!(limiter.check_at("bank-1", start).is_ok());
        }
        let limited = limiter.check_at("bank-1", start).expect_err("over the burst");
        assert_eq!(limited.retry_after, Duration::from_millis(500));
        assert!(limiter.check_at("bank-1", start + Duration::from_millis(499)).is_err());
        assert!(limiter.check_at("bank-1", start + Duration::from_millis(1000)).is_ok());
    }

    #[test]
    fn each_token_subject_has_its_own_bucket() {
        let limiter = limiter(1, 1);
        let now = Instant::now();
        assert!(limiter.check_at("bank-1", now).is_ok());
        assert!(limiter.check_at("bank-1", now).is_err());
        assert!(limiter.check_at("hotel-2", now).is_ok());
    }

    #[test]
    fn a_bucket_never_holds_more_than_the_burst() {
        let limiter = limiter(10, 2);
        let start = Instant::now();
        assert!(limiter.check_at("bank-1", start).is_ok());
        let later = start + Duration::from_secs(3600);
        assert!(limiter.check_at("bank-1", later).is_ok());
        assert!(limiter.check_at("bank-1", later).is_ok());
        assert!(limiter.check_at("bank-1", later).is_err());
    }

    #[test]
    fn idle_buckets_are_pruned() {
        let limiter = limiter(10, 10);
        let start = Instant::now();
        for subject in ["a", "b", "c"] {
            limiter.check_at(subject, start).expect("first call passes");
        }
        let later = start + PRUNE_INTERVAL + Duration::from_secs(1);
        limiter.check_at("d", later).expect("first call passes");
        assert_eq!(limiter.tracked(), 1);
    }

    #[test]
    fn the_status_says_the_limit_and_when_to_retry() {
        let status = Limited {
            retry_after: Duration::from_millis(20),
            rate: 50,
            burst: 100,
        }
        .to_status();
        assert_eq!(status.code(), Code::ResourceExhausted);
        assert!(status.message().contains("50 per second"), "{}", status.message());
        assert_eq!(
            status.get_details_retry_info().and_then(|info| info.retry_delay),
            Some(Duration::from_millis(20))
        );
    }
}
