//! End to end: the vk binary's virtual nodes on the local control plane,
//! against the ACI emulator.
#![allow(clippy::unwrap_used)]

#[path = "e2e/harness.rs"]
mod harness;

use harness::{Vk, client, config, emulator, has_taint, http_get, unique, wait_ready};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Node;
use kube::Api;
use kube::api::{DeleteParams, Patch, PatchParams};
use vk_testkit::wait;

const UNHEALTHY: &str = "virtual-kubelet.io/provider-unhealthy";

#[tokio::test]
async fn two_nodes_ready_renewed_and_recreated() {
    let (client, kubeconfig) = client().await;
    let emu = emulator("127.0.0.1:0").await;
    let linux = unique("vk-e2e-linux");
    let windows = unique("vk-e2e-windows");
    let (text, admin) = config(
        &kubeconfig,
        emu.base_url(),
        &[(linux.clone(), "linux"), (windows.clone(), "windows")],
        "",
    );
    let vk = Vk::start(&text, admin);
    let nodes: Api<Node> = Api::all(client.clone());
    let leases: Api<Lease> = Api::namespaced(client.clone(), "kube-node-lease");

    // Both Ready within 10 s of start.
    let l = wait_ready(&nodes, &linux, "True", 10).await;
    let w = wait_ready(&nodes, &windows, "True", 10).await;
    assert_eq!(
        l.metadata.labels.as_ref().unwrap()["kubernetes.io/role"],
        "agent"
    );
    assert_eq!(
        w.metadata.labels.as_ref().unwrap()["beta.kubernetes.io/os"],
        "windows"
    );
    assert!(has_taint(&l, "virtual-kubelet.io/provider"));
    let version = w.status.unwrap().node_info.unwrap().kubelet_version;
    assert!(version.contains("-vk-"), "{version}");

    // The lease is renewed about every 10 s (default interval).
    let first = wait::until("node lease", 10, || async {
        leases
            .get_opt(&linux)
            .await
            .ok()
            .flatten()?
            .spec?
            .renew_time
            .map(|t| t.0)
    })
    .await;
    wait::until("lease renewTime to advance", 15, || async {
        let t = leases.get(&linux).await.ok()?.spec?.renew_time?.0;
        (t > first).then_some(())
    })
    .await;

    // Nothing changed: no status writes beyond registration.
    let writes = vk.metric("vk_node_status_writes", &linux).await;
    let regs = vk.metric("vk_node_registrations", &linux).await;
    assert_eq!(
        writes, regs,
        "status writes {writes} with {regs} registrations"
    );
    // ARM traffic is visible in vk's metrics (the health probe at least).
    assert!(vk.metric("vk_aci_attempts_total", "").await >= 1.0);
    assert!(
        vk.metric(
            "vk_aci_requests_total",
            "operation=\"usages\",status=\"200\""
        )
        .await
            >= 1.0
    );
    assert!(vk.metric("vk_pod_reconcile_duration_seconds_sum", "").await >= 0.0);

    // A deleted node is back within 15 s; a deleted lease within a renew interval (10 s) or so.
    let uid = l.metadata.uid.unwrap();
    nodes
        .delete(&linux, &DeleteParams::default())
        .await
        .unwrap();
    wait::until("node re-created", 15, || async {
        nodes
            .get_opt(&linux)
            .await
            .ok()
            .flatten()
            .filter(|n| n.metadata.uid.as_deref() != Some(uid.as_str()))
    })
    .await;
    leases
        .delete(&windows, &DeleteParams::default())
        .await
        .unwrap();
    wait::until("lease re-created", 12, || async {
        leases.get_opt(&windows).await.ok().flatten()
    })
    .await;

    drop(vk);
    for n in [&linux, &windows] {
        let _ = nodes.delete(n, &DeleteParams::default()).await;
    }
    emu.shutdown().await.unwrap();
}

#[tokio::test]
async fn readyz_waits_until_every_node_is_registered() {
    // With one Kubernetes request every 2 s, registering two nodes takes
    // seconds: /readyz must say why it is not ready, and ok only once both
    // Node objects exist.
    let (client, kubeconfig) = client().await;
    let emu = emulator("127.0.0.1:0").await;
    let a = unique("vk-e2e-ready-a");
    let b = unique("vk-e2e-ready-b");
    let (text, admin) = config(
        &kubeconfig,
        emu.base_url(),
        &[(a.clone(), "linux"), (b.clone(), "linux")],
        "[kube]\nqps = 0.5\nburst = 1\n",
    );
    let vk = Vk::start(&text, admin);
    let nodes: Api<Node> = Api::all(client.clone());
    let waited_for_a_node = std::sync::atomic::AtomicBool::new(false);
    wait::until("vk's /readyz ok", 120, || async {
        let answer = http_get(admin, "/readyz").await;
        if answer.contains("not registered with the API server yet") {
            waited_for_a_node.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        answer.ends_with("\r\n\r\nok\n").then_some(())
    })
    .await;
    for n in [&a, &b] {
        assert!(
            nodes.get_opt(n).await.unwrap().is_some(),
            "node {n} not registered when /readyz said ok"
        );
    }
    assert!(
        waited_for_a_node.load(std::sync::atomic::Ordering::Relaxed),
        "/readyz never named a node it waited for"
    );
    drop(vk);
    for n in [&a, &b] {
        let _ = nodes.delete(n, &DeleteParams::default()).await;
    }
}

/// The node's Ready condition.
fn ready_condition(node: &Node) -> k8s_openapi::api::core::v1::NodeCondition {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.type_ == "Ready"))
        .cloned()
        .expect("a Ready condition")
}

#[tokio::test]
async fn provider_outage_turns_ready_false_and_taints_until_it_recovers() {
    let (client, kubeconfig) = client().await;
    let emu = emulator("127.0.0.1:0").await;
    let addr = emu.local_addr();
    let name = unique("vk-e2e-outage");
    let (text, admin) = config(&kubeconfig, emu.base_url(), &[(name.clone(), "linux")], "");
    let vk = Vk::start(&text, admin);
    let nodes: Api<Node> = Api::all(client.clone());
    wait_ready(&nodes, &name, "True", 15).await;

    emu.shutdown().await.unwrap();
    let down = wait_ready(&nodes, &name, "False", 30).await;
    let ready = ready_condition(&down);
    assert_eq!(ready.reason.as_deref(), Some("ProviderUnreachable"));
    wait::until("unhealthy taint", 30, || async {
        nodes
            .get_opt(&name)
            .await
            .ok()
            .flatten()
            .filter(|n| has_taint(n, UNHEALTHY))
    })
    .await;

    let emu = emulator(&addr.to_string()).await;
    wait_ready(&nodes, &name, "True", 30).await;
    wait::until("unhealthy taint removed", 30, || async {
        nodes
            .get_opt(&name)
            .await
            .ok()
            .flatten()
            .filter(|n| !has_taint(n, UNHEALTHY))
    })
    .await;

    drop(vk);
    let _ = nodes.delete(&name, &DeleteParams::default()).await;
    emu.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_missing_resource_group_is_a_named_configuration_error_that_releases_nothing() {
    use k8s_openapi::api::core::v1::Pod;
    let (client, kubeconfig) = client().await;
    // The emulator knows only another resource group: vk's ("e2e") is missing.
    let emu = vk_aci_emulator::Emulator::builder()
        .fast()
        .resource_groups(["somewhere-else"])
        .start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let name = unique("vk-e2e-norg");
    let (text, admin) = config(&kubeconfig, emu.base_url(), &[(name.clone(), "linux")], "");
    let vk = Vk::start(&text, admin);
    let nodes: Api<Node> = Api::all(client.clone());
    let down = wait_ready(&nodes, &name, "False", 30).await;
    let ready = ready_condition(&down);
    assert_eq!(ready.reason.as_deref(), Some("ResourceGroupNotFound"));
    assert!(
        ready
            .message
            .as_deref()
            .unwrap_or_default()
            .contains("aci.resource_group"),
        "{ready:?}"
    );
    // A pod bound to the node waits with the reason; nothing is taken as gone.
    let ns = vk_testkit::TestEnv::get().await.namespace("norg").await;
    let pods: Api<Pod> = Api::namespaced(ns.client.clone(), &ns.name);
    let pod: Pod = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "waits"},
        "spec": {"nodeName": name, "automountServiceAccountToken": false,
            "tolerations": [{"operator": "Exists"}],
            "containers": [{"name": "main", "image": "busybox"}]}
    }))
    .unwrap();
    pods.create(&kube::api::PostParams::default(), &pod)
        .await
        .unwrap();
    let waiting = wait::until(
        "the pod Pending with the missing group named",
        30,
        || async {
            let p = pods.get("waits").await.ok()?;
            let s = p.status?;
            (s.phase.as_deref() == Some("Pending")
                && s.message
                    .as_deref()
                    .is_some_and(|m| m.contains("ResourceGroupNotFound")))
            .then_some(s)
        },
    )
    .await;
    assert_eq!(waiting.reason.as_deref(), Some("ProviderUnavailable"));
    assert_eq!(emu.admin().count_status("delete", 202), 0);
    drop(vk);
    let _ = nodes.delete(&name, &DeleteParams::default()).await;
    emu.shutdown().await.unwrap();
}

#[tokio::test]
async fn kill_9_goes_not_ready_and_restart_recovers_keeping_foreign_taints() {
    let (client, kubeconfig) = client().await;
    let emu = emulator("127.0.0.1:0").await;
    let name = unique("vk-e2e-kill");
    let (text, admin) = config(&kubeconfig, emu.base_url(), &[(name.clone(), "linux")], "");
    let mut vk = Vk::start(&text, admin);
    let nodes: Api<Node> = Api::all(client.clone());
    wait_ready(&nodes, &name, "True", 15).await;

    // A user's taint and label, added while vk runs.
    let patch = serde_json::json!({"metadata": {"labels": {"team": "blue"}}});
    nodes
        .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    let node = nodes.get(&name).await.unwrap();
    let mut taints = node.spec.unwrap().taints.unwrap_or_default();
    taints.push(
        serde_json::from_value(
            serde_json::json!({"key": "example.com/user", "effect": "PreferNoSchedule"}),
        )
        .unwrap(),
    );
    let patch = serde_json::json!({"spec": {"taints": taints}});
    nodes
        .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();

    // kill -9: the node-lifecycle controller marks it NotReady (Unknown) and unreachable after its grace.
    vk.kill9();
    wait_ready(&nodes, &name, "Unknown", 90).await;
    wait::until("unreachable taint", 30, || async {
        nodes
            .get_opt(&name)
            .await
            .ok()
            .flatten()
            .filter(|n| has_taint(n, "node.kubernetes.io/unreachable"))
    })
    .await;

    vk.spawn();
    let back = wait_ready(&nodes, &name, "True", 30).await;
    assert_eq!(back.metadata.labels.as_ref().unwrap()["team"], "blue");
    assert_eq!(
        back.metadata.labels.as_ref().unwrap()["type"],
        "virtual-kubelet"
    );
    assert!(has_taint(&back, "example.com/user"));
    assert!(has_taint(&back, "virtual-kubelet.io/provider"));
    assert!(back.status.unwrap().capacity.unwrap().contains_key("cpu"));
    let all = nodes.list(&Default::default()).await.unwrap();
    assert_eq!(
        all.items
            .iter()
            .filter(|n| n.metadata.name.as_deref() == Some(name.as_str()))
            .count(),
        1
    );
    // Once Ready, the lifecycle controller lifts its unreachable taint.
    wait::until("unreachable taint lifted", 30, || async {
        nodes
            .get_opt(&name)
            .await
            .ok()
            .flatten()
            .filter(|n| !has_taint(n, "node.kubernetes.io/unreachable"))
    })
    .await;

    drop(vk);
    let _ = nodes.delete(&name, &DeleteParams::default()).await;
    emu.shutdown().await.unwrap();
}

#[tokio::test]
async fn ha_standby_takes_over_before_the_node_goes_not_ready() {
    let (client, kubeconfig) = client().await;
    let ns = vk_testkit::TestEnv::get().await.namespace("ha").await;
    let emu = emulator("127.0.0.1:0").await;
    let name = unique("vk-e2e-ha");
    let ha = |identity: &str| {
        format!(
            "[ha]\nenabled = true\nnamespace = \"{}\"\nlease_name = \"vk-leader\"\nidentity = \"{identity}\"\nlease_duration_secs = 6\n",
            ns.name
        )
    };
    let (text_a, admin_a) = config(
        &kubeconfig,
        emu.base_url(),
        &[(name.clone(), "linux")],
        &ha("replica-a"),
    );
    let mut a = Vk::start(&text_a, admin_a);
    let nodes: Api<Node> = Api::all(client.clone());
    let leases: Api<Lease> = Api::namespaced(client.clone(), "kube-node-lease");
    wait_ready(&nodes, &name, "True", 20).await;
    let text_b = text_a.replace("replica-a", "replica-b").replace(
        &format!("127.0.0.1:{admin_a}"),
        &format!("127.0.0.1:{}", harness::free_port()),
    );
    let b = Vk::start(&text_b, 0);
    wait::until("replica b standing by", 20, || async {
        std::fs::read_to_string(&b.log)
            .ok()
            .filter(|l| l.contains("standing by"))
            .map(|_| ())
    })
    .await;
    assert!(
        !std::fs::read_to_string(&b.log)
            .unwrap()
            .contains("acquired the leader lease")
    );

    a.kill9();
    let killed = jiff::Timestamp::now();
    wait::until("replica b takes over", 30, || async {
        std::fs::read_to_string(&b.log)
            .ok()
            .filter(|l| l.contains("acquired the leader lease"))
            .map(|_| ())
    })
    .await;
    wait::until("node lease renewed by the new leader", 30, || async {
        let t = leases
            .get_opt(&name)
            .await
            .ok()
            .flatten()?
            .spec?
            .renew_time?
            .0;
        (t > killed).then_some(())
    })
    .await;
    // Past the node-lifecycle controller's 40 s grace, the node never went NotReady.
    let until = tokio::time::Instant::now() + std::time::Duration::from_secs(45);
    while tokio::time::Instant::now() < until {
        let node = nodes.get(&name).await.unwrap();
        assert_eq!(
            harness::ready_status(&node).as_deref(),
            Some("True"),
            "node went NotReady during the handover"
        );
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
    drop(b);
    let _ = nodes.delete(&name, &DeleteParams::default()).await;
    emu.shutdown().await.unwrap();
}
