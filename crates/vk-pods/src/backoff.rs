//! How long a failing pod waits before its next attempt: provider failures,
//! missing Secrets and ConfigMaps, image pulls (each jittered so a burst of
//! failures does not retry in lockstep).

use std::time::Duration;

use crate::{CONFIG_RETRY_MAX, ReconcilerConfig};

/// Provider failures: 2 s doubling to 256 s, ±20 %.
pub(crate) fn backoff(failures: u32) -> Duration {
    let secs = 1u64 << failures.min(8); // 2 s … 256 s
    let base = Duration::from_secs(secs.min(300));
    base.mul_f64(0.8 + 0.4 * fastrand_f64())
}

/// Missing Secrets and ConfigMaps: 1 s, 2 s, 4 s, 8 s, then every 10 s.
pub(crate) fn config_backoff(failures: u32) -> Duration {
    let secs = 1u64 << failures.saturating_sub(1).min(4);
    Duration::from_secs(secs)
        .min(CONFIG_RETRY_MAX)
        .mul_f64(0.9 + 0.2 * fastrand_f64())
}

/// The image pull back-off (the kubelet's: 10 s doubling to 5 minutes).
pub(crate) fn image_backoff(config: &ReconcilerConfig, failures: u32) -> Duration {
    let doubled = config
        .image_pull_backoff
        .saturating_mul(1 << failures.saturating_sub(1).min(16));
    doubled
        .min(config.image_pull_backoff_max)
        .mul_f64(0.9 + 0.2 * fastrand_f64())
}

fn fastrand_f64() -> f64 {
    // Sub-second clock noise is jitter enough to spread retries.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    f64::from(nanos % 1000) / 1000.0
}
