//! Client-side token buckets, one for reads (GET) and one for writes (PUT, POST, PATCH, DELETE),
//! so a burst of pods stays under ARM's limits instead of collecting 429s.
//!
//! ARM throttles per subscription and region with token buckets of 250 reads (refilled 25/s) and
//! 200 writes or deletes (refilled 10/s); ACI adds its own create/delete quotas (100 per 5 min,
//! 300 per hour by default). The defaults here stay well inside ARM's buckets: reads burst 100
//! and refill 20/s, writes burst 20 and refill 5/s. Server 429s are still retried (see
//! [`RetryPolicy`](crate::RetryPolicy)).

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// Size and refill rate of one bucket.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BucketConfig {
    /// Tokens the bucket holds (the burst).
    pub capacity: f64,
    /// Tokens added per second.
    pub per_second: f64,
}

impl BucketConfig {
    /// A bucket of `capacity` refilled at `per_second`.
    pub fn new(capacity: f64, per_second: f64) -> Self {
        Self {
            capacity: capacity.max(1.0),
            per_second: per_second.max(f64::MIN_POSITIVE),
        }
    }
}

/// Limits for the two buckets; `None` disables one.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateLimits {
    /// Reads (GET, including long-running-operation polls).
    pub reads: Option<BucketConfig>,
    /// Writes (PUT, POST, PATCH, DELETE).
    pub writes: Option<BucketConfig>,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            reads: Some(BucketConfig::new(100.0, 20.0)),
            writes: Some(BucketConfig::new(20.0, 5.0)),
        }
    }
}

impl RateLimits {
    /// No client-side limiting.
    pub fn unlimited() -> Self {
        Self {
            reads: None,
            writes: None,
        }
    }
}

/// Which bucket a request draws from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RequestClass {
    Read,
    Write,
}

/// A token bucket. Callers reserve a token (possibly going into debt) and sleep until it is due,
/// so waiters are served in order without a background task.
#[derive(Debug)]
pub(crate) struct TokenBucket {
    config: BucketConfig,
    state: Mutex<BucketState>,
}

#[derive(Debug)]
struct BucketState {
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    pub(crate) fn new(config: BucketConfig) -> Self {
        Self {
            config,
            state: Mutex::new(BucketState {
                tokens: config.capacity,
                last: Instant::now(),
            }),
        }
    }

    /// Reserves one token; returns how long to wait before using it.
    pub(crate) fn reserve(&self) -> Duration {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        let elapsed = now.saturating_duration_since(state.last).as_secs_f64();
        state.tokens = (state.tokens + elapsed * self.config.per_second).min(self.config.capacity);
        state.last = now;
        state.tokens -= 1.0;
        if state.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-state.tokens / self.config.per_second)
        }
    }

    /// Waits for a token.
    pub(crate) async fn acquire(&self) -> Duration {
        let wait = self.reserve();
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        wait
    }
}

/// The read and write buckets of a client.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    reads: Option<TokenBucket>,
    writes: Option<TokenBucket>,
}

impl RateLimiter {
    pub(crate) fn new(limits: RateLimits) -> Self {
        Self {
            reads: limits.reads.map(TokenBucket::new),
            writes: limits.writes.map(TokenBucket::new),
        }
    }

    /// Waits for a token of `class`; returns the time waited.
    pub(crate) async fn acquire(&self, class: RequestClass) -> Duration {
        let bucket = match class {
            RequestClass::Read => &self.reads,
            RequestClass::Write => &self.writes,
        };
        match bucket {
            Some(bucket) => bucket.acquire().await,
            None => Duration::ZERO,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn bucket_spaces_out_a_burst() {
        let bucket = TokenBucket::new(BucketConfig::new(2.0, 4.0));
        let start = Instant::now();
        for _ in 0..6 {
            bucket.acquire().await;
        }
        // 2 free tokens, then 4 more at 4/s: at least 1 s.
        let elapsed = start.elapsed();
        assert!(elapsed >= Duration::from_millis(999), "{elapsed:?}");
        assert!(elapsed < Duration::from_millis(1100), "{elapsed:?}");
    }
}
