//! Resource mapping: exact Kubernetes quantity parsing and the rules that turn a
//! pod's CPU, memory and GPU requests into Azure Container Instances sizes,
//! plus the virtual node's capacity and allocatable.
//!
//! This crate is pure: it performs no I/O and depends on no Kubernetes client.
//! Its one job is arithmetic on resources, done exactly (integers, never
//! floats) and never in the pod's disfavour: every rounding goes up, so no
//! container receives less than it asked for.
//!
//! * [`ExactQuantity`] parses and canonically formats Kubernetes quantities.
//! * [`Sizer`] maps a [`Pod`](k8s_openapi::api::core::v1::Pod) to per-container
//!   ACI requests and limits ([`Cpu`] in 0.01 cores, [`MemoryGb`] in 0.1 GB),
//!   group totals and warnings, checked against [`GroupLimits`] (configured, or
//!   built from ACI's capabilities API).
//! * [`NodeCapacity`] computes the Node's capacity and allocatable from
//!   [`CapacityConfig`] and, when available, ACI [`Usage`] data.
//!
//! The full rule table with worked examples is in `docs/resource-mapping.md`.
//!
//! ```
//! use k8s_openapi::api::core::v1::Pod;
//! use vk_resources::{Cpu, GroupLimits, GroupTarget, MemoryGb, Sizer, SizingConfig};
//!
//! let pod: Pod = serde_json::from_value(serde_json::json!({
//!     "metadata": {"name": "web", "namespace": "default"},
//!     "spec": {"containers": [
//!         {"name": "app", "image": "nginx",
//!          "resources": {"requests": {"cpu": "100m", "memory": "1.5Gi"}}},
//!         {"name": "sidecar", "image": "envoy"}
//!     ]}
//! }))?;
//! let sizing = Sizer::new(SizingConfig::default(), GroupLimits::default())
//!     .size_pod(&pod, GroupTarget::default())?;
//! assert_eq!(sizing.containers[0].requests.cpu, Cpu(10));          // 0.1 CPU
//! assert_eq!(sizing.containers[0].requests.memory, MemoryGb(17));  // 1.7 GB
//! assert_eq!(sizing.containers[1].requests.cpu, Cpu(100));         // default 1 CPU
//! assert_eq!(sizing.totals.cpu.as_f64(), 1.1);
//! assert_eq!(sizing.totals.memory.as_f64(), 3.2);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod capacity;
mod error;
mod gpu;
mod limits;
mod quantity;
mod sizing;
mod units;

pub use capacity::{
    CapacityConfig, NodeCapacity, OwnUsage, QUOTA_CONTAINER_GROUPS, QUOTA_STANDARD_CORES, Usage,
    UsageName,
};
pub use error::Error;
pub use gpu::{GPU_RESOURCE, GPU_TYPE_ANNOTATION, GpuResource, GpuSku};
pub use limits::{Capability, CapabilityMaxima, GroupLimits, LimitRow};
pub use quantity::{ExactQuantity, QuantityFormat};
pub use sizing::{
    AciLimits, AciRequests, ContainerKind, ContainerSizing, GroupTarget, GroupTotals,
    MAX_CONTAINERS_PER_GROUP, PodSizing, Sizer, SizingConfig, SizingWarning,
};
pub use units::{
    BYTES_PER_DECIGIGABYTE, Cpu, GroupSku, IpAddressType, MILLICORES_PER_CENTICORE, MemoryGb,
    OsType,
};

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
