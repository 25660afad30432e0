/// Errors of the node lifecycle, one variant per failing operation, each naming the object.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration is unusable.
    #[error("invalid node configuration: {field}: {reason}")]
    InvalidConfig {
        /// The offending field, by its configuration key.
        field: String,
        /// Why it is invalid.
        reason: String,
    },
    /// Reading the API server's version failed.
    #[error("reading the API server version: {0}")]
    ServerVersion(#[source] kube::Error),
    /// Reading a Node failed.
    #[error("reading Node {node}: {source}")]
    GetNode {
        /// The node.
        node: String,
        /// The underlying error.
        #[source]
        source: kube::Error,
    },
    /// Creating a Node failed.
    #[error("creating Node {node}: {source}")]
    CreateNode {
        /// The node.
        node: String,
        /// The underlying error.
        #[source]
        source: kube::Error,
    },
    /// Applying vk's labels to a Node failed.
    #[error("applying labels to Node {node}: {source}")]
    ApplyLabels {
        /// The node.
        node: String,
        /// The underlying error.
        #[source]
        source: kube::Error,
    },
    /// Writing a Node's status failed.
    #[error("writing status of Node {node}: {source}")]
    WriteStatus {
        /// The node.
        node: String,
        /// The underlying error.
        #[source]
        source: kube::Error,
    },
    /// Updating a Node's taints failed.
    #[error("updating taints of Node {node}: {message}")]
    UpdateTaints {
        /// The node.
        node: String,
        /// What went wrong.
        message: String,
    },
    /// Reading, creating or renewing a Lease failed.
    #[error("{action} Lease {namespace}/{name}: {source}")]
    Lease {
        /// What was being done.
        action: &'static str,
        /// The Lease's namespace.
        namespace: String,
        /// The Lease's name.
        name: String,
        /// The underlying error.
        #[source]
        source: kube::Error,
    },
    /// The Lease kept changing under us.
    #[error("renewing Lease {namespace}/{name}: conflicting writes twice in a row")]
    LeaseConflict {
        /// The Lease's namespace.
        namespace: String,
        /// The Lease's name.
        name: String,
    },
    /// A Node object could not be built.
    #[error("building Node {node}: {source}")]
    Build {
        /// The node.
        node: String,
        /// The underlying error.
        #[source]
        source: serde_json::Error,
    },
}
