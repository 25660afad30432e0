//! Pod → ACI container-group sizes.
//!
//! The rules (also in `docs/resource-mapping.md`):
//!
//! 1. **Effective request** per app container and resource: the request, else
//!    the limit (Kubernetes defaults a missing request to the limit), else
//!    [`SizingConfig::default_cpu`] / [`SizingConfig::default_memory`]
//!    (1 CPU / 1.5 GB, as virtual-kubelet).
//! 2. **Rounding up** to ACI's granularity: CPU to 0.01 core, memory to 0.1 GB
//!    of 10^9 bytes, so no container gets less than it asked for. An explicit
//!    zero becomes the smallest step (0.01 CPU, 0.1 GB).
//! 3. **Group totals** are the sum of the app containers' ACI requests.
//! 4. **Init containers** have no resources in ACI: they run before the app
//!    containers, inside the group's allocation. They do not add to the totals,
//!    but Kubernetes reserves `max(sum of running containers, each init
//!    container + the native sidecars started before it)` for a pod, so if an
//!    init container needs more than the total, the difference is added to the
//!    first app container and a [`SizingWarning::InitContainerRaisedGroup`] is
//!    returned. Their limits are ignored (warning); GPUs in init containers are
//!    an error. **Native sidecars** (init containers with `restartPolicy:
//!    Always`) keep running next to the app containers, so they are sized as
//!    regular containers ([`ContainerKind::Sidecar`]) and count in the totals.
//! 5. **Limits** are rounded up like requests, must not be below the request,
//!    and are **clamped** to the group total (ACI rejects a container limit
//!    above the group's total request); clamping gives a
//!    [`SizingWarning::LimitClamped`]. Raising the request instead would
//!    silently raise the bill, and a limit above the group total can never be
//!    used on ACI anyway. No Kubernetes limit → no ACI limit (ACI then caps the
//!    container at its request).
//! 6. **GPUs** (`nvidia.com/gpu`, request or limit, equal if both) become
//!    `gpu: {count, sku}` on the container's request and limit. The SKU comes
//!    from the `virtual-kubelet.io/gpu-type` annotation (must be offered), else
//!    [`SizingConfig::default_gpu_sku`] if offered, else the first offered SKU.
//!    GPUs on Windows, or with no GPU SKU offered, are errors.
//! 7. **Other resources**: `ephemeral-storage` and unknown extended resources
//!    are ignored with a warning (the kubelet likewise drops extended resources
//!    its node does not know, for cluster-level resources); `hugepages-*` is
//!    an error (the kubelet would reject the pod for lack of capacity).
//! 8. **Group maxima**: the totals must fit the [`GroupLimits`] row for the
//!    OS, group SKU and GPU SKU; otherwise a specific error. Windows groups
//!    hold one container; a group holds at most 60.

use std::collections::BTreeMap;
use std::fmt;

use k8s_openapi::api::core::v1::{Container, Pod};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use serde::{Deserialize, Serialize};

use crate::gpu::{GPU_RESOURCE, GPU_TYPE_ANNOTATION, choose_sku, gpu_count};
use crate::{
    Cpu, Error, ExactQuantity, GpuResource, GpuSku, GroupLimits, GroupSku, MemoryGb, OsType,
};

/// Most containers ACI allows in one container group.
pub const MAX_CONTAINERS_PER_GROUP: usize = 60;

/// Tunable sizing defaults.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SizingConfig {
    /// CPU for a container that neither requests nor limits CPU (1 core).
    pub default_cpu: Cpu,
    /// Memory for a container that neither requests nor limits memory (1.5 GB).
    pub default_memory: MemoryGb,
    /// GPU SKU used when a pod has no `virtual-kubelet.io/gpu-type` annotation.
    pub default_gpu_sku: Option<GpuSku>,
    /// CPU a group is counted as, at least, for quota and capacity
    /// ("allocate a minimum of 1 CPU and 1 GB to a container group").
    pub group_minimum_cpu: Cpu,
    /// Memory a group is counted as, at least.
    pub group_minimum_memory: MemoryGb,
}

impl Default for SizingConfig {
    fn default() -> Self {
        Self {
            default_cpu: Cpu::cores(1),
            default_memory: MemoryGb(15),
            default_gpu_sku: None,
            group_minimum_cpu: Cpu::cores(1),
            group_minimum_memory: MemoryGb::gb(1),
        }
    }
}

/// The kind of container group to size for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct GroupTarget {
    /// The group's OS (the virtual node's OS).
    pub os: OsType,
    /// The group's SKU.
    pub sku: GroupSku,
}

/// ACI requests of one container (`resources.requests`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AciRequests {
    /// `cpu`.
    pub cpu: Cpu,
    /// `memoryInGB`.
    pub memory: MemoryGb,
    /// `gpu`, if any.
    pub gpu: Option<GpuResource>,
}

/// ACI limits of one container (`resources.limits`); `None` fields are omitted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AciLimits {
    /// `cpu`.
    pub cpu: Option<Cpu>,
    /// `memoryInGB`.
    pub memory: Option<MemoryGb>,
    /// `gpu`.
    pub gpu: Option<GpuResource>,
}

impl AciLimits {
    /// Whether no limit is set (ACI's `limits` object can be omitted).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.cpu.is_none() && self.memory.is_none() && self.gpu.is_none()
    }
}

/// Where a container of the group comes from in the pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ContainerKind {
    /// An entry of `spec.containers`.
    App,
    /// A native sidecar: an entry of `spec.initContainers` with
    /// `restartPolicy: Always`, run by ACI as a regular container.
    Sidecar,
}

/// The ACI resources of one container of the group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerSizing {
    /// The container's name.
    pub name: String,
    /// App container or native sidecar.
    pub kind: ContainerKind,
    /// Requests (always set).
    pub requests: AciRequests,
    /// Limits.
    pub limits: AciLimits,
}

/// Totals of a container group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupTotals {
    /// Total CPU.
    pub cpu: Cpu,
    /// Total memory.
    pub memory: MemoryGb,
    /// Total GPUs (all of one SKU).
    pub gpu: Option<GpuResource>,
}

/// Something the mapping did not carry over exactly; not an error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum SizingWarning {
    /// `ephemeral-storage` has no ACI equivalent (ACI gives each group fixed storage).
    EphemeralStorageIgnored {
        /// The container's name.
        container: String,
    },
    /// An extended resource ACI does not know was ignored.
    ResourceIgnored {
        /// The container's name.
        container: String,
        /// The resource name.
        resource: String,
    },
    /// A limit above the group total was lowered to the group total.
    LimitClamped {
        /// The container's name.
        container: String,
        /// `cpu` or `memory`.
        resource: &'static str,
        /// The rounded Kubernetes limit, in ACI units.
        limit: String,
        /// The limit sent to ACI (the group total).
        clamped_to: String,
    },
    /// An init container asked for more than the app containers' total, so the
    /// first app container's request was raised by the difference.
    InitContainerRaisedGroup {
        /// The init container's name.
        init_container: String,
        /// `cpu` or `memory`.
        resource: &'static str,
        /// The app container whose request was raised.
        raised: String,
    },
    /// ACI init containers have no limits; the init container's limits were dropped.
    InitContainerLimitsIgnored {
        /// The init container's name.
        init_container: String,
    },
}

impl fmt::Display for SizingWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::EphemeralStorageIgnored { container } => write!(
                f,
                "container {container:?}: ephemeral-storage is ignored (ACI has no per-container storage size)"
            ),
            Self::ResourceIgnored {
                container,
                resource,
            } => write!(
                f,
                "container {container:?}: resource {resource} is ignored (not offered by ACI)"
            ),
            Self::LimitClamped {
                container,
                resource,
                limit,
                clamped_to,
            } => write!(
                f,
                "container {container:?}: {resource} limit {limit} lowered to the group total {clamped_to}"
            ),
            Self::InitContainerRaisedGroup {
                init_container,
                resource,
                raised,
            } => write!(
                f,
                "init container {init_container:?} needs more {resource} than the app containers; \
                 container {raised:?} was raised to cover it"
            ),
            Self::InitContainerLimitsIgnored { init_container } => write!(
                f,
                "init container {init_container:?}: limits are ignored (ACI init containers have no resources)"
            ),
        }
    }
}

/// The ACI sizes of a pod.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PodSizing {
    /// One entry per container ACI runs: native sidecars first (in init
    /// order), then the app containers (in pod order).
    pub containers: Vec<ContainerSizing>,
    /// Sum of the containers' requests.
    pub totals: GroupTotals,
    /// The totals raised to the group minimum, for quota and capacity accounting.
    pub accounted: GroupTotals,
    /// What was not mapped exactly.
    pub warnings: Vec<SizingWarning>,
}

/// Maps pods to ACI sizes under a [`SizingConfig`] and [`GroupLimits`].
///
/// ```
/// use k8s_openapi::api::core::v1::Pod;
/// use vk_resources::{Cpu, GroupLimits, GroupTarget, MemoryGb, Sizer, SizingConfig};
///
/// let pod: Pod = serde_json::from_value(serde_json::json!({
///     "metadata": {"name": "web", "namespace": "default"},
///     "spec": {"containers": [{"name": "app", "image": "nginx",
///         "resources": {"requests": {"cpu": "2", "memory": "512Mi"}}}]}
/// }))?;
/// let sizer = Sizer::new(SizingConfig::default(), GroupLimits::default());
/// let sizing = sizer.size_pod(&pod, GroupTarget::default())?;
/// assert_eq!(sizing.containers[0].requests.cpu, Cpu(200));        // 2 CPUs
/// assert_eq!(sizing.containers[0].requests.memory, MemoryGb(6)); // 0.6 GB
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct Sizer {
    config: SizingConfig,
    limits: GroupLimits,
}

/// One container's resources before group-level adjustments.
struct Draft {
    name: String,
    kind: ContainerKind,
    cpu: Cpu,
    memory: MemoryGb,
    cpu_limit: Option<Cpu>,
    memory_limit: Option<MemoryGb>,
    gpus: u32,
}

impl Sizer {
    /// A sizer with the given defaults and maxima.
    #[must_use]
    pub fn new(config: SizingConfig, limits: GroupLimits) -> Self {
        Self { config, limits }
    }

    /// The sizing defaults.
    #[must_use]
    pub fn config(&self) -> &SizingConfig {
        &self.config
    }

    /// The per-group maxima.
    #[must_use]
    pub fn limits(&self) -> &GroupLimits {
        &self.limits
    }

    /// Sizes a pod for a container group of the given kind.
    pub fn size_pod(&self, pod: &Pod, target: GroupTarget) -> Result<PodSizing, Error> {
        let pod_name = format!(
            "{}/{}",
            pod.metadata.namespace.as_deref().unwrap_or_default(),
            pod.metadata.name.as_deref().unwrap_or_default()
        );
        let spec = pod.spec.as_ref();
        let containers = spec.map(|s| s.containers.as_slice()).unwrap_or_default();
        if containers.is_empty() {
            return Err(Error::NoContainers { pod: pod_name });
        }
        let init_containers = spec
            .and_then(|s| s.init_containers.as_deref())
            .unwrap_or_default();

        // Native sidecars (init containers with restartPolicy Always) run next
        // to the app containers, so ACI must run them as regular containers:
        // they are sized like app containers and listed first, in init order.
        // Other init containers only need room in the group while they run,
        // next to the sidecars started before them.
        let mut warnings = Vec::new();
        let mut drafts = Vec::new();
        let mut init_needs = Vec::new();
        let (mut sidecar_cpu, mut sidecar_memory) = (Cpu(0), MemoryGb(0));
        for init in init_containers {
            if init.restart_policy.as_deref() == Some("Always") {
                let d = self.draft(init, ContainerKind::Sidecar, &mut warnings)?;
                sidecar_cpu = sidecar_cpu.saturating_add(d.cpu);
                sidecar_memory = sidecar_memory.saturating_add(d.memory);
                drafts.push(d);
            } else {
                let (name, cpu, memory) = self.init_needs(init, &mut warnings)?;
                init_needs.push((
                    name,
                    cpu.map(|c| c.saturating_add(sidecar_cpu)),
                    memory.map(|m| m.saturating_add(sidecar_memory)),
                ));
            }
        }
        let first_app = drafts.len();
        for c in containers {
            drafts.push(self.draft(c, ContainerKind::App, &mut warnings)?);
        }

        if drafts.len() > MAX_CONTAINERS_PER_GROUP {
            return Err(Error::TooManyContainers {
                pod: pod_name,
                count: drafts.len(),
                maximum: MAX_CONTAINERS_PER_GROUP,
            });
        }
        if target.os == OsType::Windows && drafts.len() > 1 {
            return Err(Error::WindowsMultiContainer {
                pod: pod_name,
                count: drafts.len(),
            });
        }

        // Kubernetes reserves max(sum of running containers, each init
        // container plus the sidecars before it); ACI allocates the sum, so
        // the first app container absorbs any shortfall.
        for (name, cpu, memory) in init_needs {
            let total_cpu = sum_cpu(&drafts);
            if let Some(cpu) = cpu.filter(|c| *c > total_cpu)
                && let Some(d) = drafts.get_mut(first_app)
            {
                d.cpu = Cpu(d.cpu.0.saturating_add(cpu.0 - total_cpu.0));
                warnings.push(SizingWarning::InitContainerRaisedGroup {
                    init_container: name.clone(),
                    resource: "cpu",
                    raised: d.name.clone(),
                });
            }
            let total_memory = sum_memory(&drafts);
            if let Some(memory) = memory.filter(|m| *m > total_memory)
                && let Some(d) = drafts.get_mut(first_app)
            {
                d.memory = MemoryGb(d.memory.0.saturating_add(memory.0 - total_memory.0));
                warnings.push(SizingWarning::InitContainerRaisedGroup {
                    init_container: name,
                    resource: "memory",
                    raised: d.name.clone(),
                });
            }
        }

        let total_cpu = sum_cpu(&drafts);
        let total_memory = sum_memory(&drafts);
        let total_gpus = drafts
            .iter()
            .fold(0u32, |acc, d| acc.saturating_add(d.gpus));

        let gpu_sku = self.gpu_sku(pod, &pod_name, target, &drafts, total_gpus)?;
        self.check_maxima(target, gpu_sku, total_cpu, total_memory, total_gpus)?;

        // Limits, clamped to the group totals.
        let mut out = Vec::with_capacity(drafts.len());
        for d in drafts {
            let gpu = gpu_sku
                .filter(|_| d.gpus > 0)
                .map(|sku| GpuResource { count: d.gpus, sku });
            let cpu_limit = d.cpu_limit.map(|l| {
                if l > total_cpu {
                    warnings.push(SizingWarning::LimitClamped {
                        container: d.name.clone(),
                        resource: "cpu",
                        limit: l.to_string(),
                        clamped_to: total_cpu.to_string(),
                    });
                    total_cpu
                } else {
                    l
                }
            });
            let memory_limit = d.memory_limit.map(|l| {
                if l > total_memory {
                    warnings.push(SizingWarning::LimitClamped {
                        container: d.name.clone(),
                        resource: "memory",
                        limit: l.to_string(),
                        clamped_to: total_memory.to_string(),
                    });
                    total_memory
                } else {
                    l
                }
            });
            out.push(ContainerSizing {
                name: d.name,
                kind: d.kind,
                requests: AciRequests {
                    cpu: d.cpu,
                    memory: d.memory,
                    gpu,
                },
                limits: AciLimits {
                    cpu: cpu_limit,
                    memory: memory_limit,
                    gpu,
                },
            });
        }

        let gpu_total = gpu_sku.map(|sku| GpuResource {
            count: total_gpus,
            sku,
        });
        let totals = GroupTotals {
            cpu: total_cpu,
            memory: total_memory,
            gpu: gpu_total,
        };
        let accounted = GroupTotals {
            cpu: total_cpu.max(self.config.group_minimum_cpu),
            memory: total_memory.max(self.config.group_minimum_memory),
            gpu: gpu_total,
        };
        Ok(PodSizing {
            containers: out,
            totals,
            accounted,
            warnings,
        })
    }

    /// The GPU SKU for a pod needing `total_gpus` (see rule 6).
    fn gpu_sku(
        &self,
        pod: &Pod,
        pod_name: &str,
        target: GroupTarget,
        drafts: &[Draft],
        total_gpus: u32,
    ) -> Result<Option<GpuSku>, Error> {
        if total_gpus == 0 {
            return Ok(None);
        }
        if target.os == OsType::Windows {
            let container = drafts
                .iter()
                .find(|d| d.gpus > 0)
                .map(|d| d.name.clone())
                .unwrap_or_default();
            return Err(Error::GpuOnWindows { container });
        }
        let offered = self.limits.gpu_skus(target.os, target.sku);
        let annotation = pod
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(GPU_TYPE_ANNOTATION))
            .map(String::as_str);
        choose_sku(annotation, self.config.default_gpu_sku, &offered, target.os)?
            .map(Some)
            .ok_or_else(|| Error::GpuUnavailable {
                pod: pod_name.to_owned(),
                os: target.os,
                sku: target.sku,
            })
    }

    /// Checks group totals against the [`GroupLimits`] row (see rule 8).
    fn check_maxima(
        &self,
        target: GroupTarget,
        gpu: Option<GpuSku>,
        cpu: Cpu,
        memory: MemoryGb,
        gpus: u32,
    ) -> Result<(), Error> {
        let row = self
            .limits
            .find(target.os, target.sku, gpu)
            .ok_or(Error::NoGroupLimits {
                os: target.os,
                sku: target.sku,
                gpu,
            })?;
        let exceeds = |resource, requested: String, maximum: String| Error::ExceedsGroupMaximum {
            resource,
            requested,
            maximum,
            os: target.os,
            sku: target.sku,
            gpu,
        };
        if cpu > row.max_cpu {
            return Err(exceeds("cpu", cpu.to_string(), row.max_cpu.to_string()));
        }
        if memory > row.max_memory {
            return Err(exceeds(
                "memory",
                memory.to_string(),
                row.max_memory.to_string(),
            ));
        }
        if gpus > row.max_gpu_count {
            return Err(exceeds(
                GPU_RESOURCE,
                gpus.to_string(),
                row.max_gpu_count.to_string(),
            ));
        }
        Ok(())
    }

    /// Effective, rounded requests and limits of one app container or sidecar.
    fn draft(
        &self,
        c: &Container,
        kind: ContainerKind,
        warnings: &mut Vec<SizingWarning>,
    ) -> Result<Draft, Error> {
        let resources = c.resources.as_ref();
        let requests = resources.and_then(|r| r.requests.as_ref());
        let limits = resources.and_then(|r| r.limits.as_ref());
        check_other_resources(&c.name, requests, limits, warnings)?;

        let cpu = effective(&c.name, "cpu", requests, limits)?;
        let memory = effective(&c.name, "memory", requests, limits)?;
        let cpu_request = match cpu.request {
            Some(q) => cpu_of(q),
            None => self.config.default_cpu,
        };
        let memory_request = match memory.request {
            Some(q) => memory_of(q),
            None => self.config.default_memory,
        };
        // A limit never rounds below its request: both round up and limit ≥ request,
        // but the request may be the default, so take the larger.
        let cpu_limit = cpu.limit.map(|q| cpu_of(q).max(cpu_request));
        let memory_limit = memory.limit.map(|q| memory_of(q).max(memory_request));
        Ok(Draft {
            name: c.name.clone(),
            kind,
            cpu: cpu_request,
            memory: memory_request,
            cpu_limit,
            memory_limit,
            gpus: gpu_count(&c.name, requests, limits)?,
        })
    }

    /// What an init container needs from the group: `(name, cpu, memory)`.
    fn init_needs(
        &self,
        c: &Container,
        warnings: &mut Vec<SizingWarning>,
    ) -> Result<(String, Option<Cpu>, Option<MemoryGb>), Error> {
        let resources = c.resources.as_ref();
        let requests = resources.and_then(|r| r.requests.as_ref());
        let limits = resources.and_then(|r| r.limits.as_ref());
        check_other_resources(&c.name, requests, limits, warnings)?;
        if gpu_count(&c.name, requests, limits)? > 0 {
            return Err(Error::GpuInInitContainer {
                container: c.name.clone(),
            });
        }
        let cpu = effective(&c.name, "cpu", requests, limits)?;
        let memory = effective(&c.name, "memory", requests, limits)?;
        if limits.is_some_and(|l| l.contains_key("cpu") || l.contains_key("memory")) {
            warnings.push(SizingWarning::InitContainerLimitsIgnored {
                init_container: c.name.clone(),
            });
        }
        Ok((
            c.name.clone(),
            cpu.request.map(cpu_of),
            memory.request.map(memory_of),
        ))
    }
}

fn sum_cpu(drafts: &[Draft]) -> Cpu {
    drafts
        .iter()
        .fold(Cpu(0), |acc, d| acc.saturating_add(d.cpu))
}

fn sum_memory(drafts: &[Draft]) -> MemoryGb {
    drafts
        .iter()
        .fold(MemoryGb(0), |acc, d| acc.saturating_add(d.memory))
}

/// CPU of a non-negative quantity, rounded up, at least one step.
fn cpu_of(q: ExactQuantity) -> Cpu {
    Cpu::from_quantity_ceil(&q).max(Cpu(1))
}

/// Memory of a non-negative quantity, rounded up, at least one step.
fn memory_of(q: ExactQuantity) -> MemoryGb {
    MemoryGb::from_quantity_ceil(&q).max(MemoryGb(1))
}

/// A container's request (defaulted from the limit) and limit for one resource.
struct Effective {
    request: Option<ExactQuantity>,
    limit: Option<ExactQuantity>,
}

fn effective(
    container: &str,
    resource: &str,
    requests: Option<&BTreeMap<String, Quantity>>,
    limits: Option<&BTreeMap<String, Quantity>>,
) -> Result<Effective, Error> {
    let parse = |q: &Quantity| -> Result<ExactQuantity, Error> {
        let exact = ExactQuantity::from_k8s(q).map_err(|e| Error::ContainerQuantity {
            container: container.to_owned(),
            resource: resource.to_owned(),
            source: Box::new(e),
        })?;
        if exact.is_negative() {
            return Err(Error::NegativeQuantity {
                container: container.to_owned(),
                resource: resource.to_owned(),
                input: q.0.clone(),
            });
        }
        Ok(exact)
    };
    let raw_request = requests.and_then(|m| m.get(resource));
    let raw_limit = limits.and_then(|m| m.get(resource));
    let request = raw_request.map(parse).transpose()?;
    let limit = raw_limit.map(parse).transpose()?;
    if let (Some(r), Some(l), Some(raw_r), Some(raw_l)) = (request, limit, raw_request, raw_limit)
        && l.nanos() < r.nanos()
    {
        return Err(Error::LimitBelowRequest {
            container: container.to_owned(),
            resource: resource.to_owned(),
            request: raw_r.0.clone(),
            limit: raw_l.0.clone(),
        });
    }
    Ok(Effective {
        request: request.or(limit),
        limit,
    })
}

/// Warnings and errors for resources other than cpu, memory and GPUs.
fn check_other_resources(
    container: &str,
    requests: Option<&BTreeMap<String, Quantity>>,
    limits: Option<&BTreeMap<String, Quantity>>,
    warnings: &mut Vec<SizingWarning>,
) -> Result<(), Error> {
    let mut names: Vec<&String> = requests
        .into_iter()
        .chain(limits)
        .flat_map(BTreeMap::keys)
        .collect();
    names.sort();
    names.dedup();
    for name in names {
        match name.as_str() {
            "cpu" | "memory" | GPU_RESOURCE => {}
            "ephemeral-storage" => warnings.push(SizingWarning::EphemeralStorageIgnored {
                container: container.to_owned(),
            }),
            n if n.starts_with("hugepages-") => {
                return Err(Error::UnsupportedResource {
                    container: container.to_owned(),
                    resource: n.to_owned(),
                });
            }
            n => warnings.push(SizingWarning::ResourceIgnored {
                container: container.to_owned(),
                resource: n.to_owned(),
            }),
        }
    }
    Ok(())
}
