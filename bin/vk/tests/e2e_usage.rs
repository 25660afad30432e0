//! End to end: pod usage from Azure Monitor (the emulator's `metrics:getBatch`)
//! through the vk binary's kubelet API, read as metrics-server and `kubectl
//! top` read it: through the API server's node proxy.
#![allow(clippy::unwrap_used)]

#[path = "e2e/harness.rs"]
mod harness;

use harness::{Vk, client, config, wait_ready};
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{DeleteParams, PostParams};
use kube::{Api, Client};
use vk_testkit::{TestEnv, wait};

fn pod(name: &str, node: &str, os: &str, command: &[&str]) -> Pod {
    let image = if os == "windows" {
        "mcr.microsoft.com/windows/servercore/iis:windowsservercore-ltsc2022"
    } else {
        "busybox"
    };
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": name},
        "spec": {
            "nodeName": node,
            "automountServiceAccountToken": false,
            "containers": [{"name": "main", "image": image, "command": command}]
        }
    }))
    .unwrap()
}

async fn proxy(client: &Client, node: &str, path: &str) -> Option<String> {
    let req = http::Request::get(format!("/api/v1/nodes/{node}/proxy{path}"))
        .body(Vec::new())
        .unwrap();
    client.request_text(req).await.ok()
}

fn pod_entry<'a>(
    summary: &'a serde_json::Value,
    ns: &str,
    name: &str,
) -> Option<&'a serde_json::Value> {
    summary["pods"]
        .as_array()?
        .iter()
        .find(|p| p["podRef"]["namespace"] == ns && p["podRef"]["name"] == name)
}

#[tokio::test]
async fn usage_from_azure_monitor_reaches_stats_summary_and_metrics_resource() {
    let emu = vk_aci_emulator::Emulator::builder()
        .fast()
        .start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let (client, kubeconfig) = client().await;
    let linux = harness::unique("vk-usage-linux");
    let windows = harness::unique("vk-usage-windows");
    let extra = format!(
        "[reconciler]\nsync_interval_secs = 1\nsteady_sync_interval_secs = 3\n\
         [aci.rate_limit]\nreads_per_sec = 1000.0\nread_burst = 1000\nwrites_per_sec = 1000.0\nwrite_burst = 1000\n\
         [aci.usage]\ninterval_secs = 1\nendpoint = \"{}\"\n",
        emu.base_url()
    );
    let (text, admin) = config(
        &kubeconfig,
        emu.base_url(),
        &[(linux.clone(), "linux"), (windows.clone(), "windows")],
        &extra,
    );
    let vk = Vk::start(&text, admin);
    let nodes: Api<Node> = Api::all(client.clone());
    wait_ready(&nodes, &linux, "True", 20).await;
    wait_ready(&nodes, &windows, "True", 20).await;
    let ns = TestEnv::get().await.namespace("usage").await;
    let pods: Api<Pod> = Api::namespaced(ns.client.clone(), &ns.name);
    let busy = [
        "consume",
        "--cpu-millicores",
        "250",
        "--memory-bytes",
        "104857600",
    ];
    for p in [
        pod("busy", &linux, "linux", &busy),
        pod("idle", &linux, "linux", &[]),
        pod("iis", &windows, "windows", &[]),
    ] {
        pods.create(&PostParams::default(), &p).await.unwrap();
    }
    for name in ["busy", "idle", "iis"] {
        wait::until(&format!("{name} running"), 120, || async {
            pods.get(name)
                .await
                .ok()
                .filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
        })
        .await;
    }

    // /stats/summary through the node proxy: the busy pod's figures are
    // what its container uses in the emulator; the idle one's the idle figures.
    let summary = wait::until("usage in /stats/summary", 60, || async {
        let text = proxy(&client, &linux, "/stats/summary").await?;
        let v: serde_json::Value = serde_json::from_str(&text).ok()?;
        let busy = pod_entry(&v, &ns.name, "busy")?;
        (busy["containers"][0]["cpu"]["usageNanoCores"] == 250_000_000u64).then_some(v)
    })
    .await;
    let busy = pod_entry(&summary, &ns.name, "busy").unwrap();
    let c = &busy["containers"][0];
    assert_eq!(c["name"], "main");
    assert_eq!(c["memory"]["workingSetBytes"], 104_857_600u64);
    assert!(c["cpu"]["usageCoreNanoSeconds"].as_u64().unwrap() > 0);
    assert_eq!(busy["cpu"]["usageNanoCores"], 250_000_000u64);
    let idle = pod_entry(&summary, &ns.name, "idle").unwrap();
    assert_eq!(idle["containers"][0]["cpu"]["usageNanoCores"], 0);
    assert_eq!(
        idle["memory"]["workingSetBytes"],
        vk_aci_emulator::IDLE_MEMORY_BYTES
    );
    // The node's figures are its pods' sums (this test's pods and any other
    // test's on the same node: none, the node is this test's own).
    assert_eq!(summary["node"]["nodeName"], linux.as_str());
    assert_eq!(summary["node"]["cpu"]["usageNanoCores"], 250_000_000u64);
    assert_eq!(
        summary["node"]["memory"]["workingSetBytes"],
        104_857_600u64 + vk_aci_emulator::IDLE_MEMORY_BYTES
    );

    // /metrics/resource, as metrics-server scrapes it.
    let text = proxy(&client, &linux, "/metrics/resource").await.unwrap();
    let line = format!(
        "container_memory_working_set_bytes{{container=\"main\",namespace=\"{}\",pod=\"busy\"}} 104857600 ",
        ns.name
    );
    assert!(text.contains(&line), "{text}");
    assert!(text.contains("scrape_error 0"), "{text}");
    let cpu_line = text
        .lines()
        .find(|l| l.starts_with("container_cpu_usage_seconds_total") && l.contains("pod=\"busy\""))
        .unwrap();
    let counter: f64 = cpu_line.split_whitespace().nth(1).unwrap().parse().unwrap();
    assert!(counter > 0.0, "{cpu_line}");

    // Windows: listed, without usage (Azure Monitor has none), and the node's
    // summary still answers.
    let text = proxy(&client, &windows, "/stats/summary").await.unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let iis = pod_entry(&v, &ns.name, "iis").expect("the Windows pod is listed");
    assert_eq!(iis["containers"][0]["name"], "main");
    assert!(
        iis["containers"][0]["cpu"].get("usageNanoCores").is_none(),
        "{iis}"
    );

    // Batch calls answered; none refused (audience, batch rules).
    assert!(emu.admin().count_status("metrics_batch", 200) >= 1);
    for status in [400, 401, 403, 429] {
        assert_eq!(emu.admin().count_status("metrics_batch", status), 0);
    }
    drop(vk);
    for n in [&linux, &windows] {
        let _ = nodes.delete(n, &DeleteParams::default()).await;
    }
    emu.shutdown().await.unwrap();
}
