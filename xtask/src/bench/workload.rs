//! The pods of a run: their manifests, a watch that records when each pod is
//! first seen, first seen Running+Ready and gone, and waiting on that record.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use futures::{StreamExt as _, TryStreamExt as _};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use k8s_openapi::jiff::Timestamp;
use kube::api::{DeleteParams, ListParams, PostParams, WatchEvent, WatchParams};
use kube::{Api, Client};
use serde_json::json;

/// Concurrent requests of the harness's own client.
pub(crate) const CONCURRENCY: usize = 32;

/// The label on every benchmark pod.
pub(crate) const APP_LABEL: &str = "vk-bench";

/// What the watch learnt about one pod.
#[derive(Debug, Clone, Default)]
pub(crate) struct PodTimes {
    /// The create request's answer, when the harness created the pod itself.
    pub(crate) created: Option<Instant>,
    /// The first watch event (or list) showing the pod.
    pub(crate) first_seen: Option<Instant>,
    /// `metadata.creationTimestamp`.
    pub(crate) creation_ts: Option<Timestamp>,
    /// The first watch event showing it Running with Ready=True.
    pub(crate) running: Option<Instant>,
    pub(crate) running_wall: Option<Timestamp>,
    /// The watch event showing it deleted.
    pub(crate) gone: Option<Instant>,
    /// Whether it was ever seen with phase Failed.
    pub(crate) failed: bool,
}

/// The watch's record of a namespace's pods.
#[derive(Debug, Default)]
pub(crate) struct Tracker {
    pods: Mutex<HashMap<String, PodTimes>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Running with Ready=True.
pub(crate) fn running_ready(pod: &Pod) -> bool {
    let Some(status) = pod.status.as_ref() else {
        return false;
    };
    status.phase.as_deref() == Some("Running")
        && status
            .conditions
            .iter()
            .flatten()
            .any(|c| c.type_ == "Ready" && c.status == "True")
}

impl Tracker {
    pub(crate) fn created(&self, name: &str, at: Instant) {
        let mut pods = lock(&self.pods);
        let t = pods.entry(name.to_owned()).or_default();
        t.created.get_or_insert(at);
    }

    fn observe(&self, pod: &Pod, at: Instant) {
        let Some(name) = pod.metadata.name.as_deref() else {
            return;
        };
        let mut pods = lock(&self.pods);
        let t = pods.entry(name.to_owned()).or_default();
        t.first_seen.get_or_insert(at);
        if t.creation_ts.is_none() {
            t.creation_ts = pod.metadata.creation_timestamp.as_ref().map(|ts| ts.0);
        }
        if pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Failed") {
            t.failed = true;
        }
        if t.running.is_none() && running_ready(pod) {
            t.running = Some(at);
            t.running_wall = Some(Timestamp::now());
        }
    }

    fn deleted(&self, pod: &Pod, at: Instant) {
        if let Some(name) = pod.metadata.name.as_deref() {
            let mut pods = lock(&self.pods);
            let t = pods.entry(name.to_owned()).or_default();
            t.first_seen.get_or_insert(at);
            t.gone.get_or_insert(at);
        }
    }

    /// (pods seen, Running+Ready, gone).
    pub(crate) fn counts(&self) -> (usize, usize, usize) {
        let pods = lock(&self.pods);
        let seen = pods.values().filter(|t| t.first_seen.is_some()).count();
        let running = pods.values().filter(|t| t.running.is_some()).count();
        let gone = pods.values().filter(|t| t.gone.is_some()).count();
        (seen, running, gone)
    }

    /// Pods ever seen with phase Failed.
    pub(crate) fn failed(&self) -> usize {
        lock(&self.pods).values().filter(|t| t.failed).count()
    }

    /// Wall-clock time of each pod's first Running+Ready sighting, by name.
    pub(crate) fn running_walls(&self) -> Vec<(String, Timestamp)> {
        lock(&self.pods)
            .iter()
            .filter_map(|(name, t)| Some((name.clone(), t.running_wall?)))
            .collect()
    }

    pub(crate) fn snapshot(&self) -> Vec<PodTimes> {
        lock(&self.pods).values().cloned().collect()
    }

    /// Latencies in seconds: creation (create answer or first sighting,
    /// whichever was first) → Running+Ready sighting; and creationTimestamp →
    /// wall clock of that sighting.
    pub(crate) fn latencies(&self) -> (Vec<f64>, Vec<f64>) {
        let mut watch = Vec::new();
        let mut by_ts = Vec::new();
        for t in self.snapshot() {
            let start = match (t.created, t.first_seen) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            if let (Some(start), Some(run)) = (start, t.running) {
                watch.push(run.saturating_duration_since(start).as_secs_f64());
            }
            if let (Some(ts), Some(wall)) = (t.creation_ts, t.running_wall) {
                by_ts.push(wall.duration_since(ts).as_secs_f64().max(0.0));
            }
        }
        (watch, by_ts)
    }
}

/// Watches the pods of `ns` into `tracker` until the task is aborted
/// (re-listing after an expired watch).
pub(crate) async fn watch_pods(client: Client, ns: String, tracker: Arc<Tracker>) {
    let api: Api<Pod> = Api::namespaced(client, &ns);
    loop {
        let list = match api.list(&ListParams::default()).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "bench: listing pods failed; retrying");
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        let now = Instant::now();
        for p in &list.items {
            tracker.observe(p, now);
        }
        let mut rv = list.metadata.resource_version.unwrap_or_default();
        'watch: loop {
            let stream = match api.watch(&WatchParams::default().timeout(290), &rv).await {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "bench: watch failed; re-listing");
                    break 'watch;
                }
            };
            futures::pin_mut!(stream);
            while let Some(ev) = stream.next().await {
                let now = Instant::now();
                match ev {
                    Ok(WatchEvent::Added(p) | WatchEvent::Modified(p)) => {
                        rv = p.metadata.resource_version.clone().unwrap_or(rv);
                        tracker.observe(&p, now);
                    }
                    Ok(WatchEvent::Deleted(p)) => {
                        rv = p.metadata.resource_version.clone().unwrap_or(rv);
                        tracker.deleted(&p, now);
                    }
                    Ok(WatchEvent::Bookmark(b)) => rv = b.metadata.resource_version,
                    Ok(WatchEvent::Error(e)) => {
                        tracing::debug!(error = ?e, "bench: watch error; re-listing");
                        break 'watch;
                    }
                    Err(e) => {
                        tracing::debug!(error = %e, "bench: watch stream error; re-watching");
                        continue 'watch;
                    }
                }
            }
        }
    }
}

/// Waits until `done(counts)` holds or `limit` passes; returns the time
/// from `start` to the moment it held (or to the limit).
pub(crate) async fn wait_until(
    tracker: &Tracker,
    start: Instant,
    limit: Duration,
    what: &str,
    done: impl Fn((usize, usize, usize)) -> bool,
) -> (Duration, bool) {
    let mut last_report = Instant::now();
    loop {
        let counts = tracker.counts();
        if done(counts) {
            return (start.elapsed(), true);
        }
        if start.elapsed() > limit {
            eprintln!(
                "bench: gave up waiting for {what} after {:.0} s (seen {}, running {}, gone {})",
                limit.as_secs_f64(),
                counts.0,
                counts.1,
                counts.2
            );
            return (start.elapsed(), false);
        }
        if last_report.elapsed() > Duration::from_secs(10) {
            last_report = Instant::now();
            eprintln!(
                "bench: … {what}: {:.0} s, seen {}, running {}, gone {}",
                start.elapsed().as_secs_f64(),
                counts.0,
                counts.1,
                counts.2
            );
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A pod manifest: busybox, no ports, no service account token, tolerating
/// vk's taint; bound to `node` when given.
pub(crate) fn pod(name: &str, node: Option<&str>) -> Pod {
    let mut spec = pod_spec();
    if let Some(node) = node {
        spec["nodeName"] = json!(node);
    }
    serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": APP_LABEL}},
        "spec": spec,
    }))
    .unwrap_or_default()
}

fn pod_spec() -> serde_json::Value {
    json!({
        "automountServiceAccountToken": false,
        "tolerations": [
            {"key": "virtual-kubelet.io/provider", "operator": "Exists"},
            {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
            {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"}
        ],
        "containers": [{"name": "main", "image": "busybox"}]
    })
}

/// A Deployment of `replicas` pods scheduled onto virtual nodes.
pub(crate) fn deployment(name: &str, replicas: usize) -> Deployment {
    deployment_on(name, replicas, "virtual-kubelet", false)
}

/// A Deployment of `replicas` pods scheduled onto nodes labelled
/// `type=<node_type>`, tolerating every taint when `tolerate_all`.
pub(crate) fn deployment_on(
    name: &str,
    replicas: usize,
    node_type: &str,
    tolerate_all: bool,
) -> Deployment {
    let mut spec = pod_spec();
    spec["nodeSelector"] = json!({ "type": node_type });
    if tolerate_all {
        spec["tolerations"] = json!([{"operator": "Exists"}]);
    }
    spec["terminationGracePeriodSeconds"] = json!(30);
    serde_json::from_value(json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": APP_LABEL}},
            "template": {
                "metadata": {"labels": {"app": APP_LABEL}},
                "spec": spec
            }
        }
    }))
    .unwrap_or_default()
}

/// The name of the `i`-th pod.
pub(crate) fn pod_name(i: usize) -> String {
    format!("bench-{i:05}")
}

/// Creates a namespace (and waits for its default ServiceAccount, which 1.20
/// needs before pods can be created).
pub(crate) async fn create_namespace(client: &Client, ns: &str) -> anyhow::Result<()> {
    let api: Api<Namespace> = Api::all(client.clone());
    let body: Namespace = serde_json::from_value(json!({"metadata": {"name": ns}}))?;
    api.create(&PostParams::default(), &body)
        .await
        .with_context(|| format!("creating namespace {ns}"))?;
    let sa: Api<k8s_openapi::api::core::v1::ServiceAccount> = Api::namespaced(client.clone(), ns);
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if sa.get_opt("default").await.ok().flatten().is_some() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!("namespace {ns} got no default ServiceAccount within 60 s")
}

/// Deletes a namespace without waiting.
pub(crate) async fn delete_namespace(client: &Client, ns: &str) {
    let api: Api<Namespace> = Api::all(client.clone());
    let _ = api.delete(ns, &DeleteParams::default()).await;
}

/// Creates pods `0..n` (bound to `node` when given), `CONCURRENCY` at a time,
/// recording each answer in `tracker` and sending the name to `created`.
pub(crate) async fn create_pods(
    client: &Client,
    ns: &str,
    n: usize,
    node: Option<&str>,
    tracker: &Tracker,
    created: Option<&tokio::sync::mpsc::UnboundedSender<String>>,
) -> anyhow::Result<()> {
    let api: Api<Pod> = Api::namespaced(client.clone(), ns);
    futures::stream::iter(0..n)
        .map(|i| {
            let api = api.clone();
            async move {
                let name = pod_name(i);
                let p = pod(&name, node);
                let mut attempt = 0;
                loop {
                    match api.create(&PostParams::default(), &p).await {
                        Ok(_) => return Ok::<_, anyhow::Error>(name),
                        Err(e) if attempt < 5 => {
                            attempt += 1;
                            tracing::warn!(pod = %name, error = %e, "bench: create failed; retrying");
                            tokio::time::sleep(Duration::from_millis(200)).await;
                        }
                        Err(e) => return Err(e).with_context(|| format!("creating pod {name}")),
                    }
                }
            }
        })
        .buffer_unordered(CONCURRENCY)
        .try_for_each(|name| {
            tracker.created(&name, Instant::now());
            if let Some(tx) = created {
                let _ = tx.send(name);
            }
            async { Ok(()) }
        })
        .await
}

/// Deletes pods `0..n` with `grace` (the pod's default when `None`).
pub(crate) async fn delete_pods(
    client: &Client,
    ns: &str,
    n: usize,
    grace: Option<u32>,
) -> anyhow::Result<()> {
    let api: Api<Pod> = Api::namespaced(client.clone(), ns);
    let dp = DeleteParams {
        grace_period_seconds: grace,
        ..DeleteParams::default()
    };
    futures::stream::iter(0..n)
        .map(|i| {
            let api = api.clone();
            let dp = dp.clone();
            async move {
                let name = pod_name(i);
                match api.delete(&name, &dp).await {
                    Ok(_) => Ok(()),
                    Err(kube::Error::Api(s)) if s.is_not_found() => Ok(()),
                    Err(e) => Err(anyhow::Error::from(e).context(format!("deleting pod {name}"))),
                }
            }
        })
        .buffer_unordered(CONCURRENCY)
        .try_collect::<Vec<()>>()
        .await
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests() {
        let p = pod("bench-00001", Some("vk-node"));
        let spec = p.spec.expect("spec");
        assert_eq!(spec.node_name.as_deref(), Some("vk-node"));
        assert_eq!(spec.automount_service_account_token, Some(false));
        assert_eq!(spec.containers[0].image.as_deref(), Some("busybox"));
        assert!(spec.containers[0].ports.is_none());
        let d = deployment("bench", 7);
        let dspec = d.spec.expect("spec");
        assert_eq!(dspec.replicas, Some(7));
        let tspec = dspec.template.spec.expect("template spec");
        assert_eq!(
            tspec.node_selector.expect("selector")["type"],
            "virtual-kubelet"
        );
        assert!(tspec.node_name.is_none());
        assert_eq!(pod_name(42), "bench-00042");
    }

    #[test]
    fn tracker_counts_and_latencies() {
        let t = Tracker::default();
        let t0 = Instant::now();
        let mut p: Pod = serde_json::from_value(json!({
            "metadata": {"name": "a", "creationTimestamp": "2020-01-01T00:00:00Z"},
            "status": {"phase": "Pending"}
        }))
        .expect("pod");
        t.created("a", t0);
        t.observe(&p, t0 + Duration::from_millis(5));
        assert_eq!(t.counts(), (1, 0, 0));
        p.status = serde_json::from_value(json!({
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True"}]
        }))
        .expect("status");
        t.observe(&p, t0 + Duration::from_millis(250));
        // A later event does not move the first Running sighting.
        t.observe(&p, t0 + Duration::from_secs(9));
        assert_eq!(t.counts(), (1, 1, 0));
        assert_eq!(t.failed(), 0);
        assert_eq!(t.running_walls().len(), 1);
        let (watch, by_ts) = t.latencies();
        assert_eq!(watch.len(), 1);
        assert!((watch[0] - 0.25).abs() < 1e-9, "{watch:?}");
        assert_eq!(by_ts.len(), 1);
        t.deleted(&p, t0 + Duration::from_secs(10));
        assert_eq!(t.counts(), (1, 1, 1));
    }

    #[test]
    fn running_needs_ready() {
        let p: Pod = serde_json::from_value(json!({
            "metadata": {"name": "a"},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}]}
        }))
        .expect("pod");
        assert!(!running_ready(&p));
        let t = Tracker::default();
        let failed: Pod = serde_json::from_value(json!({
            "metadata": {"name": "f"}, "status": {"phase": "Failed"}
        }))
        .expect("pod");
        t.observe(&failed, Instant::now());
        assert_eq!(t.failed(), 1);
    }
}
