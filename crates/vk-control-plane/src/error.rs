use std::path::PathBuf;

/// Everything that can go wrong while building, starting or stopping a local cluster.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A Kubernetes binary was not found where it was looked for.
    #[error(
        "control-plane binary `{binary}` not found (looked in {looked_in}); install it or set \
         VK_CONTROL_PLANE_BIN to a directory holding kube-apiserver, kube-scheduler and \
         kube-controller-manager (see docs/local-cluster.md)"
    )]
    BinaryMissing {
        /// The binary's name.
        binary: String,
        /// Where it was searched.
        looked_in: String,
    },
    /// The binaries must be built but this machine has no `apt-get`.
    #[error(
        "cannot build the control plane: `apt-get` is not available. Install Go 1.19+, etcd 3.4+ \
         and rsync, build kube-apiserver, kube-scheduler and kube-controller-manager v{version} \
         (see docs/local-cluster.md) and put them in {cache} or point VK_CONTROL_PLANE_BIN at them"
    )]
    NoApt {
        /// The Kubernetes version that is needed.
        version: &'static str,
        /// The cache directory where binaries are expected.
        cache: PathBuf,
    },
    /// A build or install step failed.
    #[error("control-plane build step `{step}` failed: {detail}")]
    BuildStep {
        /// The step's name.
        step: String,
        /// What went wrong.
        detail: String,
    },
    /// A file or directory operation failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A cluster name is not usable as a directory name.
    #[error("invalid cluster name {name:?}: use 1-40 characters from [a-z0-9-]")]
    InvalidName {
        /// The rejected name.
        name: String,
    },
    /// A cluster with this name is already running.
    #[error(
        "cluster `{name}` is already running (state in {state_dir}); run `cargo xtask cluster down --name {name}` first"
    )]
    AlreadyRunning {
        /// The cluster's name.
        name: String,
        /// Its state directory.
        state_dir: PathBuf,
    },
    /// No cluster state was found.
    #[error("no cluster state in {state_dir}")]
    NotFound {
        /// The state directory that was looked at.
        state_dir: PathBuf,
    },
    /// Generating certificates failed.
    #[error("generating certificate {what}: {source}")]
    Certificate {
        /// Which certificate.
        what: &'static str,
        /// The underlying error.
        #[source]
        source: rcgen::Error,
    },
    /// Starting a component's process failed.
    #[error("starting {component} ({binary}): {source}")]
    Spawn {
        /// The component.
        component: &'static str,
        /// The binary that was executed.
        binary: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A component did not become ready in time.
    #[error("{what} not ready after {secs} s; last error: {last}\n{logs}")]
    NotReady {
        /// What was waited for.
        what: String,
        /// How long.
        secs: u64,
        /// The last error seen while waiting.
        last: String,
        /// Tails of the component logs.
        logs: String,
    },
    /// A component exited during start-up.
    #[error("{component} exited during start-up ({status})\n{logs}")]
    Exited {
        /// The component.
        component: &'static str,
        /// Its exit status.
        status: String,
        /// Tails of the component logs.
        logs: String,
    },
    /// The cluster state file could not be parsed.
    #[error("reading cluster state {path}: {source}")]
    State {
        /// The state file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: serde_json::Error,
    },
    /// Building a Kubernetes client from the kubeconfig failed.
    #[error("building a client from {path}: {detail}")]
    Client {
        /// The kubeconfig.
        path: PathBuf,
        /// What went wrong.
        detail: String,
    },
    /// No free port could be found.
    #[error("finding a free port on 127.0.0.1: {0}")]
    Port(#[source] std::io::Error),
}

impl Error {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io {
            action,
            path,
            source,
        }
    }
}
