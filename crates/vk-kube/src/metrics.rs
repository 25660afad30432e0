//! The request counters of a limited client ([`RequestMetrics`]).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VerbLabels {
    verb: String,
}

/// Kubernetes API requests by verb, and the requests the client-side limit held back.
/// Clones share the counters: hand one to [`ClientConfig::client`](crate::ClientConfig::client)
/// (or [`LimitLayer::new`](crate::LimitLayer::new)) and register another.
#[derive(Clone, Debug, Default)]
pub struct RequestMetrics {
    requests: Family<VerbLabels, Counter>,
    throttled: Counter,
}

impl RequestMetrics {
    /// Registers the families in `registry`: `vk_kube_requests_total{verb}` (the verb as the
    /// API server's audit log names it: `get`, `watch`, `create`, `update`, `patch`, `delete`,
    /// `other`) and `vk_kube_throttled_total`.
    ///
    /// ```
    /// let mut registry = prometheus_client::registry::Registry::default();
    /// let requests = vk_kube::RequestMetrics::default();
    /// requests.register_metrics(&mut registry);
    /// let mut text = String::new();
    /// prometheus_client::encoding::text::encode(&mut text, &registry)?;
    /// assert!(text.contains("vk_kube_throttled_total 0"));
    /// # Ok::<(), std::fmt::Error>(())
    /// ```
    pub fn register_metrics(&self, registry: &mut Registry) {
        registry.register(
            "vk_kube_requests",
            "Kubernetes API requests by verb",
            self.requests.clone(),
        );
        registry.register(
            "vk_kube_throttled",
            "Kubernetes API requests throttled (429 or client-side limit)",
            self.throttled.clone(),
        );
    }

    /// The requests made so far with `verb`.
    pub fn requests(&self, verb: &str) -> u64 {
        self.requests
            .get(&VerbLabels {
                verb: verb.to_string(),
            })
            .map_or(0, |c| c.get())
    }

    /// The requests that waited for the client-side limit so far.
    pub fn throttled(&self) -> u64 {
        self.throttled.get()
    }

    /// A request with `verb` was made.
    pub(crate) fn request(&self, verb: &str) {
        self.requests
            .get_or_create(&VerbLabels {
                verb: verb.to_string(),
            })
            .inc();
    }

    /// A request waited for the client-side limit.
    pub(crate) fn throttle(&self) {
        self.throttled.inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_are_exported_with_labels() {
        let m = RequestMetrics::default();
        let mut registry = Registry::default();
        m.clone().register_metrics(&mut registry);
        m.request("patch");
        m.request("patch");
        m.throttle();
        assert_eq!((m.requests("patch"), m.requests("get")), (2, 0));
        assert_eq!(m.throttled(), 1);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).expect("encodes");
        for line in [
            "# HELP vk_kube_requests Kubernetes API requests by verb.",
            "# TYPE vk_kube_requests counter",
            "vk_kube_requests_total{verb=\"patch\"} 2",
            "# HELP vk_kube_throttled Kubernetes API requests throttled (429 or client-side limit).",
            "# TYPE vk_kube_throttled counter",
            "vk_kube_throttled_total 1",
            "# EOF",
        ] {
            assert!(text.contains(line), "missing {line:?} in\n{text}");
        }
    }
}
