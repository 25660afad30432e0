//! Long-running operations: follow `Azure-AsyncOperation` (status bodies), else `Location`
//! (202 until done), else the resource's own `provisioningState`, honouring `Retry-After`.

use std::time::Duration;

use http::{HeaderMap, Method, StatusCode};
use tokio::time::Instant;

use crate::error::{Failure, FailureKind, header_str};
use crate::metrics::Metrics;
use crate::models::{ContainerGroup, Event, OperationStatus, ProvisioningState};
use crate::rate_limit::RequestClass;
use crate::retry::retry_after;
use crate::transport::{CallError, RawResponse, Shared};
use crate::url::Url;

/// How long-running operations are polled.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct LroOptions {
    /// Wait between polls when the service sends no `Retry-After`. Default 5 s.
    pub poll_interval: Duration,
    /// Upper bound of one wait, even if `Retry-After` asks for more. Default 60 s.
    pub max_poll_interval: Duration,
    /// Give up after this long (ACI itself fails provisioning after 30 min). Default 35 min.
    pub timeout: Duration,
}

impl Default for LroOptions {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_secs(5),
            max_poll_interval: Duration::from_secs(60),
            timeout: Duration::from_secs(35 * 60),
        }
    }
}

impl LroOptions {
    /// Sets the default poll interval and the cap on any wait.
    pub fn with_poll_interval(mut self, interval: Duration, max: Duration) -> Self {
        self.poll_interval = interval;
        self.max_poll_interval = max.max(interval);
        self
    }

    /// Sets the overall timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

/// What is being waited for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LroKind {
    /// PUT: ends with the group in a terminal provisioning state.
    Put,
    /// DELETE: ends when the group is gone.
    Delete,
    /// POST start/restart: ends when the operation does.
    Action,
}

/// The response carries `Azure-AsyncOperation` or `Location`.
pub(crate) fn has_headers(headers: &HeaderMap) -> bool {
    header_str(headers, "azure-asyncoperation").is_some()
        || header_str(headers, "location").is_some()
}

/// Waits for the operation started by `initial` on `resource` (the group's URL). Returns the
/// final group for [`LroKind::Put`], `None` otherwise.
pub(crate) async fn wait(
    shared: &Shared,
    initial: &RawResponse,
    resource: &Url,
    kind: LroKind,
    initial_group: Option<ContainerGroup>,
) -> Result<Option<ContainerGroup>, CallError> {
    let mut poller = Poller {
        shared,
        deadline: Instant::now() + shared.lro.timeout,
        next_wait: wait_for(&shared.lro, &initial.headers),
    };
    let resource_group_url = strip_action(resource, kind);
    if let Some(link) = header_str(&initial.headers, "azure-asyncoperation") {
        let url = parse_link(link)?;
        tracing::debug!("tracking Azure-AsyncOperation");
        poller.async_operation(&url).await?;
    } else if let Some(link) = header_str(&initial.headers, "location") {
        let url = parse_link(link)?;
        tracing::debug!("tracking Location");
        if let Some(final_response) = poller.location(&url).await?
            && kind == LroKind::Put
            && let Ok(group) = serde_json::from_slice::<ContainerGroup>(&final_response.body)
            && group
                .provisioning_state()
                .is_some_and(ProvisioningState::is_terminal)
        {
            return check_group(group).map(Some);
        }
    } else {
        match kind {
            LroKind::Put => {
                if let Some(group) = initial_group
                    && group
                        .provisioning_state()
                        .is_none_or(ProvisioningState::is_terminal)
                {
                    return check_group(group).map(Some);
                }
                tracing::debug!("tracking provisioningState");
                return poller
                    .resource_until_terminal(&resource_group_url)
                    .await
                    .map(Some);
            }
            LroKind::Delete => {
                poller.resource_until_gone(&resource_group_url).await?;
                return Ok(None);
            }
            LroKind::Action => return Ok(None),
        }
    }
    match kind {
        LroKind::Put => {
            let raw = poller.get(&resource_group_url).await?;
            check_group(raw.ok_json("container group")?).map(Some)
        }
        LroKind::Delete | LroKind::Action => Ok(None),
    }
}

struct Poller<'a> {
    shared: &'a Shared,
    deadline: Instant,
    next_wait: Duration,
}

impl Poller<'_> {
    async fn pause(&mut self) -> Result<(), CallError> {
        let now = Instant::now();
        if now + self.next_wait > self.deadline {
            let failure = Failure::new(
                FailureKind::OperationTimedOut,
                format!("operation not finished after {:?}", self.shared.lro.timeout),
            );
            return Err(failure.into());
        }
        tokio::time::sleep(self.next_wait).await;
        Ok(())
    }

    async fn get(&mut self, url: &Url) -> Result<RawResponse, CallError> {
        Metrics::incr(&self.shared.metrics.lro_polls);
        let raw = self
            .shared
            .send(Method::GET, url, None, RequestClass::Read)
            .await?;
        self.next_wait = wait_for(&self.shared.lro, &raw.headers);
        Ok(raw)
    }

    async fn async_operation(&mut self, url: &Url) -> Result<(), CallError> {
        loop {
            self.pause().await?;
            let raw = self.get(url).await?;
            let status: OperationStatus = raw.ok_json("operation status")?;
            tracing::debug!(status = %status.status, "operation status");
            if status.is_succeeded() {
                return Ok(());
            }
            if status.is_terminal() {
                return Err(operation_failed(&status, raw.request_id()).into());
            }
        }
    }

    async fn location(&mut self, url: &Url) -> Result<Option<RawResponse>, CallError> {
        loop {
            self.pause().await?;
            let raw = self.get(url).await?;
            match raw.status {
                StatusCode::ACCEPTED => continue,
                StatusCode::OK | StatusCode::CREATED | StatusCode::NO_CONTENT => {
                    return Ok(Some(raw));
                }
                _ => return Err(raw.failure().into()),
            }
        }
    }

    async fn resource_until_terminal(&mut self, url: &Url) -> Result<ContainerGroup, CallError> {
        loop {
            self.pause().await?;
            let raw = self.get(url).await?;
            let group: ContainerGroup = raw.ok_json("container group")?;
            if group
                .provisioning_state()
                .is_none_or(ProvisioningState::is_terminal)
            {
                return check_group(group);
            }
        }
    }

    async fn resource_until_gone(&mut self, url: &Url) -> Result<(), CallError> {
        loop {
            self.pause().await?;
            let raw = self.get(url).await?;
            match raw.status {
                StatusCode::NOT_FOUND | StatusCode::NO_CONTENT => return Ok(()),
                StatusCode::OK => continue,
                _ => return Err(raw.failure().into()),
            }
        }
    }
}

/// For actions the group's URL is the action URL minus its last segment; for others, itself.
fn strip_action(url: &Url, kind: LroKind) -> Url {
    let mut url = url.clone();
    if kind == LroKind::Action
        && let Ok(mut segments) = url.path_segments_mut()
    {
        segments.pop();
    }
    url
}

fn parse_link(link: &str) -> Result<Url, CallError> {
    Url::parse(link).map_err(|e| {
        Failure::new(
            FailureKind::InvalidResponse,
            "invalid long-running operation URL",
        )
        .with_source(e)
        .into()
    })
}

pub(crate) fn wait_for(options: &crate::lro::LroOptions, headers: &HeaderMap) -> Duration {
    retry_after(headers)
        .unwrap_or(options.poll_interval)
        .min(options.max_poll_interval)
}

/// A group in a terminal state: `Succeeded` (or no state) is fine, `Failed`/`Canceled` is a failure.
fn check_group(group: ContainerGroup) -> Result<ContainerGroup, CallError> {
    match group.provisioning_state() {
        Some(state @ (ProvisioningState::Failed | ProvisioningState::Canceled)) => {
            let mut failure = Failure::new(
                FailureKind::OperationFailed,
                match last_warning(&group) {
                    Some(message) => format!("provisioning state {state}: {message}"),
                    None => format!("provisioning state {state}"),
                },
            );
            failure.code = Some(format!("Provisioning{state}"));
            Err(failure.into())
        }
        _ => Ok(group),
    }
}

/// The most telling event message of a failed group: its last warning, else its last event.
fn last_warning(group: &ContainerGroup) -> Option<String> {
    let group_events = group
        .properties
        .instance_view
        .iter()
        .flat_map(|v| v.events.iter().flatten());
    let container_events = group.properties.containers.iter().flat_map(|c| {
        c.properties
            .instance_view
            .iter()
            .flat_map(|v| v.events.iter().flatten())
    });
    let events: Vec<&Event> = group_events.chain(container_events).collect();
    let pick = events
        .iter()
        .rev()
        .find(|e| e.event_type.as_deref() == Some("Warning"))
        .or_else(|| events.last())?;
    pick.message.clone().or_else(|| pick.name.clone())
}

fn operation_failed(status: &OperationStatus, request_id: Option<String>) -> Failure {
    let mut failure = Failure::new(
        FailureKind::OperationFailed,
        format!("operation {}", status.status),
    );
    if let Some(error) = &status.error {
        failure.code = error.code.clone();
        if let Some(message) = &error.message {
            failure.message = message.clone();
        }
        failure.target = error.target.clone();
        failure.details = error.details.clone().unwrap_or_default();
    } else if let Some(message) = status
        .properties
        .as_ref()
        .and_then(|p| p.get("events"))
        .and_then(|e| e.as_array())
        .and_then(|e| e.last())
        .and_then(|e| e.get("message").or_else(|| e.get("name")))
        .and_then(|m| m.as_str())
    {
        failure.message = format!("operation {}: {message}", status.status);
    }
    failure.request_id = request_id;
    failure
}
