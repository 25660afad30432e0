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

/// ARM requests of one operation answered with one HTTP status (0: no response).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OperationCount {
    /// `create`, `get`, `delete`, `list`, `update`, `start`, `stop`, `restart`, `logs`,
    /// `exec`, `attach`, `usages`, `capabilities`, `cached_images`, `lro_poll` or `other`.
    pub operation: &'static str,
    /// The HTTP status, or 0 when the request got no response (connection error, timeout).
    pub status: u16,
    /// How many.
    pub count: u64,
}

/// The operation an ARM request performs, from its method and path.
pub(crate) fn operation(method: &http::Method, path: &str) -> &'static str {
    let path = path.to_ascii_lowercase();
    let path = path.trim_end_matches('/');
    if path.contains("/locations/") {
        for (suffix, op) in [
            ("/usages", "usages"),
            ("/capabilities", "capabilities"),
            ("/cachedimages", "cached_images"),
        ] {
            if path.ends_with(suffix) {
                return op;
            }
        }
    }
    if path.ends_with("/metrics:getbatch") {
        return "metrics_batch";
    }
    if path.ends_with("/containergroups") {
        return "list";
    }
    if let Some((_, rest)) = path.split_once("/containergroups/") {
        let mut parts = rest.split('/');
        let _name = parts.next();
        let tail: Vec<&str> = parts.collect();
        return match (tail.as_slice(), method.as_str()) {
            ([], "PUT") => "create",
            ([], "GET") => "get",
            ([], "DELETE") => "delete",
            ([], "PATCH") => "update",
            (["start"], _) => "start",
            (["stop"], _) => "stop",
            (["restart"], _) => "restart",
            ([.., "logs"], _) => "logs",
            ([.., "exec"], _) => "exec",
            ([.., "attach"], _) => "attach",
            _ => "other",
        };
    }
    if *method == http::Method::GET {
        "lro_poll"
    } else {
        "other"
    }
}

#[derive(Debug)]
pub(crate) struct Metrics {
    pub(crate) by_operation: std::sync::Mutex<std::collections::BTreeMap<(&'static str, u16), u64>>,
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
            by_operation: std::sync::Mutex::default(),
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
    pub(crate) fn record(&self, operation: &'static str, status: u16) {
        let mut map = self
            .by_operation
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *map.entry((operation, status)).or_default() += 1;
    }

    pub(crate) fn operation_counts(&self) -> Vec<OperationCount> {
        self.by_operation
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .map(|(&(operation, status), &count)| OperationCount {
                operation,
                status,
                count,
            })
            .collect()
    }

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

#[cfg(test)]
mod operation_tests {
    use super::operation;
    use http::Method;

    #[test]
    fn operations_from_paths() {
        let g = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerInstance/containerGroups";
        assert_eq!(operation(&Method::GET, g), "list");
        assert_eq!(operation(&Method::PUT, &format!("{g}/a")), "create");
        assert_eq!(operation(&Method::GET, &format!("{g}/a")), "get");
        assert_eq!(operation(&Method::DELETE, &format!("{g}/a")), "delete");
        assert_eq!(
            operation(&Method::POST, &format!("{g}/a/restart")),
            "restart"
        );
        assert_eq!(
            operation(&Method::GET, &format!("{g}/a/containers/c/logs")),
            "logs"
        );
        assert_eq!(
            operation(&Method::POST, &format!("{g}/a/containers/c/exec")),
            "exec"
        );
        assert_eq!(
            operation(
                &Method::GET,
                "/subscriptions/s/providers/Microsoft.ContainerInstance/locations/westeurope/usages"
            ),
            "usages"
        );
        assert_eq!(
            operation(
                &Method::GET,
                "/subscriptions/s/providers/Microsoft.ContainerInstance/locations/x/operationStatuses/1"
            ),
            "lro_poll"
        );
    }
}
