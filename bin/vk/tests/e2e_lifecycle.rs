//! End to end: the lifecycle real ACI has, and what pods show of it — image
//! pulls ACI retries and gives up on, platform restarts that move a group to
//! a new IP, repairs, and reads that miss a group right after its PUT. The vk
//! binary runs against the real API server and the emulator's fault injection.
#![allow(clippy::unwrap_used)]

#[path = "e2e/harness.rs"]
mod harness;

use std::time::Duration;

use harness::{Vk, client, config, wait_ready};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Endpoints, Node, Pod, Service};
use kube::api::{DeleteParams, ListParams, PostParams};
use kube::{Api, Client};
use vk_aci_emulator::{GroupSummary, RunningEmulator};
use vk_testkit::pod::first_waiting_reason as waiting_reason;
use vk_testkit::{TestEnv, wait};

const FAST: &str = "[reconciler]\nsync_interval_secs = 1\nsteady_sync_interval_secs = 3\norphan_gc_grace_secs = 5\n\
                    [aci.rate_limit]\nreads_per_sec = 1000.0\nread_burst = 1000\nwrites_per_sec = 1000.0\nwrite_burst = 1000\n";

struct World {
    client: Client,
    emu: RunningEmulator,
    vk: Vk,
    node: String,
}

impl World {
    async fn start() -> Self {
        let emu = vk_aci_emulator::Emulator::builder()
            .fast()
            .start("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let (client, kubeconfig) = client().await;
        let node = harness::unique("vk-life");
        let (text, admin) = config(
            &kubeconfig,
            emu.base_url(),
            &[(node.clone(), "linux")],
            FAST,
        );
        let vk = Vk::start(&text, admin);
        wait_ready(&Api::<Node>::all(client.clone()), &node, "True", 20).await;
        Self {
            client,
            emu,
            vk,
            node,
        }
    }

    fn group(&self, name: &str) -> Option<GroupSummary> {
        self.emu
            .admin()
            .groups()
            .into_iter()
            .find(|g| g.name == name)
    }

    fn creates(&self, group: &str) -> usize {
        self.emu
            .admin()
            .requests(group)
            .iter()
            .filter(|r| r.op == "create")
            .count()
    }

    async fn stop(self) {
        drop(self.vk);
        let nodes: Api<Node> = Api::all(self.client.clone());
        let _ = nodes.delete(&self.node, &DeleteParams::default()).await;
        self.emu.shutdown().await.unwrap();
    }
}

fn pod(name: &str, node: &str, image: &str, ports: bool) -> Pod {
    let ports = if ports {
        serde_json::json!([{"containerPort": 80}])
    } else {
        serde_json::json!([])
    };
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "nodeName": node,
            "automountServiceAccountToken": false,
            "containers": [{"name": "main", "image": image, "ports": ports}]
        }
    }))
    .unwrap()
}

fn ready(p: &Pod) -> bool {
    p.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

fn restarts(p: &Pod) -> i32 {
    p.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .and_then(|cs| cs.first())
        .map_or(0, |c| c.restart_count)
}

fn pod_ip(p: &Pod) -> Option<String> {
    p.status.as_ref()?.pod_ip.clone()
}

async fn event_reasons(client: &Client, ns: &str, pod: &str) -> Vec<String> {
    let events: Api<k8s_openapi::api::events::v1::Event> = Api::namespaced(client.clone(), ns);
    events
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(pod))
        .filter_map(|e| e.reason)
        .collect()
}

fn endpoint_ips(ep: &Endpoints, ready: bool) -> Vec<String> {
    ep.subsets
        .iter()
        .flatten()
        .flat_map(|s| {
            if ready {
                s.addresses.clone()
            } else {
                s.not_ready_addresses.clone()
            }
            .into_iter()
            .flatten()
        })
        .map(|a| a.ip)
        .collect()
}

#[tokio::test]
async fn an_image_aci_gives_up_on_keeps_the_pod_pending_and_vk_retries_with_back_off() {
    let world = World::start().await;
    let ns = TestEnv::get().await.namespace("life-pull").await;
    let image = "registry.example.com/team/app:1";
    // The PUT is accepted; every pull fails (ACI: Pulling ×3, Failed, BackOff,
    // then the deployment fails).
    world
        .emu
        .admin()
        .fail_image_pulls("registry.example.com/team/app");
    let deployments: Api<Deployment> = Api::namespaced(ns.client.clone(), &ns.name);
    let d: Deployment = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "app"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "app"}},
            "template": {
                "metadata": {"labels": {"app": "app"}},
                "spec": {
                    "nodeSelector": {"kubernetes.io/hostname": world.node},
                    "tolerations": [{"operator": "Exists"}],
                    "automountServiceAccountToken": false,
                    "containers": [{"name": "main", "image": image}]
                }
            }
        }
    }))
    .unwrap();
    deployments
        .create(&PostParams::default(), &d)
        .await
        .unwrap();
    let pods: Api<Pod> = Api::namespaced(ns.client.clone(), &ns.name);
    let lp = ListParams::default().labels("app=app");
    // The pod waits in ErrImagePull / ImagePullBackOff; vk re-creates the
    // group after ACI gave up (a second PUT), and no replacement pod appears.
    let names = std::sync::Mutex::new(std::collections::BTreeSet::new());
    let p = wait::until("the group created again after ACI gave up", 90, || async {
        let list = pods.list(&lp).await.ok()?.items;
        for p in &list {
            names
                .lock()
                .unwrap()
                .insert(p.metadata.name.clone().unwrap_or_default());
            let phase = p.status.as_ref().and_then(|s| s.phase.as_deref());
            assert_ne!(phase, Some("Failed"), "the pod is never failed for a pull");
        }
        let p = list.into_iter().next()?;
        let group = format!("{}-{}", ns.name, p.metadata.name.as_deref()?);
        let reason = waiting_reason(&p)?;
        (matches!(reason.as_str(), "ErrImagePull" | "ImagePullBackOff")
            && world.creates(&group) >= 2)
            .then_some(p)
    })
    .await;
    let names = names.into_inner().unwrap();
    assert_eq!(names.len(), 1, "no replacement pods: {names:?}");
    let name = p.metadata.name.clone().unwrap();
    let reasons = event_reasons(&ns.client, &ns.name, &name).await;
    for r in ["Pulling", "Failed", "BackOff"] {
        assert!(reasons.iter().any(|x| x == r), "{r} in {reasons:?}");
    }
    // The registry recovers: the next attempt runs the pod.
    assert!(
        world
            .emu
            .admin()
            .mark_image_pullable("registry.example.com/team/app")
    );
    wait::until("the pod runs once the image is pullable", 120, || async {
        pods.get(&name).await.ok().filter(ready)
    })
    .await;
    let all: Vec<String> = pods
        .list(&lp)
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|p| p.metadata.name)
        .collect();
    assert_eq!(all, vec![name], "still the same single pod");
    world.stop().await;
}

#[tokio::test]
async fn a_platform_restart_to_a_new_ip_reaches_the_pod_and_its_endpoints() {
    let world = World::start().await;
    let ns = TestEnv::get().await.namespace("life-move").await;
    let pods: Api<Pod> = Api::namespaced(ns.client.clone(), &ns.name);
    pods.create(
        &PostParams::default(),
        &pod("web", &world.node, "nginx", true),
    )
    .await
    .unwrap();
    let services: Api<Service> = Api::namespaced(ns.client.clone(), &ns.name);
    let svc: Service = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "web"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}
    }))
    .unwrap();
    services.create(&PostParams::default(), &svc).await.unwrap();
    let first = wait::until("web ready", 60, || async {
        pods.get("web").await.ok().filter(ready)
    })
    .await;
    let old_ip = pod_ip(&first).unwrap();
    let endpoints: Api<Endpoints> = Api::namespaced(ns.client.clone(), &ns.name);
    wait::until("endpoints at the first IP", 60, || async {
        endpoints
            .get_opt("web")
            .await
            .ok()
            .flatten()
            .filter(|e| endpoint_ips(e, true) == vec![old_ip.clone()])
    })
    .await;

    let group = format!("{}-web", ns.name);
    world.emu.admin().platform_restart(&group, true).unwrap();
    let new_ip = world.group(&group).and_then(|g| g.ip).unwrap();
    assert_ne!(new_ip, old_ip, "the emulator moved the group");
    // The pod shows the restart and the new IP, and so do its Endpoints.
    let moved = wait::until("the pod at its new IP, restarted once", 60, || async {
        pods.get("web").await.ok().filter(|p| {
            ready(p) && pod_ip(p).as_deref() == Some(new_ip.as_str()) && restarts(p) == 1
        })
    })
    .await;
    assert_eq!(moved.metadata.uid, first.metadata.uid, "the same pod");
    wait::until("endpoints at the new IP only", 60, || async {
        endpoints
            .get_opt("web")
            .await
            .ok()
            .flatten()
            .filter(|e| endpoint_ips(e, true) == vec![new_ip.clone()])
    })
    .await;
    assert_eq!(
        world.creates(&group),
        1,
        "moved by ACI, not re-created by vk"
    );
    // One restart, told once.
    let reasons = event_reasons(&ns.client, &ns.name, "web").await;
    let killing = reasons.iter().filter(|r| *r == "Killing").count();
    assert!(killing <= 1, "no duplicate events: {reasons:?}");
    world.stop().await;
}

#[tokio::test]
async fn a_group_under_repair_is_not_ready_until_it_runs_again() {
    let world = World::start().await;
    let ns = TestEnv::get().await.namespace("life-repair").await;
    let pods: Api<Pod> = Api::namespaced(ns.client.clone(), &ns.name);
    pods.create(
        &PostParams::default(),
        &pod("db", &world.node, "nginx", true),
    )
    .await
    .unwrap();
    wait::until("db ready", 60, || async {
        pods.get("db").await.ok().filter(ready)
    })
    .await;
    let group = format!("{}-db", ns.name);
    // Unhealthy for 10 s, then Repairing for 10 s, then running again.
    world
        .emu
        .admin()
        .repair(&group, Duration::from_secs(20))
        .unwrap();
    let unready = wait::until("db not ready while ACI repairs it", 30, || async {
        pods.get("db").await.ok().filter(|p| !ready(p))
    })
    .await;
    let condition = unready
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.type_ == "Ready").cloned())
        .unwrap();
    let reason = condition.reason.unwrap_or_default();
    assert!(
        matches!(
            reason.as_str(),
            "ContainerGroupUnhealthy" | "ContainerGroupRepairing"
        ),
        "{reason}"
    );
    assert_eq!(
        unready.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Running"),
        "a repair does not end the pod"
    );
    wait::until("db ready again after the repair", 90, || async {
        pods.get("db").await.ok().filter(ready)
    })
    .await;
    assert_eq!(
        world.creates(&group),
        1,
        "repaired by ACI, not re-created by vk"
    );
    world.stop().await;
}

#[tokio::test]
async fn reads_that_miss_a_new_group_do_not_make_vk_create_it_twice() {
    let world = World::start().await;
    // For 5 s after each creating PUT, GETs answer 404 and lists leave the
    // group out (ARM's eventual consistency).
    world
        .emu
        .admin()
        .transient_not_found_after_put(Duration::from_secs(5));
    let ns = TestEnv::get().await.namespace("life-404").await;
    let pods: Api<Pod> = Api::namespaced(ns.client.clone(), &ns.name);
    let names: Vec<String> = (0..10).map(|i| format!("p{i}")).collect();
    for n in &names {
        pods.create(
            &PostParams::default(),
            &pod(n, &world.node, "busybox", false),
        )
        .await
        .unwrap();
    }
    for n in &names {
        wait::until(&format!("{n} ready"), 60, || async {
            pods.get(n).await.ok().filter(ready)
        })
        .await;
    }
    for n in &names {
        let group = format!("{}-{n}", ns.name);
        assert_eq!(world.creates(&group), 1, "{group} created once");
    }
    let not_found = world.emu.admin().count_status("get", 404);
    assert!(not_found > 0, "the fault was hit ({not_found} 404s)");
    world.stop().await;
}
