//! What ACI's answers mean for a virtual node's health: the [`HealthProbe`]
//! behind the Ready condition and the provider-unhealthy taint.
//!
//! 401/403 is `CredentialsRejected`, a used-up container group quota
//! `QuotaExhausted`, a missing subscription or resource group its ARM code
//! (`ResourceGroupNotFound`), anything else or no answer within 10 s
//! `ProviderUnreachable`.

use std::time::Duration;

use futures::future::BoxFuture;
use vk_aci::ContainerInstances;
use vk_node::{Health, HealthProbe};

/// Ready follows two cheap authenticated ARM reads: the region's usages (ARM
/// is reachable, accepts our credentials, the container-group quota is not
/// used up) and a GET in the resource group (it exists). A missing resource
/// group or subscription makes the node NotReady with a reason naming it;
/// vk then treats nothing as gone.
pub struct AciHealth {
    aci: ContainerInstances,
    region: String,
}

impl AciHealth {
    /// Probes `aci`'s resource group, and the container group quota of `region`.
    pub fn new(aci: ContainerInstances, region: impl Into<String>) -> Self {
        Self {
            aci,
            region: region.into(),
        }
    }
}

impl HealthProbe for AciHealth {
    fn check(&self) -> BoxFuture<'_, Health> {
        Box::pin(async move {
            let call = tokio::time::timeout(Duration::from_secs(10), self.aci.usages(&self.region));
            match call.await {
                Err(_) => Health::Unhealthy {
                    reason: "ProviderUnreachable".into(),
                    message: "Azure Container Instances did not answer within 10 s".into(),
                },
                Ok(Err(e)) if e.is_missing_scope() => missing_scope(&e),
                Ok(Err(e)) if e.status().is_some_and(|s| s == 401 || s == 403) => {
                    Health::Unhealthy {
                        reason: "CredentialsRejected".into(),
                        message: format!("Azure Resource Manager rejected vk's credentials: {e}"),
                    }
                }
                Ok(Err(e)) => Health::Unhealthy {
                    reason: "ProviderUnreachable".into(),
                    message: format!("Azure Container Instances is not reachable: {e}"),
                },
                Ok(Ok(usages)) => {
                    let exhausted = usages.iter().find(|u| {
                        u.name.as_ref().is_some_and(|n| {
                            n.value.as_deref() == Some(vk_resources::QUOTA_CONTAINER_GROUPS)
                        }) && matches!((u.current_value, u.limit), (Some(c), Some(l)) if c >= l)
                    });
                    match exhausted {
                        Some(u) => Health::Unhealthy {
                            reason: "QuotaExhausted".into(),
                            message: format!(
                                "the container group quota in {} is used up ({} of {})",
                                self.region,
                                u.current_value.unwrap_or_default(),
                                u.limit.unwrap_or_default()
                            ),
                        },
                        None => self.resource_group_exists().await,
                    }
                }
            }
        })
    }
}

/// The health of a node whose resource group or subscription is missing.
fn missing_scope(e: &vk_aci::Error) -> Health {
    let setting = if e.code() == Some("SubscriptionNotFound") {
        "aci.subscription_id"
    } else {
        "aci.resource_group"
    };
    // ARM's message without the request id, so the condition stays the same
    // from one check to the next.
    let said = e.failure().map_or(String::new(), |f| f.message.clone());
    Health::Unhealthy {
        reason: e.code().unwrap_or("ResourceGroupNotFound").to_owned(),
        message: format!(
            "{said} (check {setting}); no container group is treated as gone meanwhile"
        ),
    }
}

impl AciHealth {
    /// A GET of a group name no pod maps to: 404 `ResourceNotFound` when the
    /// resource group exists, `ResourceGroupNotFound` when it does not.
    async fn resource_group_exists(&self) -> Health {
        match self.aci.try_get("vk-health-probe").await {
            Err(e) if e.is_missing_scope() => missing_scope(&e),
            _ => Health::Healthy,
        }
    }
}
