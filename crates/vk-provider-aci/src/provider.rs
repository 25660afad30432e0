//! [`AciProvider`]: the [`vk_pods::Provider`] that runs pods as ACI container groups.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

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
/// Every call is idempotent. Creation is one PUT (the reconciler reads the
/// status shortly after); deletion is one DELETE when the group is known to
/// belong to the pod's UID (from this provider's last listing or creation),
/// otherwise a GET checks the owner first; an accepted DELETE counts as done
/// (ARM finishes it; a group whose deletion failed is listed again and
/// collected as an orphan). Listing is one paged list of the resource group,
/// filtered by vk's tags to this node and cluster.
pub struct AciProvider {
    aci: ContainerInstances,
    resolver: Resolver,
    config: Arc<TranslateConfig>,
    /// Group name → (owning pod UID, listing epoch when learnt), as last
    /// listed or created by this provider.
    owners: Mutex<Owners>,
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
            owners: Mutex::default(),
        }
    }

    fn owners(&self) -> std::sync::MutexGuard<'_, Owners> {
        self.owners
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn owned_by(&self, group: &vk_aci::models::ContainerGroup, uid: &str) -> bool {
        group
            .tags
            .as_ref()
            .and_then(parse_tags)
            .is_some_and(|o| o.key.uid == uid)
    }
}

/// Which pod owns which group, as far as this provider knows, so deleting a
/// known group needs no ownership read.
#[derive(Debug, Default)]
struct Owners {
    by_group: HashMap<String, (String, u64)>,
    epoch: u64,
}

impl Owners {
    fn learn(&mut self, group: String, uid: String) {
        self.by_group.insert(group, (uid, self.epoch));
    }

    fn owns(&self, group: &str, uid: &str) -> bool {
        self.by_group.get(group).is_some_and(|(u, _)| u == uid)
    }

    fn forget(&mut self, group: &str, uid: &str) {
        if self.owns(group, uid) {
            self.by_group.remove(group);
        }
    }

    /// Starts a listing; returns its epoch.
    fn begin_listing(&mut self) -> u64 {
        self.epoch += 1;
        self.epoch
    }

    /// A listing started at `epoch` found `groups`: they replace everything
    /// learnt before it started (what was learnt while it was paged stays).
    fn listed(&mut self, epoch: u64, groups: impl Iterator<Item = (String, String)>) {
        self.by_group.retain(|_, (_, learnt)| *learnt >= epoch);
        for (group, uid) in groups {
            self.by_group.entry(group).or_insert((uid, epoch));
        }
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
            self.owners().learn(name, key.uid.clone());
            Ok(Some(group_to_report(
                &created,
                pod,
                self.config.node_ip.as_deref(),
            )))
        })
    }

    fn delete_pod<'a>(&'a self, key: &'a PodKey) -> BoxFuture<'a, Result<bool, ProviderError>> {
        Box::pin(async move {
            let name = group_name(&key.namespace, &key.name);
            let known = self.owners().owns(&name, &key.uid);
            if !known {
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
            }
            self.aci
                .begin_delete(&name)
                .await
                .map_err(|e| provider_error("deleting the container group", &e))?;
            self.owners().forget(&name, &key.uid);
            Ok(true)
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
            let epoch = self.owners().begin_listing();
            let groups = self
                .aci
                .list()
                .await
                .map_err(|e| provider_error("listing container groups", &e))?;
            let instances: Vec<Instance> = groups
                .iter()
                .filter(|g| {
                    g.tags.as_ref().and_then(parse_tags).is_some_and(|o| {
                        o.is_owned_by(&self.config.node_name, &self.config.cluster_id)
                    })
                })
                .filter_map(group_to_instance)
                .collect();
            self.owners().listed(
                epoch,
                instances
                    .iter()
                    .map(|i| (group_name(&i.key.namespace, &i.key.name), i.key.uid.clone())),
            );
            Ok(instances)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::Owners;

    fn listed(o: &mut Owners, epoch: u64, groups: &[(&str, &str)]) {
        o.listed(
            epoch,
            groups
                .iter()
                .map(|(g, u)| ((*g).to_owned(), (*u).to_owned())),
        );
    }

    #[test]
    fn a_listing_replaces_what_was_known_before_it_started() {
        let mut o = Owners::default();
        o.learn("ns-a".into(), "uid-a".into());
        o.learn("ns-b".into(), "uid-b".into());
        let epoch = o.begin_listing();
        listed(&mut o, epoch, &[("ns-b", "uid-b2")]);
        assert!(!o.owns("ns-a", "uid-a"), "not listed: forgotten");
        assert!(o.owns("ns-b", "uid-b2"), "the listing's owner wins");
        assert!(!o.owns("ns-b", "uid-b"));
    }

    #[test]
    fn what_is_learnt_while_a_listing_pages_survives_it() {
        let mut o = Owners::default();
        let epoch = o.begin_listing();
        o.learn("ns-new".into(), "uid-new".into());
        o.learn("ns-c".into(), "uid-c-new".into());
        listed(&mut o, epoch, &[("ns-c", "uid-c-old")]);
        assert!(o.owns("ns-new", "uid-new"));
        assert!(o.owns("ns-c", "uid-c-new"), "newer knowledge is kept");
    }

    #[test]
    fn forgetting_needs_the_same_owner() {
        let mut o = Owners::default();
        o.learn("ns-a".into(), "uid-2".into());
        o.forget("ns-a", "uid-1");
        assert!(o.owns("ns-a", "uid-2"));
        o.forget("ns-a", "uid-2");
        assert!(!o.owns("ns-a", "uid-2"));
    }
}
