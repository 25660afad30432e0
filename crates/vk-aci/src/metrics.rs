//! Cheap counters of a client, read as a [`ClientMetrics`] snapshot.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// A snapshot of a client's counters (monotonic since the client was built, except the
/// `ratelimit_remaining_*` gauges).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientMetrics {
    /// HTTP attempts sent (first tries and retries).
    pub attempts: u64,
    /// Retries (attempts after the first of a call).
    pub retries: u64,
    /// Responses with HTTP 429.
    pub throttled: u64,
    /// Responses with HTTP 5xx.
    pub server_errors: u64,
    /// Attempts that failed without a response (connection errors, timeouts).
    pub transport_errors: u64,
    /// Times a request waited for the client-side rate limiter.
    pub rate_limited: u64,
    /// Polls of long-running operations.
    pub lro_polls: u64,
    /// Last `x-ms-ratelimit-remaining-subscription-reads` seen, or -1.
    pub ratelimit_remaining_reads: i64,
    /// Last `x-ms-ratelimit-remaining-subscription-writes` (or `-deletes`) seen, or -1.
    pub ratelimit_remaining_writes: i64,
}

#[derive(Debug)]
pub(crate) struct Metrics {
    pub(crate) attempts: AtomicU64,
    pub(crate) retries: AtomicU64,
    pub(crate) throttled: AtomicU64,
    pub(crate) server_errors: AtomicU64,
    pub(crate) transport_errors: AtomicU64,
    pub(crate) rate_limited: AtomicU64,
    pub(crate) lro_polls: AtomicU64,
    pub(crate) remaining_reads: AtomicI64,
    pub(crate) remaining_writes: AtomicI64,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            attempts: AtomicU64::new(0),
            retries: AtomicU64::new(0),
            throttled: AtomicU64::new(0),
            server_errors: AtomicU64::new(0),
            transport_errors: AtomicU64::new(0),
            rate_limited: AtomicU64::new(0),
            lro_polls: AtomicU64::new(0),
            remaining_reads: AtomicI64::new(-1),
            remaining_writes: AtomicI64::new(-1),
        }
    }
}

impl Metrics {
    pub(crate) fn incr(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Records ARM's remaining-quota headers.
    pub(crate) fn observe_headers(&self, headers: &http::HeaderMap) {
        let read = |name: &str| {
            crate::error::header_str(headers, name).and_then(|v| v.parse::<i64>().ok())
        };
        if let Some(v) = read("x-ms-ratelimit-remaining-subscription-reads") {
            self.remaining_reads.store(v, Ordering::Relaxed);
        }
        if let Some(v) = read("x-ms-ratelimit-remaining-subscription-writes")
            .or_else(|| read("x-ms-ratelimit-remaining-subscription-deletes"))
        {
            self.remaining_writes.store(v, Ordering::Relaxed);
        }
    }

    pub(crate) fn snapshot(&self) -> ClientMetrics {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        ClientMetrics {
            attempts: get(&self.attempts),
            retries: get(&self.retries),
            throttled: get(&self.throttled),
            server_errors: get(&self.server_errors),
            transport_errors: get(&self.transport_errors),
            rate_limited: get(&self.rate_limited),
            lro_polls: get(&self.lro_polls),
            ratelimit_remaining_reads: self.remaining_reads.load(Ordering::Relaxed),
            ratelimit_remaining_writes: self.remaining_writes.load(Ordering::Relaxed),
        }
    }
}
