//! Tags linking a container group to its pod, and parsing them back.
//!
//! | tag | value |
//! |---|---|
//! | `vk-namespace` | pod namespace |
//! | `vk-pod` | pod name |
//! | `vk-uid` | pod UID |
//! | `vk-node` | virtual node name |
//! | `vk-cluster` | cluster id (configured) |
//! | `vk-spec-hash` | [`vk_pods::spec_hash`] of the pod |
//! | `vk-resources-hash` | [`vk_pods::resources_hash`] of the pod |
//! | `created-by` | `vk` |
//!
//! Tags never carry secret material: only these metadata values are written.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Pod;
use vk_pods::PodKey;

/// Tag holding the pod's namespace.
pub const TAG_NAMESPACE: &str = "vk-namespace";
/// Tag holding the pod's name.
pub const TAG_POD: &str = "vk-pod";
/// Tag holding the pod's UID.
pub const TAG_UID: &str = "vk-uid";
/// Tag holding the virtual node's name.
pub const TAG_NODE: &str = "vk-node";
/// Tag holding the cluster id.
pub const TAG_CLUSTER: &str = "vk-cluster";
/// Tag holding the pod's spec hash.
pub const TAG_SPEC_HASH: &str = "vk-spec-hash";
/// Tag holding the pod's resources hash.
pub const TAG_RESOURCES_HASH: &str = "vk-resources-hash";
/// Tag marking groups created by vk.
pub const TAG_CREATED_BY: &str = "created-by";
/// Value of [`TAG_CREATED_BY`].
pub const CREATED_BY_VK: &str = "vk";

/// What a group's tags say about the pod it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupOwner {
    /// The pod.
    pub key: PodKey,
    /// The node that created the group.
    pub node: String,
    /// The cluster id.
    pub cluster_id: String,
    /// The pod's spec hash when the group was created.
    pub spec_hash: Option<String>,
    /// The pod's resources hash when the group was created.
    pub resources_hash: Option<String>,
}

impl GroupOwner {
    /// Whether the group belongs to `node` of `cluster_id`.
    pub fn is_owned_by(&self, node: &str, cluster_id: &str) -> bool {
        self.node == node && self.cluster_id == cluster_id
    }
}

/// The tags of `pod`'s group created by `node` of `cluster_id`.
pub fn pod_tags(pod: &Pod, node: &str, cluster_id: &str) -> BTreeMap<String, String> {
    let key = PodKey::of(pod);
    BTreeMap::from([
        (TAG_NAMESPACE.to_owned(), key.namespace),
        (TAG_POD.to_owned(), key.name),
        (TAG_UID.to_owned(), key.uid),
        (TAG_NODE.to_owned(), node.to_owned()),
        (TAG_CLUSTER.to_owned(), cluster_id.to_owned()),
        (TAG_SPEC_HASH.to_owned(), vk_pods::spec_hash(pod)),
        (TAG_RESOURCES_HASH.to_owned(), vk_pods::resources_hash(pod)),
        (TAG_CREATED_BY.to_owned(), CREATED_BY_VK.to_owned()),
    ])
}

/// Parses tags written by [`pod_tags`]. `None` unless the group was created by
/// vk and names a namespace, pod and UID (groups of other tools are ignored).
pub fn parse_tags(tags: &BTreeMap<String, String>) -> Option<GroupOwner> {
    if tags.get(TAG_CREATED_BY).map(String::as_str) != Some(CREATED_BY_VK) {
        return None;
    }
    let get = |k: &str| tags.get(k).filter(|v| !v.is_empty()).cloned();
    Some(GroupOwner {
        key: PodKey {
            namespace: get(TAG_NAMESPACE)?,
            name: get(TAG_POD)?,
            uid: get(TAG_UID)?,
        },
        node: get(TAG_NODE).unwrap_or_default(),
        cluster_id: get(TAG_CLUSTER).unwrap_or_default(),
        spec_hash: get(TAG_SPEC_HASH),
        resources_hash: get(TAG_RESOURCES_HASH),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "web", "namespace": "prod", "uid": "u-1"},
            "spec": {"containers": [{"name": "c", "image": "nginx"}]}
        }))
        .unwrap();
        let tags = pod_tags(&pod, "vk-node", "cluster-a");
        assert_eq!(tags[TAG_CREATED_BY], "vk");
        let owner = parse_tags(&tags).unwrap();
        assert_eq!(owner.key, PodKey::of(&pod));
        assert_eq!(
            owner.spec_hash.as_deref(),
            Some(vk_pods::spec_hash(&pod).as_str())
        );
        assert!(owner.is_owned_by("vk-node", "cluster-a"));
        assert!(!owner.is_owned_by("other", "cluster-a"));
    }

    #[test]
    fn foreign_or_incomplete_tags_are_ignored() {
        let mut tags = BTreeMap::from([(TAG_NAMESPACE.to_owned(), "a".to_owned())]);
        assert!(parse_tags(&tags).is_none());
        tags.insert(TAG_CREATED_BY.into(), "vk".into());
        assert!(parse_tags(&tags).is_none());
    }
}
