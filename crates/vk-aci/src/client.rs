//! [`ContainerInstances`]: the container group operations of one subscription and resource
//! group, with retries, rate limiting, per-call timeouts and long-running-operation tracking.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::{Stream, TryStreamExt as _};
use http::{Method, StatusCode};

use crate::Error;
use crate::error::{Failure, FailureKind, Operation, Target};
use crate::lro::{self, LroKind};
use crate::metrics::ClientMetrics;
use crate::models::{
    CachedImage, CachedImagesListResult, Capabilities, CapabilitiesListResult,
    ContainerAttachResponse, ContainerExecRequest, ContainerExecResponse, ContainerGroup,
    ContainerGroupListResult, Logs, Usage, UsageListResult,
};
use crate::paging::Page;
use crate::rate_limit::RequestClass;
use crate::transport::{CallError, RawResponse, Shared};
use crate::url::Url;

const PROVIDER: &str = "Microsoft.ContainerInstance";

/// Options of [`ContainerInstances::logs`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LogOptions {
    /// Only the last `tail` lines.
    pub tail: Option<u32>,
    /// Prefix each line with a timestamp.
    pub timestamps: Option<bool>,
}

/// Client of the container groups of one subscription and resource group.
///
/// Cheap to clone; clones share the HTTP client, token cache, rate limiter and metrics.
#[derive(Clone, Debug)]
pub struct ContainerInstances {
    pub(crate) shared: Arc<Shared>,
    pub(crate) resource_group: Arc<str>,
}

impl ContainerInstances {
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
    /// group. A `Failed` or `Canceled` outcome is an [`Error::Operation`] of
    /// [`Operation::CreateOrUpdate`] with kind [`FailureKind::OperationFailed`].
    #[tracing::instrument(
        name = "aci.create_or_update",
        skip_all,
        fields(group = name, rg = %self.resource_group),
        err(level = "debug"),
    )]
    pub async fn create_or_update(
        &self,
        name: &str,
        group: &ContainerGroup,
    ) -> Result<ContainerGroup, Error> {
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
        .await
        .map_err(|e: CallError| e.into_error(Operation::CreateOrUpdate, Target::group(name)))
    }

    /// Sends the PUT and returns the service's first answer (usually a non-terminal
    /// `provisioningState`) without waiting; poll with [`get`](Self::get).
    #[tracing::instrument(
        name = "aci.begin_create_or_update",
        skip_all,
        fields(group = name, rg = %self.resource_group),
        err(level = "debug"),
    )]
    pub async fn begin_create_or_update(
        &self,
        name: &str,
        group: &ContainerGroup,
    ) -> Result<ContainerGroup, Error> {
        self.put(name, group)
            .await
            .map(|(_, initial, _)| initial)
            .map_err(|e| e.into_error(Operation::CreateOrUpdate, Target::group(name)))
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
    #[tracing::instrument(
        name = "aci.get",
        level = "debug",
        skip_all,
        fields(group = name, rg = %self.resource_group),
        err(level = "debug"),
    )]
    pub async fn get(&self, name: &str) -> Result<ContainerGroup, Error> {
        async {
            let url = self.group_url(name, &[])?;
            let raw = self
                .shared
                .send(Method::GET, &url, None, RequestClass::Read)
                .await?;
            Ok(raw.ok_json("container group")?)
        }
        .await
        .map_err(|e: CallError| e.into_error(Operation::Get, Target::group(name)))
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

    #[tracing::instrument(
        name = "aci.delete",
        skip_all,
        fields(group = name, rg = %self.resource_group),
        err(level = "debug"),
    )]
    async fn delete_inner(&self, name: &str, wait: bool) -> Result<(), Error> {
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
        .await
        .map_err(|e: CallError| e.into_error(Operation::Delete, Target::group(name)))
    }

    /// Replaces the tags of a group (PATCH).
    #[tracing::instrument(
        name = "aci.update_tags",
        skip_all,
        fields(group = name, rg = %self.resource_group),
        err(level = "debug"),
    )]
    pub async fn update_tags(
        &self,
        name: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<ContainerGroup, Error> {
        async {
            let url = self.group_url(name, &[])?;
            let body = serde_json::to_vec(&serde_json::json!({ "tags": tags })).map_err(|e| {
                Failure::new(FailureKind::InvalidArgument, "cannot serialize tags").with_source(e)
            })?;
            let raw = self
                .shared
                .send(Method::PATCH, &url, Some(&body), RequestClass::Write)
                .await?;
            Ok(raw.ok_json("container group")?)
        }
        .await
        .map_err(|e: CallError| e.into_error(Operation::UpdateTags, Target::group(name)))
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
            .map_err(move |e| e.into_error(Operation::List, Target::ResourceGroup(rg.clone())))
    }

    /// Starts a stopped group and waits for the start operation.
    pub async fn start(&self, name: &str) -> Result<(), Error> {
        self.action(name, "start", Operation::Start).await
    }

    /// Stops a group (synchronous: terminates its containers).
    pub async fn stop(&self, name: &str) -> Result<(), Error> {
        self.action(name, "stop", Operation::Stop).await
    }

    /// Restarts all containers of a group in place and waits for the operation.
    pub async fn restart(&self, name: &str) -> Result<(), Error> {
        self.action(name, "restart", Operation::Restart).await
    }

    /// POSTs `action` to a group and waits for its operation, if it has one.
    #[tracing::instrument(
        name = "aci.action",
        skip_all,
        fields(group = name, action, rg = %self.resource_group),
        err(level = "debug"),
    )]
    async fn action(&self, name: &str, action: &str, operation: Operation) -> Result<(), Error> {
        async {
            let url = self.group_url(name, &[action])?;
            let raw = self
                .shared
                .send(Method::POST, &url, None, RequestClass::Write)
                .await?;
            match raw.status {
                StatusCode::OK | StatusCode::ACCEPTED | StatusCode::NO_CONTENT => {
                    if lro::has_headers(&raw.headers) {
                        lro::wait(&self.shared, &raw, &url, LroKind::Action, None).await?;
                    }
                    Ok(())
                }
                _ => Err(raw.failure().into()),
            }
        }
        .await
        .map_err(|e: CallError| e.into_error(operation, Target::group(name)))
    }

    /// Logs of a container.
    #[tracing::instrument(
        name = "aci.logs",
        level = "debug",
        skip_all,
        fields(group = name, container, rg = %self.resource_group),
        err(level = "debug"),
    )]
    pub async fn logs(
        &self,
        name: &str,
        container: &str,
        options: LogOptions,
    ) -> Result<String, Error> {
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
            let logs: Logs = raw.ok_json("logs")?;
            Ok(logs.content.unwrap_or_default())
        }
        .await
        .map_err(|e: CallError| e.into_error(Operation::Logs, Target::container(name, container)))
    }

    /// Starts an exec session: returns the WebSocket URI and its password; see
    /// [`exec::connect`](crate::exec::connect).
    #[tracing::instrument(
        name = "aci.exec",
        skip_all,
        fields(group = name, container, rg = %self.resource_group),
        err(level = "debug"),
    )]
    pub async fn exec(
        &self,
        name: &str,
        container: &str,
        request: &ContainerExecRequest,
    ) -> Result<ContainerExecResponse, Error> {
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
            Ok(raw.ok_json("exec response")?)
        }
        .await
        .map_err(|e: CallError| e.into_error(Operation::Exec, Target::container(name, container)))
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
    #[tracing::instrument(
        name = "aci.attach",
        skip_all,
        fields(group = name, container, rg = %self.resource_group),
        err(level = "debug"),
    )]
    pub async fn attach(
        &self,
        name: &str,
        container: &str,
    ) -> Result<ContainerAttachResponse, Error> {
        async {
            let url = self.group_url(name, &["containers", container, "attach"])?;
            let raw = self
                .shared
                .send(Method::POST, &url, None, RequestClass::Write)
                .await?;
            Ok(raw.ok_json("attach response")?)
        }
        .await
        .map_err(|e: CallError| e.into_error(Operation::Attach, Target::container(name, container)))
    }

    /// Capabilities of a region (CPU, memory and GPU maxima per OS), all pages.
    #[tracing::instrument(
        name = "aci.capabilities",
        level = "debug",
        skip_all,
        fields(location),
        err(level = "debug")
    )]
    pub async fn capabilities(&self, location: &str) -> Result<Vec<Capabilities>, Error> {
        self.location_list::<CapabilitiesListResult>(
            location,
            "capabilities",
            Operation::Capabilities,
        )
        .await
    }

    /// Quota usage of a region.
    #[tracing::instrument(
        name = "aci.usages",
        level = "debug",
        skip_all,
        fields(location),
        err(level = "debug")
    )]
    pub async fn usages(&self, location: &str) -> Result<Vec<Usage>, Error> {
        self.location_list::<UsageListResult>(location, "usages", Operation::Usages)
            .await
    }

    /// Images cached in a region.
    #[tracing::instrument(
        name = "aci.cached_images",
        level = "debug",
        skip_all,
        fields(location),
        err(level = "debug")
    )]
    pub async fn cached_images(&self, location: &str) -> Result<Vec<CachedImage>, Error> {
        self.location_list::<CachedImagesListResult>(
            location,
            "cachedImages",
            Operation::CachedImages,
        )
        .await
    }

    /// Every item of a per-region list (`locations/{location}/{segment}`), all pages; a failure
    /// is an `operation` of the location.
    async fn location_list<P: Page>(
        &self,
        location: &str,
        segment: &str,
        operation: Operation,
    ) -> Result<Vec<P::Item>, Error> {
        let first = self
            .location_url(location, segment)
            .map_err(CallError::from);
        self.shared
            .items::<P>(first)
            .try_collect()
            .await
            .map_err(|e: CallError| e.into_error(operation, Target::Location(location.to_owned())))
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
