//! Pod reconciler: watches the pods bound to a virtual node and drives a
//! [`Provider`] backend to run them, reporting their status back to
//! Kubernetes with kubelet semantics.
//!
//! - **Level-triggered**: a kube-runtime `Controller` over pods with
//!   `spec.nodeName=<node>` (one watch per node), bounded concurrency, per-pod
//!   backoff; one slow provider call never blocks other pods.
//! - **Kubelet semantics**: admission (OS and `NoExecute` taints, with the
//!   kubelet's reasons), create, status, graceful deletion (deletionTimestamp →
//!   delete the instance → delete the pod with grace 0 and a UID
//!   precondition), force deletion (the orphaned instance is removed),
//!   `activeDeadlineSeconds`, and re-creation when a container image changes.
//! - **Status cost that does not grow with pods**: one provider listing per
//!   interval (short while anything is in transition, long when steady), full
//!   status reads only for pods in transition plus a fixed budget of steady
//!   ones, and a status write only when something changed.
//! - **Restart safety**: instances are adopted by pod UID; an instance is
//!   deleted only when its pod is gone, never in the first minute after start.
//!
//! ```no_run
//! # async fn demo(client: kube::Client) {
//! use std::sync::Arc;
//! use vk_pods::{InMemoryProvider, PodReconciler, ReconcilerConfig};
//!
//! let provider = Arc::new(InMemoryProvider::default());
//! let reconciler = PodReconciler::new(client, provider, ReconcilerConfig::new("my-virtual-node"));
//! reconciler.run(tokio_util::sync::CancellationToken::new()).await;
//! # }
//! ```

mod admission;
mod backoff;
mod budget;
mod config;
mod context;
mod error;
mod key;
mod memory;
mod metrics;
mod provider;
mod reconciler;
pub mod status;
mod sync;

pub use admission::{Refusal, admit};
pub use budget::{Budget, BudgetSnapshot, RateWindow, Spend, Wait};
pub use config::ReconcilerConfig;
pub use context::EARLY_LOOKS;
pub use error::Error;
pub use key::{PodKey, resources_hash, spec_hash};
pub use memory::InMemoryProvider;
pub use metrics::{ReconcilerMetrics, ReconcilerMetricsSnapshot};
pub use provider::{
    ADJUSTMENTS_ANNOTATION, Adjustment, CONFIG_RETRY_MAX, Created, ErrorKind, Instance,
    InstanceState, PodReport, Provider, ProviderError, ProviderEvent,
};
pub use reconciler::PodReconciler;
