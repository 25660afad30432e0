//! The provider health the Ready condition reflects.

use futures::future::BoxFuture;

/// The provider's health as last probed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    /// The provider is reachable and accepts our credentials.
    Healthy,
    /// The provider cannot run pods now.
    Unhealthy {
        /// A CamelCase reason, e.g. `ProviderUnreachable`, `CredentialsRejected`, `QuotaExhausted`.
        reason: String,
        /// A human-readable message.
        message: String,
    },
}

impl Health {
    /// True when healthy.
    pub fn is_healthy(&self) -> bool {
        matches!(self, Self::Healthy)
    }
}

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
