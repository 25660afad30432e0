//! One container's status from its ACI instance view.

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{
    Container as K8sContainer, ContainerState, ContainerStateRunning, ContainerStateTerminated,
    ContainerStateWaiting, ContainerStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use vk_aci::models::{
    ContainerInstanceView, ContainerState as AciState, ContainerStateKind, Event,
};

/// Waiting reasons the kubelet uses, recognised at the start of `detailStatus`.
const WAITING_REASONS: &[&str] = &[
    "ContainerCreating",
    "PodInitializing",
    "ErrImagePull",
    "ImagePullBackOff",
    "CrashLoopBackOff",
    "CreateContainerError",
    "CreateContainerConfigError",
    "InvalidImageName",
    "ErrImageNeverPull",
    "RunContainerError",
];

/// Termination reasons kept from `detailStatus` for non-zero exits.
const TERMINATED_REASONS: &[&str] = &["OOMKilled", "ContainerCannotRun", "DeadlineExceeded"];

/// A container's status: the spec container, its ACI view (if ACI reports it)
/// and the waiting reason to use when nothing more specific is known.
pub(crate) fn container_status(
    spec: &K8sContainer,
    view: Option<&ContainerInstanceView>,
    default_waiting: &str,
) -> ContainerStatus {
    let current = view.and_then(|v| v.current_state.as_ref());
    let events = view.and_then(|v| v.events.as_deref()).unwrap_or_default();
    // A container waiting after it terminated is backing off before a restart.
    let restarting = view
        .and_then(|v| v.previous_state.as_ref())
        .is_some_and(|p| p.state == Some(ContainerStateKind::Terminated));
    let default_waiting = if restarting {
        "CrashLoopBackOff"
    } else {
        default_waiting
    };
    let state = match current {
        Some(s) => state(s, events, default_waiting),
        None => waiting(default_waiting, None),
    };
    let running = state.running.is_some();
    let last_state = view
        .and_then(|v| v.previous_state.as_ref())
        .filter(|p| p.state == Some(ContainerStateKind::Terminated))
        .map(state_terminated);
    let ready = running && !readiness_failed(spec, current, events);
    ContainerStatus {
        name: spec.name.clone(),
        image: spec.image.clone().unwrap_or_default(),
        image_id: String::new(),
        ready,
        started: Some(running),
        restart_count: view.and_then(|v| v.restart_count).unwrap_or(0),
        state: Some(state),
        last_state,
        ..ContainerStatus::default()
    }
}

fn time(t: Option<Timestamp>) -> Option<Time> {
    t.map(Time)
}

fn waiting(reason: &str, message: Option<String>) -> ContainerState {
    ContainerState {
        waiting: Some(ContainerStateWaiting {
            reason: Some(reason.to_owned()),
            message: message.filter(|m| !m.is_empty()),
        }),
        ..ContainerState::default()
    }
}

fn state(s: &AciState, events: &[Event], default_waiting: &str) -> ContainerState {
    match &s.state {
        Some(ContainerStateKind::Running) => ContainerState {
            running: Some(ContainerStateRunning {
                started_at: time(s.start_time),
            }),
            ..ContainerState::default()
        },
        Some(ContainerStateKind::Terminated) => state_terminated(s),
        // ACI sometimes reports pod-like states for containers.
        Some(ContainerStateKind::Other(o)) if o == "Succeeded" || o == "Failed" => {
            state_terminated(s)
        }
        _ => {
            let (reason, message) = waiting_reason(s, events, default_waiting);
            waiting(&reason, message)
        }
    }
}

fn state_terminated(s: &AciState) -> ContainerState {
    let detail = s.detail_status.as_deref().unwrap_or_default().trim();
    let exit_code = s.exit_code.unwrap_or(match detail {
        "Completed" | "Succeeded" => 0,
        _ => 1,
    });
    let reason = if exit_code == 0 {
        "Completed"
    } else {
        TERMINATED_REASONS
            .iter()
            .find(|r| detail.starts_with(**r))
            .copied()
            .unwrap_or("Error")
    };
    let message =
        (!detail.is_empty() && detail != reason && detail != "Completed" && detail != "Error")
            .then(|| detail.to_owned());
    ContainerState {
        terminated: Some(ContainerStateTerminated {
            exit_code,
            reason: Some(reason.to_owned()),
            message,
            started_at: time(s.start_time),
            finished_at: time(s.finish_time),
            ..ContainerStateTerminated::default()
        }),
        ..ContainerState::default()
    }
}

/// The waiting reason: a kubelet reason at the start of `detailStatus`, else
/// derived from the latest event (`Failed` pulling → `ErrImagePull`, `BackOff`
/// pulling → `ImagePullBackOff`, other `BackOff` → `CrashLoopBackOff`), else
/// `default_waiting`.
fn waiting_reason(
    s: &AciState,
    events: &[Event],
    default_waiting: &str,
) -> (String, Option<String>) {
    let detail = s.detail_status.clone().unwrap_or_default();
    let head = detail.split(':').next().unwrap_or_default().trim();
    if let Some(r) = WAITING_REASONS.iter().find(|r| **r == head) {
        let rest = detail[head.len()..].trim_start_matches(':').trim();
        return ((*r).to_owned(), (!rest.is_empty()).then(|| rest.to_owned()));
    }
    let latest = events
        .iter()
        .max_by_key(|e| (e.last_timestamp.or(e.first_timestamp), e.count));
    if let Some(e) = latest {
        let name = e.name.as_deref().unwrap_or_default();
        let message = e.message.clone().unwrap_or_default();
        let about_pull = message.to_ascii_lowercase().contains("pull")
            || message.to_ascii_lowercase().contains("image");
        let reason = match name {
            "Failed" if about_pull => Some("ErrImagePull"),
            "BackOff" if about_pull => Some("ImagePullBackOff"),
            "BackOff" => Some("CrashLoopBackOff"),
            "Failed" => Some("CreateContainerError"),
            _ => None,
        };
        if let Some(r) = reason {
            return (r.to_owned(), Some(message));
        }
    }
    let message = (!detail.is_empty() && detail != default_waiting).then_some(detail);
    (default_waiting.to_owned(), message)
}

/// ACI does not report readiness-probe results in the container state; an
/// `Unhealthy` readiness event newer than the container's start means not ready.
fn readiness_failed(spec: &K8sContainer, current: Option<&AciState>, events: &[Event]) -> bool {
    if spec.readiness_probe.is_none() {
        return false;
    }
    let started = current.and_then(|s| s.start_time);
    events.iter().any(|e| {
        e.name.as_deref() == Some("Unhealthy")
            && e.message
                .as_deref()
                .is_some_and(|m| m.to_ascii_lowercase().contains("readiness"))
            && match (e.last_timestamp.or(e.first_timestamp), started) {
                (Some(t), Some(s)) => t >= s,
                _ => true,
            }
    })
}
