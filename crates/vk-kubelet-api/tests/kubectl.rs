//! The kubelet API behind a real API server, driven by the real `kubectl`.
//!
//! A Node whose InternalIP is 127.0.0.1 and whose kubelet port is this server's, a Pod bound
//! to it, then `kubectl logs` / `exec` through the API server (which authenticates to us with
//! its kubelet client certificate, `O=system:masters`, signed by the cluster CA).

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use jiff::Timestamp;
use k8s_openapi::api::authentication::v1::TokenRequest;
use k8s_openapi::api::core::v1::{Node, Pod, ServiceAccount};
use kube::Api;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::Command;
use vk_kubelet_api::{
    AuthConfig, ContainerRef, Error, ExecIo, ExecRequest, ExitStatus, KubeletBackend,
    KubeletServer, LogRequest, TlsSource,
};
use vk_testkit::{TestEnv, wait};

/// Logs are a shared list of timestamped lines; exec runs `echo` and `sh -c` scripts of
/// `echo [>&2]` and `exit N`.
#[derive(Clone, Default)]
struct Backend {
    lines: Arc<Mutex<Vec<(Timestamp, String)>>>,
    pods: Arc<Mutex<Vec<Pod>>>,
}

impl Backend {
    fn push(&self, line: &str) {
        self.lines
            .lock()
            .expect("lines lock")
            .push((Timestamp::now(), line.to_owned()));
    }
}

async fn run_script(script: &str, io: &ExecIo) -> ExitStatus {
    for part in script.split(';') {
        let words: Vec<&str> = part.split_whitespace().collect();
        match words.as_slice() {
            ["echo", rest @ ..] => {
                let to_err = rest.last() == Some(&">&2");
                let rest = if to_err {
                    &rest[..rest.len() - 1]
                } else {
                    rest
                };
                let line = Bytes::from(format!("{}\n", rest.join(" ")));
                let _ = if to_err {
                    io.stderr.send(line).await
                } else {
                    io.stdout.send(line).await
                };
            }
            ["exit", n] => return ExitStatus::Code(n.parse().unwrap_or(1)),
            _ => {}
        }
    }
    ExitStatus::Code(0)
}

impl KubeletBackend for Backend {
    async fn logs(&self, _: &ContainerRef, request: &LogRequest) -> Result<String, Error> {
        let lines = self.lines.lock().expect("lines lock").clone();
        let start = request
            .tail_lines
            .map_or(0, |n| lines.len().saturating_sub(n as usize));
        Ok(lines[start..]
            .iter()
            .map(|(ts, l)| {
                if request.timestamps {
                    format!("{ts} {l}\n")
                } else {
                    format!("{l}\n")
                }
            })
            .collect())
    }

    async fn exec(
        &self,
        _: &ContainerRef,
        request: ExecRequest,
        io: ExecIo,
    ) -> Result<ExitStatus, Error> {
        let argv: Vec<&str> = request.command.iter().map(String::as_str).collect();
        let mut io = io;
        Ok(match argv.as_slice() {
            ["sh", "-c", script] => run_script(script, &io).await,
            ["cat"] => {
                while let Some(data) = io.stdin.recv().await {
                    let _ = io.stdout.send(data).await;
                }
                ExitStatus::Code(0)
            }
            _ => run_script(&request.command.join(" "), &io).await,
        })
    }

    async fn pods(&self) -> Result<Vec<Pod>, Error> {
        Ok(self.pods.lock().expect("pods lock").clone())
    }
}

struct Kubectl {
    kubeconfig: std::path::PathBuf,
    namespace: String,
}

struct Output {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Kubectl {
    fn command(&self, args: &[&str], spdy: bool) -> Command {
        let mut cmd = Command::new("kubectl");
        cmd.arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .arg("-n")
            .arg(&self.namespace)
            .args(args)
            .stdin(Stdio::null())
            .kill_on_drop(true);
        if spdy {
            cmd.env("KUBECTL_REMOTE_COMMAND_WEBSOCKETS", "false");
        }
        cmd
    }

    async fn run(&self, args: &[&str], spdy: bool) -> Output {
        self.run_with_input(args, spdy, None).await
    }

    async fn run_with_input(&self, args: &[&str], spdy: bool, input: Option<&[u8]>) -> Output {
        let mut cmd = self.command(args, spdy);
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        if input.is_some() {
            cmd.stdin(Stdio::piped());
        }
        let mut child = cmd.spawn().expect("kubectl runs");
        if let (Some(input), Some(mut stdin)) = (input, child.stdin.take()) {
            use tokio::io::AsyncWriteExt as _;
            stdin
                .write_all(input)
                .await
                .expect("writing kubectl's stdin");
            drop(stdin);
        }
        let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
            .await
            .expect("kubectl timed out")
            .expect("kubectl runs");
        Output {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

async fn curl_status(port: u16, token: Option<&str>) -> String {
    let mut cmd = Command::new("curl");
    cmd.args(["-sk", "-o", "/dev/null", "-w", "%{http_code}"]);
    if let Some(token) = token {
        cmd.arg("-H").arg(format!("Authorization: Bearer {token}"));
    }
    cmd.arg(format!("https://127.0.0.1:{port}/pods"));
    let out = cmd.output().await.expect("curl runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}
/// A node served by `backend` on 127.0.0.1 and a running pod `app` bound to it.
struct Fixture {
    port: u16,
    node_name: String,
    kubectl: Kubectl,
    stop: tokio::sync::oneshot::Sender<()>,
    serving: tokio::task::JoinHandle<Result<(), Error>>,
    nodes: Api<Node>,
    pod: Pod,
}

async fn fixture(
    env: &TestEnv,
    ns: &vk_testkit::TestNamespace,
    backend: impl KubeletBackend,
) -> Fixture {
    let client = env.client().await;
    let ca = std::fs::read_to_string(env.kubeconfig().parent().expect("dir").join("ca.crt"))
        .expect("cluster CA next to the kubeconfig");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let node_name = format!("vk-kapi-{}-{port}", std::process::id());
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
        .expect("server");
    let serving = tokio::spawn(server.serve(listener, async {
        let _ = stopped.await;
    }));

    // The node, reachable at 127.0.0.1:<port>.
    let nodes: Api<Node> = Api::all(client.clone());
    let node: Node = serde_json::from_value(serde_json::json!({
        "metadata": { "name": node_name, "labels": { "type": "virtual-kubelet" } },
    }))
    .expect("node");
    nodes
        .create(&PostParams::default(), &node)
        .await
        .expect("create node");
    let status = serde_json::json!({
        "status": {
            "addresses": [{ "type": "InternalIP", "address": "127.0.0.1" }],
            "daemonEndpoints": { "kubeletEndpoint": { "Port": port } },
        }
    });
    nodes
        .patch_status(&node_name, &PatchParams::default(), &Patch::Merge(&status))
        .await
        .expect("node status");

    // A running pod bound to it.
    let pods: Api<Pod> = Api::namespaced(ns.client.clone(), &ns.name);
    let pod: Pod = serde_json::from_value(serde_json::json!({
        "metadata": { "name": "app" },
        "spec": {
            "nodeName": node_name,
            "automountServiceAccountToken": false,
            "containers": [{ "name": "app", "image": "example/app" }],
        }
    }))
    .expect("pod");
    pods.create(&PostParams::default(), &pod)
        .await
        .expect("create pod");
    let now = Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
    let status = serde_json::json!({
        "status": {
            "phase": "Running",
            "hostIP": "127.0.0.1",
            "podIP": "10.1.2.3",
            "startTime": now,
            "containerStatuses": [{
                "name": "app", "image": "example/app", "imageID": "", "ready": true,
                "restartCount": 0, "started": true,
                "state": { "running": { "startedAt": now } },
            }],
        }
    });
    let pod = pods
        .patch_status("app", &PatchParams::default(), &Patch::Merge(&status))
        .await
        .expect("pod status");
    Fixture {
        port,
        node_name,
        kubectl: Kubectl {
            kubeconfig: env.kubeconfig().to_owned(),
            namespace: ns.name.clone(),
        },
        stop,
        serving,
        nodes,
        pod,
    }
}

impl Fixture {
    async fn finish(self) {
        let _ = self.stop.send(());
        self.serving.await.expect("server task").expect("server");
        self.nodes
            .delete(&self.node_name, &DeleteParams::default())
            .await
            .expect("delete node");
    }
}

async fn next_line(lines: &mut tokio::io::Lines<BufReader<tokio::process::ChildStdout>>) -> String {
    tokio::time::timeout(Duration::from_secs(20), lines.next_line())
        .await
        .expect("a followed line in time")
        .expect("reading kubectl's output")
        .expect("kubectl logs -f still running")
}

/// `kubectl exec` with the default protocol (WebSocket first) and with SPDY forced.
async fn exec_checks(kubectl: &Kubectl) {
    for spdy in [false, true] {
        let out = kubectl
            .run(&["exec", "app", "--", "echo", "hi"], spdy)
            .await;
        assert_eq!(out.code, 0, "spdy={spdy}: {}", out.stderr);
        assert_eq!(out.stdout, "hi\n", "spdy={spdy}");
        let out = kubectl
            .run(
                &["exec", "app", "--", "sh", "-c", "echo err >&2; exit 3"],
                spdy,
            )
            .await;
        assert_eq!(out.code, 3, "spdy={spdy}: {}", out.stderr);
        assert_eq!(out.stdout, "", "spdy={spdy}");
        assert!(
            out.stderr.lines().any(|l| l == "err"),
            "spdy={spdy}: {}",
            out.stderr
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_logs_and_exec_through_the_api_server() {
    let env = TestEnv::get().await;
    let ns = env.namespace("kubelet-api").await;
    let backend = Backend::default();
    let fx = fixture(env, &ns, backend.clone()).await;
    backend.pods.lock().unwrap().push(fx.pod.clone());
    backend.push("hello");
    backend.push("world");
    let kubectl = &fx.kubectl;

    // logs
    let out = kubectl.run(&["logs", "app"], false).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, "hello\nworld\n");
    let out = kubectl.run(&["logs", "app", "--tail=1"], false).await;
    assert_eq!(out.stdout, "world\n", "{}", out.stderr);

    // logs -f: lines appear while it runs, each once.
    let mut follow = kubectl
        .command(&["logs", "-f", "app"], false)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(follow.stdout.take().unwrap()).lines();
    let mut seen = vec![next_line(&mut lines).await, next_line(&mut lines).await];
    for i in 1..=3 {
        backend.push(&format!("later {i}"));
        seen.push(next_line(&mut lines).await);
    }
    assert_eq!(seen, ["hello", "world", "later 1", "later 2", "later 3"]);
    follow.kill().await.unwrap();

    exec_checks(kubectl).await;

    // stdin: kubectl half-closes it (v5 close signal / SPDY FIN) and cat ends.
    for spdy in [false, true] {
        let out = kubectl
            .run_with_input(&["exec", "-i", "app", "--", "cat"], spdy, Some(b"typed\n"))
            .await;
        assert_eq!(out.code, 0, "spdy={spdy}: {}", out.stderr);
        assert_eq!(out.stdout, "typed\n", "spdy={spdy}");
    }

    // attach is refused clearly.
    let out = kubectl.run(&["attach", "app"], true).await;
    assert_ne!(out.code, 0);
    assert!(
        out.stderr
            .contains("not supported by Azure Container Instances"),
        "{}",
        out.stderr
    );

    // Unauthenticated: 401. A service account without RBAC on nodes/proxy: 403.
    assert_eq!(curl_status(fx.port, None).await, "401");
    let sas: Api<ServiceAccount> = Api::namespaced(ns.client.clone(), &ns.name);
    let sa: ServiceAccount =
        serde_json::from_value(serde_json::json!({ "metadata": { "name": "nobody" } })).unwrap();
    sas.create(&PostParams::default(), &sa).await.unwrap();
    let token = wait::until("a token for the service account", 30, || async {
        let request: TokenRequest = serde_json::from_value(serde_json::json!({
            "spec": { "audiences": [], "expirationSeconds": 600 }
        }))
        .unwrap();
        sas.create_token_request("nobody", &PostParams::default(), &request)
            .await
            .ok()
            .and_then(|r| r.status.map(|s| s.token))
    })
    .await;
    assert_eq!(curl_status(fx.port, Some(&token)).await, "403");
    assert_eq!(curl_status(fx.port, Some("not-a-token")).await, "401");

    fx.finish().await;
}

/// The same through [`AciBackend`] and the ACI emulator: logs and exec go over the real ACI
/// client, the emulator tokenizes the quoted command string and reports the exit status in its
/// close reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_through_the_aci_backend_and_emulator() {
    let env = TestEnv::get().await;
    let ns = env.namespace("kubelet-api-aci").await;
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
            "containers": [{
                "name": "app",
                "properties": {
                    "image": "example/app",
                    "command": ["sh", "-c", "echo hello; echo world; sleep 1; echo later; sleep 100000"],
                    "resources": { "requests": { "cpu": 1.0, "memoryInGB": 1.0 } },
                },
            }],
        },
    }))
    .unwrap();
    aci.create_or_update(&group, &spec).await.unwrap();
    wait::until("the emulated container to log", 30, || async {
        aci.logs(&group, "app", vk_aci::LogOptions::default())
            .await
            .ok()
            .filter(|l| l.contains("later"))
    })
    .await;

    let pods: Arc<Mutex<Vec<Arc<Pod>>>> = Arc::default();
    let source = pods.clone();
    let backend = vk_kubelet_api::aci::AciBackend::new(aci, move || {
        source.lock().expect("pods lock").clone()
    });
    let fx = fixture(env, &ns, backend).await;
    pods.lock().unwrap().push(Arc::new(fx.pod.clone()));
    let kubectl = &fx.kubectl;

    let out = kubectl.run(&["logs", "app"], false).await;
    assert_eq!(out.stdout, "hello\nworld\nlater\n", "{}", out.stderr);
    let out = kubectl.run(&["logs", "app", "--tail=1"], false).await;
    assert_eq!(out.stdout, "later\n", "{}", out.stderr);
    let out = kubectl.run(&["logs", "app", "--previous"], false).await;
    assert_ne!(out.code, 0);
    assert!(out.stderr.contains("keeps no logs"), "{}", out.stderr);

    exec_checks(kubectl).await;

    fx.finish().await;
    emulator.shutdown().await.unwrap();
}
