//! The provider health the Ready condition reflects.

use futures::future::BoxFuture;

use crate::TaintHook;

/// The provider's health as last probed (vk's one health type, from vk-taints).
pub use vk_taints::Health;

/// Checks the provider's health (for ACI: a cheap authenticated ARM call).
pub trait HealthProbe: Send + Sync + 'static {
    /// Probes once. Implementations should bound their own time.
    fn check(&self) -> BoxFuture<'_, Health>;
}

/// A probe that always reports [`Health::Healthy`] (for tests and providers without a health notion).
#[derive(Debug, Clone, Copy, Default)]
pub struct AlwaysHealthy;

impl HealthProbe for AlwaysHealthy {
    fn check(&self) -> BoxFuture<'_, Health> {
        Box::pin(async { Health::Healthy })
    }
}

/// The taints vk owns on one node, kept in line with the provider's health
/// through vk-taints' conflict-safe reconciler: the [`TaintHook`] of a
/// [`VirtualNode`](crate::VirtualNode).
#[derive(Clone)]
pub struct OwnTaints {
    reconciler: vk_taints::TaintReconciler,
    config: vk_taints::TaintConfig,
}

impl OwnTaints {
    /// The taints of `config` on `node`.
    pub fn new(
        client: kube::Client,
        node: impl Into<String>,
        config: vk_taints::TaintConfig,
    ) -> Self {
        Self {
            reconciler: vk_taints::TaintReconciler::new(client, node, &config),
            config,
        }
    }
}

impl TaintHook for OwnTaints {
    fn apply<'a>(
        &'a self,
        _node: &'a str,
        health: &'a Health,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            self.reconciler
                .ensure(&self.config.desired(health))
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        })
    }
}
