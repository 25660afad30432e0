//! [`AciProvider`]: the [`vk_pods::Provider`] that runs pods as ACI container groups.

use std::sync::Arc;

use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::Pod;
use vk_aci::ContainerInstances;
use vk_pods::{ErrorKind, Instance, PodKey, PodReport, Provider, ProviderError};

use crate::naming::group_name;
use crate::refs::Resolver;
use crate::status::{group_to_instance, group_to_report};
use crate::tags::parse_tags;
use crate::translate::{TranslateConfig, pod_to_group};

/// Runs the pods of one virtual node as ACI container groups.
///
/// Every call is idempotent. Creation is one PUT plus one GET (the GET
/// reports the group's state right away when ACI is quick); deletion checks
/// the group belongs to the pod's UID before deleting it; listing is one
/// paged list of the resource group, filtered by vk's tags to this node and
/// cluster.
pub struct AciProvider {
    aci: ContainerInstances,
    resolver: Resolver,
    config: Arc<TranslateConfig>,
}

impl std::fmt::Debug for AciProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AciProvider").finish_non_exhaustive()
    }
}

impl AciProvider {
    /// A provider creating groups with `aci`, resolving pod references with
    /// `client`, translating pods with `config`.
    pub fn new(aci: ContainerInstances, client: kube::Client, config: TranslateConfig) -> Self {
        Self {
            aci,
            resolver: Resolver::new(client),
            config: Arc::new(config),
        }
    }

    fn owned_by(&self, group: &vk_aci::models::ContainerGroup, uid: &str) -> bool {
        group
            .tags
            .as_ref()
            .and_then(parse_tags)
            .is_some_and(|o| o.key.uid == uid)
    }
}

/// Maps an ARM failure to what the reconciler should do with it.
pub fn provider_error(action: &str, e: &vk_aci::Error) -> ProviderError {
    let code = e.code().unwrap_or("");
    let message = format!("{action}: {e}");
    if e.is_quota_exceeded() {
        return ProviderError::new(ErrorKind::QuotaExceeded, "ProviderQuotaExceeded", message);
    }
    if e.is_throttled() {
        return ProviderError::new(ErrorKind::Transient, "ProviderThrottled", message);
    }
    let status = e.status().map(|s| s.as_u16());
    match status {
        Some(400 | 422) if !e.is_transient() => {
            let reason = if code.is_empty() {
                "ProviderInvalidSpec".to_owned()
            } else {
                format!("ACI{code}")
            };
            ProviderError::new(ErrorKind::InvalidSpec, reason, message)
        }
        _ => ProviderError::new(ErrorKind::Transient, "ProviderUnavailable", message),
    }
}

impl Provider for AciProvider {
    fn create_pod<'a>(
        &'a self,
        pod: &'a Pod,
    ) -> BoxFuture<'a, Result<Option<PodReport>, ProviderError>> {
        Box::pin(async move {
            let key = PodKey::of(pod);
            let refs = self
                .resolver
                .resolve(pod)
                .await
                .map_err(|e| e.to_provider_error())?;
            let (group, warnings) =
                pod_to_group(pod, &refs, &self.config).map_err(|e| e.to_provider_error())?;
            for w in &warnings {
                tracing::info!(pod = %key, warning = %w, "translation warning");
            }
            let name = group_name(&key.namespace, &key.name);
            let created = self
                .aci
                .begin_create_or_update(&name, &group)
                .await
                .map_err(|e| provider_error("creating the container group", &e))?;
            // One read right away: with a fast provisioner the pod is Running now.
            let current = match self.aci.try_get(&name).await {
                Ok(Some(g)) => g,
                Ok(None) | Err(_) => created,
            };
            Ok(Some(group_to_report(
                &current,
                pod,
                self.config.node_ip.as_deref(),
            )))
        })
    }

    fn delete_pod<'a>(&'a self, key: &'a PodKey) -> BoxFuture<'a, Result<bool, ProviderError>> {
        Box::pin(async move {
            let name = group_name(&key.namespace, &key.name);
            let Some(group) = self
                .aci
                .try_get(&name)
                .await
                .map_err(|e| provider_error("reading the container group", &e))?
            else {
                return Ok(true);
            };
            if !self.owned_by(&group, &key.uid) {
                // Another pod of the same name owns this group now: not ours to delete.
                return Ok(true);
            }
            self.aci
                .begin_delete(&name)
                .await
                .map_err(|e| provider_error("deleting the container group", &e))?;
            match self.aci.try_get(&name).await {
                Ok(None) => Ok(true),
                Ok(Some(g)) => Ok(!self.owned_by(&g, &key.uid)),
                Err(_) => Ok(false),
            }
        })
    }

    fn pod_status<'a>(
        &'a self,
        pod: &'a Pod,
    ) -> BoxFuture<'a, Result<Option<PodReport>, ProviderError>> {
        Box::pin(async move {
            let key = PodKey::of(pod);
            let name = group_name(&key.namespace, &key.name);
            match self.aci.try_get(&name).await {
                Ok(Some(g)) if self.owned_by(&g, &key.uid) => Ok(Some(group_to_report(
                    &g,
                    pod,
                    self.config.node_ip.as_deref(),
                ))),
                Ok(_) => Ok(None),
                Err(e) => Err(provider_error("reading the container group", &e)),
            }
        })
    }

    fn list_instances(&self) -> BoxFuture<'_, Result<Vec<Instance>, ProviderError>> {
        Box::pin(async move {
            let groups = self
                .aci
                .list()
                .await
                .map_err(|e| provider_error("listing container groups", &e))?;
            Ok(groups
                .iter()
                .filter(|g| {
                    g.tags.as_ref().and_then(parse_tags).is_some_and(|o| {
                        o.is_owned_by(&self.config.node_name, &self.config.cluster_id)
                    })
                })
                .filter_map(group_to_instance)
                .collect())
        })
    }
}
