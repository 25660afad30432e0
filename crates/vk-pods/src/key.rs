//! Pod identity and the spec fingerprint that decides recreation.

use std::hash::{Hash as _, Hasher as _};

use k8s_openapi::api::core::v1::Pod;

/// A pod's namespace, name and UID.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PodKey {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// UID (a re-created pod of the same name is a different pod).
    pub uid: String,
}

impl PodKey {
    /// The key of `pod` (empty strings for missing metadata).
    pub fn of(pod: &Pod) -> Self {
        Self {
            namespace: pod.metadata.namespace.clone().unwrap_or_default(),
            name: pod.metadata.name.clone().unwrap_or_default(),
            uid: pod.metadata.uid.clone().unwrap_or_default(),
        }
    }
}

impl std::fmt::Display for PodKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

// FNV-1a: stable across processes and Rust versions (unlike DefaultHasher's seed).
struct Fnv(u64);

impl Fnv {
    const fn new() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl std::hash::Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// A fingerprint of everything a provider reads from a pod (spec and
/// annotations): a pod held back for its spec is tried again only when this
/// changes.
pub(crate) fn fingerprint(pod: &Pod) -> u64 {
    let mut h = Fnv::new();
    serde_json::to_string(&pod.spec)
        .unwrap_or_default()
        .hash(&mut h);
    serde_json::to_string(&pod.metadata.annotations)
        .unwrap_or_default()
        .hash(&mut h);
    h.finish()
}

/// A fingerprint of the containers' resources (requests and limits), which an
/// in-place resize (Kubernetes 1.27+) changes on a running pod. Providers
/// record it with the instance; a mismatch means the pod asks for a resize.
pub fn resources_hash(pod: &Pod) -> String {
    let mut h = Fnv::new();
    if let Some(spec) = &pod.spec {
        for c in spec
            .init_containers
            .iter()
            .flatten()
            .chain(spec.containers.iter())
        {
            (
                &c.name,
                serde_json::to_string(&c.resources).unwrap_or_default(),
            )
                .hash(&mut h);
        }
        serde_json::to_string(&spec.resources)
            .unwrap_or_default()
            .hash(&mut h);
    }
    format!("{:016x}", h.finish())
}

/// A fingerprint of the parts of a pod spec that can change after creation
/// and need the instance re-created (container and init-container images).
/// Providers record it with the instance; a mismatch means "recreate".
pub fn spec_hash(pod: &Pod) -> String {
    let mut h = Fnv::new();
    if let Some(spec) = &pod.spec {
        for c in spec.init_containers.iter().flatten() {
            ("init", &c.name, &c.image).hash(&mut h);
        }
        for c in &spec.containers {
            ("app", &c.name, &c.image).hash(&mut h);
        }
    }
    format!("{:016x}", h.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(image: &str) -> Pod {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p", "namespace": "n", "uid": "u"},
            "spec": {"containers": [{"name": "c", "image": image}]}
        }))
        .unwrap()
    }

    #[test]
    fn resources_hash_follows_requests_and_limits_only() {
        let with = |image: &str, cpu: &str| -> Pod {
            serde_json::from_value(serde_json::json!({
                "metadata": {"name": "p"},
                "spec": {"containers": [{"name": "c", "image": image,
                    "resources": {"requests": {"cpu": cpu}}}]}
            }))
            .unwrap()
        };
        let a = resources_hash(&with("nginx:1", "1"));
        assert_eq!(a, resources_hash(&with("nginx:2", "1")));
        assert_ne!(a, resources_hash(&with("nginx:1", "2")));
    }

    #[test]
    fn hash_changes_with_the_image_only() {
        let a = spec_hash(&pod("nginx:1"));
        assert_eq!(a, spec_hash(&pod("nginx:1")));
        assert_ne!(a, spec_hash(&pod("nginx:2")));
        assert_eq!(a.len(), 16);
        assert_eq!(PodKey::of(&pod("x")).to_string(), "n/p");
    }
}
