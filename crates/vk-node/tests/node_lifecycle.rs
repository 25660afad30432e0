//! The node lifecycle against a real API server.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Node;
use kube::api::{DeleteParams, PostParams};
use kube::{Api, Client};
use tokio_util::sync::CancellationToken;
use vk_node::{Health, HealthProbe, NodeConfig, OsType, VirtualNode};
use vk_testkit::{TestEnv, wait};

/// A probe the test controls.
#[derive(Clone)]
struct Switch(Arc<Mutex<Health>>);

impl HealthProbe for Switch {
    fn check(&self) -> BoxFuture<'_, Health> {
        let h = self.0.lock().unwrap().clone();
        Box::pin(async move { h })
    }
}

fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{prefix}-{}-{nanos:x}", std::process::id())
}

fn fast_config(name: &str) -> NodeConfig {
    let mut cfg = NodeConfig::new(name, OsType::Linux);
    cfg.lease.renew_interval = Duration::from_secs(1);
    cfg.lease.duration = Duration::from_secs(10);
    cfg.status.health_interval = Duration::from_millis(300);
    cfg.status.interval = Duration::from_secs(60);
    cfg
}

fn ready(node: &Node) -> Option<(String, String)> {
    node.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Ready")
        .map(|c| (c.status.clone(), c.reason.clone().unwrap_or_default()))
}

async fn cleanup(client: &Client, name: &str) {
    let _ = Api::<Node>::all(client.clone())
        .delete(name, &DeleteParams::default())
        .await;
    let _ = Api::<Lease>::namespaced(client.clone(), "kube-node-lease")
        .delete(name, &DeleteParams::default())
        .await;
}

#[tokio::test]
async fn registers_renews_and_recreates() {
    let env = TestEnv::get().await;
    let client = env.client().await;
    let name = unique("vk-node-life");
    let probe = Switch(Arc::new(Mutex::new(Health::Healthy)));
    let vn = VirtualNode::new(client.clone(), fast_config(&name), Arc::new(probe.clone()));
    let metrics = vn.metrics();
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(vn.run(shutdown.clone()));

    let nodes: Api<Node> = Api::all(client.clone());
    let leases: Api<Lease> = Api::namespaced(client.clone(), "kube-node-lease");
    let node = wait::until("node Ready", 30, || async {
        nodes
            .get_opt(&name)
            .await
            .ok()
            .flatten()
            .filter(|n| ready(n).is_some_and(|r| r.0 == "True"))
    })
    .await;
    let labels = node.metadata.labels.clone().unwrap();
    assert_eq!(labels["type"], "virtual-kubelet");
    assert_eq!(labels["kubernetes.io/role"], "agent");
    let info = node.status.clone().unwrap().node_info.unwrap();
    assert!(
        info.kubelet_version.starts_with("v1."),
        "{}",
        info.kubelet_version
    );
    assert!(
        info.kubelet_version.contains("-vk-aci-"),
        "{}",
        info.kubelet_version
    );
    let uid = node.metadata.uid.clone().unwrap();

    // The lease exists, is owned by the node, and its renewTime advances.
    let lease = wait::until("node lease", 30, || async {
        leases.get_opt(&name).await.ok().flatten()
    })
    .await;
    assert_eq!(
        lease.metadata.owner_references.as_ref().unwrap()[0].uid,
        uid
    );
    let first = lease.spec.unwrap().renew_time.unwrap();
    wait::until("renewTime to advance", 30, || async {
        let l = leases.get_opt(&name).await.ok().flatten()?;
        (l.spec?.renew_time?.0 > first.0).then_some(())
    })
    .await;

    // A deleted lease comes back within a renew interval or two.
    leases
        .delete(&name, &DeleteParams::default())
        .await
        .unwrap();
    wait::until("lease re-created", 30, || async {
        leases.get_opt(&name).await.ok().flatten()
    })
    .await;

    // A deleted node is registered again (new UID), and its lease follows the new owner.
    nodes.delete(&name, &DeleteParams::default()).await.unwrap();
    let again = wait::until("node re-created", 15, || async {
        nodes
            .get_opt(&name)
            .await
            .ok()
            .flatten()
            .filter(|n| n.metadata.uid.as_deref() != Some(uid.as_str()))
    })
    .await;
    let new_uid = again.metadata.uid.unwrap();
    wait::until("lease owned by the new node", 30, || async {
        let l = leases.get_opt(&name).await.ok().flatten()?;
        (l.metadata.owner_references?.first()?.uid == new_uid).then_some(())
    })
    .await;

    // Nothing changed since: no status write beyond the registrations' own.
    let m = metrics.snapshot();
    assert_eq!(m.status_writes, m.registrations, "{m:?}");
    assert!(m.lease_renewals >= 1, "{m:?}");

    shutdown.cancel();
    task.await.unwrap().unwrap();
    // Shutdown leaves the node in place.
    assert!(nodes.get_opt(&name).await.unwrap().is_some());
    cleanup(&client, &name).await;
}

#[tokio::test]
async fn ready_follows_health_and_adoption_keeps_foreign_labels() {
    let env = TestEnv::get().await;
    let client = env.client().await;
    let name = unique("vk-node-adopt");
    let nodes: Api<Node> = Api::all(client.clone());

    // Somebody else's node object already exists, with their own label and taint.
    let existing: Node = serde_json::from_value(serde_json::json!({
        "metadata": { "name": name, "labels": { "team": "blue" } },
        "spec": { "taints": [{ "key": "example.com/other", "effect": "NoSchedule" }] }
    }))
    .unwrap();
    nodes
        .create(&PostParams::default(), &existing)
        .await
        .unwrap();

    let probe = Switch(Arc::new(Mutex::new(Health::Healthy)));
    let mut cfg = fast_config(&name);
    cfg.labels = BTreeMap::from([("vk.example/pool".to_owned(), "burst".to_owned())]);
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(
        VirtualNode::new(client.clone(), cfg, Arc::new(probe.clone())).run(shutdown.clone()),
    );

    let node = wait::until("adopted node Ready", 30, || async {
        nodes
            .get_opt(&name)
            .await
            .ok()
            .flatten()
            .filter(|n| ready(n).is_some_and(|r| r.0 == "True"))
    })
    .await;
    let labels = node.metadata.labels.unwrap();
    assert_eq!(labels["team"], "blue");
    assert_eq!(labels["vk.example/pool"], "burst");
    assert_eq!(labels["type"], "virtual-kubelet");
    let taints = node.spec.unwrap().taints.unwrap();
    assert!(taints.iter().any(|t| t.key == "example.com/other"));

    *probe.0.lock().unwrap() = Health::Unhealthy {
        reason: "ProviderUnreachable".into(),
        message: "ACI did not answer".into(),
    };
    wait::until("Ready=False", 15, || async {
        let n = nodes.get_opt(&name).await.ok().flatten()?;
        (ready(&n)? == ("False".to_owned(), "ProviderUnreachable".to_owned())).then_some(())
    })
    .await;
    *probe.0.lock().unwrap() = Health::Healthy;
    wait::until("Ready=True again", 15, || async {
        let n = nodes.get_opt(&name).await.ok().flatten()?;
        (ready(&n)?.0 == "True").then_some(())
    })
    .await;

    shutdown.cancel();
    task.await.unwrap().unwrap();
    cleanup(&client, &name).await;
}

#[tokio::test]
async fn invalid_config_fails_fast_naming_the_field() {
    let env = TestEnv::get().await;
    let client = env.client().await;
    let mut cfg = NodeConfig::new("ok-name", OsType::Linux);
    cfg.internal_ip = "not-an-ip".into();
    let err = VirtualNode::new(client, cfg, Arc::new(vk_node::AlwaysHealthy))
        .run(CancellationToken::new())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("internal_ip"), "{err}");
}
