//! The backend interface: what a provider must do to run pods.

use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::{Pod, PodStatus};

use crate::PodKey;

/// How a provider operation failed; decides what the reconciler does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The pod cannot run on this provider as specified (too big, unsupported
    /// volume, bad image reference…). The pod is marked Failed with the
    /// reason; nothing is retried until the pod changes.
    InvalidSpec,
    /// Quota or capacity is exhausted. The pod stays Pending with the reason
    /// and creation is retried with backoff.
    QuotaExceeded,
    /// A transient failure (throttling, 5xx, network). Retried with backoff
    /// forever; the pod's status shows the last error.
    Transient,
    /// The operation is not supported by this provider.
    Unsupported,
}

/// A provider failure with a Kubernetes-style reason and a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}: {message}")]
pub struct ProviderError {
    /// What kind of failure this is.
    pub kind: ErrorKind,
    /// A CamelCase reason for the pod's status, e.g. `ProviderInvalidSpec`.
    pub reason: String,
    /// A human-readable message naming the problem.
    pub message: String,
}

impl ProviderError {
    /// A new error.
    pub fn new(kind: ErrorKind, reason: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            kind,
            reason: reason.into(),
            message: message.into(),
        }
    }

    /// An [`ErrorKind::InvalidSpec`] error.
    pub fn invalid(reason: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidSpec, reason, message)
    }

    /// An [`ErrorKind::Transient`] error.
    pub fn transient(reason: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Transient, reason, message)
    }

    /// An [`ErrorKind::Unsupported`] error.
    pub fn unsupported(what: &str) -> Self {
        Self::new(
            ErrorKind::Unsupported,
            "NotSupported",
            format!("{what} is not supported by this provider"),
        )
    }
}

/// The coarse state of a backend instance, as a cheap list reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstanceState {
    /// Being created or started: its status should be refreshed soon.
    Creating,
    /// Provisioned; its containers run or ran.
    Running,
    /// Being deleted.
    Deleting,
    /// Provisioning failed.
    Failed,
}

/// One backend instance, as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    /// The pod it runs.
    pub key: PodKey,
    /// Its coarse state.
    pub state: InstanceState,
    /// The [`spec_hash`](crate::spec_hash) of the pod it was created from, if recorded.
    pub spec_hash: Option<String>,
}

/// An event the provider observed for a pod (e.g. `Pulling`, `Started`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderEvent {
    /// Identifies the event so it is published exactly once (e.g. container + name + first timestamp).
    pub id: String,
    /// `Normal` or `Warning`.
    pub type_: String,
    /// The reason (e.g. `Pulling`).
    pub reason: String,
    /// The message.
    pub message: String,
    /// How often it occurred so far; a higher count is published again.
    pub count: i32,
}

/// A pod's status as the provider sees it, with the events it observed.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PodReport {
    /// Phase, conditions (not PodScheduled), container statuses, pod IP, start time.
    pub status: PodStatus,
    /// Events observed so far.
    pub events: Vec<ProviderEvent>,
    /// The instance's coarse state.
    pub state: Option<InstanceState>,
}

/// A backend that runs pods. Implementations must be idempotent: the
/// reconciler may call any method again after a crash or a retry.
pub trait Provider: Send + Sync + 'static {
    /// Creates the instance running `pod`, or adopts the one already running
    /// this pod UID. Returns the pod's report right after creation when known.
    fn create_pod<'a>(
        &'a self,
        pod: &'a Pod,
    ) -> BoxFuture<'a, Result<Option<PodReport>, ProviderError>>;

    /// Deletes the instance of `key`. Returns true once it is gone, never
    /// existed, or its deletion was accepted by a backend that finishes it on
    /// its own (a deletion that fails later leaves an instance the status
    /// sync collects as an orphan); false while the reconciler must call again.
    fn delete_pod<'a>(&'a self, key: &'a PodKey) -> BoxFuture<'a, Result<bool, ProviderError>>;

    /// The current report of `pod`'s instance; `None` when no instance exists.
    fn pod_status<'a>(
        &'a self,
        pod: &'a Pod,
    ) -> BoxFuture<'a, Result<Option<PodReport>, ProviderError>>;

    /// Every instance this provider runs for this node, from one cheap listing.
    fn list_instances(&self) -> BoxFuture<'_, Result<Vec<Instance>, ProviderError>>;
}
