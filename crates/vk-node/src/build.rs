//! The Node object and its status, as vk writes them.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Node;
use serde_json::{Value, json};

use crate::status::Conditions;
use crate::{Error, NodeConfig};

/// The labels vk sets itself; configuration may not override them.
pub(crate) const OWN_LABELS: &[&str] = &[
    "type",
    "kubernetes.io/role",
    "kubernetes.io/os",
    "beta.kubernetes.io/os",
    "kubernetes.io/arch",
    "beta.kubernetes.io/arch",
    "kubernetes.io/hostname",
    "node.kubernetes.io/exclude-from-external-load-balancers",
];

/// The labels vk owns on its Node: `type=virtual-kubelet`,
/// `kubernetes.io/role=agent`, the os and arch labels (also the `beta.` ones
/// older manifests such as the seed's use), the hostname, the external
/// load-balancer exclusion (no traffic can be routed to a virtual node), plus
/// the configured labels.
pub fn node_labels(cfg: &NodeConfig) -> BTreeMap<String, String> {
    let own = [
        "virtual-kubelet",
        "agent",
        cfg.os.as_str(),
        cfg.os.as_str(),
        &cfg.architecture,
        &cfg.architecture,
        &cfg.name,
        "true",
    ];
    let mut labels: BTreeMap<String, String> = OWN_LABELS
        .iter()
        .zip(own)
        .map(|(k, v)| ((*k).to_owned(), v.to_owned()))
        .collect();
    for (k, v) in &cfg.labels {
        labels.entry(k.clone()).or_insert_with(|| v.clone());
    }
    labels
}

/// The full Node vk creates when none exists: labels, initial taints and status.
pub fn node_object(
    cfg: &NodeConfig,
    kubelet_version: &str,
    conditions: &Conditions,
) -> Result<Node, Error> {
    let mut value = status_patch(cfg, kubelet_version, conditions);
    value["metadata"] = json!({ "name": cfg.name, "labels": node_labels(cfg) });
    value["spec"] = json!({ "taints": cfg.initial_taints });
    serde_json::from_value(value).map_err(|source| Error::Build {
        node: cfg.name.clone(),
        source,
    })
}

/// The server-side-apply body for the Node's status: conditions (a list-map
/// keyed by type, so other writers' conditions survive), capacity,
/// allocatable, addresses, daemon endpoints and node info.
pub fn status_patch(cfg: &NodeConfig, kubelet_version: &str, conditions: &Conditions) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": { "name": cfg.name },
        "status": {
            "conditions": conditions.to_json(),
            "capacity": cfg.capacity,
            "allocatable": cfg.allocatable,
            "addresses": [
                { "type": "InternalIP", "address": cfg.internal_ip },
                { "type": "Hostname", "address": cfg.name },
            ],
            "daemonEndpoints": { "kubeletEndpoint": { "Port": cfg.kubelet_port } },
            "nodeInfo": {
                "kubeletVersion": kubelet_version,
                "kubeProxyVersion": kubelet_version,
                "operatingSystem": cfg.os.as_str(),
                "architecture": cfg.architecture,
                "osImage": "",
                "kernelVersion": "",
                "containerRuntimeVersion": "aci://2023-05-01",
                "machineID": "",
                "systemUUID": "",
                "bootID": "",
            },
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Health, OsType};

    #[test]
    fn labels_include_vk_and_configured_ones() {
        let mut cfg = NodeConfig::new("virtual-kubelet-mycon-windows-westeurope", OsType::Windows);
        cfg.labels
            .insert("topology.kubernetes.io/region".into(), "westeurope".into());
        let l = node_labels(&cfg);
        assert_eq!(l["type"], "virtual-kubelet");
        assert_eq!(l["kubernetes.io/role"], "agent");
        assert_eq!(l["beta.kubernetes.io/os"], "windows");
        assert_eq!(l["kubernetes.io/os"], "windows");
        assert_eq!(l["kubernetes.io/hostname"], cfg.name);
        assert_eq!(
            l["node.kubernetes.io/exclude-from-external-load-balancers"],
            "true"
        );
        assert_eq!(l["topology.kubernetes.io/region"], "westeurope");
    }

    #[test]
    fn node_object_carries_taints_status_and_version() {
        let mut cfg = NodeConfig::new("vk-linux", OsType::Linux);
        cfg.kubelet_port = 10777;
        cfg.initial_taints = vec![k8s_openapi::api::core::v1::Taint {
            key: "virtual-kubelet.io/provider".into(),
            value: Some("azure".into()),
            effect: "NoSchedule".into(),
            time_added: None,
        }];
        let conditions = Conditions::new(&Health::Healthy, jiff::Timestamp::UNIX_EPOCH);
        let node = node_object(&cfg, "v1.20.2-vk-aci-0.1.0", &conditions).unwrap();
        let spec = node.spec.unwrap();
        assert_eq!(spec.taints.unwrap()[0].effect, "NoSchedule");
        let status = node.status.unwrap();
        let info = status.node_info.unwrap();
        assert_eq!(info.kubelet_version, "v1.20.2-vk-aci-0.1.0");
        assert_eq!(info.operating_system, "linux");
        assert_eq!(
            status
                .daemon_endpoints
                .unwrap()
                .kubelet_endpoint
                .unwrap()
                .port,
            10777
        );
        let conds = status.conditions.unwrap();
        let types: Vec<_> = conds.iter().map(|c| c.type_.as_str()).collect();
        assert_eq!(
            types,
            [
                "Ready",
                "MemoryPressure",
                "DiskPressure",
                "PIDPressure",
                "NetworkUnavailable"
            ]
        );
        assert_eq!(conds[0].status, "True");
        let addrs = status.addresses.unwrap();
        assert_eq!(addrs[0].type_, "InternalIP");
        assert_eq!(addrs[0].address, "127.0.0.1");
    }
}
