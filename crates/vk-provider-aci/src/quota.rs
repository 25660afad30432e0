//! ACI's container group create and delete quotas as [`vk_pods::Budget`]s.
//!
//! ACI allows 100 container group creates per 5 minutes and 300 per hour per
//! subscription and region, and as many deletes
//! (`container-instances-resource-and-quota-limits.md`); each can be raised by
//! a quota request. Spending them through a budget queues a burst in pod
//! order instead of collecting 429s.

use std::time::Duration;

use vk_pods::{Budget, RateWindow};

/// ACI's default operation quota: (per 5 minutes, per hour).
pub const ACI_DEFAULT_OPERATION_QUOTA: (u32, u32) = (100, 300);

/// A budget of `per_5_minutes` and `per_hour` operations; a 0 lifts that window.
///
/// ```
/// let b = vk_provider_aci::operation_budget(100, 300);
/// assert_eq!(b.windows().len(), 2);
/// assert!(!vk_provider_aci::operation_budget(0, 0).is_limited());
/// ```
pub fn operation_budget(per_5_minutes: u32, per_hour: u32) -> Budget {
    Budget::new(vec![
        RateWindow::new(per_5_minutes, Duration::from_secs(300)),
        RateWindow::new(per_hour, Duration::from_secs(3600)),
    ])
}
