// Over 800 lines: the pod lifecycle scenarios share one harness; one test per lifecycle path.
//! End to end: pods through the real scheduler and controller-manager, run by
//! the vk binary as container groups in the ACI emulator.
#![allow(clippy::unwrap_used)]

#[path = "e2e/harness.rs"]
mod harness;

use std::time::Duration;

use harness::{Vk, client, config_with_aci, emulator, unique, wait_ready};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Endpoints, Node, Pod, Secret, Service};
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use vk_aci_emulator::{FaultRule, RunningEmulator};
use vk_testkit::pod::running_ready;
use vk_testkit::{TestEnv, wait};

const FAST: &str = "[reconciler]\nsync_interval_secs = 1\nsteady_sync_interval_secs = 5\norphan_gc_grace_secs = 5\n\
                    [aci.rate_limit]\nreads_per_sec = 1000.0\nread_burst = 1000\nwrites_per_sec = 1000.0\nwrite_burst = 1000\n";
/// No ACI create/delete quota: bursts in these tests exceed ACI's 100 per 5 minutes.
const NO_QUOTAS: &str = "[aci.quotas]\ncreates_per_5_minutes = 0\ncreates_per_hour = 0\ndeletes_per_5_minutes = 0\ndeletes_per_hour = 0\n";

struct World {
    client: Client,
    emu: RunningEmulator,
    vk: Vk,
    linux: String,
    windows: String,
}

/// The delegated subnet of the VNet-mode tests.
const SUBNET: &str = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/e2e/providers/Microsoft.Network/virtualNetworks/e2e/subnets/aci";

impl World {
    /// Public mode: groups get a public IP when they expose ports.
    async fn start(extra: &str) -> Self {
        Self::start_with("", &format!("{NO_QUOTAS}{extra}")).await
    }

    /// VNet mode, like AKS virtual nodes: every group joins [`SUBNET`].
    async fn start_vnet() -> Self {
        Self::start_with(&format!("subnet_id = \"{SUBNET}\""), NO_QUOTAS).await
    }

    async fn start_with(aci: &str, extra: &str) -> Self {
        Self::start_on(emulator("127.0.0.1:0").await, aci, extra).await
    }

    async fn start_on(emu: RunningEmulator, aci: &str, extra: &str) -> Self {
        let (client, kubeconfig) = client().await;
        let linux = unique("vk-pods-linux");
        let windows = unique("vk-pods-windows");
        let (text, admin) = config_with_aci(
            &kubeconfig,
            emu.base_url(),
            &[(linux.clone(), "linux"), (windows.clone(), "windows")],
            aci,
            &format!("{FAST}{extra}"),
        );
        let vk = Vk::start(&text, admin);
        let nodes: Api<Node> = Api::all(client.clone());
        wait_ready(&nodes, &linux, "True", 20).await;
        wait_ready(&nodes, &windows, "True", 20).await;
        Self {
            client,
            emu,
            vk,
            linux,
            windows,
        }
    }

    /// Groups in the emulator whose name starts with `prefix`.
    fn groups(&self, prefix: &str) -> Vec<vk_aci_emulator::GroupSummary> {
        self.emu
            .admin()
            .groups()
            .into_iter()
            .filter(|g| g.name.starts_with(prefix))
            .collect()
    }

    async fn stop(self) {
        let nodes: Api<Node> = Api::all(self.client.clone());
        drop(self.vk);
        for n in [&self.linux, &self.windows] {
            let _ = nodes.delete(n, &DeleteParams::default()).await;
        }
        self.emu.shutdown().await.unwrap();
    }
}

fn has_ip(p: &Pod) -> bool {
    p.status.as_ref().is_some_and(|s| s.pod_ip.is_some())
}

#[tokio::test]
async fn in_a_virtual_network_every_running_pod_has_a_pod_ip() {
    let world = World::start_vnet().await;
    let ns = TestEnv::get().await.namespace("vnet").await;
    let pods: Api<Pod> = Api::namespaced(ns.client.clone(), &ns.name);
    // No containerPort: no ipAddress block is sent (ACI refuses one without
    // ports), and the group still gets its private address in the subnet.
    pods.create(&PostParams::default(), &bare_pod("worker", &world.linux))
        .await
        .unwrap();
    let running = wait::until("the port-less pod Running with an IP", 60, || async {
        pods.get("worker")
            .await
            .ok()
            .filter(|p| running_ready(p) && has_ip(p))
    })
    .await;
    let ip = running.status.unwrap().pod_ip.unwrap();
    assert!(ip.starts_with("10."), "a private address: {ip}");
    let group = vk_provider_aci::naming::group_name(&ns.name, "worker");
    let sent = world.emu.admin().last_request(&group).unwrap().body;
    assert!(sent["properties"]["ipAddress"].is_null(), "{sent}");
    assert_eq!(sent["properties"]["subnetIds"][0]["id"], SUBNET);
    world.stop().await;
}

async fn pods_with(api: &Api<Pod>, selector: &str) -> Vec<Pod> {
    api.list(&ListParams::default().labels(selector))
        .await
        .map(|l| l.items)
        .unwrap_or_default()
}

/// The seed's IIS Deployment, as apps/v1, nodeSelector and tolerations
/// unchanged, with default service-account settings. The article's
/// `microsoft/iis` is built on Windows Server 2016, which ACI no longer
/// accepts: the Server 2019 IIS image replaces it. Other tests run their own
/// virtual nodes on the same cluster, so a node affinity (beside the seed's
/// selector) keeps the pods on this test's Windows node.
fn iis(namespace: &str, cpu: &str, node: &str) -> Deployment {
    const IIS_IMAGE: &str = "mcr.microsoft.com/windows/servercore/iis:windowsservercore-ltsc2019";
    serde_json::from_value(serde_json::json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "iis", "namespace": namespace},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "iis"}},
            "template": {
                "metadata": {"labels": {"app": "iis"}},
                "spec": {
                    "containers": [{
                        "name": "iis", "image": IIS_IMAGE,
                        "ports": [{"containerPort": 80}],
                        "resources": {"requests": {"memory": "1G", "cpu": cpu}, "limits": {"memory": "1G", "cpu": cpu}}
                    }],
                    "nodeSelector": {"kubernetes.io/role": "agent", "beta.kubernetes.io/os": "windows", "type": "virtual-kubelet"},
                    "tolerations": [
                        {"key": "virtual-kubelet.io/provider", "operator": "Exists"},
                        {"key": "azure.com/aci", "effect": "NoSchedule"}
                    ],
                    "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                        "nodeSelectorTerms": [{"matchExpressions": [
                            {"key": "kubernetes.io/hostname", "operator": "In", "values": [node]}
                        ]}]
                    }}}
                }
            }
        }
    }))
    .unwrap()
}

#[tokio::test]
async fn the_seed_iis_deployment_scales_out_up_and_down() {
    let world = World::start("").await;
    let ns = TestEnv::get().await.namespace("seed").await;
    let deployments: Api<Deployment> = Api::namespaced(ns.client.clone(), &ns.name);
    let pods: Api<Pod> = Api::namespaced(ns.client.clone(), &ns.name);
    deployments
        .create(&PostParams::default(), &iis(&ns.name, "1", &world.windows))
        .await
        .unwrap();
    let services: Api<Service> = Api::namespaced(ns.client.clone(), &ns.name);
    let svc: Service = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "iis"},
        "spec": {"selector": {"app": "iis"}, "ports": [{"port": 80}]}
    }))
    .unwrap();
    services.create(&PostParams::default(), &svc).await.unwrap();

    // One pod, on the Windows virtual node, Running and Ready with an IP.
    let first = wait::until("one IIS pod Running and Ready", 60, || async {
        let list = pods_with(&pods, "app=iis").await;
        (list.len() == 1 && running_ready(&list[0]) && has_ip(&list[0])).then(|| list[0].clone())
    })
    .await;
    assert_eq!(
        first.spec.as_ref().unwrap().node_name.as_deref(),
        Some(world.windows.as_str())
    );
    // The automatic service-account token is left out (ACI mounts no volume
    // in a Windows group), and the pod says so.
    let adjusted = wait::until("the token adjustment on the IIS pod", 30, || async {
        let p = pods.get(first.metadata.name.as_deref()?).await.ok()?;
        p.metadata
            .annotations?
            .get(vk_pods::ADJUSTMENTS_ANNOTATION)
            .cloned()
    })
    .await;
    assert!(
        adjusted.contains("ServiceAccountTokenNotMounted"),
        "{adjusted}"
    );
    let prefix = format!("{}-iis-", ns.name);
    let group = world.groups(&prefix);
    assert_eq!(group.len(), 1, "{group:?}");
    let sent = world.emu.admin().last_request(&group[0].name).unwrap().body;
    assert!(sent["properties"]["volumes"].is_null(), "{sent}");

    // Scale to 5: 5 groups, 5 Running pods, and the Service's Endpoints list their 5 IPs.
    let scale = serde_json::json!({"spec": {"replicas": 5}});
    deployments
        .patch("iis", &PatchParams::default(), &Patch::Merge(&scale))
        .await
        .unwrap();
    let running = wait::until("5 IIS pods Running and Ready", 90, || async {
        let list = pods_with(&pods, "app=iis").await;
        (list.len() == 5 && list.iter().all(|p| running_ready(p) && has_ip(p))).then_some(list)
    })
    .await;
    assert_eq!(world.groups(&prefix).len(), 5);
    // vk's /metrics counts them among the Windows node's Running pods.
    let running_label = format!("node=\"{}\",phase=\"Running\"", world.windows);
    wait::until("vk_pods counting 5 Running pods", 30, || async {
        (world.vk.metric("vk_pods{", &running_label).await >= 5.0).then_some(())
    })
    .await;
    let mut ips: Vec<String> = running
        .iter()
        .map(|p| p.status.as_ref().unwrap().pod_ip.clone().unwrap())
        .collect();
    ips.sort();
    let endpoints: Api<Endpoints> = Api::namespaced(ns.client.clone(), &ns.name);
    wait::until("Endpoints with the 5 pod IPs", 60, || async {
        let ep = endpoints.get_opt("iis").await.ok().flatten()?;
        let mut got: Vec<String> = ep
            .subsets
            .iter()
            .flatten()
            .flat_map(|s| s.addresses.iter().flatten())
            .map(|a| a.ip.clone())
            .collect();
        got.sort();
        (got == ips).then_some(())
    })
    .await;

    // Scale up: cpu request 2 → the group is created with 2 CPUs.
    // (A patch, not get-modify-replace: the deployment controller writes the
    // object concurrently.)
    let scale_up = serde_json::json!({"spec": {"template": {"spec": {"containers": [{
        "name": "iis",
        "resources": {"requests": {"memory": "1G", "cpu": "2"}, "limits": {"memory": "1G", "cpu": "2"}}
    }]}}}});
    deployments
        .patch("iis", &PatchParams::default(), &Patch::Strategic(&scale_up))
        .await
        .unwrap();
    wait::until("5 IIS pods with cpu 2 Running", 120, || async {
        let list = pods_with(&pods, "app=iis").await;
        let two = |p: &Pod| {
            p.spec.as_ref().unwrap().containers[0]
                .resources
                .as_ref()
                .unwrap()
                .requests
                .as_ref()
                .unwrap()["cpu"]
                .0
                == "2"
        };
        (list.len() == 5 && list.iter().all(|p| two(p) && running_ready(p))).then_some(())
    })
    .await;
    let groups = world.groups(&prefix);
    let req = world.emu.admin().last_request(&groups[0].name).unwrap();
    assert_eq!(
        req.body["properties"]["containers"][0]["properties"]["resources"]["requests"]["cpu"], 2.0,
        "{}",
        req.body
    );

    // Scale to 0: every group deleted.
    let zero = serde_json::json!({"spec": {"replicas": 0}});
    deployments
        .patch("iis", &PatchParams::default(), &Patch::Merge(&zero))
        .await
        .unwrap();
    wait::until("every IIS group deleted", 90, || async {
        world.groups(&prefix).is_empty().then_some(())
    })
    .await;
    wait::until("every IIS pod gone", 60, || async {
        pods_with(&pods, "app=iis").await.is_empty().then_some(())
    })
    .await;
    world.stop().await;
}

fn job(name: &str, script: &str, node: &str) -> Job {
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": name},
        "spec": {
            "backoffLimit": 0,
            "template": {"spec": {
                "restartPolicy": "Never",
                "automountServiceAccountToken": false,
                "containers": [{"name": "main", "image": "busybox", "command": ["sh", "-c", script]}],
                "nodeSelector": {"type": "virtual-kubelet", "kubernetes.io/os": "linux", "kubernetes.io/hostname": node},
                "tolerations": [{"key": "virtual-kubelet.io/provider", "operator": "Exists"}]
            }}
        }
    }))
    .unwrap()
}

#[tokio::test]
async fn jobs_complete_and_fail_with_exit_codes_and_secrets_stay_secure() {
    let world = World::start("").await;
    let ns = TestEnv::get().await.namespace("jobs").await;
    let jobs: Api<Job> = Api::namespaced(ns.client.clone(), &ns.name);
    let pods: Api<Pod> = Api::namespaced(ns.client.clone(), &ns.name);
    jobs.create(
        &PostParams::default(),
        &job("ok", "echo done; exit 0", &world.linux),
    )
    .await
    .unwrap();
    jobs.create(&PostParams::default(), &job("bad", "exit 3", &world.linux))
        .await
        .unwrap();
    wait::until("job ok complete", 90, || async {
        let j = jobs.get("ok").await.ok()?;
        (j.status?.succeeded? == 1).then_some(())
    })
    .await;
    wait::until("job bad failed", 90, || async {
        let j = jobs.get("bad").await.ok()?;
        (j.status?.failed? >= 1).then_some(())
    })
    .await;
    // Finished: their groups are stopped (no rerun, no cost), and the logs stay.
    wait::until("the Jobs' groups stopped", 30, || async {
        let groups = world.groups(&format!("{}-", ns.name));
        (groups.len() == 2 && groups.iter().all(|g| g.state == "Stopped")).then_some(())
    })
    .await;
    let ok = pods_with(&pods, "job-name=ok").await;
    let logs = pods
        .logs(ok[0].metadata.name.as_deref().unwrap(), &Default::default())
        .await
        .unwrap();
    assert_eq!(logs, "done\n");
    let bad = pods_with(&pods, "job-name=bad").await;
    let code = bad[0]
        .status
        .as_ref()
        .unwrap()
        .container_statuses
        .as_ref()
        .unwrap()[0]
        .state
        .as_ref()
        .unwrap()
        .terminated
        .as_ref()
        .unwrap()
        .exit_code;
    assert_eq!(code, 3);

    // A secret in env reaches ACI only as secureValue, and no log line carries it.
    let secret_value = format!("s3cr3t-{}", unique("v"));
    let secrets: Api<Secret> = Api::namespaced(ns.client.clone(), &ns.name);
    let s: Secret = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "creds"}, "stringData": {"password": secret_value}
    }))
    .unwrap();
    secrets.create(&PostParams::default(), &s).await.unwrap();
    let pod: Pod = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "uses-secret"},
        "spec": {
            "nodeName": world.linux,
            "automountServiceAccountToken": false,
            "containers": [{"name": "main", "image": "busybox", "env": [
                {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "password"}}}
            ]}],
            "tolerations": [{"key": "virtual-kubelet.io/provider", "operator": "Exists"}]
        }
    }))
    .unwrap();
    pods.create(&PostParams::default(), &pod).await.unwrap();
    wait::until("secret pod running", 60, || async {
        pods.get("uses-secret").await.ok().filter(running_ready)
    })
    .await;
    // Public mode, no containerPort: no IP, and the pod is told why.
    let events: Api<k8s_openapi::api::events::v1::Event> =
        Api::namespaced(ns.client.clone(), &ns.name);
    let no_ip = wait::until("a NoPodIP warning on the port-less pod", 30, || async {
        events
            .list(&ListParams::default())
            .await
            .ok()?
            .items
            .into_iter()
            .find(|e| {
                e.reason.as_deref() == Some("NoPodIP")
                    && e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some("uses-secret")
            })
    })
    .await;
    assert_eq!(no_ip.type_.as_deref(), Some("Warning"));
    assert!(!has_ip(&pods.get("uses-secret").await.unwrap()));
    let group = world.groups(&format!("{}-uses-secret", ns.name));
    let body = world.emu.admin().last_request(&group[0].name).unwrap().body;
    let env = &body["properties"]["containers"][0]["properties"]["environmentVariables"];
    let var = env
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "PASSWORD")
        .unwrap();
    assert_eq!(var["secureValue"], secret_value.as_str());
    assert!(
        var.get("value").is_none_or(serde_json::Value::is_null),
        "{var}"
    );
    let mut without = body.clone();
    without["properties"]["containers"][0]["properties"]["environmentVariables"] =
        serde_json::Value::Null;
    assert!(
        !without.to_string().contains(&secret_value),
        "secret outside secureValue"
    );
    let log = std::fs::read_to_string(&world.vk.log).unwrap();
    assert!(!log.contains(&secret_value), "secret in vk's log");
    world.stop().await;
}

/// A one-replica Deployment on `node` whose container is `container`.
fn deployment(name: &str, node: &str, container: serde_json::Value) -> Deployment {
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": name},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "automountServiceAccountToken": false,
                    "containers": [container],
                    "nodeSelector": {"type": "virtual-kubelet", "kubernetes.io/hostname": node},
                    "tolerations": [{"key": "virtual-kubelet.io/provider", "operator": "Exists"}]
                }
            }
        }
    }))
    .unwrap()
}

fn first_waiting(p: &Pod) -> Option<(String, String)> {
    let w = p
        .status
        .as_ref()?
        .container_statuses
        .as_ref()?
        .first()?
        .state
        .as_ref()?
        .waiting
        .clone()?;
    Some((w.reason?, w.message.unwrap_or_default()))
}

#[tokio::test]
async fn pods_aci_cannot_run_yet_stay_pending_without_churn() {
    let world = World::start("").await;
    let ns = TestEnv::get().await.namespace("churn").await;
    let deployments: Api<Deployment> = Api::namespaced(ns.client.clone(), &ns.name);
    let pods: Api<Pod> = Api::namespaced(ns.client.clone(), &ns.name);
    let node = world.linux.clone();
    // ACI refuses the image; the pod is far too big for a group; a Secret that
    // appears 30 s later.
    for d in [
        deployment(
            "refused-image",
            &node,
            serde_json::json!({"name": "main", "image": "example.com/unpullable:1"}),
        ),
        deployment(
            "too-big",
            &node,
            serde_json::json!({"name": "main", "image": "busybox", "resources": {"requests": {"cpu": "64"}}}),
        ),
        deployment(
            "late-secret",
            &node,
            serde_json::json!({"name": "main", "image": "busybox", "env": [
                {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "late", "key": "token"}}}
            ]}),
        ),
    ] {
        deployments
            .create(&PostParams::default(), &d)
            .await
            .unwrap();
    }
    let mut seen: std::collections::BTreeMap<String, std::collections::BTreeSet<String>> =
        std::collections::BTreeMap::new();
    let started = std::time::Instant::now();
    let mut secret_created = false;
    let mut late_running = false;
    // Watch for 60 s, counting every pod each Deployment ever had.
    while started.elapsed() < Duration::from_secs(60) {
        for p in pods.list(&ListParams::default()).await.unwrap().items {
            let app = p.metadata.labels.as_ref().unwrap()["app"].clone();
            seen.entry(app.clone())
                .or_default()
                .insert(p.metadata.uid.clone().unwrap());
            if app == "late-secret" && running_ready(&p) {
                late_running = true;
            }
        }
        if !secret_created && started.elapsed() >= Duration::from_secs(30) {
            let s: Secret = serde_json::from_value(serde_json::json!({
                "metadata": {"name": "late"}, "stringData": {"token": "t0ken"}
            }))
            .unwrap();
            Api::<Secret>::namespaced(ns.client.clone(), &ns.name)
                .create(&PostParams::default(), &s)
                .await
                .unwrap();
            secret_created = true;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    for app in ["refused-image", "too-big", "late-secret"] {
        let n = seen.get(app).map_or(0, std::collections::BTreeSet::len);
        assert!((1..=3).contains(&n), "{app}: {n} pods in 60 s");
    }
    assert!(late_running, "the pod started once its Secret existed");
    let one = |app: &str| {
        let pods = pods.clone();
        let app = app.to_owned();
        async move { pods_with(&pods, &format!("app={app}")).await.remove(0) }
    };
    // Kubernetes-shaped statuses: Pending, waiting with the kubelet's reasons.
    let image = one("refused-image").await;
    assert_eq!(
        image.status.as_ref().unwrap().phase.as_deref(),
        Some("Pending")
    );
    let (reason, message) = first_waiting(&image).unwrap();
    assert!(
        reason == "ImagePullBackOff" || reason == "ErrImagePull",
        "{reason}: {message}"
    );
    assert!(message.contains("unpullable"), "{message}");
    let big = one("too-big").await;
    let status = big.status.clone().unwrap();
    assert_eq!(status.phase.as_deref(), Some("Pending"));
    assert_eq!(status.reason.as_deref(), Some("ExceedsGroupMaximum"));
    let (reason, message) = first_waiting(&big).unwrap();
    assert_eq!(reason, "CreateContainerError");
    assert!(message.contains("64"), "{message}");
    // kubectl logs answers like a kubelet for a container that never started.
    let err = pods
        .logs(big.metadata.name.as_deref().unwrap(), &Default::default())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("\"main\"") && err.contains("is waiting to start: CreateContainerError"),
        "{err}"
    );
    // The impossible pod never reached ACI; the refused image was retried
    // with the kubelet's back-off (10 s, 20 s, 40 s: at most 4 tries in 60 s).
    let requests = |p: &Pod| -> usize {
        let group =
            vk_provider_aci::naming::group_name(&ns.name, &p.metadata.name.clone().unwrap());
        world.emu.admin().requests(&group).len()
    };
    assert_eq!(requests(&big), 0);
    let pulls = requests(&image);
    assert!(
        (1..=4).contains(&pulls),
        "{pulls} PUTs for the refused image"
    );
    world.stop().await;
}

#[tokio::test]
async fn a_burst_beyond_the_create_quota_waits_pending_with_its_place_in_line() {
    let world = World::start_with(
        "",
        "[aci.quotas]\ncreates_per_5_minutes = 3\ncreates_per_hour = 300\n",
    )
    .await;
    let ns = TestEnv::get().await.namespace("quota").await;
    let pods: Api<Pod> = Api::namespaced(ns.client.clone(), &ns.name);
    for i in 0..5 {
        pods.create(
            &PostParams::default(),
            &bare_pod(&format!("b{i}"), &world.linux),
        )
        .await
        .unwrap();
    }
    let waiting = wait::until("3 Running, 2 waiting for the quota", 60, || async {
        let list = pods_with(&pods, "burst=yes").await;
        let running = list.iter().filter(|p| running_ready(p)).count();
        let waiting: Vec<String> = list
            .iter()
            .filter_map(|p| {
                let s = p.status.as_ref()?;
                (s.reason.as_deref() == Some("WaitingForCreateQuota")).then(|| s.message.clone())?
            })
            .collect();
        (running == 3 && waiting.len() == 2).then_some(waiting)
    })
    .await;
    assert!(
        waiting.iter().all(|m| m.contains("3 per 5 min")),
        "{waiting:?}"
    );
    assert_eq!(world.groups(&ns.name).len(), 3, "no PUT beyond the quota");
    assert_eq!(world.emu.admin().count_status("create", 429), 0);
    assert!(
        world
            .vk
            .metric("vk_aci_quota_queued", "operation=\"create\"")
            .await
            >= 2.0
    );
    world.stop().await;
}

#[tokio::test]
async fn a_pod_reusing_the_name_of_a_group_still_deleting_waits_and_then_runs() {
    // Deletes take 4 s, as ACI's asynchronous DELETE keeps a group Deleting.
    let emu = vk_aci_emulator::Emulator::builder()
        .fast()
        .delete_delay(Duration::from_secs(4))
        .start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let world = World::start_on(emu, "", NO_QUOTAS).await;
    let ns = TestEnv::get().await.namespace("rename").await;
    let pods: Api<Pod> = Api::namespaced(ns.client.clone(), &ns.name);
    pods.create(&PostParams::default(), &bare_pod("web-0", &world.linux))
        .await
        .unwrap();
    let first = wait::until("web-0 running", 60, || async {
        pods.get("web-0").await.ok().filter(running_ready)
    })
    .await;
    // A StatefulSet-like replacement: same name, new UID, while the old group is Deleting.
    pods.delete("web-0", &DeleteParams::default())
        .await
        .unwrap();
    wait::deleted(&pods, "web-0", 30).await;
    pods.create(&PostParams::default(), &bare_pod("web-0", &world.linux))
        .await
        .unwrap();
    let second = wait::until("the new web-0 running", 60, || async {
        pods.get("web-0")
            .await
            .ok()
            .filter(|p| p.metadata.uid != first.metadata.uid && running_ready(p))
    })
    .await;
    // One group, the new pod's, and no storm of refused PUTs meanwhile.
    let groups = world.groups(&format!("{}-web-0", ns.name));
    assert_eq!(groups.len(), 1, "{groups:?}");
    let conflicts = world.emu.admin().count_status("create", 409);
    assert!(
        conflicts <= 4,
        "{conflicts} refused PUTs while the old group was deleting"
    );
    let body = world
        .emu
        .admin()
        .last_request(&groups[0].name)
        .unwrap()
        .body;
    assert_eq!(
        body["tags"]["vk-uid"].as_str(),
        second.metadata.uid.as_deref(),
        "the group is the new pod's"
    );
    world.stop().await;
}

fn bare_pod(name: &str, node: &str) -> Pod {
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": name, "labels": {"burst": "yes"}},
        "spec": {
            "nodeName": node,
            "automountServiceAccountToken": false,
            "containers": [{"name": "main", "image": "busybox"}]
        }
    }))
    .unwrap()
}

#[tokio::test]
async fn kill_9_during_a_burst_leaves_exactly_one_group_per_pod() {
    let mut world = World::start("").await;
    let ns = TestEnv::get().await.namespace("burst").await;
    let pods: Api<Pod> = Api::namespaced(ns.client.clone(), &ns.name);
    for i in 0..50 {
        pods.create(
            &PostParams::default(),
            &bare_pod(&format!("p{i}"), &world.linux),
        )
        .await
        .unwrap();
    }
    wait::until("some groups created", 30, || async {
        (!world.groups(&ns.name).is_empty()).then_some(())
    })
    .await;
    world.vk.kill9();
    world.vk.spawn();
    wait::until("50 pods Running", 120, || async {
        let list = pods_with(&pods, "burst=yes").await;
        (list.len() == 50 && list.iter().all(running_ready)).then_some(())
    })
    .await;
    assert_eq!(world.groups(&ns.name).len(), 50);
    world.stop().await;
}

#[tokio::test]
async fn thirty_seconds_of_503_during_a_burst_leaves_no_pod_stuck() {
    let world = World::start("").await;
    let ns = TestEnv::get().await.namespace("outage").await;
    let pods: Api<Pod> = Api::namespaced(ns.client.clone(), &ns.name);
    world.emu.admin().inject_fault(
        FaultRule::new("any")
            .with_status(503)
            .for_duration(Duration::from_secs(30)),
    );
    for i in 0..20 {
        pods.create(
            &PostParams::default(),
            &bare_pod(&format!("o{i}"), &world.linux),
        )
        .await
        .unwrap();
    }
    wait::until("20 pods Running after the outage", 180, || async {
        let list = pods_with(&pods, "burst=yes").await;
        (list.len() == 20 && list.iter().all(running_ready)).then_some(())
    })
    .await;
    assert_eq!(world.groups(&ns.name).len(), 20);
    assert!(
        world.emu.admin().count_status("create", 503) > 0,
        "the fault was hit"
    );
    world.stop().await;
}

/// Runs kubectl off the test's runtime thread: the in-process emulator
/// answers vk on that runtime while kubectl waits.
async fn kubectl(kubeconfig: &std::path::Path, args: &[&str]) -> std::process::Output {
    let mut cmd = std::process::Command::new("kubectl");
    cmd.arg(format!("--kubeconfig={}", kubeconfig.display()))
        .args(args);
    tokio::task::spawn_blocking(move || cmd.output().expect("kubectl on PATH"))
        .await
        .expect("kubectl task")
}

#[tokio::test]
async fn kubectl_logs_and_exec_reach_the_container_through_the_api_server() {
    let world = World::start("").await;
    let env = TestEnv::get().await;
    let ns = env.namespace("kubelet").await;
    let pods: Api<Pod> = Api::namespaced(ns.client.clone(), &ns.name);
    let pod: Pod = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "talker"},
        "spec": {
            "nodeName": world.linux,
            "automountServiceAccountToken": false,
            "containers": [{"name": "main", "image": "busybox",
                "command": ["sh", "-c", "echo hello; echo world; sleep 1000"]}]
        }
    }))
    .unwrap();
    pods.create(&PostParams::default(), &pod).await.unwrap();
    wait::until("talker running", 60, || async {
        pods.get("talker").await.ok().filter(running_ready)
    })
    .await;
    let kc = env.kubeconfig();
    let n = ns.name.as_str();

    let out = kubectl(kc, &["-n", n, "logs", "talker"]).await;
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "hello\nworld\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = kubectl(kc, &["-n", n, "logs", "--tail=1", "talker"]).await;
    assert_eq!(String::from_utf8_lossy(&out.stdout), "world\n");
    let out = kubectl(kc, &["-n", n, "exec", "talker", "--", "echo", "hi"]).await;
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "hi\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = kubectl(
        kc,
        &[
            "-n",
            n,
            "exec",
            "talker",
            "--",
            "sh",
            "-c",
            "echo err >&2; exit 3",
        ],
    )
    .await;
    // ACI has no exit status and one merged output stream: the exit code comes
    // back through the shell's markers, stderr arrives on stdout.
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "err\n");
    world.stop().await;
}

#[tokio::test]
async fn pods_whose_plain_group_names_collide_get_their_own_groups_and_logs() {
    // `<ns>/b-p` and `<ns>-b/p` both map to the plain group name `<ns>-b-p`:
    // the second pod must get the hashed name instead of overwriting the
    // first pod's group, and `kubectl logs` must reach each pod's own group.
    use k8s_openapi::api::core::v1::Namespace;
    let world = World::start("").await;
    let env = TestEnv::get().await;
    let ns = env.namespace("clash").await;
    let other = format!("{}-b", ns.name);
    let namespaces: Api<Namespace> = Api::all(ns.client.clone());
    let other_ns: Namespace = serde_json::from_value(serde_json::json!({
        "metadata": {"name": other, "labels": {"vk.test/namespace": "true"}}
    }))
    .unwrap();
    namespaces
        .create(&PostParams::default(), &other_ns)
        .await
        .unwrap();
    wait::default_service_account(&ns.client, &other).await;
    let talker = |name: &str, word: &str| -> Pod {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": name},
            "spec": {
                "nodeName": world.linux,
                "automountServiceAccountToken": false,
                "containers": [{"name": "main", "image": "busybox",
                    "command": ["sh", "-c", format!("echo {word}; sleep 1000")]}]
            }
        }))
        .unwrap()
    };
    let first: Api<Pod> = Api::namespaced(ns.client.clone(), &ns.name);
    let second: Api<Pod> = Api::namespaced(ns.client.clone(), &other);
    first
        .create(&PostParams::default(), &talker("b-p", "one"))
        .await
        .unwrap();
    wait::until("the first pod running", 60, || async {
        first.get("b-p").await.ok().filter(running_ready)
    })
    .await;
    second
        .create(&PostParams::default(), &talker("p", "two"))
        .await
        .unwrap();
    wait::until("the second pod running", 60, || async {
        second.get("p").await.ok().filter(running_ready)
    })
    .await;

    let plain = vk_provider_aci::naming::group_name(&ns.name, "b-p");
    assert_eq!(plain, vk_provider_aci::naming::group_name(&other, "p"));
    let groups: Vec<String> = world.groups(&ns.name).into_iter().map(|g| g.name).collect();
    assert_eq!(groups.len(), 2, "{groups:?}");
    assert!(groups.contains(&plain), "{groups:?}");
    assert!(
        groups.contains(&vk_provider_aci::naming::hashed_group_name(&other, "p")),
        "{groups:?}"
    );
    for (api, name, word) in [(&first, "b-p", "one"), (&second, "p", "two")] {
        let logs = api
            .logs(name, &kube::api::LogParams::default())
            .await
            .unwrap();
        assert_eq!(logs, format!("{word}\n"), "logs of {name}");
    }
    let _ = namespaces.delete(&other, &DeleteParams::background()).await;
    world.stop().await;
}
