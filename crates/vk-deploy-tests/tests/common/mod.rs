//! Helpers shared by the deploy tests: where the workspace is, running kubectl, rendering an
//! overlay and looking into the rendered objects.

#![allow(
    dead_code,
    unreachable_pub,
    reason = "each test binary uses a part of the helpers"
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// Every overlay under `deploy/overlays/`; `every_overlay_is_tested` keeps the list complete.
pub const OVERLAYS: &[&str] = &["linux", "windows", "both", "workload-identity", "ha", "dev"];

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the workspace root exists")
}

/// `deploy/overlays/<name>`.
pub fn overlay_dir(name: &str) -> PathBuf {
    workspace_root().join("deploy/overlays").join(name)
}

/// The kubectl to run: `$KUBECTL`, else `kubectl` from `PATH`. Panics with what to install when
/// there is none: these tests cannot run without it.
pub fn kubectl() -> PathBuf {
    let kubectl = std::env::var_os("KUBECTL")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("kubectl"));
    match Command::new(&kubectl)
        .args(["version", "--client"])
        .output()
    {
        Ok(out) if out.status.success() => kubectl,
        Ok(out) => panic!(
            "`{} version --client` failed: {}",
            kubectl.display(),
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(err) => panic!(
            "the deploy tests need kubectl 1.27 or newer (kustomize v5) on PATH or in $KUBECTL; \
             running {} failed: {err}",
            kubectl.display()
        ),
    }
}

/// Runs kubectl with `args`, returning its output (whatever the exit status).
pub fn run_kubectl(args: &[&str], stdin: Option<&str>) -> Output {
    use std::io::Write as _;
    let mut cmd = Command::new(kubectl());
    cmd.args(args)
        .stdin(if stdin.is_some() {
            std::process::Stdio::piped()
        } else {
            std::process::Stdio::null()
        })
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run kubectl {args:?}: {e}"));
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().expect("stdin is piped");
        pipe.write_all(input.as_bytes())
            .unwrap_or_else(|e| panic!("writing to kubectl {args:?}: {e}"));
    }
    child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("waiting for kubectl {args:?}: {e}"))
}

/// `kubectl kustomize deploy/overlays/<name>`: the rendered YAML stream. Panics when it fails.
pub fn render(name: &str) -> String {
    let dir = overlay_dir(name);
    let dir = dir.to_str().expect("a UTF-8 path");
    let out = run_kubectl(&["kustomize", dir], None);
    assert!(
        out.status.success(),
        "kubectl kustomize {dir} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("kustomize prints UTF-8")
}

/// The objects of a YAML stream, as JSON values.
pub fn parse_stream(yaml: &str) -> Vec<Value> {
    let docs: Vec<Value> = serde_saphyr::from_multiple(yaml)
        .unwrap_or_else(|e| panic!("kustomize output is not YAML: {e}\n{yaml}"));
    docs.into_iter().filter(|d| !d.is_null()).collect()
}

/// `kind/namespace/name` of an object, for messages.
pub fn id(obj: &Value) -> String {
    format!(
        "{}/{}/{}",
        obj["kind"].as_str().unwrap_or("?"),
        obj["metadata"]["namespace"].as_str().unwrap_or(""),
        obj["metadata"]["name"].as_str().unwrap_or("?")
    )
}
