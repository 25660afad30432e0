//! End to end: what pods can ask ACI for by annotation (issue #21) — the AKS
//! virtual-nodes annotations reaching ACI unchanged, options ACI refuses held
//! Pending with the reason before anything is sent, a Spot eviction shown on
//! the pod as a disruption, and a startup probe approximated. The vk binary
//! runs against the real API server and the emulator.
//!
//! The test API server is 1.20: it drops fields it does not know (native
//! sidecars, pod-level resources, `hostUsers`), so those are tested at the
//! translation and status level (`crates/vk-provider-aci`), with pods as a
//! 1.33 server sends them.
#![allow(clippy::unwrap_used)]

#[path = "e2e/harness.rs"]
mod harness;

use harness::{Vk, client, config, config_with_aci, wait_ready};
use k8s_openapi::api::core::v1::{Node, Pod, PodCondition};
use kube::api::{DeleteParams, ListParams, PostParams};
use kube::{Api, Client};
use serde_json::{Value, json};
use vk_aci_emulator::RunningEmulator;
use vk_testkit::{TestEnv, wait};

const FAST: &str = "[reconciler]\nsync_interval_secs = 1\nsteady_sync_interval_secs = 3\norphan_gc_grace_secs = 5\n\
                    [aci.rate_limit]\nreads_per_sec = 1000.0\nread_burst = 1000\nwrites_per_sec = 1000.0\nwrite_burst = 1000\n";

const MI: &str = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/e2e/providers/Microsoft.ManagedIdentity/userAssignedIdentities/app-id";

struct World {
    client: Client,
    emu: RunningEmulator,
    vk: Vk,
    node: String,
}

const SUBNET: &str = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/e2e/providers/Microsoft.Network/virtualNetworks/e2e/subnets/aci";
const OTHER_SUBNET: &str = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/e2e/providers/Microsoft.Network/virtualNetworks/e2e/subnets/team-b";

impl World {
    /// A public-IP node.
    async fn start() -> Self {
        Self::start_with("").await
    }

    /// A node whose groups join [`SUBNET`], with the cluster DNS configured.
    async fn start_vnet() -> Self {
        Self::start_with(&format!(
            "subnet_id = \"{SUBNET}\"\ncluster_dns_ip = \"10.0.0.10\""
        ))
        .await
    }

    async fn start_with(aci: &str) -> Self {
        let emu = vk_aci_emulator::Emulator::builder()
            .fast()
            .start("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let (client, kubeconfig) = client().await;
        let node = harness::unique("vk-opts");
        let (text, admin) = if aci.is_empty() {
            config(
                &kubeconfig,
                emu.base_url(),
                &[(node.clone(), "linux")],
                FAST,
            )
        } else {
            config_with_aci(
                &kubeconfig,
                emu.base_url(),
                &[(node.clone(), "linux")],
                aci,
                FAST,
            )
        };
        let vk = Vk::start(&text, admin);
        wait_ready(&Api::<Node>::all(client.clone()), &node, "True", 20).await;
        Self {
            client,
            emu,
            vk,
            node,
        }
    }

    /// The body of the last create of `group`, as ACI received it.
    fn created(&self, group: &str) -> Option<Value> {
        self.emu
            .admin()
            .requests(group)
            .into_iter()
            .rev()
            .find(|r| r.op == "create")
            .map(|r| r.body)
    }

    async fn stop(self) {
        drop(self.vk);
        let nodes: Api<Node> = Api::all(self.client.clone());
        let _ = nodes.delete(&self.node, &DeleteParams::default()).await;
        self.emu.shutdown().await.unwrap();
    }
}

fn pod(name: &str, node: &str, annotations: Value, spec: Value) -> Pod {
    let mut spec = spec;
    spec["nodeName"] = json!(node);
    spec["automountServiceAccountToken"] = json!(false);
    serde_json::from_value(json!({
        "metadata": {"name": name, "annotations": annotations},
        "spec": spec,
    }))
    .unwrap()
}

fn main_container(ports: bool) -> Value {
    let mut c = json!({"name": "main", "image": "nginx"});
    if ports {
        c["ports"] = json!([{"containerPort": 80}]);
    }
    c
}

fn ready(p: &Pod) -> bool {
    condition(p, "Ready").is_some_and(|c| c.status == "True")
}

fn condition<'p>(p: &'p Pod, t: &str) -> Option<&'p PodCondition> {
    p.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == t)
}

fn restarts(p: &Pod) -> i32 {
    p.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .and_then(|cs| cs.first())
        .map_or(0, |c| c.restart_count)
}

/// (status.reason, the first container's waiting reason and message).
fn held(p: &Pod) -> Option<(String, String, String)> {
    let s = p.status.as_ref()?;
    let w = s
        .container_statuses
        .as_ref()?
        .first()?
        .state
        .as_ref()?
        .waiting
        .as_ref()?;
    Some((
        s.reason.clone()?,
        w.reason.clone()?,
        w.message.clone().unwrap_or_default(),
    ))
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

fn group(ns: &str, pod: &str) -> String {
    vk_provider_aci::naming::group_name(ns, pod)
}

#[tokio::test]
async fn aks_virtual_node_annotations_reach_aci_unchanged() {
    let world = World::start().await;
    let ns = TestEnv::get().await.namespace("opts-aks").await;
    let pods: Api<Pod> = Api::namespaced(ns.client.clone(), &ns.name);
    // "package policy" in base64, as `az confcom acipolicygen` writes policies.
    let policy = "cGFja2FnZSBwb2xpY3k=";
    pods.create(
        &PostParams::default(),
        &pod(
            "conf",
            &world.node,
            json!({
                "microsoft.containerinstance.virtualnode.ccepolicy": policy,
                "microsoft.containerinstance.virtualnode.zones": "2",
                "microsoft.containerinstance.virtualnode.identity": MI,
                "microsoft.containerinstance.virtualnode.injectkubeproxy": "false",
                "microsoft.containerinstance.virtualnode.injectdns": "false"
            }),
            json!({"containers": [main_container(true)]}),
        ),
    )
    .await
    .unwrap();
    wait::until("conf ready", 60, || async {
        pods.get("conf").await.ok().filter(ready)
    })
    .await;
    let body = world.created(&group(&ns.name, "conf")).expect("a create");
    assert_eq!(body["properties"]["sku"], "Confidential");
    assert_eq!(
        body["properties"]["confidentialComputeProperties"]["ccePolicy"],
        policy
    );
    assert_eq!(body["zones"], json!(["2"]));
    assert_eq!(body["identity"]["type"], "UserAssigned");
    assert!(
        body["identity"]["userAssignedIdentities"].get(MI).is_some(),
        "{}",
        body["identity"]
    );
    // vk's own names do the same.
    pods.create(
        &PostParams::default(),
        &pod(
            "zoned",
            &world.node,
            json!({"virtual-kubelet.io/availability-zone": "3",
                   "virtual-kubelet.io/managed-identity": MI}),
            json!({"containers": [main_container(true)]}),
        ),
    )
    .await
    .unwrap();
    wait::until("zoned ready", 60, || async {
        pods.get("zoned").await.ok().filter(ready)
    })
    .await;
    let body = world.created(&group(&ns.name, "zoned")).expect("a create");
    assert_eq!(body["zones"], json!(["3"]));
    assert_eq!(body["properties"]["sku"], "Standard");
    assert!(body["identity"]["userAssignedIdentities"].get(MI).is_some());
    world.stop().await;
}

#[tokio::test]
async fn options_aci_refuses_hold_the_pod_pending_with_the_reason_and_send_nothing() {
    let world = World::start().await;
    let ns = TestEnv::get().await.namespace("opts-refused").await;
    let pods: Api<Pod> = Api::namespaced(ns.client.clone(), &ns.name);
    let cases = [
        (
            "spot-public",
            json!({"virtual-kubelet.io/priority": "Spot"}),
            json!({"containers": [main_container(true)]}),
            "SpotNotSupported",
            "inbound connectivity",
        ),
        (
            "spot-zone",
            json!({"virtual-kubelet.io/priority": "Spot",
                   "microsoft.containerinstance.virtualnode.zones": "1"}),
            json!({"containers": [main_container(false)]}),
            "SpotNotSupported",
            "availability zone",
        ),
        (
            "two-zones",
            json!({"microsoft.containerinstance.virtualnode.zones": "1;2"}),
            json!({"containers": [main_container(true)]}),
            "InvalidAnnotation",
            "exactly one availability zone",
        ),
        (
            "subnet-public",
            json!({"microsoft.containerinstance.virtualnode.subnets.primary":
                "/subscriptions/0/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/s"}),
            json!({"containers": [main_container(true)]}),
            "InvalidAnnotation",
            "virtual network",
        ),
        (
            "kube-proxy",
            json!({"microsoft.containerinstance.virtualnode.injectkubeproxy": "true"}),
            json!({"containers": [main_container(true)]}),
            "InvalidAnnotation",
            "no kube-proxy",
        ),
        (
            "host-net",
            json!({}),
            json!({"hostNetwork": true, "containers": [main_container(false)]}),
            "HostNamespaceNotSupported",
            "hostNetwork",
        ),
        (
            "shared-pid",
            json!({}),
            json!({"shareProcessNamespace": true, "containers": [main_container(true)]}),
            "ShareProcessNamespaceNotSupported",
            "shareProcessNamespace",
        ),
    ];
    for (name, annotations, spec, _, _) in &cases {
        pods.create(
            &PostParams::default(),
            &pod(name, &world.node, annotations.clone(), spec.clone()),
        )
        .await
        .unwrap();
    }
    for (name, _, _, reason, words) in &cases {
        let p = wait::until(&format!("{name} held"), 60, || async {
            pods.get(name).await.ok().filter(|p| held(p).is_some())
        })
        .await;
        let (status_reason, waiting, message) = held(&p).unwrap();
        assert_eq!(
            p.status.as_ref().unwrap().phase.as_deref(),
            Some("Pending"),
            "{name}"
        );
        assert_eq!(status_reason, *reason, "{name}: {message}");
        assert_eq!(waiting, "CreateContainerError", "{name}");
        assert!(message.contains(words), "{name}: {message}");
        assert!(
            world.created(&group(&ns.name, name)).is_none(),
            "{name}: nothing sent to ACI"
        );
    }
    world.stop().await;
}

#[tokio::test]
async fn a_spot_eviction_shows_as_a_disruption_until_aci_has_restarted_the_group() {
    let world = World::start().await;
    let ns = TestEnv::get().await.namespace("opts-spot").await;
    let pods: Api<Pod> = Api::namespaced(ns.client.clone(), &ns.name);
    // No ports: Spot groups have no public IP.
    pods.create(
        &PostParams::default(),
        &pod(
            "batch",
            &world.node,
            json!({"virtual-kubelet.io/priority": "Spot"}),
            json!({"containers": [main_container(false)]}),
        ),
    )
    .await
    .unwrap();
    let first = wait::until("batch ready", 60, || async {
        pods.get("batch").await.ok().filter(ready)
    })
    .await;
    assert!(condition(&first, "DisruptionTarget").is_none());
    let g = group(&ns.name, "batch");
    assert_eq!(world.created(&g).unwrap()["properties"]["priority"], "Spot");
    // Azure reclaims the capacity: ACI moves the group (10 s) and restarts it.
    world
        .emu
        .admin()
        .spot_evict(&g, std::time::Duration::from_secs(10))
        .unwrap();
    let evicted = wait::until("DisruptionTarget True", 30, || async {
        pods.get("batch").await.ok().filter(|p| {
            condition(p, "DisruptionTarget").is_some_and(|c| {
                c.status == "True" && c.reason.as_deref() == Some("TerminationByKubelet")
            })
        })
    })
    .await;
    assert!(!ready(&evicted), "not ready while ACI moves the group");
    let c = condition(&evicted, "DisruptionTarget").unwrap();
    assert!(
        c.message
            .as_deref()
            .unwrap_or_default()
            .contains("Spot eviction"),
        "{c:?}"
    );
    let back = wait::until("restarted, DisruptionTarget False", 60, || async {
        pods.get("batch").await.ok().filter(|p| {
            ready(p)
                && condition(p, "DisruptionTarget").is_some_and(|c| {
                    c.status == "False" && c.reason.as_deref() == Some("SpotGroupRestarted")
                })
        })
    })
    .await;
    assert_eq!(back.metadata.uid, first.metadata.uid, "the same pod");
    assert_eq!(restarts(&back), 1);
    let reasons = event_reasons(&ns.client, &ns.name, "batch").await;
    assert_eq!(
        reasons.iter().filter(|r| *r == "Preempted").count(),
        1,
        "one Preempted event: {reasons:?}"
    );
    assert_eq!(
        back.status.as_ref().unwrap().phase.as_deref(),
        Some("Running")
    );
    let creates = world
        .emu
        .admin()
        .requests(&g)
        .iter()
        .filter(|r| r.op == "create")
        .count();
    assert_eq!(creates, 1, "restarted by ACI, not re-created by vk");
    world.stop().await;
}

#[tokio::test]
async fn a_startup_probe_holds_back_the_liveness_probe() {
    let world = World::start().await;
    let ns = TestEnv::get().await.namespace("opts-startup").await;
    let pods: Api<Pod> = Api::namespaced(ns.client.clone(), &ns.name);
    let mut c = main_container(true);
    c["startupProbe"] =
        json!({"httpGet": {"path": "/", "port": 80}, "periodSeconds": 2, "failureThreshold": 15});
    c["livenessProbe"] = json!({"httpGet": {"path": "/", "port": 80}, "initialDelaySeconds": 1});
    pods.create(
        &PostParams::default(),
        &pod("slow", &world.node, json!({}), json!({"containers": [c]})),
    )
    .await
    .unwrap();
    wait::until("slow ready", 60, || async {
        pods.get("slow").await.ok().filter(ready)
    })
    .await;
    let body = world.created(&group(&ns.name, "slow")).unwrap();
    let liveness = &body["properties"]["containers"][0]["properties"]["livenessProbe"];
    assert_eq!(liveness["initialDelaySeconds"], 31, "{liveness}");
    let reasons = wait::until("the adjustment event", 30, || async {
        let r = event_reasons(&ns.client, &ns.name, "slow").await;
        r.iter()
            .any(|x| x == "StartupProbeApproximated")
            .then_some(r)
    })
    .await;
    assert!(!reasons.is_empty());
    world.stop().await;
}

#[tokio::test]
async fn in_a_virtual_network_pods_choose_their_subnet_and_cluster_dns() {
    let world = World::start_vnet().await;
    let ns = TestEnv::get().await.namespace("opts-vnet").await;
    let pods: Api<Pod> = Api::namespaced(ns.client.clone(), &ns.name);
    let spec = json!({"containers": [main_container(true)]});
    for (name, annotations) in [
        ("plain", json!({})),
        (
            "moved",
            json!({"microsoft.containerinstance.virtualnode.subnets.primary": OTHER_SUBNET}),
        ),
        (
            "own-dns",
            json!({"microsoft.containerinstance.virtualnode.injectdns": "false"}),
        ),
        ("spot", json!({"virtual-kubelet.io/priority": "Spot"})),
    ] {
        pods.create(
            &PostParams::default(),
            &pod(name, &world.node, annotations, spec.clone()),
        )
        .await
        .unwrap();
    }
    for name in ["plain", "moved", "own-dns"] {
        wait::until(&format!("{name} ready"), 60, || async {
            pods.get(name).await.ok().filter(ready)
        })
        .await;
    }
    let subnets = |body: &Value| -> Vec<String> {
        body["properties"]["subnetIds"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s["id"].as_str().map(str::to_owned))
            .collect()
    };
    let plain = world.created(&group(&ns.name, "plain")).unwrap();
    assert_eq!(subnets(&plain), vec![SUBNET]);
    assert_eq!(
        plain["properties"]["dnsConfig"]["nameServers"],
        json!(["10.0.0.10"])
    );
    let search = plain["properties"]["dnsConfig"]["searchDomains"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        search.starts_with(&format!("{}.svc.cluster.local", ns.name)),
        "{search}"
    );
    let moved = world.created(&group(&ns.name, "moved")).unwrap();
    assert_eq!(subnets(&moved), vec![OTHER_SUBNET]);
    assert_eq!(moved["properties"]["ipAddress"]["type"], "Private");
    let own = world.created(&group(&ns.name, "own-dns")).unwrap();
    assert!(
        own["properties"]
            .get("dnsConfig")
            .is_none_or(Value::is_null),
        "{}",
        own["properties"]["dnsConfig"]
    );
    // Spot never joins a virtual network: held before any PUT.
    let p = wait::until("spot held", 60, || async {
        pods.get("spot").await.ok().filter(|p| held(p).is_some())
    })
    .await;
    let (reason, _, message) = held(&p).unwrap();
    assert_eq!(reason, "SpotNotSupported");
    assert!(message.contains("virtual network"), "{message}");
    assert!(world.created(&group(&ns.name, "spot")).is_none());
    world.stop().await;
}
