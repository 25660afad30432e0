//! End to end: burst, the seed's headline use case ("the moment you run out of capacity in
//! your cluster, the scheduler can start placing additional pods in ACI"). A regular agent node
//! of 4 CPUs (the test kit's simulated kubelet, in-process), one Linux virtual node (the vk
//! binary against the in-process emulator), the real API server, scheduler and ReplicaSet
//! controller. Pods request 1 CPU each.
//!
//! - The toleration alone is not burst: the scheduler's default scoring puts the first replica
//!   on the nearly empty 100-CPU virtual node although the agent node is empty. (A preferred
//!   node affinity to the agent pool on its own, weight 100, is not enough either: tried while
//!   writing this test, the third replica went to the virtual node with 2 of the agent node's
//!   4 CPUs free — the default spreading outweighs it; hence the topology spread.)
//! - The burst pattern of docs/burst.md (preferred node affinity to the agent pool, a topology
//!   spread over the agent pool's label, the toleration) fills the agent node first and
//!   overflows to ACI when scaled past it.
//! - Scale-down follows the ReplicaSet's victim ordering of Kubernetes 1.20: among Running and
//!   Ready pods, those on the node holding more of the ReplicaSet's pods go first.
//!
//! The cluster is shared with other tests: the world's nodes carry a label of their own that
//! the pods require, and the agent node a taint of its own, so neither side strays.
#![allow(clippy::unwrap_used)]

#[path = "e2e/harness.rs"]
mod harness;

use std::collections::BTreeMap;

use harness::{Vk, client, config, wait_ready};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use serde_json::json;
use vk_aci_emulator::RunningEmulator;
use vk_testkit::agent::{AgentKubelet, AgentNode};
use vk_testkit::{TestEnv, wait};

const WORLD_LABEL: &str = "vk-e2e/burst-world";
const FAST: &str = "[reconciler]\nsync_interval_secs = 1\nsteady_sync_interval_secs = 3\n\
                    [aci.rate_limit]\nreads_per_sec = 1000.0\nread_burst = 1000\nwrites_per_sec = 1000.0\nwrite_burst = 1000\n";

struct World {
    client: Client,
    emu: RunningEmulator,
    vk: Vk,
    agent: Option<AgentKubelet>,
    /// The world's label value.
    id: String,
    virtual_node: String,
    agent_node: String,
}

impl World {
    async fn start() -> Self {
        let emu = vk_aci_emulator::Emulator::builder()
            .fast()
            .start("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let (client, kubeconfig) = client().await;
        let id = harness::unique("burst");
        let virtual_node = format!("virtual-kubelet-{id}-linux");
        let (text, admin) = config(
            &kubeconfig,
            emu.base_url(),
            &[(virtual_node.clone(), "linux")],
            FAST,
        );
        // The world's label on the virtual node (the first node table of the config).
        let text = text.replacen(
            "os = \"linux\"\n",
            &format!("os = \"linux\"\nlabels = {{ \"{WORLD_LABEL}\" = \"{id}\" }}\n"),
            1,
        );
        let vk = Vk::start(&text, admin);
        let nodes: Api<Node> = Api::all(client.clone());
        wait_ready(&nodes, &virtual_node, "True", 30).await;

        let digits: u32 = std::process::id() % 100_000_000;
        let agent_node = format!("aks-nodepool1-{digits:08}-{}", &id[id.len() - 3..]);
        let mut spec = AgentNode::nodepool1(&agent_node, 4);
        spec.extra_labels.insert(WORLD_LABEL.to_owned(), id.clone());
        spec.taints
            .push((WORLD_LABEL.to_owned(), id.clone(), "NoSchedule".to_owned()));
        let agent = AgentKubelet::start(client.clone(), spec).await.unwrap();
        wait_ready(&nodes, &agent_node, "True", 30).await;
        // The simulated kubelet's heartbeat: a Lease owned by its Node, held by it.
        let leases: Api<k8s_openapi::api::coordination::v1::Lease> =
            Api::namespaced(client.clone(), "kube-node-lease");
        let lease = leases.get(&agent_node).await.unwrap();
        let spec = lease.spec.unwrap_or_default();
        assert_eq!(spec.holder_identity.as_deref(), Some(agent_node.as_str()));
        assert!(spec.renew_time.is_some());
        let owner = &lease.metadata.owner_references.unwrap_or_default()[0];
        assert_eq!(
            (owner.kind.as_str(), owner.name.as_str()),
            ("Node", agent_node.as_str())
        );
        Self {
            client,
            emu,
            vk,
            agent: Some(agent),
            id,
            virtual_node,
            agent_node,
        }
    }

    /// The pod template's scheduling part: the world's required label and taint, vk's
    /// toleration, and with `burst` the pattern of docs/burst.md.
    fn scheduling(&self, burst: bool) -> serde_json::Value {
        let mut affinity = json!({"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchExpressions": [
                {"key": WORLD_LABEL, "operator": "In", "values": [self.id]}
            ]}]
        }}});
        let mut spec = json!({
            "tolerations": [
                {"key": "virtual-kubelet.io/provider", "operator": "Exists"},
                {"key": WORLD_LABEL, "operator": "Exists"}
            ]
        });
        if burst {
            affinity["nodeAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"] = json!([{
                "weight": 100,
                "preference": {"matchExpressions": [
                    {"key": "kubernetes.azure.com/agentpool", "operator": "Exists"}
                ]}
            }]);
            spec["topologySpreadConstraints"] = json!([{
                "maxSkew": 1,
                "topologyKey": "kubernetes.azure.com/agentpool",
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": {"matchLabels": {"app": "web"}}
            }]);
        }
        spec["affinity"] = affinity;
        spec
    }

    fn deployment(&self, replicas: i32, burst: bool) -> Deployment {
        let mut pod_spec = self.scheduling(burst);
        pod_spec["automountServiceAccountToken"] = json!(false);
        pod_spec["containers"] = json!([{
            "name": "web",
            "image": "nginx",
            "ports": [{"containerPort": 80}],
            "resources": {
                "requests": {"cpu": "1", "memory": "1Gi"},
                "limits": {"cpu": "1", "memory": "1Gi"}
            }
        }]);
        serde_json::from_value(json!({
            "metadata": {"name": "web"},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}}, "spec": pod_spec}
            }
        }))
        .unwrap()
    }

    async fn stop(mut self) {
        if let Some(agent) = self.agent.take() {
            agent.stop().await;
        }
        drop(self.vk);
        let nodes: Api<Node> = Api::all(self.client.clone());
        let _ = nodes
            .delete(&self.virtual_node, &DeleteParams::default())
            .await;
        self.emu.shutdown().await.unwrap();
    }
}

fn running_ready(p: &Pod) -> bool {
    let status = p.status.as_ref();
    status.and_then(|s| s.phase.as_deref()) == Some("Running")
        && status
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
        && p.metadata.deletion_timestamp.is_none()
}

/// Running and Ready pods per node, once exactly `want` pods exist and all run (other pods,
/// terminating ones included, make it wait).
async fn placement(pods: &Api<Pod>, want: usize, secs: u64) -> BTreeMap<String, usize> {
    wait::until(
        &format!("{want} pods of `web` Running and Ready, and no other"),
        secs,
        || async {
            let list = pods
                .list(&ListParams::default().labels("app=web"))
                .await
                .ok()?;
            (list.items.len() == want && list.items.iter().all(running_ready)).then(|| {
                let mut by_node = BTreeMap::new();
                for p in &list.items {
                    let node = p.spec.as_ref().and_then(|s| s.node_name.clone());
                    *by_node.entry(node.unwrap_or_default()).or_insert(0) += 1;
                }
                by_node
            })
        },
    )
    .await
}

#[tokio::test]
async fn the_toleration_alone_prefers_the_empty_virtual_node() {
    let world = World::start().await;
    let ns = TestEnv::get().await.namespace("burst-tol").await;
    let deployments: Api<Deployment> = Api::namespaced(ns.client.clone(), &ns.name);
    let pods: Api<Pod> = Api::namespaced(ns.client.clone(), &ns.name);
    deployments
        .create(&PostParams::default(), &world.deployment(1, false))
        .await
        .unwrap();
    let by_node = placement(&pods, 1, 60).await;
    // The agent node was empty and had room; default scoring (least allocated, balanced
    // allocation) still picks the 100-CPU virtual node.
    assert_eq!(
        by_node,
        BTreeMap::from([(world.virtual_node.clone(), 1)]),
        "where the first replica landed"
    );
    drop(ns);
    world.stop().await;
}

#[tokio::test]
async fn the_burst_pattern_fills_the_agent_node_then_overflows_to_aci() {
    let world = World::start().await;
    let ns = TestEnv::get().await.namespace("burst").await;
    let deployments: Api<Deployment> = Api::namespaced(ns.client.clone(), &ns.name);
    let pods: Api<Pod> = Api::namespaced(ns.client.clone(), &ns.name);
    let scale = |n: i32| {
        let deployments = deployments.clone();
        async move {
            deployments
                .patch(
                    "web",
                    &PatchParams::default(),
                    &Patch::Merge(json!({"spec": {"replicas": n}})),
                )
                .await
                .unwrap();
        }
    };
    let agent = world.agent_node.clone();
    let aci = world.virtual_node.clone();

    // One replica at a time up to the agent node's 4 CPUs: every one on the agent node, even
    // with the virtual node's 100 CPUs free (one at a time: each placement scores the nodes
    // with the replicas before it in place).
    deployments
        .create(&PostParams::default(), &world.deployment(1, true))
        .await
        .unwrap();
    assert_eq!(
        placement(&pods, 1, 60).await,
        BTreeMap::from([(agent.clone(), 1)])
    );
    for n in 2..=4usize {
        scale(n as i32).await;
        assert_eq!(
            placement(&pods, n, 60).await,
            BTreeMap::from([(agent.clone(), n)]),
            "replica {n} lands on the agent node"
        );
    }
    // Past the agent node's capacity: the overflow goes to ACI, as container groups.
    scale(7).await;
    assert_eq!(
        placement(&pods, 7, 90).await,
        BTreeMap::from([(agent.clone(), 4), (aci.clone(), 3)]),
        "4 on the agent node, 3 overflowing to ACI"
    );
    let groups = world.emu.admin().groups();
    let ours = pods
        .list(&ListParams::default().labels("app=web"))
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|p| p.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(aci.as_str()))
        .count();
    assert_eq!(ours, 3);
    assert!(
        groups.len() >= 3,
        "a container group per overflowing pod: {groups:?}"
    );
    // A pod bound to the full agent node around the scheduler is refused by its kubelet, as
    // a real kubelet's admission does.
    let bound: Pod = serde_json::from_value(json!({
        "metadata": {"name": "bound"},
        "spec": {
            "nodeName": agent,
            "automountServiceAccountToken": false,
            "tolerations": [{"operator": "Exists"}],
            "containers": [{"name": "main", "image": "nginx",
                            "resources": {"requests": {"cpu": "1"}}}]
        }
    }))
    .unwrap();
    pods.create(&PostParams::default(), &bound).await.unwrap();
    let refused = wait::until("the bound pod Failed", 30, || async {
        pods.get_opt("bound")
            .await
            .ok()
            .flatten()
            .and_then(|p| p.status)
            .filter(|s| s.phase.as_deref() == Some("Failed"))
    })
    .await;
    assert_eq!(refused.reason.as_deref(), Some("OutOfcpu"), "{refused:?}");
    pods.delete("bound", &DeleteParams::default())
        .await
        .unwrap();
    wait::deleted(&pods, "bound", 30).await;

    // The agent node's pods have the simulated kubelet's IPs, the ACI ones the emulator's.
    for p in pods
        .list(&ListParams::default().labels("app=web"))
        .await
        .unwrap()
        .items
    {
        let ip = p
            .status
            .as_ref()
            .and_then(|s| s.pod_ip.clone())
            .unwrap_or_default();
        let on_agent = p.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(agent.as_str());
        assert_eq!(ip.starts_with("10.244."), on_agent, "pod IP {ip}");
    }

    // Scale-down: Kubernetes 1.20's ReplicaSet deletes, among Running and Ready pods, those on
    // the node with more of its pods first — here the agent node's (4 > 3). Burst does not
    // shrink back from ACI first; docs/burst.md says so.
    scale(4).await;
    let after = placement(&pods, 4, 90).await;
    assert_eq!(
        after,
        BTreeMap::from([(agent.clone(), 1), (aci.clone(), 3)]),
        "scale 7 → 4 removed the pods of the node holding more replicas"
    );

    // Scaling to 0 removes the overflow's container groups too.
    scale(0).await;
    wait::until("every pod of `web` gone", 90, || async {
        pods.list(&ListParams::default().labels("app=web"))
            .await
            .ok()
            .filter(|l| l.items.is_empty())
    })
    .await;
    wait::until("the overflow's container groups deleted", 60, || async {
        let left = world
            .emu
            .admin()
            .groups()
            .into_iter()
            .filter(|g| g.name.contains(&ns.name))
            .count();
        (left == 0).then_some(())
    })
    .await;
    drop(ns);
    world.stop().await;
}
