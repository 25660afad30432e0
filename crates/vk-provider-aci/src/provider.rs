//! [`AciProvider`]: the [`vk_pods::Provider`] that runs pods as ACI container groups.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures::TryStreamExt as _;
use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::Pod;
use vk_aci::ContainerInstances;
use vk_pods::{Created, ErrorKind, Instance, PodKey, PodReport, Provider, ProviderError};

use crate::naming::{group_name, hashed_group_name};
use crate::refs::Resolver;
use crate::status::{group_to_report, owned_instance};
use crate::tags::parse_tags;
use crate::translate::{TranslateConfig, pod_to_group, strip_service_account_token};

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
    /// Which group belongs to which pod, as last listed or created.
    names: Arc<GroupNames>,
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
            names: Arc::default(),
        }
    }

    /// The pod → group name directory this provider keeps (share it with a
    /// kubelet API backend so logs and exec reach the same groups).
    pub fn group_names(&self) -> Arc<GroupNames> {
        Arc::clone(&self.names)
    }

    fn owners(&self) -> std::sync::MutexGuard<'_, Owners> {
        self.names.lock()
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

/// Which container group runs which pod, as far as this process knows (from
/// its listings and creations): a pod's group is `<namespace>-<name>`
/// ([`group_name`]) unless that name belongs to another pod, then the
/// unambiguous [`hashed_group_name`].
#[derive(Debug, Default)]
pub struct GroupNames {
    owners: Mutex<Owners>,
}

impl GroupNames {
    fn lock(&self) -> std::sync::MutexGuard<'_, Owners> {
        self.owners
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The group of pod `namespace/name` whose UID is `uid`.
    pub fn group_of(&self, namespace: &str, name: &str, uid: &str) -> String {
        self.lock().group_of(namespace, name, uid)
    }

    /// [`group_of`](Self::group_of) a pod, as a function (for the kubelet API's
    /// backend and the usage sampler, which find a pod's group by it).
    pub fn namer(self: Arc<Self>) -> impl Fn(&Pod) -> String + Send + Sync + 'static {
        move |pod| {
            self.group_of(
                pod.metadata.namespace.as_deref().unwrap_or_default(),
                pod.metadata.name.as_deref().unwrap_or_default(),
                pod.metadata.uid.as_deref().unwrap_or_default(),
            )
        }
    }
}

impl Owners {
    /// See [`GroupNames::group_of`].
    fn group_of(&self, namespace: &str, name: &str, uid: &str) -> String {
        let hashed = hashed_group_name(namespace, name);
        let plain = group_name(namespace, name);
        if self.owns(&hashed, uid) || self.by_group.get(&plain).is_some_and(|(u, _)| u != uid) {
            hashed
        } else {
            plain
        }
    }

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

/// Maps an ARM failure to what the reconciler should do with it: quota and
/// throttling wait (with the answer's `Retry-After`); an image ACI cannot
/// pull is an image pull error (retried with the kubelet's back-off); any
/// other refusal of the request holds the pod (vk sends only what ACI
/// accepts, so it names a gap between them); everything else is transient.
pub fn provider_error(action: &str, e: &vk_aci::Error) -> ProviderError {
    let code = e.code().unwrap_or("");
    let message = format!("{action}: {e}");
    let retry_after = e.failure().and_then(|f| f.retry_after);
    if e.is_quota_exceeded() {
        return ProviderError::new(ErrorKind::QuotaExceeded, "ProviderQuotaExceeded", message)
            .with_retry_after(retry_after);
    }
    if e.is_throttled() {
        return ProviderError::new(ErrorKind::Transient, "ProviderThrottled", message)
            .with_retry_after(retry_after);
    }
    if code == "ContainerGroupTransitioning" {
        // Mostly the group of an earlier pod of the same name still being
        // deleted: ACI refuses the PUT until it is gone. Look again shortly
        // (no growing back-off); the new group is created once it is.
        return ProviderError::new(
            ErrorKind::Transient,
            "ContainerGroupTransitioning",
            format!(
                "{message} (a container group of this name is still being deleted or updated; vk creates this pod's group once it is done)"
            ),
        )
        .with_retry_after(Some(retry_after.unwrap_or(TRANSITIONING_RETRY)));
    }
    let status = e.status().map(|s| s.as_u16());
    match status {
        Some(400 | 422) if code == "InaccessibleImage" => {
            let failure_message = e.failure().map(|f| f.message.as_str()).unwrap_or_default();
            let err = ProviderError::new(ErrorKind::ImagePull, "ErrImagePull", message);
            match quoted_image(failure_message) {
                Some(image) => err.with_image(image),
                None => err,
            }
        }
        Some(400 | 422) if !e.is_transient() => {
            ProviderError::new(ErrorKind::InvalidSpec, "ProviderRejected", message)
        }
        _ => ProviderError::new(ErrorKind::Transient, "ProviderUnavailable", message)
            .with_retry_after(retry_after),
    }
}

/// How soon a PUT refused with `ContainerGroupTransitioning` is tried again.
const TRANSITIONING_RETRY: std::time::Duration = std::time::Duration::from_secs(3);

/// The image named in ACI's `InaccessibleImage` message ("The image 'x' in
/// container group 'y' is not accessible...").
fn quoted_image(message: &str) -> Option<String> {
    let rest = message.split_once("image '")?.1;
    let (image, _) = rest.split_once('\'')?;
    (!image.is_empty()).then(|| image.to_owned())
}

/// Names the container running `image`, when an error names an image.
fn with_image_container(e: ProviderError, pod: &Pod) -> ProviderError {
    let Some(image) = e.image.clone() else {
        return e;
    };
    let container = pod.spec.iter().find_map(|s| {
        s.containers
            .iter()
            .chain(s.init_containers.iter().flatten())
            .find(|c| c.image.as_deref() == Some(image.as_str()))
            .map(|c| c.name.clone())
    });
    match container {
        Some(c) => e.with_container(c),
        None => e,
    }
}

impl Provider for AciProvider {
    fn create_pod<'a>(&'a self, pod: &'a Pod) -> BoxFuture<'a, Result<Created, ProviderError>> {
        Box::pin(async move {
            let key = PodKey::of(pod);
            // ACI mounts no volume in a Windows group: the automatic
            // service-account token is left out (and said so) before anything
            // is resolved for it.
            let mut adjustments = Vec::new();
            let stripped = (self.config.os == vk_resources::OsType::Windows)
                .then(|| strip_service_account_token(pod))
                .flatten();
            let pod = match &stripped {
                Some((without, adjustment)) => {
                    adjustments.push(adjustment.clone());
                    without
                }
                None => pod,
            };
            let refs = self
                .resolver
                .resolve(pod)
                .await
                .map_err(|e| e.to_provider_error())?;
            adjustments.extend(refs.adjustments.iter().cloned());
            let (group, translated) =
                pod_to_group(pod, &refs, &self.config).map_err(|e| e.to_provider_error())?;
            adjustments.extend(translated);
            let name = {
                // Choose and reserve the name at once, so two pods whose plain
                // names collide (`a-b/c`, `a/b-c`) never PUT the same group.
                let mut owners = self.owners();
                let name = owners.group_of(&key.namespace, &key.name, &key.uid);
                owners.learn(name.clone(), key.uid.clone());
                name
            };
            let created = match self.aci.begin_create_or_update(&name, &group).await {
                Ok(created) => created,
                Err(e) => {
                    let err = with_image_container(
                        provider_error("creating the container group", &e),
                        pod,
                    );
                    tracing::warn!(pod = %key, group = %name, reason = %err.reason, error = %e, "container group not created");
                    return Err(err);
                }
            };
            tracing::info!(pod = %key, group = %name, "container group created");
            Ok(Created {
                report: Some(group_to_report(
                    &created,
                    pod,
                    self.config.node_ip.as_deref(),
                )),
                adjustments,
            })
        })
    }

    fn delete_pod<'a>(&'a self, key: &'a PodKey) -> BoxFuture<'a, Result<bool, ProviderError>> {
        Box::pin(async move {
            let (name, known) = {
                let owners = self.owners();
                let name = owners.group_of(&key.namespace, &key.name, &key.uid);
                let known = owners.owns(&name, &key.uid);
                (name, known)
            };
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
            tracing::info!(pod = %key, group = %name, "container group deleted");
            Ok(true)
        })
    }

    fn pod_status<'a>(
        &'a self,
        pod: &'a Pod,
    ) -> BoxFuture<'a, Result<Option<PodReport>, ProviderError>> {
        Box::pin(async move {
            let key = PodKey::of(pod);
            let name = self.owners().group_of(&key.namespace, &key.name, &key.uid);
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

    fn stop_pod<'a>(&'a self, key: &'a PodKey) -> BoxFuture<'a, Result<(), ProviderError>> {
        Box::pin(async move {
            let name = self.owners().group_of(&key.namespace, &key.name, &key.uid);
            // ACI keeps a stopped group (and its logs) without running or
            // billing it; a Failed group would otherwise keep retrying.
            self.aci
                .stop(&name)
                .await
                .map_err(|e| provider_error("stopping the container group", &e))?;
            tracing::info!(pod = %key, group = %name, "container group stopped");
            Ok(())
        })
    }

    fn list_instances(&self) -> BoxFuture<'_, Result<Vec<Instance>, ProviderError>> {
        Box::pin(async move {
            let epoch = self.owners().begin_listing();
            // Page by page: only what each group stands for is kept, never the
            // listed groups themselves (10,000 of them would be ~100 MB).
            let mut instances = Vec::new();
            let mut taken = Vec::new();
            let mut groups = std::pin::pin!(self.aci.list_stream());
            while let Some(group) = groups
                .try_next()
                .await
                .map_err(|e| provider_error("listing container groups", &e))?
            {
                let Some(owner) = group.tags.as_ref().and_then(parse_tags) else {
                    continue;
                };
                // Every vk group of the resource group, whichever node runs
                // it: its name is taken.
                if let Some(name) = &group.name {
                    taken.push((name.clone(), owner.key.uid.clone()));
                }
                if owner.is_owned_by(&self.config.node_name, &self.config.cluster_id) {
                    instances.push(owned_instance(&group, owner));
                }
            }
            self.owners().listed(epoch, taken.into_iter());
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
    fn a_pod_whose_plain_name_belongs_to_another_pod_gets_the_hashed_name() {
        use crate::naming::{group_name, hashed_group_name};
        let mut o = Owners::default();
        // Unknown: the plain name.
        assert_eq!(o.group_of("a", "b-c", "uid-1"), group_name("a", "b-c"));
        o.learn(group_name("a", "b-c"), "uid-1".into());
        assert_eq!(o.group_of("a", "b-c", "uid-1"), "a-b-c");
        // `a-b/c` has the same plain name, owned by uid-1: hashed.
        let hashed = hashed_group_name("a-b", "c");
        assert_eq!(o.group_of("a-b", "c", "uid-2"), hashed);
        o.learn(hashed.clone(), "uid-2".into());
        // It keeps its hashed group once the other pod's group is gone.
        o.forget("a-b-c", "uid-1");
        assert_eq!(o.group_of("a-b", "c", "uid-2"), hashed);
        // A listing that shows the groups by their real names restores both.
        let epoch = o.begin_listing();
        listed(&mut o, epoch, &[("a-b-c", "uid-1"), (&hashed, "uid-2")]);
        assert_eq!(o.group_of("a", "b-c", "uid-1"), "a-b-c");
        assert_eq!(o.group_of("a-b", "c", "uid-2"), hashed);
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
