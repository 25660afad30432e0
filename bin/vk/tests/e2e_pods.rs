//! End to end: pods through the real scheduler and controller-manager, run by
//! the vk binary as container groups in the ACI emulator.
#![allow(clippy::unwrap_used)]

#[path = "e2e/harness.rs"]
mod harness;

use std::time::Duration;

use harness::{Vk, client, config, emulator, unique, wait_ready};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Endpoints, Node, Pod, Secret, Service};
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use vk_aci_emulator::{FaultRule, RunningEmulator};
use vk_testkit::{TestEnv, wait};

const FAST: &str = "[reconciler]\nsync_interval_secs = 1\nsteady_sync_interval_secs = 5\norphan_gc_grace_secs = 5\n\
                    [aci.rate_limit]\nreads_per_sec = 1000.0\nread_burst = 1000\nwrites_per_sec = 1000.0\nwrite_burst = 1000\n";

struct World {
    client: Client,
    emu: RunningEmulator,
    vk: Vk,
    linux: String,
    windows: String,
}

impl World {
    async fn start(extra: &str) -> Self {
        let (client, kubeconfig) = client().await;
        let emu = emulator("127.0.0.1:0").await;
        let linux = unique("vk-pods-linux");
        let windows = unique("vk-pods-windows");
        let (text, admin) = config(
            &kubeconfig,
            emu.base_url(),
            &[(linux.clone(), "linux"), (windows.clone(), "windows")],
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

/// Running and Ready. (A pod without ports has no IP: ACI gives a group an
/// address only when it exposes ports or joins a virtual network.)
fn running_ready(p: &Pod) -> bool {
    let Some(s) = p.status.as_ref() else {
        return false;
    };
    s.phase.as_deref() == Some("Running")
        && s.conditions
            .iter()
            .flatten()
            .any(|c| c.type_ == "Ready" && c.status == "True")
}

async fn pods_with(api: &Api<Pod>, selector: &str) -> Vec<Pod> {
    api.list(&ListParams::default().labels(selector))
        .await
        .map(|l| l.items)
        .unwrap_or_default()
}

/// The seed's IIS Deployment, as apps/v1, nodeSelector and tolerations
/// unchanged. Other tests run their own virtual nodes on the same cluster, so
/// a node affinity (beside the seed's selector) keeps the pods on this test's
/// Windows node.
fn iis(namespace: &str, cpu: &str, node: &str) -> Deployment {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "iis", "namespace": namespace},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "iis"}},
            "template": {
                "metadata": {"labels": {"app": "iis"}},
                "spec": {
                    "automountServiceAccountToken": false,
                    "containers": [{
                        "name": "iis", "image": "microsoft/iis",
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
    let prefix = format!("{}-iis-", ns.name);
    let group = world.groups(&prefix);
    assert_eq!(group.len(), 1, "{group:?}");

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

#[tokio::test]
async fn an_impossible_pod_fails_fast_with_a_reason_and_bounded_calls() {
    let world = World::start("").await;
    let ns = TestEnv::get().await.namespace("big").await;
    let pods: Api<Pod> = Api::namespaced(ns.client.clone(), &ns.name);
    let pod: Pod = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "huge"},
        "spec": {
            "nodeName": world.linux,
            "automountServiceAccountToken": false,
            "containers": [{"name": "main", "image": "busybox", "resources": {"requests": {"cpu": "64"}}}]
        }
    }))
    .unwrap();
    pods.create(&PostParams::default(), &pod).await.unwrap();
    let failed = wait::until("huge pod Failed", 10, || async {
        pods.get("huge")
            .await
            .ok()
            .filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Failed"))
    })
    .await;
    let status = failed.status.unwrap();
    let message = status.message.unwrap_or_default();
    assert!(
        message.contains("64") || message.to_lowercase().contains("cpu"),
        "{message}"
    );
    tokio::time::sleep(Duration::from_secs(3)).await; // several sync rounds
    let creates = world
        .emu
        .admin()
        .requests(&format!("{}-huge", ns.name))
        .len();
    assert!(creates <= 1, "{creates} requests for an impossible pod");
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
