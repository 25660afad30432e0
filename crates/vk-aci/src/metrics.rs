//! Cheap counters of a client, read as a [`ClientMetrics`] snapshot or exported as
//! Prometheus families ([`ContainerInstances::register_metrics`]).

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric as _};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

use crate::ContainerInstances;

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

/// The exported counters: name (without `_total`), help, value.
type Family = (&'static str, &'static str, fn(&ClientMetrics) -> u64);

const FAMILIES: &[Family] = &[
    (
        "vk_aci_attempts",
        "HTTP requests sent to Azure Resource Manager (including retries).",
        |m| m.attempts,
    ),
    (
        "vk_aci_retries",
        "ARM requests retried after a transient failure.",
        |m| m.retries,
    ),
    ("vk_aci_throttled", "ARM responses 429 (throttled).", |m| {
        m.throttled
    }),
    ("vk_aci_server_errors", "ARM responses 5xx.", |m| {
        m.server_errors
    }),
    (
        "vk_aci_transport_errors",
        "ARM requests that failed to connect or timed out.",
        |m| m.transport_errors,
    ),
    (
        "vk_aci_rate_limited",
        "ARM requests delayed by vk's own token buckets.",
        |m| m.rate_limited,
    ),
    (
        "vk_aci_lro_polls",
        "Long-running-operation status polls.",
        |m| m.lro_polls,
    ),
];

impl ContainerInstances {
    /// Registers the client's metric families in `registry`, read at every scrape:
    /// `vk_aci_attempts_total`, `vk_aci_retries_total`, `vk_aci_throttled_total`,
    /// `vk_aci_server_errors_total`, `vk_aci_transport_errors_total`,
    /// `vk_aci_rate_limited_total`, `vk_aci_lro_polls_total`,
    /// `vk_aci_ratelimit_remaining_{reads,writes}` (once ARM sent the header) and
    /// `vk_aci_requests_total{operation,status}`. Clients made with
    /// [`with_resource_group`](Self::with_resource_group) share the counters:
    /// register one of them only.
    ///
    /// ```
    /// # fn demo(aci: vk_aci::ContainerInstances) {
    /// let mut registry = prometheus_client::registry::Registry::default();
    /// aci.register_metrics(&mut registry);
    /// # }
    /// ```
    pub fn register_metrics(&self, registry: &mut Registry) {
        registry.register_collector(Box::new(ClientCollector(self.clone())));
    }
}

#[derive(Debug)]
struct ClientCollector(ContainerInstances);

impl Collector for ClientCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let m = self.0.metrics();
        for (name, help, value) in FAMILIES {
            let metric = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
            // Exported as floats, as vk always has.
            ConstCounter::new(value(&m) as f64).encode(metric)?;
        }
        for (name, value) in [
            (
                "vk_aci_ratelimit_remaining_reads",
                m.ratelimit_remaining_reads,
            ),
            (
                "vk_aci_ratelimit_remaining_writes",
                m.ratelimit_remaining_writes,
            ),
        ] {
            // -1: ARM has not sent the header yet.
            if value >= 0 {
                let metric = encoder.encode_descriptor(
                    name,
                    "ARM's x-ms-ratelimit-remaining-subscription-* header, last seen.",
                    None,
                    MetricType::Gauge,
                )?;
                ConstGauge::new(value as f64).encode(metric)?;
            }
        }
        let counts = self.0.operation_counts();
        if !counts.is_empty() {
            let mut metric = encoder.encode_descriptor(
                "vk_aci_requests",
                "ARM requests by operation and HTTP status (0: no response).",
                None,
                MetricType::Counter,
            )?;
            for op in counts {
                let labels = [
                    ("operation", op.operation.to_owned()),
                    ("status", op.status.to_string()),
                ];
                ConstCounter::new(op.count as f64).encode(metric.encode_family(&labels)?)?;
            }
        }
        Ok(())
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

#[cfg(test)]
mod family_tests {
    use std::sync::Arc;

    use super::*;
    use crate::credentials::StaticTokenCredential;

    fn encode(aci: &ContainerInstances) -> String {
        let mut registry = Registry::default();
        aci.register_metrics(&mut registry);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).expect("encodes");
        text
    }

    #[test]
    fn families_are_encoded() {
        let aci =
            ContainerInstances::builder("sub", "rg", Arc::new(StaticTokenCredential::new("t")))
                .build()
                .expect("client");
        let before = encode(&aci);
        assert!(!before.contains("vk_aci_ratelimit_remaining"), "{before}");
        assert!(!before.contains("vk_aci_requests"), "{before}");

        let metrics = &aci.shared.metrics;
        Metrics::incr(&metrics.attempts);
        Metrics::incr(&metrics.attempts);
        metrics.record("create", 201);
        metrics.record("get", 0);
        let mut headers = http::HeaderMap::new();
        headers.insert(
            "x-ms-ratelimit-remaining-subscription-reads",
            http::HeaderValue::from_static("249"),
        );
        metrics.observe_headers(&headers);
        let text = encode(&aci);
        for line in [
            "# HELP vk_aci_attempts HTTP requests sent to Azure Resource Manager (including retries).",
            "# TYPE vk_aci_attempts counter",
            "vk_aci_attempts_total 2.0",
            "# HELP vk_aci_retries ARM requests retried after a transient failure.",
            "vk_aci_retries_total 0.0",
            "# HELP vk_aci_throttled ARM responses 429 (throttled).",
            "vk_aci_throttled_total 0.0",
            "# HELP vk_aci_server_errors ARM responses 5xx.",
            "vk_aci_server_errors_total 0.0",
            "# HELP vk_aci_transport_errors ARM requests that failed to connect or timed out.",
            "vk_aci_transport_errors_total 0.0",
            "# HELP vk_aci_rate_limited ARM requests delayed by vk's own token buckets.",
            "vk_aci_rate_limited_total 0.0",
            "# HELP vk_aci_lro_polls Long-running-operation status polls.",
            "vk_aci_lro_polls_total 0.0",
            "# HELP vk_aci_ratelimit_remaining_reads ARM's x-ms-ratelimit-remaining-subscription-* header, last seen.",
            "# TYPE vk_aci_ratelimit_remaining_reads gauge",
            "vk_aci_ratelimit_remaining_reads 249.0",
            "# HELP vk_aci_requests ARM requests by operation and HTTP status (0: no response).",
            "# TYPE vk_aci_requests counter",
            "vk_aci_requests_total{operation=\"create\",status=\"201\"} 1.0",
            "vk_aci_requests_total{operation=\"get\",status=\"0\"} 1.0",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
        assert!(
            !text.contains("vk_aci_ratelimit_remaining_writes"),
            "{text}"
        );
    }
}
