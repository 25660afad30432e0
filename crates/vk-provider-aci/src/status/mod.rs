//! Container group → pod status (pure).
//!
//! [`group_to_report`] maps a group as ACI returns it from a GET (with its
//! instance view) to the pod's [`PodReport`]: phase, conditions
//! (Initialized, ContainersReady, Ready — never PodScheduled, which the
//! scheduler owns), container and init-container statuses in spec order, pod
//! IP, host IP, start time, and the ACI events. The QoS class is left to the
//! reconciler. [`group_to_instance`] is the cheap form for list results
//! (which carry no instance view).

mod container;
mod events;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{
    Container as K8sContainer, ContainerState, ContainerStateWaiting, ContainerStatus, HostIP, Pod,
    PodCondition, PodIP, PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use vk_aci::models::{
    ContainerGroup, ContainerInstanceView, Event, GroupState, Priority, ProvisioningState,
};
use vk_pods::{ErrorKind, Instance, InstanceState, PodReport, ProviderError, ProviderEvent};

use crate::tags::{GroupOwner, parse_tags};
use container::container_status;

/// The pod reason when ACI failed to provision the group.
pub const PROVIDER_FAILED: &str = "ProviderFailed";

/// The coarse state of a group from its `provisioningState`:
/// Pending/Creating/Repairing/Updating (and unknown states) → Creating,
/// Succeeded → Running, Deleting → Deleting, Failed/Canceled → Failed.
pub fn instance_state(state: Option<&ProvisioningState>) -> InstanceState {
    match state {
        Some(ProvisioningState::Succeeded) => InstanceState::Running,
        Some(ProvisioningState::Deleting) => InstanceState::Deleting,
        Some(ProvisioningState::Failed | ProvisioningState::Canceled) => InstanceState::Failed,
        _ => InstanceState::Creating,
    }
}

/// The [`Instance`] a listed group stands for, from its tags; `None` for groups
/// not created by vk.
pub fn group_to_instance(group: &ContainerGroup) -> Option<Instance> {
    Some(owned_instance(group, parse_tags(group.tags.as_ref()?)?))
}

/// The [`Instance`] of a listed group whose tags were already parsed.
pub(crate) fn owned_instance(group: &ContainerGroup, owner: GroupOwner) -> Instance {
    Instance {
        key: owner.key,
        state: instance_state(group.provisioning_state()),
        spec_hash: owner.spec_hash,
        resources_hash: owner.resources_hash,
        ip: group
            .properties
            .ip_address
            .as_ref()
            .and_then(|ip| ip.ip.clone())
            .filter(|ip| !ip.is_empty()),
    }
}

fn is_sidecar(c: &K8sContainer) -> bool {
    c.restart_policy.as_deref() == Some("Always")
}

fn condition(
    type_: &str,
    ok: bool,
    reason: Option<String>,
    message: Option<String>,
    since: Option<Timestamp>,
) -> PodCondition {
    PodCondition {
        type_: type_.to_owned(),
        status: if ok { "True" } else { "False" }.to_owned(),
        reason: if ok { None } else { reason },
        message: if ok { None } else { message },
        last_transition_time: if ok { since.map(Time) } else { None },
        ..PodCondition::default()
    }
}

fn terminated_code(s: &ContainerStatus) -> Option<i32> {
    s.state
        .as_ref()
        .and_then(|st| st.terminated.as_ref())
        .map(|t| t.exit_code)
}

fn started_at(s: &ContainerStatus) -> Option<Timestamp> {
    let st = s.state.as_ref()?;
    st.running
        .as_ref()
        .and_then(|r| r.started_at.as_ref())
        .or_else(|| st.terminated.as_ref().and_then(|t| t.started_at.as_ref()))
        .map(|t| t.0)
}

/// Maps `group` (from a GET) to `pod`'s status and events. `node_ip` becomes
/// `hostIP`.
pub fn group_to_report(group: &ContainerGroup, pod: &Pod, node_ip: Option<&str>) -> PodReport {
    let props = &group.properties;
    let spec = pod.spec.as_ref();
    let restart_policy = spec
        .and_then(|s| s.restart_policy.as_deref())
        .unwrap_or("Always");
    let app_view = |name: &str| -> Option<&ContainerInstanceView> {
        props
            .containers
            .iter()
            .find(|c| c.name == name)
            .and_then(|c| c.properties.instance_view.as_ref())
    };
    let init_view = |name: &str| -> Option<&ContainerInstanceView> {
        props
            .init_containers
            .iter()
            .flatten()
            .find(|c| c.name == name)
            .and_then(|c| c.properties.instance_view.as_ref())
    };

    // Init containers (native sidecars are ACI containers).
    let inits: &[K8sContainer] = spec
        .and_then(|s| s.init_containers.as_deref())
        .unwrap_or_default();
    let init_statuses: Vec<ContainerStatus> = inits
        .iter()
        .map(|c| {
            if is_sidecar(c) {
                container_status(c, app_view(&c.name), "PodInitializing")
            } else {
                container_status(c, init_view(&c.name), "PodInitializing")
            }
        })
        .collect();
    let containers: &[K8sContainer] = spec.map(|s| s.containers.as_slice()).unwrap_or_default();
    let mut statuses: Vec<ContainerStatus> = containers
        .iter()
        .map(|c| container_status(c, app_view(&c.name), "ContainerCreating"))
        .collect();

    // Started: running, terminated, or waiting to restart after a run.
    let any_app_started = statuses.iter().any(|s| {
        s.last_state.is_some()
            || s.state
                .as_ref()
                .is_some_and(|st| st.running.is_some() || st.terminated.is_some())
    });
    let pending_inits: Vec<&str> = inits
        .iter()
        .zip(&init_statuses)
        .filter(|(c, s)| !is_sidecar(c) && terminated_code(s) != Some(0))
        .map(|(c, _)| c.name.as_str())
        .collect();
    let initialized = pending_inits.is_empty() || any_app_started;
    if !initialized {
        // App containers wait for the init containers.
        for s in &mut statuses {
            if let Some(w) = s.state.as_mut().and_then(|st| st.waiting.as_mut())
                && w.reason.as_deref() == Some("ContainerCreating")
            {
                w.reason = Some("PodInitializing".into());
            }
        }
    }

    let init_failed = inits
        .iter()
        .zip(&init_statuses)
        .any(|(c, s)| !is_sidecar(c) && terminated_code(s).is_some_and(|code| code != 0));
    let provisioning = group.provisioning_state();
    let (phase, reason, message) = phase(
        group,
        restart_policy,
        &statuses,
        any_app_started,
        init_failed,
    );
    let terminal = matches!(phase, "Succeeded" | "Failed");
    // While ACI repairs or moves the group, its containers serve nothing:
    // not ready, so Services stop sending traffic to the old IP.
    let repairing = provisioning
        .filter(|p| {
            matches!(
                p,
                ProvisioningState::Repairing | ProvisioningState::Unhealthy
            )
        })
        .map(ProvisioningState::as_str);
    if repairing.is_some() {
        for s in &mut statuses {
            s.ready = false;
        }
    }

    // Conditions.
    // App containers and native sidecars must be ready.
    let long_running: Vec<&ContainerStatus> = statuses
        .iter()
        .chain(
            init_statuses
                .iter()
                .zip(inits)
                .filter(|(_, c)| is_sidecar(c))
                .map(|(s, _)| s),
        )
        .collect();
    let first_start = statuses.iter().filter_map(started_at).min();
    let last_start = long_running.iter().filter_map(|s| started_at(s)).max();
    let unready: Vec<&str> = long_running
        .iter()
        .filter(|s| !s.ready)
        .map(|s| s.name.as_str())
        .collect();
    let ready = unready.is_empty() && !terminal;
    let (ready_reason, ready_message) = if phase == "Succeeded" {
        (Some("PodCompleted".to_owned()), None)
    } else if let Some(state) = repairing {
        (
            Some(format!("ContainerGroup{state}")),
            Some(format!(
                "ACI reports the container group {state}: it is being repaired or moved to another host"
            )),
        )
    } else {
        (
            Some("ContainersNotReady".to_owned()),
            Some(format!(
                "containers with unready status: [{}]",
                unready.join(" ")
            )),
        )
    };
    let mut conditions = vec![
        condition(
            "Initialized",
            initialized,
            Some("ContainersNotInitialized".to_owned()),
            Some(format!(
                "containers with incomplete status: [{}]",
                pending_inits.join(" ")
            )),
            first_start,
        ),
        condition(
            "ContainersReady",
            ready,
            ready_reason.clone(),
            ready_message.clone(),
            last_start,
        ),
        condition("Ready", ready, ready_reason, ready_message, last_start),
    ];
    if let Some(c) = disruption(group, pod, repairing.is_some()) {
        conditions.push(c);
    }

    let pod_ip = props
        .ip_address
        .as_ref()
        .and_then(|ip| ip.ip.clone())
        .filter(|ip| !ip.is_empty());
    let start_time = start_time(group, &statuses, &init_statuses);
    let status = PodStatus {
        phase: Some(phase.to_owned()),
        reason,
        message,
        conditions: Some(conditions),
        container_statuses: Some(statuses),
        init_container_statuses: (!init_statuses.is_empty()).then_some(init_statuses),
        ephemeral_container_statuses: ephemeral_statuses(pod),
        pod_ip: pod_ip.clone(),
        pod_ips: pod_ip.map(|ip| vec![PodIP { ip }]),
        host_ip: node_ip.map(str::to_owned),
        host_ips: node_ip.map(|ip| vec![HostIP { ip: ip.to_owned() }]),
        start_time: start_time.map(Time),
        ..PodStatus::default()
    };
    let retry = (provisioning_failed(group) && status.phase.as_deref() == Some("Pending"))
        .then(|| retry_error(&status, containers, status.message.as_deref()));
    let mut events = events::events(group);
    if let Some(e) = eviction_event(group, pod, repairing.is_some()) {
        events.push(e);
    }
    PodReport {
        status,
        events,
        state: Some(instance_state(provisioning)),
        retry,
    }
}

/// The `DisruptionTarget` reason of a Spot eviction: the kubelet's, as for a
/// pod on a Spot VM node that Azure reclaims (graceful node shutdown).
pub const SPOT_EVICTION_REASON: &str = "TerminationByKubelet";
/// The `DisruptionTarget` reason once ACI has restarted an evicted group.
pub const SPOT_RESTARTED_REASON: &str = "SpotGroupRestarted";
/// The waiting reason of an ephemeral container (`kubectl debug`).
pub const EPHEMERAL_REASON: &str = "CreateContainerError";

/// A Spot eviction shown the way Kubernetes shows a disrupted pod: while ACI
/// moves an evicted Spot group (`Unhealthy` / `Repairing`, which is how an
/// eviction shows: the group is "automatically restarted"), the condition
/// `DisruptionTarget` is `True` with the kubelet's `TerminationByKubelet`
/// (what a pod on a reclaimed Spot VM node gets); once the group runs again
/// it turns `False` (`SpotGroupRestarted`). Other groups get no such condition.
fn disruption(group: &ContainerGroup, pod: &Pod, moving: bool) -> Option<PodCondition> {
    if group.properties.priority != Some(Priority::Spot) {
        return None;
    }
    let now = Some(Time(Timestamp::now()));
    if moving {
        return Some(PodCondition {
            type_: "DisruptionTarget".into(),
            status: "True".into(),
            reason: Some(SPOT_EVICTION_REASON.into()),
            message: Some(
                "Azure reclaimed the capacity of the Spot container group (Spot eviction): \
                 Azure Container Instances restarts it on other capacity, and its containers \
                 start again"
                    .into(),
            ),
            last_transition_time: now,
            ..PodCondition::default()
        });
    }
    let was_evicted = pod
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .into_iter()
        .flatten()
        .any(|c| {
            c.type_ == "DisruptionTarget"
                && c.status == "True"
                && c.reason.as_deref() == Some(SPOT_EVICTION_REASON)
        });
    was_evicted.then(|| PodCondition {
        type_: "DisruptionTarget".into(),
        status: "False".into(),
        reason: Some(SPOT_RESTARTED_REASON.into()),
        message: Some(
            "Azure Container Instances restarted the Spot container group after its eviction"
                .into(),
        ),
        last_transition_time: now,
        ..PodCondition::default()
    })
}

/// The Warning event of a Spot eviction, once: in the first report that
/// shows it (the pod has no `DisruptionTarget` `True` yet), with the
/// scheduler's reason for a preempted pod, `Preempted`.
fn eviction_event(group: &ContainerGroup, pod: &Pod, moving: bool) -> Option<ProviderEvent> {
    if !moving || group.properties.priority != Some(Priority::Spot) {
        return None;
    }
    let marked = pod
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .into_iter()
        .flatten()
        .any(|c| c.type_ == "DisruptionTarget" && c.status == "True");
    if marked {
        return None;
    }
    let restarts: i32 = group
        .properties
        .containers
        .iter()
        .filter_map(|c| c.properties.instance_view.as_ref())
        .filter_map(|v| v.restart_count)
        .sum();
    Some(ProviderEvent {
        id: format!("vk/SpotEviction/{restarts}"),
        type_: "Warning".into(),
        reason: "Preempted".into(),
        message: "Azure reclaimed the capacity of the Spot container group (Spot eviction); \
                  Azure Container Instances restarts it on other capacity"
            .into(),
        count: 1,
    })
}

/// Ephemeral containers (`kubectl debug`) cannot run: ACI adds no container
/// to a running group. Each waits with the kubelet's `CreateContainerError`
/// and a message saying so (which `kubectl debug` prints while it waits).
fn ephemeral_statuses(pod: &Pod) -> Option<Vec<ContainerStatus>> {
    let ephemeral = pod.spec.as_ref()?.ephemeral_containers.as_ref()?;
    if ephemeral.is_empty() {
        return None;
    }
    Some(
        ephemeral
            .iter()
            .map(|e| ContainerStatus {
                name: e.name.clone(),
                image: e.image.clone().unwrap_or_default(),
                state: Some(ContainerState {
                    waiting: Some(ContainerStateWaiting {
                        reason: Some(EPHEMERAL_REASON.into()),
                        message: Some(
                            "ephemeral containers are not supported: Azure Container Instances \
                             cannot add a container to a running container group (kubectl debug \
                             --copy-to debugs a copy of the pod instead)"
                                .into(),
                        ),
                    }),
                    ..ContainerState::default()
                }),
                ..ContainerStatus::default()
            })
            .collect(),
    )
}

fn provisioning_failed(group: &ContainerGroup) -> bool {
    matches!(
        group.provisioning_state(),
        Some(ProvisioningState::Failed | ProvisioningState::Canceled)
    )
}

/// Why a failed group that never ran is created anew: its image could not be
/// pulled (ACI retried and gave up: the container waits with `ErrImagePull`
/// or `ImagePullBackOff`), or it failed to provision (capacity, a platform
/// error: retried with the error back-off).
fn retry_error(
    status: &PodStatus,
    containers: &[K8sContainer],
    message: Option<&str>,
) -> ProviderError {
    let message = message.unwrap_or("the container group failed to provision");
    let pull = status.container_statuses.iter().flatten().find_map(|c| {
        let w = c.state.as_ref()?.waiting.as_ref()?;
        matches!(
            w.reason.as_deref(),
            Some("ErrImagePull" | "ImagePullBackOff")
        )
        .then(|| (c.name.clone(), w.message.clone()))
    });
    match pull {
        Some((container, pull_message)) => {
            let image = containers
                .iter()
                .find(|c| c.name == container)
                .and_then(|c| c.image.clone())
                .unwrap_or_default();
            ProviderError::new(
                ErrorKind::ImagePull,
                "ErrImagePull",
                pull_message.unwrap_or_else(|| message.to_owned()),
            )
            .with_container(container)
            .with_image(image)
        }
        None => ProviderError::new(ErrorKind::Transient, PROVIDER_FAILED, message),
    }
}

/// The pod phase (with reason and message when Failed for a group-level
/// cause), from the provisioning state, the app containers and the policy.
fn phase(
    group: &ContainerGroup,
    restart_policy: &str,
    statuses: &[ContainerStatus],
    any_app_started: bool,
    init_failed: bool,
) -> (&'static str, Option<String>, Option<String>) {
    if provisioning_failed(group) {
        // A group whose containers ran is not run again (a Job must not run
        // twice); one that never started is created anew (see `retry`).
        let phase = if any_app_started && restart_policy != "Always" {
            "Failed"
        } else {
            "Pending"
        };
        return (
            phase,
            Some(PROVIDER_FAILED.to_owned()),
            Some(failure_message(group)),
        );
    }
    let all_terminated =
        !statuses.is_empty() && statuses.iter().all(|s| terminated_code(s).is_some());
    let all_zero = statuses.iter().all(|s| terminated_code(s) == Some(0));
    let group_state = group.state();
    let phase = if all_terminated {
        match restart_policy {
            "Never" if all_zero => "Succeeded",
            "Never" => "Failed",
            "OnFailure" if all_zero => "Succeeded",
            "OnFailure"
                if matches!(group_state, Some(GroupState::Failed | GroupState::Stopped)) =>
            {
                "Failed"
            }
            // ACI restarts the containers.
            "OnFailure" => "Running",
            _ if matches!(group_state, Some(GroupState::Stopped)) => {
                return (
                    "Failed",
                    Some("Stopped".to_owned()),
                    Some("the container group was stopped".to_owned()),
                );
            }
            _ => "Running",
        }
    } else if any_app_started {
        "Running"
    } else if init_failed && restart_policy == "Never" {
        "Failed"
    } else {
        "Pending"
    };
    (phase, None, None)
}

/// The earliest of the group's first event and the containers' start times.
fn start_time(
    group: &ContainerGroup,
    statuses: &[ContainerStatus],
    init_statuses: &[ContainerStatus],
) -> Option<Timestamp> {
    let p = &group.properties;
    let event_times = p
        .instance_view
        .iter()
        .flat_map(|v| v.events.iter().flatten())
        .chain(p.containers.iter().flat_map(|c| {
            c.properties
                .instance_view
                .iter()
                .flat_map(|v| v.events.iter().flatten())
        }))
        .chain(p.init_containers.iter().flatten().flat_map(|c| {
            c.properties
                .instance_view
                .iter()
                .flat_map(|v| v.events.iter().flatten())
        }))
        .filter_map(|e| e.first_timestamp);
    statuses
        .iter()
        .chain(init_statuses)
        .filter_map(started_at)
        .chain(event_times)
        .min()
}

/// Whether an event reports a failure (ACI marks some only by name, and
/// capacity errors come as names ending in `.`, e.g. `InsufficientCapacity.`).
fn is_failure(e: &Event) -> bool {
    e.event_type
        .as_deref()
        .is_some_and(|t| t.eq_ignore_ascii_case("warning"))
        || matches!(
            e.name.as_deref(),
            Some("Failed" | "FailedMount" | "BackOff")
        )
        || e.name.as_deref().is_some_and(|n| n.ends_with('.'))
}

fn describe(e: &Event) -> String {
    let name = e.name.as_deref().unwrap_or_default().trim_end_matches('.');
    format!("{name}: {}", e.message.as_deref().unwrap_or_default())
}

/// The message of a failed group: its latest failure event (group events
/// first, then container events), else its latest event, else a generic one.
fn failure_message(group: &ContainerGroup) -> String {
    let p = &group.properties;
    let group_events: Vec<&Event> = p
        .instance_view
        .iter()
        .flat_map(|v| v.events.iter().flatten())
        .collect();
    let container_events: Vec<&Event> = p
        .containers
        .iter()
        .filter_map(|c| c.properties.instance_view.as_ref())
        .flat_map(|v| v.events.iter().flatten())
        .collect();
    let latest = |events: &[&Event], only_failures: bool| {
        events
            .iter()
            .filter(|e| !only_failures || is_failure(e))
            .max_by_key(|e| e.last_timestamp.or(e.first_timestamp))
            .map(|e| describe(e))
    };
    latest(&group_events, true)
        .or_else(|| latest(&container_events, true))
        .or_else(|| latest(&group_events, false))
        .unwrap_or_else(|| {
            format!(
                "container group provisioning state {}",
                group
                    .provisioning_state()
                    .map_or("Failed", ProvisioningState::as_str)
            )
        })
}

#[cfg(test)]
mod tests;
