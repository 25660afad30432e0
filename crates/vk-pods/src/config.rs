//! Reconciler configuration.

use std::time::Duration;

use vk_resources::OsType;

/// How the reconciler runs one node's pods.
#[derive(Debug, Clone, PartialEq)]
pub struct ReconcilerConfig {
    /// The node whose pods are reconciled (`spec.nodeName`).
    pub node_name: String,
    /// The node's OS, for admission.
    pub node_os: OsType,
    /// The address written as the pods' `hostIP` (the node's InternalIP).
    pub host_ip: String,
    /// Pods reconciled at the same time; one slow provider call never blocks the others.
    pub concurrency: u16,
    /// Status sync interval while any pod is starting, stopping or running to completion.
    pub sync_interval: Duration,
    /// Status sync interval when every pod is steady.
    pub steady_sync_interval: Duration,
    /// How long after creating an instance that is still provisioning its
    /// status is read once (a fast backend is Running by then, so the pod goes
    /// straight to Running with one status write). Later reads follow the sync.
    pub first_look_delay: Duration,
    /// While the listing still reports an instance as provisioning (the same
    /// state as the last full read), its full status is re-read only this often;
    /// a change of the listed state is read at the next sync.
    pub provisioning_refresh_interval: Duration,
    /// Steady pods whose full status is refreshed per sync (round robin), so
    /// provider reads per minute are bounded by this, not by the pod count.
    pub refresh_budget: usize,
    /// Instances whose pod is gone are deleted only this long after start
    /// (the watch cache must be complete first).
    pub orphan_grace: Duration,
    /// Field manager and event reporter name.
    pub field_manager: String,
    /// Normal events published per second (Warning events are never limited);
    /// like the kubelet's event QPS, so a burst of pods spends the API server's
    /// budget on their status, not on Pulling/Started events.
    pub event_qps: f64,
    /// Burst of Normal events above `event_qps`.
    pub event_burst: u32,
    /// The first wait after an image pull failure; it doubles per failure up
    /// to [`image_pull_backoff_max`](Self::image_pull_backoff_max) (the
    /// kubelet's 10 s and 5 minutes).
    pub image_pull_backoff: Duration,
    /// The longest wait between two pulls of an image that failed.
    pub image_pull_backoff_max: Duration,
}

impl ReconcilerConfig {
    /// Defaults for `node_name`: linux, host IP 127.0.0.1, 128 concurrent
    /// reconciles, first status read 50 ms after creation, sync every 5 s (60 s
    /// when steady), provisioning instances re-read every 30 s, 20 refreshes per
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
            first_look_delay: Duration::from_millis(50),
            provisioning_refresh_interval: Duration::from_secs(30),
            refresh_budget: 20,
            orphan_grace: Duration::from_secs(60),
            field_manager: "vk".into(),
            event_qps: 5.0,
            event_burst: 25,
            image_pull_backoff: Duration::from_secs(10),
            image_pull_backoff_max: Duration::from_secs(300),
        }
    }
}
