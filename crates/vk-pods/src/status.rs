//! Pod status: building, comparing and patching.

use k8s_openapi::api::core::v1::{
    Container, ContainerState, ContainerStateTerminated, ContainerStateWaiting, ContainerStatus,
    Pod, PodCondition, PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use serde_json::{Value, json};

/// True when the pod reached a terminal phase.
pub fn is_terminal(pod: &Pod) -> bool {
    matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded" | "Failed")
    )
}

/// A Failed status with a reason and message (admission rejections, invalid specs).
pub fn failed(reason: &str, message: &str) -> PodStatus {
    PodStatus {
        phase: Some("Failed".into()),
        reason: Some(reason.into()),
        message: Some(message.into()),
        ..PodStatus::default()
    }
}

/// The first container waiting reason in `status` that says more than
/// "being created" (init containers first).
pub fn waiting_reason(status: &PodStatus) -> Option<&str> {
    status
        .init_container_statuses
        .iter()
        .chain(status.container_statuses.iter())
        .flatten()
        .filter_map(|c| c.state.as_ref()?.waiting.as_ref()?.reason.as_deref())
        .find(|r| *r != "ContainerCreating" && *r != "PodInitializing")
}

/// A Pending status explaining why the pod does not run yet (quota,
/// throttling, an outage): the pod's reason and message say why, its
/// containers wait with `ContainerCreating`.
pub fn pending(pod: &Pod, reason: &str, message: &str) -> PodStatus {
    let mut status = waiting(pod, "ContainerCreating", None, None);
    status.reason = Some(reason.into());
    status.message = Some(message.into());
    status
}

fn container_waiting(c: &Container, reason: &str, message: Option<&str>) -> ContainerStatus {
    ContainerStatus {
        name: c.name.clone(),
        image: c.image.clone().unwrap_or_default(),
        image_id: String::new(),
        ready: false,
        started: Some(false),
        restart_count: 0,
        state: Some(ContainerState {
            waiting: Some(ContainerStateWaiting {
                reason: Some(reason.to_owned()),
                message: message.map(str::to_owned),
            }),
            ..ContainerState::default()
        }),
        ..ContainerStatus::default()
    }
}

fn not_ready(type_: &str, reason: &str, message: String) -> PodCondition {
    PodCondition {
        type_: type_.into(),
        status: "False".into(),
        reason: Some(reason.into()),
        message: Some(message),
        ..PodCondition::default()
    }
}

/// A Pending status whose containers wait, as a kubelet reports a pod it
/// cannot start yet (`kubectl get pods` shows the waiting reason): every app
/// container — or only `container`, when given — waits with `reason` and
/// `message` (the others with `ContainerCreating`); init containers wait
/// with `PodInitializing` unless one of them is `container`.
pub fn waiting(
    pod: &Pod,
    reason: &str,
    message: Option<&str>,
    container: Option<&str>,
) -> PodStatus {
    let spec = pod.spec.as_ref();
    let at_fault = |c: &Container| container.is_none_or(|n| n == c.name);
    let containers: Vec<ContainerStatus> = spec
        .map(|s| s.containers.as_slice())
        .unwrap_or_default()
        .iter()
        .map(|c| {
            if at_fault(c) {
                container_waiting(c, reason, message)
            } else {
                container_waiting(c, "ContainerCreating", None)
            }
        })
        .collect();
    let inits: Vec<ContainerStatus> = spec
        .and_then(|s| s.init_containers.as_deref())
        .unwrap_or_default()
        .iter()
        .map(|c| {
            if container == Some(c.name.as_str()) {
                container_waiting(c, reason, message)
            } else {
                container_waiting(c, "PodInitializing", None)
            }
        })
        .collect();
    let names = |v: &[ContainerStatus]| {
        v.iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut conditions = Vec::new();
    if inits.is_empty() {
        conditions.push(PodCondition {
            type_: "Initialized".into(),
            status: "True".into(),
            ..PodCondition::default()
        });
    } else {
        conditions.push(not_ready(
            "Initialized",
            "ContainersNotInitialized",
            format!("containers with incomplete status: [{}]", names(&inits)),
        ));
    }
    let unready = format!("containers with unready status: [{}]", names(&containers));
    conditions.push(not_ready(
        "ContainersReady",
        "ContainersNotReady",
        unready.clone(),
    ));
    conditions.push(not_ready("Ready", "ContainersNotReady", unready));
    PodStatus {
        phase: Some("Pending".into()),
        conditions: Some(conditions),
        container_statuses: Some(containers),
        init_container_statuses: (!inits.is_empty()).then_some(inits),
        ..PodStatus::default()
    }
}

/// The condition of a pod whose in-place resize the provider cannot apply.
pub fn resize_infeasible() -> PodCondition {
    PodCondition {
        type_: "PodResizePending".into(),
        status: "True".into(),
        reason: Some("Infeasible".into()),
        message: Some(
            "the provider cannot resize a running instance: the pod keeps the resources it \
             was created with; delete it (its controller re-creates it) to apply the new ones"
                .into(),
        ),
        last_transition_time: Some(Time(jiff::Timestamp::now())),
        ..PodCondition::default()
    }
}

/// The status of a pod stopped at its `activeDeadlineSeconds`, as the kubelet
/// writes it: Failed with `DeadlineExceeded`, not ready, every container
/// terminated (killed, exit code 137) and `start_time` kept. `previous` is the
/// pod's last status, for the containers' start times.
pub fn deadline_exceeded(pod: &Pod, previous: Option<&PodStatus>) -> PodStatus {
    const MESSAGE: &str = "Pod was active on the node longer than the specified deadline";
    let now = Time(jiff::Timestamp::now());
    let started = |name: &str| {
        previous
            .and_then(|s| s.container_statuses.as_ref())
            .into_iter()
            .flatten()
            .find(|c| c.name == name)
            .and_then(|c| c.state.as_ref())
            .and_then(|st| {
                st.running
                    .as_ref()
                    .and_then(|r| r.started_at.clone())
                    .or_else(|| st.terminated.as_ref().and_then(|t| t.started_at.clone()))
            })
    };
    let spec = pod.spec.as_ref();
    let containers: Vec<ContainerStatus> = spec
        .map(|s| s.containers.as_slice())
        .unwrap_or_default()
        .iter()
        .map(|c| {
            let restart_count = previous
                .and_then(|s| s.container_statuses.as_ref())
                .into_iter()
                .flatten()
                .find(|s| s.name == c.name)
                .map_or(0, |s| s.restart_count);
            ContainerStatus {
                name: c.name.clone(),
                image: c.image.clone().unwrap_or_default(),
                image_id: String::new(),
                ready: false,
                started: Some(false),
                restart_count,
                state: Some(ContainerState {
                    terminated: Some(ContainerStateTerminated {
                        exit_code: 137,
                        reason: Some("Error".into()),
                        message: Some(MESSAGE.into()),
                        started_at: started(&c.name),
                        finished_at: Some(now.clone()),
                        ..ContainerStateTerminated::default()
                    }),
                    ..ContainerState::default()
                }),
                ..ContainerStatus::default()
            }
        })
        .collect();
    let names = containers
        .iter()
        .map(|c| c.name.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    let unready = format!("containers with unready status: [{names}]");
    PodStatus {
        phase: Some("Failed".into()),
        reason: Some("DeadlineExceeded".into()),
        message: Some(MESSAGE.into()),
        conditions: Some(vec![
            not_ready("ContainersReady", "PodFailed", unready.clone()),
            not_ready("Ready", "PodFailed", unready),
        ]),
        container_statuses: Some(containers),
        start_time: previous.and_then(|s| s.start_time.clone()),
        pod_ip: previous.and_then(|s| s.pod_ip.clone()),
        ..PodStatus::default()
    }
}

/// The pod's QoS class, computed as the API server does.
pub fn qos_class(pod: &Pod) -> &'static str {
    let Some(spec) = &pod.spec else {
        return "BestEffort";
    };
    let mut any = false;
    let mut guaranteed = true;
    for c in spec
        .containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
    {
        let res = c.resources.as_ref();
        let requests = res.and_then(|r| r.requests.as_ref());
        let limits = res.and_then(|r| r.limits.as_ref());
        for name in ["cpu", "memory"] {
            let req = requests.and_then(|r| r.get(name));
            let lim = limits.and_then(|l| l.get(name));
            if req.is_some() || lim.is_some() {
                any = true;
            }
            match (req, lim) {
                (Some(r), Some(l)) if r == l => {}
                (None, Some(_)) => {} // requests default to limits
                _ => guaranteed = false,
            }
        }
    }
    if !any {
        "BestEffort"
    } else if guaranteed {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

fn cond_key(c: &PodCondition) -> (&str, &str, Option<&str>) {
    (c.type_.as_str(), c.status.as_str(), c.reason.as_deref())
}

fn container_key(c: &ContainerStatus) -> Value {
    let state = c.state.as_ref();
    json!([
        c.name,
        c.ready,
        c.restart_count,
        c.image,
        c.started,
        // Whole seconds: the API server stores times at that precision, so a
        // provider's sub-second start time would otherwise always differ.
        state
            .and_then(|s| s.running.as_ref())
            .map(|r| r.started_at.as_ref().map(|t| t.0.as_second())),
        state
            .and_then(|s| s.waiting.as_ref())
            .map(|w| (w.reason.clone(), w.message.clone())),
        state.and_then(|s| s.terminated.as_ref()).map(|t| (
            t.exit_code,
            t.reason.clone(),
            t.message.clone()
        )),
    ])
}

/// True when writing `desired` would change what `current` says (ignoring
/// fields vk does not own, like the PodScheduled condition, and heartbeat-like times).
pub fn differs(current: Option<&PodStatus>, desired: &PodStatus) -> bool {
    let Some(cur) = current else {
        return true;
    };
    let conds = |s: &PodStatus, only: &[String]| -> Vec<(String, String, Option<String>)> {
        let mut v: Vec<_> = s
            .conditions
            .iter()
            .flatten()
            .filter(|c| only.contains(&c.type_))
            .map(|c| {
                let (t, st, r) = cond_key(c);
                (t.to_owned(), st.to_owned(), r.map(str::to_owned))
            })
            .collect();
        v.sort();
        v
    };
    let owned: Vec<String> = desired
        .conditions
        .iter()
        .flatten()
        .map(|c| c.type_.clone())
        .collect();
    let containers = |s: Option<&Vec<ContainerStatus>>| -> Vec<Value> {
        s.into_iter().flatten().map(container_key).collect()
    };
    cur.phase != desired.phase
        || cur.reason != desired.reason
        || cur.message != desired.message
        || cur.pod_ip != desired.pod_ip
        // hostIP is added by the patch, not reported by providers.
        || (desired.host_ip.is_some() && cur.host_ip != desired.host_ip)
        || (desired.start_time.is_some() && cur.start_time.is_none())
        || conds(cur, &owned) != conds(desired, &owned)
        || containers(cur.container_statuses.as_ref())
            != containers(desired.container_statuses.as_ref())
        || containers(cur.init_container_statuses.as_ref())
            != containers(desired.init_container_statuses.as_ref())
        || containers(cur.ephemeral_container_statuses.as_ref())
            != containers(desired.ephemeral_container_statuses.as_ref())
}

/// The strategic-merge patch writing `desired` (conditions merge by type,
/// so the scheduler's PodScheduled stays; absent reason/message are cleared).
pub fn patch(desired: &PodStatus, host_ip: &str, qos: &str) -> Value {
    let mut status = serde_json::to_value(desired).unwrap_or_else(|_| json!({}));
    if let Value::Object(map) = &mut status {
        for field in ["reason", "message"] {
            map.entry(field).or_insert(Value::Null);
        }
        if !host_ip.is_empty() {
            map.insert("hostIP".into(), json!(host_ip));
        }
        map.insert("qosClass".into(), json!(qos));
        // podIPs merges by ip in a strategic merge patch: replace the list, or
        // clear it together with podIP when the instance has no address.
        match desired.pod_ip.as_deref() {
            Some(ip) => {
                map.insert(
                    "podIPs".into(),
                    json!([{ "$patch": "replace" }, { "ip": ip }]),
                );
            }
            None => {
                map.insert("podIP".into(), Value::Null);
                map.insert("podIPs".into(), Value::Null);
            }
        }
    }
    json!({ "status": status })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(resources: Value) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "c", "image": "i", "resources": resources}]}
        }))
        .unwrap()
    }

    #[test]
    fn qos_classes() {
        assert_eq!(qos_class(&pod(json!({}))), "BestEffort");
        assert_eq!(
            qos_class(&pod(
                json!({"requests": {"cpu": "1", "memory": "1G"}, "limits": {"cpu": "1", "memory": "1G"}})
            )),
            "Guaranteed"
        );
        assert_eq!(
            qos_class(&pod(json!({"limits": {"cpu": "1", "memory": "1G"}}))),
            "Guaranteed"
        );
        assert_eq!(
            qos_class(&pod(json!({"requests": {"cpu": "2"}}))),
            "Burstable"
        );
    }

    #[test]
    fn differs_ignores_foreign_conditions_and_sees_real_changes() {
        let mut cur: PodStatus = serde_json::from_value(json!({
            "phase": "Running",
            "podIP": "10.0.0.1",
            "conditions": [
                {"type": "PodScheduled", "status": "True"},
                {"type": "Ready", "status": "True"}
            ]
        }))
        .unwrap();
        let desired: PodStatus = serde_json::from_value(json!({
            "phase": "Running",
            "podIP": "10.0.0.1",
            "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2020-01-01T00:00:00Z"}]
        }))
        .unwrap();
        assert!(!differs(Some(&cur), &desired));
        cur.phase = Some("Pending".into());
        assert!(differs(Some(&cur), &desired));
        assert!(differs(None, &desired));
    }

    #[test]
    fn differs_sees_ephemeral_container_statuses() {
        let cur: PodStatus = serde_json::from_value(json!({"phase": "Running"})).unwrap();
        let desired: PodStatus = serde_json::from_value(json!({
            "phase": "Running",
            "ephemeralContainerStatuses": [{"name": "debugger", "image": "busybox", "imageID": "",
                "ready": false, "restartCount": 0,
                "state": {"waiting": {"reason": "CreateContainerError", "message": "not supported"}}}]
        }))
        .unwrap();
        assert!(differs(Some(&cur), &desired));
        assert!(!differs(Some(&desired), &desired));
        // The status patch carries them to the API server.
        let p = patch(&desired, "10.1.0.4", "BestEffort");
        assert_eq!(
            p["status"]["ephemeralContainerStatuses"][0]["state"]["waiting"]["reason"],
            "CreateContainerError"
        );
    }

    #[test]
    fn sub_second_start_times_do_not_count_as_a_change() {
        let status = |started: &str| -> PodStatus {
            serde_json::from_value(json!({
                "phase": "Running",
                "containerStatuses": [{"name": "main", "image": "busybox", "imageID": "",
                    "ready": true, "restartCount": 0,
                    "state": {"running": {"startedAt": started}}}]
            }))
            .unwrap()
        };
        // What the API server gives back (whole seconds) against a provider's report.
        let stored = status("2026-11-28T05:00:01Z");
        assert!(!differs(
            Some(&stored),
            &status("2026-11-28T05:00:01.734512Z")
        ));
        assert!(differs(Some(&stored), &status("2026-11-28T05:00:02.1Z")));
    }

    #[test]
    fn patch_clears_reason_and_sets_host_ip() {
        let desired: PodStatus =
            serde_json::from_value(json!({"phase": "Running", "podIP": "10.1.2.3"})).unwrap();
        let p = patch(&desired, "127.0.0.1", "BestEffort");
        assert_eq!(p["status"]["reason"], Value::Null);
        assert_eq!(p["status"]["hostIP"], "127.0.0.1");
        assert_eq!(p["status"]["podIPs"][1]["ip"], "10.1.2.3");
        let none = patch(&PodStatus::default(), "", "BestEffort");
        assert_eq!(none["status"]["podIP"], Value::Null);
        assert_eq!(p["status"]["qosClass"], "BestEffort");
    }
}
