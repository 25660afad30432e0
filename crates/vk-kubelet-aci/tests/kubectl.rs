//! `kubectl logs`, `exec` and `cp` through a real API server to a kubelet API served by
//! `AciBackend`, over the ACI emulator (one executable without arguments, a terminal, no exit
//! status): WebSocket (kubectl's default) and SPDY.
#![allow(missing_docs, clippy::unwrap_used)]

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::Api;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use tokio::process::Command;
use vk_kubelet_aci::AciBackend;
use vk_kubelet_api::{AuthConfig, KubeletServer, TlsSource};
use vk_testkit::{TestEnv, wait};

struct Kubectl {
    kubeconfig: std::path::PathBuf,
    namespace: String,
}

struct Output {
    code: i32,
    stdout: Vec<u8>,
    stderr: String,
}

impl Output {
    fn out(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
}

impl Kubectl {
    async fn run(&self, args: &[&str], spdy: bool, input: Option<&[u8]>) -> Output {
        let mut cmd = Command::new("kubectl");
        cmd.arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .arg("-n")
            .arg(&self.namespace)
            .args(args)
            .stdin(if input.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        if spdy {
            cmd.env("KUBECTL_REMOTE_COMMAND_WEBSOCKETS", "false");
        }
        let mut child = cmd.spawn().expect("kubectl runs");
        if let (Some(input), Some(mut stdin)) = (input, child.stdin.take()) {
            use tokio::io::AsyncWriteExt as _;
            stdin.write_all(input).await.expect("kubectl's stdin");
            drop(stdin);
        }
        let out = tokio::time::timeout(Duration::from_secs(120), child.wait_with_output())
            .await
            .expect("kubectl ends")
            .expect("kubectl runs");
        Output {
            code: out.status.code().unwrap_or(-1),
            stdout: out.stdout,
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_exec_cp_and_logs_through_the_aci_backend_and_emulator() {
    let env = TestEnv::get().await;
    let ns = env.namespace("kubelet-aci").await;
    let client = env.client().await;
    let emulator = vk_aci_emulator::Emulator::builder()
        .fast()
        .static_token("t")
        .start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let base = emulator.base_url().to_owned();
    let aci = vk_aci::ContainerInstances::builder(
        "00000000-0000-0000-0000-000000000001",
        "rg",
        Arc::new(vk_aci::credentials::StaticTokenCredential::new("t")),
    )
    .cloud(vk_aci::AzureCloud::custom(&base, &base))
    .build()
    .unwrap();
    let group = vk_provider_aci::naming::group_name(&ns.name, "app");
    let spec: vk_aci::models::ContainerGroup = serde_json::from_value(serde_json::json!({
        "location": "westeurope",
        "properties": {
            "osType": "Linux",
            "restartPolicy": "Never",
            "containers": [{"name": "app", "properties": {
                "image": "busybox",
                "command": ["sh", "-c", "echo hello; echo world; sleep 100000"],
                "resources": {"requests": {"cpu": 1.0, "memoryInGB": 1.0}},
            }}],
        },
    }))
    .unwrap();
    aci.create_or_update(&group, &spec).await.unwrap();

    // The kubelet API on 127.0.0.1, a node pointing at it, a running pod bound to it.
    let pods_seen: Arc<Mutex<Vec<Arc<Pod>>>> = Arc::default();
    let source = pods_seen.clone();
    let backend = AciBackend::new(
        aci,
        move || source.lock().unwrap().clone(),
        |pod: &Pod| {
            vk_provider_aci::naming::group_name(
                pod.metadata.namespace.as_deref().unwrap_or_default(),
                pod.metadata.name.as_deref().unwrap_or_default(),
            )
        },
    );
    let ca = std::fs::read_to_string(env.kubeconfig().parent().unwrap().join("ca.crt")).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let node_name = format!("vk-kaci-{}-{port}", std::process::id());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = KubeletServer::builder(backend, node_name.clone())
        .tls(TlsSource::SelfSigned {
            sans: vec!["127.0.0.1".into()],
        })
        .auth(AuthConfig {
            client_ca: Some(ca),
            anonymous: false,
            kube: Some(client.clone()),
            cache_ttl: Duration::from_secs(30),
        })
        .log_poll_interval(Duration::from_millis(200))
        .build()
        .unwrap();
    let serving = tokio::spawn(server.serve(listener, async {
        let _ = stopped.await;
    }));
    let nodes: Api<Node> = Api::all(client.clone());
    let node: Node = serde_json::from_value(serde_json::json!({
        "metadata": {"name": node_name, "labels": {"type": "virtual-kubelet"}},
    }))
    .unwrap();
    nodes.create(&PostParams::default(), &node).await.unwrap();
    let status = serde_json::json!({"status": {
        "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": port}},
    }});
    nodes
        .patch_status(&node_name, &PatchParams::default(), &Patch::Merge(&status))
        .await
        .unwrap();
    let pods: Api<Pod> = Api::namespaced(ns.client.clone(), &ns.name);
    let pod: Pod = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "app"},
        "spec": {"nodeName": node_name, "automountServiceAccountToken": false,
                 "containers": [{"name": "app", "image": "busybox"}]},
    }))
    .unwrap();
    pods.create(&PostParams::default(), &pod).await.unwrap();
    let now = Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
    let status = serde_json::json!({"status": {
        "phase": "Running", "hostIP": "127.0.0.1", "podIP": "10.1.2.3", "startTime": now,
        "containerStatuses": [{"name": "app", "image": "busybox", "imageID": "", "ready": true,
            "restartCount": 0, "started": true, "state": {"running": {"startedAt": now}}}],
    }});
    let pod = pods
        .patch_status("app", &PatchParams::default(), &Patch::Merge(&status))
        .await
        .unwrap();
    pods_seen.lock().unwrap().push(Arc::new(pod));
    let kubectl = Kubectl {
        kubeconfig: env.kubeconfig().to_owned(),
        namespace: ns.name.clone(),
    };

    // logs
    let out = wait::until("the container's log", 30, || async {
        let out = kubectl.run(&["logs", "app"], false, None).await;
        (out.out() == "hello\nworld\n").then_some(out)
    })
    .await;
    assert_eq!(out.code, 0);
    let out = kubectl.run(&["logs", "app", "--tail=1"], false, None).await;
    assert_eq!(out.out(), "world\n", "{}", out.stderr);
    let out = kubectl
        .run(&["logs", "app", "--previous"], false, None)
        .await;
    assert_ne!(out.code, 0);
    assert!(out.stderr.contains("keeps no logs"), "{}", out.stderr);

    for spdy in [false, true] {
        // A command with arguments runs through the shell: its output, stderr merged on
        // stdout, and its exit code.
        let out = kubectl
            .run(&["exec", "app", "--", "echo", "hi"], spdy, None)
            .await;
        assert_eq!((out.code, out.out()), (0, "hi\n".into()), "{}", out.stderr);
        let script = [
            "exec",
            "app",
            "--",
            "sh",
            "-c",
            "echo out; echo err >&2; exit 3",
        ];
        let out = kubectl.run(&script, spdy, None).await;
        assert_eq!(out.code, 3, "spdy={spdy}: {}", out.stderr);
        assert_eq!(out.out(), "out\nerr\n", "spdy={spdy}");
        // A one-word command runs directly.
        let out = kubectl.run(&["exec", "app", "--", "ls"], spdy, None).await;
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert!(out.out().contains("tmp"), "{}", out.out());
        let out = kubectl
            .run(&["exec", "app", "--", "nosuch"], spdy, None)
            .await;
        assert_ne!(out.code, 0);
        assert!(
            out.stderr.contains("executable file not found"),
            "{}",
            out.stderr
        );
        // stdin, every byte.
        let data: Vec<u8> = (0..=255u8).cycle().take(3000).collect();
        let out = kubectl
            .run(&["exec", "-i", "app", "--", "cat"], spdy, Some(&data))
            .await;
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert_eq!(out.stdout, data, "spdy={spdy}");
    }

    // kubectl cp, both ways, binary content.
    let dir = std::env::temp_dir().join(format!("vk-kaci-cp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let content: Vec<u8> = (0..=255u8).rev().cycle().take(20_000).collect();
    let local = dir.join("data.bin");
    std::fs::write(&local, &content).unwrap();
    let local = local.to_string_lossy().into_owned();
    let out = kubectl
        .run(&["cp", &local, "app:/tmp/data.bin"], false, None)
        .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let back = dir.join("back.bin").to_string_lossy().into_owned();
    let out = kubectl
        .run(&["cp", "app:/tmp/data.bin", &back], false, None)
        .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(std::fs::read(&back).unwrap(), content);
    // What kubectl cp runs for a missing path: tar's message on stderr and its exit code
    // (kubectl cp itself may exit before printing them, as with a kubelet).
    let out = kubectl
        .run(
            &["exec", "app", "--", "tar", "cf", "-", "/tmp/nope"],
            false,
            None,
        )
        .await;
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("/tmp/nope: Cannot stat"),
        "{}",
        out.stderr
    );
    let _ = std::fs::remove_dir_all(&dir);

    let _ = stop.send(());
    serving.await.unwrap().unwrap();
    nodes
        .delete(&node_name, &DeleteParams::default())
        .await
        .unwrap();
    emulator.shutdown().await.unwrap();
}
