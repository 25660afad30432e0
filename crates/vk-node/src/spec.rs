//! One virtual node as an operator writes it: the `[[nodes]]` entries of vk's
//! configuration file. [`NodeSpec::validate`] checks one entry (names, labels,
//! taints, capacity) and names every bad field relative to the entry;
//! [`NodeSpec::node_config`] and [`NodeSpec::taint_config`] turn it into what
//! [`crate::VirtualNode`] and the taint reconciler run with. Checks across
//! entries (distinct names and ports) belong to whoever holds the list.
//!
//! ```
//! use vk_node::{LeaseConfig, NodeSpec, StatusConfig};
//!
//! let spec: NodeSpec = serde_json::from_value(serde_json::json!({
//!     "name": "virtual-kubelet-aci-windows",
//!     "os": "windows",
//!     "kubelet_port": 10251,
//! }))
//! .unwrap();
//! spec.validate().unwrap();
//! let node = spec
//!     .node_config(LeaseConfig::default(), StatusConfig::default())
//!     .unwrap();
//! assert_eq!(node.kubelet_port, 10251);
//! assert_eq!(node.initial_taints[0].key, "virtual-kubelet.io/provider");
//! assert_eq!(node.capacity["pods"].0, "1000");
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use serde::{Deserialize, Serialize};
use vk_resources::{ExactQuantity, OsType};
use vk_taints::names::{dns1123_subdomain, label_value, qualified_name};
use vk_taints::{ProviderTaint, TaintConfig, TaintSpec};

use crate::{Error, LeaseConfig, NodeConfig, StatusConfig};

/// The default name of a node.
pub const DEFAULT_NODE_NAME: &str = "virtual-kubelet-aci-linux";
/// The default kubelet API port.
pub const DEFAULT_KUBELET_PORT: u16 = 10250;
/// A node's internal IP when its spec gives none.
pub const FALLBACK_INTERNAL_IP: &str = "127.0.0.1";

/// One virtual node. In a file, only `name` is required:
///
/// ```toml
/// [[nodes]]
/// name = "virtual-kubelet-aci-windows"
/// os = "windows"
/// kubelet_port = 10251
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct NodeSpec {
    /// The Node's name (a DNS-1123 subdomain).
    pub name: String,
    /// The OS of its pods.
    #[serde(default)]
    pub os: OsType,
    /// Extra labels on the Node (vk's own labels are added by vk).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// The Node's InternalIP address ([`FALLBACK_INTERNAL_IP`] when unset).
    #[serde(default)]
    pub internal_ip: Option<String>,
    /// The kubelet API port advertised in `daemonEndpoints`; distinct for each node.
    #[serde(default = "default_kubelet_port")]
    pub kubelet_port: u16,
    /// vk's own taint, which keeps ordinary pods off the virtual node.
    #[serde(default)]
    pub taint: ProviderTaint,
    /// More taints to put on the node.
    #[serde(default)]
    pub extra_taints: Vec<TaintSpec>,
    /// Capacity and allocatable.
    #[serde(default)]
    pub capacity: CapacitySpec,
}

fn default_kubelet_port() -> u16 {
    DEFAULT_KUBELET_PORT
}

impl Default for NodeSpec {
    fn default() -> Self {
        Self::new(DEFAULT_NODE_NAME, OsType::Linux)
    }
}

/// What a node reports as capacity (and allocatable).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct CapacitySpec {
    /// CPU, a Kubernetes quantity (`"100"`, `"500m"`).
    pub cpu: String,
    /// Memory, a Kubernetes quantity (`"400Gi"`).
    pub memory: String,
    /// Maximum number of pods.
    pub pods: u32,
    /// `nvidia.com/gpu` capacity, when GPUs are offered.
    pub gpu: Option<u32>,
}

impl Default for CapacitySpec {
    fn default() -> Self {
        Self {
            cpu: "100".into(),
            memory: "400Gi".into(),
            pods: 1000,
            gpu: None,
        }
    }
}

impl NodeSpec {
    /// A node named `name` for `os` pods, everything else at its default.
    #[must_use]
    pub fn new(name: impl Into<String>, os: OsType) -> Self {
        Self {
            name: name.into(),
            os,
            labels: BTreeMap::new(),
            internal_ip: None,
            kubelet_port: DEFAULT_KUBELET_PORT,
            taint: ProviderTaint::default(),
            extra_taints: Vec::new(),
            capacity: CapacitySpec::default(),
        }
    }

    /// The internal IP ([`FALLBACK_INTERNAL_IP`] when unset).
    pub fn internal_ip(&self) -> &str {
        self.internal_ip.as_deref().unwrap_or(FALLBACK_INTERNAL_IP)
    }

    /// Checks the entry and returns every problem, each an
    /// [`Error::InvalidConfig`] whose field is relative to the entry
    /// (`labels."kubernetes.io/os"`, `extra_taints[1].key`, `capacity.cpu`).
    pub fn validate(&self) -> Result<(), Vec<Error>> {
        let mut errors = Vec::new();
        let mut check = |field: String, result: Result<(), String>| {
            if let Err(reason) = result {
                errors.push(Error::InvalidConfig { field, reason });
            }
        };
        check("name".into(), dns1123_subdomain(&self.name));
        if self.kubelet_port == 0 {
            check("kubelet_port".into(), Err("must not be 0".into()));
        }
        if let Some(ip) = &self.internal_ip
            && ip.parse::<IpAddr>().is_err()
        {
            check(
                "internal_ip".into(),
                Err(format!("{ip:?} is not an IP address")),
            );
        }
        for (key, value) in &self.labels {
            let field = format!("labels.{key:?}");
            if let Err(msg) = qualified_name(key) {
                check(field.clone(), Err(format!("invalid label key: {msg}")));
            } else if crate::build::OWN_LABELS.contains(&key.as_str()) {
                check(field.clone(), Err("set by vk itself; remove it".into()));
            }
            check(field, label_value(value));
        }
        let mut taints = BTreeSet::new();
        if self.taint.enabled {
            check("taint.key".into(), qualified_name(&self.taint.key));
            check("taint.value".into(), label_value(&self.taint.value));
            taints.insert((self.taint.key.as_str(), self.taint.effect));
        }
        for (j, taint) in self.extra_taints.iter().enumerate() {
            let at = format!("extra_taints[{j}]");
            check(format!("{at}.key"), qualified_name(&taint.key));
            check(
                format!("{at}.value"),
                label_value(taint.value.as_deref().unwrap_or_default()),
            );
            if !taints.insert((taint.key.as_str(), taint.effect)) {
                let duplicate = format!("duplicate taint {}:{}", taint.key, taint.effect.as_str());
                check(at, Err(duplicate));
            }
        }
        check("capacity.cpu".into(), positive_quantity(&self.capacity.cpu));
        check(
            "capacity.memory".into(),
            positive_quantity(&self.capacity.memory),
        );
        if self.capacity.pods == 0 {
            check("capacity.pods".into(), Err("must be at least 1".into()));
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// The node's taints: its provider taint and its extra ones.
    #[must_use]
    pub fn taint_config(&self) -> TaintConfig {
        TaintConfig::for_node(&self.taint, &self.extra_taints)
    }

    /// What [`crate::VirtualNode`] runs with: this entry's name, OS, labels,
    /// address, port and capacity (pod counts as plain integers), with `lease`
    /// and `status` timing. The Node is created with the taints of a healthy
    /// provider ([`Self::taint_config`]); an invalid taint is an
    /// [`Error::InvalidConfig`] naming `taints`.
    pub fn node_config(
        &self,
        lease: LeaseConfig,
        status: StatusConfig,
    ) -> Result<NodeConfig, Error> {
        let taints = self.taint_config();
        taints.validate().map_err(|e| Error::InvalidConfig {
            field: "taints".into(),
            reason: e.to_string(),
        })?;
        let initial_taints = taints.desired(&crate::Health::Healthy);
        let mut nc = NodeConfig::new(self.name.clone(), self.os);
        nc.labels = self.labels.clone();
        nc.internal_ip = self.internal_ip().to_owned();
        nc.kubelet_port = self.kubelet_port;
        let capacity = vk_resources::NodeCapacity::compute(
            &vk_resources::CapacityConfig {
                cpu: Some(self.capacity.cpu.clone()),
                memory: Some(self.capacity.memory.clone()),
                pods: Some(self.capacity.pods.to_string()),
                gpu: self.capacity.gpu.map(|g| g.to_string()),
            },
            None,
            vk_resources::OwnUsage::default(),
        )
        .map_err(|e| Error::InvalidConfig {
            field: "capacity".into(),
            reason: e.to_string(),
        })?;
        nc.capacity = capacity.capacity;
        nc.allocatable = capacity.allocatable;
        // Pod counts read best as plain integers ("1000", not the canonical "1k").
        let pods = Quantity(self.capacity.pods.to_string());
        nc.capacity.insert("pods".into(), pods.clone());
        nc.allocatable.insert("pods".into(), pods);
        nc.initial_taints = initial_taints;
        nc.lease = lease;
        nc.status = status;
        Ok(nc)
    }
}

/// A positive Kubernetes quantity (`100`, `500m`, `400Gi`, `1.5`, `2e3`).
fn positive_quantity(s: &str) -> Result<(), String> {
    match ExactQuantity::parse(s) {
        Ok(q) if q.nanos() > 0 => Ok(()),
        _ => Err(format!(
            "{s:?} is not a positive Kubernetes quantity (e.g. \"4\", \"500m\", \"16Gi\")"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(spec: &NodeSpec) -> Vec<String> {
        spec.validate()
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|e| e.to_string())
            .collect()
    }

    #[test]
    fn the_default_node_is_valid_and_only_a_name_is_required() {
        assert_eq!(NodeSpec::default().validate().map_err(|e| e.len()), Ok(()));
        let spec: NodeSpec = serde_json::from_value(serde_json::json!({"name": "n"})).unwrap();
        assert_eq!(spec, NodeSpec::new("n", OsType::Linux));
        assert_eq!(spec.internal_ip(), FALLBACK_INTERNAL_IP);
    }

    #[test]
    fn every_bad_field_is_named_relative_to_the_entry() {
        let mut spec = NodeSpec::new("Bad_Name", OsType::Linux);
        spec.kubelet_port = 0;
        spec.internal_ip = Some("ten".into());
        spec.labels
            .insert("kubernetes.io/os".into(), "linux".into());
        spec.labels.insert("bad key!".into(), "x".into());
        spec.labels.insert("ok".into(), "v".repeat(64));
        spec.extra_taints = vec![
            TaintSpec::new("a", None, vk_taints::TaintEffect::NoExecute),
            TaintSpec::new("a", Some("b"), vk_taints::TaintEffect::NoExecute),
        ];
        spec.capacity.cpu = "lots".into();
        spec.capacity.memory = "-1Gi".into();
        spec.capacity.pods = 0;
        let messages = fields(&spec);
        for expected in [
            "name: must be a DNS-1123 subdomain",
            "kubelet_port: must not be 0",
            "internal_ip: \"ten\" is not an IP address",
            "labels.\"kubernetes.io/os\": set by vk",
            "labels.\"bad key!\": invalid label key",
            "labels.\"ok\": must be empty or at most 63",
            "extra_taints[1]: duplicate taint a:NoExecute",
            "capacity.cpu: \"lots\" is not a positive Kubernetes quantity",
            "capacity.memory: \"-1Gi\" is not a positive Kubernetes quantity",
            "capacity.pods: must be at least 1",
        ] {
            assert!(
                messages.iter().any(|m| m.contains(expected)),
                "{expected:?} not in {messages:#?}"
            );
        }
        assert_eq!(messages.len(), 10, "{messages:#?}");
    }

    #[test]
    fn quantities_follow_the_kubernetes_syntax() {
        for ok in ["100", "500m", "400Gi", "1.5", "2e3", "16G", "0.5", "+1"] {
            assert_eq!(positive_quantity(ok), Ok(()), "{ok}");
        }
        for bad in [
            "", "0", "-1", "1Gb", "Gi", ".", "1..2", "lots", "1e", "4 Gi", "0m",
        ] {
            assert!(positive_quantity(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_node_config_carries_the_entry_and_plain_pod_counts() {
        let mut spec = NodeSpec::new("n", OsType::Windows);
        spec.internal_ip = Some("10.0.0.4".into());
        spec.capacity.gpu = Some(2);
        let lease = LeaseConfig::default();
        let nc = spec
            .node_config(lease.clone(), StatusConfig::default())
            .unwrap();
        assert_eq!(nc.name, "n");
        assert_eq!(nc.os, OsType::Windows);
        assert_eq!(nc.internal_ip, "10.0.0.4");
        assert_eq!(nc.capacity["pods"].0, "1000");
        assert_eq!(nc.allocatable["pods"].0, "1000");
        assert_eq!(nc.capacity["nvidia.com/gpu"].0, "2");
        assert_eq!(nc.lease, lease);
        let keys: Vec<_> = nc.initial_taints.iter().map(|t| t.key.as_str()).collect();
        assert_eq!(keys, ["virtual-kubelet.io/provider"]);
    }

    #[test]
    fn a_node_config_with_an_invalid_taint_names_the_taints() {
        let mut spec = NodeSpec::new("n", OsType::Linux);
        spec.taint.key = "bad key!".into();
        let err = spec
            .node_config(LeaseConfig::default(), StatusConfig::default())
            .unwrap_err();
        let message = err.to_string();
        assert!(
            message.starts_with("invalid node configuration: taints: "),
            "{message}"
        );
        assert!(message.contains("bad key!"), "{message}");
    }
}
