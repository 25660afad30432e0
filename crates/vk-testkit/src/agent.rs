//! A simulated kubelet for a regular ("agent") node: **test world only**.
//!
//! The seed's cluster has a VM-backed node (`aks-nodepool1-34126871-0`) beside the two virtual
//! nodes, and burst means filling it before pods overflow to ACI. There is no container runtime
//! here, so [`AgentKubelet`] does what the control plane sees of a kubelet and nothing more:
//!
//! - registers its Node with finite capacity (`cpu`, `memory`, `pods`) and keeps it Ready: the
//!   Ready condition, and the node Lease in `kube-node-lease` renewed every 10 s;
//! - for every pod bound to the node, admits it like the kubelet's admission does — a pod whose
//!   requests do not fit what the admitted pods leave is failed with `OutOfcpu`, `OutOfmemory`
//!   or `OutOfpods`, as a kubelet fails a pod bound around the scheduler — else writes it
//!   Running and Ready with a pod IP from `10.244.0.0/16`;
//! - confirms graceful deletions at once (a grace-0 delete with the pod's UID as precondition),
//!   as a kubelet does once the containers have stopped.
//!
//! It runs no container, serves no kubelet API (no logs, no exec) and reports no images. It is
//! not a kubelet for anything but tests and the local demo (`cargo xtask up`).

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use futures::StreamExt as _;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{DeleteParams, Patch, PatchParams, PostParams, Preconditions};
use kube::runtime::watcher;
use kube::{Api, Client};
use serde_json::json;

/// How often the node Lease is renewed (a kubelet's default).
const LEASE_RENEW: Duration = Duration::from_secs(10);
/// `leaseDurationSeconds` of the node Lease (a kubelet's default).
const LEASE_DURATION_SECS: i32 = 40;
/// How often the Ready condition's heartbeat is rewritten.
const STATUS_EVERY: Duration = Duration::from_secs(60);

/// The agent node: its name, labels, taints and capacity.
#[derive(Debug, Clone)]
pub struct AgentNode {
    /// The Node's name (also its hostname label and its Lease's name).
    pub name: String,
    /// CPU capacity and allocatable, a quantity (`"4"`, `"3500m"`).
    pub cpu: String,
    /// Memory capacity and allocatable, a quantity (`"16Gi"`).
    pub memory: String,
    /// Pod capacity.
    pub pods: u32,
    /// Labels besides the ones every agent node gets ([`AgentNode::labels`]).
    pub extra_labels: BTreeMap<String, String>,
    /// Taints as `(key, value, effect)`; none on an AKS agent node. Tests that share a cluster
    /// with others taint their node so foreign pods stay off it.
    pub taints: Vec<(String, String, String)>,
}

impl AgentNode {
    /// An agent node of AKS's pool `nodepool1` named `name`, with `cpu` CPUs, 4 GiB of memory
    /// per CPU and 110 pods.
    pub fn nodepool1(name: &str, cpu: u32) -> Self {
        Self {
            name: name.to_owned(),
            cpu: cpu.to_string(),
            memory: format!("{}Gi", 4 * cpu),
            pods: 110,
            extra_labels: BTreeMap::new(),
            taints: Vec::new(),
        }
    }

    /// The Node's labels: an AKS agent node's (`agentpool=nodepool1`,
    /// `kubernetes.azure.com/mode=system`, `kubernetes.io/role=agent`, Linux on amd64, the
    /// hostname), then [`AgentNode::extra_labels`].
    pub fn labels(&self) -> BTreeMap<String, String> {
        let mut labels: BTreeMap<String, String> = [
            ("agentpool", "nodepool1"),
            ("kubernetes.azure.com/agentpool", "nodepool1"),
            ("kubernetes.azure.com/mode", "system"),
            ("kubernetes.azure.com/role", "agent"),
            ("kubernetes.io/role", "agent"),
            ("kubernetes.io/os", "linux"),
            ("beta.kubernetes.io/os", "linux"),
            ("kubernetes.io/arch", "amd64"),
            ("beta.kubernetes.io/arch", "amd64"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        labels.insert("kubernetes.io/hostname".into(), self.name.clone());
        labels.extend(self.extra_labels.clone());
        labels
    }

    fn capacity(&self) -> serde_json::Value {
        json!({"cpu": self.cpu, "memory": self.memory, "pods": self.pods.to_string()})
    }
}

/// A running simulated kubelet; stops when dropped or with [`AgentKubelet::stop`].
pub struct AgentKubelet {
    node: AgentNode,
    client: Client,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// The time as the API server writes it, to the second.
fn now() -> String {
    k8s_openapi::jiff::Timestamp::now()
        .round(k8s_openapi::jiff::Unit::Second)
        .map_or_else(|_| "2020-01-01T00:00:00Z".to_owned(), |t| t.to_string())
}

/// A MicroTime (`renewTime` of a Lease): RFC 3339 with six fractional digits.
fn now_micro() -> String {
    let t = now();
    format!("{}.000000Z", t.trim_end_matches('Z'))
}

impl AgentKubelet {
    /// Registers the node (or takes over a Node of that name left behind), makes it Ready,
    /// starts the Lease heartbeat and the pod loop, and waits (at most 30 s) until the node
    /// has been Ready and untainted by the node lifecycle controller for 2 s, so the
    /// scheduler considers the node when this returns.
    pub async fn start(client: Client, node: AgentNode) -> Result<Self, kube::Error> {
        let nodes: Api<Node> = Api::all(client.clone());
        let object: Node = serde_json::from_value(json!({
            "metadata": {"name": node.name, "labels": node.labels()},
            "spec": {"taints": taints_json(&node.taints)}
        }))
        .map_err(kube::Error::SerdeError)?;
        match nodes.create(&PostParams::default(), &object).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.is_already_exists() => {
                let patch = json!({
                    "metadata": {"labels": node.labels()},
                    "spec": {"taints": taints_json(&node.taints), "unschedulable": null}
                });
                nodes
                    .patch(&node.name, &PatchParams::default(), &Patch::Merge(&patch))
                    .await?;
            }
            Err(e) => return Err(e),
        }
        write_status(&nodes, &node).await?;
        let uid = nodes
            .get(&node.name)
            .await?
            .metadata
            .uid
            .unwrap_or_default();
        renew_lease(&client, &node.name, &uid).await?;

        let heartbeat = {
            let (client, node, uid) = (client.clone(), node.clone(), uid.clone());
            tokio::spawn(async move {
                let nodes: Api<Node> = Api::all(client.clone());
                let mut last_status = tokio::time::Instant::now();
                loop {
                    tokio::time::sleep(LEASE_RENEW).await;
                    if let Err(e) = renew_lease(&client, &node.name, &uid).await {
                        tracing::warn!(node = %node.name, error = %e, "agent kubelet: renewing the Lease failed");
                    }
                    if last_status.elapsed() >= STATUS_EVERY {
                        last_status = tokio::time::Instant::now();
                        if let Err(e) = write_status(&nodes, &node).await {
                            tracing::warn!(node = %node.name, error = %e, "agent kubelet: node status failed");
                        }
                    }
                }
            })
        };
        let pods = tokio::spawn(run_pods(client.clone(), node.clone()));
        let kubelet = Self {
            node,
            client,
            tasks: vec![heartbeat, pods],
        };
        kubelet.wait_schedulable(Duration::from_secs(30)).await;
        Ok(kubelet)
    }

    /// The node.
    pub fn node(&self) -> &AgentNode {
        &self.node
    }

    /// Waits until the node has been Ready, with its allocatable and without a
    /// `node.kubernetes.io/*` taint, for 2 s in a row: the node lifecycle controller may add
    /// `not-ready` just after registration and lift it again, and the scheduler sees the
    /// node through an informer that lags a little behind.
    async fn wait_schedulable(&self, within: Duration) {
        let nodes: Api<Node> = Api::all(self.client.clone());
        let deadline = tokio::time::Instant::now() + within;
        let mut since: Option<tokio::time::Instant> = None;
        while tokio::time::Instant::now() < deadline {
            let free = nodes
                .get_opt(&self.node.name)
                .await
                .ok()
                .flatten()
                .is_some_and(|n| {
                    let tainted = n
                        .spec
                        .and_then(|s| s.taints)
                        .unwrap_or_default()
                        .iter()
                        .any(|t| t.key.starts_with("node.kubernetes.io/"));
                    let status = n.status.unwrap_or_default();
                    let ready = status
                        .conditions
                        .unwrap_or_default()
                        .iter()
                        .any(|c| c.type_ == "Ready" && c.status == "True");
                    let sized = status.allocatable.is_some_and(|a| a.contains_key("cpu"));
                    !tainted && ready && sized
                });
            match (free, since) {
                (false, _) => since = None,
                (true, None) => since = Some(tokio::time::Instant::now()),
                (true, Some(t)) if t.elapsed() >= Duration::from_secs(2) => return,
                (true, Some(_)) => {}
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        tracing::warn!(node = %self.node.name, "agent kubelet: the node is not schedulable yet");
    }

    /// Runs until the process ends (for `cargo xtask up`'s background process).
    pub async fn run_forever(self) {
        futures::future::pending::<()>().await;
        drop(self);
    }

    /// Stops the heartbeat and the pod loop and deletes the Node (its Lease goes with it: the
    /// Node owns it).
    pub async fn stop(mut self) {
        for t in self.tasks.drain(..) {
            t.abort();
        }
        let nodes: Api<Node> = Api::all(self.client.clone());
        let _ = nodes
            .delete(&self.node.name, &DeleteParams::default())
            .await;
    }
}

impl std::fmt::Debug for AgentKubelet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentKubelet")
            .field("node", &self.node)
            .finish_non_exhaustive()
    }
}

impl Drop for AgentKubelet {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

fn taints_json(taints: &[(String, String, String)]) -> serde_json::Value {
    taints
        .iter()
        .map(|(key, value, effect)| json!({"key": key, "value": value, "effect": effect}))
        .collect()
}

/// Capacity, allocatable, the Ready condition (and the pressure conditions False), addresses
/// and node info.
async fn write_status(nodes: &Api<Node>, node: &AgentNode) -> Result<(), kube::Error> {
    let now = now();
    let condition = |type_: &str, status: &str, reason: &str, message: &str| {
        json!({"type": type_, "status": status, "reason": reason, "message": message,
               "lastHeartbeatTime": now, "lastTransitionTime": now})
    };
    let status = json!({"status": {
        "capacity": node.capacity(),
        "allocatable": node.capacity(),
        "conditions": [
            condition("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
            condition("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
            condition("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
            condition("Ready", "True", "KubeletReady", "simulated agent kubelet (test world) is posting ready status"),
        ],
        "addresses": [
            {"type": "InternalIP", "address": "127.0.0.1"},
            {"type": "Hostname", "address": node.name}
        ],
        "nodeInfo": {
            "kubeletVersion": "v1.20.2", "kubeProxyVersion": "v1.20.2",
            "operatingSystem": "linux", "architecture": "amd64",
            "containerRuntimeVersion": "simulated://0", "osImage": "simulated agent node (vk test world)",
            "kernelVersion": "", "machineID": "", "systemUUID": "", "bootID": ""
        }
    }});
    nodes
        .patch_status(
            &node.name,
            &PatchParams::default(),
            &Patch::Strategic(&status),
        )
        .await?;
    Ok(())
}

/// Creates or renews the node's Lease in `kube-node-lease`, owned by the Node.
async fn renew_lease(client: &Client, name: &str, node_uid: &str) -> Result<(), kube::Error> {
    let leases: Api<Lease> = Api::namespaced(client.clone(), "kube-node-lease");
    let renew = now_micro();
    if leases.get_opt(name).await?.is_some() {
        let patch = json!({"spec": {"renewTime": renew, "holderIdentity": name}});
        leases
            .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await?;
        return Ok(());
    }
    let lease: Lease = serde_json::from_value(json!({
        "metadata": {
            "name": name,
            "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": name, "uid": node_uid}]
        },
        "spec": {"holderIdentity": name, "leaseDurationSeconds": LEASE_DURATION_SECS, "renewTime": renew}
    }))
    .map_err(kube::Error::SerdeError)?;
    match leases.create(&PostParams::default(), &lease).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.is_already_exists() => Ok(()),
        Err(e) => Err(e),
    }
}

/// A pod's requests: `(millicores, bytes)`, the larger of the containers' sum and the largest
/// init container (as the scheduler and the kubelet count them).
pub fn pod_requests(pod: &Pod) -> (u64, u64) {
    let of = |c: &k8s_openapi::api::core::v1::Container| {
        let req = c
            .resources
            .as_ref()
            .and_then(|r| r.requests.clone())
            .unwrap_or_default();
        (
            req.get("cpu").map_or(0, |q| cpu_millis(&q.0).unwrap_or(0)),
            req.get("memory").map_or(0, |q| bytes(&q.0).unwrap_or(0)),
        )
    };
    let Some(spec) = pod.spec.as_ref() else {
        return (0, 0);
    };
    let (mut cpu, mut mem) = spec
        .containers
        .iter()
        .map(of)
        .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
    for init in spec.init_containers.iter().flatten() {
        let (c, m) = of(init);
        cpu = cpu.max(c);
        mem = mem.max(m);
    }
    (cpu, mem)
}

/// A CPU quantity in millicores: `"2"`, `"500m"`, `"1.5"`.
pub fn cpu_millis(q: &str) -> Option<u64> {
    let q = q.trim();
    if let Some(m) = q.strip_suffix('m') {
        return m.parse().ok();
    }
    let v: f64 = q.parse().ok()?;
    (v >= 0.0).then(|| (v * 1000.0).ceil() as u64)
}

/// A memory quantity in bytes: `"1G"`, `"1Gi"`, `"512Mi"`, `"1000"`.
pub fn bytes(q: &str) -> Option<u64> {
    let q = q.trim();
    let units: [(&str, f64); 12] = [
        ("Ki", 1024.0),
        ("Mi", 1024f64.powi(2)),
        ("Gi", 1024f64.powi(3)),
        ("Ti", 1024f64.powi(4)),
        ("Pi", 1024f64.powi(5)),
        ("Ei", 1024f64.powi(6)),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
        ("P", 1e15),
        ("E", 1e18),
    ];
    for (suffix, factor) in units {
        if let Some(n) = q.strip_suffix(suffix) {
            let v: f64 = n.parse().ok()?;
            return (v >= 0.0).then(|| (v * factor).ceil() as u64);
        }
    }
    let v: f64 = q.parse().ok()?;
    (v >= 0.0).then(|| v.ceil() as u64)
}

/// Why a pod needing `want` does not fit beside `used` on `node`, as the kubelet's admission
/// says it: `(reason, message)`.
pub fn admission(
    node: &AgentNode,
    used: (u64, u64, u32),
    want: (u64, u64),
) -> Option<(String, String)> {
    let cpu = cpu_millis(&node.cpu).unwrap_or(0);
    let mem = bytes(&node.memory).unwrap_or(0);
    if used.2 + 1 > node.pods {
        return Some((
            "OutOfpods".into(),
            format!(
                "Node didn't have enough resource: pods, requested: 1, used: {}, capacity: {}",
                used.2, node.pods
            ),
        ));
    }
    if used.0 + want.0 > cpu {
        return Some((
            "OutOfcpu".into(),
            format!(
                "Node didn't have enough resource: cpu, requested: {}, used: {}, capacity: {cpu}",
                want.0, used.0
            ),
        ));
    }
    if used.1 + want.1 > mem {
        return Some((
            "OutOfmemory".into(),
            format!(
                "Node didn't have enough resource: memory, requested: {}, used: {}, capacity: {mem}",
                want.1, used.1
            ),
        ));
    }
    None
}

/// The status a kubelet writes once a pod runs: phase Running, Ready, every container running.
/// A strategic-merge patch of the status subresource.
pub fn running_status_patch(
    pod: &Pod,
    pod_ip: &str,
    host_ip: &str,
    now: &str,
) -> serde_json::Value {
    let containers: Vec<serde_json::Value> = pod
        .spec
        .as_ref()
        .map(|s| s.containers.as_slice())
        .unwrap_or_default()
        .iter()
        .map(|c| {
            json!({
                "name": c.name,
                "image": c.image.clone().unwrap_or_default(),
                "imageID": "",
                "ready": true,
                "started": true,
                "restartCount": 0,
                "state": {"running": {"startedAt": now}}
            })
        })
        .collect();
    json!({
        "status": {
            "phase": "Running",
            "hostIP": host_ip,
            "podIP": pod_ip,
            "podIPs": [{"ip": pod_ip}],
            "startTime": now,
            "conditions": [
                {"type": "Initialized", "status": "True", "lastTransitionTime": now},
                {"type": "Ready", "status": "True", "lastTransitionTime": now},
                {"type": "ContainersReady", "status": "True", "lastTransitionTime": now},
                {"type": "PodScheduled", "status": "True", "lastTransitionTime": now}
            ],
            "containerStatuses": containers
        }
    })
}

/// Deletes a pod with grace 0, if it still has `uid`: confirming a graceful deletion.
pub async fn confirm_deletion(api: &Api<Pod>, pod: &Pod) -> Result<(), kube::Error> {
    let name = pod.metadata.name.clone().unwrap_or_default();
    let dp = DeleteParams {
        grace_period_seconds: Some(0),
        preconditions: Some(Preconditions {
            uid: pod.metadata.uid.clone(),
            resource_version: None,
        }),
        ..DeleteParams::default()
    };
    match api.delete(&name, &dp).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => Ok(()),
        Err(e) => Err(e),
    }
}

fn pod_ip(i: u32) -> String {
    format!("10.244.{}.{}", (i >> 8) & 0xff, i & 0xff)
}

fn is_terminal(pod: &Pod) -> bool {
    matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded" | "Failed")
    )
}

/// What the pod loop knows of a pod it admitted.
struct Admitted {
    requests: (u64, u64),
}

/// The pod loop: admit, run, confirm deletions, for every pod bound to the node.
async fn run_pods(client: Client, node: AgentNode) {
    let all: Api<Pod> = Api::all(client.clone());
    let mut admitted: HashMap<String, Admitted> = HashMap::new();
    let mut next_ip: u32 = 2;
    let config = watcher::Config::default().fields(&format!("spec.nodeName={}", node.name));
    let mut events = watcher(all, config).boxed();
    while let Some(event) = events.next().await {
        let pod = match event {
            Ok(watcher::Event::Apply(p) | watcher::Event::InitApply(p)) => p,
            Ok(watcher::Event::Delete(p)) => {
                if let Some(uid) = p.metadata.uid.as_ref() {
                    admitted.remove(uid);
                }
                continue;
            }
            Ok(watcher::Event::Init | watcher::Event::InitDone) => continue,
            Err(e) => {
                tracing::debug!(node = %node.name, error = %e, "agent kubelet: watch error; the watcher retries");
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
        };
        let (Some(uid), Some(ns), Some(name)) = (
            pod.metadata.uid.clone(),
            pod.metadata.namespace.clone(),
            pod.metadata.name.clone(),
        ) else {
            continue;
        };
        let api: Api<Pod> = Api::namespaced(client.clone(), &ns);
        if pod.metadata.deletion_timestamp.is_some() {
            admitted.remove(&uid);
            if let Err(e) = confirm_deletion(&api, &pod).await {
                tracing::warn!(pod = %format!("{ns}/{name}"), error = %e, "agent kubelet: confirming a deletion failed");
            }
            continue;
        }
        if is_terminal(&pod) {
            admitted.remove(&uid);
            continue;
        }
        if admitted.contains_key(&uid) {
            continue;
        }
        let want = pod_requests(&pod);
        let running = pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running");
        if running {
            // Ours from before a watch restart (or a restart of the demo's process).
            admitted.insert(uid, Admitted { requests: want });
            continue;
        }
        let used = admitted.values().fold((0, 0, 0u32), |a, p| {
            (a.0 + p.requests.0, a.1 + p.requests.1, a.2 + 1)
        });
        let now = now();
        let body = match admission(&node, used, want) {
            Some((reason, message)) => json!({"status": {
                "phase": "Failed", "reason": reason, "message": format!("Pod {message}")
            }}),
            None => {
                let ip = pod_ip(next_ip);
                next_ip += 1;
                admitted.insert(uid.clone(), Admitted { requests: want });
                running_status_patch(&pod, &ip, "127.0.0.1", &now)
            }
        };
        if let Err(e) = api
            .patch_status(&name, &PatchParams::default(), &Patch::Strategic(&body))
            .await
        {
            tracing::warn!(pod = %format!("{ns}/{name}"), error = %e, "agent kubelet: status write failed");
            admitted.remove(&uid);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_parse_like_kubernetes() {
        assert_eq!(cpu_millis("2"), Some(2000));
        assert_eq!(cpu_millis("500m"), Some(500));
        assert_eq!(cpu_millis("1.5"), Some(1500));
        assert_eq!(bytes("1G"), Some(1_000_000_000));
        assert_eq!(bytes("1Gi"), Some(1 << 30));
        assert_eq!(bytes("512Mi"), Some(512 << 20));
        assert_eq!(bytes("1000"), Some(1000));
        assert_eq!(bytes("lots"), None);
    }

    #[test]
    fn admission_refuses_what_does_not_fit_and_names_the_resource() {
        let node = AgentNode::nodepool1("n", 4);
        assert_eq!(admission(&node, (3000, 0, 3), (1000, 1 << 30)), None);
        let (reason, message) = admission(&node, (3500, 0, 3), (1000, 0)).expect("too much cpu");
        assert_eq!(reason, "OutOfcpu");
        assert!(
            message.contains("requested: 1000, used: 3500, capacity: 4000"),
            "{message}"
        );
        let (reason, _) = admission(&node, (0, 16 << 30, 1), (0, 1)).expect("too much memory");
        assert_eq!(reason, "OutOfmemory");
        let mut small = node.clone();
        small.pods = 2;
        assert_eq!(
            admission(&small, (0, 0, 2), (0, 0)).map(|r| r.0),
            Some("OutOfpods".into())
        );
    }

    #[test]
    fn requests_count_containers_and_the_largest_init_container() {
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": "p"},
            "spec": {
                "initContainers": [{"name": "i", "resources": {"requests": {"cpu": "3"}}}],
                "containers": [
                    {"name": "a", "resources": {"requests": {"cpu": "1", "memory": "1G"}}},
                    {"name": "b", "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}}}
                ]
            }
        }))
        .expect("a pod");
        assert_eq!(pod_requests(&pod), (3000, 1_000_000_000 + (1 << 30)));
    }

    #[test]
    fn the_running_status_names_every_container() {
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]}
        }))
        .expect("a pod");
        let patch = running_status_patch(&pod, "10.244.0.2", "127.0.0.1", "2020-01-01T00:00:00Z");
        let statuses = patch["status"]["containerStatuses"]
            .as_array()
            .expect("statuses");
        assert_eq!(statuses.len(), 2);
        assert_eq!(statuses[1]["name"], "b");
        assert_eq!(patch["status"]["podIP"], "10.244.0.2");
        assert_ne!(pod_ip(1), pod_ip(257));
        assert!(now_micro().ends_with(".000000Z"));
    }
}
