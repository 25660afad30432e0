//! The process-wide test cluster.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use kube::Client;
use vk_control_plane::{Binaries, ClusterInfo, ClusterSpec, clusters_root};

use crate::TestNamespace;

/// The cluster the tests of this process run against.
#[derive(Debug)]
pub struct TestEnv {
    kubeconfig: PathBuf,
    /// A human-readable description of where the cluster comes from.
    pub origin: String,
}

static ENV: OnceLock<TestEnv> = OnceLock::new();

impl TestEnv {
    /// The shared test cluster, started on first use when the environment
    /// names none (see the crate docs). Panics with the reason when no cluster
    /// can be had: a test that needs a cluster cannot run without one.
    pub async fn get() -> &'static Self {
        if let Some(env) = ENV.get() {
            return env;
        }
        // Starting a cluster blocks for ~15 s; do it on a plain thread with its
        // own runtime so no test runtime is tied to it.
        tokio::task::spawn_blocking(|| {
            std::thread::spawn(|| ENV.get_or_init(Self::init))
                .join()
                .expect("test cluster start-up thread panicked")
        })
        .await
        .expect("test cluster start-up task failed")
    }

    fn init() -> Self {
        // Tests build clients with rustls; pick the one provider explicitly.
        let _ = rustls::crypto::ring::default_provider().install_default();
        if let Some(path) = std::env::var_os("VK_TEST_KUBECONFIG") {
            let kubeconfig = PathBuf::from(path);
            return Self {
                origin: format!("VK_TEST_KUBECONFIG={}", kubeconfig.display()),
                kubeconfig,
            };
        }
        if let Some(cluster) = std::env::var_os("VK_TEST_CLUSTER") {
            let cluster = PathBuf::from(cluster);
            let dir = if cluster.is_absolute() {
                cluster
            } else {
                clusters_root().join(cluster)
            };
            let info = ClusterInfo::load(&dir)
                .unwrap_or_else(|e| panic!("VK_TEST_CLUSTER names no running cluster: {e}"));
            return Self {
                origin: format!("VK_TEST_CLUSTER={}", dir.display()),
                kubeconfig: info.kubeconfig,
            };
        }
        Self::start_own()
    }

    fn start_own() -> Self {
        let bins = Binaries::resolve_or_build()
            .unwrap_or_else(|e| panic!("no control-plane binaries for the test cluster: {e}"));
        let name = format!("test-{}", std::process::id());
        let spec = ClusterSpec::named(&name).unwrap_or_else(|e| panic!("{e}"));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("building a runtime for the test cluster");
        let info = rt
            .block_on(spec.up(&bins))
            .unwrap_or_else(|e| panic!("starting test cluster {name}: {e}"));
        spawn_watchdog(&info.state_dir);
        Self {
            origin: format!("own cluster {name} in {}", info.state_dir.display()),
            kubeconfig: info.kubeconfig,
        }
    }

    /// The kubeconfig of the test cluster (for processes a test starts, like vk).
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// A new client for the test cluster. Create one per test: a client
    /// belongs to the runtime it was made on.
    pub async fn client(&self) -> Client {
        vk_control_plane::kube_client(&self.kubeconfig)
            .await
            .unwrap_or_else(|e| panic!("client for the test cluster ({}): {e}", self.origin))
    }

    /// A fresh namespace named `<prefix>-<unique suffix>`, ready for pods
    /// (its default ServiceAccount has a token), deleted when dropped.
    pub async fn namespace(&self, prefix: &str) -> TestNamespace {
        TestNamespace::create(self, prefix).await
    }
}

/// Stops the cluster this process started once the process is gone: a small
/// shell loop in its own process group, so it survives us and needs no code of
/// ours to run at exit (Rust runs no destructors for statics).
fn spawn_watchdog(state_dir: &Path) {
    use std::os::unix::process::CommandExt as _;
    let script = r#"
while kill -0 "$1" 2>/dev/null; do sleep 1; done
for f in "$2"/*.pid; do [ -f "$f" ] && kill -TERM "$(head -n1 "$f")" 2>/dev/null; done
sleep 5
for f in "$2"/*.pid; do [ -f "$f" ] && kill -KILL "$(head -n1 "$f")" 2>/dev/null; done
rm -rf "$2"
"#;
    let spawned = std::process::Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg("vk-testkit-watchdog")
        .arg(std::process::id().to_string())
        .arg(state_dir)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .process_group(0)
        .spawn();
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "could not start the test cluster watchdog; stop it with cargo xtask cluster down");
    }
}
