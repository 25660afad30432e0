//! `vk`: a virtual kubelet for Azure Container Instances.
//!
//! The binary is thin: it composes the library crates under `crates/`. Node
//! registration, the pod reconciler and the kubelet API land with their issues;
//! until then it only reports its version and what it is built from.

use clap::Parser;

/// A virtual kubelet that runs Kubernetes pods on Azure Container Instances.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {}

fn main() -> anyhow::Result<()> {
    let _cli = Cli::parse();
    println!(
        "vk {} (Kubernetes API v1.33 types); the node and pod controllers are not wired in yet",
        env!("CARGO_PKG_VERSION")
    );
    Ok(())
}
