//! The test kit against a real control plane: a Node and a Lease round trip.

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Node};
use kube::Api;
use kube::api::{DeleteParams, PostParams};
use vk_testkit::{TestEnv, wait};

#[tokio::test]
async fn node_and_lease_round_trip() {
    let env = TestEnv::get().await;
    let client = env.client().await;
    let name = format!("testkit-node-{}", std::process::id());

    let nodes: Api<Node> = Api::all(client.clone());
    let node: Node = serde_json::from_value(serde_json::json!({
        "metadata": { "name": name, "labels": { "type": "virtual-kubelet" } },
        "spec": { "taints": [{ "key": "virtual-kubelet.io/provider", "value": "azure", "effect": "NoSchedule" }] }
    }))
    .unwrap();
    let created = nodes.create(&PostParams::default(), &node).await.unwrap();
    let uid = created.metadata.uid.clone().unwrap();

    let leases: Api<Lease> = Api::namespaced(client.clone(), "kube-node-lease");
    let now = jiff::Timestamp::now();
    let lease: Lease = serde_json::from_value(serde_json::json!({
        "metadata": {
            "name": name,
            "ownerReferences": [{ "apiVersion": "v1", "kind": "Node", "name": name, "uid": uid }]
        },
        "spec": { "holderIdentity": name, "leaseDurationSeconds": 40, "renewTime": now.strftime("%Y-%m-%dT%H:%M:%S.%6fZ").to_string() }
    }))
    .unwrap();
    leases.create(&PostParams::default(), &lease).await.unwrap();

    let got = nodes.get(&name).await.unwrap();
    assert_eq!(got.metadata.labels.unwrap()["type"], "virtual-kubelet");
    let taints = got.spec.unwrap().taints.unwrap();
    assert_eq!(taints[0].key, "virtual-kubelet.io/provider");
    let got = leases.get(&name).await.unwrap();
    let spec = got.spec.unwrap();
    assert_eq!(spec.holder_identity.as_deref(), Some(name.as_str()));
    assert_eq!(spec.lease_duration_seconds, Some(40));
    assert_eq!(got.metadata.owner_references.unwrap()[0].uid, uid);

    leases
        .delete(&name, &DeleteParams::default())
        .await
        .unwrap();
    nodes.delete(&name, &DeleteParams::default()).await.unwrap();
    wait::deleted(&nodes, &name, 30).await;
    wait::deleted(&leases, &name, 30).await;
}

#[tokio::test]
async fn namespaces_are_fresh_and_usable() {
    let env = TestEnv::get().await;
    let a = env.namespace("kit").await;
    let b = env.namespace("kit").await;
    assert_ne!(a.name, b.name);
    // kube-root-ca.crt is published into every namespace by the controller-manager.
    let cms: Api<ConfigMap> = Api::namespaced(a.client.clone(), &a.name);
    let cm = wait::until("kube-root-ca.crt", 60, || async {
        cms.get_opt("kube-root-ca.crt").await.ok().flatten()
    })
    .await;
    assert!(cm.data.unwrap()["ca.crt"].contains("BEGIN CERTIFICATE"));
}
