//! Prometheus metrics of the process, served on the admin port's `/metrics` (OpenMetrics text).
//!
//! [`Metrics`] owns the registry and `vk_build_info`. The library crates register their own
//! families (`vk_kube::RequestMetrics::register_metrics`,
//! `vk_aci::ContainerInstances::register_metrics`, `vk_node::VirtualNode::register_metrics`,
//! `vk_pods::PodReconciler::register_metrics`, `vk_pods::Budget::register_metrics`) through
//! [`Metrics::register`], per node in a sub-registry labelled `node`.

use std::fmt;
use std::sync::RwLock;

use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;

/// The content type of [`Metrics::encode`]'s output.
pub(crate) const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The process's metrics. Share it as `Arc<Metrics>`; every method takes `&self`.
pub(crate) struct Metrics {
    registry: RwLock<Registry>,
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
        };
        {
            let mut r = metrics.registry.write().unwrap_or_else(|e| e.into_inner());
            r.register(
                "vk_build",
                "vk's version",
                Info::new(vec![("version", env!("CARGO_PKG_VERSION"))]),
            );
        }
        metrics
    }

    /// Lets a component register its own families (`aci.register_metrics(registry)`),
    /// read at every scrape. Per-node components get
    /// `registry.sub_registry_with_label(("node", name))`.
    pub(crate) fn register(&self, register: impl FnOnce(&mut Registry)) {
        register(&mut self.registry.write().unwrap_or_else(|e| e.into_inner()));
    }

    /// The OpenMetrics text exposition of everything ([`CONTENT_TYPE`]).
    pub(crate) fn encode(&self) -> Result<String, fmt::Error> {
        let mut out = String::new();
        let registry = self.registry.read().unwrap_or_else(|e| e.into_inner());
        prometheus_client::encoding::text::encode(&mut out, &registry)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_are_exported_with_labels() {
        let m = Metrics::new();
        let requests = vk_kube::RequestMetrics::default();
        m.register(|r| requests.register_metrics(r));
        let text = m.encode().expect("encodes");
        for line in [
            "vk_build_info{version=\"",
            "vk_kube_throttled_total 0",
            "# EOF",
        ] {
            assert!(text.contains(line), "missing {line:?} in\n{text}");
        }
    }
}
