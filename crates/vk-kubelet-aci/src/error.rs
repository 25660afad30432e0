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
}

impl From<Error> for vk_kubelet_api::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::NotFound(m) => vk_kubelet_api::Error::NotFound(m),
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
