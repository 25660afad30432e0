//! Retry policy: exponential back-off with full jitter on 408/429/5xx, connection errors and
//! timeouts, honouring `Retry-After` (seconds or HTTP date) and `retry-after-ms`, bounded by a
//! maximum number of attempts and an overall deadline.

use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use http::{HeaderMap, StatusCode};

/// When and how often to retry a call.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Attempts in total, including the first (1 disables retries). Default 6.
    pub max_attempts: u32,
    /// Back-off before the first retry; doubles each time. Default 1 s.
    pub initial_backoff: Duration,
    /// Upper bound of one back-off. Default 30 s.
    pub max_backoff: Duration,
    /// Overall deadline of a call, retries and waits included. Default 2 min.
    pub deadline: Duration,
    /// Also retry HTTP 409 `ContainerGroupTransitioning`, waiting at least
    /// [`transitioning_delay`](Self::transitioning_delay). Default true.
    pub retry_transitioning: bool,
    /// Minimum wait before retrying after `ContainerGroupTransitioning`. Default 10 s.
    pub transitioning_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 6,
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(30),
            deadline: Duration::from_secs(120),
            retry_transitioning: true,
            transitioning_delay: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries.
    pub fn none() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// Sets [`max_attempts`](Self::max_attempts).
    pub fn with_max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// Sets [`initial_backoff`](Self::initial_backoff) and [`max_backoff`](Self::max_backoff).
    pub fn with_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.initial_backoff = initial;
        self.max_backoff = max.max(initial);
        self
    }

    /// Sets [`deadline`](Self::deadline).
    pub fn with_deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }

    /// Sets [`transitioning_delay`](Self::transitioning_delay); `None` disables retrying
    /// `ContainerGroupTransitioning`.
    pub fn with_transitioning_delay(mut self, delay: Option<Duration>) -> Self {
        self.retry_transitioning = delay.is_some();
        if let Some(delay) = delay {
            self.transitioning_delay = delay;
        }
        self
    }

    /// Full-jitter back-off before retry number `retry` (1-based): uniform in
    /// `[0, min(max_backoff, initial_backoff * 2^(retry-1))]`.
    pub fn backoff(&self, retry: u32) -> Duration {
        let exp = retry.saturating_sub(1).min(30);
        let ceiling = self
            .initial_backoff
            .saturating_mul(1u32 << exp)
            .min(self.max_backoff);
        ceiling.mul_f64(random_unit())
    }
}

/// Statuses retried by default.
pub(crate) fn is_retryable_status(status: StatusCode) -> bool {
    matches!(status.as_u16(), 408 | 429 | 500 | 502 | 503 | 504)
}

/// The server's requested wait: `retry-after-ms` / `x-ms-retry-after-ms` (milliseconds), or
/// `Retry-After` as seconds or an HTTP date.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    for name in ["retry-after-ms", "x-ms-retry-after-ms"] {
        if let Some(ms) =
            crate::error::header_str(headers, name).and_then(|v| v.parse::<u64>().ok())
        {
            return Some(Duration::from_millis(ms));
        }
    }
    let value = crate::error::header_str(headers, "retry-after")?;
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    if let Ok(secs) = value.parse::<f64>()
        && secs.is_finite()
        && secs >= 0.0
    {
        // Beyond `Duration::MAX` (~5.8e11 years): as long as can be, not a panic.
        return Some(Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX));
    }
    let date = jiff::fmt::rfc2822::DateTimeParser::new()
        .parse_timestamp(value)
        .ok()?;
    let wait = date.duration_since(jiff::Timestamp::now());
    Some(Duration::try_from(wait).unwrap_or(Duration::ZERO))
}

/// A random UUID-shaped id (version 4 layout) for `x-ms-client-request-id`.
pub(crate) fn client_request_id() -> String {
    let hi = random_u64();
    let lo = random_u64();
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        hi >> 32,
        (hi >> 16) & 0xffff,
        hi & 0x0fff,
        ((lo >> 48) & 0x3fff) | 0x8000,
        lo & 0xffff_ffff_ffff
    )
}

fn random_u64() -> u64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0),
    );
    hasher.finish()
}

/// A uniform random number in `[0, 1)`, from the standard library's randomly seeded hasher.
fn random_unit() -> f64 {
    (random_u64() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_bounded() {
        let p =
            RetryPolicy::default().with_backoff(Duration::from_millis(100), Duration::from_secs(1));
        for retry in 1..40 {
            let d = p.backoff(retry);
            let ceiling = Duration::from_millis(100)
                .saturating_mul(1 << (retry - 1).min(30))
                .min(Duration::from_secs(1));
            assert!(d <= ceiling, "{retry}: {d:?}");
        }
    }

    #[test]
    fn client_request_ids_look_like_uuids() {
        let a = client_request_id();
        assert_eq!(a.len(), 36);
        assert_eq!(a.as_bytes()[14], b'4');
        assert_ne!(a, client_request_id());
    }

    #[test]
    fn retry_after_forms() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", "2".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(2)));
        h.insert(
            "retry-after",
            "Sun, 06 Nov 1994 08:49:37 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&h), Some(Duration::ZERO));
        let future = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(30);
        let text =
            jiff::fmt::rfc2822::to_string(&future.to_zoned(jiff::tz::TimeZone::UTC)).unwrap();
        h.insert("retry-after", text.parse().unwrap());
        let d = retry_after(&h).unwrap();
        assert!(
            d > Duration::from_secs(25) && d <= Duration::from_secs(30),
            "{d:?}"
        );
        h.insert("retry-after-ms", "1500".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_millis(1500)));
        assert_eq!(retry_after(&HeaderMap::new()), None);
    }

    /// Fuzz crash `arm_failure/crash-d2c0b3dd380dc457c44508490fc2a2e0408dac05` (minimized:
    /// `retry-after: 1111111111111111111111`): too large for `u64`, so parsed as a float, and
    /// `Duration::from_secs_f64(1.1e21)` panicked, taking the client down on any failed
    /// response carrying it.
    #[test]
    fn huge_retry_after_saturates() {
        let mut h = HeaderMap::new();
        for value in ["1111111111111111111111", "1e300", "18446744073709551616.5"] {
            h.insert("retry-after", value.parse().unwrap());
            assert_eq!(retry_after(&h), Some(Duration::MAX), "{value}");
        }
        h.insert("retry-after", "18446744073709551615".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(u64::MAX)));
        for value in ["NaN", "inf", "-1", "-0.5"] {
            h.insert("retry-after", value.parse().unwrap());
            assert_eq!(retry_after(&h), None, "{value}");
        }
    }
}
