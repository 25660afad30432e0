//! Sending requests: [`Shared`] (the HTTP client, credential, retry policy, rate limiter and
//! metrics every clone of a client shares), [`Shared::send`] with its retries, rate limiting,
//! per-attempt timeouts and token refresh, and the [`RawResponse`] it returns.

use std::sync::Arc;
use std::time::Duration;

use http::{HeaderMap, Method, StatusCode};
use serde::de::DeserializeOwned;
use tokio::time::Instant;

use crate::Error;
use crate::credentials::TokenCredential;
use crate::error::{Failure, FailureKind, Operation, Target, header_str};
use crate::lro::LroOptions;
use crate::metrics::Metrics;
use crate::rate_limit::{RateLimiter, RequestClass};
use crate::retry::{RetryPolicy, is_retryable_status, retry_after};
use crate::url::{Url, join};

/// The API version this crate speaks.
pub const API_VERSION: &str = "2023-05-01";

/// What every clone of a client shares.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) http: reqwest::Client,
    pub(crate) endpoint: Url,
    pub(crate) subscription_id: String,
    pub(crate) credential: Arc<dyn TokenCredential>,
    pub(crate) scope: String,
    pub(crate) retry: RetryPolicy,
    pub(crate) limiter: RateLimiter,
    pub(crate) call_timeout: Duration,
    pub(crate) lro: LroOptions,
    pub(crate) metrics: Metrics,
}

/// A fully read response.
#[derive(Debug)]
pub(crate) struct RawResponse {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Vec<u8>,
    pub(crate) attempts: u32,
}

impl RawResponse {
    /// The failure this response represents.
    pub(crate) fn failure(&self) -> Failure {
        let mut failure = Failure::from_response(self.status, &self.headers, &self.body);
        failure.attempts = self.attempts;
        failure
    }

    pub(crate) fn request_id(&self) -> Option<String> {
        header_str(&self.headers, "x-ms-request-id").map(str::to_owned)
    }

    /// Parses the body as JSON if the status is 200, else returns the failure it represents.
    pub(crate) fn ok_json<T: DeserializeOwned>(&self, what: &str) -> Result<T, Failure> {
        if self.status != StatusCode::OK {
            return Err(self.failure());
        }
        self.json(what)
    }

    /// Parses the body as JSON.
    pub(crate) fn json<T: DeserializeOwned>(&self, what: &str) -> Result<T, Failure> {
        serde_json::from_slice(&self.body)
            .map_err(|e| Failure::decode(what, e, self.status, self.request_id()))
    }

    fn arm_code(&self) -> Option<String> {
        serde_json::from_slice::<crate::models::CloudError>(&self.body)
            .ok()?
            .error?
            .code
    }
}

/// Why a call failed: a failure of the call itself, or of getting a token (kept as is).
#[derive(Debug)]
pub(crate) enum CallError {
    Failure(Failure),
    Credential(Error),
}

impl From<Failure> for CallError {
    fn from(failure: Failure) -> Self {
        Self::Failure(failure)
    }
}

impl CallError {
    /// The crate's error: `operation` of `target` failed, or the credential's own error.
    pub(crate) fn into_error(self, operation: Operation, target: Target) -> Error {
        match self {
            Self::Failure(failure) => Error::failed(operation, target, failure),
            Self::Credential(err) => err,
        }
    }
}

impl Shared {
    /// `{endpoint}/{segments...}?api-version=...`.
    pub(crate) fn url(&self, segments: &[&str]) -> Result<Url, Failure> {
        let mut url = join(&self.endpoint, segments)
            .map_err(|m| Failure::new(FailureKind::InvalidArgument, m))?;
        url.query_pairs_mut()
            .append_pair("api-version", API_VERSION);
        Ok(url)
    }

    async fn token(&self) -> Result<crate::credentials::AccessToken, CallError> {
        self.credential
            .get_token(&self.scope)
            .await
            .map_err(CallError::Credential)
    }

    /// Sends a request with retries, rate limiting and per-attempt timeouts. Returns the last
    /// response whatever its status (callers check it), or the transport failure.
    pub(crate) async fn send(
        &self,
        method: Method,
        url: &Url,
        body: Option<&[u8]>,
        class: RequestClass,
    ) -> Result<RawResponse, CallError> {
        let policy = &self.retry;
        let deadline = Instant::now() + policy.deadline;
        let mut attempt: u32 = 0;
        let mut refreshed_token = false;
        // One id for all attempts, so the service's logs tie them together.
        let client_request_id = crate::retry::client_request_id();
        loop {
            attempt += 1;
            if !self.limiter.acquire(class).await.is_zero() {
                Metrics::incr(&self.metrics.rate_limited);
            }
            Metrics::incr(&self.metrics.attempts);
            if attempt > 1 {
                Metrics::incr(&self.metrics.retries);
            }
            let token = self.token().await?;
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                let mut failure = Failure::new(FailureKind::Timeout, "deadline exceeded");
                failure.attempts = attempt - 1;
                return Err(failure.into());
            }
            let mut request = self
                .http
                .request(method.clone(), url.clone())
                .bearer_auth(token.token.expose())
                .header(http::header::ACCEPT, "application/json")
                .header("x-ms-client-request-id", client_request_id.as_str())
                .timeout(self.call_timeout.min(remaining));
            if let Some(body) = body {
                request = request
                    .header(http::header::CONTENT_TYPE, "application/json")
                    .body(body.to_vec());
            }
            tracing::trace!(%method, path = url.path(), attempt, client_request_id, "sending");
            let outcome = async {
                let response = request.send().await?;
                let status = response.status();
                let headers = response.headers().clone();
                let body = response.bytes().await?;
                Ok::<_, reqwest::Error>((status, headers, body.to_vec()))
            }
            .await;
            let op = crate::metrics::operation(&method, url.path());
            let delay = match outcome {
                Ok((status, headers, body)) => {
                    self.metrics.record(op, status.as_u16());
                    self.metrics.observe_headers(&headers);
                    let raw = RawResponse {
                        status,
                        headers,
                        body,
                        attempts: attempt,
                    };
                    tracing::debug!(%method, path = url.path(), status = status.as_u16(), attempt, request_id = raw.request_id().as_deref().unwrap_or(""), "response");
                    if status == StatusCode::UNAUTHORIZED && !refreshed_token {
                        // The token may have been revoked or rotated: get a new one, once.
                        refreshed_token = true;
                        self.credential.invalidate();
                        attempt -= 1;
                        continue;
                    }
                    if status == StatusCode::TOO_MANY_REQUESTS {
                        Metrics::incr(&self.metrics.throttled);
                    }
                    if status.is_server_error() {
                        Metrics::incr(&self.metrics.server_errors);
                    }
                    let transitioning = status == StatusCode::CONFLICT
                        && policy.retry_transitioning
                        && raw.arm_code().as_deref() == Some("ContainerGroupTransitioning");
                    if !is_retryable_status(status) && !transitioning {
                        return Ok(raw);
                    }
                    let mut delay =
                        retry_after(&raw.headers).unwrap_or_else(|| policy.backoff(attempt));
                    if transitioning {
                        delay = delay.max(policy.transitioning_delay);
                    }
                    if attempt >= policy.max_attempts || past_deadline(delay, deadline) {
                        tracing::warn!(%method, path = url.path(), status = status.as_u16(), attempt, "giving up");
                        return Ok(raw);
                    }
                    tracing::warn!(%method, path = url.path(), status = status.as_u16(), attempt, ?delay, "retrying");
                    delay
                }
                Err(err) => {
                    self.metrics.record(op, 0);
                    Metrics::incr(&self.metrics.transport_errors);
                    let retryable = !err.is_builder() && !err.is_redirect();
                    let mut failure = Failure::from_reqwest(err);
                    failure.attempts = attempt;
                    let delay = policy.backoff(attempt);
                    if !retryable
                        || attempt >= policy.max_attempts
                        || past_deadline(delay, deadline)
                    {
                        tracing::warn!(%method, path = url.path(), attempt, error = %failure, "giving up");
                        return Err(failure.into());
                    }
                    tracing::warn!(%method, path = url.path(), attempt, ?delay, error = %failure, "retrying");
                    delay
                }
            };
            tokio::time::sleep(delay).await;
        }
    }
}

/// Whether waiting `delay` from now reaches `deadline` (then the call gives up). A delay
/// beyond what an `Instant` can hold (a huge `Retry-After`) is past any deadline.
pub(crate) fn past_deadline(delay: Duration, deadline: Instant) -> bool {
    Instant::now()
        .checked_add(delay)
        .is_none_or(|at| at >= deadline)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fuzz crash `arm_failure/crash-d2c0b3dd380dc457c44508490fc2a2e0408dac05`, second layer:
    /// once `retry_after` saturated, a `Retry-After` of `Duration::MAX` (and already before, an
    /// integer one of `u64::MAX` seconds) overflowed `Instant::now() + delay` in the retry
    /// loop's deadline check, a panic on any throttled or failed response carrying it.
    #[test]
    fn huge_delays_are_past_the_deadline() {
        let deadline = Instant::now() + Duration::from_secs(120);
        assert!(past_deadline(Duration::MAX, deadline));
        assert!(past_deadline(Duration::from_secs(u64::MAX), deadline));
        assert!(past_deadline(Duration::from_secs(121), deadline));
        assert!(!past_deadline(Duration::from_secs(1), deadline));
    }
}
