//! Runs the real `vk` binary against the test cluster and an in-process ACI emulator.
#![allow(dead_code, reason = "each e2e test binary uses a different part")]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use k8s_openapi::api::core::v1::Node;
use kube::{Api, Client};
use vk_aci_emulator::{Emulator, RunningEmulator};
use vk_testkit::{TestEnv, wait};

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

pub(crate) fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    format!(
        "{prefix}-{}-{:x}",
        std::process::id() % 10000,
        nanos % 0xfffff
    )
}

pub(crate) async fn emulator(addr: &str) -> RunningEmulator {
    Emulator::builder()
        .fast()
        .start(addr.parse().expect("address"))
        .await
        .expect("emulator starts")
}

/// An emulator on `addr` that persists its state to `state_file` (and loads
/// it at start), for restart tests.
pub(crate) async fn emulator_with_state(
    addr: std::net::SocketAddr,
    state_file: &std::path::Path,
) -> RunningEmulator {
    Emulator::builder()
        .fast()
        .state_file(state_file)
        .start(addr)
        .await
        .expect("emulator with a state file starts")
}

/// One vk process.
pub(crate) struct Vk {
    pub(crate) child: Option<Child>,
    pub(crate) config: PathBuf,
    pub(crate) log: PathBuf,
    pub(crate) admin: u16,
    pub(crate) dir: PathBuf,
    /// vk's `RUST_LOG`.
    pub(crate) rust_log: String,
}

/// The `RUST_LOG` of a vk started with [`Vk::start`].
pub(crate) const DEFAULT_RUST_LOG: &str = "info,vk_node=debug,vk_pods=debug";

/// vk's configuration for the given nodes (name, os) against `emulator_url`.
pub(crate) fn config(
    kubeconfig: &std::path::Path,
    emulator_url: &str,
    nodes: &[(String, &str)],
    extra: &str,
) -> (String, u16) {
    config_with_aci(kubeconfig, emulator_url, nodes, "", extra)
}

/// Like [`config`], with `aci_extra` lines in the `[aci]` table (e.g. a `subnet_id`).
pub(crate) fn config_with_aci(
    kubeconfig: &std::path::Path,
    emulator_url: &str,
    nodes: &[(String, &str)],
    aci_extra: &str,
    extra: &str,
) -> (String, u16) {
    let admin = free_port();
    let mut text = format!(
        "cluster_id = \"e2e\"\nkubeconfig = \"{}\"\n",
        kubeconfig.display()
    );
    for (name, os) in nodes {
        text.push_str(&format!(
            "[[nodes]]\nname = \"{name}\"\nos = \"{os}\"\ninternal_ip = \"127.0.0.1\"\nkubelet_port = {}\n",
            free_port()
        ));
    }
    text.push_str(&format!(
        "[aci]\nsubscription_id = \"00000000-0000-0000-0000-000000000000\"\nresource_group = \"e2e\"\n\
         arm_endpoint = \"{emulator_url}\"\nauthority_host = \"{emulator_url}\"\n{aci_extra}\n\
         [aci.credentials]\nkind = \"client-secret\"\ntenant_id = \"e2e\"\nclient_id = \"vk\"\nclient_secret = \"e2e-secret\"\n\
         [admin]\nlisten = \"127.0.0.1:{admin}\"\n\
         [kubelet]\nclient_ca = \"{ca}\"\n{extra}\n",
        ca = kubeconfig.parent().map(|d| d.join("ca.crt")).unwrap_or_default().display()
    ));
    if !extra.contains("[aci.usage]") {
        // Azure Monitor is the emulator too (not the real regional endpoint).
        text.push_str(&format!("[aci.usage]\nendpoint = \"{emulator_url}\"\n"));
    }
    (text, admin)
}

impl Vk {
    pub(crate) fn start(config_text: &str, admin: u16) -> Self {
        Self::start_with_log(config_text, admin, DEFAULT_RUST_LOG)
    }

    /// Like [`Vk::start`], with `rust_log` as vk's `RUST_LOG` (e.g. `trace`).
    pub(crate) fn start_with_log(config_text: &str, admin: u16, rust_log: &str) -> Self {
        let dir = std::env::temp_dir().join(unique("vk-e2e"));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let config = dir.join("vk.toml");
        std::fs::write(&config, config_text).expect("write config");
        let log = dir.join("vk.log");
        let mut vk = Self {
            child: None,
            config,
            log,
            admin,
            dir,
            rust_log: rust_log.to_owned(),
        };
        vk.spawn();
        vk
    }

    pub(crate) fn spawn(&mut self) {
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("log file");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_vk"));
        // vk reads `VK_*` as configuration and refuses unknown keys; the fault
        // tests' own knobs (`VK_CHAOS_ROUNDS`, `VK_CHAOS_SEED`) are not for it.
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("VK_CHAOS_") {
                cmd.env_remove(key);
            }
        }
        let child = cmd
            .arg(format!("--config={}", self.config.display()))
            .env("RUST_LOG", &self.rust_log)
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("log"))
            .stderr(out)
            .spawn()
            .expect("vk starts");
        self.child = Some(child);
    }

    /// SIGKILL, as `kill -9`.
    pub(crate) fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGKILL, then start again with the same configuration and log.
    /// SIGTERM, then waits for vk to exit (at most `secs`); returns its exit code.
    pub(crate) async fn terminate(&mut self, secs: u64) -> Option<i32> {
        let mut child = self.child.take()?;
        let pid = rustix::process::Pid::from_child(&child);
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return status.code();
            }
            if tokio::time::Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub(crate) fn restart9(&mut self) {
        self.kill9();
        self.spawn();
    }

    /// Everything vk wrote to stdout and stderr so far (all its runs).
    pub(crate) fn log_text(&self) -> String {
        let bytes = std::fs::read(&self.log).unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    pub(crate) fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// A metric's value from vk's /metrics (sum over label sets matching `label`).
    pub(crate) async fn metric(&self, name: &str, label: &str) -> f64 {
        let body = http_get(self.admin, "/metrics").await;
        body.lines()
            .filter(|l| l.starts_with(name) && l.contains(label))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }
}

impl Drop for Vk {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "--- vk log ({}) ---\n{}",
                self.log.display(),
                self.log_tail()
            );
        }
        self.kill9();
    }
}

/// A plain HTTP/1.0 GET on loopback (no client crate needed for the admin port).
pub(crate) async fn http_get(port: u16, path: &str) -> String {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let Ok(mut s) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else {
        return String::new();
    };
    let req = format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n");
    if s.write_all(req.as_bytes()).await.is_err() {
        return String::new();
    }
    let mut buf = String::new();
    let _ = s.read_to_string(&mut buf).await;
    buf
}

pub(crate) fn ready_status(node: &Node) -> Option<String> {
    node.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Ready")
        .map(|c| c.status.clone())
}

pub(crate) fn has_taint(node: &Node, key: &str) -> bool {
    node.spec
        .as_ref()
        .and_then(|s| s.taints.as_ref())
        .is_some_and(|t| t.iter().any(|t| t.key == key))
}

pub(crate) async fn wait_ready(nodes: &Api<Node>, name: &str, status: &str, secs: u64) -> Node {
    wait::until(&format!("node {name} Ready={status}"), secs, || async {
        nodes
            .get_opt(name)
            .await
            .ok()
            .flatten()
            .filter(|n| ready_status(n).as_deref() == Some(status))
    })
    .await
}

pub(crate) async fn client() -> (Client, PathBuf) {
    let env = TestEnv::get().await;
    (env.client().await, env.kubeconfig().to_owned())
}

pub(crate) const SECOND: Duration = Duration::from_secs(1);
