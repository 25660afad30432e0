// Over 800 lines: the reconciler's cases against a real control plane share one cluster fixture.
//! The pod reconciler with the in-memory provider against a real API server.
//!
//! Over 800 lines on purpose: one scenario per test, all against the one
//! local control plane and sharing the harness above them; split into more
//! test binaries they would each link the reconciler and kube again without
//! making a scenario easier to find (the test names say what each checks).
#![allow(clippy::unwrap_used, reason = "test helpers outside #[test] functions")]

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use tokio_util::sync::CancellationToken;
use vk_pods::{
    ErrorKind, InMemoryProvider, PodKey, PodReconciler, ProviderError, ReconcilerConfig,
};
use vk_testkit::pod::first_waiting_reason as waiting_reason;
use vk_testkit::{TestEnv, TestNamespace, wait};

struct Harness {
    ns: TestNamespace,
    node: String,
    provider: Arc<InMemoryProvider>,
    metrics: Arc<vk_pods::ReconcilerMetrics>,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl Harness {
    /// Fast syncs (200 ms, 1 s steady), no orphan grace, a fresh provider.
    async fn start(prefix: &str, taints: serde_json::Value) -> Self {
        Self::start_with(prefix, taints, Arc::default(), |cfg| {
            cfg.sync_interval = Duration::from_millis(200);
            cfg.steady_sync_interval = Duration::from_secs(1);
            cfg.orphan_grace = Duration::ZERO;
        })
        .await
    }

    /// A node with `taints` and a reconciler over `provider`, configured by `cfg`.
    async fn start_with(
        prefix: &str,
        taints: serde_json::Value,
        provider: Arc<InMemoryProvider>,
        cfg: impl FnOnce(&mut ReconcilerConfig),
    ) -> Self {
        Self::start_full(prefix, taints, provider, cfg, None).await
    }

    async fn start_full(
        prefix: &str,
        taints: serde_json::Value,
        provider: Arc<InMemoryProvider>,
        cfg: impl FnOnce(&mut ReconcilerConfig),
        creates: Option<Arc<vk_pods::Budget>>,
    ) -> Self {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
        let env = TestEnv::get().await;
        let ns = env.namespace(prefix).await;
        let node = format!("{}-node", ns.name);
        let n: Node = serde_json::from_value(serde_json::json!({
            "metadata": {"name": node, "labels": {"type": "virtual-kubelet"}},
            "spec": {"taints": taints}
        }))
        .unwrap();
        Api::<Node>::all(ns.client.clone())
            .create(&PostParams::default(), &n)
            .await
            .unwrap();
        let mut config = ReconcilerConfig::new(&node);
        cfg(&mut config);
        let shutdown = CancellationToken::new();
        let mut rec = PodReconciler::new(ns.client.clone(), provider.clone(), config);
        if let Some(creates) = creates {
            rec = rec.with_budgets(creates, Arc::new(vk_pods::Budget::unlimited()));
        }
        let metrics = rec.metrics_handle();
        let task = tokio::spawn(rec.run(shutdown.clone()));
        Self {
            ns,
            node,
            provider,
            metrics,
            shutdown,
            task,
        }
    }

    fn pods(&self) -> Api<Pod> {
        Api::namespaced(self.ns.client.clone(), &self.ns.name)
    }

    async fn create(&self, name: &str, extra: serde_json::Value) -> Pod {
        let mut spec = serde_json::json!({
            "nodeName": self.node,
            "restartPolicy": "Never",
            "automountServiceAccountToken": false,
            "containers": [{"name": "main", "image": "busybox"}],
        });
        if let (Some(s), Some(e)) = (spec.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                s.insert(k.clone(), v.clone());
            }
        }
        let pod: Pod =
            serde_json::from_value(serde_json::json!({"metadata": {"name": name}, "spec": spec}))
                .unwrap();
        self.pods()
            .create(&PostParams::default(), &pod)
            .await
            .unwrap()
    }

    async fn phase(&self, name: &str, phase: &str) -> Pod {
        let pods = self.pods();
        wait::until(&format!("pod {name} {phase}"), 30, || async {
            pods.get_opt(name)
                .await
                .ok()
                .flatten()
                .filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some(phase))
        })
        .await
    }

    async fn stop(self) {
        self.shutdown.cancel();
        self.task.await.unwrap();
        let _ = Api::<Node>::all(self.ns.client.clone())
            .delete(&self.node, &DeleteParams::default())
            .await;
    }
}

fn client_of(h: &Harness) -> Client {
    h.ns.client.clone()
}

#[tokio::test]
async fn pods_run_complete_and_are_deleted_gracefully() {
    let h = Harness::start("pods-life", serde_json::json!([])).await;

    let web = h
        .create("web", serde_json::json!({"restartPolicy": "Always"}))
        .await;
    let running = h.phase("web", "Running").await;
    let status = running.status.unwrap();
    assert!(status.pod_ip.unwrap().starts_with("10.200."));
    assert_eq!(status.host_ip.as_deref(), Some("127.0.0.1"));
    let ready = status
        .conditions
        .unwrap()
        .into_iter()
        .find(|c| c.type_ == "Ready")
        .unwrap();
    assert_eq!(ready.status, "True");
    assert_eq!(status.container_statuses.unwrap()[0].name, "main");

    // A Job-like pod that exits 3 fails with the exit code in its container status.
    h.create(
        "job",
        serde_json::json!({"containers": [{"name": "main", "image": "busybox",
        "command": ["sh", "-c", "echo done; exit 3"]}]}),
    )
    .await;
    let failed = h.phase("job", "Failed").await;
    // A finished pod's instance is stopped once: it never runs again.
    let job_uid = failed.metadata.uid.clone().unwrap();
    wait::until("the finished pod's instance stopped", 30, || async {
        h.provider.stopped().contains(&job_uid).then_some(())
    })
    .await;
    assert!(
        !h.provider
            .stopped()
            .contains(web.metadata.uid.as_ref().unwrap())
    );
    let cs = &failed.status.unwrap().container_statuses.unwrap()[0];
    assert_eq!(
        cs.state
            .as_ref()
            .unwrap()
            .terminated
            .as_ref()
            .unwrap()
            .exit_code,
        3
    );
    h.create(
        "ok",
        serde_json::json!({"containers": [{"name": "main", "image": "busybox",
        "command": ["sh", "-c", "exit 0"]}]}),
    )
    .await;
    h.phase("ok", "Succeeded").await;

    // Graceful deletion: the instance goes, then the pod object.
    let pods = h.pods();
    pods.delete("web", &DeleteParams::default()).await.unwrap();
    wait::deleted(&pods, "web", 30).await;
    let uid = web.metadata.uid.unwrap();
    assert!(!h.provider.keys().iter().any(|k| k.uid == uid));
    let _ = client_of(&h);
    h.stop().await;
}

#[tokio::test]
async fn each_deleted_pod_costs_one_provider_delete() {
    // The pod's last updates (deletion timestamp, then vk's own grace-0
    // delete) queue reconciles after the deletion completed: they must not
    // call the provider again.
    let h = Harness::start("pods-del1", serde_json::json!([])).await;
    let n = 20;
    for i in 0..n {
        h.create(
            &format!("p{i}"),
            serde_json::json!({"restartPolicy": "Always"}),
        )
        .await;
    }
    for i in 0..n {
        h.phase(&format!("p{i}"), "Running").await;
    }
    let before = h.provider.calls().1;
    let pods = h.pods();
    for i in 0..n {
        pods.delete(&format!("p{i}"), &DeleteParams::default())
            .await
            .unwrap();
    }
    for i in 0..n {
        wait::deleted(&pods, &format!("p{i}"), 30).await;
    }
    assert!(h.provider.is_empty());
    assert_eq!(
        h.provider.calls().1 - before,
        n,
        "one provider delete per pod"
    );
    h.stop().await;
}

#[tokio::test]
async fn a_listing_that_began_before_a_pods_deletion_does_not_delete_its_instance_again() {
    // A listing pages for a while; a pod deleted meanwhile had its instance
    // deleted by its own reconcile, and the stale listing still shows the
    // instance with no pod: it must not be deleted again as an orphan (on ACI
    // each DELETE spends a slot of the delete quota).
    let h = Harness::start("pods-stale-list", serde_json::json!([])).await;
    h.create("p", serde_json::json!({"restartPolicy": "Always"}))
        .await;
    h.phase("p", "Running").await;
    let before = h.provider.calls().1;
    h.provider.hold_listings(true);
    wait::until("a listing holding the running instance", 30, || async {
        (h.provider.listings_waiting() > 0).then_some(())
    })
    .await;
    let pods = h.pods();
    pods.delete("p", &DeleteParams::default()).await.unwrap();
    wait::deleted(&pods, "p", 30).await;
    assert!(h.provider.is_empty());
    assert_eq!(h.provider.calls().1 - before, 1, "the pod's own delete");
    // The pod cache has seen the deletion; the stale listing answers now.
    tokio::time::sleep(Duration::from_millis(500)).await;
    h.provider.hold_listings(false);
    let lists = h.provider.calls().3;
    wait::until("later listings and orphan collections", 30, || async {
        (h.provider.calls().3 >= lists + 3).then_some(())
    })
    .await;
    assert_eq!(
        h.provider.calls().1 - before,
        1,
        "no second delete of an instance whose deletion was accepted"
    );
    h.stop().await;
}

/// The waiting state of the first container of `s`.
fn first_waiting(
    s: &k8s_openapi::api::core::v1::PodStatus,
) -> k8s_openapi::api::core::v1::ContainerStateWaiting {
    s.container_statuses.as_ref().unwrap()[0]
        .state
        .clone()
        .unwrap()
        .waiting
        .unwrap()
}

async fn until_waiting(h: &Harness, name: &str, reason: &str) -> Pod {
    let pods = h.pods();
    wait::until(&format!("pod {name} waiting {reason}"), 30, || async {
        pods.get_opt(name)
            .await
            .ok()
            .flatten()
            .filter(|p| waiting_reason(p).as_deref() == Some(reason))
    })
    .await
}

async fn event_reasons(h: &Harness, pod: &str) -> Vec<String> {
    events_where(h, |e| {
        e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(pod)
    })
    .await
    .into_iter()
    .filter_map(|e| e.reason)
    .collect()
}

/// The events of the test's namespace that `keep` selects.
async fn events_where(
    h: &Harness,
    keep: impl Fn(&k8s_openapi::api::events::v1::Event) -> bool,
) -> Vec<k8s_openapi::api::events::v1::Event> {
    let events: Api<k8s_openapi::api::events::v1::Event> =
        Api::namespaced(h.ns.client.clone(), &h.ns.name);
    let listed = events.list(&Default::default()).await.unwrap().items;
    listed.into_iter().filter(|e| keep(e)).collect()
}

/// Waits for `name` to run and checks its adjustments annotation names `reason`.
async fn running_and_annotated(h: &Harness, name: &str, reason: &str) {
    let p = h.phase(name, "Running").await;
    let annotations = p.metadata.annotations.unwrap_or_default();
    assert!(
        annotations[vk_pods::ADJUSTMENTS_ANNOTATION].contains(reason),
        "{name}: {annotations:?}"
    );
}

#[tokio::test]
async fn admission_fails_and_impossible_specs_are_held_pending_without_retry_storms() {
    // (A NoExecute taint the pod does not tolerate is covered by unit tests:
    // on a real cluster the controller-manager's taint manager evicts such a
    // pod at the same moment, so the outcome would race.)
    let h = Harness::start(
        "pods-admit",
        serde_json::json!([{"key": "dedicated", "value": "aci", "effect": "NoSchedule"}]),
    )
    .await;
    let tolerate = serde_json::json!([{"key": "dedicated", "operator": "Exists"}]);

    // The kubelet's admission: Failed, like a kubelet.
    h.create("wrong-os", serde_json::json!({"tolerations": tolerate, "nodeSelector": {"kubernetes.io/os": "windows"}})).await;
    let p = h.phase("wrong-os", "Failed").await;
    assert_eq!(p.status.unwrap().reason.as_deref(), Some("NodeAffinity"));

    // A spec the provider can never run: Pending (a controller would replace a
    // Failed pod at once, forever), its container waiting with
    // CreateContainerError, the specific reason on the pod, one Warning event.
    let creates_before = h.provider.calls().0;
    h.provider.fail_next_creates(vec![ProviderError::invalid(
        "ExceedsGroupMaximum",
        "64 CPUs requested, at most 4 allowed",
    )]);
    h.create("too-big", serde_json::json!({"tolerations": tolerate}))
        .await;
    let p = until_waiting(&h, "too-big", "CreateContainerError").await;
    let s = p.status.unwrap();
    assert_eq!(s.phase.as_deref(), Some("Pending"));
    assert_eq!(s.reason.as_deref(), Some("ExceedsGroupMaximum"));
    assert!(s.message.unwrap().contains("64 CPUs"));
    let ready = s
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == "Ready")
        .unwrap();
    assert_eq!(ready.status, "False");
    // A later pod runs; the held one was never retried meanwhile.
    let pods = h.pods();
    h.create(
        "later",
        serde_json::json!({"tolerations": tolerate, "restartPolicy": "Always"}),
    )
    .await;
    h.phase("later", "Running").await;
    let lists = h.provider.calls().3;
    wait::until("several more sync rounds", 30, || async {
        (h.provider.calls().3 >= lists + 5).then_some(())
    })
    .await;
    assert_eq!(
        h.provider.calls().0 - creates_before,
        2,
        "one create for too-big, one for later"
    );
    let held = pods.get("too-big").await.unwrap();
    assert_eq!(
        held.status.unwrap().phase.as_deref(),
        Some("Pending"),
        "still held"
    );
    let reasons = event_reasons(&h, "too-big").await;
    assert_eq!(
        reasons
            .iter()
            .filter(|r| *r == "ExceedsGroupMaximum")
            .count(),
        1,
        "{reasons:?}"
    );

    // A change of the pod (here its deadline) is tried again.
    let patch = serde_json::json!({"spec": {"activeDeadlineSeconds": 3600}});
    pods.patch("too-big", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    h.phase("too-big", "Running").await;
    h.stop().await;
}

#[tokio::test]
async fn a_missing_secret_keeps_the_pod_pending_until_it_exists() {
    let h = Harness::start("pods-config", serde_json::json!([])).await;
    let missing = || {
        ProviderError::new(
            ErrorKind::ConfigUnavailable,
            "MandatorySecretNotFound",
            "secret \"creds\" not found",
        )
    };
    h.provider
        .fail_next_creates(vec![missing(), missing(), missing()]);
    h.create(
        "needs-secret",
        serde_json::json!({"restartPolicy": "Always"}),
    )
    .await;
    let p = until_waiting(&h, "needs-secret", "CreateContainerConfigError").await;
    let s = p.status.unwrap();
    assert_eq!(s.phase.as_deref(), Some("Pending"));
    let waiting = first_waiting(&s);
    assert_eq!(
        waiting.message.as_deref(),
        Some("secret \"creds\" not found")
    );
    // Retried (1 s, 2 s, 4 s) until the provider accepts it.
    h.phase("needs-secret", "Running").await;
    assert!(h.provider.calls().0 >= 4);
    let reasons = event_reasons(&h, "needs-secret").await;
    for r in ["Failed", "MandatorySecretNotFound"] {
        assert!(reasons.iter().any(|x| x == r), "{r} in {reasons:?}");
    }
    h.stop().await;
}

#[tokio::test]
async fn an_image_pull_failure_backs_off_like_a_kubelet() {
    let h = Harness::start_with("pods-pull", serde_json::json!([]), Arc::default(), |cfg| {
        cfg.sync_interval = Duration::from_millis(200);
        cfg.steady_sync_interval = Duration::from_secs(1);
        cfg.orphan_grace = Duration::ZERO;
        cfg.image_pull_backoff = Duration::from_secs(3);
    })
    .await;
    let refused = ProviderError::new(
        ErrorKind::ImagePull,
        "ErrImagePull",
        "the image 'busybox' is not accessible",
    )
    .with_image("busybox")
    .with_container("main");
    h.provider.fail_next_creates(vec![refused]);
    h.create("pull", serde_json::json!({"restartPolicy": "Always"}))
        .await;
    // ErrImagePull for a moment, then ImagePullBackOff for the rest of the back-off.
    until_waiting(&h, "pull", "ErrImagePull").await;
    let p = until_waiting(&h, "pull", "ImagePullBackOff").await;
    let s = p.status.unwrap();
    assert_eq!(s.phase.as_deref(), Some("Pending"));
    let w = first_waiting(&s);
    assert_eq!(
        w.message.as_deref(),
        Some("Back-off pulling image \"busybox\"")
    );
    assert_eq!(h.provider.calls().0, 1, "no retry during the back-off");
    // After the back-off the pull is tried again, and succeeds.
    h.phase("pull", "Running").await;
    assert_eq!(h.provider.calls().0, 2);
    let reasons = event_reasons(&h, "pull").await;
    for r in ["Failed", "BackOff"] {
        assert!(reasons.iter().any(|x| x == r), "{r} in {reasons:?}");
    }
    h.stop().await;
}

#[tokio::test]
async fn an_instance_that_fails_on_its_image_is_created_again_after_the_image_back_off() {
    let h = Harness::start_with(
        "pods-pull-late",
        serde_json::json!([]),
        Arc::default(),
        |cfg| {
            cfg.sync_interval = Duration::from_millis(200);
            cfg.steady_sync_interval = Duration::from_secs(1);
            cfg.orphan_grace = Duration::ZERO;
            cfg.image_pull_backoff = Duration::from_secs(2);
        },
    )
    .await;
    // The backend accepts the creation, retries the pull itself and gives up
    // (an ACI group Failed after Pulling ×3, Failed, BackOff), twice.
    let gave_up = ProviderError::new(
        ErrorKind::ImagePull,
        "ErrImagePull",
        "Failed to pull image \"busybox\": not found",
    )
    .with_image("busybox")
    .with_container("main");
    h.provider
        .fail_next_instances(vec![gave_up.clone(), gave_up]);
    h.create("late", serde_json::json!({"restartPolicy": "Never"}))
        .await;
    let p = until_waiting(&h, "late", "ImagePullBackOff").await;
    assert_eq!(p.status.unwrap().phase.as_deref(), Some("Pending"));
    // A terminal pod never runs again: reaching Running proves it was never Failed.
    h.phase("late", "Running").await;
    let (creates, deletes, _, _) = h.provider.calls();
    assert_eq!(creates, 3, "one creation per failed instance, and the last");
    assert!(
        deletes >= 2,
        "each failed instance is removed ({deletes} deletes)"
    );
    assert_eq!(h.provider.len(), 1);
    h.stop().await;
}

#[tokio::test]
async fn a_provisioning_failure_keeps_the_pod_pending_and_is_retried() {
    let h = Harness::start_with(
        "pods-prov-fail",
        serde_json::json!([]),
        Arc::default(),
        |cfg| {
            cfg.sync_interval = Duration::from_millis(200);
            cfg.steady_sync_interval = Duration::from_secs(1);
            cfg.orphan_grace = Duration::ZERO;
        },
    )
    .await;
    h.provider
        .fail_next_instances(vec![ProviderError::transient(
            "ProviderFailed",
            "ServiceUnavailable: not enough capacity in the region",
        )]);
    h.create("capacity", serde_json::json!({"restartPolicy": "Never"}))
        .await;
    let pods = h.pods();
    let p = wait::until("pod capacity Pending with ProviderFailed", 30, || async {
        pods.get_opt("capacity").await.ok().flatten().filter(|p| {
            p.status
                .as_ref()
                .is_some_and(|s| s.reason.as_deref() == Some("ProviderFailed"))
        })
    })
    .await;
    let s = p.status.unwrap();
    assert_eq!(s.phase.as_deref(), Some("Pending"));
    assert!(s.message.unwrap().contains("not enough capacity"));
    h.phase("capacity", "Running").await;
    assert_eq!(h.provider.calls().0, 2);
    let reasons = event_reasons(&h, "capacity").await;
    assert_eq!(
        reasons.iter().filter(|r| *r == "ProviderFailed").count(),
        1,
        "one Warning per failure: {reasons:?}"
    );
    h.stop().await;
}

#[tokio::test]
async fn a_new_ip_in_the_listing_reaches_the_pod_without_the_steady_refresh_budget() {
    let h = Harness::start_with("pods-moved", serde_json::json!([]), Arc::default(), |cfg| {
        cfg.sync_interval = Duration::from_millis(200);
        cfg.steady_sync_interval = Duration::from_millis(500);
        cfg.orphan_grace = Duration::ZERO;
        // No steady pod is ever re-read for its own sake: only the listing
        // can tell that this one moved.
        cfg.refresh_budget = 0;
    })
    .await;
    h.create("moved", serde_json::json!({})).await;
    let p = h.phase("moved", "Running").await;
    let uid = p.metadata.uid.clone().unwrap();
    let old_ip = p.status.unwrap().pod_ip.unwrap();
    let new_ip = h.provider.move_instance(&uid).unwrap();
    assert_ne!(old_ip, new_ip);
    let pods = h.pods();
    wait::until("the pod shows its new IP", 30, || async {
        pods.get_opt("moved").await.ok().flatten().filter(|p| {
            p.status.as_ref().and_then(|s| s.pod_ip.as_deref()) == Some(new_ip.as_str())
        })
    })
    .await;
    h.stop().await;
}

#[tokio::test]
async fn an_instance_a_listing_misses_is_read_before_it_is_taken_as_gone() {
    let h = Harness::start_with(
        "pods-missed",
        serde_json::json!([]),
        Arc::default(),
        |cfg| {
            cfg.sync_interval = Duration::from_millis(200);
            cfg.steady_sync_interval = Duration::from_millis(300);
            cfg.orphan_grace = Duration::ZERO;
            cfg.refresh_budget = 0;
        },
    )
    .await;
    h.create("kept", serde_json::json!({})).await;
    h.create("gone", serde_json::json!({})).await;
    let kept = h.phase("kept", "Running").await.metadata.uid.unwrap();
    let gone = h.phase("gone", "Running").await.metadata.uid.unwrap();
    // Well past the fresh-creation window's protection of new instances.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (creates, _, reads, _) = h.provider.calls();
    assert_eq!(creates, 2);
    // One listing misses "kept"; "gone" really is deleted behind vk's back.
    h.provider.omit_from_listings(&kept, 1);
    assert!(h.provider.remove_instance(&gone));
    wait::until("the deleted instance created again", 30, || async {
        (h.provider.calls().0 == 3).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (creates, _, later_reads, _) = h.provider.calls();
    assert_eq!(creates, 3, "only the deleted instance was created again");
    assert!(
        later_reads > reads,
        "the missed instance was read, not re-created"
    );
    assert_eq!(h.provider.len(), 2);
    h.stop().await;
}

#[tokio::test]
async fn what_the_provider_changed_is_shown_once_on_the_pod() {
    let h = Harness::start("pods-adjust", serde_json::json!([])).await;
    h.provider.adjust_creates(vec![
        vk_pods::Adjustment::new("NoPodIP", "the group gets no IP address"),
        vk_pods::Adjustment::normal("ServiceAccountTokenNotMounted", "no token on Windows"),
    ]);
    h.create("adjusted", serde_json::json!({"restartPolicy": "Always"}))
        .await;
    // The annotation rides on the status write (one API write, not two): it
    // is there when the pod is first seen Running.
    let p = h.phase("adjusted", "Running").await;
    assert!(
        p.metadata
            .annotations
            .as_ref()
            .is_some_and(|a| a.contains_key(vk_pods::ADJUSTMENTS_ANNOTATION)),
        "{:?}",
        p.metadata.annotations
    );
    let listed: Vec<vk_pods::Adjustment> =
        serde_json::from_str(&p.metadata.annotations.unwrap()[vk_pods::ADJUSTMENTS_ANNOTATION])
            .unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0].reason, "NoPodIP");
    assert!(!listed[1].warning);
    let events: Api<k8s_openapi::api::events::v1::Event> =
        Api::namespaced(h.ns.client.clone(), &h.ns.name);
    let mine: Vec<_> = events
        .list(&Default::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some("adjusted"))
        .collect();
    let no_ip: Vec<_> = mine
        .iter()
        .filter(|e| e.reason.as_deref() == Some("NoPodIP"))
        .collect();
    assert_eq!(no_ip.len(), 1, "{mine:?}");
    assert_eq!(no_ip[0].type_.as_deref(), Some("Warning"));
    let token = mine
        .iter()
        .find(|e| e.reason.as_deref() == Some("ServiceAccountTokenNotMounted"))
        .unwrap();
    assert_eq!(token.type_.as_deref(), Some("Normal"));
    h.stop().await;
}

#[tokio::test]
async fn pods_of_one_controller_share_one_adjustment_event_and_each_keep_the_annotation() {
    let h = Harness::start("pods-adjust-owner", serde_json::json!([])).await;
    h.provider.adjust_creates(vec![vk_pods::Adjustment::new(
        "NoPodIP",
        "the group gets no IP address",
    )]);
    // The controller: any object the garbage collector finds (a ConfigMap, so
    // no controller of the control plane acts on its pods).
    let owners: Api<k8s_openapi::api::core::v1::ConfigMap> =
        Api::namespaced(h.ns.client.clone(), &h.ns.name);
    let owner = owners
        .create(
            &PostParams::default(),
            &serde_json::from_value(serde_json::json!({"metadata": {"name": "web"}})).unwrap(),
        )
        .await
        .unwrap();
    let owned = |name: &str| {
        serde_json::from_value::<Pod>(serde_json::json!({
            "metadata": {"name": name, "ownerReferences": [{
                "apiVersion": "v1", "kind": "ConfigMap", "name": "web",
                "uid": owner.metadata.uid, "controller": true,
            }]},
            "spec": {
                "nodeName": h.node, "restartPolicy": "Always",
                "automountServiceAccountToken": false,
                "containers": [{"name": "main", "image": "busybox"}],
            }
        }))
        .unwrap()
    };
    for name in ["web-1", "web-2", "web-3"] {
        h.pods()
            .create(&PostParams::default(), &owned(name))
            .await
            .unwrap();
    }
    h.create("bare", serde_json::json!({"restartPolicy": "Always"}))
        .await;
    for name in ["web-1", "web-2", "web-3", "bare"] {
        running_and_annotated(&h, name, "NoPodIP").await;
    }
    let no_ip = events_where(&h, |e| e.reason.as_deref() == Some("NoPodIP")).await;
    let about = |prefix: &str| {
        no_ip
            .iter()
            .filter(|e| {
                e.regarding
                    .as_ref()
                    .and_then(|r| r.name.as_deref())
                    .is_some_and(|n| n.starts_with(prefix))
            })
            .collect::<Vec<_>>()
    };
    let web = about("web-");
    assert_eq!(
        web.len(),
        1,
        "one event for the controller's pods: {no_ip:#?}"
    );
    let note = web[0].note.as_deref().unwrap_or_default();
    assert!(
        note.contains("the other pods of ConfigMap web")
            && note.contains(vk_pods::ADJUSTMENTS_ANNOTATION),
        "{note}"
    );
    // A pod of its own still gets its own event.
    assert_eq!(about("bare").len(), 1, "{no_ip:#?}");
    h.stop().await;
}

#[tokio::test]
async fn adjustment_events_spend_the_event_budget_and_the_annotation_never_drops() {
    let h = Harness::start_with(
        "pods-adjust-budget",
        serde_json::json!([]),
        Arc::default(),
        |cfg| {
            cfg.sync_interval = Duration::from_millis(200);
            cfg.event_burst = 1;
            cfg.event_qps = 1e-6;
        },
    )
    .await;
    h.provider.adjust_creates(vec![vk_pods::Adjustment::new(
        "NoPodIP",
        "the group gets no IP address",
    )]);
    for name in ["one", "two", "three"] {
        h.create(name, serde_json::json!({"restartPolicy": "Always"}))
            .await;
    }
    for name in ["one", "two", "three"] {
        running_and_annotated(&h, name, "NoPodIP").await;
    }
    let no_ip = events_where(&h, |e| e.reason.as_deref() == Some("NoPodIP"))
        .await
        .len();
    assert_eq!(no_ip, 1, "a budget of one event publishes one");
    h.stop().await;
}

#[tokio::test]
async fn an_in_place_resize_is_reported_infeasible_once() {
    let h = Harness::start("pods-resize", serde_json::json!([])).await;
    let pod = h
        .create("sized", serde_json::json!({"restartPolicy": "Always"}))
        .await;
    h.phase("sized", "Running").await;
    // The instance was created with other resources than the pod now asks
    // for (what an in-place resize on a 1.27+ API server does).
    assert!(
        h.provider
            .set_created_resources_hash(pod.metadata.uid.as_deref().unwrap(), "before-resize")
    );
    let lists = h.provider.calls().3;
    wait::until("a listing with the recorded hash", 30, || async {
        (h.provider.calls().3 > lists).then_some(())
    })
    .await;
    let pods = h.pods();
    let touch = serde_json::json!({"metadata": {"labels": {"touched": "yes"}}});
    pods.patch("sized", &PatchParams::default(), &Patch::Merge(&touch))
        .await
        .unwrap();
    let p = wait::until("PodResizePending Infeasible", 30, || async {
        pods.get("sized").await.ok().filter(|p| {
            p.status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|cs| {
                    cs.iter().any(|c| {
                        c.type_ == "PodResizePending"
                            && c.status == "True"
                            && c.reason.as_deref() == Some("Infeasible")
                    })
                })
        })
    })
    .await;
    let s = p.status.unwrap();
    assert_eq!(s.phase.as_deref(), Some("Running"), "it keeps running");
    let reasons = event_reasons(&h, "sized").await;
    assert_eq!(
        reasons.iter().filter(|r| *r == "ResizeInfeasible").count(),
        1,
        "{reasons:?}"
    );
    h.stop().await;
}

#[tokio::test]
async fn a_burst_beyond_the_create_quota_waits_in_creation_order() {
    // One create per 4 s, shared by the node.
    let budget = Arc::new(vk_pods::Budget::new(vec![vk_pods::RateWindow::new(
        1,
        Duration::from_secs(4),
    )]));
    let h = Harness::start_full(
        "pods-quota",
        serde_json::json!([]),
        Arc::default(),
        |cfg| {
            cfg.sync_interval = Duration::from_millis(200);
            cfg.steady_sync_interval = Duration::from_secs(1);
            cfg.orphan_grace = Duration::ZERO;
        },
        Some(Arc::clone(&budget)),
    )
    .await;
    // Creation timestamps have whole seconds: space the pods out.
    for name in ["q0", "q1", "q2"] {
        h.create(name, serde_json::json!({"restartPolicy": "Always"}))
            .await;
        tokio::time::sleep(Duration::from_millis(1100)).await;
    }
    let pods = h.pods();
    let message = |p: &Pod| {
        p.status
            .as_ref()
            .filter(|s| s.reason.as_deref() == Some("WaitingForCreateQuota"))
            .and_then(|s| s.message.clone())
    };
    // q0 took the slot; q2 knows q1 is ahead of it.
    let q2 = wait::until("q2 waiting behind q1", 30, || async {
        let p = pods.get("q2").await.ok()?;
        message(&p).filter(|m| m.contains("1 ahead"))
    })
    .await;
    assert!(q2.contains("1 per 4 s"), "{q2}");
    h.phase("q0", "Running").await;
    // q1 runs before q2 does.
    let p = h.phase("q1", "Running").await;
    assert!(p.status.unwrap().reason.is_none());
    let q2_now = pods.get("q2").await.unwrap();
    assert_eq!(
        q2_now.status.unwrap().phase.as_deref(),
        Some("Pending"),
        "q2 is served after q1"
    );
    h.phase("q2", "Running").await;
    assert_eq!(h.provider.calls().0, 3, "one create each, no refused call");
    assert_eq!(budget.snapshot().queued, 0);
    let reasons = event_reasons(&h, "q2").await;
    assert_eq!(
        reasons
            .iter()
            .filter(|r| *r == "WaitingForCreateQuota")
            .count(),
        1,
        "{reasons:?}"
    );
    h.stop().await;
}

#[tokio::test]
async fn a_404_right_after_creation_is_not_taken_as_gone() {
    let h = Harness::start("pods-eventual", serde_json::json!([])).await;
    h.provider.report_pending_on_create(true);
    h.provider.hide_new_instances(2);
    h.create("fresh", serde_json::json!({"restartPolicy": "Always"}))
        .await;
    h.phase("fresh", "Running").await;
    assert_eq!(h.provider.calls().0, 1, "created once, never re-created");
    h.stop().await;
}

#[tokio::test]
async fn transient_failures_are_retried_until_running() {
    let h = Harness::start("pods-retry", serde_json::json!([])).await;
    h.provider.fail_next_creates(vec![
        ProviderError::new(ErrorKind::Transient, "ProviderUnavailable", "503 from ACI"),
        ProviderError::new(ErrorKind::QuotaExceeded, "QuotaExceeded", "no cores left"),
    ]);
    h.create("eventually", serde_json::json!({"restartPolicy": "Always"}))
        .await;
    // While failing, the pod says why.
    let pods = h.pods();
    wait::until("pending with a reason", 30, || async {
        let p = pods.get_opt("eventually").await.ok().flatten()?;
        let s = p.status?;
        (s.phase.as_deref() == Some("Pending") && s.reason.is_some()).then_some(())
    })
    .await;
    let p = h.phase("eventually", "Running").await;
    assert_eq!(
        p.status.unwrap().reason,
        None,
        "the error reason is cleared once running"
    );
    h.stop().await;
}

#[tokio::test]
async fn orphans_are_removed_and_image_changes_recreate() {
    let h = Harness::start("pods-gc", serde_json::json!([])).await;
    let pod = h
        .create("img", serde_json::json!({"restartPolicy": "Always"}))
        .await;
    h.phase("img", "Running").await;
    let uid = pod.metadata.uid.clone().unwrap();

    // Force deletion (grace 0) skips the graceful path: the instance becomes an orphan.
    let pods = h.pods();
    let other = h
        .create("forced", serde_json::json!({"restartPolicy": "Always"}))
        .await;
    h.phase("forced", "Running").await;
    pods.delete(
        "forced",
        &DeleteParams {
            grace_period_seconds: Some(0),
            ..DeleteParams::default()
        },
    )
    .await
    .unwrap();
    let forced_uid = other.metadata.uid.unwrap();
    wait::until("orphaned instance removed", 30, || async {
        (!h.provider.keys().iter().any(|k| k.uid == forced_uid)).then_some(())
    })
    .await;

    // Changing the image re-creates the instance for the same pod.
    let before = h.provider.calls().0;
    let patch =
        serde_json::json!({"spec": {"containers": [{"name": "main", "image": "busybox:2"}]}});
    pods.patch("img", &PatchParams::default(), &Patch::Strategic(&patch))
        .await
        .unwrap();
    wait::until("instance re-created", 30, || async {
        (h.provider.calls().0 > before).then_some(())
    })
    .await;
    // Like a kubelet restarting a container whose image changed: the restart
    // is counted and the new image shown.
    let restarted = wait::until("the new image running, restart counted", 30, || async {
        let p = pods.get("img").await.ok()?;
        let c = p
            .status
            .as_ref()?
            .container_statuses
            .as_ref()?
            .first()?
            .clone();
        (p.status.as_ref()?.phase.as_deref() == Some("Running") && c.restart_count == 1)
            .then_some(c)
    })
    .await;
    assert_eq!(restarted.image, "busybox:2");
    assert!(h.provider.keys().contains(&PodKey {
        namespace: h.ns.name.clone(),
        name: "img".into(),
        uid
    }));
    let reasons = event_reasons(&h, "img").await;
    assert!(reasons.iter().any(|r| r == "Killing"), "{reasons:?}");
    h.stop().await;
}

#[tokio::test]
async fn a_pod_still_starting_after_create_is_refreshed_without_waiting_the_steady_interval() {
    // The steady interval (60 s here) applies only when nothing is in
    // transition; a pod created while the sync sleeps must wake it.
    let env = TestEnv::get().await;
    let ns = env.namespace("pods-wake").await;
    let node = format!("{}-node", ns.name);
    let n: Node = serde_json::from_value(serde_json::json!({"metadata": {"name": node}})).unwrap();
    Api::<Node>::all(ns.client.clone())
        .create(&PostParams::default(), &n)
        .await
        .unwrap();
    let provider = Arc::new(InMemoryProvider::default());
    provider.report_pending_on_create(true);
    let mut cfg = ReconcilerConfig::new(&node);
    cfg.sync_interval = Duration::from_millis(200);
    cfg.steady_sync_interval = Duration::from_secs(60);
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(
        PodReconciler::new(ns.client.clone(), provider.clone(), cfg).run(shutdown.clone()),
    );
    let pods: Api<Pod> = Api::namespaced(ns.client.clone(), &ns.name);
    // Let the first (empty) sync round pass, so the loop sleeps the steady interval.
    wait::until("a first sync round", 10, || async {
        (provider.calls().3 > 0).then_some(())
    })
    .await;
    let pod: Pod = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "slow"},
        "spec": {"nodeName": node, "automountServiceAccountToken": false,
                 "containers": [{"name": "main", "image": "busybox"}]}
    }))
    .unwrap();
    pods.create(&PostParams::default(), &pod).await.unwrap();
    wait::until(
        "pod Running well before the steady interval",
        20,
        || async {
            pods.get_opt("slow")
                .await
                .ok()
                .flatten()
                .filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
        },
    )
    .await;
    shutdown.cancel();
    task.await.unwrap();
    let _ = Api::<Node>::all(ns.client.clone())
        .delete(&node, &DeleteParams::default())
        .await;
}

#[tokio::test]
async fn a_pod_provisioning_at_create_gets_one_status_write_when_its_first_look_finds_it_running() {
    // Creation reports "still provisioning"; the first look (one status read)
    // finds it Running: the pod goes straight from the API server's Pending to
    // Running, one status write, no intermediate Pending write. The sync
    // intervals are long so only the first look can explain the Running.
    let provider = Arc::new(InMemoryProvider::default());
    provider.report_pending_on_create(true);
    let h = Harness::start_with("pods-look", serde_json::json!([]), provider, |c| {
        c.sync_interval = Duration::from_secs(300);
        c.steady_sync_interval = Duration::from_secs(600);
    })
    .await;
    h.create("quick", serde_json::json!({})).await;
    h.phase("quick", "Running").await;
    let m = h.metrics.snapshot();
    assert_eq!(m.status_writes, 1, "one status write: {m:?}");
    assert_eq!(m.status_refreshes, 1, "one status read: {m:?}");
    assert_eq!(h.provider.calls().0, 1, "one create");
    h.stop().await;
}

#[tokio::test]
async fn a_group_still_provisioning_at_the_first_look_is_read_again_without_an_extra_write() {
    // The first look finds the instance provisioning: nothing is written,
    // and a later early look or the listing at the provisioning pace (1 s, not
    // the 300 s sync) shows it Running: one more read, one write.
    let provider = Arc::new(InMemoryProvider::default());
    provider.hold_provisioning(true);
    let h = Harness::start_with("pods-look2", serde_json::json!([]), provider, |c| {
        c.sync_interval = Duration::from_secs(300);
        c.steady_sync_interval = Duration::from_secs(600);
    })
    .await;
    h.create("later", serde_json::json!({})).await;
    wait::until("the first look", 30, || async {
        (h.metrics.snapshot().status_refreshes >= 1).then_some(())
    })
    .await;
    h.provider.hold_provisioning(false);
    h.phase("later", "Running").await;
    let m = h.metrics.snapshot();
    assert_eq!(m.status_refreshes, 2, "the early look and one read: {m:?}");
    assert_eq!(m.status_writes, 1, "one status write: {m:?}");
    h.stop().await;
}

#[tokio::test]
async fn a_fast_backend_late_at_the_first_look_is_seen_running_by_a_later_early_look() {
    // A fast backend late under load: the first look finds the instance
    // still provisioning, and the next early look (twice as late) finds it
    // Running. No listing can explain the Running here: the sync rounds are
    // minutes apart.
    let provider = Arc::new(InMemoryProvider::default());
    provider.hold_provisioning(true);
    let h = Harness::start_with("pods-look3", serde_json::json!([]), provider, |c| {
        c.sync_interval = Duration::from_secs(300);
        c.steady_sync_interval = Duration::from_secs(600);
        c.provisioning_sync_interval = Duration::from_secs(300);
        c.first_look_delay = Duration::from_millis(200);
    })
    .await;
    wait::until("the start-up listing", 30, || async {
        (h.provider.calls().3 >= 1).then_some(())
    })
    .await;
    let lists = h.provider.calls().3;
    h.create("late", serde_json::json!({})).await;
    wait::until("the first look", 30, || async {
        (h.provider.calls().2 >= 1).then_some(())
    })
    .await;
    h.provider.hold_provisioning(false);
    h.phase("late", "Running").await;
    let m = h.metrics.snapshot();
    assert_eq!(m.status_refreshes, 2, "two early looks: {m:?}");
    assert_eq!(m.status_writes, 1, "one status write: {m:?}");
    assert_eq!(h.provider.calls().3, lists, "no listing in between");
    h.stop().await;
}

#[tokio::test]
async fn a_provisioning_instance_is_read_again_only_when_its_listed_state_changes() {
    // The listing says "still provisioning" round after round: the early
    // looks' report is published (Pending, its containers waiting) without
    // another read, and nothing is read again until the listing says
    // something else.
    let provider = Arc::new(InMemoryProvider::default());
    provider.hold_provisioning(true);
    let h = Harness::start_with("pods-reread", serde_json::json!([]), provider, |c| {
        c.sync_interval = Duration::from_secs(1);
        c.provisioning_sync_interval = Duration::from_millis(100);
        c.provisioning_refresh_interval = Duration::from_secs(3600);
    })
    .await;
    h.create("slow", serde_json::json!({})).await;
    let pending = wait::until("the early look's report on the pod", 30, || async {
        let pod = h.pods().get("slow").await.ok()?;
        vk_testkit::pod::first_waiting_reason(&pod)
    })
    .await;
    assert_eq!(pending, "ContainerCreating");
    let early = u64::from(vk_pods::EARLY_LOOKS);
    assert_eq!(
        h.provider.calls().2,
        early,
        "published without a read after the early looks"
    );
    let lists = h.provider.calls().3;
    wait::until("five more sync rounds", 30, || async {
        (h.provider.calls().3 >= lists + 5).then_some(())
    })
    .await;
    assert_eq!(
        h.provider.calls().2,
        early,
        "no status read while the listing shows nothing new"
    );
    let m = h.metrics.snapshot();
    assert_eq!(m.status_writes, 1, "one write while provisioning: {m:?}");
    h.provider.hold_provisioning(false);
    h.phase("slow", "Running").await;
    assert_eq!(
        h.provider.calls().2,
        early + 1,
        "read once the listing changed"
    );
    h.stop().await;
}

#[tokio::test]
async fn active_deadline_fails_the_pod_and_events_are_published_once() {
    let h = Harness::start("pods-deadline", serde_json::json!([])).await;
    h.create(
        "bounded",
        serde_json::json!({"restartPolicy": "Always", "activeDeadlineSeconds": 2}),
    )
    .await;
    let failed = h.phase("bounded", "Failed").await;
    let status = failed.status.clone().unwrap();
    assert_eq!(status.reason.as_deref(), Some("DeadlineExceeded"));
    // Like a kubelet: not ready, the container killed, an event.
    for t in ["Ready", "ContainersReady"] {
        let c = status
            .conditions
            .iter()
            .flatten()
            .find(|c| c.type_ == t)
            .unwrap();
        assert_eq!(c.status, "False", "{t}");
    }
    let main = &status.container_statuses.as_ref().unwrap()[0];
    assert!(!main.ready);
    let killed = main.state.as_ref().unwrap().terminated.as_ref().unwrap();
    assert_eq!(killed.exit_code, 137);
    assert!(killed.started_at.is_some());
    let reasons = event_reasons(&h, "bounded").await;
    assert!(
        reasons.iter().any(|r| r == "DeadlineExceeded"),
        "{reasons:?}"
    );
    let uid = failed.metadata.uid.unwrap();
    assert!(
        !h.provider.keys().iter().any(|k| k.uid == uid),
        "instance deleted at the deadline"
    );

    // A long-running pod: its provider event is published once, however many syncs run.
    h.create("steady", serde_json::json!({"restartPolicy": "Always"}))
        .await;
    h.phase("steady", "Running").await;
    let lists = h.provider.calls().3;
    wait::until("several more sync rounds", 30, || async {
        (h.provider.calls().3 >= lists + 5).then_some(())
    })
    .await;
    let events: Api<k8s_openapi::api::events::v1::Event> =
        Api::namespaced(h.ns.client.clone(), &h.ns.name);
    let started: Vec<_> = events
        .list(&Default::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|e| {
            e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some("steady")
                && e.reason.as_deref() == Some("Started")
        })
        .collect();
    assert_eq!(started.len(), 1, "{started:?}");
    assert!(
        started[0].series.is_none(),
        "published once, not as a series: {:?}",
        started[0].series
    );
    h.stop().await;
}

#[tokio::test]
async fn a_slow_backend_is_not_read_early_and_its_pods_still_show_container_creating() {
    // Every early read finds the instance provisioning: after eight
    // instances missed at all their early reads, new instances skip theirs
    // (one in sixteen still probes with one), show ContainerCreating without a read,
    // and are read once the listing shows them running.
    let provider = Arc::new(InMemoryProvider::default());
    provider.hold_provisioning(true);
    let h = Harness::start_with("pods-slowlook", serde_json::json!([]), provider, |c| {
        c.sync_interval = Duration::from_millis(200);
        c.provisioning_refresh_interval = Duration::from_secs(3600);
    })
    .await;
    let early = u64::from(vk_pods::EARLY_LOOKS);
    for i in 0..8 {
        let name = format!("first-{i}");
        h.create(&name, serde_json::json!({})).await;
        let reads = (u64::try_from(i).unwrap() + 1) * early;
        wait::until(&format!("{name}'s early reads"), 30, || async {
            (h.provider.calls().2 >= reads).then_some(())
        })
        .await;
    }
    let reads = h.provider.calls().2;
    assert_eq!(reads, 8 * early, "the early reads of each");
    for i in 0..6 {
        h.create(&format!("later-{i}"), serde_json::json!({})).await;
    }
    for i in 0..6 {
        let name = format!("later-{i}");
        let reason = wait::until(&format!("{name} ContainerCreating"), 30, || async {
            let pod = h.pods().get(&name).await.ok()?;
            vk_testkit::pod::first_waiting_reason(&pod)
        })
        .await;
        assert_eq!(reason, "ContainerCreating");
    }
    // At most one probe among the six, with one early read.
    assert!(
        h.provider.calls().2 <= reads + 1,
        "no early reads: {:?}",
        h.provider.calls()
    );
    h.provider.hold_provisioning(false);
    for i in 0..6 {
        h.phase(&format!("later-{i}"), "Running").await;
    }
    h.stop().await;
}
