//! Node lifecycle for a virtual kubelet: builds and registers the virtual
//! Node, renews its Lease in `kube-node-lease`, and writes node status only
//! when it changes (or once per status interval).
//!
//! What it does, and what it fixes compared with other virtual kubelets:
//!
//! - **Registration is idempotent**: the Node is created with its taints (so
//!   it is never schedulable without them), or an existing Node is adopted and
//!   vk's labels are re-applied with server-side apply, leaving other labels
//!   alone. Taints are merged by the caller's taint hook (read-modify-write).
//! - **Liveness is the Lease**: renewed every 10 s (with jitter) from the
//!   cached copy, re-read on conflict, re-created when deleted, retried with
//!   backoff on errors. It never panics.
//! - **Status is cheap**: conditions are written with server-side apply (a
//!   list-map keyed by type, so conditions written by others survive) when the
//!   provider's health changes, and otherwise once per status interval.
//! - **Ready is real**: it reflects a [`HealthProbe`] (for ACI: the API is
//!   reachable and the credentials are accepted).
//! - A deleted Node is re-created as soon as the watch reports it.
//!
//! ```no_run
//! # async fn demo(client: kube::Client) -> Result<(), vk_node::Error> {
//! use vk_node::{AlwaysHealthy, NodeConfig, OsType, VirtualNode};
//!
//! let config = NodeConfig::new("virtual-kubelet-linux", OsType::Linux);
//! let shutdown = tokio_util::sync::CancellationToken::new();
//! VirtualNode::new(client, config, std::sync::Arc::new(AlwaysHealthy))
//!     .run(shutdown)
//!     .await
//! # }
//! ```

mod build;
mod config;
mod controller;
mod drain;
mod error;
mod health;
mod lease;
mod metrics;
mod register;
mod spec;
mod status;
mod time;

pub use build::{node_labels, node_object, status_patch};
pub use config::{LeaseConfig, NodeConfig, StatusConfig};
pub use controller::{TaintHook, VirtualNode};
pub use drain::drain;
pub use error::Error;
pub use health::{AlwaysHealthy, Health, HealthProbe, OwnTaints};
pub use lease::LeaseKeeper;
pub use metrics::{NodeMetrics, NodeMetricsSnapshot};
pub use spec::{
    CapacitySpec, DEFAULT_KUBELET_PORT, DEFAULT_NODE_NAME, FALLBACK_INTERNAL_IP, NodeSpec,
};
pub use status::Conditions;
/// The OS of a node's pods (vk's one OS type, from vk-resources).
pub use vk_resources::OsType;
