//! The `vk` binary end to end: exit codes, `config` subcommands, signals.

use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const SUB: &str = "11111111-2222-3333-4444-555555555555";

/// `vk` with a clean environment (only PATH), so the host's `VK_*` or `RUST_LOG` do not leak in.
fn vk(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vk"));
    cmd.args(args).env_clear();
    if let Some(path) = std::env::var_os("PATH") {
        cmd.env("PATH", path);
    }
    cmd.envs(env.iter().copied());
    cmd
}

fn output(args: &[&str], env: &[(&str, &str)]) -> Output {
    vk(args, env).output().expect("vk runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

const VALID: &[(&str, &str)] = &[
    ("VK_ACI__SUBSCRIPTION_ID", SUB),
    ("VK_ACI__RESOURCE_GROUP", "rg"),
    ("VK_ACI__CREDENTIALS__KIND", "client-secret"),
    ("VK_ACI__CREDENTIALS__TENANT_ID", "tenant"),
    ("VK_ACI__CREDENTIALS__CLIENT_ID", "client"),
    ("VK_ACI__CREDENTIALS__CLIENT_SECRET", "hunter2-secret"),
];

#[test]
fn help_lists_every_flag() {
    let out = output(&["--help"], &[]);
    assert_eq!(out.status.code(), Some(0));
    let help = text(&out.stdout);
    for flag in [
        "--config",
        "--kubeconfig",
        "--cluster-id",
        "--drain-on-shutdown",
        "--nodes",
        "--node-name",
        "--os",
        "--internal-ip",
        "--kubelet-port",
        "--log-format",
        "--log-filter",
        "--admin-listen",
        "--aci-subscription-id",
        "--aci-resource-group",
        "--aci-region",
        "--aci-arm-endpoint",
        "--aci-authority-host",
        "--aci-subnet-id",
        "--kube-qps",
        "--kube-burst",
        "--reconcile-concurrency",
        "--ha",
        "--ha-namespace",
        "--ha-lease-name",
        "--ha-identity",
        "--kubelet-tls-cert",
        "--kubelet-tls-key",
        "--kubelet-client-ca",
        "--kubelet-anonymous-auth",
        "Exit codes",
    ] {
        assert!(help.contains(flag), "--help lacks {flag}:\n{help}");
    }
    let out = output(&["config", "print", "--help"], &[]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).contains("--format"));
}

#[test]
fn usage_and_config_errors_exit_64() {
    let out = output(&["--no-such-flag"], &[]);
    assert_eq!(out.status.code(), Some(64));

    let out = output(&["config", "validate"], &[]);
    assert_eq!(out.status.code(), Some(64));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("config error: aci.subscription_id: required"),
        "{stderr}"
    );

    let out = output(&["--node-name", "Not_OK"], VALID);
    assert_eq!(out.status.code(), Some(64));
    let stderr = text(&out.stderr);
    assert!(
        stderr.starts_with("config error: nodes[0].name: must be a DNS-1123 subdomain"),
        "{stderr}"
    );

    let out = output(&["--config", "/nonexistent/vk.toml"], VALID);
    assert_eq!(out.status.code(), Some(64));
    assert!(text(&out.stderr).contains("/nonexistent/vk.toml"));

    let mut env = VALID.to_vec();
    env.push(("RUST_LOG", "[[["));
    let out = output(&["--admin-listen", "127.0.0.1:0"], &env);
    assert_eq!(out.status.code(), Some(64));
    assert!(text(&out.stderr).contains("config error: RUST_LOG: invalid filter"));
}

#[test]
fn config_validate_and_print() {
    let out = output(&["config", "validate"], VALID);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("configuration is valid"));

    for format in ["toml", "json"] {
        let out = output(
            &[
                "config",
                "print",
                "--format",
                format,
                "--aci-region",
                "northeurope",
            ],
            VALID,
        );
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let printed = text(&out.stdout);
        assert!(printed.contains("northeurope"), "{printed}");
        assert!(printed.contains("<redacted>"), "{printed}");
        assert!(!printed.contains("hunter2"), "secret printed:\n{printed}");
    }

    // Printed, then refused.
    let out = output(&["config", "print", "--kube-burst", "0"], VALID);
    assert_eq!(out.status.code(), Some(64));
    assert!(text(&out.stdout).contains("burst = 0"));
    assert!(text(&out.stderr).contains("config error: kube.burst: must be at least 1"));
}

/// A kubeconfig whose API server never answers: vk keeps retrying, as it
/// would while the API server is down, and must still stop cleanly.
fn unreachable_kubeconfig() -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("vk-cli-test-{}.kubeconfig", std::process::id()));
    std::fs::write(
        &path,
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:1\n\
         users:\n- name: u\n  user:\n    token: t\ncontexts:\n- name: c\n  context:\n    cluster: c\n    user: u\n\
         current-context: c\n",
    )
    .expect("kubeconfig written");
    path
}

fn run_until_serving(signal: rustix::process::Signal) {
    let kubeconfig = unreachable_kubeconfig();
    let kubeconfig = kubeconfig.to_str().expect("utf-8 path");
    // The signal tests run in parallel (nextest runs each in its own
    // process), so each takes a port of its own rather than the default 10250.
    let kubelet_port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
        .to_string();
    let mut child = vk(
        &[
            "--admin-listen",
            "127.0.0.1:0",
            "--kubelet-port",
            &kubelet_port,
            "--kubeconfig",
            kubeconfig,
        ],
        VALID,
    )
    .env("RUST_LOG", "info")
    .stderr(Stdio::piped())
    .stdout(Stdio::null())
    .spawn()
    .expect("vk starts");
    let stderr = child.stderr.take().expect("piped stderr");
    let mut lines = BufReader::new(stderr).lines();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut log = String::new();
    loop {
        let line = lines
            .next()
            .expect("vk logs until it serves")
            .expect("readable stderr");
        log.push_str(&line);
        log.push('\n');
        if line.contains("admin port serving") {
            break;
        }
        assert!(Instant::now() < deadline, "vk did not start:\n{log}");
    }
    assert!(!log.contains("hunter2"), "secret logged:\n{log}");
    rustix::process::kill_process(rustix::process::Pid::from_child(&child), signal)
        .expect("signal sent");
    let status = child.wait().expect("vk exits");
    for line in lines {
        log.push_str(&line.expect("readable stderr"));
        log.push('\n');
    }
    assert_eq!(status.code(), Some(0), "{log}");
    assert!(log.contains("stopped"), "{log}");
}

#[test]
fn sigterm_stops_cleanly() {
    run_until_serving(rustix::process::Signal::TERM);
}

#[test]
fn sigint_stops_cleanly() {
    run_until_serving(rustix::process::Signal::INT);
}

#[test]
fn go_provider_variables_work_and_are_warned_about() {
    let mut env: Vec<(&str, &str)> = VALID
        .iter()
        .copied()
        .filter(|(k, _)| *k != "VK_ACI__RESOURCE_GROUP")
        .collect();
    env.push(("ACI_RESOURCE_GROUP", "go-rg"));
    env.push(("VKUBELET_TAINT_EFFECT", "NoExecute"));
    let out = output(&["config", "validate"], &env);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("warning: ACI_RESOURCE_GROUP is the Go provider's variable, accepted as a deprecated alias of aci.resource_group"),
        "{stderr}"
    );
    assert!(stderr.contains("VKUBELET_TAINT_EFFECT"), "{stderr}");
    let out = output(&["config", "print", "--format", "json"], &env);
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(printed["aci"]["resource_group"], "go-rg");
    assert_eq!(printed["nodes"][0]["taint"]["effect"], "NoExecute");
}
