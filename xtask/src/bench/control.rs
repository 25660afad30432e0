//! The control experiment: no vk, a plain client doing what vk must do at
//! the least — one status write per pod, and one grace-0 delete confirming
//! each graceful deletion — straight to the API server. Its times are the
//! limit this API server sets on this machine.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use futures::StreamExt as _;
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::jiff::Timestamp;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use serde_json::json;

use super::report::{ControlReport, Latency, pods_per_sec};
use super::workload::{self, CONCURRENCY, Tracker};

/// The fake node the control's pods are bound to. A Node object exists for
/// it (tainted, unschedulable) so the pod garbage collector leaves its pods alone.
pub(crate) const FAKE_NODE: &str = "bench-control-fake-node";

/// The status a kubelet (or vk) writes once a pod runs: phase Running, Ready,
/// one running container. A strategic-merge patch of the status subresource.
pub(crate) fn running_status_patch(pod_ip: &str, now: &str) -> serde_json::Value {
    json!({
        "status": {
            "phase": "Running",
            "hostIP": "127.0.0.1",
            "podIP": pod_ip,
            "podIPs": [{"ip": pod_ip}],
            "startTime": now,
            "qosClass": "BestEffort",
            "conditions": [
                {"type": "Initialized", "status": "True", "lastTransitionTime": now},
                {"type": "Ready", "status": "True", "lastTransitionTime": now},
                {"type": "ContainersReady", "status": "True", "lastTransitionTime": now}
            ],
            "containerStatuses": [{
                "name": "main",
                "image": "busybox",
                "imageID": "",
                "ready": true,
                "started": true,
                "restartCount": 0,
                "state": {"running": {"startedAt": now}}
            }]
        }
    })
}

fn fake_ip(i: usize) -> String {
    format!(
        "10.{}.{}.{}",
        200 + (i >> 16) % 50,
        (i >> 8) & 0xff,
        i & 0xff
    )
}

async fn create_fake_node(client: &Client) -> anyhow::Result<()> {
    let nodes: Api<Node> = Api::all(client.clone());
    let node: Node = serde_json::from_value(json!({
        "metadata": {"name": FAKE_NODE, "labels": {"type": "bench-control"}},
        "spec": {
            "unschedulable": true,
            "taints": [{"key": "vk-bench/control", "effect": "NoSchedule"}]
        }
    }))?;
    match nodes.create(&PostParams::default(), &node).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.is_already_exists() => Ok(()),
        Err(e) => Err(e).context("creating the control's fake node"),
    }
}

/// Runs the control in namespace `ns` with `n` pods.
pub(crate) async fn run(client: &Client, ns: &str, n: usize) -> anyhow::Result<ControlReport> {
    create_fake_node(client).await?;
    workload::create_namespace(client, ns).await?;
    let tracker = Arc::new(Tracker::default());
    let watch = tokio::spawn(workload::watch_pods(
        client.clone(),
        ns.to_owned(),
        Arc::clone(&tracker),
    ));
    tokio::time::sleep(Duration::from_millis(300)).await;

    let limit = Duration::from_secs(120 + n as u64 / 2);
    let api: Api<Pod> = Api::namespaced(client.clone(), ns);
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let writes = Arc::new(AtomicUsize::new(0));
    let patcher = {
        let api = api.clone();
        let writes = Arc::clone(&writes);
        tokio::spawn(async move {
            tokio_stream_from(rx)
                .map(|name| {
                    let api = api.clone();
                    let writes = Arc::clone(&writes);
                    async move {
                        let i: usize = name
                            .rsplit('-')
                            .next()
                            .and_then(|s| s.parse().ok())
                            .unwrap_or(0);
                        let now = Timestamp::now().round(k8s_openapi::jiff::Unit::Second);
                        let body = running_status_patch(&fake_ip(i), &now.map_or_else(
                            |_| "2020-01-01T00:00:00Z".to_owned(),
                            |t| t.to_string(),
                        ));
                        for _ in 0..5 {
                            match api
                                .patch_status(&name, &PatchParams::default(), &Patch::Strategic(&body))
                                .await
                            {
                                Ok(_) => {
                                    writes.fetch_add(1, Ordering::Relaxed);
                                    return;
                                }
                                Err(e) => {
                                    tracing::warn!(pod = %name, error = %e, "control: status patch failed; retrying");
                                    tokio::time::sleep(Duration::from_millis(100)).await;
                                }
                            }
                        }
                    }
                })
                .buffer_unordered(CONCURRENCY)
                .for_each(|()| async {})
                .await;
        })
    };
    eprintln!("bench: control: creating {n} pods bound to {FAKE_NODE} and writing their status…");
    let start = Instant::now();
    workload::create_pods(client, ns, n, Some(FAKE_NODE), &tracker, Some(&tx)).await?;
    drop(tx);
    let (running, ok) =
        workload::wait_until(&tracker, start, limit, "control Running", |c| c.1 >= n).await;
    let _ = patcher.await;
    let (lat, _) = tracker.latencies();
    let running_complete = tracker.counts().1;
    if !ok {
        eprintln!("bench: control: only {running_complete}/{n} pods Running");
    }

    eprintln!(
        "bench: control: deleting {n} pods (default grace; the control confirms each with grace 0)…"
    );
    // All pods run: the fake kubelet only confirms the deletions.
    let confirmer = tokio::spawn(fake_kubelet(
        api.clone(),
        FAKE_NODE,
        Arc::new(AtomicUsize::new(0)),
    ));
    let start = Instant::now();
    workload::delete_pods(client, ns, n, None).await?;
    let (deleted, _) =
        workload::wait_until(&tracker, start, limit, "control deletion", |c| c.2 >= n).await;
    let deleted_complete = tracker.counts().2;
    clean_up(client, ns, FAKE_NODE, &[confirmer, watch]).await;
    Ok(report(
        n,
        running,
        running_complete,
        &lat,
        deleted,
        deleted_complete,
        &writes,
    ))
}

/// The schedulable fake node of the deployment-mode control.
pub(crate) const SCHED_NODE: &str = "bench-control-sched-node";
const SCHED_NODE_TYPE: &str = "bench-control-sched";

/// A Node the scheduler can place `n` pods on: Ready, with room for them.
/// Nothing renews its Lease; the control is over long before the node
/// lifecycle controller would mark it unreachable (40 s), and its pods
/// tolerate every taint anyway.
async fn create_sched_node(client: &Client, n: usize) -> anyhow::Result<()> {
    let nodes: Api<Node> = Api::all(client.clone());
    let node: Node = serde_json::from_value(json!({
        "metadata": {"name": SCHED_NODE, "labels": {"type": SCHED_NODE_TYPE}}
    }))?;
    match nodes.create(&PostParams::default(), &node).await {
        Ok(_) => {}
        Err(kube::Error::Api(s)) if s.is_already_exists() => {}
        Err(e) => return Err(e).context("creating the deployment control's fake node"),
    }
    let room = json!({"pods": (n + 100).to_string(), "cpu": "1000", "memory": "4Ti"});
    let now = Timestamp::now()
        .round(k8s_openapi::jiff::Unit::Second)?
        .to_string();
    let status = json!({"status": {
        "capacity": room,
        "allocatable": room,
        "conditions": [{"type": "Ready", "status": "True", "reason": "BenchControl",
                        "lastHeartbeatTime": now, "lastTransitionTime": now}]
    }});
    nodes
        .patch_status(
            SCHED_NODE,
            &PatchParams::default(),
            &Patch::Strategic(&status),
        )
        .await
        .context("making the deployment control's fake node Ready")?;
    Ok(())
}

/// The least a kubelet does for the pods bound to `node` in `api`'s
/// namespace: one Running status patch per pod, and one grace-0 delete per
/// graceful deletion (the test kit's [`vk_testkit::agent`] status and
/// confirmation, without its admission: the control measures the API
/// server, many writes at a time). Counts the status writes.
async fn fake_kubelet(api: Api<Pod>, node: &'static str, writes: Arc<AtomicUsize>) {
    use kube::runtime::{WatchStreamExt as _, watcher};
    let done = Arc::new(std::sync::Mutex::new(
        std::collections::HashSet::<String>::new(),
    ));
    watcher(
        api.clone(),
        watcher::Config::default().fields(&format!("spec.nodeName={node}")),
    )
    .applied_objects()
    .filter_map(|p| async move { p.ok() })
    .filter_map(|p| {
        let done = Arc::clone(&done);
        async move {
            let uid = p.metadata.uid.clone()?;
            let deleting = p.metadata.deletion_timestamp.is_some();
            let key = format!("{uid}/{deleting}");
            let mut d = done.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            (!workload::running_ready(&p) || deleting)
                .then_some(())
                .and_then(|()| d.insert(key).then_some((p, deleting)))
        }
    })
    .map(|(p, deleting)| {
        let api = api.clone();
        let writes = Arc::clone(&writes);
        async move {
            let name = p.metadata.name.clone().unwrap_or_default();
            if deleting {
                if let Err(e) = vk_testkit::agent::confirm_deletion(&api, &p).await {
                    tracing::debug!(pod = %name, error = %e, "control: confirming a deletion failed");
                }
                return;
            }
            let i = writes.load(Ordering::Relaxed);
            let now = Timestamp::now()
                .round(k8s_openapi::jiff::Unit::Second)
                .map_or_else(|_| "2020-01-01T00:00:00Z".to_owned(), |t| t.to_string());
            let body = vk_testkit::agent::running_status_patch(&p, &fake_ip(i), "127.0.0.1", &now);
            match api
                .patch_status(&name, &PatchParams::default(), &Patch::Strategic(&body))
                .await
            {
                Ok(_) => {
                    writes.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => tracing::warn!(pod = %name, error = %e, "control: status patch failed"),
            }
        }
    })
    .buffer_unordered(CONCURRENCY)
    .for_each(|()| async {})
    .await;
}

/// The deployment-mode control in namespace `ns`: the same Deployment of `n`
/// pods as vk's deployment mode, through the scheduler and the ReplicaSet
/// controller, to a fake node whose "kubelet" is [`fake_kubelet`]; then
/// scaled to 0.
pub(crate) async fn run_deployment(
    client: &Client,
    ns: &str,
    n: usize,
) -> anyhow::Result<ControlReport> {
    use k8s_openapi::api::apps::v1::Deployment;
    create_sched_node(client, n).await?;
    workload::create_namespace(client, ns).await?;
    let tracker = Arc::new(Tracker::default());
    let watch = tokio::spawn(workload::watch_pods(
        client.clone(),
        ns.to_owned(),
        Arc::clone(&tracker),
    ));
    let api: Api<Pod> = Api::namespaced(client.clone(), ns);
    let writes = Arc::new(AtomicUsize::new(0));
    let kubelet = tokio::spawn(fake_kubelet(api, SCHED_NODE, Arc::clone(&writes)));
    tokio::time::sleep(Duration::from_millis(300)).await;

    let limit = Duration::from_secs(120 + n as u64 / 2);
    eprintln!("bench: control (deployment): a Deployment of {n} pods onto {SCHED_NODE}…");
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), ns);
    let start = Instant::now();
    deployments
        .create(
            &PostParams::default(),
            &workload::deployment_on("bench", n, SCHED_NODE_TYPE, true),
        )
        .await
        .context("creating the control's Deployment")?;
    let (running, _) = workload::wait_until(
        &tracker,
        start,
        limit,
        "control (deployment) Running",
        |c| c.1 >= n,
    )
    .await;
    let (lat, _) = tracker.latencies();
    let running_complete = tracker.counts().1;

    let start = Instant::now();
    deployments
        .patch(
            "bench",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 0}})),
        )
        .await
        .context("scaling the control's Deployment to 0")?;
    let (deleted, _) = workload::wait_until(
        &tracker,
        start,
        limit,
        "control (deployment) deletion",
        |c| c.2 >= c.0 && c.0 >= n,
    )
    .await;
    let deleted_complete = tracker.counts().2;
    clean_up(client, ns, SCHED_NODE, &[kubelet, watch]).await;
    Ok(report(
        n,
        running,
        running_complete,
        &lat,
        deleted,
        deleted_complete,
        &writes,
    ))
}

/// Stops a control's tasks and removes its namespace and fake node.
async fn clean_up(client: &Client, ns: &str, node: &str, tasks: &[tokio::task::JoinHandle<()>]) {
    for t in tasks {
        t.abort();
    }
    workload::delete_namespace(client, ns).await;
    let nodes: Api<Node> = Api::all(client.clone());
    let _ = nodes.delete(node, &DeleteParams::default()).await;
}

/// A control's figures.
fn report(
    n: usize,
    running: Duration,
    running_complete: usize,
    latencies: &[f64],
    deleted: Duration,
    deleted_complete: usize,
    writes: &AtomicUsize,
) -> ControlReport {
    ControlReport {
        pods: n,
        running_secs: running.as_secs_f64(),
        running_complete,
        pods_per_sec: pods_per_sec(running_complete, running),
        latency_watch: Latency::of(latencies),
        delete_secs: deleted.as_secs_f64(),
        deleted_complete,
        status_writes: writes.load(Ordering::Relaxed),
    }
}

/// An unbounded receiver as a stream.
fn tokio_stream_from(
    mut rx: tokio::sync::mpsc::UnboundedReceiver<String>,
) -> impl futures::Stream<Item = String> {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_patch_makes_the_pod_running_and_ready() {
        let body = running_status_patch("10.0.0.1", "2020-01-01T00:00:00Z");
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": "x"},
            "status": body["status"].clone()
        }))
        .expect("a pod status");
        assert!(workload::running_ready(&pod));
        let cs = &pod.status.expect("status").container_statuses.expect("cs")[0];
        assert!(cs.state.as_ref().expect("state").running.is_some());
        assert_ne!(fake_ip(1), fake_ip(257));
    }
}
