//! The crate's error type: the failing [`Operation`] and its [`Target`] (a container group, a
//! container, a region, ...), each carrying a [`Failure`] with the HTTP status, ARM error code
//! and message and the `x-ms-request-id`; credential and configuration errors have their own
//! variants.

use std::fmt;
use std::time::Duration;

use http::StatusCode;

use crate::models::{CloudError, CloudErrorBody};

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An operation of the service failed (including its long-running operation), e.g.
    /// "get of container group 'g' failed: HTTP 404 ResourceNotFound: ...".
    #[error("{operation} {} {target} failed: {failure}", operation.preposition())]
    Operation {
        /// What was being done.
        operation: Operation,
        /// To what.
        target: Target,
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
    /// A field of a [`CredentialConfig`](crate::CredentialConfig) or
    /// [`RateLimitConfig`](crate::RateLimitConfig) is invalid (`field` is relative to it, e.g.
    /// `tenant_id`).
    #[error("{field}: {reason}")]
    InvalidConfig {
        /// The field.
        field: &'static str,
        /// Why it is invalid.
        reason: String,
    },
    /// The credential a [`CredentialConfig`](crate::CredentialConfig) describes could not be
    /// built; `context` names the setting (`aci.credentials (client-secret)`).
    #[error("{context}")]
    Credential {
        /// The setting and what was attempted.
        context: String,
        /// The cause.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// The operation an [`Error::Operation`] names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Operation {
    /// Creating or updating a container group (PUT and its long-running operation).
    CreateOrUpdate,
    /// Reading a container group.
    Get,
    /// Deleting a container group.
    Delete,
    /// Replacing the tags of a container group.
    UpdateTags,
    /// Listing the container groups of a resource group.
    List,
    /// Starting a container group.
    Start,
    /// Stopping a container group.
    Stop,
    /// Restarting a container group.
    Restart,
    /// Reading a container's logs.
    Logs,
    /// Starting an exec session in a container.
    Exec,
    /// Attaching to a container.
    Attach,
    /// The exec WebSocket (connecting, or while streaming).
    ExecSession,
    /// Reading a region's capabilities.
    Capabilities,
    /// Reading a region's usages.
    Usages,
    /// Reading a region's cached images.
    CachedImages,
    /// Reading Azure Monitor metrics of container groups.
    Metrics,
}

impl Operation {
    /// The word joining the operation to its target in messages ("exec in container ...").
    fn preposition(self) -> &'static str {
        match self {
            Self::Exec => "in",
            Self::Attach => "to",
            Self::ExecSession => "with",
            _ => "of",
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::CreateOrUpdate => "create or update",
            Self::Get => "get",
            Self::Delete => "delete",
            Self::UpdateTags => "tag update",
            Self::List => "list",
            Self::Start => "start",
            Self::Stop => "stop",
            Self::Restart => "restart",
            Self::Logs => "logs",
            Self::Exec => "exec",
            Self::Attach => "attach",
            Self::ExecSession => "exec session",
            Self::Capabilities => "capabilities",
            Self::Usages => "usages",
            Self::CachedImages => "cached images",
            Self::Metrics => "metrics",
        })
    }
}

/// What an [`Error::Operation`] acted on.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Target {
    /// A container group, by name.
    Group(String),
    /// A container of a container group.
    Container {
        /// Container group name.
        group: String,
        /// Container name.
        container: String,
    },
    /// The container groups of a resource group, by the resource group's name.
    ResourceGroup(String),
    /// A region.
    Location(String),
    /// How many container groups a batch call asked for.
    Groups(usize),
    /// The host of an exec WebSocket URI.
    Host(String),
}

impl Target {
    /// A container group.
    pub(crate) fn group(name: &str) -> Self {
        Self::Group(name.to_owned())
    }

    /// A container of group `group`.
    pub(crate) fn container(group: &str, container: &str) -> Self {
        Self::Container {
            group: group.to_owned(),
            container: container.to_owned(),
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Group(group) => write!(f, "container group '{group}'"),
            Self::Container { group, container } => {
                write!(f, "container '{container}' of group '{group}'")
            }
            Self::ResourceGroup(rg) => write!(f, "container groups of resource group '{rg}'"),
            Self::Location(location) => write!(f, "location '{location}'"),
            Self::Groups(n) => write!(f, "{n} container group(s)"),
            Self::Host(host) => write!(f, "'{host}'"),
        }
    }
}

impl Error {
    /// `operation` of `target` failed with `failure`.
    pub(crate) fn failed(operation: Operation, target: Target, failure: Failure) -> Self {
        Self::Operation {
            operation,
            target,
            failure,
        }
    }

    /// The failing operation, unless this is a credential or configuration error.
    pub fn operation(&self) -> Option<Operation> {
        match self {
            Self::Operation { operation, .. } => Some(*operation),
            Self::Token { .. }
            | Self::Config { .. }
            | Self::InvalidConfig { .. }
            | Self::Credential { .. } => None,
        }
    }

    /// What the failing operation acted on, unless this is a credential or configuration error.
    pub fn target(&self) -> Option<&Target> {
        match self {
            Self::Operation { target, .. } => Some(target),
            Self::Token { .. }
            | Self::Config { .. }
            | Self::InvalidConfig { .. }
            | Self::Credential { .. } => None,
        }
    }

    /// The failure detail, unless this is a configuration error.
    pub fn failure(&self) -> Option<&Failure> {
        match self {
            Self::Operation { failure, .. } | Self::Token { failure, .. } => Some(failure),
            Self::Config { .. } | Self::InvalidConfig { .. } | Self::Credential { .. } => None,
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
        let err = Error::failed(Operation::Get, Target::group("g"), failure);
        assert!(err.is_not_found());
        assert!(!err.is_transient());
        assert_eq!(err.code(), Some("ResourceNotFound"));
        assert_eq!(err.request_id(), Some("abc"));
        let text = err.to_string();
        assert!(
            text.starts_with("get of container group 'g' failed: HTTP 404"),
            "{text}"
        );
        assert!(
            text.contains("'g'") && text.contains("404") && text.contains("abc"),
            "{text}"
        );
    }

    #[test]
    fn messages_name_the_operation_and_its_target() {
        let failure = || Failure::new(FailureKind::Transport, "connection failed");
        let cases = [
            (
                Operation::Logs,
                Target::container("g", "c"),
                "logs of container 'c' of group 'g'",
            ),
            (
                Operation::Exec,
                Target::container("g", "c"),
                "exec in container 'c' of group 'g'",
            ),
            (
                Operation::Attach,
                Target::container("g", "c"),
                "attach to container 'c' of group 'g'",
            ),
            (
                Operation::ExecSession,
                Target::Host("h".into()),
                "exec session with 'h'",
            ),
            (
                Operation::List,
                Target::ResourceGroup("rg".into()),
                "list of container groups of resource group 'rg'",
            ),
            (
                Operation::Usages,
                Target::Location("westus".into()),
                "usages of location 'westus'",
            ),
            (
                Operation::Metrics,
                Target::Groups(3),
                "metrics of 3 container group(s)",
            ),
            (
                Operation::UpdateTags,
                Target::group("g"),
                "tag update of container group 'g'",
            ),
        ];
        for (operation, target, text) in cases {
            let err = Error::failed(operation, target.clone(), failure());
            assert_eq!(
                err.to_string(),
                format!("{text} failed: Transport: connection failed")
            );
            assert_eq!(err.operation(), Some(operation));
            assert_eq!(err.target(), Some(&target));
            assert!(err.is_transient());
        }
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
