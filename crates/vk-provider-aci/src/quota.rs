//! ACI's container group create and delete quotas as [`vk_pods::Budget`]s.
//!
//! ACI allows 100 container group creates per 5 minutes and 300 per hour per
//! subscription and region, and as many deletes
//! (`container-instances-resource-and-quota-limits.md`); each can be raised by
//! a quota request. Spending them through a budget queues a burst in pod
//! order instead of collecting 429s.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
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

/// ACI's create and delete quotas per subscription and region (defaults: ACI's, 100 per 5
/// minutes and 300 per hour each); 0 lifts a window. Raise them after a quota increase.
///
/// ```
/// let quotas = vk_provider_aci::QuotaConfig::default().with_creates(10, 0);
/// let budgets = quotas.budgets();
/// assert!(budgets.creates.is_limited());
/// assert_eq!(budgets.deletes.windows().len(), 2);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct QuotaConfig {
    /// Container group creates per 5 minutes.
    pub creates_per_5_minutes: u32,
    /// Container group creates per hour.
    pub creates_per_hour: u32,
    /// Container group deletes per 5 minutes.
    pub deletes_per_5_minutes: u32,
    /// Container group deletes per hour.
    pub deletes_per_hour: u32,
}

impl Default for QuotaConfig {
    fn default() -> Self {
        let (five, hour) = ACI_DEFAULT_OPERATION_QUOTA;
        Self {
            creates_per_5_minutes: five,
            creates_per_hour: hour,
            deletes_per_5_minutes: five,
            deletes_per_hour: hour,
        }
    }
}

impl QuotaConfig {
    /// Sets the create quota (per 5 minutes, per hour).
    #[must_use]
    pub fn with_creates(mut self, per_5_minutes: u32, per_hour: u32) -> Self {
        self.creates_per_5_minutes = per_5_minutes;
        self.creates_per_hour = per_hour;
        self
    }

    /// Sets the delete quota (per 5 minutes, per hour).
    #[must_use]
    pub fn with_deletes(mut self, per_5_minutes: u32, per_hour: u32) -> Self {
        self.deletes_per_5_minutes = per_5_minutes;
        self.deletes_per_hour = per_hour;
        self
    }

    /// The two budgets. The quotas are per subscription and region: share one pair
    /// between every reconciler of the process.
    pub fn budgets(&self) -> OperationBudgets {
        OperationBudgets {
            creates: Arc::new(operation_budget(
                self.creates_per_5_minutes,
                self.creates_per_hour,
            )),
            deletes: Arc::new(operation_budget(
                self.deletes_per_5_minutes,
                self.deletes_per_hour,
            )),
        }
    }
}

/// The create and delete budgets of [`QuotaConfig::budgets`], for
/// [`PodReconciler::with_budgets`](vk_pods::PodReconciler::with_budgets).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct OperationBudgets {
    /// Container group creates.
    pub creates: Arc<Budget>,
    /// Container group deletes.
    pub deletes: Arc<Budget>,
}

impl OperationBudgets {
    /// Registers both budgets' families (see [`Budget::register_metrics`]), labelled
    /// `operation="create"` and `operation="delete"`.
    pub fn register_metrics(&self, registry: &mut prometheus_client::registry::Registry) {
        for (operation, budget) in [("create", &self.creates), ("delete", &self.deletes)] {
            budget.register_metrics(
                registry.sub_registry_with_label(("operation".into(), operation.into())),
            );
        }
    }
}
