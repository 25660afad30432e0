//! Configuration of one virtual node. [`LeaseConfig`] and [`StatusConfig`]
//! are the `[lease]` and `[status]` tables of vk's configuration file
//! (durations in whole seconds); [`NodeConfig::validate`] names a bad field by
//! its key there (`lease.renew_interval_secs`).

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::Taint;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use serde::{Deserialize, Serialize};
use vk_resources::OsType;
use vk_taints::duration::secs;

use crate::Error;

/// The node Lease's timing (kubelet and kwok defaults).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct LeaseConfig {
    /// The Lease's namespace.
    #[serde(skip)]
    pub namespace: String,
    /// `leaseDurationSeconds`: the node-lifecycle controller considers the node
    /// gone this long after the last renewal.
    #[serde(rename = "duration_secs", with = "secs")]
    pub duration: Duration,
    /// How often to renew.
    #[serde(rename = "renew_interval_secs", with = "secs")]
    pub renew_interval: Duration,
    /// Fraction of the interval to shorten each wait by, at random (spreads load).
    #[serde(skip)]
    pub jitter: f64,
}

impl Default for LeaseConfig {
    fn default() -> Self {
        Self {
            namespace: "kube-node-lease".into(),
            duration: Duration::from_secs(40),
            renew_interval: Duration::from_secs(10),
            jitter: 0.04,
        }
    }
}

impl LeaseConfig {
    /// A Lease of `duration`, renewed every `renew_interval`.
    #[must_use]
    pub fn new(duration: Duration, renew_interval: Duration) -> Self {
        Self {
            duration,
            renew_interval,
            ..Self::default()
        }
    }

    /// Checks the timing, naming the first bad field by its configuration key.
    pub fn validate(&self) -> Result<(), Error> {
        let invalid = |field: &str, reason: String| {
            Err(Error::InvalidConfig {
                field: field.into(),
                reason,
            })
        };
        if self.renew_interval.is_zero() {
            return invalid("lease.renew_interval_secs", "must be at least 1".into());
        }
        if self.renew_interval >= self.duration {
            return invalid(
                "lease.renew_interval_secs",
                format!(
                    "must be shorter than lease.duration_secs ({})",
                    self.duration.as_secs()
                ),
            );
        }
        if !(0.0..0.5).contains(&self.jitter) {
            return invalid("lease.jitter", "must be in [0, 0.5)".into());
        }
        Ok(())
    }
}

/// How often node status is written and the provider's health probed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct StatusConfig {
    /// Node status is written at least this often even when nothing changed.
    #[serde(rename = "interval_secs", with = "secs")]
    pub interval: Duration,
    /// How often the provider's health is probed.
    #[serde(rename = "health_interval_secs", with = "secs")]
    pub health_interval: Duration,
}

impl Default for StatusConfig {
    /// Status every 60 s, health every 10 s.
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(60),
            health_interval: Duration::from_secs(10),
        }
    }
}

impl StatusConfig {
    /// Status at least every `interval`, health every `health_interval`.
    #[must_use]
    pub fn new(interval: Duration, health_interval: Duration) -> Self {
        Self {
            interval,
            health_interval,
        }
    }

    /// Checks the intervals, naming the first bad one by its configuration key.
    pub fn validate(&self) -> Result<(), Error> {
        for (field, interval) in [
            ("status.interval_secs", self.interval),
            ("status.health_interval_secs", self.health_interval),
        ] {
            if interval.is_zero() {
                return Err(Error::InvalidConfig {
                    field: field.into(),
                    reason: "must be at least 1".into(),
                });
            }
        }
        Ok(())
    }
}

/// Everything that describes one virtual node.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeConfig {
    /// The Node's name (also its hostname label and the Lease's name).
    pub name: String,
    /// The operating system of its pods.
    pub os: OsType,
    /// Labels added to vk's own (`type=virtual-kubelet`, `kubernetes.io/role=agent`, os, hostname…).
    pub labels: BTreeMap<String, String>,
    /// The InternalIP address the API server uses to reach the kubelet port.
    pub internal_ip: String,
    /// The kubelet API port (`daemonEndpoints.kubeletEndpoint.port`).
    pub kubelet_port: u16,
    /// `nodeInfo.architecture` and the arch labels.
    pub architecture: String,
    /// Suffix of `nodeInfo.kubeletVersion`: `v<apiserver>-<provider_version>`.
    pub provider_version: String,
    /// `status.capacity`.
    pub capacity: BTreeMap<String, Quantity>,
    /// `status.allocatable`.
    pub allocatable: BTreeMap<String, Quantity>,
    /// Taints the Node is created with (so it is never schedulable without them).
    pub initial_taints: Vec<Taint>,
    /// Lease timing.
    pub lease: LeaseConfig,
    /// Status and health intervals.
    pub status: StatusConfig,
    /// The field manager for server-side apply and updates.
    pub field_manager: String,
}

impl NodeConfig {
    /// A node with vk's defaults: InternalIP 127.0.0.1, kubelet port 10250, amd64,
    /// the default lease timing, status every 60 s, health every 10 s, and a
    /// `pods: 110` capacity until the caller sets real figures.
    pub fn new(name: impl Into<String>, os: OsType) -> Self {
        let pods = BTreeMap::from([("pods".to_owned(), Quantity("110".into()))]);
        Self {
            name: name.into(),
            os,
            labels: BTreeMap::new(),
            internal_ip: "127.0.0.1".into(),
            kubelet_port: 10250,
            architecture: "amd64".into(),
            provider_version: format!("vk-aci-{}", env!("CARGO_PKG_VERSION")),
            capacity: pods.clone(),
            allocatable: pods,
            initial_taints: Vec::new(),
            lease: LeaseConfig::default(),
            status: StatusConfig::default(),
            field_manager: "vk".into(),
        }
    }

    /// Checks the configuration, naming the first bad field.
    pub fn validate(&self) -> Result<(), Error> {
        let invalid = |field: &str, reason: &str| {
            Err(Error::InvalidConfig {
                field: field.into(),
                reason: reason.into(),
            })
        };
        if let Err(reason) = vk_taints::names::dns1123_subdomain(&self.name) {
            return invalid("name", &reason);
        }
        if self.internal_ip.parse::<std::net::IpAddr>().is_err() {
            return invalid("internal_ip", "must be an IP address");
        }
        if self.kubelet_port == 0 {
            return invalid("kubelet_port", "must not be 0");
        }
        self.lease.validate()?;
        self.status.validate()?;
        for (key, value) in &self.labels {
            if let Err(reason) = vk_taints::names::qualified_name(key)
                .and_then(|()| vk_taints::names::label_value(value))
            {
                return Err(Error::InvalidConfig {
                    field: "labels".into(),
                    reason: format!("{key}={value}: {reason}"),
                });
            }
        }
        for key in crate::build::OWN_LABELS {
            if self.labels.contains_key(*key) {
                return Err(Error::InvalidConfig {
                    field: "labels".into(),
                    reason: format!("{key} is set by vk itself"),
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        NodeConfig::new("virtual-kubelet-linux", OsType::Linux)
            .validate()
            .unwrap();
    }

    #[test]
    fn lease_and_status_keys() {
        let lease: LeaseConfig =
            serde_json::from_str(r#"{"duration_secs":20,"renew_interval_secs":5}"#).unwrap();
        assert_eq!(
            lease,
            LeaseConfig::new(Duration::from_secs(20), Duration::from_secs(5))
        );
        assert!(serde_json::from_str::<LeaseConfig>(r#"{"namespace":"x"}"#).is_err());
        let status: StatusConfig = serde_json::from_str(r#"{"interval_secs":30}"#).unwrap();
        assert_eq!(status.interval, Duration::from_secs(30));
        assert_eq!(status.health_interval, Duration::from_secs(10));
        assert_eq!(
            serde_json::to_value(&status).unwrap()["health_interval_secs"],
            10
        );
    }

    #[test]
    fn bad_fields_are_named() {
        let base = NodeConfig::new("n", OsType::Windows);
        type Mutate = Box<dyn Fn(&mut NodeConfig)>;
        let cases: Vec<(&str, Mutate)> = vec![
            ("name", Box::new(|c| c.name = "Bad_Name".into())),
            ("internal_ip", Box::new(|c| c.internal_ip = "nope".into())),
            ("kubelet_port", Box::new(|c| c.kubelet_port = 0)),
            (
                "lease.renew_interval_secs",
                Box::new(|c| c.lease.renew_interval = Duration::from_secs(40)),
            ),
            (
                "status.health_interval_secs",
                Box::new(|c| c.status.health_interval = Duration::ZERO),
            ),
            ("lease.jitter", Box::new(|c| c.lease.jitter = 0.9)),
            (
                "labels",
                Box::new(|c| {
                    c.labels.insert("type".into(), "x".into());
                }),
            ),
            (
                "labels",
                Box::new(|c| {
                    c.labels.insert("example.com/a".into(), "v".repeat(64));
                }),
            ),
            (
                "labels",
                Box::new(|c| {
                    c.labels.insert("example.com/a/b".into(), "v".into());
                }),
            ),
        ];
        for (field, mutate) in cases {
            let mut c = base.clone();
            mutate(&mut c);
            match c.validate() {
                Err(Error::InvalidConfig { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{field}: {other:?}"),
            }
        }
    }
}
