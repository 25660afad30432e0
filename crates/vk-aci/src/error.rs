//! The crate's error type: one variant per failing operation, naming its object, each carrying a
//! [`Failure`] with the HTTP status, ARM error code and message and the `x-ms-request-id`.

use std::fmt;
use std::time::Duration;

use http::StatusCode;

use crate::models::{CloudError, CloudErrorBody};

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Creating or updating a container group failed (including its long-running operation).
    #[error("create or update of container group '{group}' failed: {failure}")]
    CreateOrUpdate {
        /// Container group name.
        group: String,
        /// Why.
        #[source]
        failure: Failure,
    },
    /// Reading a container group failed.
    #[error("get of container group '{group}' failed: {failure}")]
    Get {
        /// Container group name.
        group: String,
        /// Why.
        #[source]
        failure: Failure,
    },
    /// Deleting a container group failed.
    #[error("delete of container group '{group}' failed: {failure}")]
    Delete {
        /// Container group name.
        group: String,
        /// Why.
        #[source]
        failure: Failure,
    },
    /// Updating the tags of a container group failed.
    #[error("tag update of container group '{group}' failed: {failure}")]
    UpdateTags {
        /// Container group name.
        group: String,
        /// Why.
        #[source]
        failure: Failure,
    },
    /// Listing the container groups of a resource group failed.
    #[error("listing container groups of resource group '{resource_group}' failed: {failure}")]
    List {
        /// Resource group name.
        resource_group: String,
        /// Why.
        #[source]
        failure: Failure,
    },
    /// Starting a container group failed.
    #[error("start of container group '{group}' failed: {failure}")]
    Start {
        /// Container group name.
        group: String,
        /// Why.
        #[source]
        failure: Failure,
    },
    /// Stopping a container group failed.
    #[error("stop of container group '{group}' failed: {failure}")]
    Stop {
        /// Container group name.
        group: String,
        /// Why.
        #[source]
        failure: Failure,
    },
    /// Restarting a container group failed.
    #[error("restart of container group '{group}' failed: {failure}")]
    Restart {
        /// Container group name.
        group: String,
        /// Why.
        #[source]
        failure: Failure,
    },
    /// Reading a container's logs failed.
    #[error("logs of container '{container}' in group '{group}' failed: {failure}")]
    Logs {
        /// Container group name.
        group: String,
        /// Container name.
        container: String,
        /// Why.
        #[source]
        failure: Failure,
    },
    /// Starting an exec session in a container failed.
    #[error("exec in container '{container}' of group '{group}' failed: {failure}")]
    Exec {
        /// Container group name.
        group: String,
        /// Container name.
        container: String,
        /// Why.
        #[source]
        failure: Failure,
    },
    /// Attaching to a container failed.
    #[error("attach to container '{container}' of group '{group}' failed: {failure}")]
    Attach {
        /// Container group name.
        group: String,
        /// Container name.
        container: String,
        /// Why.
        #[source]
        failure: Failure,
    },
    /// The exec WebSocket failed (connecting, or while streaming).
    #[error("exec session with '{host}' failed: {failure}")]
    ExecSession {
        /// Host of the WebSocket URI.
        host: String,
        /// Why.
        #[source]
        failure: Failure,
    },
    /// Reading a region's capabilities failed.
    #[error("capabilities of location '{location}' failed: {failure}")]
    Capabilities {
        /// Region.
        location: String,
        /// Why.
        #[source]
        failure: Failure,
    },
    /// Reading a region's usages failed.
    #[error("usages of location '{location}' failed: {failure}")]
    Usages {
        /// Region.
        location: String,
        /// Why.
        #[source]
        failure: Failure,
    },
    /// Reading a region's cached images failed.
    #[error("cached images of location '{location}' failed: {failure}")]
    CachedImages {
        /// Region.
        location: String,
        /// Why.
        #[source]
        failure: Failure,
    },
    /// Reading Azure Monitor metrics of container groups failed.
    #[error("metrics of {groups} container group(s) failed: {failure}")]
    Metrics {
        /// How many groups the call asked for.
        groups: usize,
        /// Why.
        #[source]
        failure: Failure,
    },
    /// Getting an access token failed.
    #[error("token from {credential} failed: {failure}")]
    Token {
        /// Which credential (kind and non-secret identifiers).
        credential: String,
        /// Why.
        #[source]
        failure: Failure,
    },
    /// Invalid configuration (a bad URL, a missing setting, an unreadable file, TLS set-up).
    #[error("invalid configuration: {message}")]
    Config {
        /// What is wrong.
        message: String,
    },
}

impl Error {
    /// The failure detail, unless this is a configuration error.
    pub fn failure(&self) -> Option<&Failure> {
        match self {
            Self::CreateOrUpdate { failure, .. }
            | Self::Get { failure, .. }
            | Self::Delete { failure, .. }
            | Self::UpdateTags { failure, .. }
            | Self::List { failure, .. }
            | Self::Start { failure, .. }
            | Self::Stop { failure, .. }
            | Self::Restart { failure, .. }
            | Self::Logs { failure, .. }
            | Self::Exec { failure, .. }
            | Self::Attach { failure, .. }
            | Self::ExecSession { failure, .. }
            | Self::Capabilities { failure, .. }
            | Self::Usages { failure, .. }
            | Self::CachedImages { failure, .. }
            | Self::Metrics { failure, .. }
            | Self::Token { failure, .. } => Some(failure),
            Self::Config { .. } => None,
        }
    }

    /// HTTP status of the failing response, if there was one.
    pub fn status(&self) -> Option<StatusCode> {
        self.failure().and_then(|f| f.status)
    }

    /// ARM error code (`ResourceNotFound`, `ContainerGroupTransitioning`, ...), if any.
    pub fn code(&self) -> Option<&str> {
        self.failure().and_then(|f| f.code.as_deref())
    }

    /// The `x-ms-request-id` of the failing response, if any.
    pub fn request_id(&self) -> Option<&str> {
        self.failure().and_then(|f| f.request_id.as_deref())
    }

    /// The resource (or resource group) does not exist.
    pub fn is_not_found(&self) -> bool {
        self.failure().is_some_and(Failure::is_not_found)
    }

    /// What holds the resource is missing: the resource group
    /// (`ResourceGroupNotFound`) or the subscription (`SubscriptionNotFound`).
    /// Unlike a missing resource, that is a configuration error, never "gone".
    pub fn is_missing_scope(&self) -> bool {
        self.failure().is_some_and(Failure::is_missing_scope)
    }

    /// HTTP 409: a conflicting operation, e.g. `ContainerGroupTransitioning`.
    pub fn is_conflict(&self) -> bool {
        self.failure().is_some_and(Failure::is_conflict)
    }

    /// HTTP 429: throttled by ARM or the resource provider.
    pub fn is_throttled(&self) -> bool {
        self.failure().is_some_and(Failure::is_throttled)
    }

    /// A quota (container groups, cores, spot cores, GPU cores) is exhausted.
    pub fn is_quota_exceeded(&self) -> bool {
        self.failure().is_some_and(Failure::is_quota_exceeded)
    }

    /// Worth retrying later: throttling, server errors, transport errors, timeouts,
    /// `ContainerGroupTransitioning`, registry and capacity errors.
    pub fn is_transient(&self) -> bool {
        self.failure().is_some_and(Failure::is_transient)
    }

    /// HTTP 401 or 403.
    pub fn is_auth(&self) -> bool {
        self.failure().is_some_and(|f| {
            matches!(
                f.status,
                Some(StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN)
            )
        })
    }
}

/// What kind of failure happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FailureKind {
    /// The service answered with an unexpected HTTP status.
    Http,
    /// Connecting, sending or receiving failed.
    Transport,
    /// A call exceeded its per-call timeout, or retries exceeded the overall deadline.
    Timeout,
    /// The response body did not parse.
    Decode,
    /// The long-running operation ended `Failed` or `Canceled`.
    OperationFailed,
    /// The long-running operation did not finish in time.
    OperationTimedOut,
    /// The response was well-formed HTTP but unusable (e.g. a missing header or field).
    InvalidResponse,
    /// Reading a local file (token file, azure.json) failed.
    Io,
    /// An argument was unusable (e.g. an empty name).
    InvalidArgument,
}

/// Why a call failed. Boxed, so results stay small; its fields are reached through
/// [`FailureDetail`] (`failure.status`, `failure.code`, ...).
pub struct Failure(Box<FailureDetail>);

/// The fields of a [`Failure`].
#[derive(Debug)]
#[non_exhaustive]
pub struct FailureDetail {
    /// Kind of failure.
    pub kind: FailureKind,
    /// HTTP status, when a response was received.
    pub status: Option<StatusCode>,
    /// ARM (or token endpoint) error code.
    pub code: Option<String>,
    /// Human-readable message.
    pub message: String,
    /// ARM error target.
    pub target: Option<String>,
    /// Nested ARM error details.
    pub details: Vec<CloudErrorBody>,
    /// `x-ms-request-id` of the response.
    pub request_id: Option<String>,
    /// `Retry-After` of the response.
    pub retry_after: Option<Duration>,
    /// HTTP attempts made (1 when there was no retry).
    pub attempts: u32,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl std::ops::Deref for Failure {
    type Target = FailureDetail;

    fn deref(&self) -> &FailureDetail {
        &self.0
    }
}

impl std::ops::DerefMut for Failure {
    fn deref_mut(&mut self) -> &mut FailureDetail {
        &mut self.0
    }
}

impl fmt::Debug for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl Failure {
    /// A failure of `kind` with a message.
    pub fn new(kind: FailureKind, message: impl Into<String>) -> Self {
        Self(Box::new(FailureDetail {
            kind,
            status: None,
            code: None,
            message: message.into(),
            target: None,
            details: Vec::new(),
            request_id: None,
            retry_after: None,
            attempts: 0,
            source: None,
        }))
    }

    /// Sets the underlying cause.
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.0.source = Some(Box::new(source));
        self
    }

    /// Sets the ARM error code.
    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }

    /// Sets the HTTP status.
    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = Some(status);
        self
    }

    /// Builds an HTTP failure from a response: parses an ARM `{"error": {...}}` body, or an
    /// OAuth `{"error": "...", "error_description": "..."}` body, falling back to the raw text.
    pub(crate) fn from_response(
        status: StatusCode,
        headers: &http::HeaderMap,
        body: &[u8],
    ) -> Self {
        let mut failure = Self::new(FailureKind::Http, String::new()).with_status(status);
        failure.request_id = header_str(headers, "x-ms-request-id").map(str::to_owned);
        failure.retry_after = crate::retry::retry_after(headers);
        if let Ok(CloudError { error: Some(err) }) = serde_json::from_slice::<CloudError>(body) {
            failure.code = err.code;
            failure.message = err.message.unwrap_or_default();
            failure.target = err.target;
            failure.details = err.details.unwrap_or_default();
        } else if let Ok(oauth) = serde_json::from_slice::<OAuthError>(body) {
            failure.code = Some(oauth.error);
            failure.message = oauth.error_description.unwrap_or_default();
        } else {
            failure.message = truncate(&String::from_utf8_lossy(body), 512);
        }
        if failure.message.is_empty() {
            failure.message = status.canonical_reason().unwrap_or("error").to_owned();
        }
        failure
    }

    /// Builds a failure from an error of the HTTP client.
    pub(crate) fn from_reqwest(err: reqwest::Error) -> Self {
        let kind = if err.is_timeout() {
            FailureKind::Timeout
        } else {
            FailureKind::Transport
        };
        let message = if err.is_timeout() {
            "request timed out".to_owned()
        } else if err.is_connect() {
            "connection failed".to_owned()
        } else {
            "request failed".to_owned()
        };
        let mut failure = Self::new(kind, message);
        failure.status = err.status();
        // reqwest errors carry the URL; ours never hold secrets in URLs, but strip it anyway.
        failure.with_source(err.without_url())
    }

    /// A body that did not parse.
    pub(crate) fn decode(
        what: &str,
        err: serde_json::Error,
        status: StatusCode,
        request_id: Option<String>,
    ) -> Self {
        let mut failure = Self::new(FailureKind::Decode, format!("invalid {what} in response"))
            .with_status(status)
            .with_source(err);
        failure.request_id = request_id;
        failure
    }

    /// Status 404, or a not-found ARM code.
    pub fn is_not_found(&self) -> bool {
        self.status == Some(StatusCode::NOT_FOUND)
            || self.code.as_deref().is_some_and(|c| {
                matches!(c, "ResourceNotFound" | "ResourceGroupNotFound" | "NotFound")
            })
    }

    /// A missing resource group or subscription (see [`Error::is_missing_scope`]).
    pub fn is_missing_scope(&self) -> bool {
        self.code
            .as_deref()
            .is_some_and(|c| matches!(c, "ResourceGroupNotFound" | "SubscriptionNotFound"))
    }

    /// Status 409.
    pub fn is_conflict(&self) -> bool {
        self.status == Some(StatusCode::CONFLICT)
    }

    /// Status 429 or a throttling code.
    pub fn is_throttled(&self) -> bool {
        self.status == Some(StatusCode::TOO_MANY_REQUESTS)
            || self
                .code
                .as_deref()
                .is_some_and(|c| matches!(c, "TooManyRequests" | "SubscriptionRequestsThrottled"))
    }

    /// A quota error (`ContainerGroupQuotaReached`, `QuotaExceeded`, or a `quota ... exceeded` message).
    pub fn is_quota_exceeded(&self) -> bool {
        let code_says = self.code.as_deref().is_some_and(|c| {
            matches!(
                c,
                "ContainerGroupQuotaReached" | "QuotaExceeded" | "OperationNotAllowed"
            ) && (c != "OperationNotAllowed" || self.message.to_ascii_lowercase().contains("quota"))
        });
        let lower = self.message.to_ascii_lowercase();
        code_says || (lower.contains("quota") && lower.contains("exceeded"))
    }

    /// Worth retrying later.
    pub fn is_transient(&self) -> bool {
        if matches!(self.kind, FailureKind::Transport | FailureKind::Timeout) {
            return true;
        }
        if self.is_quota_exceeded() {
            return false;
        }
        let status_says = self
            .status
            .is_some_and(|s| matches!(s.as_u16(), 408 | 429 | 500 | 502 | 503 | 504));
        let code_says = self.code.as_deref().is_some_and(|c| {
            matches!(
                c,
                "ContainerGroupTransitioning"
                    | "RegistryErrorResponse"
                    | "ServerTimeout"
                    | "ServiceUnavailable"
                    | "InsufficientCapacity"
                    | "RetryableErrorDueToAnotherOperation"
                    | "TooManyRequests"
            )
        });
        status_says || code_says
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(status) = self.status {
            write!(f, "HTTP {}", status.as_u16())?;
        } else {
            write!(f, "{:?}", self.kind)?;
        }
        if let Some(code) = &self.code {
            write!(f, " {code}")?;
        }
        write!(f, ": {}", self.message)?;
        if let Some(id) = &self.request_id {
            write!(f, " (request id {id})")?;
        }
        if self.attempts > 1 {
            write!(f, " after {} attempts", self.attempts)?;
        }
        Ok(())
    }
}

impl std::error::Error for Failure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0
            .source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// OAuth 2 error body of token endpoints.
#[derive(serde::Deserialize)]
struct OAuthError {
    error: String,
    error_description: Option<String>,
}

pub(crate) fn header_str<'h>(headers: &'h http::HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_arm_error_and_classifies() {
        let mut headers = http::HeaderMap::new();
        headers.insert("x-ms-request-id", "abc".parse().unwrap());
        let body =
            br#"{"error":{"code":"ResourceNotFound","message":"The Resource 'x' was not found."}}"#;
        let failure = Failure::from_response(StatusCode::NOT_FOUND, &headers, body);
        let err = Error::Get {
            group: "g".into(),
            failure,
        };
        assert!(err.is_not_found());
        assert!(!err.is_transient());
        assert_eq!(err.code(), Some("ResourceNotFound"));
        assert_eq!(err.request_id(), Some("abc"));
        let text = err.to_string();
        assert!(
            text.contains("'g'") && text.contains("404") && text.contains("abc"),
            "{text}"
        );
    }

    #[test]
    fn quota_and_transient() {
        let body = br#"{"error":{"code":"ContainerGroupQuotaReached","message":"Resource type 'Microsoft.ContainerInstance/containerGroups' container group quota 'StandardSpotCores' exceeded in region 'westus'."}}"#;
        let f = Failure::from_response(StatusCode::BAD_REQUEST, &http::HeaderMap::new(), body);
        assert!(f.is_quota_exceeded());
        assert!(!f.is_transient());
        let body =
            br#"{"error":{"code":"ContainerGroupTransitioning","message":"still transitioning"}}"#;
        let f = Failure::from_response(StatusCode::CONFLICT, &http::HeaderMap::new(), body);
        assert!(f.is_conflict() && f.is_transient());
        let f = Failure::from_response(StatusCode::BAD_GATEWAY, &http::HeaderMap::new(), b"<html>");
        assert!(f.is_transient());
        assert_eq!(f.message, "<html>");
    }
}
