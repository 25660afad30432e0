//! `cargo xtask up | down`: the main job — a local cluster, the ACI emulator
//! and vk with a Linux and a Windows virtual node, plus the seed's regular
//! agent node (`aks-nodepool1-34126871-0`, 4 CPUs, served by the test kit's
//! simulated kubelet), ready for `kubectl`.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::Args;
use k8s_openapi::api::core::v1::Node;
use kube::Api;
use vk_control_plane::{ClusterInfo, ClusterSpec, process};

/// The nodes of the seed walkthrough.
const NODES: [(&str, &str); 2] = [
    ("virtual-kubelet-mycon-linux-westeurope", "linux"),
    ("virtual-kubelet-mycon-windows-westeurope", "windows"),
];

/// The seed's regular node: VM-backed in the article, simulated here
/// ([`vk_testkit::agent`]: Ready, Lease heartbeat, pods Running with an IP,
/// capacity honoured; no containers run).
pub(crate) const AGENT_NODE: &str = "aks-nodepool1-34126871-0";
/// The agent node's CPUs (4 GiB of memory each, 110 pods).
pub(crate) const AGENT_CPUS: u32 = 4;

#[derive(Debug, Args)]
pub(crate) struct UpArgs {
    /// Cluster name (the control plane's and the state directory's).
    #[arg(long, default_value = crate::cluster::DEFAULT_NAME)]
    name: String,
    /// Build and run optimised binaries.
    #[arg(long)]
    release: bool,
    /// The emulator's time scale: its realistic delays, throttling refills and
    /// rate windows run this many times faster (a 30 s provisioning takes 3 s).
    #[arg(long, default_value_t = 10.0)]
    time_scale: f64,
}

/// `cargo xtask agent-kubelet`: the simulated kubelet `up` runs in the background.
#[derive(Debug, Args)]
pub(crate) struct AgentKubeletArgs {
    /// The cluster's kubeconfig.
    #[arg(long)]
    kubeconfig: PathBuf,
    /// The node's name.
    #[arg(long, default_value = AGENT_NODE)]
    name: String,
    /// The node's CPUs.
    #[arg(long, default_value_t = AGENT_CPUS)]
    cpus: u32,
}

/// Runs the simulated agent kubelet until killed.
pub(crate) fn agent_kubelet(args: &AgentKubeletArgs) -> anyhow::Result<ExitCode> {
    crate::runtime()?.block_on(async {
        let client = vk_control_plane::kube_client(&args.kubeconfig).await?;
        let node = vk_testkit::agent::AgentNode::nodepool1(&args.name, args.cpus);
        let kubelet = vk_testkit::agent::AgentKubelet::start(client, node)
            .await
            .context("registering the agent node")?;
        println!("agent node {} is Ready", args.name);
        kubelet.run_forever().await;
        Ok(ExitCode::SUCCESS)
    })
}

#[derive(Debug, Args)]
pub(crate) struct DownArgs {
    /// Cluster name.
    #[arg(long, default_value = crate::cluster::DEFAULT_NAME)]
    name: String,
}

pub(crate) fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

pub(crate) fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| workspace_root().join("target"), PathBuf::from)
}

pub(crate) fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn random_hex() -> String {
    // Sub-second clock and pid: enough for a local, per-run client secret.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{:x}{:x}", nanos, std::process::id())
}

pub(crate) fn wait_for_url(log: &Path) -> anyhow::Result<String> {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while std::time::Instant::now() < deadline {
        if let Ok(text) = std::fs::read_to_string(log)
            && let Some(url) = text.lines().find(|l| l.starts_with("http://"))
        {
            return Ok(url.trim().to_owned());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    bail!(
        "the ACI emulator printed no URL within 30 s; see {}",
        log.display()
    )
}

pub(crate) fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

pub(crate) fn up(args: &UpArgs) -> anyhow::Result<ExitCode> {
    let spec = ClusterSpec::named(&args.name)?;
    let running = ClusterInfo::load(&spec.state_dir).is_ok()
        && vk_control_plane::status(&spec.state_dir)
            .iter()
            .all(|s| s.running);
    let info = if running {
        eprintln!("reusing running cluster `{}`", args.name);
        ClusterInfo::load(&spec.state_dir)?
    } else {
        crate::cluster::up(&args.name)?
    };
    let dir = spec.state_dir.join("vk");
    stop_services(&dir);
    // Fresh logs: the emulator's URL is read from its log.
    let _ = std::fs::remove_dir_all(dir.join("logs"));
    std::fs::create_dir_all(dir.join("logs"))?;

    eprintln!("building vk and aci-emulator...");
    let mut build = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    build
        .args(["build", "-p", "vk", "-p", "vk-aci-emulator"])
        .current_dir(workspace_root());
    if args.release {
        build.arg("--release");
    }
    if !build.status()?.success() {
        bail!("cargo build failed");
    }
    let bin = target_dir().join(if args.release { "release" } else { "debug" });

    let emu_port = free_port()?;
    process::spawn(
        &dir,
        "aci-emulator",
        &bin.join("aci-emulator"),
        &[
            format!("--listen=127.0.0.1:{emu_port}"),
            format!("--state-file={}", dir.join("aci-state.json").display()),
            "--quota-groups=1000".into(),
            "--quota-cores=4000".into(),
            // Realistic timings and throttling, faster.
            format!("--time-scale={}", args.time_scale),
        ],
    )?;
    let emulator = wait_for_url(&process::log_path(&dir, "aci-emulator"))?;

    let admin_port = free_port()?;
    let mut nodes = String::new();
    for (name, os) in NODES {
        nodes.push_str(&format!(
            "\n[[nodes]]\nname = \"{name}\"\nos = \"{os}\"\ninternal_ip = \"127.0.0.1\"\nkubelet_port = {}\n",
            free_port()?
        ));
    }
    let config = format!(
        "# Written by `cargo xtask up`: vk against the local cluster and the ACI emulator.\n\
         cluster_id = \"{name}\"\n\
         kubeconfig = \"{kubeconfig}\"\n\
         {nodes}\n\
         [aci]\n\
         subscription_id = \"00000000-0000-0000-0000-000000000000\"\n\
         resource_group = \"vk-{name}\"\n\
         region = \"westeurope\"\n\
         # Groups join a delegated subnet, as AKS virtual nodes do: every pod gets a\n\
         # private IP, with or without ports.\n\
         subnet_id = \"/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/vk-{name}/providers/Microsoft.Network/virtualNetworks/vk-{name}/subnets/aci\"\n\
         arm_endpoint = \"{emulator}\"\n\
         authority_host = \"{emulator}\"\n\n\
         [aci.usage]\n\
         # Azure Monitor's metrics (kubectl top, /stats/summary) from the emulator too.\n\
         endpoint = \"{emulator}\"\n\n\
         [aci.credentials]\n\
         kind = \"client-secret\"\n\
         tenant_id = \"vk-local\"\n\
         client_id = \"vk\"\n\
         client_secret = \"{secret}\"\n\n\
         [admin]\n\
         listen = \"127.0.0.1:{admin_port}\"\n\n\
         [kubelet]\n\
         # The API server's kubelet-client certificate is signed by the cluster CA.\n\
         client_ca = \"{ca}\"\n",
        ca = info.state_dir.join("ca.crt").display(),
        name = args.name,
        kubeconfig = info.kubeconfig.display(),
        secret = random_hex(),
    );
    let config_path = dir.join("vk.toml");
    {
        use std::io::Write as _;
        use std::os::unix::fs::OpenOptionsExt as _;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&config_path)?;
        f.write_all(config.as_bytes())?;
    }
    // The agent node's simulated kubelet: this very binary, in the background.
    process::spawn(
        &dir,
        "agent-kubelet",
        &std::env::current_exe().context("the xtask binary's path")?,
        &[
            "agent-kubelet".into(),
            format!("--kubeconfig={}", info.kubeconfig.display()),
            format!("--name={AGENT_NODE}"),
            format!("--cpus={AGENT_CPUS}"),
        ],
    )?;
    process::spawn(
        &dir,
        "vk",
        &bin.join("vk"),
        &[format!("--config={}", config_path.display())],
    )?;

    eprintln!("waiting for the agent node and both virtual nodes to be Ready...");
    let ready = crate::runtime()?.block_on(wait_nodes_ready(&info.kubeconfig));
    if let Err(e) = ready {
        eprintln!(
            "--- last lines of {} ---\n{}",
            process::log_path(&dir, "vk").display(),
            tail(&process::log_path(&dir, "vk"), 40)
        );
        return Err(e);
    }
    println!(
        "vk is up: cluster `{name}`, ACI emulator at {emulator}, admin port 127.0.0.1:{admin_port}\n\n\
         export KUBECONFIG={kubeconfig}\n\
         kubectl get nodes\n\n\
         logs: {logs}\n\
         stop: cargo xtask down --name {name}",
        name = args.name,
        kubeconfig = info.kubeconfig.display(),
        logs = dir.join("logs").display(),
    );
    Ok(ExitCode::SUCCESS)
}

async fn wait_nodes_ready(kubeconfig: &Path) -> anyhow::Result<()> {
    let client = vk_control_plane::kube_client(kubeconfig).await?;
    let nodes: Api<Node> = Api::all(client);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    loop {
        let mut ready = 0;
        for name in NODES.iter().map(|(n, _)| *n).chain([AGENT_NODE]) {
            let is_ready = nodes.get_opt(name).await.ok().flatten().is_some_and(|n| {
                n.status
                    .and_then(|s| s.conditions)
                    .unwrap_or_default()
                    .iter()
                    .any(|c| c.type_ == "Ready" && c.status == "True")
            });
            ready += usize::from(is_ready);
        }
        if ready == NODES.len() + 1 {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            bail!("the agent node and the virtual nodes were not Ready within 90 s");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

pub(crate) fn stop_services(dir: &Path) {
    for name in ["vk", "agent-kubelet", "aci-emulator"] {
        if let Some(rec) = process::read_pid_file(dir, name) {
            process::stop(&rec, Duration::from_secs(10));
        }
    }
}

pub(crate) fn down(args: &DownArgs) -> anyhow::Result<ExitCode> {
    let spec = ClusterSpec::named(&args.name)?;
    stop_services(&spec.state_dir.join("vk"));
    vk_control_plane::down(&spec.state_dir)
        .with_context(|| format!("stopping cluster `{}`", args.name))?;
    println!(
        "vk, the ACI emulator and cluster `{}` are stopped",
        args.name
    );
    Ok(ExitCode::SUCCESS)
}
