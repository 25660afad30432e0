//! The crate's error type.

use crate::{GpuSku, GroupSku, OsType};

/// Everything that can fail in resource mapping. Each variant names the input
/// or the container it is about.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A quantity string does not follow the Kubernetes grammar.
    #[error("invalid quantity {input:?}: {reason}")]
    InvalidQuantity {
        /// The string as given.
        input: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A container's resource quantity is invalid.
    #[error("container {container:?}: {resource}: {source}")]
    ContainerQuantity {
        /// The container's name.
        container: String,
        /// The resource name (`cpu`, `memory`, ...).
        resource: String,
        /// The parse error.
        #[source]
        source: Box<Error>,
    },

    /// A resource quantity is negative.
    #[error("container {container:?}: {resource} {input:?} is negative")]
    NegativeQuantity {
        /// The container's name.
        container: String,
        /// The resource name.
        resource: String,
        /// The quantity as given.
        input: String,
    },

    /// A limit is smaller than the request for the same resource.
    #[error("container {container:?}: {resource} limit {limit:?} is below its request {request:?}")]
    LimitBelowRequest {
        /// The container's name.
        container: String,
        /// The resource name.
        resource: String,
        /// The request as given.
        request: String,
        /// The limit as given.
        limit: String,
    },

    /// The pod has no containers (or no spec).
    #[error("pod {pod:?} has no containers")]
    NoContainers {
        /// `namespace/name` of the pod.
        pod: String,
    },

    /// More containers than ACI allows in one group.
    #[error("pod {pod:?} has {count} containers; ACI allows at most {maximum} per group")]
    TooManyContainers {
        /// `namespace/name` of the pod.
        pod: String,
        /// Number of app containers.
        count: usize,
        /// ACI's maximum.
        maximum: usize,
    },

    /// Windows container groups hold a single container.
    #[error("pod {pod:?} has {count} containers; ACI Windows groups hold exactly one")]
    WindowsMultiContainer {
        /// `namespace/name` of the pod.
        pod: String,
        /// Number of app containers.
        count: usize,
    },

    /// A resource ACI cannot provide at all (e.g. hugepages).
    #[error("container {container:?} requests {resource}, which ACI cannot provide")]
    UnsupportedResource {
        /// The container's name.
        container: String,
        /// The resource name.
        resource: String,
    },

    /// A group total is above ACI's per-group maximum for the OS and SKU.
    #[error(
        "{resource} {requested} exceeds the ACI maximum {maximum} per container group \
         ({os}, {sku} SKU{})", gpu.map(|g| format!(", GPU {g}")).unwrap_or_default()
    )]
    ExceedsGroupMaximum {
        /// `cpu`, `memory` or `nvidia.com/gpu`.
        resource: &'static str,
        /// The group total, in ACI units (cores, GB, GPUs).
        requested: String,
        /// The maximum, in the same units.
        maximum: String,
        /// The group's OS.
        os: OsType,
        /// The group's SKU.
        sku: GroupSku,
        /// The GPU SKU, for GPU groups.
        gpu: Option<GpuSku>,
    },

    /// No limits are known for this OS / SKU / GPU combination.
    #[error("ACI offers no container groups for {os}, {sku} SKU{}", gpu.map(|g| format!(", GPU {g}")).unwrap_or_default())]
    NoGroupLimits {
        /// The group's OS.
        os: OsType,
        /// The group's SKU.
        sku: GroupSku,
        /// The GPU SKU, for GPU groups.
        gpu: Option<GpuSku>,
    },

    /// A GPU count that is not a whole, non-negative number.
    #[error("container {container:?}: nvidia.com/gpu {input:?} is not a whole number of GPUs")]
    InvalidGpuCount {
        /// The container's name.
        container: String,
        /// The quantity as given.
        input: String,
    },

    /// GPU request and limit differ (Kubernetes requires them equal).
    #[error("container {container:?}: nvidia.com/gpu request {request} differs from limit {limit}")]
    GpuRequestLimitMismatch {
        /// The container's name.
        container: String,
        /// The request.
        request: u32,
        /// The limit.
        limit: u32,
    },

    /// ACI has no GPUs for Windows groups.
    #[error("container {container:?} requests GPUs, which ACI offers only for Linux groups")]
    GpuOnWindows {
        /// The container's name.
        container: String,
    },

    /// ACI init containers cannot have GPUs.
    #[error("init container {container:?} requests GPUs; ACI init containers have no resources")]
    GpuInInitContainer {
        /// The init container's name.
        container: String,
    },

    /// The GPU type asked for by annotation is not offered.
    #[error("GPU type {requested:?} is not offered for {os} groups (offered: {available:?})")]
    UnknownGpuSku {
        /// The annotation value.
        requested: String,
        /// The group's OS.
        os: OsType,
        /// The SKUs that are offered.
        available: Vec<GpuSku>,
    },

    /// The pod wants GPUs but none are offered.
    #[error("pod {pod:?} requests GPUs but ACI offers no GPU container groups for {os}, {sku} SKU")]
    GpuUnavailable {
        /// `namespace/name` of the pod.
        pod: String,
        /// The group's OS.
        os: OsType,
        /// The group's SKU.
        sku: GroupSku,
    },

    /// A capacity setting is invalid.
    #[error("node capacity {resource}: {source}")]
    CapacityQuantity {
        /// The resource name.
        resource: &'static str,
        /// The parse error.
        #[source]
        source: Box<Error>,
    },
}
