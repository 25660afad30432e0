//! The Azure Container Instances backend of vk's kubelet API ([`AciBackend`], a
//! [`vk_kubelet_api::KubeletBackend`]): `kubectl logs`, `kubectl exec` and `kubectl cp` on ACI's
//! terms.
//!
//! - **Pods** come from the caller (a closure over vk's own state, e.g. a reflector store's
//!   `state()`), so `/pods` lists exactly the pods vk runs; so does the **group namer** (the ACI
//!   provider's), so collision-renamed groups are found.
//! - **Logs**: `GET …/containers/{c}/logs?tail=N&timestamps=true`. ACI keeps no logs of earlier
//!   container instances, so `previous` is refused. The whole log of a terminated container is
//!   kept as last read (at most 64 KiB per container, 1,024 containers) and served while the
//!   pod exists if ACI can no longer answer.
//! - **Exec**: ACI runs one executable without arguments in a TTY and reports no exit
//!   status. A one-word command without stdin runs directly; anything else runs through the
//!   container's shell (`/bin/sh`, Windows `cmd.exe`), with markers that recover its output and
//!   exit code.
//! - **Follow** ends once the pod's status (kept by vk from ACI) shows the container terminated,
//!   or the pod is gone.
//! - **Stats**: every pod and container of the node, with the CPU and memory usage a
//!   [`UsageSampler`] reads from Azure Monitor (`metrics:getBatch`, 50 groups per call) when one
//!   is attached ([`AciBackend::with_usage`]); Windows groups have no Azure Monitor metrics.
//!
//! See `docs/kubelet-api.md` for the exact semantics.

mod backend;
mod error;
mod exec;
mod kept;
mod marker;
pub mod quote;
mod script;
mod usage;

pub use backend::{AciBackend, GroupNamer, PodSource};
pub use error::Error;
pub use usage::{ContainerUsage, UsageCache, UsageSampler};
/// How usage is sampled (the `[aci.usage]` table); owned by `vk-aci`, which the provider's
/// configuration shares.
pub use vk_aci::UsageConfig;
