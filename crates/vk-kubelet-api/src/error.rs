//! The crate's error type.

use http::StatusCode;

/// Everything that can fail in the kubelet API: configuration, serving, protocols, and the
/// answers backends give (which map to HTTP statuses, see [`Error::status`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A configuration key is unusable (see [`crate::KubeletConfig::validate`]).
    #[error("kubelet configuration: {field}: {reason}")]
    InvalidConfig {
        /// The key, relative to the `[kubelet]` table.
        field: &'static str,
        /// Why it is unusable.
        reason: String,
    },
    /// A certificate or key could not be read.
    #[error("reading {path}: {source}")]
    ReadFile {
        /// The file.
        path: std::path::PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// TLS configuration is invalid (bad PEM, key mismatch, unusable CA...).
    #[error("TLS configuration: {0}")]
    Tls(String),
    /// Generating a certificate failed.
    #[error("generating a certificate: {0}")]
    CertGeneration(#[from] rcgen::Error),
    /// Accepting connections failed.
    #[error("serving: {0}")]
    Serve(#[source] std::io::Error),
    /// A call to the Kubernetes API (TokenReview, SubjectAccessReview) failed.
    #[error("{what}: {source}")]
    Kube {
        /// What was attempted.
        what: &'static str,
        /// The cause.
        source: kube::Error,
    },
    /// The SPDY peer broke the protocol (malformed frame, bad header block...).
    #[error("SPDY protocol error: {0}")]
    Spdy(String),
    /// A streaming session failed (I/O, WebSocket).
    #[error("stream: {0}")]
    Stream(String),
    /// The request is invalid (HTTP 400).
    #[error("{0}")]
    BadRequest(String),
    /// The pod or container is unknown (HTTP 404).
    #[error("{0}")]
    NotFound(String),
    /// The backend cannot do this (HTTP 400 for logs, 501 for attach and port-forward; the
    /// message says why).
    #[error("{0}")]
    Unsupported(String),
    /// The backend failed (HTTP 500).
    #[error("{message}")]
    Backend {
        /// What failed.
        message: String,
        /// The cause, if any.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
}

impl Error {
    /// A backend failure with a cause.
    pub fn backend(
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self::Backend {
            message: message.into(),
            source: Some(Box::new(source)),
        }
    }

    /// The HTTP status this error answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            Error::BadRequest(_) | Error::Unsupported(_) | Error::Spdy(_) => {
                StatusCode::BAD_REQUEST
            }
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}
