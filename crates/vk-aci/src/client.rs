//! [`ContainerInstances`]: the container group operations of one subscription and resource
//! group, with retries, rate limiting, per-call timeouts and long-running-operation tracking.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::{Stream, TryStreamExt as _};
use http::{HeaderMap, Method, StatusCode};
use serde::de::DeserializeOwned;
use tokio::time::Instant;
use tracing::Instrument as _;

use crate::credentials::{CachingCredential, TokenCredential};
use crate::error::{Failure, FailureKind, header_str};
use crate::lro::{self, LroKind, LroOptions};
use crate::metrics::{ClientMetrics, Metrics};
use crate::models::{
    CachedImage, CachedImagesListResult, Capabilities, CapabilitiesListResult,
    ContainerAttachResponse, ContainerExecRequest, ContainerExecResponse, ContainerGroup,
    ContainerGroupListResult, Logs, Usage, UsageListResult,
};
use crate::rate_limit::{RateLimiter, RateLimits, RequestClass};
use crate::retry::{RetryPolicy, is_retryable_status, retry_after};
use crate::url::{Url, join, parse_endpoint};
use crate::{AzureCloud, Error};

/// The API version this crate speaks.
pub const API_VERSION: &str = "2023-05-01";

const PROVIDER: &str = "Microsoft.ContainerInstance";

/// Options of [`ContainerInstances::logs`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LogOptions {
    /// Only the last `tail` lines.
    pub tail: Option<u32>,
    /// Prefix each line with a timestamp.
    pub timestamps: Option<bool>,
}

/// Builder of [`ContainerInstances`].
#[derive(Debug)]
#[must_use]
pub struct ContainerInstancesBuilder {
    subscription_id: String,
    resource_group: String,
    credential: Arc<dyn TokenCredential>,
    cloud: AzureCloud,
    scope: Option<String>,
    http: Option<reqwest::Client>,
    retry: RetryPolicy,
    rate_limits: RateLimits,
    call_timeout: Duration,
    lro: LroOptions,
    cache_tokens: bool,
}

impl ContainerInstancesBuilder {
    /// Resource Manager and authority endpoints (default: public cloud).
    pub fn cloud(mut self, cloud: AzureCloud) -> Self {
        self.cloud = cloud;
        self
    }

    /// Token scope (default: `{resource_manager}/.default`).
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = Some(scope.into());
        self
    }

    /// Uses this HTTP client instead of [`http_client`](crate::http_client).
    pub fn http_client(mut self, http: reqwest::Client) -> Self {
        self.http = Some(http);
        self
    }

    /// Retry policy.
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Client-side rate limits.
    pub fn rate_limits(mut self, limits: RateLimits) -> Self {
        self.rate_limits = limits;
        self
    }

    /// Timeout of one HTTP attempt (default 30 s).
    pub fn call_timeout(mut self, timeout: Duration) -> Self {
        self.call_timeout = timeout;
        self
    }

    /// Long-running-operation polling.
    pub fn lro(mut self, lro: LroOptions) -> Self {
        self.lro = lro;
        self
    }

    /// Wrap the credential in a [`CachingCredential`] (default true; disable if it already caches).
    pub fn cache_tokens(mut self, cache: bool) -> Self {
        self.cache_tokens = cache;
        self
    }

    /// Builds the client.
    pub fn build(self) -> Result<ContainerInstances, Error> {
        if self.subscription_id.is_empty() || self.resource_group.is_empty() {
            return Err(Error::Config {
                message: "subscription id and resource group must not be empty".into(),
            });
        }
        let endpoint = parse_endpoint(&self.cloud.resource_manager, "resource manager endpoint")?;
        let http = match self.http {
            Some(http) => http,
            None => crate::http::http_client()?,
        };
        let credential: Arc<dyn TokenCredential> = if self.cache_tokens {
            Arc::new(CachingCredential::new(self.credential))
        } else {
            self.credential
        };
        let scope = self.scope.unwrap_or_else(|| self.cloud.arm_scope());
        Ok(ContainerInstances {
            shared: Arc::new(Shared {
                http,
                endpoint,
                subscription_id: self.subscription_id,
                credential,
                scope,
                retry: self.retry,
                limiter: RateLimiter::new(self.rate_limits),
                call_timeout: self.call_timeout,
                lro: self.lro,
                metrics: Metrics::default(),
            }),
            resource_group: self.resource_group.into(),
        })
    }
}

/// Client of the container groups of one subscription and resource group.
///
/// Cheap to clone; clones share the HTTP client, token cache, rate limiter and metrics.
#[derive(Clone, Debug)]
pub struct ContainerInstances {
    pub(crate) shared: Arc<Shared>,
    resource_group: Arc<str>,
}

#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) http: reqwest::Client,
    pub(crate) endpoint: Url,
    pub(crate) subscription_id: String,
    pub(crate) credential: Arc<dyn TokenCredential>,
    scope: String,
    retry: RetryPolicy,
    limiter: RateLimiter,
    call_timeout: Duration,
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
    pub(crate) fn into_error(self, wrap: impl FnOnce(Failure) -> Error) -> Error {
        match self {
            Self::Failure(failure) => wrap(failure),
            Self::Credential(err) => err,
        }
    }
}

impl ContainerInstances {
    /// Starts building a client for `subscription_id` / `resource_group`.
    pub fn builder(
        subscription_id: impl Into<String>,
        resource_group: impl Into<String>,
        credential: Arc<dyn TokenCredential>,
    ) -> ContainerInstancesBuilder {
        ContainerInstancesBuilder {
            subscription_id: subscription_id.into(),
            resource_group: resource_group.into(),
            credential,
            cloud: AzureCloud::public(),
            scope: None,
            http: None,
            retry: RetryPolicy::default(),
            rate_limits: RateLimits::default(),
            call_timeout: Duration::from_secs(30),
            lro: LroOptions::default(),
            cache_tokens: true,
        }
    }

    /// A client for another resource group of the same subscription, sharing everything else.
    pub fn with_resource_group(&self, resource_group: impl Into<String>) -> Self {
        Self {
            shared: self.shared.clone(),
            resource_group: resource_group.into().into(),
        }
    }

    /// The subscription.
    pub fn subscription_id(&self) -> &str {
        &self.shared.subscription_id
    }

    /// The resource group.
    pub fn resource_group(&self) -> &str {
        &self.resource_group
    }

    /// Requests sent so far, by operation and HTTP status.
    pub fn operation_counts(&self) -> Vec<crate::metrics::OperationCount> {
        self.shared.metrics.operation_counts()
    }

    /// A snapshot of the client's counters.
    pub fn metrics(&self) -> ClientMetrics {
        self.shared.metrics.snapshot()
    }

    /// Creates or replaces a group and waits for its long-running operation; returns the final
    /// group. A `Failed` or `Canceled` outcome is an [`Error::CreateOrUpdate`] with kind
    /// [`FailureKind::OperationFailed`].
    pub async fn create_or_update(
        &self,
        name: &str,
        group: &ContainerGroup,
    ) -> Result<ContainerGroup, Error> {
        let wrap = |failure| Error::CreateOrUpdate {
            group: name.to_owned(),
            failure,
        };
        let span =
            tracing::info_span!("aci.create_or_update", group = name, rg = %self.resource_group);
        async {
            let (url, initial, raw) = self.put(name, group).await?;
            lro::wait(&self.shared, &raw, &url, LroKind::Put, Some(initial))
                .await?
                .ok_or_else(|| {
                    Failure::new(
                        FailureKind::InvalidResponse,
                        "no container group at the end of the operation",
                    )
                    .into()
                })
        }
        .instrument(span)
        .await
        .map_err(|e: CallError| e.into_error(wrap))
    }

    /// Sends the PUT and returns the service's first answer (usually a non-terminal
    /// `provisioningState`) without waiting; poll with [`get`](Self::get).
    pub async fn begin_create_or_update(
        &self,
        name: &str,
        group: &ContainerGroup,
    ) -> Result<ContainerGroup, Error> {
        let span = tracing::info_span!("aci.begin_create_or_update", group = name, rg = %self.resource_group);
        self.put(name, group)
            .instrument(span)
            .await
            .map(|(_, initial, _)| initial)
            .map_err(|e| {
                e.into_error(|failure| Error::CreateOrUpdate {
                    group: name.to_owned(),
                    failure,
                })
            })
    }

    async fn put(
        &self,
        name: &str,
        group: &ContainerGroup,
    ) -> Result<(Url, ContainerGroup, RawResponse), CallError> {
        let url = self.group_url(name, &[])?;
        let body = serde_json::to_vec(group).map_err(|e| {
            Failure::new(
                FailureKind::InvalidArgument,
                "cannot serialize the container group",
            )
            .with_source(e)
        })?;
        let raw = self
            .shared
            .send(Method::PUT, &url, Some(&body), RequestClass::Write)
            .await?;
        if !matches!(raw.status, StatusCode::OK | StatusCode::CREATED) {
            return Err(raw.failure().into());
        }
        let initial: ContainerGroup = raw.json("container group")?;
        tracing::debug!(status = raw.status.as_u16(), state = ?initial.provisioning_state(), "PUT accepted");
        Ok((url, initial, raw))
    }

    /// Reads a group (with its instance view).
    pub async fn get(&self, name: &str) -> Result<ContainerGroup, Error> {
        let span = tracing::debug_span!("aci.get", group = name, rg = %self.resource_group);
        async {
            let url = self.group_url(name, &[])?;
            let raw = self
                .shared
                .send(Method::GET, &url, None, RequestClass::Read)
                .await?;
            if raw.status != StatusCode::OK {
                return Err(raw.failure().into());
            }
            Ok(raw.json("container group")?)
        }
        .instrument(span)
        .await
        .map_err(|e: CallError| {
            e.into_error(|failure| Error::Get {
                group: name.to_owned(),
                failure,
            })
        })
    }

    /// Reads a group; `None` if it does not exist.
    pub async fn try_get(&self, name: &str) -> Result<Option<ContainerGroup>, Error> {
        match self.get(name).await {
            Ok(group) => Ok(Some(group)),
            // Only the group itself missing means "none": a missing resource
            // group or subscription is a configuration error.
            Err(err) if err.is_not_found() && !err.is_missing_scope() => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// Deletes a group and waits until it is gone. A group that does not exist (204/404) is
    /// `Ok`; a missing resource group or subscription is an error.
    pub async fn delete(&self, name: &str) -> Result<(), Error> {
        self.delete_inner(name, true).await
    }

    /// Starts deleting a group without waiting for the operation to finish.
    pub async fn begin_delete(&self, name: &str) -> Result<(), Error> {
        self.delete_inner(name, false).await
    }

    async fn delete_inner(&self, name: &str, wait: bool) -> Result<(), Error> {
        let span = tracing::info_span!("aci.delete", group = name, rg = %self.resource_group);
        async {
            let url = self.group_url(name, &[])?;
            let raw = self
                .shared
                .send(Method::DELETE, &url, None, RequestClass::Write)
                .await?;
            match raw.status {
                StatusCode::NOT_FOUND if raw.failure().is_missing_scope() => {
                    Err(raw.failure().into())
                }
                StatusCode::NO_CONTENT | StatusCode::NOT_FOUND => {
                    tracing::debug!(status = raw.status.as_u16(), "already gone");
                    Ok(())
                }
                StatusCode::OK | StatusCode::ACCEPTED => {
                    if wait
                        && (raw.status == StatusCode::ACCEPTED || lro::has_headers(&raw.headers))
                    {
                        lro::wait(&self.shared, &raw, &url, LroKind::Delete, None).await?;
                    }
                    Ok(())
                }
                _ => Err(raw.failure().into()),
            }
        }
        .instrument(span)
        .await
        .map_err(|e: CallError| {
            e.into_error(|failure| Error::Delete {
                group: name.to_owned(),
                failure,
            })
        })
    }

    /// Replaces the tags of a group (PATCH).
    pub async fn update_tags(
        &self,
        name: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<ContainerGroup, Error> {
        let span = tracing::info_span!("aci.update_tags", group = name, rg = %self.resource_group);
        async {
            let url = self.group_url(name, &[])?;
            let body = serde_json::to_vec(&serde_json::json!({ "tags": tags })).map_err(|e| {
                Failure::new(FailureKind::InvalidArgument, "cannot serialize tags").with_source(e)
            })?;
            let raw = self
                .shared
                .send(Method::PATCH, &url, Some(&body), RequestClass::Write)
                .await?;
            if raw.status != StatusCode::OK {
                return Err(raw.failure().into());
            }
            Ok(raw.json("container group")?)
        }
        .instrument(span)
        .await
        .map_err(|e: CallError| {
            e.into_error(|failure| Error::UpdateTags {
                group: name.to_owned(),
                failure,
            })
        })
    }

    /// All groups of the resource group, following `nextLink` (list results carry no instance view).
    pub async fn list(&self) -> Result<Vec<ContainerGroup>, Error> {
        self.list_stream().try_collect().await
    }

    /// The groups of the resource group as a stream, fetching pages as it is consumed.
    pub fn list_stream(&self) -> impl Stream<Item = Result<ContainerGroup, Error>> + Send + '_ {
        let first = self
            .rg_url(&["providers", PROVIDER, "containerGroups"])
            .map_err(CallError::from);
        let rg = self.resource_group.to_string();
        self.shared
            .items::<ContainerGroupListResult>(first)
            .map_err(move |e| {
                e.into_error(|failure| Error::List {
                    resource_group: rg.clone(),
                    failure,
                })
            })
    }

    /// Starts a stopped group and waits for the start operation.
    pub async fn start(&self, name: &str) -> Result<(), Error> {
        self.action(name, "start", LroKind::Action)
            .await
            .map_err(|e| {
                e.into_error(|failure| Error::Start {
                    group: name.to_owned(),
                    failure,
                })
            })
    }

    /// Stops a group (synchronous: terminates its containers).
    pub async fn stop(&self, name: &str) -> Result<(), Error> {
        self.action(name, "stop", LroKind::Action)
            .await
            .map_err(|e| {
                e.into_error(|failure| Error::Stop {
                    group: name.to_owned(),
                    failure,
                })
            })
    }

    /// Restarts all containers of a group in place and waits for the operation.
    pub async fn restart(&self, name: &str) -> Result<(), Error> {
        self.action(name, "restart", LroKind::Action)
            .await
            .map_err(|e| {
                e.into_error(|failure| Error::Restart {
                    group: name.to_owned(),
                    failure,
                })
            })
    }

    async fn action(&self, name: &str, action: &str, kind: LroKind) -> Result<(), CallError> {
        let span =
            tracing::info_span!("aci.action", group = name, action, rg = %self.resource_group);
        async {
            let url = self.group_url(name, &[action])?;
            let raw = self
                .shared
                .send(Method::POST, &url, None, RequestClass::Write)
                .await?;
            match raw.status {
                StatusCode::OK | StatusCode::ACCEPTED | StatusCode::NO_CONTENT => {
                    if lro::has_headers(&raw.headers) {
                        lro::wait(&self.shared, &raw, &url, kind, None).await?;
                    }
                    Ok(())
                }
                _ => Err(raw.failure().into()),
            }
        }
        .instrument(span)
        .await
    }

    /// Logs of a container.
    pub async fn logs(
        &self,
        name: &str,
        container: &str,
        options: LogOptions,
    ) -> Result<String, Error> {
        let span =
            tracing::debug_span!("aci.logs", group = name, container, rg = %self.resource_group);
        async {
            let mut url = self.group_url(name, &["containers", container, "logs"])?;
            {
                let mut query = url.query_pairs_mut();
                if let Some(tail) = options.tail {
                    query.append_pair("tail", &tail.to_string());
                }
                if let Some(timestamps) = options.timestamps {
                    query.append_pair("timestamps", if timestamps { "true" } else { "false" });
                }
            }
            let raw = self
                .shared
                .send(Method::GET, &url, None, RequestClass::Read)
                .await?;
            if raw.status != StatusCode::OK {
                return Err(raw.failure().into());
            }
            let logs: Logs = raw.json("logs")?;
            Ok(logs.content.unwrap_or_default())
        }
        .instrument(span)
        .await
        .map_err(|e: CallError| {
            e.into_error(|failure| Error::Logs {
                group: name.to_owned(),
                container: container.to_owned(),
                failure,
            })
        })
    }

    /// Starts an exec session: returns the WebSocket URI and its password; see
    /// [`exec::connect`](crate::exec::connect).
    pub async fn exec(
        &self,
        name: &str,
        container: &str,
        request: &ContainerExecRequest,
    ) -> Result<ContainerExecResponse, Error> {
        let span =
            tracing::info_span!("aci.exec", group = name, container, rg = %self.resource_group);
        async {
            let url = self.group_url(name, &["containers", container, "exec"])?;
            let body = serde_json::to_vec(request).map_err(|e| {
                Failure::new(
                    FailureKind::InvalidArgument,
                    "cannot serialize exec request",
                )
                .with_source(e)
            })?;
            let raw = self
                .shared
                .send(Method::POST, &url, Some(&body), RequestClass::Write)
                .await?;
            if raw.status != StatusCode::OK {
                return Err(raw.failure().into());
            }
            Ok(raw.json("exec response")?)
        }
        .instrument(span)
        .await
        .map_err(|e: CallError| {
            e.into_error(|failure| Error::Exec {
                group: name.to_owned(),
                container: container.to_owned(),
                failure,
            })
        })
    }

    /// Runs `request` in a container and opens its WebSocket ([`exec`](Self::exec) then
    /// [`exec::connect`](crate::exec::connect)).
    pub async fn exec_session(
        &self,
        name: &str,
        container: &str,
        request: &ContainerExecRequest,
    ) -> Result<crate::exec::ExecSession, Error> {
        let answer = self.exec(name, container, request).await?;
        crate::exec::connect(&answer).await
    }

    /// Attach to a container's output: returns the WebSocket URI and its password.
    pub async fn attach(
        &self,
        name: &str,
        container: &str,
    ) -> Result<ContainerAttachResponse, Error> {
        let span =
            tracing::info_span!("aci.attach", group = name, container, rg = %self.resource_group);
        async {
            let url = self.group_url(name, &["containers", container, "attach"])?;
            let raw = self
                .shared
                .send(Method::POST, &url, None, RequestClass::Write)
                .await?;
            if raw.status != StatusCode::OK {
                return Err(raw.failure().into());
            }
            Ok(raw.json("attach response")?)
        }
        .instrument(span)
        .await
        .map_err(|e: CallError| {
            e.into_error(|failure| Error::Attach {
                group: name.to_owned(),
                container: container.to_owned(),
                failure,
            })
        })
    }

    /// Capabilities of a region (CPU, memory and GPU maxima per OS), all pages.
    pub async fn capabilities(&self, location: &str) -> Result<Vec<Capabilities>, Error> {
        self.location_list::<CapabilitiesListResult>(
            location,
            "capabilities",
            tracing::debug_span!("aci.capabilities", location),
            |location, failure| Error::Capabilities { location, failure },
        )
        .await
    }

    /// Quota usage of a region.
    pub async fn usages(&self, location: &str) -> Result<Vec<Usage>, Error> {
        self.location_list::<UsageListResult>(
            location,
            "usages",
            tracing::debug_span!("aci.usages", location),
            |location, failure| Error::Usages { location, failure },
        )
        .await
    }

    /// Images cached in a region.
    pub async fn cached_images(&self, location: &str) -> Result<Vec<CachedImage>, Error> {
        self.location_list::<CachedImagesListResult>(
            location,
            "cachedImages",
            tracing::debug_span!("aci.cached_images", location),
            |location, failure| Error::CachedImages { location, failure },
        )
        .await
    }

    /// Every item of a per-region list (`locations/{location}/{segment}`), all pages; a failure
    /// is wrapped by `wrap` with the location.
    async fn location_list<P: Page>(
        &self,
        location: &str,
        segment: &str,
        span: tracing::Span,
        wrap: fn(String, Failure) -> Error,
    ) -> Result<Vec<P::Item>, Error> {
        let first = self
            .location_url(location, segment)
            .map_err(CallError::from);
        self.shared
            .items::<P>(first)
            .try_collect()
            .instrument(span)
            .await
            .map_err(|e: CallError| e.into_error(|failure| wrap(location.to_owned(), failure)))
    }

    fn group_url(&self, name: &str, rest: &[&str]) -> Result<Url, Failure> {
        if name.is_empty() || rest.iter().any(|s| s.is_empty()) {
            return Err(Failure::new(FailureKind::InvalidArgument, "empty name"));
        }
        let mut segments = vec!["providers", PROVIDER, "containerGroups", name];
        segments.extend_from_slice(rest);
        self.rg_url(&segments)
    }

    fn rg_url(&self, rest: &[&str]) -> Result<Url, Failure> {
        let mut segments = vec![
            "subscriptions",
            self.shared.subscription_id.as_str(),
            "resourceGroups",
            &self.resource_group,
        ];
        segments.extend_from_slice(rest);
        self.shared.url(&segments)
    }

    fn location_url(&self, location: &str, what: &str) -> Result<Url, Failure> {
        if location.is_empty() {
            return Err(Failure::new(FailureKind::InvalidArgument, "empty location"));
        }
        self.shared.url(&[
            "subscriptions",
            &self.shared.subscription_id,
            "providers",
            PROVIDER,
            "locations",
            location,
            what,
        ])
    }
}

impl Shared {
    fn url(&self, segments: &[&str]) -> Result<Url, Failure> {
        let mut url = join(&self.endpoint, segments)
            .map_err(|m| Failure::new(FailureKind::InvalidArgument, m))?;
        url.query_pairs_mut()
            .append_pair("api-version", API_VERSION);
        Ok(url)
    }

    /// The items of a list, page after page.
    fn items<'a, P: Page + 'a>(
        &'a self,
        first: Result<Url, CallError>,
    ) -> impl Stream<Item = Result<P::Item, CallError>> + Send + 'a {
        self.pages::<P>(first)
            .map_ok(|page| futures::stream::iter(page.into_items().into_iter().map(Ok)))
            .try_flatten()
    }

    /// Pages of a list, following absolute `nextLink`s.
    fn pages<'a, P: Page + 'a>(
        &'a self,
        first: Result<Url, CallError>,
    ) -> impl Stream<Item = Result<P, CallError>> + Send + 'a {
        futures::stream::try_unfold(Some(first), move |next| async move {
            let Some(url) = next else { return Ok(None) };
            let url = url?;
            let raw = self
                .send(Method::GET, &url, None, RequestClass::Read)
                .await?;
            if raw.status != StatusCode::OK {
                return Err(raw.failure().into());
            }
            let page: P = raw.json(P::WHAT)?;
            let next = match page.next_link().filter(|l| !l.is_empty()) {
                Some(link) => {
                    let next = Url::parse(link).map_err(|e| {
                        Failure::new(FailureKind::InvalidResponse, "invalid nextLink")
                            .with_source(e)
                    })?;
                    (next != url).then_some(Ok(next))
                }
                None => None,
            };
            Ok(Some((page, next)))
        })
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

/// A page of a list: its items and the absolute URL of the next page.
pub(crate) trait Page: DeserializeOwned + Send {
    /// What the list holds.
    type Item: Send;
    /// The list, in decode errors ("invalid {WHAT} in response").
    const WHAT: &'static str;
    /// The next page, if any (empty means none).
    fn next_link(&self) -> Option<&str>;
    /// The items of this page.
    fn into_items(self) -> Vec<Self::Item>;
}

/// Implements [`Page`] for list results with `value` and `nextLink`.
macro_rules! page {
    ($($page:ty => $item:ty, $what:literal;)*) => {$(
        impl Page for $page {
            type Item = $item;
            const WHAT: &'static str = $what;
            fn next_link(&self) -> Option<&str> {
                self.next_link.as_deref()
            }
            fn into_items(self) -> Vec<$item> {
                self.value
            }
        }
    )*};
}

page! {
    ContainerGroupListResult => ContainerGroup, "container group list";
    CapabilitiesListResult => Capabilities, "capabilities";
    UsageListResult => Usage, "usages";
    CachedImagesListResult => CachedImage, "cached images";
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
