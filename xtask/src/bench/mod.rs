// Over 800 lines: the benchmark driver: scenario setup, measurement and report are one flow.
//! `cargo xtask bench`: vk against the local cluster and the ACI emulator,
//! N pods, compared with a control experiment on the same API server
//! (`--backend zero-delay`, the default) or with the ideal set by ACI's limits
//! and delays (`--backend realistic`). See docs/performance.md.

mod control;
mod probe;
mod realistic;
mod report;
mod workload;

use crate::up::{free_port, stop_services, tail, target_dir, wait_for_url, workspace_root};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::{Args, ValueEnum};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Node;
use k8s_openapi::jiff::Timestamp;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use vk_control_plane::{ClusterInfo, ClusterSpec, process};

use report::{BenchReport, Latency, ModeReport};
use workload::Tracker;

/// `--kube-api-qps` and `--kube-api-burst` of the bench cluster's scheduler and controller-manager.
const CONTROLLER_QPS: u32 = 1000;
const CONTROLLER_BURST: u32 = 2000;

/// The benchmark's own cluster (fresh each run).
const CLUSTER: &str = "bench";
/// vk's one node.
const NODE: &str = "virtual-kubelet-bench-linux";

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Mode {
    /// Pods created with `spec.nodeName` already set to vk's node.
    Nodename,
    /// A Deployment whose pods go through the scheduler.
    Deployment,
    /// Both, one after the other.
    Both,
}

/// What the emulator behind vk does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Backend {
    /// No delays, no ARM throttling, no quotas; vk's ACI client limits lifted.
    ZeroDelay,
    /// ACI's real limits and timings (at `--time-scale`), a raised quota that
    /// vk is configured with too; vk's ACI client limits at their defaults.
    Realistic,
}

#[derive(Debug, Args)]
pub(crate) struct BenchArgs {
    /// Number of pods.
    #[arg(long, default_value_t = 1000)]
    pods: usize,
    /// Which workload to run.
    #[arg(long, value_enum, default_value_t = Mode::Both)]
    mode: Mode,
    /// Leave the cluster, the emulator and vk running afterwards.
    #[arg(long)]
    keep: bool,
    /// How long to sample ACI calls with every pod idle.
    #[arg(long, default_value_t = 60)]
    steady_secs: u64,
    /// The emulator's behaviour.
    #[arg(long, value_enum, default_value_t = Backend::ZeroDelay)]
    backend: Backend,
    /// Realistic backend: divide the emulator's delays, windows and refill
    /// periods by this (vk's own limits and windows stay real time).
    #[arg(long, default_value_t = 1.0)]
    time_scale: f64,
    /// Realistic backend: ACI creates (and deletes) per 5 minutes, for the
    /// emulator and vk (default: --pods, at least ACI's 100).
    #[arg(long)]
    quota_per_5_minutes: Option<u32>,
    /// Realistic backend: creates (and deletes) per hour (default: 3× the
    /// 5-minute quota, at least ACI's 300).
    #[arg(long)]
    quota_per_hour: Option<u32>,
}

impl BenchArgs {
    fn realistic(&self) -> Option<realistic::Setting> {
        (self.backend == Backend::Realistic).then(|| {
            realistic::Setting::new(
                self.pods,
                self.time_scale,
                self.quota_per_5_minutes,
                self.quota_per_hour,
            )
        })
    }
}

/// What the harness started.
struct Setup {
    vk_pid: i32,
    vk_metrics: SocketAddr,
    emulator: SocketAddr,
    vk_config: String,
    dir: PathBuf,
    realistic: Option<realistic::Setting>,
}

pub(crate) fn run(args: &BenchArgs) -> anyhow::Result<ExitCode> {
    if args.pods == 0 {
        bail!("--pods must be at least 1");
    }
    if !(args.time_scale.is_finite() && args.time_scale > 0.0) {
        bail!("--time-scale must be a positive number");
    }
    if args.backend == Backend::ZeroDelay
        && (args.time_scale != 1.0
            || args.quota_per_5_minutes.is_some()
            || args.quota_per_hour.is_some())
    {
        bail!("--time-scale and --quota-* apply to --backend realistic only");
    }
    let command = format!(
        "cargo xtask {}",
        std::env::args().skip(1).collect::<Vec<_>>().join(" ")
    );
    eprintln!("bench: building vk and aci-emulator (release)…");
    let status = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args(["build", "--release", "-p", "vk", "-p", "vk-aci-emulator"])
        .current_dir(workspace_root())
        .status()?;
    if !status.success() {
        bail!("cargo build --release failed");
    }
    let bin = target_dir().join("release");

    let spec = ClusterSpec::named(CLUSTER)?;
    if spec.state_dir.exists() {
        eprintln!("bench: removing the previous `{CLUSTER}` cluster…");
        stop_services(&spec.state_dir.join("vk"));
        vk_control_plane::down(&spec.state_dir).context("stopping the previous bench cluster")?;
    }
    // Kubernetes' default client limits of the scheduler (50 QPS) and the
    // controller-manager (20 QPS) would make the deployment mode measure them.
    let info = crate::cluster::up_spec(
        spec.clone()
            .with_controller_client_limit(CONTROLLER_QPS, CONTROLLER_BURST),
    )?;
    let result = start_and_measure(args, &info, &bin, &command);
    if args.keep {
        eprintln!(
            "bench: --keep: cluster `{CLUSTER}`, the emulator and vk keep running \
             (export KUBECONFIG={}; stop: cargo xtask down --name {CLUSTER})",
            info.kubeconfig.display()
        );
    } else {
        stop_services(&spec.state_dir.join("vk"));
        if let Err(e) = vk_control_plane::down(&spec.state_dir) {
            eprintln!("bench: stopping the cluster: {e}");
        }
    }
    let report = result?;
    let md = report.to_markdown();
    println!("{md}");
    let dir = workspace_root().join("target").join("bench");
    std::fs::create_dir_all(&dir)?;
    let stamp = report.date.replace([':', '-'], "");
    let json = serde_json::to_string_pretty(&report)?;
    for (name, body) in [
        (format!("bench-{stamp}.json"), &json),
        (format!("bench-{stamp}.md"), &md),
        ("latest.json".to_owned(), &json),
        ("latest.md".to_owned(), &md),
    ] {
        std::fs::write(dir.join(&name), body)?;
    }
    eprintln!("bench: report saved in {}", dir.display());
    Ok(ExitCode::SUCCESS)
}

fn start_and_measure(
    args: &BenchArgs,
    info: &ClusterInfo,
    bin: &Path,
    command: &str,
) -> anyhow::Result<BenchReport> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let client = rt.block_on(vk_control_plane::kube_client(&info.kubeconfig))?;
    let stamp = Timestamp::now().strftime("%H%M%S").to_string();

    // 1. The control, before vk exists.
    let control = rt.block_on(control::run(
        &client,
        &format!("bench-control-{stamp}"),
        args.pods,
    ))?;
    eprintln!(
        "bench: control: {:.2} s to all Running, {:.2} s to delete all",
        control.running_secs, control.delete_secs
    );
    let control_deployment = if matches!(args.mode, Mode::Deployment | Mode::Both) {
        let c = rt.block_on(control::run_deployment(
            &client,
            &format!("bench-control-deploy-{stamp}"),
            args.pods,
        ))?;
        eprintln!(
            "bench: control (deployment): {:.2} s to all Running, {:.2} s to delete all",
            c.running_secs, c.delete_secs
        );
        Some(c)
    } else {
        None
    };

    // 2. The emulator and vk.
    let setup = start_services(args, info, bin)?;
    let ready = rt.block_on(wait_node_ready(&client));
    if let Err(e) = ready {
        eprintln!(
            "--- last lines of {} ---\n{}",
            process::log_path(&setup.dir, "vk").display(),
            tail(&process::log_path(&setup.dir, "vk"), 40)
        );
        return Err(e);
    }
    // Let vk's pod watch and status sync start.
    std::thread::sleep(Duration::from_secs(3));

    let mut modes = Vec::new();
    let selected: &[&str] = match args.mode {
        Mode::Nodename => &["nodename"],
        Mode::Deployment => &["deployment"],
        Mode::Both => &["nodename", "deployment"],
    };
    for mode in selected {
        let ns = format!("bench-{mode}-{stamp}");
        let mut m = rt.block_on(run_mode(&client, &setup, args, mode, &ns))?;
        let c = match (*mode, &control_deployment) {
            ("deployment", Some(cd)) => cd,
            _ => &control,
        };
        m.running_ratio_to_control =
            (c.running_secs > 0.0).then(|| m.running_secs / c.running_secs);
        m.delete_ratio_to_control = (c.delete_secs > 0.0).then(|| m.delete_secs / c.delete_secs);
        modes.push(m);
    }
    let vk_log = process::log_path(&setup.dir, "vk");
    let warnings = std::fs::read_to_string(&vk_log)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(" WARN ") || l.contains(" ERROR "))
        .count();
    let mut notes = vec![
        "control: a plain client (no vk) creates the same pods bound to a fake node, writes one \
         status patch per pod (Running, Ready, one running container; 32 concurrent); for the \
         deletion the bench deletes them with the default grace and the control confirms each \
         with a grace-0 delete as soon as its watch sees the deletion (what a kubelet does)."
            .to_owned(),
        "latency (watch): from the create answer (or first watch event, for Deployment pods) to \
         the first watch event showing Running+Ready; creationTimestamp latencies are up to 1 s \
         longer (whole seconds)."
            .to_owned(),
        format!(
            "steady state: sampled for {} s, after a 10 s settle once every pod was Running.",
            args.steady_secs
        ),
    ];
    if let Some(r) = &setup.realistic {
        notes.push(format!(
            "backend: emulator at ACI's real limits and timings, time scale {}: ARM buckets \
             reads {}+{}/s, writes {}+{}/s, deletes {}+{}/s per principal; create and delete \
             quota {} per 5 min and {} per hour (raised; vk's aci.quotas the same); \
             provisioning {} ms, busybox pull {} ms (range {}-{}), start {} ms, delete {} ms \
             (all divided by the time scale). vk's ACI client limits, kube qps/burst and \
             reconciler at their defaults.",
            r.time_scale,
            realistic::aci::ARM_READS.0,
            realistic::aci::ARM_READS.1,
            realistic::aci::ARM_WRITES.0,
            realistic::aci::ARM_WRITES.1,
            realistic::aci::ARM_DELETES.0,
            realistic::aci::ARM_DELETES.1,
            r.quota_per_5_minutes,
            r.quota_per_hour,
            realistic::aci::PROVISIONING_MS,
            realistic::pull_pick_ms(realistic::IMAGE_CANONICAL, realistic::aci::PULL_LINUX_MS),
            realistic::aci::PULL_LINUX_MS.0,
            realistic::aci::PULL_LINUX_MS.1,
            realistic::aci::START_LINUX_MS,
            realistic::aci::DELETE_MS,
        ));
        notes.push(
            "ideal: the N-th create as early as ARM's write bucket (full at the first create, \
             refilled per period) and the quota windows allow, plus one group's provisioning, \
             pull and start; the API server's own time (the control) is not in it. Create \
             rate: the ideal spend over vk's (time until the emulator had answered N creates \
             with 201, sampled every 250 ms, from the first pod create). Added latency: the \
             watch's first Running+Ready sighting minus the container's startTime in ACI \
             (read through ARM after the burst, as a separate principal). Deletion: the \
             ideal is the N-th DELETE under the delete bucket and windows (a pod is gone once \
             ACI accepted its group's DELETE; the group stays Deleting for the delete delay)."
                .to_owned(),
        );
        if r.time_scale != 1.0 {
            notes.push(format!(
                "time scale {}: the emulator's windows and refills are {} times faster, vk's \
                 ACI client limits and quota windows are real time — where they bind, vk is \
                 slower than the scaled ideal by design.",
                r.time_scale, r.time_scale
            ));
        }
    } else {
        notes.push(
            "ACI client-side rate limits are set far above any rate the emulator sees (the \
             emulator is the backend: ARM's own limits are not modelled); kube qps/burst and \
             the reconciler settings are vk's defaults."
                .to_owned(),
        );
    }
    if control_deployment.is_some() {
        notes.insert(
            1,
            "control (deployment): the same Deployment through the scheduler and the ReplicaSet \
             controller to a schedulable fake node (Ready, no taints, room for every pod), whose \
             \"kubelet\" is a watch writing one Running status per pod and confirming each \
             deletion with a grace-0 delete; vk's deployment mode is compared with it."
                .to_owned(),
        );
    }
    if warnings > 0 {
        notes.push(format!(
            "vk logged {warnings} WARN/ERROR lines during the run ({}).",
            vk_log.display()
        ));
    }
    Ok(BenchReport {
        date: Timestamp::now()
            .round(k8s_openapi::jiff::Unit::Second)
            .unwrap_or_else(|_| Timestamp::now())
            .to_string(),
        command: command.to_owned(),
        machine: probe::machine(),
        pods: args.pods,
        backend: match args.backend {
            Backend::ZeroDelay => "zero-delay".to_owned(),
            Backend::Realistic => format!(
                "realistic (emulator at ACI's real limits and timings, time scale {})",
                args.time_scale
            ),
        },
        vk_config: setup.vk_config,
        control,
        control_deployment,
        modes,
        notes,
    })
}

fn start_services(args: &BenchArgs, info: &ClusterInfo, bin: &Path) -> anyhow::Result<Setup> {
    let dir = info.state_dir.join("vk");
    let _ = std::fs::remove_dir_all(dir.join("logs"));
    std::fs::create_dir_all(dir.join("logs"))?;
    let n = args.pods;
    let emu_port = free_port()?;
    let realistic = args.realistic();
    let mut emulator_args = vec![
        format!("--listen=127.0.0.1:{emu_port}"),
        format!("--quota-groups={}", 2 * n + 100),
        format!("--quota-cores={}", 4 * n + 100),
    ];
    match &realistic {
        Some(r) => emulator_args.extend(r.emulator_flags()),
        // Zero-delay mode: no delays, no ARM throttling, no create/delete rate quotas.
        None => emulator_args.extend([
            "--fast".into(),
            "--pull-delay-ms=0".into(),
            "--start-delay-ms=0".into(),
            "--delete-delay-ms=0".into(),
        ]),
    }
    process::spawn(
        &dir,
        "aci-emulator",
        &bin.join("aci-emulator"),
        &emulator_args,
    )?;
    let emulator_url = wait_for_url(&process::log_path(&dir, "aci-emulator"))?;
    let admin_port = free_port()?;
    let kubelet_port = free_port()?;
    let capacity = n.max(1000) + 100;
    let config = format!(
        "# Written by `cargo xtask bench`.\n\
         cluster_id = \"bench\"\n\
         kubeconfig = \"{kubeconfig}\"\n\n\
         [[nodes]]\n\
         name = \"{NODE}\"\n\
         os = \"linux\"\n\
         internal_ip = \"127.0.0.1\"\n\
         kubelet_port = {kubelet_port}\n\n\
         [nodes.capacity]\n\
         pods = {capacity}\n\n\
         [aci]\n\
         subscription_id = \"00000000-0000-0000-0000-000000000000\"\n\
         resource_group = \"vk-bench\"\n\
         region = \"westeurope\"\n\
         arm_endpoint = \"{emulator_url}\"\n\
         authority_host = \"{emulator_url}\"\n\n\
         {limits}\n\
         [aci.credentials]\n\
         kind = \"client-secret\"\n\
         tenant_id = \"vk-local\"\n\
         client_id = \"vk\"\n\
         client_secret = \"bench-{secret}\"\n\n\
         [admin]\n\
         listen = \"127.0.0.1:{admin_port}\"\n\n\
         [kubelet]\n\
         client_ca = \"{ca}\"\n",
        kubeconfig = info.kubeconfig.display(),
        ca = info.state_dir.join("ca.crt").display(),
        secret = std::process::id(),
        limits = realistic.as_ref().map_or_else(
            || ZERO_DELAY_LIMITS.to_owned(),
            realistic::Setting::vk_quotas
        ),
    );
    let config_path = dir.join("vk.toml");
    std::fs::write(&config_path, &config)?;
    let child = process::spawn(
        &dir,
        "vk",
        &bin.join("vk"),
        &[format!("--config={}", config_path.display())],
    )?;
    let vk_pid = i32::try_from(child.id())?;
    Ok(Setup {
        vk_pid,
        vk_metrics: SocketAddr::from(([127, 0, 0, 1], admin_port)),
        emulator: SocketAddr::from(([127, 0, 0, 1], emu_port)),
        vk_config: match &realistic {
            None => format!(
                "release build, one linux node ({NODE}, capacity {capacity} pods), kube \
                 qps/burst and reconciler at defaults, ACI client limits 10^6/s; emulator with \
                 zero delays, quota {} groups / {} cores, page size 100; scheduler and \
                 controller-manager with --kube-api-qps {CONTROLLER_QPS} --kube-api-burst \
                 {CONTROLLER_BURST}",
                2 * n + 100,
                4 * n + 100
            ),
            Some(r) => format!(
                "release build, one linux node ({NODE}, capacity {capacity} pods), kube \
                 qps/burst, reconciler and ACI client limits at defaults, aci.quotas {} per \
                 5 min / {} per hour; emulator at ACI's limits and timings, time scale {}, \
                 quota {} groups / {} cores, page size 100; scheduler and controller-manager \
                 with --kube-api-qps {CONTROLLER_QPS} --kube-api-burst {CONTROLLER_BURST}",
                r.quota_per_5_minutes,
                r.quota_per_hour,
                r.time_scale,
                2 * n + 100,
                4 * n + 100
            ),
        },
        dir,
        realistic,
    })
}

/// vk's ACI limits in the zero-delay mode.
const ZERO_DELAY_LIMITS: &str =
    "# The emulator is the backend: client-side ARM limits far above what it sees.
[aci.rate_limit]
reads_per_sec = 1000000.0
read_burst = 1000000
writes_per_sec = 1000000.0
write_burst = 1000000

# Zero-delay mode: no ACI create/delete quota either.
[aci.quotas]
creates_per_5_minutes = 0
creates_per_hour = 0
deletes_per_5_minutes = 0
deletes_per_hour = 0
";

async fn wait_node_ready(client: &Client) -> anyhow::Result<()> {
    let nodes: Api<Node> = Api::all(client.clone());
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let ready = nodes.get_opt(NODE).await.ok().flatten().is_some_and(|n| {
            n.status
                .and_then(|s| s.conditions)
                .unwrap_or_default()
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True")
        });
        if ready {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("the virtual node was not Ready within 90 s");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The counters the harness diffs around each phase.
#[derive(Debug, Clone, Default)]
struct Snapshot {
    cpu: f64,
    kube: BTreeMap<String, f64>,
    throttled: f64,
    /// `vk_aci_rate_limited`: ARM requests vk's own client limiter delayed.
    aci_delayed: f64,
    pod_counters: BTreeMap<String, f64>,
    aci: probe::Counters,
}

fn snapshot(setup: &Setup, ticks: f64) -> anyhow::Result<Snapshot> {
    let cpu = probe::cpu_secs(setup.vk_pid, ticks)?;
    let text = probe::http_get(setup.vk_metrics, "/metrics").context("vk's /metrics")?;
    let samples = probe::parse_metrics(&text);
    let mut pod_counters = BTreeMap::new();
    for s in &samples {
        if let Some(short) = s
            .name
            .strip_prefix("vk_pod_")
            .and_then(|n| n.strip_suffix("_total"))
        {
            *pod_counters.entry(short.to_owned()).or_insert(0.0) += s.value;
        }
    }
    let aci = probe::parse_counters(
        &probe::http_get(setup.emulator, "/_emulator/counters").context("emulator counters")?,
    )?;
    Ok(Snapshot {
        cpu,
        kube: probe::sum_by(&samples, "vk_kube_requests_total", Some("verb")),
        throttled: probe::sum_by(&samples, "vk_kube_throttled_total", None)
            .values()
            .sum(),
        aci_delayed: samples
            .iter()
            .filter(|s| s.name.starts_with("vk_aci_rate_limited"))
            .map(|s| s.value)
            .sum(),
        pod_counters,
        aci,
    })
}

fn writes(per_verb: &BTreeMap<String, f64>) -> f64 {
    ["create", "update", "patch", "delete"]
        .iter()
        .map(|v| per_verb.get(*v).copied().unwrap_or(0.0))
        .sum()
}

fn nonzero(m: BTreeMap<String, f64>) -> BTreeMap<String, f64> {
    m.into_iter().filter(|(_, v)| v.abs() > 1e-9).collect()
}

async fn run_mode(
    client: &Client,
    setup: &Setup,
    args: &BenchArgs,
    mode: &str,
    ns: &str,
) -> anyhow::Result<ModeReport> {
    let n = args.pods;
    let ticks = probe::clock_ticks();
    let ideal = setup.realistic.as_ref().map(|r| r.ideal(n));
    // Realistic: room for vk at a quarter of the allowed rate.
    let limit = Duration::from_secs(
        120 + n as u64 / 2
            + ideal.as_ref().map_or(0, |i| {
                (4.0 * i.running_secs.max(i.delete_spend_secs)) as u64
            }),
    );
    workload::create_namespace(client, ns).await?;
    let tracker = Arc::new(Tracker::default());
    let watch = tokio::spawn(workload::watch_pods(
        client.clone(),
        ns.to_owned(),
        Arc::clone(&tracker),
    ));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let peak_rss_reset = probe::reset_peak_rss(setup.vk_pid);

    // Creation.
    eprintln!("bench: {mode}: creating {n} pods…");
    let s0 = snapshot(setup, ticks)?;
    let t0 = throttled_or_empty(setup);
    let start = Instant::now();
    let create_spend = setup
        .realistic
        .as_ref()
        .map(|_| spend_sampler(setup.emulator, &s0.aci, "create", "201", n, start));
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), ns);
    if mode == "nodename" {
        workload::create_pods(client, ns, n, Some(NODE), &tracker, None).await?;
    } else {
        deployments
            .create(&PostParams::default(), &workload::deployment("bench", n))
            .await
            .context("creating the Deployment")?;
    }
    let (running, _) =
        workload::wait_until(&tracker, start, limit, &format!("{mode} Running"), |c| {
            c.1 >= n
        })
        .await;
    let s1 = snapshot(setup, ticks)?;
    let t1 = throttled_or_empty(setup);
    let running_complete = tracker.counts().1;
    let (lat_watch, lat_ts) = tracker.latencies();
    eprintln!(
        "bench: {mode}: {running_complete}/{n} Running+Ready in {:.2} s",
        running.as_secs_f64()
    );
    let create_spend_secs = match create_spend {
        Some(h) => finish_sampler(h).await,
        None => None,
    };
    // Realistic: the containers' start times in ACI, for the added latency
    // (read before the steady-state sample, as another principal).
    let added = if setup.realistic.is_some() {
        eprintln!("bench: {mode}: reading the containers' start times in ACI…");
        let emulator = setup.emulator;
        let ns_owned = ns.to_owned();
        let starts = tokio::task::spawn_blocking(move || {
            realistic::container_starts(emulator, SUBSCRIPTION, RESOURCE_GROUP, &ns_owned)
        })
        .await??;
        let walls: BTreeMap<String, Timestamp> = tracker.running_walls().into_iter().collect();
        starts
            .iter()
            .filter_map(|(pod, start)| {
                let seen = walls.get(pod)?;
                Some(seen.duration_since(*start).as_secs_f64())
            })
            .collect::<Vec<f64>>()
    } else {
        Vec::new()
    };

    // Steady state.
    tokio::time::sleep(Duration::from_secs(10)).await;
    eprintln!(
        "bench: {mode}: sampling steady state for {} s…",
        args.steady_secs
    );
    let s2 = snapshot(setup, ticks)?;
    tokio::time::sleep(Duration::from_secs(args.steady_secs)).await;
    let s3 = snapshot(setup, ticks)?;
    let per_min = 60.0 / args.steady_secs.max(1) as f64;

    // Deletion.
    eprintln!("bench: {mode}: deleting {n} pods…");
    let s4 = snapshot(setup, ticks)?;
    let t4 = throttled_or_empty(setup);
    let start = Instant::now();
    let delete_spend = setup
        .realistic
        .as_ref()
        .map(|_| spend_sampler(setup.emulator, &s4.aci, "delete", "202", n, start));
    if mode == "nodename" {
        workload::delete_pods(client, ns, n, None).await?;
    } else {
        deployments
            .patch(
                "bench",
                &PatchParams::default(),
                &Patch::Merge(serde_json::json!({"spec": {"replicas": 0}})),
            )
            .await
            .context("scaling the Deployment to 0")?;
    }
    let (deleted, _) =
        workload::wait_until(&tracker, start, limit, &format!("{mode} deletion"), |c| {
            c.2 >= c.0 && c.0 >= n
        })
        .await;
    let s5 = snapshot(setup, ticks)?;
    let t5 = throttled_or_empty(setup);
    let delete_spend_secs = match delete_spend {
        Some(h) => finish_sampler(h).await,
        None => None,
    };
    let failed_pods = tracker.failed();
    let deleted_complete = tracker.counts().2;
    let peak_rss_mb = probe::status_mb(setup.vk_pid, "VmHWM").unwrap_or(0.0);
    eprintln!(
        "bench: {mode}: {deleted_complete}/{n} deleted in {:.2} s",
        deleted.as_secs_f64()
    );
    watch.abort();
    if mode == "deployment" {
        let _ = deployments.delete("bench", &DeleteParams::default()).await;
    }
    workload::delete_namespace(client, ns).await;

    let nf = n as f64;
    let api_create = nonzero(probe::diff(&s0.kube, &s1.kube));
    let api_delete = nonzero(probe::diff(&s4.kube, &s5.kube));
    let by_op = |s: &Snapshot| probe::counters_by_op(&s.aci);
    let steady_aci_per_min = probe::scale(
        &nonzero(probe::diff(&by_op(&s2), &by_op(&s3))),
        1.0 / per_min,
    );
    let realistic = ideal.map(|ideal| {
        let period = setup.realistic.as_ref().map_or(1.0, |r| 1.0 / r.time_scale);
        let steady_reads_per_min = realistic::reads(&steady_aci_per_min);
        realistic::RealisticReport {
            running_ratio_to_ideal: (ideal.running_secs > 0.0)
                .then(|| running.as_secs_f64() / ideal.running_secs),
            create_spend_secs,
            create_rate_ratio: realistic::rate_ratio(
                ideal.create_spend_secs,
                create_spend_secs,
                period,
            ),
            added_latency: Latency::of(&added),
            delete_spend_secs,
            delete_rate_ratio: realistic::rate_ratio(
                ideal.delete_spend_secs,
                delete_spend_secs,
                period,
            ),
            delete_ratio_to_ideal: (ideal.delete_spend_secs >= period)
                .then(|| deleted.as_secs_f64() / ideal.delete_spend_secs),
            throttled_create: nonzero(probe::diff(&t0, &t1)),
            throttled_delete: nonzero(probe::diff(&t4, &t5)),
            steady_reads_per_min,
            steady_reads_share: if ideal.read_budget_per_min > 0.0 {
                steady_reads_per_min / ideal.read_budget_per_min
            } else {
                0.0
            },
            failed_pods,
            ideal,
        }
    });
    Ok(ModeReport {
        mode: mode.to_owned(),
        pods: n,
        running_secs: running.as_secs_f64(),
        running_complete,
        pods_per_sec: report::pods_per_sec(running_complete, running),
        latency_watch: Latency::of(&lat_watch),
        latency_creation_ts: Latency::of(&lat_ts),
        running_ratio_to_control: None,
        delete_secs: deleted.as_secs_f64(),
        deleted_complete,
        delete_ratio_to_control: None,
        cpu_create_secs: s1.cpu - s0.cpu,
        cpu_delete_secs: s5.cpu - s4.cpu,
        peak_rss_mb,
        peak_rss_reset,
        api_writes_per_pod_create: writes(&api_create) / nf,
        api_writes_per_pod_delete: writes(&api_delete) / nf,
        api_per_pod_create: probe::scale(&api_create, nf),
        api_per_pod_delete: probe::scale(&api_delete, nf),
        kube_throttled: s5.throttled - s0.throttled,
        aci_delayed_create: s1.aci_delayed - s0.aci_delayed,
        aci_delayed_delete: s5.aci_delayed - s4.aci_delayed,
        aci_per_pod_create: probe::scale(&nonzero(probe::diff(&by_op(&s0), &by_op(&s1))), nf),
        aci_per_pod_delete: probe::scale(&nonzero(probe::diff(&by_op(&s4), &by_op(&s5))), nf),
        aci_errors: nonzero(probe::diff(
            &probe::counters_errors(&s0.aci),
            &probe::counters_errors(&s5.aci),
        )),
        steady_secs: args.steady_secs,
        steady_aci_per_min,
        steady_api_per_min: probe::scale(&nonzero(probe::diff(&s2.kube, &s3.kube)), 1.0 / per_min),
        vk_pod_counters: nonzero(probe::diff(&s0.pod_counters, &s5.pod_counters)),
        realistic,
    })
}

/// vk's subscription and resource group in the emulator.
const SUBSCRIPTION: &str = "00000000-0000-0000-0000-000000000000";
const RESOURCE_GROUP: &str = "vk-bench";

/// The emulator's 429 counts, empty if it cannot be read.
fn throttled_or_empty(setup: &Setup) -> BTreeMap<String, f64> {
    if setup.realistic.is_none() {
        return BTreeMap::new();
    }
    realistic::throttled(setup.emulator).unwrap_or_else(|e| {
        eprintln!("bench: reading the emulator's throttle counts: {e:#}");
        BTreeMap::new()
    })
}

/// Polls the emulator's counters every 250 ms until `n` more `op` calls were
/// answered with `status` than in `base`; the seconds from `start` then.
fn spend_sampler(
    emulator: SocketAddr,
    base: &probe::Counters,
    op: &'static str,
    status: &'static str,
    n: usize,
    start: Instant,
) -> tokio::task::JoinHandle<Option<f64>> {
    let target = realistic::count(base, op, status) + n as f64;
    tokio::spawn(async move {
        loop {
            let body = tokio::task::spawn_blocking(move || {
                probe::http_get(emulator, "/_emulator/counters")
            })
            .await
            .ok()?
            .ok();
            let now = start.elapsed().as_secs_f64();
            if let Some(c) = body.and_then(|b| probe::parse_counters(&b).ok())
                && realistic::count(&c, op, status) >= target
            {
                return Some(now);
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    })
}

/// The sampler's answer once the phase is over (it has one within a second
/// when every operation happened; `None` otherwise).
async fn finish_sampler(h: tokio::task::JoinHandle<Option<f64>>) -> Option<f64> {
    let abort = h.abort_handle();
    match tokio::time::timeout(Duration::from_secs(2), h).await {
        Ok(r) => r.ok().flatten(),
        Err(_) => {
            abort.abort();
            None
        }
    }
}
