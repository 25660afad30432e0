//! The virtual node's capacity and allocatable, from configuration and, when
//! available, ACI's regional usage and quota (`GET .../locations/{l}/usages`).
//!
//! * **Capacity** of each resource is the configured value; with usage data,
//!   `cpu` is also capped by the `StandardCores` quota limit and `pods` by the
//!   `ContainerGroups` quota limit.
//! * **Allocatable** is capacity, further capped by what the quota leaves for
//!   this node: `limit - (currentValue - own)`, where `own` is what this node's
//!   own container groups already use (ACI counts them in `currentValue`, and
//!   the scheduler subtracts this node's pods from allocatable itself, so they
//!   must not be subtracted twice). Never below zero.
//! * A resource with neither a configured value nor quota data is left out of
//!   the map and listed in [`NodeCapacity::unknown`]: no number is made up.
//!
//! [`CapacityConfig::default`] is ACI's documented default per-region quota
//! for a subscription: 100 Standard cores and 100 container groups, with
//! memory at 4 GB per core (the 16 GB / 4 CPU shape of a standard group
//! without big-container quota) = `400G`, and no GPUs.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use serde::{Deserialize, Serialize};

use crate::gpu::GPU_RESOURCE;
use crate::{Error, ExactQuantity};

/// ACI quota name for Standard-SKU cores.
pub const QUOTA_STANDARD_CORES: &str = "StandardCores";
/// ACI quota name for container groups.
pub const QUOTA_CONTAINER_GROUPS: &str = "ContainerGroups";

/// Configured node capacity, as Kubernetes quantity strings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CapacityConfig {
    /// `cpu`, e.g. `"100"`.
    pub cpu: Option<String>,
    /// `memory`, e.g. `"400G"`.
    pub memory: Option<String>,
    /// `pods`, e.g. `"100"`.
    pub pods: Option<String>,
    /// `nvidia.com/gpu`, e.g. `"4"`; `None` = no GPUs advertised.
    pub gpu: Option<String>,
}

impl Default for CapacityConfig {
    fn default() -> Self {
        Self {
            cpu: Some("100".to_owned()),
            memory: Some("400G".to_owned()),
            pods: Some("100".to_owned()),
            gpu: None,
        }
    }
}

/// One entry of ACI's usages list.
///
/// ```
/// let json = r#"{"unit":"Count","currentValue":1,"limit":2000,
///   "name":{"value":"ContainerGroups","localizedValue":"Container Groups"}}"#;
/// let usage: vk_resources::Usage = serde_json::from_str(json)?;
/// assert_eq!(usage.name.value, "ContainerGroups");
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    /// `id`.
    #[serde(default)]
    pub id: Option<String>,
    /// `unit`, e.g. `Count`.
    #[serde(default)]
    pub unit: Option<String>,
    /// `currentValue`.
    pub current_value: i64,
    /// `limit`.
    pub limit: i64,
    /// `name`.
    pub name: UsageName,
}

/// The `name` of a [`Usage`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageName {
    /// `value`, e.g. `StandardCores`.
    pub value: String,
    /// `localizedValue`.
    #[serde(default)]
    pub localized_value: Option<String>,
}

/// What this node's own container groups use (as ACI accounts them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnUsage {
    /// Cores (ACI counts whole cores per group; round up).
    pub cores: i64,
    /// Container groups.
    pub container_groups: i64,
}

/// Node `status.capacity` and `status.allocatable`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NodeCapacity {
    /// For `status.capacity`.
    pub capacity: BTreeMap<String, Quantity>,
    /// For `status.allocatable`.
    pub allocatable: BTreeMap<String, Quantity>,
    /// Resources with no configured value and no quota data (left out).
    pub unknown: Vec<&'static str>,
}

impl NodeCapacity {
    /// Computes capacity and allocatable (see the module docs).
    ///
    /// ```
    /// use vk_resources::{CapacityConfig, NodeCapacity, OwnUsage};
    ///
    /// let node = NodeCapacity::compute(&CapacityConfig::default(), None, OwnUsage::default())?;
    /// assert_eq!(node.capacity["cpu"].0, "100");
    /// assert_eq!(node.allocatable["pods"].0, "100");
    /// # Ok::<(), vk_resources::Error>(())
    /// ```
    pub fn compute(
        config: &CapacityConfig,
        usages: Option<&[Usage]>,
        own: OwnUsage,
    ) -> Result<Self, Error> {
        let parse = |resource: &'static str, v: &Option<String>| {
            v.as_deref()
                .map(|s| {
                    let q = ExactQuantity::parse(s).map_err(|e| Error::CapacityQuantity {
                        resource,
                        source: Box::new(e),
                    })?;
                    if q.is_negative() {
                        return Err(Error::CapacityQuantity {
                            resource,
                            source: Box::new(Error::InvalidQuantity {
                                input: s.to_owned(),
                                reason: "negative".to_owned(),
                            }),
                        });
                    }
                    Ok(q)
                })
                .transpose()
        };
        let find = |name: &str| {
            usages.and_then(|u| u.iter().find(|u| u.name.value.eq_ignore_ascii_case(name)))
        };
        let quota = |usage: Option<&Usage>, own: i64| {
            usage.map(|u| {
                let limit = u.limit.max(0);
                let others = u.current_value.saturating_sub(own).max(0);
                (limit, limit.saturating_sub(others).max(0))
            })
        };

        let mut out = Self::default();
        let mut put = |resource: &'static str,
                       configured: Option<ExactQuantity>,
                       quota: Option<(i64, i64)>| {
            let (cap, alloc) = match (configured, quota) {
                (Some(c), None) => (c, c),
                (None, Some((limit, left))) => (
                    ExactQuantity::from_units(limit),
                    ExactQuantity::from_units(left),
                ),
                (Some(c), Some((limit, left))) => {
                    let cap = min(c, ExactQuantity::from_units(limit));
                    (cap, min(cap, ExactQuantity::from_units(left)))
                }
                (None, None) => {
                    out.unknown.push(resource);
                    return;
                }
            };
            out.capacity.insert(resource.to_owned(), cap.to_k8s());
            out.allocatable.insert(resource.to_owned(), alloc.to_k8s());
        };
        put(
            "cpu",
            parse("cpu", &config.cpu)?,
            quota(find(QUOTA_STANDARD_CORES), own.cores),
        );
        put("memory", parse("memory", &config.memory)?, None);
        put(
            "pods",
            parse("pods", &config.pods)?,
            quota(find(QUOTA_CONTAINER_GROUPS), own.container_groups),
        );
        if let Some(gpu) = parse(GPU_RESOURCE, &config.gpu)? {
            put(GPU_RESOURCE, Some(gpu), None);
        }
        Ok(out)
    }
}

/// The smaller of two quantities, keeping the first one's format on ties.
fn min(a: ExactQuantity, b: ExactQuantity) -> ExactQuantity {
    if b.nanos() < a.nanos() { b } else { a }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(name: &str, current: i64, limit: i64) -> Usage {
        Usage {
            id: None,
            unit: Some("Count".to_owned()),
            current_value: current,
            limit,
            name: UsageName {
                value: name.to_owned(),
                localized_value: None,
            },
        }
    }

    #[test]
    fn config_only() {
        let cfg = CapacityConfig {
            cpu: Some("20".into()),
            memory: Some("100Gi".into()),
            pods: Some("20".into()),
            gpu: Some("2".into()),
        };
        let n = NodeCapacity::compute(&cfg, None, OwnUsage::default()).unwrap();
        assert_eq!(n.capacity["cpu"].0, "20");
        assert_eq!(n.capacity["memory"].0, "100Gi");
        assert_eq!(n.capacity["pods"].0, "20");
        assert_eq!(n.capacity["nvidia.com/gpu"].0, "2");
        assert_eq!(n.capacity, n.allocatable);
        assert!(n.unknown.is_empty());
    }

    #[test]
    fn quota_caps_capacity_and_leaves_allocatable() {
        let usages = [
            usage("StandardCores", 30, 100),
            usage("ContainerGroups", 10, 50),
        ];
        let own = OwnUsage {
            cores: 10,
            container_groups: 4,
        };
        let n = NodeCapacity::compute(&CapacityConfig::default(), Some(&usages), own).unwrap();
        // cpu: capacity min(100, 100) = 100; others use 30 - 10 = 20 → 80 left.
        assert_eq!(n.capacity["cpu"].0, "100");
        assert_eq!(n.allocatable["cpu"].0, "80");
        // pods: capacity min(100, 50) = 50; others use 10 - 4 = 6 → 44 left.
        assert_eq!(n.capacity["pods"].0, "50");
        assert_eq!(n.allocatable["pods"].0, "44");
        assert_eq!(n.capacity["memory"].0, "400G");
        assert!(!n.capacity.contains_key("nvidia.com/gpu"));
    }

    #[test]
    fn quota_only_and_unknown() {
        let cfg = CapacityConfig {
            cpu: None,
            memory: None,
            pods: None,
            gpu: None,
        };
        let usages = [usage("StandardCores", 120, 100)];
        let n = NodeCapacity::compute(&cfg, Some(&usages), OwnUsage::default()).unwrap();
        assert_eq!(n.capacity["cpu"].0, "100");
        assert_eq!(n.allocatable["cpu"].0, "0");
        assert_eq!(n.unknown, vec!["memory", "pods"]);
    }

    #[test]
    fn invalid_config_is_named() {
        let cfg = CapacityConfig {
            cpu: Some("lots".into()),
            ..CapacityConfig::default()
        };
        let err = NodeCapacity::compute(&cfg, None, OwnUsage::default()).unwrap_err();
        assert!(matches!(
            err,
            Error::CapacityQuantity {
                resource: "cpu",
                ..
            }
        ));
        assert!(err.to_string().contains("lots"));
    }
}
