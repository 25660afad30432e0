// Over 800 lines: the fault scenarios share one harness and emulator fixture; one test per fault.
//! Fault tests: vk SIGKILLed during bursts, the API server and etcd restarted,
//! the ACI emulator restarted with and without its state, and ACI faults
//! (429 storms, long 503s, slow answers, dropped connections, provisioning
//! failures). Each checks that no pod is lost, stuck or run twice: container
//! groups equal live pods one to one. See docs/reliability.md.
//!
//! `VK_CHAOS_ROUNDS` (default 2) sets the kill rounds of
//! `sigkill_during_a_burst`; `VK_CHAOS_SEED` replays a run (the seed is printed).
//! No timing thresholds: every wait has a generous deadline only.
#![allow(clippy::unwrap_used)]

#[path = "e2e/harness.rs"]
mod harness;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use harness::{Vk, client, config, emulator, emulator_with_state, unique, wait_ready};
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{DeleteParams, ListParams, PostParams};
use kube::{Api, Client};
use vk_aci_emulator::{FaultRule, ProvisioningFailure, Quota, RunningEmulator};
use vk_provider_aci::group_name;
use vk_testkit::pod::running_ready;
use vk_testkit::{TestEnv, wait};

const FAST: &str = "[reconciler]\nsync_interval_secs = 1\nsteady_sync_interval_secs = 5\norphan_gc_grace_secs = 5\n\
                    [aci.rate_limit]\nreads_per_sec = 1000.0\nread_burst = 1000\nwrites_per_sec = 1000.0\nwrite_burst = 1000\n[aci.quotas]\ncreates_per_5_minutes = 0\ncreates_per_hour = 0\ndeletes_per_5_minutes = 0\ndeletes_per_hour = 0\n";

/// A small deterministic generator (splitmix64), so a run can be replayed from its seed.
struct Rng(u64);

impl Rng {
    fn from_env(test: &str) -> Self {
        let seed = std::env::var("VK_CHAOS_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos() as u64)
                    .unwrap_or_default()
            });
        eprintln!("[{test}] seed {seed} (replay with VK_CHAOS_SEED={seed})");
        Self(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A random duration in `[0, max_ms)` milliseconds.
    fn millis(&mut self, max_ms: u64) -> Duration {
        Duration::from_millis(self.next() % max_ms.max(1))
    }
}

fn chaos_rounds() -> u32 {
    std::env::var("VK_CHAOS_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2)
}

/// A bare pod bound to `node`, labelled `batch=<batch>`.
fn bare_pod(name: &str, node: &str, batch: &str) -> Pod {
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": name, "labels": {"batch": batch}},
        "spec": {
            "nodeName": node,
            "automountServiceAccountToken": false,
            "containers": [{"name": "main", "image": "busybox"}]
        }
    }))
    .unwrap()
}

fn phase(p: &Pod) -> &str {
    p.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("")
}

fn terminal(p: &Pod) -> bool {
    matches!(phase(p), "Succeeded" | "Failed")
}

fn describe(p: &Pod) -> String {
    let s = p.status.as_ref();
    format!(
        "{} phase={} reason={} message={}",
        p.metadata.name.as_deref().unwrap_or(""),
        phase(p),
        s.and_then(|s| s.reason.as_deref()).unwrap_or("-"),
        s.and_then(|s| s.message.as_deref()).unwrap_or("-"),
    )
}

async fn list(api: &Api<Pod>, selector: &str) -> Vec<Pod> {
    api.list(&ListParams::default().labels(selector))
        .await
        .map(|l| l.items)
        .unwrap_or_default()
}

/// Creates `names` (concurrently, retrying through API-server outages; a
/// conflict means an earlier attempt got through).
async fn create_all(api: Api<Pod>, names: Vec<String>, node: String, batch: String) {
    futures::stream::iter(names)
        .for_each_concurrent(16, |name| {
            let (api, node, batch) = (api.clone(), node.clone(), batch.clone());
            async move {
                let pod = bare_pod(&name, &node, &batch);
                wait::until(&format!("pod {name} created"), 300, || async {
                    match api.create(&PostParams::default(), &pod).await {
                        Ok(_) => Some(()),
                        Err(kube::Error::Api(e)) if e.code == 409 => Some(()),
                        Err(_) => None,
                    }
                })
                .await;
            }
        })
        .await;
}

/// Deletes `names` (grace 0 when `force`), retrying through outages.
async fn delete_all(api: Api<Pod>, names: Vec<String>, force: bool) {
    let params = if force {
        DeleteParams::default().grace_period(0)
    } else {
        DeleteParams::default()
    };
    futures::stream::iter(names)
        .for_each_concurrent(16, |name| {
            let (api, params) = (api.clone(), params.clone());
            async move {
                wait::until(&format!("pod {name} deleted"), 300, || async {
                    match api.delete(&name, &params).await {
                        Ok(_) => Some(()),
                        Err(kube::Error::Api(e)) if e.code == 404 => Some(()),
                        Err(_) => None,
                    }
                })
                .await;
            }
        })
        .await;
}

/// Waits until every pod of `selector` exists (`count` of them) and is Running
/// and Ready (or terminal, when `terminal_ok`); returns them.
async fn wait_settled(
    api: &Api<Pod>,
    selector: &str,
    count: usize,
    terminal_ok: bool,
    secs: u64,
) -> Vec<Pod> {
    let got = wait::try_until(secs, || async {
        let pods = list(api, selector).await;
        (pods.len() == count
            && pods
                .iter()
                .all(|p| running_ready(p) || (terminal_ok && terminal(p))))
        .then_some(pods)
    })
    .await;
    if let Some(pods) = got {
        return pods;
    }
    let pods = list(api, selector).await;
    let unsettled: Vec<String> = pods
        .iter()
        .filter(|p| !(running_ready(p) || (terminal_ok && terminal(p))))
        .map(describe)
        .take(20)
        .collect();
    panic!(
        "timed out after {secs} s waiting for {count} pods ({selector}) to be Running: {} exist, not settled (first 20): {unsettled:#?}",
        pods.len()
    );
}

async fn wait_gone(api: &Api<Pod>, names: &[String], secs: u64) {
    let left = wait::try_until(secs, || async {
        let mut left = Vec::new();
        for n in names {
            if !matches!(api.get_opt(n).await, Ok(None)) {
                left.push(n.clone());
            }
        }
        left.is_empty().then_some(())
    })
    .await;
    if left.is_none() {
        let mut still = Vec::new();
        for n in names {
            if let Ok(Some(p)) = api.get_opt(n).await {
                still.push(describe(&p));
            }
        }
        panic!("timed out after {secs} s waiting for deleted pods to go: {still:#?}");
    }
}

/// Group names in the emulator, with how many groups carry each.
fn group_counts(emu: &RunningEmulator) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for g in emu.admin().groups() {
        *m.entry(g.name).or_insert(0) += 1;
    }
    m
}

/// What differs between the groups and the live pods of `namespaces`: every
/// live non-terminal pod has exactly one group, a terminal pod at most one,
/// and no group lacks a live pod. Empty when all is well.
async fn one_to_one_diff(
    emu: &RunningEmulator,
    client: &Client,
    namespaces: &[String],
) -> Vec<String> {
    let mut need = BTreeSet::new();
    let mut may = BTreeSet::new();
    for ns in namespaces {
        let api: Api<Pod> = Api::namespaced(client.clone(), ns);
        let Ok(pods) = api.list(&ListParams::default()).await else {
            return vec!["pod list failed".into()];
        };
        for p in pods.items {
            let name = group_name(ns, p.metadata.name.as_deref().unwrap_or(""));
            if terminal(&p) || p.metadata.deletion_timestamp.is_some() {
                may.insert(name);
            } else {
                need.insert(name);
            }
        }
    }
    let groups = group_counts(emu);
    let mut diff = Vec::new();
    for (g, n) in &groups {
        if *n > 1 {
            diff.push(format!("{n} groups named {g}"));
        }
        if !need.contains(g) && !may.contains(g) {
            diff.push(format!("orphan group {g}"));
        }
    }
    for g in &need {
        if !groups.contains_key(g) {
            diff.push(format!("no group for live pod ({g})"));
        }
    }
    diff
}

/// Waits (up to `secs`) for groups to equal live pods one to one, and panics with the difference.
async fn assert_one_to_one(
    emu: &RunningEmulator,
    client: &Client,
    namespaces: &[String],
    secs: u64,
) {
    let ok = wait::try_until(secs, || async {
        one_to_one_diff(emu, client, namespaces)
            .await
            .is_empty()
            .then_some(())
    })
    .await;
    if ok.is_none() {
        let diff = one_to_one_diff(emu, client, namespaces).await;
        panic!("groups differ from live pods after {secs} s: {diff:#?}");
    }
}

/// vk with one Linux node against `emu`, on the cluster of `kubeconfig`.
async fn start_vk(client: &Client, kubeconfig: &std::path::Path, emu_url: &str) -> (Vk, String) {
    let node = unique("vk-chaos");
    let (text, admin) = config(kubeconfig, emu_url, &[(node.clone(), "linux")], FAST);
    let vk = Vk::start(&text, admin);
    let nodes: Api<Node> = Api::all(client.clone());
    wait_ready(&nodes, &node, "True", 60).await;
    (vk, node)
}

async fn delete_node(client: &Client, node: &str) {
    let nodes: Api<Node> = Api::all(client.clone());
    let _ = nodes.delete(node, &DeleteParams::default()).await;
}

fn names(prefix: &str, range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("{prefix}{i}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_during_a_burst() {
    const BURST: usize = 200;
    let started = Instant::now();
    let (client, kubeconfig) = client().await;
    // Room for the whole burst (the default quota is 100 groups and 100 cores).
    let emu = vk_aci_emulator::Emulator::builder()
        .fast()
        .quota(Quota {
            container_groups: 1000,
            cores: 1000,
        })
        .start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let (mut vk, node) = start_vk(&client, &kubeconfig, emu.base_url()).await;
    let ns = TestEnv::get().await.namespace("chaos-kill").await;
    let namespaces = [ns.name.clone()];
    let pods: Api<Pod> = Api::namespaced(ns.client.clone(), &ns.name);
    let mut rng = Rng::from_env("sigkill_during_a_burst");
    let rounds = chaos_rounds();
    for round in 0..rounds {
        let t0 = Instant::now();
        let batch = format!("r{round}");
        let selector = format!("batch={batch}");
        let all = names(&format!("r{round}-p"), 0..BURST);
        let creator = tokio::spawn(create_all(
            pods.clone(),
            all.clone(),
            node.clone(),
            batch.clone(),
        ));
        // vk settles a 200-pod burst in about a second: kill within it.
        let delay = rng.millis(1000);
        tokio::time::sleep(delay).await;
        let created = list(&pods, &selector).await.len();
        let groups = emu.admin().groups().len();
        vk.restart9();
        eprintln!(
            "[round {round}] kill -9 after {delay:?} ({created} pods created, {groups} groups); restarted"
        );
        creator.await.unwrap();
        wait_settled(&pods, &selector, BURST, true, 600).await;
        assert_one_to_one(&emu, &ns.client, &namespaces, 120).await;
        let burst_took = t0.elapsed();

        // Delete a quarter, force-delete (grace 0) a few, kill -9 in between.
        let graceful = all[..50].to_vec();
        let forced = all[50..60].to_vec();
        let deleter = tokio::spawn(delete_all(pods.clone(), graceful.clone(), false));
        let forcer = tokio::spawn(delete_all(pods.clone(), forced.clone(), true));
        let delay = rng.millis(600);
        tokio::time::sleep(delay).await;
        vk.restart9();
        eprintln!("[round {round}] kill -9 {delay:?} into the deletions; restarted");
        deleter.await.unwrap();
        forcer.await.unwrap();
        wait_gone(&pods, &all[..60], 300).await;
        // The forced pods' groups are orphans now: gone after the GC grace.
        assert_one_to_one(&emu, &ns.client, &namespaces, 180).await;
        wait_settled(&pods, &selector, BURST - 60, true, 60).await;

        // Clean up the round so the next one starts from zero.
        delete_all(pods.clone(), all[60..].to_vec(), false).await;
        wait_gone(&pods, &all[60..], 300).await;
        assert_one_to_one(&emu, &ns.client, &namespaces, 180).await;
        assert!(emu.admin().groups().is_empty(), "{:?}", group_counts(&emu));
        eprintln!(
            "[round {round}] burst settled in {burst_took:?}; round done in {:?}; creates={} deletes={} 409s={}",
            t0.elapsed(),
            emu.admin().count("create"),
            emu.admin().count("delete"),
            emu.admin().count_status("create", 409),
        );
    }
    eprintln!(
        "[sigkill_during_a_burst] {rounds} rounds of {BURST} pods in {:?}; orphan groups deleted by the last vk process: {}",
        started.elapsed(),
        vk.metric("vk_pod_orphans_deleted_total", "").await
    );
    drop(vk);
    delete_node(&client, &node).await;
    emu.shutdown().await.unwrap();
}

/// Stops this test's own cluster when dropped, even if the test panics.
struct ClusterGuard(PathBuf);

impl Drop for ClusterGuard {
    fn drop(&mut self) {
        if self.0.exists()
            && let Err(e) = vk_control_plane::down(&self.0)
        {
            eprintln!("stopping cluster {}: {e}", self.0.display());
        }
    }
}

/// Restarts a control-plane component off the runtime's threads.
async fn restart_component(state_dir: &std::path::Path, component: &'static str) {
    let dir = state_dir.to_owned();
    tokio::task::spawn_blocking(move || {
        vk_control_plane::process::restart(&dir, component, Duration::from_secs(5)).map(|_child| ())
    })
    .await
    .unwrap()
    .unwrap_or_else(|e| panic!("restarting {component}: {e}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn api_server_and_etcd_restart_mid_burst() {
    const BURST: usize = 50;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut rng = Rng::from_env("api_server_and_etcd_restart_mid_burst");
    let bins = tokio::task::spawn_blocking(vk_control_plane::Binaries::resolve_or_build)
        .await
        .unwrap()
        .unwrap();
    let spec =
        vk_control_plane::ClusterSpec::named(&format!("chaos-{}", std::process::id())).unwrap();
    // Declared before vk so it drops (and stops the cluster) after vk is killed.
    let _guard = ClusterGuard(spec.state_dir.clone());
    let info = spec.up(&bins).await.unwrap();
    let client = vk_control_plane::kube_client(&info.kubeconfig)
        .await
        .unwrap();
    let emu = emulator("127.0.0.1:0").await;
    let (vk, node) = start_vk(&client, &info.kubeconfig, emu.base_url()).await;
    let ns = "default".to_owned();
    let namespaces = [ns.clone()];
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let all = names("b", 0..BURST);

    // API server restart mid-burst.
    let t0 = Instant::now();
    let creator = tokio::spawn(create_all(
        pods.clone(),
        all.clone(),
        node.clone(),
        "b".into(),
    ));
    // Mid-burst: once a random number (1 to half) of the pods exist.
    let target = 1 + usize::try_from(rng.next() % (BURST as u64 / 2)).unwrap();
    wait::until("the burst under way", 120, || async {
        (list(&pods, "batch=b").await.len() >= target).then_some(())
    })
    .await;
    let created = list(&pods, "batch=b").await.len();
    let groups = emu.admin().groups().len();
    restart_component(&info.state_dir, "kube-apiserver").await;
    eprintln!(
        "kube-apiserver restarted {:?} into the burst ({created} pods created, {groups} groups)",
        t0.elapsed()
    );
    creator.await.unwrap();
    wait_settled(&pods, "batch=b", BURST, false, 600).await;
    assert_one_to_one(&emu, &client, &namespaces, 120).await;
    let burst_took = t0.elapsed();

    // etcd restart while half of them are deleted.
    let t1 = Instant::now();
    let deleter = tokio::spawn(delete_all(pods.clone(), all[..BURST / 2].to_vec(), false));
    // Mid-deletion: once a random number (1 to half) of them are terminating or gone.
    let target = 1 + usize::try_from(rng.next() % (BURST as u64 / 4)).unwrap();
    wait::until("the deletions under way", 120, || async {
        let live = list(&pods, "batch=b").await;
        let going = BURST - live.len()
            + live
                .iter()
                .filter(|p| p.metadata.deletion_timestamp.is_some())
                .count();
        (going >= target).then_some(())
    })
    .await;
    let groups = emu.admin().groups().len();
    restart_component(&info.state_dir, "etcd").await;
    eprintln!(
        "etcd restarted {:?} into the deletions ({groups} groups left)",
        t1.elapsed()
    );
    deleter.await.unwrap();
    wait_gone(&pods, &all[..BURST / 2], 300).await;
    wait_settled(&pods, "batch=b", BURST - BURST / 2, false, 300).await;
    assert_one_to_one(&emu, &client, &namespaces, 180).await;
    eprintln!(
        "[api_server_and_etcd_restart_mid_burst] burst with API-server restart settled in {burst_took:?}; \
         deletions with etcd restart done in {:?}; creates={} deletes={}; vk kube requests={}",
        t1.elapsed(),
        emu.admin().count("create"),
        emu.admin().count("delete"),
        vk.metric("vk_kube_requests_total", "").await,
    );
    drop(vk);
    emu.shutdown().await.unwrap();
}

/// Starts an emulator on `addr` (retrying while the old one's port is released).
async fn emulator_on(
    addr: std::net::SocketAddr,
    state: Option<&std::path::Path>,
) -> RunningEmulator {
    let mut last = None;
    for _ in 0..50 {
        let builder = vk_aci_emulator::Emulator::builder().fast();
        let builder = match state {
            Some(path) => builder.state_file(path),
            None => builder,
        };
        match builder.start(addr).await {
            Ok(emu) => return emu,
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("emulator cannot start on {addr}: {last:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn emulator_restart_with_and_without_state() {
    const PODS: usize = 20;
    let (client, kubeconfig) = client().await;
    let dir = std::env::temp_dir().join(unique("vk-chaos-emu"));
    std::fs::create_dir_all(&dir).unwrap();
    let state = dir.join("aci-state.json");
    let emu = emulator_with_state("127.0.0.1:0".parse().unwrap(), &state).await;
    let addr = emu.local_addr();
    let (vk, node) = start_vk(&client, &kubeconfig, emu.base_url()).await;
    let ns = TestEnv::get().await.namespace("chaos-emu").await;
    let namespaces = [ns.name.clone()];
    let pods: Api<Pod> = Api::namespaced(ns.client.clone(), &ns.name);
    create_all(pods.clone(), names("e", 0..PODS), node.clone(), "e".into()).await;
    wait_settled(&pods, "batch=e", PODS, false, 180).await;
    assert_one_to_one(&emu, &ns.client, &namespaces, 60).await;
    let before: Vec<String> = group_counts(&emu).into_keys().collect();

    // Restart with the state file: the groups are still there; vk carries on
    // without re-creating anything.
    emu.shutdown().await.unwrap();
    let t0 = Instant::now();
    let emu = emulator_on(addr, Some(&state)).await;
    assert_eq!(
        group_counts(&emu).into_keys().collect::<Vec<_>>(),
        before,
        "state file restored the groups"
    );
    // Three status syncs against the new emulator.
    wait::until("vk lists the restarted emulator 3 times", 120, || async {
        (emu.admin().count("list") >= 3).then_some(())
    })
    .await;
    wait_settled(&pods, "batch=e", PODS, false, 60).await;
    assert_one_to_one(&emu, &ns.client, &namespaces, 60).await;
    assert_eq!(
        emu.admin().count("create"),
        0,
        "no group re-created after a restart with state: {:?}",
        emu.admin().counters()
    );
    let with_state_took = t0.elapsed();

    // Restart without state: every group is gone; vk notices and re-creates them.
    emu.shutdown().await.unwrap();
    let t1 = Instant::now();
    let emu = emulator_on(addr, None).await;
    assert!(emu.admin().groups().is_empty());
    let ok = wait::try_until(300, || async {
        let groups = emu.admin().groups();
        (groups.len() == PODS && groups.iter().all(|g| g.state == "Running")).then_some(())
    })
    .await;
    assert!(
        ok.is_some(),
        "groups not re-created after the emulator lost its state: {} groups, counters {:?}\n{}",
        emu.admin().groups().len(),
        emu.admin().counters(),
        vk.log_tail()
    );
    wait_settled(&pods, "batch=e", PODS, false, 120).await;
    assert_one_to_one(&emu, &ns.client, &namespaces, 60).await;
    eprintln!(
        "[emulator_restart_with_and_without_state] with state: steady again after {with_state_took:?} (0 creates); \
         without state: {PODS} groups re-created in {:?}; counters {:?}",
        t1.elapsed(),
        emu.admin().counters()
    );
    drop(vk);
    delete_node(&client, &node).await;
    emu.shutdown().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

/// Backoff-related metrics of vk, by exported name.
async fn backoff_metrics(vk: &Vk) -> BTreeMap<&'static str, f64> {
    let mut m = BTreeMap::new();
    for name in [
        "vk_pod_reconcile_errors_total",
        "vk_pod_creates_total",
        "vk_aci_retries_total",
        "vk_aci_throttled_total",
        "vk_aci_server_errors_total",
        "vk_aci_transport_errors_total",
    ] {
        m.insert(name, vk.metric(name, "").await);
    }
    m
}

fn delta(
    after: &BTreeMap<&'static str, f64>,
    before: &BTreeMap<&'static str, f64>,
    name: &str,
) -> f64 {
    after.get(name).copied().unwrap_or_default() - before.get(name).copied().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn aci_faults_leave_no_pod_stuck() {
    const PODS: usize = 15;
    let (client, kubeconfig) = client().await;
    let emu = emulator("127.0.0.1:0").await;
    let (vk, node) = start_vk(&client, &kubeconfig, emu.base_url()).await;
    let ns = TestEnv::get().await.namespace("chaos-aci").await;
    let namespaces = [ns.name.clone()];
    let pods: Api<Pod> = Api::namespaced(ns.client.clone(), &ns.name);
    // Gaps the test found but does not stop at, so every phase runs.
    let mut missing: Vec<String> = Vec::new();

    let phases: Vec<(&str, FaultRule, u64)> = vec![
        (
            "throttle",
            FaultRule::new("create")
                .with_status(429)
                .with_retry_after(2)
                .for_duration(Duration::from_secs(20)),
            300,
        ),
        (
            "outage",
            FaultRule::new("any")
                .with_status(503)
                .for_duration(Duration::from_secs(60)),
            600,
        ),
        (
            "slow",
            FaultRule::new("any")
                .with_latency(Duration::from_secs(2))
                .for_duration(Duration::from_secs(30)),
            300,
        ),
        (
            "dropped",
            FaultRule::new("any").dropping_connection().times(20),
            300,
        ),
    ];
    for (name, rule, secs) in phases {
        emu.admin().reset_counters();
        let before = backoff_metrics(&vk).await;
        let t0 = Instant::now();
        emu.admin().inject_fault(rule);
        create_all(
            pods.clone(),
            names(&format!("{name}-"), 0..PODS),
            node.clone(),
            name.into(),
        )
        .await;
        wait_settled(&pods, &format!("batch={name}"), PODS, false, secs).await;
        let took = t0.elapsed();
        // The fault is over (expired or used up), and the pods are still Running.
        let ended = wait::try_until(secs, || async {
            emu.admin().faults().is_empty().then_some(())
        })
        .await;
        assert!(
            ended.is_some(),
            "[{name}] fault still active: {:?}",
            emu.admin().faults()
        );
        let fault_took = t0.elapsed();
        wait_settled(&pods, &format!("batch={name}"), PODS, false, 60).await;
        assert_one_to_one(&emu, &ns.client, &namespaces, 60).await;
        let after = backoff_metrics(&vk).await;
        let counters = emu.admin().counters();
        let faulted: u64 = counters
            .values()
            .flat_map(|by_status| by_status.iter())
            .filter(|(status, _)| matches!(**status, 429 | 503))
            .map(|(_, n)| n)
            .sum();
        eprintln!(
            "[{name}] {PODS} pods Running {took:?} after the fault started (fault over after {fault_took:?}); \
             emulator counters {counters:?}; \
             vk reconcile errors +{}, creates +{}; ACI client retries +{}, throttled +{}, 5xx +{}, transport errors +{}",
            delta(&after, &before, "vk_pod_reconcile_errors_total"),
            delta(&after, &before, "vk_pod_creates_total"),
            delta(&after, &before, "vk_aci_retries_total"),
            delta(&after, &before, "vk_aci_throttled_total"),
            delta(&after, &before, "vk_aci_server_errors_total"),
            delta(&after, &before, "vk_aci_transport_errors_total"),
        );
        // Backoff visible in vk's /metrics: the ACI client's retries and what caused them.
        let mut expect = |metric: &str, what: &str| {
            if delta(&after, &before, metric) <= 0.0 {
                missing.push(format!("[{name}] {what}, but {metric} did not grow"));
            }
        };
        match name {
            "throttle" => {
                let n = emu.admin().count_status("create", 429);
                assert!(n > 0, "the storm hit");
                expect("vk_aci_throttled_total", &format!("{n} × 429 answered"));
                expect("vk_aci_retries_total", &format!("{n} × 429 answered"));
            }
            "outage" => {
                assert!(faulted > 0, "the outage hit");
                let what = format!("{faulted} × 503 answered");
                expect("vk_pod_reconcile_errors_total", &what);
                expect("vk_aci_server_errors_total", &what);
                expect("vk_aci_retries_total", &what);
            }
            "dropped" => {
                let n: u64 = counters.values().filter_map(|by| by.get(&0)).sum();
                let what = format!("{n} connections dropped");
                expect("vk_aci_transport_errors_total", &what);
                expect("vk_aci_retries_total", &what);
            }
            _ => {}
        }
    }

    // Provisioning failures: "pf-bad-*" always fail, "pf-flaky-*" fail once
    // each. No pod is failed for it (a kubelet retries a failed sandbox): the
    // flaky ones run after one more creation, the bad ones stay Pending with
    // the reason while vk creates their groups again with a back-off.
    let bad = names("pf-bad-", 0..5);
    let flaky = names("pf-flaky-", 0..5);
    emu.admin()
        .fail_provisioning(ProvisioningFailure::new(format!("{}-pf-bad-*", ns.name)));
    emu.admin()
        .fail_provisioning(ProvisioningFailure::new(format!("{}-pf-flaky-*", ns.name)).times(5));
    let t0 = Instant::now();
    create_all(pods.clone(), bad.clone(), node.clone(), "pf".into()).await;
    create_all(pods.clone(), flaky.clone(), node.clone(), "pf".into()).await;
    let creates = |name: &str| {
        let g = group_name(&ns.name, name);
        emu.admin()
            .requests(&g)
            .iter()
            .filter(|r| r.op == "create")
            .count()
    };
    let settled = wait::try_until(300, || async {
        let ps = list(&pods, "batch=pf").await;
        let done = ps.len() == 10
            && ps.iter().all(|p| {
                let n = p.metadata.name.clone().unwrap_or_default();
                if bad.contains(&n) {
                    phase(p) == "Pending"
                        && p.status.as_ref().and_then(|s| s.reason.as_deref())
                            == Some("ProviderFailed")
                        && creates(&n) >= 2
                } else {
                    running_ready(p)
                }
            });
        done.then_some(ps)
    })
    .await;
    let now = list(&pods, "batch=pf").await;
    let outcome: Vec<String> = now.iter().map(describe).collect();
    let per_group: Vec<(String, usize)> = now
        .iter()
        .map(|p| {
            let n = p.metadata.name.clone().unwrap_or_default();
            let c = creates(&n);
            (n, c)
        })
        .collect();
    eprintln!(
        "[provisioning] after {:?}: {outcome:#?}\ncreates per group: {per_group:?}",
        t0.elapsed()
    );
    assert!(
        settled.is_some(),
        "flaky pods Running, bad ones Pending (ProviderFailed) and retried: {outcome:#?}"
    );
    assert!(
        now.iter().all(|p| phase(p) != "Failed"),
        "no pod is failed for a provisioning failure: {outcome:#?}"
    );
    for (n, c) in &per_group {
        // Back-off, not a storm: 2 s doubling gives a handful in this window.
        assert!(*c <= 10, "{n}: {c} creates");
    }
    for n in &bad {
        pods.delete(n, &DeleteParams::default()).await.unwrap();
    }
    wait_gone(&pods, &bad, 120).await;
    assert_one_to_one(&emu, &ns.client, &namespaces, 60).await;

    drop(vk);
    delete_node(&client, &node).await;
    emu.shutdown().await.unwrap();
    assert!(
        missing.is_empty(),
        "backoff not visible in vk's /metrics: {missing:#?}"
    );
}

/// A pod of `batch` running `image`; with `exit`, a run-to-completion pod
/// (restart policy Never) whose container exits with that code.
fn lifecycle_pod(name: &str, node: &str, batch: &str, image: &str, exit: Option<i32>) -> Pod {
    let mut pod = bare_pod(name, node, batch);
    let spec = pod.spec.as_mut().unwrap();
    spec.containers[0].image = Some(image.to_owned());
    spec.containers[0].ports = Some(vec![k8s_openapi::api::core::v1::ContainerPort {
        container_port: 80,
        ..Default::default()
    }]);
    if let Some(code) = exit {
        spec.restart_policy = Some("Never".into());
        spec.containers[0].command = Some(vec![
            "sh".into(),
            "-c".into(),
            format!("sleep 1; exit {code}"),
        ]);
    }
    pod
}

/// ACI's lifecycle faults during a 200-pod burst: pulls that fail until the
/// registry recovers, reads that miss new groups, platform restarts (some to a
/// new IP) and repairs of running groups, with run-to-completion pods among
/// them. Nothing may be lost, duplicated or run twice, and the pods must end
/// showing what ACI shows (IP, restart counts).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lifecycle_faults_during_a_burst() {
    const SERVICES: usize = 150;
    const JOBS: usize = 50;
    const FLAKY: usize = 20;
    let mut rng = Rng::from_env("lifecycle");
    let (client, kubeconfig) = client().await;
    let emu = vk_aci_emulator::Emulator::builder()
        .fast()
        .quota(Quota {
            container_groups: 1000,
            cores: 1000,
        })
        .transient_not_found_after_put(Duration::from_secs(2))
        .start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    emu.admin().fail_image_pulls("flaky.example.com/");
    let (vk, node) = start_vk(&client, &kubeconfig, emu.base_url()).await;
    let ns = TestEnv::get().await.namespace("chaos-life").await;
    let namespaces = [ns.name.clone()];
    let pods: Api<Pod> = Api::namespaced(ns.client.clone(), &ns.name);
    let services = names("svc-", 0..SERVICES);
    let jobs = names("job-", 0..JOBS);
    let mut specs: Vec<Pod> = Vec::new();
    for (i, n) in services.iter().enumerate() {
        let image = if i < FLAKY {
            "flaky.example.com/app:1"
        } else {
            "nginx"
        };
        specs.push(lifecycle_pod(n, &node, "life", image, None));
    }
    for (i, n) in jobs.iter().enumerate() {
        let code = i32::from(i.is_multiple_of(5));
        specs.push(lifecycle_pod(n, &node, "life", "busybox", Some(code)));
    }
    let t0 = Instant::now();
    let creator = {
        let pods = pods.clone();
        tokio::spawn(async move {
            futures::stream::iter(specs)
                .for_each_concurrent(16, |p| {
                    let pods = pods.clone();
                    async move {
                        pods.create(&PostParams::default(), &p).await.unwrap();
                    }
                })
                .await;
        })
    };
    // While the burst runs: 30 platform events on groups that are running.
    let mut injected = BTreeMap::<&str, u32>::new();
    let mut restarted = BTreeSet::new();
    while injected.values().sum::<u32>() < 30 && t0.elapsed() < Duration::from_secs(120) {
        tokio::time::sleep(rng.millis(600)).await;
        let running: Vec<String> = emu
            .admin()
            .groups()
            .into_iter()
            .filter(|g| g.provisioning_state == "Succeeded" && g.state == "Running")
            .filter(|g| g.name.contains("-svc-"))
            .map(|g| g.name)
            .collect();
        if running.is_empty() {
            continue;
        }
        let g = &running[(rng.next() % running.len() as u64) as usize];
        let kind = match rng.next() % 3 {
            0 => "restart",
            1 => "restart-new-ip",
            _ => "repair",
        };
        let done = match kind {
            "restart" => emu.admin().platform_restart(g, false),
            "restart-new-ip" => emu.admin().platform_restart(g, true),
            _ => emu.admin().repair(g, Duration::from_secs(2)),
        };
        if done.is_ok() {
            *injected.entry(kind).or_default() += 1;
            restarted.insert(g.clone());
        }
    }
    creator.await.unwrap();
    // The registry recovers after a while.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(emu.admin().mark_image_pullable("flaky.example.com/"));
    eprintln!(
        "[lifecycle] injected {injected:?} on {} groups",
        restarted.len()
    );

    // Settled: services Running and Ready at the IP ACI shows, showing ACI's
    // restart counts; jobs Succeeded or Failed by their exit code.
    let expected = |p: &Pod| -> bool {
        let n = p.metadata.name.as_deref().unwrap_or("");
        if let Some(i) = n.strip_prefix("job-") {
            let code: usize = i.parse().unwrap();
            return phase(p)
                == if code.is_multiple_of(5) {
                    "Failed"
                } else {
                    "Succeeded"
                };
        }
        let Some(g) = emu
            .admin()
            .groups()
            .into_iter()
            .find(|g| g.name == group_name(&ns.name, n))
        else {
            return false;
        };
        let s = p.status.as_ref().unwrap();
        let restarts = s
            .container_statuses
            .as_ref()
            .and_then(|c| c.first())
            .map(|c| c.restart_count);
        let aci_restarts = g
            .containers
            .first()
            .map(|c| i32::try_from(c.restart_count).unwrap_or(i32::MAX));
        running_ready(p) && s.pod_ip == g.ip && restarts == aci_restarts
    };
    let settled = wait::try_until(300, || async {
        let ps = list(&pods, "batch=life").await;
        (ps.len() == SERVICES + JOBS && ps.iter().all(&expected)).then_some(())
    })
    .await;
    if settled.is_none() {
        let off: Vec<String> = list(&pods, "batch=life")
            .await
            .iter()
            .filter(|p| !expected(p))
            .map(describe)
            .take(20)
            .collect();
        panic!("not settled after the lifecycle faults (first 20): {off:#?}");
    }
    let shown: i32 = list(&pods, "batch=life")
        .await
        .iter()
        .filter_map(|p| {
            p.status
                .as_ref()?
                .container_statuses
                .as_ref()?
                .first()
                .map(|c| c.restart_count)
        })
        .sum();
    eprintln!(
        "[lifecycle] settled in {:?}; {shown} restarts shown on the pods",
        t0.elapsed()
    );
    assert!(shown > 0, "the platform restarts reached the pods");
    // Nothing duplicated: every job's group was created once and ran once
    // (a finished group is stopped, so the platform never runs it again);
    // the flaky pods were created again after ACI gave up, with back-off.
    let creates = |n: &str| {
        emu.admin()
            .requests(&group_name(&ns.name, n))
            .iter()
            .filter(|r| r.op == "create")
            .count()
    };
    for j in &jobs {
        assert_eq!(creates(j), 1, "{j} created once");
    }
    for (i, s) in services.iter().enumerate() {
        let c = creates(s);
        if i < FLAKY {
            assert!((2..=10).contains(&c), "{s}: {c} creates");
        } else if c != 1 {
            let key = format!("{}/{s}", ns.name);
            let log: Vec<String> = vk
                .log_text()
                .lines()
                .filter(|l| l.contains(&key) && !l.contains("DEBUG") && !l.contains("TRACE"))
                .map(str::to_owned)
                .collect();
            panic!(
                "{s} created {c} times (restarts and repairs are ACI's own); vk's log: {log:#?}"
            );
        }
    }
    assert_one_to_one(&emu, &ns.client, &namespaces, 60).await;
    let all: Vec<String> = services.iter().chain(&jobs).cloned().collect();
    delete_all(pods.clone(), all.clone(), false).await;
    wait_gone(&pods, &all, 300).await;
    assert_one_to_one(&emu, &ns.client, &namespaces, 120).await;
    drop(vk);
    delete_node(&client, &node).await;
    emu.shutdown().await.unwrap();
}
