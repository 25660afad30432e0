//! The crate's error type.

/// What can fail between the kubelet API and ACI.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A call to ACI failed.
    #[error("{what}: {source}")]
    Aci {
        /// What was attempted.
        what: String,
        /// The cause.
        source: vk_aci::Error,
    },
    /// The pod or container is not on this node.
    #[error("{0}")]
    NotFound(String),
    /// The command has arguments, and the container has no shell to run it through.
    #[error(
        "cannot run {command:?} with arguments in container {container}: Azure Container \
         Instances runs one executable without arguments, and this container has no {shell} to \
         run the command line through (ACI answered: {answer}); one-word commands still run"
    )]
    NoShell {
        /// The container.
        container: String,
        /// The command's first word.
        command: String,
        /// The shell vk tried.
        shell: &'static str,
        /// What ACI answered.
        answer: String,
    },
    /// ACI could not start the executable.
    #[error("cannot run {command:?} in container {container}: {answer}")]
    NoExecutable {
        /// The executable.
        command: String,
        /// The container.
        container: String,
        /// What ACI answered.
        answer: String,
    },
    /// The exec session did not go as the shell protocol expects.
    #[error("exec session: {0}")]
    Session(String),
    /// Not possible on ACI.
    #[error("{0}")]
    Unsupported(String),
}

impl From<Error> for vk_kubelet_api::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::NotFound(m) => vk_kubelet_api::Error::NotFound(m),
            Error::Unsupported(m) => vk_kubelet_api::Error::Unsupported(m),
            e @ (Error::NoShell { .. } | Error::NoExecutable { .. } | Error::Session(_)) => {
                vk_kubelet_api::Error::Backend {
                    message: e.to_string(),
                    source: None,
                }
            }
            Error::Aci { what, source } => {
                if source.is_not_found() {
                    vk_kubelet_api::Error::NotFound(format!("{what}: {source}"))
                } else if source.status().is_some_and(|s| s.is_client_error()) {
                    vk_kubelet_api::Error::BadRequest(format!("{what}: {source}"))
                } else {
                    vk_kubelet_api::Error::backend(what, source)
                }
            }
        }
    }
}
