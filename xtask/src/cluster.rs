//! `cargo xtask cluster up | down | status | env | build`.

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Subcommand;
use vk_control_plane::{Binaries, ClusterInfo, ClusterSpec};

/// The default cluster name.
pub(crate) const DEFAULT_NAME: &str = "vk";

#[derive(Debug, Subcommand)]
pub(crate) enum ClusterCommand {
    /// Start a cluster (building the binaries once if needed) and wait until it is ready.
    Up {
        /// Cluster name; clusters with different names run side by side.
        #[arg(long, default_value = DEFAULT_NAME)]
        name: String,
    },
    /// Stop exactly the processes the cluster started and remove its state.
    Down {
        /// Cluster name.
        #[arg(long, default_value = DEFAULT_NAME)]
        name: String,
    },
    /// Show the cluster's components, pids and endpoints.
    Status {
        /// Cluster name.
        #[arg(long, default_value = DEFAULT_NAME)]
        name: String,
    },
    /// Print shell exports for the cluster (`eval "$(cargo xtask cluster env)"`).
    Env {
        /// Cluster name.
        #[arg(long, default_value = DEFAULT_NAME)]
        name: String,
    },
    /// Build and cache the control-plane binaries without starting anything.
    Build,
}

pub(crate) fn run(cmd: ClusterCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        ClusterCommand::Up { name } => {
            let info = up(&name)?;
            println!(
                "cluster `{}` is up: Kubernetes {}, API server {}\n  state and logs: {}\n\n\
                 Use it:\n  export KUBECONFIG={}\n  kubectl get ns\n\nStop it:\n  cargo xtask cluster down --name {}",
                info.name,
                info.kubernetes_version,
                info.server,
                info.state_dir.display(),
                info.kubeconfig.display(),
                info.name
            );
        }
        ClusterCommand::Down { name } => {
            let spec = ClusterSpec::named(&name)?;
            vk_control_plane::down(&spec.state_dir)?;
            println!("cluster `{name}` stopped and its state removed");
        }
        ClusterCommand::Status { name } => {
            let spec = ClusterSpec::named(&name)?;
            let info = ClusterInfo::load(&spec.state_dir)?;
            println!(
                "cluster `{}` ({}, {})",
                info.name,
                info.server,
                info.state_dir.display()
            );
            let mut all_running = true;
            for s in vk_control_plane::status(&spec.state_dir) {
                all_running &= s.running;
                println!(
                    "  {:<24} pid {:<8} {}",
                    s.component.name(),
                    s.pid.map_or_else(|| "-".to_owned(), |p| p.to_string()),
                    if s.running { "running" } else { "NOT RUNNING" }
                );
            }
            println!("  kubeconfig: {}", info.kubeconfig.display());
            if !all_running {
                return Ok(ExitCode::FAILURE);
            }
        }
        ClusterCommand::Env { name } => {
            let spec = ClusterSpec::named(&name)?;
            let info = ClusterInfo::load(&spec.state_dir)?;
            print!("{}", info.env_lines());
        }
        ClusterCommand::Build => {
            let bins = Binaries::resolve_or_build()?;
            println!(
                "control-plane binaries ready:\n  {}\n  {}\n  {}\n  {}",
                bins.etcd.display(),
                bins.apiserver.display(),
                bins.scheduler.display(),
                bins.controller_manager.display()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Resolves (or builds) the binaries and starts the named cluster.
pub(crate) fn up(name: &str) -> anyhow::Result<ClusterInfo> {
    up_spec(ClusterSpec::named(name)?)
}

/// Resolves (or builds) the binaries and starts the cluster `spec` describes.
pub(crate) fn up_spec(spec: ClusterSpec) -> anyhow::Result<ClusterInfo> {
    let name = spec.name.clone();
    let bins = Binaries::resolve_or_build()?;
    eprintln!("starting cluster `{name}`...");
    crate::runtime()?
        .block_on(spec.up(&bins))
        .with_context(|| format!("starting cluster `{name}`"))
}
