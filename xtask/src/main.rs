//! `cargo xtask`: project automation — the local cluster and the test run.
//!
//! Commands that would otherwise be nontrivial shell live here, so a fresh
//! machine needs nothing by hand: `cargo xtask test` builds (once) and starts a
//! real control plane, runs every test against it and stops it again.

mod bench;
mod cluster;
mod e2e;
mod test;
mod up;

use clap::{Parser, Subcommand};

/// Project automation for vk.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Manage a local Kubernetes 1.20.2 control plane (etcd, kube-apiserver,
    /// kube-scheduler, kube-controller-manager) running as plain processes.
    Cluster {
        #[command(subcommand)]
        command: cluster::ClusterCommand,
    },
    /// Run every test (unit, integration, doc) against a fresh local cluster.
    Test(test::TestArgs),
    /// The main job: a local cluster, the ACI emulator and vk with a Linux and
    /// a Windows virtual node; prints the KUBECONFIG to export.
    Up(up::UpArgs),
    /// Stop what `up` started, and the cluster.
    Down(up::DownArgs),
    /// Run the vk binary's end-to-end suites (bin/vk/tests/e2e_*) against a fresh local
    /// cluster or `--kubeconfig`; failures leave artifacts in target/e2e-artifacts/.
    E2e(e2e::E2eArgs),
    /// The long fault tests: SIGKILL during bursts, many rounds (bin/vk/tests/e2e_chaos.rs).
    Chaos(e2e::ChaosArgs),
    /// Benchmark vk against the local cluster and the ACI emulator, with a
    /// control experiment on the same API server (docs/performance.md).
    Bench(bench::BenchArgs),
    /// Run the simulated kubelet of the demo's agent node (started by `up`; test world only).
    #[command(hide = true)]
    AgentKubelet(up::AgentKubeletArgs),
}

fn main() -> std::process::ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,kube_client=off"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Cluster { command } => cluster::run(command),
        Command::Test(args) => test::run(args),
        Command::Up(args) => up::up(&args),
        Command::Down(args) => up::down(&args),
        Command::E2e(args) => e2e::e2e(&args),
        Command::Chaos(args) => e2e::chaos(&args),
        Command::Bench(args) => bench::run(&args),
        Command::AgentKubelet(args) => up::agent_kubelet(&args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// A current-thread runtime for the async parts of a command.
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}
