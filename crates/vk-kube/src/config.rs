//! The `[kube]` and `[ha]` tables of vk's configuration: the Kubernetes client's own rate
//! limit ([`ClientConfig`]) and leader election between replicas ([`LeaderConfig`]).
//!
//! ```
//! let kube: vk_kube::ClientConfig =
//!     serde_json::from_value(serde_json::json!({"qps": 50.0, "burst": 100}))?;
//! assert!(kube.validate().is_ok());
//! let ha: vk_kube::LeaderConfig =
//!     serde_json::from_value(serde_json::json!({"enabled": true, "namespace": "Not A Label"}))?;
//! let fields: Vec<String> = ha
//!     .validate()
//!     .unwrap_err()
//!     .into_iter()
//!     .map(|e| match e {
//!         vk_kube::Error::InvalidConfig { field, .. } => field.to_string(),
//!         other => panic!("{other}"),
//!     })
//!     .collect();
//! assert_eq!(fields, ["namespace", "identity"]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use serde::{Deserialize, Serialize};
use vk_taints::names::{dns1123_label, dns1123_subdomain};

use crate::Error;

/// The Kubernetes client's own rate limit (the `[kube]` table).
///
/// The default is generous (500 QPS, burst 1000): client-go's default of 5 QPS is what makes
/// the Go virtual-kubelet take minutes for a 1000-pod burst. The API server still protects
/// itself with API Priority and Fairness.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct ClientConfig {
    /// Sustained requests per second to the API server.
    pub qps: f64,
    /// Burst above `qps`.
    pub burst: u32,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            qps: 500.0,
            burst: 1000,
        }
    }
}

/// Leader election between replicas serving the same nodes (the `[ha]` table).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct LeaderConfig {
    /// Run as one of several replicas; only the leader serves the nodes.
    pub enabled: bool,
    /// Namespace of the leader Lease.
    pub namespace: String,
    /// Name of the leader Lease.
    pub lease_name: String,
    /// This replica's identity in the Lease; `POD_NAME`, else the hostname, when unset.
    pub identity: Option<String>,
    /// Leader Lease duration: a standby takes over this long after the leader stops renewing.
    pub lease_duration_secs: u32,
}

impl Default for LeaderConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            namespace: "vk-system".into(),
            lease_name: "vk-leader".into(),
            identity: None,
            lease_duration_secs: 15,
        }
    }
}

/// Collects the problems of one validation, each an [`Error::InvalidConfig`].
#[derive(Default)]
struct Problems(Vec<Error>);

impl Problems {
    fn add(&mut self, field: &'static str, reason: impl Into<String>) {
        self.0.push(Error::InvalidConfig {
            field,
            reason: reason.into(),
        });
    }

    fn check(&mut self, field: &'static str, result: Result<(), String>) {
        if let Err(reason) = result {
            self.add(field, reason);
        }
    }

    fn at_least_one(&mut self, field: &'static str, value: u32) {
        if value == 0 {
            self.add(field, "must be at least 1");
        }
    }

    fn done(self) -> Result<(), Vec<Error>> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(self.0)
        }
    }
}

impl ClientConfig {
    /// Checks the limit. Returns every problem, each an [`Error::InvalidConfig`] whose field is
    /// relative to the table (`qps`, `burst`).
    ///
    /// ```
    /// let mut kube = vk_kube::ClientConfig::default();
    /// kube.qps = 0.0;
    /// let errors = kube.validate().unwrap_err();
    /// assert_eq!(errors[0].to_string(), "invalid configuration: qps: must be a positive number");
    /// ```
    pub fn validate(&self) -> Result<(), Vec<Error>> {
        let mut p = Problems::default();
        if !(self.qps.is_finite() && self.qps > 0.0) {
            p.add("qps", "must be a positive number");
        }
        p.at_least_one("burst", self.burst);
        p.done()
    }
}

impl LeaderConfig {
    /// Checks the election settings when it is `enabled` (a disabled election is not
    /// checked): the Lease's namespace and name are Kubernetes names, the identity is set,
    /// the duration at least a second. Returns every problem, each an
    /// [`Error::InvalidConfig`] whose field is relative to the table (`namespace`,
    /// `identity`).
    ///
    /// Whether the duration suits the work the leader does (vk: shorter than what is left of
    /// the node Lease after a renewal interval) is the caller's to check.
    pub fn validate(&self) -> Result<(), Vec<Error>> {
        let mut p = Problems::default();
        if !self.enabled {
            return Ok(());
        }
        p.check("namespace", dns1123_label(&self.namespace));
        p.check("lease_name", dns1123_subdomain(&self.lease_name));
        if self.identity().is_none() {
            p.add("identity", "must not be empty");
        }
        p.at_least_one("lease_duration_secs", self.lease_duration_secs);
        p.done()
    }

    /// The identity, when it is set and not blank.
    pub(crate) fn identity(&self) -> Option<&str> {
        self.identity.as_deref().filter(|i| !i.trim().is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `(field, reason)` of every problem.
    fn problems(result: Result<(), Vec<Error>>) -> Vec<(&'static str, String)> {
        result
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|e| match e {
                Error::InvalidConfig { field, reason } => (field, reason),
                other => panic!("unexpected {other}"),
            })
            .collect()
    }

    #[test]
    fn defaults_are_valid() {
        assert_eq!(problems(ClientConfig::default().validate()), []);
        assert_eq!(problems(LeaderConfig::default().validate()), []);
        let enabled = LeaderConfig {
            enabled: true,
            identity: Some("vk-0".into()),
            ..LeaderConfig::default()
        };
        assert_eq!(problems(enabled.validate()), []);
    }

    #[test]
    fn every_bad_client_field_is_named() {
        for qps in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            let kube = ClientConfig { qps, burst: 0 };
            assert_eq!(
                problems(kube.validate()),
                [
                    ("qps", "must be a positive number".to_string()),
                    ("burst", "must be at least 1".to_string()),
                ]
            );
        }
    }

    #[test]
    fn every_bad_leader_field_is_named_when_enabled() {
        let ha = LeaderConfig {
            enabled: true,
            namespace: "Ns".into(),
            lease_name: "bad name".into(),
            identity: Some("  ".into()),
            lease_duration_secs: 0,
        };
        let fields: Vec<&str> = problems(ha.validate()).iter().map(|p| p.0).collect();
        assert_eq!(
            fields,
            ["namespace", "lease_name", "identity", "lease_duration_secs"]
        );
        let disabled = LeaderConfig {
            enabled: false,
            ..ha
        };
        assert_eq!(problems(disabled.validate()), []);
    }

    #[test]
    fn tables_reject_unknown_keys_and_keep_their_defaults() {
        let err = serde_json::from_value::<ClientConfig>(serde_json::json!({"qsp": 1}))
            .expect_err("unknown key");
        assert!(err.to_string().contains("unknown field `qsp`"), "{err}");
        let ha: LeaderConfig =
            serde_json::from_value(serde_json::json!({"enabled": true})).expect("parses");
        assert_eq!(ha.namespace, "vk-system");
        assert_eq!(ha.lease_name, "vk-leader");
        assert_eq!(ha.lease_duration_secs, 15);
    }
}
