//! Keeps vk's own taints on its Node and every other taint untouched.
//!
//! `spec.taints` is an atomic list, so it is never server-side applied: the
//! reconciler reads the Node, computes the new list with [`merge_taints`],
//! skips the write when the set of taints is unchanged (order alone is not a
//! change), and otherwise sends a JSON merge patch carrying the whole list
//! **and** the `metadata.resourceVersion` it read. If another writer changed
//! the Node in between, the API server answers 409 Conflict and the
//! reconciler reads again and retries (bounded, with a small growing backoff).

use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, Taint};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Patch, PatchParams};
use kube::{Api, Client, ResourceExt};
use serde_json::json;
use tracing::{debug, info};

use crate::{Error, TaintConfig, TaintId};

/// Computes a Node's new taint list.
///
/// * Taints not owned by vk (their key and effect match no `owned` id and no
///   `desired` taint) are kept, in their original order and unchanged.
/// * Then the `desired` taints follow, in the given order, without duplicate
///   key/effect pairs (the first wins). A desired taint that is already on the
///   node with the same value keeps its `timeAdded`; a new `NoExecute` taint
///   gets `timeAdded` = now, as the taint eviction controller expects.
/// * Owned taints that are not desired are dropped.
///
/// ```
/// use k8s_openapi::api::core::v1::Taint;
/// use vk_taints::{TaintId, merge_taints};
///
/// let t = |k: &str| Taint { key: k.into(), effect: "NoSchedule".into(), ..Default::default() };
/// let owned = [TaintId { key: "mine".into(), effect: "NoSchedule".into() }];
/// let merged = merge_taints(&[t("theirs"), t("mine")], &owned, &[]);
/// assert_eq!(merged, vec![t("theirs")]);
/// ```
#[must_use]
pub fn merge_taints(current: &[Taint], owned: &[TaintId], desired: &[Taint]) -> Vec<Taint> {
    let is_owned =
        |t: &Taint| owned.iter().any(|id| id.matches(t)) || desired.iter().any(|d| same_id(d, t));
    let mut out: Vec<Taint> = current.iter().filter(|t| !is_owned(t)).cloned().collect();
    let mut placed: Vec<TaintId> = Vec::new();
    for want in desired {
        let id = TaintId::of(want);
        if placed.contains(&id) {
            continue;
        }
        placed.push(id);
        let existing = current
            .iter()
            .find(|t| same_id(t, want) && value(t) == value(want));
        let time_added = match existing {
            Some(t) => t.time_added.clone(),
            None if want.time_added.is_some() => want.time_added.clone(),
            None if want.effect == "NoExecute" => Some(Time(k8s_openapi::jiff::Timestamp::now())),
            None => None,
        };
        out.push(Taint {
            time_added,
            ..want.clone()
        });
    }
    out
}

/// Whether two taint lists are the same, ignoring `timeAdded` and treating a
/// missing value as empty (the API server does not distinguish them).
#[must_use]
pub fn same_taints(a: &[Taint], b: &[Taint]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| same_id(x, y) && value(x) == value(y))
}

/// Whether two taint lists hold the same taints in any order (ignoring
/// `timeAdded`). The reconciler skips a write that would only reorder taints.
fn same_set(a: &[Taint], b: &[Taint]) -> bool {
    let key = |t: &Taint| (t.key.clone(), t.effect.clone(), value(t).to_owned());
    let mut a: Vec<_> = a.iter().map(key).collect();
    let mut b: Vec<_> = b.iter().map(key).collect();
    a.sort();
    b.sort();
    a == b
}

fn same_id(a: &Taint, b: &Taint) -> bool {
    a.key == b.key && a.effect == b.effect
}

fn value(t: &Taint) -> &str {
    t.value.as_deref().unwrap_or_default()
}

/// What [`TaintReconciler::ensure`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The Node already had the right taints (in any order); nothing was written.
    Unchanged,
    /// The taints were written; `attempts` counts the writes tried (> 1 after conflicts).
    Updated {
        /// Number of write attempts.
        attempts: u32,
        /// The Node's taints after the write.
        taints: Vec<Taint>,
    },
}

/// How conflicts are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Most read-modify-write attempts (≥ 1).
    pub max_attempts: u32,
    /// Backoff before the second attempt; doubles each time.
    pub initial_backoff: Duration,
    /// Backoff ceiling.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 10,
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(500),
        }
    }
}

/// Owns vk's taints on one Node.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use vk_taints::{Health, TaintConfig, TaintReconciler};
///
/// let client = kube::Client::try_default().await?;
/// let config = TaintConfig::default();
/// let reconciler = TaintReconciler::new(client, "vk-aci", &config);
/// reconciler.ensure(&config.desired(&Health::unhealthy("ProviderUnreachable", "ACI does not answer"))).await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct TaintReconciler {
    nodes: Api<Node>,
    node: String,
    owned: Vec<TaintId>,
    retry: RetryPolicy,
}

impl std::fmt::Debug for TaintReconciler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaintReconciler")
            .field("node", &self.node)
            .field("owned", &self.owned)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl TaintReconciler {
    /// A reconciler for `node` owning every taint `config` can produce.
    #[must_use]
    pub fn new(client: Client, node: impl Into<String>, config: &TaintConfig) -> Self {
        Self::with_owned(client, node, config.owned())
    }

    /// A reconciler for `node` owning exactly the given taint identities
    /// (plus whatever it is asked to ensure).
    #[must_use]
    pub fn with_owned(client: Client, node: impl Into<String>, owned: Vec<TaintId>) -> Self {
        Self {
            nodes: Api::all(client),
            node: node.into(),
            owned,
            retry: RetryPolicy::default(),
        }
    }

    /// Replaces the retry policy.
    #[must_use]
    pub fn retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The Node's name.
    #[must_use]
    pub fn node(&self) -> &str {
        &self.node
    }

    /// Makes vk's taints on the Node exactly `desired`, keeping every other
    /// taint. Read-modify-write with a `resourceVersion` precondition; retried
    /// on conflict.
    pub async fn ensure(&self, desired: &[Taint]) -> Result<Outcome, Error> {
        let attempts = self.retry.max_attempts.max(1);
        let mut backoff = self.retry.initial_backoff;
        for attempt in 1..=attempts {
            let node = self
                .nodes
                .get_opt(&self.node)
                .await
                .map_err(|source| Error::GetNode {
                    node: self.node.clone(),
                    source,
                })?
                .ok_or_else(|| Error::NodeNotFound {
                    node: self.node.clone(),
                })?;
            let current = node
                .spec
                .as_ref()
                .and_then(|s| s.taints.as_deref())
                .unwrap_or_default();
            let merged = merge_taints(current, &self.owned, desired);
            if same_set(current, &merged) {
                debug!(node = %self.node, "taints unchanged");
                return Ok(Outcome::Unchanged);
            }
            let patch = json!({
                "metadata": {"resourceVersion": node.resource_version()},
                "spec": {"taints": merged},
            });
            match self
                .nodes
                .patch(&self.node, &PatchParams::default(), &Patch::Merge(&patch))
                .await
            {
                Ok(updated) => {
                    let taints = updated.spec.and_then(|s| s.taints).unwrap_or_default();
                    info!(node = %self.node, attempt, "taints updated");
                    return Ok(Outcome::Updated {
                        attempts: attempt,
                        taints,
                    });
                }
                Err(kube::Error::Api(status)) if status.is_conflict() => {
                    debug!(node = %self.node, attempt, "taint update conflicted; re-reading");
                    if attempt < attempts {
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(self.retry.max_backoff);
                    }
                }
                Err(source) => {
                    return Err(Error::UpdateTaints {
                        node: self.node.clone(),
                        source,
                    });
                }
            }
        }
        Err(Error::Conflict {
            node: self.node.clone(),
            attempts,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn t(key: &str, value: Option<&str>, effect: &str) -> Taint {
        Taint {
            key: key.into(),
            value: value.map(Into::into),
            effect: effect.into(),
            time_added: None,
        }
    }

    fn id(key: &str, effect: &str) -> TaintId {
        TaintId {
            key: key.into(),
            effect: effect.into(),
        }
    }

    const PROVIDER: &str = "virtual-kubelet.io/provider";
    const UNHEALTHY: &str = "virtual-kubelet.io/provider-unhealthy";

    fn owned() -> Vec<TaintId> {
        vec![id(PROVIDER, "NoSchedule"), id(UNHEALTHY, "NoSchedule")]
    }

    #[test]
    fn empty_node_gets_desired() {
        let desired = [t(PROVIDER, Some("azure"), "NoSchedule")];
        assert_eq!(merge_taints(&[], &owned(), &desired), desired.to_vec());
    }

    #[test]
    fn keeps_foreign_taints_in_order() {
        let current = [
            t("node.kubernetes.io/unreachable", None, "NoExecute"),
            t(PROVIDER, Some("azure"), "NoSchedule"),
            t("node.kubernetes.io/unschedulable", None, "NoSchedule"),
            t(UNHEALTHY, None, "NoSchedule"),
            t("user", Some("x"), "PreferNoSchedule"),
        ];
        let desired = [t(PROVIDER, Some("azure"), "NoSchedule")];
        let merged = merge_taints(&current, &owned(), &desired);
        assert_eq!(
            merged,
            vec![
                current[0].clone(),
                current[2].clone(),
                current[4].clone(),
                desired[0].clone()
            ]
        );
    }

    #[test]
    fn same_key_other_effect_is_foreign() {
        let current = [t(PROVIDER, Some("user"), "NoExecute")];
        let merged = merge_taints(&current, &owned(), &[]);
        assert_eq!(merged, current.to_vec());
    }

    #[test]
    fn value_change_replaces_owned_taint() {
        let current = [t(PROVIDER, Some("old"), "NoSchedule")];
        let desired = [t(PROVIDER, Some("azure"), "NoSchedule")];
        assert_eq!(merge_taints(&current, &owned(), &desired), desired.to_vec());
    }

    #[test]
    fn desired_duplicates_are_dropped() {
        let desired = [
            t(PROVIDER, Some("a"), "NoSchedule"),
            t(PROVIDER, Some("b"), "NoSchedule"),
        ];
        assert_eq!(
            merge_taints(&[], &owned(), &desired),
            vec![desired[0].clone()]
        );
    }

    #[test]
    fn desired_outside_owned_is_still_owned() {
        // A desired taint with a key not in `owned` replaces a same-id taint.
        let current = [t("extra", Some("1"), "NoSchedule")];
        let desired = [t("extra", Some("2"), "NoSchedule")];
        assert_eq!(merge_taints(&current, &owned(), &desired), desired.to_vec());
    }

    #[test]
    fn no_execute_time_added_is_set_once_and_kept() {
        let desired = [t("vk/evict", None, "NoExecute")];
        let first = merge_taints(&[], &[], &desired);
        assert!(first[0].time_added.is_some());
        let second = merge_taints(&first, &[], &desired);
        assert_eq!(second, first);
        assert!(same_taints(&first, &second));
        let ns = merge_taints(&[], &[], &[t("vk/x", None, "NoSchedule")]);
        assert!(ns[0].time_added.is_none());
    }

    #[test]
    fn same_taints_ignores_time_and_empty_value() {
        let mut a = t("k", None, "NoExecute");
        a.time_added = Some(Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH));
        let b = t("k", Some(""), "NoExecute");
        assert!(same_taints(&[a.clone()], &[b]));
        assert!(!same_taints(&[a.clone()], &[]));
        assert!(!same_taints(&[a], &[t("k", Some("v"), "NoExecute")]));
    }

    #[test]
    fn reordering_alone_is_not_a_change() {
        let current = [
            t(PROVIDER, Some("azure"), "NoSchedule"),
            t("user", None, "NoSchedule"),
        ];
        let merged = merge_taints(&current, &owned(), &[current[0].clone()]);
        assert!(!same_taints(&current, &merged));
        assert!(same_set(&current, &merged));
        assert!(!same_set(&current, &merged[..1]));
    }

    #[test]
    fn toggling_health_round_trips() {
        let healthy = [t(PROVIDER, Some("azure"), "NoSchedule")];
        let unhealthy = [
            t(PROVIDER, Some("azure"), "NoSchedule"),
            t(UNHEALTHY, None, "NoSchedule"),
        ];
        let foreign = [t("node.kubernetes.io/unreachable", None, "NoExecute")];
        let a = merge_taints(&foreign, &owned(), &unhealthy);
        assert_eq!(a.len(), 3);
        let b = merge_taints(&a, &owned(), &healthy);
        assert_eq!(b, vec![foreign[0].clone(), healthy[0].clone()]);
    }

    fn arb_taint(keys: &'static [&'static str]) -> impl Strategy<Value = Taint> {
        (
            proptest::sample::select(keys),
            proptest::option::of(proptest::sample::select(&["a", "b", ""][..])),
            proptest::sample::select(&["NoSchedule", "PreferNoSchedule", "NoExecute"][..]),
        )
            .prop_map(|(k, v, e)| t(k, v, e))
    }

    /// Kubernetes allows one taint per key/effect; keep generated lists valid.
    fn unique(list: Vec<Taint>) -> Vec<Taint> {
        let mut out: Vec<Taint> = Vec::new();
        for x in list {
            if !out.iter().any(|y| same_id(&x, y)) {
                out.push(x);
            }
        }
        out
    }

    const FOREIGN_KEYS: &[&str] = &[
        "node.kubernetes.io/unreachable",
        "user",
        "example.com/other",
    ];
    const OWNED_KEYS: &[&str] = &[PROVIDER, UNHEALTHY, "vk/extra"];

    proptest! {
        #[test]
        fn foreign_preserved_and_owned_equals_desired(
            foreign in proptest::collection::vec(arb_taint(FOREIGN_KEYS), 0..6),
            stale in proptest::collection::vec(arb_taint(OWNED_KEYS), 0..6),
            desired in proptest::collection::vec(arb_taint(OWNED_KEYS), 0..6),
            interleave in proptest::collection::vec(any::<bool>(), 12),
        ) {
            let foreign = unique(foreign);
            let stale = unique(stale);
            let desired = unique(desired);
            let owned: Vec<TaintId> = OWNED_KEYS.iter()
                .flat_map(|k| ["NoSchedule", "PreferNoSchedule", "NoExecute"].map(|e| id(k, e)))
                .collect();
            // Interleave foreign and stale owned taints.
            let (mut f, mut s) = (foreign.iter(), stale.iter());
            let mut current = Vec::new();
            for pick in &interleave {
                let next = if *pick { f.next().or_else(|| s.next()) } else { s.next().or_else(|| f.next()) };
                if let Some(x) = next { current.push(x.clone()); }
            }
            current.extend(f.cloned());
            current.extend(s.cloned());

            let merged = merge_taints(&current, &owned, &desired);
            let is_owned = |x: &Taint| OWNED_KEYS.contains(&x.key.as_str());
            let kept: Vec<Taint> = merged.iter().filter(|x| !is_owned(x)).cloned().collect();
            let mine: Vec<Taint> = merged.iter().filter(|x| is_owned(x)).cloned().collect();
            prop_assert!(same_taints(&kept, &foreign), "foreign taints changed");
            prop_assert!(same_taints(&mine, &desired), "owned taints differ from desired");
            // Idempotent.
            let again = merge_taints(&merged, &owned, &desired);
            prop_assert_eq!(again, merged);
        }
    }
}
