//! A real, local Kubernetes control plane for tests and demos.
//!
//! Starts etcd, kube-apiserver, kube-scheduler and kube-controller-manager as
//! plain processes on loopback (no container engine needed), with certificates
//! generated in Rust, an admin kubeconfig, and free ports, so several clusters
//! can run side by side. Each cluster lives in its own state directory holding
//! its certificates, pid files, component logs and `cluster.json`.
//!
//! The Kubernetes binaries come from [`Binaries::resolve`]:
//! `$VK_CONTROL_PLANE_BIN` if set, else a cache under `~/.cache/vk`, else they
//! are built once from Debian's source package ([`build::build_from_debian_source`]).
//!
//! ```no_run
//! # async fn demo() -> Result<(), vk_control_plane::Error> {
//! use vk_control_plane::{Binaries, ClusterSpec};
//!
//! let bins = Binaries::resolve()?;
//! let spec = ClusterSpec::named("demo")?;
//! let cluster = spec.up(&bins).await?;
//! println!("export KUBECONFIG={}", cluster.kubeconfig.display());
//! vk_control_plane::down(&spec.state_dir)?;
//! # Ok(()) }
//! ```

mod binaries;
pub mod build;
mod certs;
mod cluster;
mod error;
mod kubeconfig;
pub mod process;

pub use binaries::{BIN_ENV, Binaries, KUBERNETES_VERSION, cache_dir};
pub use certs::ClusterCerts;
pub use cluster::{
    ClusterInfo, ClusterSpec, Component, ComponentStatus, Ports, clusters_root, down, kube_client,
    status,
};
pub use error::Error;
