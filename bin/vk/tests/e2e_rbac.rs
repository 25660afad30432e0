//! The RBAC proof: vk runs the whole lifecycle with only the identity that
//! deploy/base grants it, and every permission granted is one vk uses.
//!
//! The API server's audit log (vk-control-plane audits service accounts in
//! `vk-system`) records what vk did; a forbidden request or a granted verb
//! that vk never used fails the test.
#![allow(clippy::unwrap_used)]

#[path = "e2e/harness.rs"]
mod harness;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use harness::{Vk, config, emulator, unique, wait_ready};
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Node, Pod, Secret, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, PolicyRule, Role};
use kube::Api;
use kube::api::{DeleteParams, PostParams};
use vk_testkit::{TestEnv, wait};

const SA_USER: &str = "system:serviceaccount:vk-system:vk";

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

async fn run(cmd: std::process::Command) -> std::process::Output {
    let mut cmd = cmd;
    tokio::task::spawn_blocking(move || cmd.output().expect("kubectl on PATH"))
        .await
        .unwrap()
}

async fn token_for(client: &kube::Client, namespace: &str, sa: &str) -> String {
    let sas: Api<ServiceAccount> = Api::namespaced(client.clone(), namespace);
    let tr = TokenRequest {
        spec: TokenRequestSpec {
            audiences: vec![],
            expiration_seconds: Some(3600),
            ..TokenRequestSpec::default()
        },
        ..TokenRequest::default()
    };
    sas.create_token_request(sa, &PostParams::default(), &tr)
        .await
        .unwrap()
        .status
        .unwrap()
        .token
}

/// A kubeconfig for the test cluster that authenticates with `token` only.
fn token_kubeconfig(admin: &Path, token: &str, out: &Path) {
    let kc = kube::config::Kubeconfig::read_from(admin).unwrap();
    let cluster = kc.clusters[0].cluster.clone().unwrap();
    let ca = cluster.certificate_authority_data.unwrap();
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: {}\n    certificate-authority-data: {ca}\n\
         users:\n- name: vk\n  user:\n    token: {token}\ncontexts:\n- name: c\n  context:\n    cluster: c\n    user: vk\ncurrent-context: c\n",
        cluster.server.unwrap()
    );
    std::fs::write(out, text).unwrap();
}

/// (apiGroup, resource[/subresource], verb) triples a rule grants.
fn granted(rules: &[PolicyRule]) -> BTreeSet<(String, String, String)> {
    let mut out = BTreeSet::new();
    for r in rules {
        for g in r.api_groups.iter().flatten() {
            for res in r.resources.iter().flatten() {
                for v in &r.verbs {
                    out.insert((g.clone(), res.clone(), v.clone()));
                }
            }
        }
    }
    out
}

/// What the audit log says `SA_USER` did since `since`, and the forbidden requests.
fn audited(
    log: &Path,
    since: jiff::Timestamp,
) -> (BTreeSet<(String, String, String)>, Vec<String>) {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let mut used = BTreeSet::new();
    let mut forbidden = Vec::new();
    for line in text.lines() {
        let Ok(ev) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if ev["user"]["username"] != SA_USER {
            continue;
        }
        let at: jiff::Timestamp = ev["requestReceivedTimestamp"]
            .as_str()
            .unwrap_or("")
            .parse()
            .unwrap_or(jiff::Timestamp::UNIX_EPOCH);
        if at < since {
            continue;
        }
        let o = &ev["objectRef"];
        let mut res = o["resource"].as_str().unwrap_or("").to_owned();
        if let Some(sub) = o["subresource"].as_str() {
            res = format!("{res}/{sub}");
        }
        let triple = (
            o["apiGroup"].as_str().unwrap_or("").to_owned(),
            res,
            ev["verb"].as_str().unwrap_or("").to_owned(),
        );
        if ev["responseStatus"]["code"] == 403 {
            forbidden.push(format!("{triple:?}: {}", ev["responseStatus"]["message"]));
        }
        used.insert(triple);
    }
    (used, forbidden)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vk_runs_the_full_lifecycle_with_only_the_rbac_it_is_granted() {
    let env = TestEnv::get().await;
    let admin = env.client().await;
    let admin_kc = env.kubeconfig().to_owned();

    // The RBAC of deploy/base (namespace, service account, roles), applied for real.
    let base = workspace().join("deploy/base");
    let mut apply = std::process::Command::new("kubectl");
    apply
        .arg(format!("--kubeconfig={}", admin_kc.display()))
        .args(["apply", "-f"])
        .arg(base.join("namespace.yaml"))
        .arg("-f")
        .arg(base.join("serviceaccount.yaml"))
        .arg("-f")
        .arg(base.join("rbac.yaml"));
    let out = run(apply).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let dir = std::env::temp_dir().join(unique("vk-rbac"));
    std::fs::create_dir_all(&dir).unwrap();
    let vk_kc = dir.join("vk.kubeconfig");
    token_kubeconfig(
        &admin_kc,
        &token_for(&admin, "vk-system", "vk").await,
        &vk_kc,
    );

    let since = jiff::Timestamp::now();
    let emu = emulator("127.0.0.1:0").await;
    let node = unique("vk-rbac");
    let ha = format!(
        "[ha]\nenabled = true\nnamespace = \"vk-system\"\nlease_name = \"{node}\"\nidentity = \"rbac-test\"\nlease_duration_secs = 6\n\
         [reconciler]\nsync_interval_secs = 1\n"
    );
    let (mut text, admin_port) = config(&vk_kc, emu.base_url(), &[(node.clone(), "linux")], &ha);
    // Drain on shutdown (eviction); HA off at the end of the test for that, see below.
    text = format!("drain_on_shutdown = true\n{text}");
    // config() points the client CA at the admin kubeconfig's directory; keep it there.
    let ca = admin_kc.parent().unwrap().join("ca.crt");
    text = text.replace(
        &format!("client_ca = \"{}\"", dir.join("ca.crt").display()),
        &format!("client_ca = \"{}\"", ca.display()),
    );
    let vk = Vk::start(&text, admin_port);

    // Node and lease.
    let nodes: Api<Node> = Api::all(admin.clone());
    wait_ready(&nodes, &node, "True", 30).await;
    let leases: Api<Lease> = Api::namespaced(admin.clone(), "kube-node-lease");
    let first = wait::until("node lease", 30, || async {
        leases.get_opt(&node).await.ok().flatten()?.spec?.renew_time
    })
    .await;
    // One renewal (an update) at least, whatever else the test gets done first.
    wait::until("node lease renewed", 30, || async {
        let t = leases
            .get_opt(&node)
            .await
            .ok()
            .flatten()?
            .spec?
            .renew_time?;
        (t.0 > first.0).then_some(())
    })
    .await;

    // A pod using a Secret, a ConfigMap and a projected service-account token.
    let ns = env.namespace("rbac").await;
    let secrets: Api<Secret> = Api::namespaced(admin.clone(), &ns.name);
    secrets
        .create(
            &PostParams::default(),
            &serde_json::from_value(serde_json::json!({
        "metadata": {"name": "s"}, "stringData": {"k": "v"}}))
            .unwrap(),
        )
        .await
        .unwrap();
    let cms: Api<ConfigMap> = Api::namespaced(admin.clone(), &ns.name);
    cms.create(
        &PostParams::default(),
        &serde_json::from_value(serde_json::json!({
        "metadata": {"name": "c"}, "data": {"k": "v"}}))
        .unwrap(),
    )
    .await
    .unwrap();
    let pods: Api<Pod> = Api::namespaced(admin.clone(), &ns.name);
    let pod: Pod = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "app"},
        "spec": {
            "nodeName": node,
            "automountServiceAccountToken": false,
            "containers": [{"name": "main", "image": "busybox", "command": ["sh", "-c", "echo ready; sleep 1000"],
                "env": [
                    {"name": "S", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}},
                    {"name": "C", "valueFrom": {"configMapKeyRef": {"name": "c", "key": "k"}}}
                ],
                "volumeMounts": [{"name": "token", "mountPath": "/var/run/token"}]}],
            "volumes": [{"name": "token", "projected": {"sources": [{"serviceAccountToken": {"path": "token", "expirationSeconds": 3600}}]}}]
        }
    })).unwrap();
    pods.create(&PostParams::default(), &pod).await.unwrap();
    wait::until("pod Running", 60, || async {
        pods.get("app")
            .await
            .ok()
            .filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
    })
    .await;

    // A crash-looping container: its repeated events are published as an
    // event series (events.k8s.io patch).
    let crash: Pod = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "crash"},
        "spec": {
            "nodeName": node,
            "automountServiceAccountToken": false,
            "restartPolicy": "Always",
            "containers": [{"name": "main", "image": "busybox", "command": ["sh", "-c", "exit 1"]}]
        }
    }))
    .unwrap();
    pods.create(&PostParams::default(), &crash).await.unwrap();
    let audit_log = admin_kc.parent().unwrap().join("audit.log");
    let series = (
        "events.k8s.io".to_owned(),
        "events".to_owned(),
        "patch".to_owned(),
    );
    wait::until("a repeated event patched into its series", 90, || async {
        audited(&audit_log, since).0.contains(&series).then_some(())
    })
    .await;
    pods.delete("crash", &DeleteParams::default())
        .await
        .unwrap();

    // kubectl logs and exec through the API server (vk asks SubjectAccessReview).
    let mut logs = std::process::Command::new("kubectl");
    logs.arg(format!("--kubeconfig={}", admin_kc.display()))
        .args(["-n", &ns.name, "logs", "app"]);
    let out = run(logs).await;
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "ready\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut exec = std::process::Command::new("kubectl");
    exec.arg(format!("--kubeconfig={}", admin_kc.display()))
        .args(["-n", &ns.name, "exec", "app", "--", "echo", "hi"]);
    let out = run(exec).await;
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "hi\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A caller with a token but no rights: TokenReview then SubjectAccessReview → 403.
    let sa: ServiceAccount =
        serde_json::from_value(serde_json::json!({"metadata": {"name": "nobody"}})).unwrap();
    Api::<ServiceAccount>::namespaced(admin.clone(), &ns.name)
        .create(&PostParams::default(), &sa)
        .await
        .unwrap();
    let nobody = token_for(&admin, &ns.name, "nobody").await;
    let port = text
        .lines()
        .find(|l| l.starts_with("kubelet_port"))
        .unwrap()
        .split('=')
        .nth(1)
        .unwrap()
        .trim()
        .to_owned();
    let mut curl = std::process::Command::new("curl");
    curl.args([
        "-sk",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "-H",
        &format!("Authorization: Bearer {nobody}"),
    ])
    .arg(format!(
        "https://127.0.0.1:{port}/containerLogs/{}/app/main",
        ns.name
    ));
    let out = run(curl).await;
    assert_eq!(String::from_utf8_lossy(&out.stdout), "403");

    // Deletion: the group goes, then the pod. A deleted node comes back.
    pods.delete("app", &DeleteParams::default()).await.unwrap();
    wait::deleted(&pods, "app", 60).await;
    nodes.delete(&node, &DeleteParams::default()).await.unwrap();
    wait_ready(&nodes, &node, "True", 30).await;

    drop(vk);

    // Without HA, --drain-on-shutdown cordons the node and evicts its pods on SIGTERM.
    let mut vk = Vk::start(
        &text.replace("enabled = true", "enabled = false"),
        admin_port,
    );
    wait_ready(&nodes, &node, "True", 30).await;
    let drained: Pod = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "drained"},
        "spec": {"nodeName": node, "automountServiceAccountToken": false,
                 "containers": [{"name": "main", "image": "busybox"}]}
    }))
    .unwrap();
    pods.create(&PostParams::default(), &drained).await.unwrap();
    wait::until("drained pod Running", 60, || async {
        pods.get("drained")
            .await
            .ok()
            .filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
    })
    .await;
    assert_eq!(vk.terminate(40).await, Some(0), "clean exit after draining");
    assert!(
        pods.get_opt("drained").await.unwrap().is_none(),
        "evicted and deleted before exit"
    );
    let cordoned = nodes.get(&node).await.unwrap().spec.unwrap().unschedulable;
    assert_eq!(cordoned, Some(true));
    drop(vk);
    let _ = nodes.delete(&node, &DeleteParams::default()).await;
    emu.shutdown().await.unwrap();

    // What vk did, by the API server's own account.
    let (used, forbidden) = audited(&audit_log, since);
    assert!(forbidden.is_empty(), "vk was refused: {forbidden:#?}");
    let cr: ClusterRole = Api::all(admin.clone()).get("vk").await.unwrap();
    let lease_role: Role = Api::namespaced(admin.clone(), "kube-node-lease")
        .get("vk-node-lease")
        .await
        .unwrap();
    let leader_role: Role = Api::namespaced(admin.clone(), "vk-system")
        .get("vk-leader-election")
        .await
        .unwrap();
    let mut all = granted(cr.rules.as_deref().unwrap_or_default());
    all.extend(granted(lease_role.rules.as_deref().unwrap_or_default()));
    all.extend(granted(leader_role.rules.as_deref().unwrap_or_default()));
    let unused: Vec<_> = all.difference(&used).collect();
    assert!(
        unused.is_empty(),
        "granted but never used by vk: {unused:#?}\nused: {used:#?}"
    );
}
