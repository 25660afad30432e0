//! docs/getting-started.md, run: every `$ command` of its `text` blocks is run
//! in order against a local cluster, the ACI emulator and vk with the walkthrough's
//! two virtual nodes and its agent node (the test kit's simulated kubelet), and its output is compared with the one the page shows.
//!
//! The page's `sh` blocks (starting the world with `cargo xtask up`, exporting
//! `KUBECONFIG`) are the set-up this test does itself. Outputs are compared
//! after normalising what differs from run to run: ages, IP addresses, the
//! random suffixes of pod names. `kubectl get` commands are retried until their
//! output matches (pods take a moment to start); `kubectl get nodes` lists every
//! node of the shared test cluster, so the page's rows must be among them.
#![allow(clippy::unwrap_used)]

#[path = "e2e/harness.rs"]
mod harness;

use std::path::{Path, PathBuf};
use std::time::Duration;

use harness::{Vk, client, config, emulator, wait_ready};
use k8s_openapi::api::core::v1::Node;
use kube::Api;
use vk_testkit::TestEnv;
use vk_testkit::agent::{AgentKubelet, AgentNode};

/// One `$ command` of the page with the output it shows.
#[derive(Debug)]
struct Step {
    command: String,
    expected: Vec<String>,
}

/// The walkthrough: files to write (from `yaml` blocks introduced by a
/// `` `name.yaml` `` mention) and the steps of its `text` blocks.
fn walkthrough(page: &str) -> (Vec<(String, String)>, Vec<Step>) {
    let mut files = Vec::new();
    let mut steps: Vec<Step> = Vec::new();
    let lines: Vec<&str> = page.lines().collect();
    let mut i = 0;
    let mut last_file: Option<String> = None;
    while i < lines.len() {
        let line = lines[i];
        if let Some(name) = line
            .split('`')
            .find(|w| w.ends_with(".yaml") && !w.contains(' '))
        {
            last_file = Some(name.to_owned());
        }
        if line.starts_with("```yaml") || line.starts_with("```text") {
            let yaml = line.starts_with("```yaml");
            let body: Vec<&str> = lines[i + 1..]
                .iter()
                .take_while(|l| !l.starts_with("```"))
                .copied()
                .collect();
            i += body.len() + 1;
            if yaml {
                if let Some(name) = last_file.take() {
                    files.push((name, body.join("\n") + "\n"));
                }
            } else {
                for l in body {
                    if let Some(cmd) = l.strip_prefix("$ ") {
                        steps.push(Step {
                            command: cmd.to_owned(),
                            expected: Vec::new(),
                        });
                    } else if let Some(step) = steps.last_mut()
                        && !l.trim().is_empty()
                    {
                        step.expected.push(l.to_owned());
                    }
                }
            }
        }
        i += 1;
    }
    (files, steps)
}

/// A line with what changes from run to run replaced: pod name suffixes,
/// ages, IPs, and runs of spaces.
fn normalise(line: &str) -> String {
    let word = |w: &str| -> String {
        let ip = w.split(':').next().is_some_and(|a| {
            a.split('.').count() == 4 && a.split('.').all(|p| p.parse::<u8>().is_ok())
        });
        if ip {
            return "IP".to_owned();
        }
        let age = w.starts_with(|c: char| c.is_ascii_digit())
            && w.chars().all(|c| c.is_ascii_digit() || "smhd".contains(c))
            && w.chars().any(|c| "smhd".contains(c));
        if age {
            return "AGE".to_owned();
        }
        // The walkthrough's pods: `iis-<hash>-<suffix>`, `hello-<suffix>`, `web-<hash>-<suffix>`.
        for prefix in ["iis-", "hello-", "web-"] {
            if w.starts_with(prefix) {
                return format!("{prefix}*");
            }
        }
        w.to_owned()
    };
    line.split_whitespace()
        .map(|w| w.split(',').map(word).collect::<Vec<_>>().join(","))
        .collect::<Vec<_>>()
        .join(" ")
}

fn matches(step: &Step, actual: &str) -> bool {
    let mut want: Vec<String> = step.expected.iter().map(|l| normalise(l)).collect();
    let mut got: Vec<String> = actual
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(normalise)
        .collect();
    if step.command.starts_with("kubectl get nodes") {
        return want.iter().all(|w| got.contains(w));
    }
    want.sort();
    got.sort();
    want == got
}

fn run(dir: &Path, kubeconfig: &Path, emulator_url: &str, command: &str) -> (bool, String) {
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .current_dir(dir)
        .env("KUBECONFIG", kubeconfig)
        .env("EMULATOR", emulator_url)
        .output()
        .expect("sh");
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

/// The test cluster's kubeconfig with `namespace` as the default.
fn kubeconfig_in(env: &TestEnv, namespace: &str, dir: &Path) -> PathBuf {
    let copy = dir.join("kubeconfig");
    std::fs::copy(env.kubeconfig(), &copy).unwrap();
    let out = std::process::Command::new("kubectl")
        .arg(format!("--kubeconfig={}", copy.display()))
        .args([
            "config",
            "set-context",
            "--current",
            &format!("--namespace={namespace}"),
        ])
        .output()
        .expect("kubectl on PATH");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    copy
}

#[tokio::test]
async fn the_getting_started_walkthrough_runs_as_written() {
    let page = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/getting-started.md"),
    )
    .unwrap();
    let (files, steps) = walkthrough(&page);
    assert!(
        steps.len() >= 10,
        "the walkthrough has its steps: {steps:?}"
    );

    let (client, kube) = client().await;
    let emu = emulator("127.0.0.1:0").await;
    // The walkthrough's node names, as `cargo xtask up` runs them.
    let linux = "virtual-kubelet-mycon-linux-westeurope".to_owned();
    let windows = "virtual-kubelet-mycon-windows-westeurope".to_owned();
    let (text, admin) = config(
        &kube,
        emu.base_url(),
        &[(linux.clone(), "linux"), (windows.clone(), "windows")],
        "[reconciler]\nsync_interval_secs = 1\n",
    );
    let vk = Vk::start(&text, admin);
    let nodes: Api<Node> = Api::all(client.clone());
    wait_ready(&nodes, &linux, "True", 30).await;
    wait_ready(&nodes, &windows, "True", 30).await;
    // The article's regular node, as `cargo xtask up` runs it: the test kit's simulated
    // kubelet (4 CPUs, pods Running with an IP, no containers).
    let agent = AgentKubelet::start(
        client.clone(),
        AgentNode::nodepool1("aks-nodepool1-34126871-0", 4),
    )
    .await
    .unwrap();

    let env = TestEnv::get().await;
    let ns = env.namespace("walkthrough").await;
    let dir = std::env::temp_dir().join(format!("vk-walkthrough-{}", ns.name));
    std::fs::create_dir_all(&dir).unwrap();
    let kubeconfig = kubeconfig_in(env, &ns.name, &dir);
    for (name, body) in &files {
        std::fs::write(dir.join(name), body).unwrap();
    }
    for step in &steps {
        let retry = step.command.starts_with("kubectl get");
        let deadline =
            tokio::time::Instant::now() + Duration::from_secs(if retry { 120 } else { 30 });
        loop {
            let (dir, kc, url, cmd) = (
                dir.clone(),
                kubeconfig.clone(),
                emu.base_url().to_owned(),
                step.command.clone(),
            );
            // Off the runtime: the in-process emulator answers vk meanwhile.
            let (ok, out) = tokio::task::spawn_blocking(move || run(&dir, &kc, &url, &cmd))
                .await
                .unwrap();
            if ok && (step.expected.is_empty() && !retry || matches(step, &out)) {
                break;
            }
            if !retry || tokio::time::Instant::now() >= deadline {
                panic!(
                    "`{}` did not give what docs/getting-started.md shows.\nexpected:\n{}\ngot (exit ok: {ok}):\n{out}",
                    step.command,
                    step.expected.join("\n")
                );
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    drop(vk);
    agent.stop().await;
    for n in [&linux, &windows] {
        let _ = nodes.delete(n, &Default::default()).await;
    }
    emu.shutdown().await.unwrap();
}

#[test]
fn normalising_hides_what_changes_between_runs() {
    assert_eq!(
        normalise("iis-567474c7b5-d7xjh   1/1     Running   0          6s    10.0.0.4"),
        "iis-* 1/1 Running 0 AGE IP"
    );
    assert_eq!(
        normalise("hello-2jx8f 0/1 Completed 0 15s"),
        "hello-* 0/1 Completed 0 AGE"
    );
    assert_eq!(
        normalise("iis    10.0.0.4:80,10.0.0.5:80 + 3 more...   8s"),
        "iis IP,IP + 3 more... AGE"
    );
    assert_eq!(normalise("hello   1/1   5s   2m10s"), "hello 1/1 AGE AGE");
}
