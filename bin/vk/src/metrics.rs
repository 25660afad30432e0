//! Prometheus metrics of the process, served on the admin port's `/metrics` (OpenMetrics text).
//!
//! [`Metrics`] owns the registry and the metric families vk updates directly, through typed
//! methods (`metrics.kube_request(verb)`). Counters that library crates keep themselves (as
//! atomics, e.g. `vk_node::NodeMetrics`) are exported at scrape time by a collector callback
//! registered with [`Metrics::register_collector`], which returns [`Sample`]s.

use std::fmt;
use std::sync::RwLock;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;

/// The content type of [`Metrics::encode`]'s output.
pub(crate) const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VerbLabels {
    verb: String,
}

/// The process's metrics. Share it as `Arc<Metrics>`; every method takes `&self`.
pub(crate) struct Metrics {
    registry: RwLock<Registry>,
    kube_requests: Family<VerbLabels, Counter>,
    kube_throttled: Counter,
}

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A registry with all of vk's families (and `vk_build_info`).
    pub(crate) fn new() -> Self {
        let metrics = Self {
            registry: RwLock::new(Registry::default()),
            kube_requests: Family::default(),
            kube_throttled: Counter::default(),
        };
        {
            let mut r = metrics.registry.write().unwrap_or_else(|e| e.into_inner());
            r.register(
                "vk_build",
                "vk's version",
                Info::new(vec![("version", env!("CARGO_PKG_VERSION"))]),
            );
            r.register(
                "vk_kube_requests",
                "Kubernetes API requests by verb",
                metrics.kube_requests.clone(),
            );
            r.register(
                "vk_kube_throttled",
                "Kubernetes API requests throttled (429 or client-side limit)",
                metrics.kube_throttled.clone(),
            );
        }
        metrics
    }

    /// A Kubernetes API request was made (`vk_kube_requests_total{verb}`).
    pub(crate) fn kube_request(&self, verb: &str) {
        self.kube_requests
            .get_or_create(&VerbLabels {
                verb: verb.to_string(),
            })
            .inc();
    }

    /// A Kubernetes API request was throttled (`vk_kube_throttled_total`).
    pub(crate) fn kube_throttled(&self) {
        self.kube_throttled.inc();
    }

    /// Registers a callback run at every scrape; its samples are exported as they are.
    /// Samples with the same name form one family (the first sample's help and kind count).
    /// Do not reuse the name of a family above.
    ///
    /// ```ignore
    /// metrics.register_collector(move || {
    ///     let s = node_metrics.snapshot();
    ///     vec![Sample::counter("vk_node_registrations", "Node registrations", s.registrations as f64)
    ///         .label("node", &name)]
    /// });
    /// ```
    pub(crate) fn register_collector<F>(&self, collect: F)
    where
        F: Fn() -> Vec<Sample> + Send + Sync + 'static,
    {
        self.registry
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .register_collector(Box::new(CallbackCollector(Box::new(collect))));
    }

    /// The OpenMetrics text exposition of everything ([`CONTENT_TYPE`]).
    pub(crate) fn encode(&self) -> Result<String, fmt::Error> {
        let mut out = String::new();
        let registry = self.registry.read().unwrap_or_else(|e| e.into_inner());
        prometheus_client::encoding::text::encode(&mut out, &registry)?;
        Ok(out)
    }
}

/// The kind of a [`Sample`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SampleKind {
    /// Only goes up; exported with the `_total` suffix.
    Counter,
    /// Goes up and down.
    Gauge,
}

/// One value exported by a collector callback.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Sample {
    /// Metric name without `_total` (a trailing `_total` is dropped for counters).
    pub(crate) name: String,
    /// Help text.
    pub(crate) help: String,
    /// Counter or gauge.
    pub(crate) kind: SampleKind,
    /// Label pairs.
    pub(crate) labels: Vec<(String, String)>,
    /// The value.
    pub(crate) value: f64,
}

impl Sample {
    /// A counter sample.
    pub(crate) fn counter(name: impl Into<String>, help: impl Into<String>, value: f64) -> Self {
        Self::new(name, help, SampleKind::Counter, value)
    }

    /// A gauge sample.
    pub(crate) fn gauge(name: impl Into<String>, help: impl Into<String>, value: f64) -> Self {
        Self::new(name, help, SampleKind::Gauge, value)
    }

    fn new(name: impl Into<String>, help: impl Into<String>, kind: SampleKind, value: f64) -> Self {
        Self {
            name: name.into(),
            help: help.into(),
            kind,
            labels: Vec::new(),
            value,
        }
    }

    /// Adds a label.
    pub(crate) fn label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.labels.push((key.into(), value.into()));
        self
    }
}

type CollectFn = Box<dyn Fn() -> Vec<Sample> + Send + Sync>;

struct CallbackCollector(CollectFn);

impl fmt::Debug for CallbackCollector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CallbackCollector")
    }
}

fn valid_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

impl Collector for CallbackCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), fmt::Error> {
        let mut samples = (self.0)();
        for sample in &mut samples {
            if sample.kind == SampleKind::Counter
                && let Some(stripped) = sample.name.strip_suffix("_total")
            {
                sample.name = stripped.to_string();
            }
        }
        // Group by name, keeping the order of first appearance.
        let mut names: Vec<&str> = Vec::new();
        for sample in &samples {
            if valid_metric_name(&sample.name) && !names.contains(&sample.name.as_str()) {
                names.push(&sample.name);
            }
        }
        for name in names {
            let mut family = samples.iter().filter(|s| s.name == name).peekable();
            let Some(first) = family.peek() else {
                continue;
            };
            let kind = first.kind;
            let metric_type = match kind {
                SampleKind::Counter => ConstCounter::new(0.0).metric_type(),
                SampleKind::Gauge => ConstGauge::new(0.0).metric_type(),
            };
            let mut metric = encoder.encode_descriptor(name, &first.help, None, metric_type)?;
            for sample in family.filter(|s| s.kind == kind) {
                let labels = &sample.labels;
                let entry = metric.encode_family(labels)?;
                match kind {
                    SampleKind::Counter => ConstCounter::new(sample.value).encode(entry)?,
                    SampleKind::Gauge => ConstGauge::new(sample.value).encode(entry)?,
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_are_exported_with_labels() {
        let m = Metrics::new();
        m.kube_request("patch");
        m.kube_request("patch");
        m.kube_throttled();
        let text = m.encode().expect("encodes");
        for line in [
            "vk_build_info{version=\"",
            "vk_kube_requests_total{verb=\"patch\"} 2",
            "vk_kube_throttled_total 1",
            "# EOF",
        ] {
            assert!(text.contains(line), "missing {line:?} in\n{text}");
        }
    }

    #[test]
    fn collector_samples_are_exported_at_scrape_time() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicU64, Ordering};

        let m = Metrics::new();
        let renewals = Arc::new(AtomicU64::new(0));
        let seen = Arc::clone(&renewals);
        m.register_collector(move || {
            let v = seen.load(Ordering::Relaxed) as f64;
            vec![
                Sample::counter("vk_node_lease_creations_total", "Lease creations", v)
                    .label("node", "a"),
                Sample::counter("vk_node_lease_creations", "ignored help", 2.0).label("node", "b"),
                Sample::gauge("vk_node_ready", "1 when Ready", 1.0).label("node", "a"),
                Sample::gauge("bad name", "dropped", 1.0),
            ]
        });
        renewals.store(7, Ordering::Relaxed);
        let text = m.encode().expect("encodes");
        assert!(
            text.contains("# TYPE vk_node_lease_creations counter"),
            "{text}"
        );
        assert!(
            text.contains("# HELP vk_node_lease_creations Lease creations"),
            "{text}"
        );
        assert!(
            text.contains("vk_node_lease_creations_total{node=\"a\"} 7"),
            "{text}"
        );
        assert!(
            text.contains("vk_node_lease_creations_total{node=\"b\"} 2"),
            "{text}"
        );
        assert!(text.contains("vk_node_ready{node=\"a\"} 1"), "{text}");
        assert!(!text.contains("bad name"), "{text}");
        assert_eq!(
            text.matches("# TYPE vk_node_lease_creations ").count(),
            1,
            "{text}"
        );
    }
}
