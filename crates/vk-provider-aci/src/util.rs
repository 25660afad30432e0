//! Small helpers shared by the modules.

use k8s_openapi::api::core::v1::Pod;

/// `namespace/name` of a pod, for messages.
pub(crate) fn pod_name(pod: &Pod) -> String {
    format!(
        "{}/{}",
        pod.metadata.namespace.as_deref().unwrap_or("default"),
        pod.metadata.name.as_deref().unwrap_or_default()
    )
}
