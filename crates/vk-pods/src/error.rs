use crate::ProviderError;

/// Errors of the pod reconciler, one variant per failing operation, naming the pod.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration is unusable.
    #[error("invalid reconciler configuration: {field}: {reason}")]
    InvalidConfig {
        /// The offending key (`sync_interval_secs`).
        field: &'static str,
        /// Why it is invalid.
        reason: String,
    },
    /// The provider failed transiently for a pod; retried with backoff.
    #[error("provider {action} for pod {pod}: {source}")]
    Provider {
        /// What was being done.
        action: &'static str,
        /// The pod (`namespace/name`).
        pod: String,
        /// The provider's error.
        #[source]
        source: ProviderError,
    },
    /// Writing a pod's status failed.
    #[error("writing status of pod {pod}: {source}")]
    WriteStatus {
        /// The pod.
        pod: String,
        /// The underlying error.
        #[source]
        source: kube::Error,
    },
    /// Deleting a pod object failed.
    #[error("deleting pod {pod}: {source}")]
    DeletePod {
        /// The pod.
        pod: String,
        /// The underlying error.
        #[source]
        source: kube::Error,
    },
    /// The pod watch failed.
    #[error("watching pods of node {node}: {message}")]
    Watch {
        /// The node.
        node: String,
        /// What went wrong.
        message: String,
    },
}

impl Error {
    /// A short label for metrics.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Self::InvalidConfig { .. } => "invalid_config",
            Self::Provider { .. } => "provider",
            Self::WriteStatus { .. } => "write_status",
            Self::DeletePod { .. } => "delete_pod",
            Self::Watch { .. } => "watch",
        }
    }
}
