//! Reconciler configuration: [`ReconcilerConfig`], the `[reconciler]` table of
//! vk's configuration file (durations in whole seconds, `first_look_delay_ms`
//! in milliseconds). The per-node fields (`node_name`, `node_os`, `host_ip`)
//! and the tunables vk does not expose are not read from the file.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use vk_resources::OsType;
use vk_taints::duration::{millis, secs};

use crate::Error;

/// How the reconciler runs one node's pods.
///
/// ```
/// use std::time::Duration;
/// use vk_pods::ReconcilerConfig;
///
/// let config = ReconcilerConfig::new("vk-linux").with_sync_interval(Duration::from_secs(2));
/// config.validate().unwrap();
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct ReconcilerConfig {
    /// The node whose pods are reconciled (`spec.nodeName`).
    #[serde(skip)]
    pub node_name: String,
    /// The node's OS, for admission.
    #[serde(skip)]
    pub node_os: OsType,
    /// The address written as the pods' `hostIP` (the node's InternalIP).
    #[serde(skip)]
    pub host_ip: String,
    /// Pods reconciled at the same time; one slow provider call never blocks the others.
    pub concurrency: u16,
    /// Status sync interval while any pod is starting, stopping or running to completion.
    #[serde(rename = "sync_interval_secs", with = "secs")]
    pub sync_interval: Duration,
    /// Status sync interval when every pod is steady.
    #[serde(rename = "steady_sync_interval_secs", with = "secs")]
    pub steady_sync_interval: Duration,
    /// Status sync interval while instances are provisioning, so a started
    /// container shows on its pod within about this long (stretched so that
    /// listing takes at most a fifth of the time, never beyond
    /// [`sync_interval`](Self::sync_interval)).
    #[serde(rename = "provisioning_sync_interval_ms", with = "millis")]
    pub provisioning_sync_interval: Duration,
    /// Instances whose pod is gone are deleted only this long after start
    /// (the watch cache must be complete first).
    #[serde(rename = "orphan_gc_grace_secs", with = "secs")]
    pub orphan_grace: Duration,
    /// How long after creating an instance that is still provisioning its
    /// status is read (a fast backend is Running by then, so the pod goes
    /// straight to Running with one status write). An instance still
    /// provisioning is read again twice as late, up to
    /// [`EARLY_LOOKS`](crate::EARLY_LOOKS) reads; later reads follow the sync.
    #[serde(rename = "first_look_delay_ms", with = "millis")]
    pub first_look_delay: Duration,
    /// While the listing still reports an instance as provisioning (the same
    /// state as the last full read), its full status is re-read only this often;
    /// a change of the listed state is read at the next sync.
    #[serde(rename = "provisioning_refresh_interval_secs", with = "secs")]
    pub provisioning_refresh_interval: Duration,
    /// Steady pods whose full status is refreshed per
    /// [`steady_sync_interval`](Self::steady_sync_interval) (round robin;
    /// shorter rounds get a pro-rated share), so provider reads per minute
    /// are bounded by this, not by the pod count or the pace of the sync.
    #[serde(skip)]
    pub refresh_budget: usize,
    /// Field manager and event reporter name.
    #[serde(skip)]
    pub field_manager: String,
    /// Normal events and adjustment events published per second (Warning
    /// events explaining a pod's state are never limited); like the kubelet's
    /// event QPS, so a burst of pods spends the API server's budget on their
    /// status, not on Pulling/Started events or one identical adjustment
    /// warning per pod (each pod keeps the adjustments annotation).
    #[serde(skip)]
    pub event_qps: f64,
    /// Burst of budgeted events above `event_qps`.
    #[serde(skip)]
    pub event_burst: u32,
    /// The first wait after an image pull failure; it doubles per failure up
    /// to [`image_pull_backoff_max`](Self::image_pull_backoff_max) (the
    /// kubelet's 10 s and 5 minutes).
    #[serde(skip)]
    pub image_pull_backoff: Duration,
    /// The longest wait between two pulls of an image that failed.
    #[serde(skip)]
    pub image_pull_backoff_max: Duration,
}

impl Default for ReconcilerConfig {
    /// The defaults of [`ReconcilerConfig::new`], for no node yet.
    fn default() -> Self {
        Self::new("")
    }
}

impl ReconcilerConfig {
    /// Defaults for `node_name`: linux, host IP 127.0.0.1, 128 concurrent
    /// reconciles, first status read 50 ms after creation, sync every 5 s (1 s
    /// while instances provision, 60 s when steady), provisioning instances re-read every 60 s, 20 refreshes per
    /// sync, 60 s orphan grace, 5 Normal events per second (burst 25), image
    /// pull back-off 10 s doubling to 300 s.
    pub fn new(node_name: impl Into<String>) -> Self {
        Self {
            node_name: node_name.into(),
            node_os: OsType::Linux,
            host_ip: "127.0.0.1".into(),
            concurrency: 128,
            sync_interval: Duration::from_secs(5),
            steady_sync_interval: Duration::from_secs(60),
            provisioning_sync_interval: Duration::from_secs(1),
            first_look_delay: Duration::from_millis(50),
            provisioning_refresh_interval: Duration::from_secs(60),
            refresh_budget: 20,
            orphan_grace: Duration::from_secs(60),
            field_manager: "vk".into(),
            event_qps: 5.0,
            event_burst: 25,
            image_pull_backoff: Duration::from_secs(10),
            image_pull_backoff_max: Duration::from_secs(300),
        }
    }

    /// The same settings for another node: its name, OS and InternalIP.
    #[must_use]
    pub fn for_node(
        mut self,
        node_name: impl Into<String>,
        node_os: OsType,
        host_ip: impl Into<String>,
    ) -> Self {
        self.node_name = node_name.into();
        self.node_os = node_os;
        self.host_ip = host_ip.into();
        self
    }

    /// Sets [`concurrency`](Self::concurrency).
    #[must_use]
    pub fn with_concurrency(mut self, concurrency: u16) -> Self {
        self.concurrency = concurrency;
        self
    }

    /// Sets [`sync_interval`](Self::sync_interval).
    #[must_use]
    pub fn with_sync_interval(mut self, interval: Duration) -> Self {
        self.sync_interval = interval;
        self
    }

    /// Sets [`steady_sync_interval`](Self::steady_sync_interval).
    #[must_use]
    pub fn with_steady_sync_interval(mut self, interval: Duration) -> Self {
        self.steady_sync_interval = interval;
        self
    }

    /// Sets [`orphan_grace`](Self::orphan_grace).
    #[must_use]
    pub fn with_orphan_grace(mut self, grace: Duration) -> Self {
        self.orphan_grace = grace;
        self
    }

    /// Checks the settings read from the configuration, naming the first bad
    /// one by its key (`sync_interval_secs`).
    pub fn validate(&self) -> Result<(), Error> {
        let invalid = |field, reason: String| Err(Error::InvalidConfig { field, reason });
        if self.concurrency == 0 {
            return invalid("concurrency", "must be at least 1".into());
        }
        if self.sync_interval.is_zero() {
            return invalid("sync_interval_secs", "must be at least 1".into());
        }
        if self.steady_sync_interval < self.sync_interval {
            return invalid(
                "steady_sync_interval_secs",
                format!(
                    "must be at least sync_interval_secs ({})",
                    self.sync_interval.as_secs()
                ),
            );
        }
        if self.provisioning_sync_interval.is_zero() {
            return invalid("provisioning_sync_interval_ms", "must be at least 1".into());
        }
        if self.provisioning_refresh_interval.is_zero() {
            return invalid(
                "provisioning_refresh_interval_secs",
                "must be at least 1".into(),
            );
        }
        Ok(())
    }
}

/// A duration as whole seconds.
/// A duration as whole milliseconds.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        ReconcilerConfig::default().validate().unwrap();
    }

    #[test]
    fn bad_fields_are_named() {
        let base = ReconcilerConfig::new("n");
        let cases = [
            ("concurrency", base.clone().with_concurrency(0)),
            (
                "sync_interval_secs",
                base.clone()
                    .with_sync_interval(Duration::ZERO)
                    .with_steady_sync_interval(Duration::ZERO),
            ),
            (
                "steady_sync_interval_secs",
                base.clone()
                    .with_steady_sync_interval(Duration::from_secs(1)),
            ),
            ("provisioning_sync_interval_ms", {
                let mut c = base.clone();
                c.provisioning_sync_interval = Duration::ZERO;
                c
            }),
            ("provisioning_refresh_interval_secs", {
                let mut c = base.clone();
                c.provisioning_refresh_interval = Duration::ZERO;
                c
            }),
        ];
        for (field, config) in cases {
            match config.validate() {
                Err(Error::InvalidConfig { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{field}: {other:?}"),
            }
        }
    }

    #[test]
    fn keys_and_units() {
        let config: ReconcilerConfig = serde_json::from_str(
            r#"{"concurrency":8,"sync_interval_secs":2,"first_look_delay_ms":250,"orphan_gc_grace_secs":5}"#,
        )
        .unwrap();
        assert_eq!(config.concurrency, 8);
        assert_eq!(config.sync_interval, Duration::from_secs(2));
        assert_eq!(config.first_look_delay, Duration::from_millis(250));
        assert_eq!(config.orphan_grace, Duration::from_secs(5));
        assert_eq!(config.steady_sync_interval, Duration::from_secs(60));
        let json = serde_json::to_value(&config).unwrap();
        assert_eq!(json["first_look_delay_ms"], 250);
        assert_eq!(json["provisioning_refresh_interval_secs"], 60);
        assert_eq!(json["provisioning_sync_interval_ms"], 1000);
        assert!(json.get("node_name").is_none());
        assert!(serde_json::from_str::<ReconcilerConfig>(r#"{"refresh_budget":1}"#).is_err());
    }
}
