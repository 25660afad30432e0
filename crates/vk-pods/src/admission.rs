//! The kubelet's admission checks that apply to a virtual node.

use k8s_openapi::api::core::v1::{Pod, Taint};
use vk_resources::OsType;
use vk_taints::AdmissionScope;

/// Why a pod was refused: the reason and message its Failed status carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The kubelet's reason (`NodeAffinity`, `PodOSNotSupported`, `TaintToleration`).
    pub reason: String,
    /// The message.
    pub message: String,
}

/// Admits `pod` on a node running `node_os` pods with `taints`, as the kubelet
/// does: the OS asked for by `spec.os.name` or an os nodeSelector must match,
/// and every `NoExecute` taint must be tolerated.
pub fn admit(pod: &Pod, node_os: &OsType, taints: &[Taint]) -> Result<(), Refusal> {
    let node_os = node_os.as_str();
    let Some(spec) = &pod.spec else {
        return Ok(());
    };
    if let Some(os) = spec.os.as_ref().map(|o| o.name.as_str())
        && os != node_os
    {
        return Err(Refusal {
            reason: "PodOSNotSupported".into(),
            message: format!(
                "Failed to admit pod as the OS field {os:?} does not match node OS {node_os:?}"
            ),
        });
    }
    for key in ["kubernetes.io/os", "beta.kubernetes.io/os"] {
        if let Some(want) = spec.node_selector.as_ref().and_then(|s| s.get(key))
            && want != node_os
        {
            return Err(Refusal {
                reason: "NodeAffinity".into(),
                message: format!(
                    "Predicate NodeAffinity failed: node selector {key}={want} does not match this {node_os} node"
                ),
            });
        }
    }
    let tolerations = spec.tolerations.as_deref().unwrap_or_default();
    vk_taints::admit(tolerations, taints, AdmissionScope::NoExecute).map_err(|r| Refusal {
        reason: r.reason.to_owned(),
        message: format!(
            "{} ({})",
            r.message,
            r.untolerated
                .iter()
                .map(|t| format!(
                    "{}={}:{}",
                    t.key,
                    t.value.as_deref().unwrap_or(""),
                    t.effect
                ))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(spec: serde_json::Value) -> Pod {
        serde_json::from_value(json!({"metadata": {"name": "p"}, "spec": spec})).unwrap()
    }

    #[test]
    fn os_mismatch_is_refused() {
        let p =
            pod(json!({"containers": [], "nodeSelector": {"beta.kubernetes.io/os": "windows"}}));
        assert_eq!(
            admit(&p, &OsType::Linux, &[]).unwrap_err().reason,
            "NodeAffinity"
        );
        assert!(admit(&p, &OsType::Windows, &[]).is_ok());
        let p = pod(json!({"containers": [], "os": {"name": "windows"}}));
        assert_eq!(
            admit(&p, &OsType::Linux, &[]).unwrap_err().reason,
            "PodOSNotSupported"
        );
    }

    #[test]
    fn untolerated_no_execute_taint_is_refused_but_no_schedule_is_not() {
        let taints = [
            Taint {
                key: "virtual-kubelet.io/provider".into(),
                value: Some("azure".into()),
                effect: "NoSchedule".into(),
                time_added: None,
            },
            Taint {
                key: "maintenance".into(),
                value: None,
                effect: "NoExecute".into(),
                time_added: None,
            },
        ];
        let p = pod(json!({"containers": []}));
        let r = admit(&p, &OsType::Linux, &taints).unwrap_err();
        assert!(r.message.contains("maintenance"), "{}", r.message);
        let p = pod(
            json!({"containers": [], "tolerations": [{"key": "maintenance", "operator": "Exists"}]}),
        );
        assert!(admit(&p, &OsType::Linux, &taints).is_ok());
    }
}
