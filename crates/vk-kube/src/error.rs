//! The crate's error type.
//!
//! Messages name the operation and the object; the cause is the error's
//! [`source`](std::error::Error::source), not repeated in the message, so a report that walks
//! the chain (`anyhow`'s `{:#}`) shows each cause once.

/// Everything that can fail in this crate, by kind of failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A field of a [`ClientConfig`](crate::ClientConfig) or
    /// [`LeaderConfig`](crate::LeaderConfig) is unusable (see their `validate()`).
    #[error("invalid configuration: {field}: {reason}")]
    InvalidConfig {
        /// The field, relative to its table (`qps`, `lease_name`).
        field: &'static str,
        /// Why it is unusable.
        reason: String,
    },
    /// The kubeconfig file could not be read or parsed.
    #[error("kubeconfig: cannot read {}", path.display())]
    ReadKubeconfig {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: kube::config::KubeconfigError,
    },
    /// The kubeconfig file was read but gives no usable client configuration (no current
    /// context, a credential plugin that fails, ...).
    #[error("kubeconfig: {} is not usable", path.display())]
    Kubeconfig {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: kube::config::KubeconfigError,
    },
    /// No kubeconfig was given and none could be inferred.
    #[error("no Kubernetes configuration found (in-cluster, KUBECONFIG or ~/.kube/config)")]
    Infer {
        /// What each way of inferring it said.
        #[source]
        source: kube::config::InferConfigError,
    },
    /// The client could not be built from its configuration (TLS set-up, proxy).
    #[error("building the Kubernetes client")]
    Client {
        /// Why.
        #[source]
        source: kube::Error,
    },
    /// The leader Lease could not be read or created.
    #[error("cannot use Lease {namespace}/{name}")]
    Lease {
        /// The Lease's namespace.
        namespace: String,
        /// The Lease's name.
        name: String,
        /// Why.
        #[source]
        source: kube_lease_manager::LeaseManagerError,
    },
    /// The task that renews or watches the leader Lease ended: leadership is no longer known.
    #[error("leader election stopped (Lease {namespace}/{name})")]
    ElectionStopped {
        /// The Lease's namespace.
        namespace: String,
        /// The Lease's name.
        name: String,
    },
}
