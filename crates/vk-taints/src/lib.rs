//! Taint management for a virtual node: the taints vk owns (the provider taint
//! and the provider-unhealthy taint), Kubernetes toleration matching, and a
//! reconciler that updates only vk's own taints on the Node.
//!
//! * [`TaintConfig`] says which taints vk wants: the provider taint
//!   `virtual-kubelet.io/provider=azure:NoSchedule` (configurable or off),
//!   extra taints, and `virtual-kubelet.io/provider-unhealthy:NoSchedule`
//!   while the provider is [`Health::Unhealthy`], so the scheduler stops
//!   sending pods until ACI is reachable again.
//! * [`tolerates`], [`admit`] / [`admit_pod`] and [`no_execute_stay`] port Kubernetes'
//!   toleration semantics, the kubelet's taint admission and the taint
//!   eviction controller's `tolerationSeconds` rule.
//! * [`TaintReconciler`] writes vk's taints with read-modify-write and a
//!   `resourceVersion` precondition ([`merge_taints`] is the pure part), so
//!   the node-lifecycle controller's, a cordon's or a user's taints survive.
//!
//! * [`names`] checks Kubernetes names, label keys and values and taint keys as
//!   the API server does; vk-node and vk's configuration use it too.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use vk_taints::{Health, Outcome, TaintConfig, TaintReconciler};
//!
//! let config = TaintConfig::default();
//! config.validate()?;
//! let client = kube::Client::try_default().await?;
//! let taints = TaintReconciler::new(client, "vk-aci", &config);
//! // ACI stopped answering: keep new pods away.
//! taints.ensure(&config.desired(&Health::unhealthy("ProviderUnreachable", "ACI does not answer"))).await?;
//! // Back to normal.
//! if let Outcome::Updated { attempts, .. } = taints.ensure(&config.desired(&Health::Healthy)).await? {
//!     println!("updated after {attempts} attempt(s)");
//! }
//! # Ok(()) }
//! ```

pub mod duration;
mod error;
pub mod names;
mod reconciler;
mod taint;
mod toleration;

pub use error::Error;
pub use reconciler::{Outcome, RetryPolicy, TaintReconciler, merge_taints, same_taints};
pub use taint::{
    DEFAULT_TAINT_KEY, DEFAULT_TAINT_VALUE, DEFAULT_UNHEALTHY_TAINT_KEY, Health, ProviderTaint,
    TaintConfig, TaintEffect, TaintId, TaintSpec,
};
pub use toleration::{
    ADMISSION_MESSAGE, ADMISSION_REASON, AdmissionScope, Rejection, Stay, admit, admit_pod,
    no_execute_stay, tolerated, tolerates, untolerated,
};

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
