//! The crate's error type.

/// Everything that can fail in taint management; each variant names the
/// Node or the configuration input it is about.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A taint effect other than `NoSchedule`, `PreferNoSchedule`, `NoExecute`.
    #[error("invalid taint effect {input:?}: expected NoSchedule, PreferNoSchedule or NoExecute")]
    InvalidEffect {
        /// The string as given.
        input: String,
    },

    /// A configured taint is not valid on a Node.
    #[error("invalid taint {key:?}: {reason}")]
    InvalidTaint {
        /// The taint's key.
        key: String,
        /// What is wrong.
        reason: String,
    },

    /// Reading the Node failed.
    #[error("reading node {node:?}: {source}")]
    GetNode {
        /// The Node's name.
        node: String,
        /// The client error.
        #[source]
        source: kube::Error,
    },

    /// The Node does not exist.
    #[error("node {node:?} not found")]
    NodeNotFound {
        /// The Node's name.
        node: String,
    },

    /// Writing the Node's taints failed (other than a conflict).
    #[error("updating taints of node {node:?}: {source}")]
    UpdateTaints {
        /// The Node's name.
        node: String,
        /// The client error.
        #[source]
        source: kube::Error,
    },

    /// Every attempt conflicted with another writer.
    #[error("updating taints of node {node:?}: still conflicting after {attempts} attempts")]
    Conflict {
        /// The Node's name.
        node: String,
        /// Attempts made.
        attempts: u32,
    },
}
