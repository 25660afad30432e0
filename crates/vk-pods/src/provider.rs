//! The backend interface: what a provider must do to run pods.

use std::time::Duration;

use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::{Pod, PodStatus};

use crate::PodKey;

/// How a provider operation failed; decides what the reconciler does next.
///
/// A pod a provider cannot run is never failed for it: a Deployment would
/// replace a Failed pod at once, again and again. Like a kubelet, the
/// reconciler keeps such pods Pending with a container waiting reason, and
/// retries only what may succeed later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The pod cannot run on this provider as specified (too big, an
    /// unsupported volume or field…). The pod is held Pending, its containers
    /// waiting with `CreateContainerError` and the pod's reason set to
    /// [`ProviderError::reason`]; one Warning event says why. Nothing is
    /// retried until the pod changes.
    InvalidSpec,
    /// What the containers need is not there yet (a missing Secret,
    /// ConfigMap or key). The pod stays Pending with
    /// `CreateContainerConfigError` and creation is retried every few seconds
    /// (at most [`CONFIG_RETRY_MAX`] apart), as a kubelet does, so the pod
    /// starts once the object exists.
    ConfigUnavailable,
    /// An image cannot be pulled. The pod stays Pending with `ErrImagePull`,
    /// then `ImagePullBackOff` while the reconciler backs off (10 s doubling
    /// to 5 minutes, the kubelet's image back-off) before it tries again.
    ImagePull,
    /// Quota or capacity is exhausted. The pod stays Pending with the reason
    /// and creation is retried with backoff.
    QuotaExceeded,
    /// A transient failure (throttling, 5xx, network). Retried with backoff
    /// forever; the pod's status shows the last error.
    Transient,
    /// The operation is not supported by this provider.
    Unsupported,
}

/// The longest wait between two attempts for [`ErrorKind::ConfigUnavailable`]
/// (the kubelet re-syncs a pod with a config error about every 10 s).
pub const CONFIG_RETRY_MAX: Duration = Duration::from_secs(10);

/// A provider failure with a Kubernetes-style reason and a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}: {message}")]
pub struct ProviderError {
    /// What kind of failure this is.
    pub kind: ErrorKind,
    /// A CamelCase reason for the pod's status, e.g. `ExceedsGroupMaximum`.
    pub reason: String,
    /// A human-readable message naming the problem.
    pub message: String,
    /// The container at fault, when one is: only it carries the waiting
    /// reason; the others wait with `ContainerCreating`.
    pub container: Option<String>,
    /// How long the backend asked to wait before the next attempt (an HTTP
    /// `Retry-After`); the reconciler never retries sooner.
    pub retry_after: Option<Duration>,
    /// The image that could not be pulled ([`ErrorKind::ImagePull`]).
    pub image: Option<String>,
}

impl ProviderError {
    /// A new error.
    pub fn new(kind: ErrorKind, reason: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            kind,
            reason: reason.into(),
            message: message.into(),
            container: None,
            retry_after: None,
            image: None,
        }
    }

    /// The same error, naming the container at fault.
    #[must_use]
    pub fn with_container(mut self, container: impl Into<String>) -> Self {
        self.container = Some(container.into());
        self
    }

    /// The same error, with the backend's requested wait.
    #[must_use]
    pub fn with_retry_after(mut self, wait: Option<Duration>) -> Self {
        self.retry_after = wait;
        self
    }

    /// The same error, naming the image that could not be pulled.
    #[must_use]
    pub fn with_image(mut self, image: impl Into<String>) -> Self {
        self.image = Some(image.into());
        self
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
    /// The [`resources_hash`](crate::resources_hash) of the pod it was created
    /// from, if recorded: a pod resized in place no longer matches it.
    pub resources_hash: Option<String>,
    /// Its IP address, when the listing shows one: a pod whose status shows
    /// another (the backend moved or restarted the instance) is read again.
    pub ip: Option<String>,
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

/// Something a provider changed, dropped or could not honour while creating
/// a pod's instance (an ignored field, a lowered limit, no pod IP…). The
/// reconciler shows each once as a Warning event and lists them all in the
/// pod's [`ADJUSTMENTS_ANNOTATION`], so nothing changes silently.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Adjustment {
    /// A CamelCase reason, e.g. `FieldIgnored`, `LimitLowered`, `NoPodIP`.
    pub reason: String,
    /// What was changed and why.
    pub message: String,
    /// Shown as a Warning event (else Normal: an expected, documented change).
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub warning: bool,
}

fn yes() -> bool {
    true
}

#[expect(
    clippy::trivially_copy_pass_by_ref,
    reason = "serde's skip_serializing_if signature"
)]
fn is_true(b: &bool) -> bool {
    *b
}

impl Adjustment {
    /// A new adjustment, shown as a Warning event.
    pub fn new(reason: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
            message: message.into(),
            warning: true,
        }
    }

    /// A new adjustment shown as a Normal event (an expected, documented change).
    pub fn normal(reason: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            warning: false,
            ..Self::new(reason, message)
        }
    }
}

/// The pod annotation listing a pod's [`Adjustment`]s, as a JSON array of
/// `{"reason", "message"}` objects.
pub const ADJUSTMENTS_ANNOTATION: &str = "virtual-kubelet.io/adjustments";

/// What [`Provider::create_pod`] returns.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Created {
    /// The pod's report right after creation, when known.
    pub report: Option<PodReport>,
    /// What the provider changed or could not honour.
    pub adjustments: Vec<Adjustment>,
}

impl From<Option<PodReport>> for Created {
    fn from(report: Option<PodReport>) -> Self {
        Self {
            report,
            adjustments: Vec::new(),
        }
    }
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
    /// The instance failed and will not recover by itself (an image that
    /// could not be pulled after the backend's own retries, a provisioning
    /// failure). The pod is not failed for it: like a kubelet whose pull or
    /// sandbox creation failed, the reconciler keeps the pod Pending with
    /// [`status`](Self::status)' waiting reasons, removes the instance and
    /// creates a new one after a back-off ([`ErrorKind::ImagePull`]: the image
    /// back-off; others: the error back-off).
    pub retry: Option<ProviderError>,
}

/// A backend that runs pods. Implementations must be idempotent: the
/// reconciler may call any method again after a crash or a retry.
pub trait Provider: Send + Sync + 'static {
    /// Creates the instance running `pod`, or adopts the one already running
    /// this pod UID. Returns the pod's report right after creation when known,
    /// and what the provider had to change.
    fn create_pod<'a>(&'a self, pod: &'a Pod) -> BoxFuture<'a, Result<Created, ProviderError>>;

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

    /// Stops the instance of a pod that reached Succeeded or Failed, so it
    /// never runs again (a backend may restart finished containers on its
    /// own) and stops costing, while what users read from it (logs) stays
    /// until the pod is deleted. The default does nothing.
    fn stop_pod<'a>(&'a self, key: &'a PodKey) -> BoxFuture<'a, Result<(), ProviderError>> {
        let _ = key;
        Box::pin(async { Ok(()) })
    }
}
