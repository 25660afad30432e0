//! The reconciler's counters and the Prometheus families they are exported as.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use k8s_openapi::api::core::v1::Pod;
use kube::runtime::reflector;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric as _};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

use crate::PodReconciler;

/// Counters of one node's pod reconciler.
#[derive(Debug, Default)]
pub struct ReconcilerMetrics {
    pub(crate) reconciles: AtomicU64,
    pub(crate) reconcile_errors: AtomicU64,
    pub(crate) creates: AtomicU64,
    pub(crate) deletes: AtomicU64,
    pub(crate) status_writes: AtomicU64,
    pub(crate) status_refreshes: AtomicU64,
    pub(crate) lists: AtomicU64,
    pub(crate) orphans_deleted: AtomicU64,
    pub(crate) rejected: AtomicU64,
    pub(crate) events_dropped: AtomicU64,
    pub(crate) reconcile_micros: AtomicU64,
}

/// A copy of [`ReconcilerMetrics`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReconcilerMetricsSnapshot {
    /// Reconcile runs.
    pub reconciles: u64,
    /// Reconcile runs that failed (and were retried with backoff).
    pub reconcile_errors: u64,
    /// Provider create calls.
    pub creates: u64,
    /// Provider delete calls.
    pub deletes: u64,
    /// Pod status writes.
    pub status_writes: u64,
    /// Provider status reads.
    pub status_refreshes: u64,
    /// Provider list calls.
    pub lists: u64,
    /// Orphaned instances deleted.
    pub orphans_deleted: u64,
    /// Pods refused by admission or failed for an invalid spec.
    pub rejected: u64,
    /// Normal events not published because of the event rate limit.
    pub events_dropped: u64,
    /// Time spent in reconcile runs, in microseconds (with `reconciles`, the mean latency).
    pub reconcile_micros: u64,
}

impl ReconcilerMetrics {
    /// Reads all counters.
    pub fn snapshot(&self) -> ReconcilerMetricsSnapshot {
        let l = |c: &AtomicU64| c.load(Ordering::Relaxed);
        ReconcilerMetricsSnapshot {
            reconciles: l(&self.reconciles),
            reconcile_errors: l(&self.reconcile_errors),
            creates: l(&self.creates),
            deletes: l(&self.deletes),
            status_writes: l(&self.status_writes),
            status_refreshes: l(&self.status_refreshes),
            lists: l(&self.lists),
            orphans_deleted: l(&self.orphans_deleted),
            rejected: l(&self.rejected),
            events_dropped: l(&self.events_dropped),
            reconcile_micros: l(&self.reconcile_micros),
        }
    }

    pub(crate) fn inc(c: &AtomicU64) {
        c.fetch_add(1, Ordering::Relaxed);
    }
}

/// The exported counters: name (without `_total`), help, value.
type Family = (
    &'static str,
    &'static str,
    fn(&ReconcilerMetricsSnapshot) -> f64,
);

const FAMILIES: &[Family] = &[
    ("vk_pod_reconciles", "Pod reconcile runs.", |m| {
        m.reconciles as f64
    }),
    (
        "vk_pod_reconcile_errors",
        "Pod reconciles that failed and were retried.",
        |m| m.reconcile_errors as f64,
    ),
    ("vk_pod_creates", "Provider create calls.", |m| {
        m.creates as f64
    }),
    ("vk_pod_deletes", "Provider delete calls.", |m| {
        m.deletes as f64
    }),
    ("vk_pod_status_writes", "Pod status writes.", |m| {
        m.status_writes as f64
    }),
    ("vk_pod_status_refreshes", "Provider status reads.", |m| {
        m.status_refreshes as f64
    }),
    ("vk_pod_lists", "Provider list calls.", |m| m.lists as f64),
    (
        "vk_pod_orphans_deleted",
        "Container groups deleted because their pod was gone.",
        |m| m.orphans_deleted as f64,
    ),
    (
        "vk_pod_rejected",
        "Pods refused by admission or failed for an invalid spec.",
        |m| m.rejected as f64,
    ),
    (
        "vk_pod_events_dropped",
        "Normal events not published (event rate limit).",
        |m| m.events_dropped as f64,
    ),
    (
        "vk_pod_reconcile_duration_seconds_sum",
        "Time spent reconciling pods (divide by vk_pod_reconciles_total for the mean).",
        |m| m.reconcile_micros as f64 / 1e6,
    ),
];

/// The phases `vk_pods` always reports, 0 when no pod is in them.
const PHASES: [&str; 4] = ["Pending", "Running", "Succeeded", "Failed"];

impl PodReconciler {
    /// Registers the reconciler's metric families in `registry`, read at every
    /// scrape: the `vk_pod_*_total` counters and the `vk_pods{phase}` gauge (pods
    /// bound to the node, from the reconciler's pod cache). Give each node its
    /// own `registry.sub_registry_with_label(("node", name))`.
    ///
    /// ```no_run
    /// # fn demo(client: kube::Client) {
    /// use std::sync::Arc;
    /// use prometheus_client::registry::Registry;
    /// use vk_pods::{InMemoryProvider, PodReconciler, ReconcilerConfig};
    ///
    /// let provider = Arc::new(InMemoryProvider::default());
    /// let reconciler = PodReconciler::new(client, provider, ReconcilerConfig::new("vk-1"));
    /// let mut registry = Registry::default();
    /// reconciler.register_metrics(registry.sub_registry_with_label(("node".into(), "vk-1".into())));
    /// # }
    /// ```
    pub fn register_metrics(&self, registry: &mut Registry) {
        registry.register_collector(Box::new(PodCollector {
            metrics: self.metrics_handle(),
            pods: self.pods(),
        }));
    }
}

struct PodCollector {
    metrics: Arc<ReconcilerMetrics>,
    pods: reflector::Store<Pod>,
}

impl std::fmt::Debug for PodCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PodCollector").finish_non_exhaustive()
    }
}

/// Pods by phase (a pod without one is `Pending`), every one of [`PHASES`] present.
fn phases(pods: &[Arc<Pod>]) -> BTreeMap<String, u64> {
    let mut phases: BTreeMap<String, u64> = PHASES.iter().map(|p| ((*p).to_owned(), 0)).collect();
    for pod in pods {
        let phase = pod
            .status
            .as_ref()
            .and_then(|s| s.phase.clone())
            .unwrap_or_else(|| "Pending".to_owned());
        *phases.entry(phase).or_default() += 1;
    }
    phases
}

impl Collector for PodCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let snapshot = self.metrics.snapshot();
        for (name, help, value) in FAMILIES {
            let metric = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
            ConstCounter::new(value(&snapshot)).encode(metric)?;
        }
        let mut metric = encoder.encode_descriptor(
            "vk_pods",
            "Pods bound to the node, by phase (from vk's pod cache).",
            None,
            MetricType::Gauge,
        )?;
        for (phase, count) in phases(&self.pods.state()) {
            ConstGauge::new(count as f64).encode(metric.encode_family(&[("phase", phase)])?)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(metrics: Arc<ReconcilerMetrics>, pods: reflector::Store<Pod>) -> String {
        let mut registry = Registry::default();
        registry
            .sub_registry_with_label(("node".into(), "n1".into()))
            .register_collector(Box::new(PodCollector { metrics, pods }));
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).expect("encodes");
        text
    }

    #[test]
    fn families_are_encoded_with_the_registry_labels() {
        let metrics = Arc::new(ReconcilerMetrics::default());
        ReconcilerMetrics::inc(&metrics.creates);
        metrics.reconcile_micros.store(1_500_000, Ordering::Relaxed);
        let (pods, mut writer) = reflector::store::<Pod>();
        let mut running = Pod::default();
        running.metadata.name = Some("a".into());
        running.status = Some(k8s_openapi::api::core::v1::PodStatus {
            phase: Some("Running".into()),
            ..Default::default()
        });
        writer.apply_watcher_event(&kube::runtime::watcher::Event::Apply(running));
        let mut unknown = Pod::default();
        unknown.metadata.name = Some("b".into());
        writer.apply_watcher_event(&kube::runtime::watcher::Event::Apply(unknown));
        let text = encode(metrics, pods);
        for line in [
            "# HELP vk_pod_reconciles Pod reconcile runs.",
            "# TYPE vk_pod_reconciles counter",
            "vk_pod_reconciles_total{node=\"n1\"} 0.0",
            "# HELP vk_pod_reconcile_errors Pod reconciles that failed and were retried.",
            "vk_pod_creates_total{node=\"n1\"} 1.0",
            "vk_pod_deletes_total{node=\"n1\"} 0.0",
            "vk_pod_status_writes_total{node=\"n1\"} 0.0",
            "vk_pod_status_refreshes_total{node=\"n1\"} 0.0",
            "vk_pod_lists_total{node=\"n1\"} 0.0",
            "vk_pod_orphans_deleted_total{node=\"n1\"} 0.0",
            "vk_pod_rejected_total{node=\"n1\"} 0.0",
            "vk_pod_events_dropped_total{node=\"n1\"} 0.0",
            "# TYPE vk_pod_reconcile_duration_seconds_sum counter",
            "vk_pod_reconcile_duration_seconds_sum_total{node=\"n1\"} 1.5",
            "# HELP vk_pods Pods bound to the node, by phase (from vk's pod cache).",
            "# TYPE vk_pods gauge",
            "vk_pods{node=\"n1\",phase=\"Failed\"} 0.0",
            "vk_pods{node=\"n1\",phase=\"Pending\"} 1.0",
            "vk_pods{node=\"n1\",phase=\"Running\"} 1.0",
            "vk_pods{node=\"n1\",phase=\"Succeeded\"} 0.0",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
        assert_eq!(text.matches("# TYPE ").count(), 12, "{text}");
    }
}
