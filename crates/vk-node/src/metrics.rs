//! The node's counters and the Prometheus families they are exported as.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric as _};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::registry::Registry;

/// Counters of one virtual node's lifecycle work.
#[derive(Debug, Default)]
pub struct NodeMetrics {
    pub(crate) lease_renewals: AtomicU64,
    pub(crate) lease_failures: AtomicU64,
    pub(crate) lease_creations: AtomicU64,
    pub(crate) status_writes: AtomicU64,
    pub(crate) registrations: AtomicU64,
}

/// A point-in-time copy of [`NodeMetrics`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NodeMetricsSnapshot {
    /// Successful lease renewals.
    pub lease_renewals: u64,
    /// Failed lease renewal attempts.
    pub lease_failures: u64,
    /// Lease creations (first start or after deletion).
    pub lease_creations: u64,
    /// Node status writes.
    pub status_writes: u64,
    /// Node registrations (first start or after deletion).
    pub registrations: u64,
}

/// The exported counters: name (without `_total`), help, value.
type Family = (&'static str, &'static str, fn(&NodeMetricsSnapshot) -> u64);

const FAMILIES: &[Family] = &[
    ("vk_node_lease_renewals", "Node lease renewals.", |m| {
        m.lease_renewals
    }),
    (
        "vk_node_lease_failures",
        "Failed node lease renewal attempts.",
        |m| m.lease_failures,
    ),
    ("vk_node_lease_creations", "Node lease creations.", |m| {
        m.lease_creations
    }),
    ("vk_node_status_writes", "Node status writes.", |m| {
        m.status_writes
    }),
    ("vk_node_registrations", "Node registrations.", |m| {
        m.registrations
    }),
];

impl NodeMetrics {
    /// Reads all counters.
    pub fn snapshot(&self) -> NodeMetricsSnapshot {
        NodeMetricsSnapshot {
            lease_renewals: self.lease_renewals.load(Ordering::Relaxed),
            lease_failures: self.lease_failures.load(Ordering::Relaxed),
            lease_creations: self.lease_creations.load(Ordering::Relaxed),
            status_writes: self.status_writes.load(Ordering::Relaxed),
            registrations: self.registrations.load(Ordering::Relaxed),
        }
    }

    /// Registers the node's counter families in `registry`, read at every scrape:
    /// `vk_node_lease_renewals_total`, `vk_node_lease_failures_total`,
    /// `vk_node_lease_creations_total`, `vk_node_status_writes_total` and
    /// `vk_node_registrations_total`. Hand each node its own sub-registry
    /// (`registry.sub_registry_with_label(("node", name))`) to tell nodes apart.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use prometheus_client::registry::Registry;
    ///
    /// let metrics = Arc::new(vk_node::NodeMetrics::default());
    /// let mut registry = Registry::default();
    /// metrics.register(registry.sub_registry_with_label(("node".into(), "vk-1".into())));
    /// let mut text = String::new();
    /// prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
    /// assert!(text.contains("vk_node_registrations_total{node=\"vk-1\"} 0"));
    /// ```
    pub fn register(self: &Arc<Self>, registry: &mut Registry) {
        registry.register_collector(Box::new(NodeCollector(Arc::clone(self))));
    }

    pub(crate) fn inc(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

#[derive(Debug)]
struct NodeCollector(Arc<NodeMetrics>);

impl Collector for NodeCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let snapshot = self.0.snapshot();
        for (name, help, value) in FAMILIES {
            let metric = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
            // Exported as floats, as vk always has.
            ConstCounter::new(value(&snapshot) as f64).encode(metric)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_are_encoded_with_the_registry_labels() {
        let metrics = Arc::new(NodeMetrics::default());
        NodeMetrics::inc(&metrics.registrations);
        NodeMetrics::inc(&metrics.lease_renewals);
        NodeMetrics::inc(&metrics.lease_renewals);
        let mut registry = Registry::default();
        metrics.register(registry.sub_registry_with_label(("node".into(), "n1".into())));
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).expect("encodes");
        for line in [
            "# HELP vk_node_lease_renewals Node lease renewals.",
            "# TYPE vk_node_lease_renewals counter",
            "vk_node_lease_renewals_total{node=\"n1\"} 2.0",
            "# HELP vk_node_lease_failures Failed node lease renewal attempts.",
            "vk_node_lease_failures_total{node=\"n1\"} 0.0",
            "# HELP vk_node_lease_creations Node lease creations.",
            "vk_node_lease_creations_total{node=\"n1\"} 0.0",
            "# HELP vk_node_status_writes Node status writes.",
            "vk_node_status_writes_total{node=\"n1\"} 0.0",
            "# HELP vk_node_registrations Node registrations.",
            "vk_node_registrations_total{node=\"n1\"} 1.0",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
        assert_eq!(text.matches("# TYPE ").count(), 5, "{text}");
    }
}
