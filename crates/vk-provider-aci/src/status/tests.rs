//! Status mapping: the api-version 2023-05-01 spec examples (response bodies
//! of `ContainerGroupsGet_Succeeded.json` / `_Failed.json`, copied into
//! `fixtures/`) and synthetic groups.

use k8s_openapi::api::core::v1::{ContainerStatus, Pod, PodStatus};
use serde_json::{Value, json};
use vk_aci::models::ContainerGroup;
use vk_pods::InstanceState;

use super::*;

fn example(raw: &str) -> ContainerGroup {
    let v: Value = serde_json::from_str(raw).unwrap();
    serde_json::from_value(v["responses"]["200"]["body"].clone()).unwrap()
}

fn pod(spec: Value) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": "demo1", "namespace": "default", "uid": "u1"},
        "spec": spec
    }))
    .unwrap()
}

fn nginx_pod() -> Pod {
    pod(json!({"containers": [{"name": "demo1", "image": "nginx"}]}))
}

fn group(props: Value) -> ContainerGroup {
    serde_json::from_value(json!({"name": "g", "properties": props})).unwrap()
}

fn running(start: &str) -> Value {
    json!({"restartCount": 0, "currentState": {"state": "Running", "startTime": start, "detailStatus": ""}})
}

fn terminated(code: i32) -> Value {
    json!({"restartCount": 0, "currentState": {"state": "Terminated", "exitCode": code,
        "startTime": "2024-01-01T00:00:10Z", "finishTime": "2024-01-01T00:00:20Z",
        "detailStatus": if code == 0 { "Completed" } else { "Error" }}})
}

fn container(name: &str, view: Value) -> Value {
    json!({"name": name, "properties": {"image": "i", "resources": {"requests": {"cpu": 1, "memoryInGB": 1}},
        "instanceView": view}})
}

fn cond<'a>(s: &'a PodStatus, t: &str) -> &'a str {
    s.conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == t)
        .map(|c| c.status.as_str())
        .unwrap_or("missing")
}

fn cs(s: &PodStatus, i: usize) -> &ContainerStatus {
    &s.container_statuses.as_ref().unwrap()[i]
}

#[test]
fn spec_example_succeeded() {
    let g = example(include_str!("fixtures/ContainerGroupsGet_Succeeded.json"));
    let r = group_to_report(&g, &nginx_pod(), Some("10.1.0.4"));
    assert_eq!(r.state, Some(InstanceState::Running));
    let s = &r.status;
    assert_eq!(s.pod_ip.as_deref(), Some("10.0.0.1"));
    assert_eq!(s.pod_ips.as_ref().unwrap()[0].ip, "10.0.0.1");
    assert_eq!(s.host_ip.as_deref(), Some("10.1.0.4"));
    // The example has no container instance view: the container is not known to run yet.
    assert_eq!(s.phase.as_deref(), Some("Pending"));
    let c = cs(s, 0);
    assert_eq!(c.name, "demo1");
    assert_eq!(c.image, "nginx");
    assert_eq!(
        c.state
            .as_ref()
            .unwrap()
            .waiting
            .as_ref()
            .unwrap()
            .reason
            .as_deref(),
        Some("ContainerCreating")
    );
    assert!(!c.ready);
    assert!(
        s.conditions
            .iter()
            .flatten()
            .all(|c| c.type_ != "PodScheduled")
    );
}

#[test]
fn spec_example_failed() {
    let g = example(include_str!("fixtures/ContainerGroupsGet_Failed.json"));
    let r = group_to_report(&g, &nginx_pod(), None);
    assert_eq!(r.state, Some(InstanceState::Failed));
    let s = &r.status;
    // It never ran: the pod waits (Pending) for a new group, not Failed.
    assert_eq!(s.phase.as_deref(), Some("Pending"));
    assert_eq!(s.reason.as_deref(), Some("ProviderFailed"));
    let retry = r
        .retry
        .as_ref()
        .expect("a failed group that never ran is retried");
    assert_eq!(retry.kind, vk_pods::ErrorKind::Transient);
    assert_eq!(retry.reason, "ProviderFailed");
    let message = s.message.as_deref().unwrap();
    assert!(
        message.contains("FailedMount") && message.contains("mount error"),
        "{message}"
    );
    assert_eq!(cond(s, "Ready"), "False");
    let c = cs(s, 0);
    let waiting = c.state.as_ref().unwrap().waiting.as_ref().unwrap();
    assert_eq!(waiting.reason.as_deref(), Some("ContainerCreating"));
    // Events: the container's Pulling/Pulled and the group's FailedMount (a warning).
    let reasons: Vec<(&str, &str)> = r
        .events
        .iter()
        .map(|e| (e.reason.as_str(), e.type_.as_str()))
        .collect();
    assert_eq!(
        reasons,
        vec![
            ("Pulling", "Normal"),
            ("Pulled", "Normal"),
            ("FailedMount", "Warning")
        ]
    );
    assert_eq!(r.events[0].id, "demo1/Pulling/2017-08-08T00:09:01Z");
    assert!(r.events[0].message.contains("pulling image"));
    assert_eq!(
        s.start_time.as_ref().unwrap().0.to_string(),
        "2017-08-08T00:09:01Z"
    );
}

#[test]
fn running_group_is_running_and_ready_in_spec_order() {
    let pod = pod(json!({"containers": [
        {"name": "app", "image": "app:1"}, {"name": "sidecar", "image": "envoy"}
    ]}));
    let g = group(json!({
        "provisioningState": "Succeeded",
        "instanceView": {"state": "Running"},
        "ipAddress": {"ip": "20.1.2.3", "type": "Public", "ports": [{"port": 80}]},
        "containers": [
            container("sidecar", running("2024-01-01T00:00:05Z")),
            container("app", json!({"restartCount": 2, "currentState": {"state": "Running", "startTime": "2024-01-01T00:00:09Z"},
                "previousState": {"state": "Terminated", "exitCode": 137, "detailStatus": "OOMKilled",
                    "startTime": "2024-01-01T00:00:01Z", "finishTime": "2024-01-01T00:00:08Z"}}))
        ]
    }));
    let r = group_to_report(&g, &pod, None);
    let s = &r.status;
    assert_eq!(s.phase.as_deref(), Some("Running"));
    assert_eq!(cond(s, "Initialized"), "True");
    assert_eq!(cond(s, "ContainersReady"), "True");
    assert_eq!(cond(s, "Ready"), "True");
    let app = cs(s, 0);
    assert_eq!(app.name, "app");
    assert_eq!(app.image, "app:1");
    assert!(app.ready && app.started == Some(true));
    assert_eq!(app.restart_count, 2);
    assert_eq!(
        app.state
            .as_ref()
            .unwrap()
            .running
            .as_ref()
            .unwrap()
            .started_at
            .as_ref()
            .unwrap()
            .0
            .to_string(),
        "2024-01-01T00:00:09Z"
    );
    let last = app
        .last_state
        .as_ref()
        .unwrap()
        .terminated
        .as_ref()
        .unwrap();
    assert_eq!(last.exit_code, 137);
    assert_eq!(last.reason.as_deref(), Some("OOMKilled"));
    assert_eq!(cs(s, 1).name, "sidecar");
    assert_eq!(s.pod_ip.as_deref(), Some("20.1.2.3"));
    assert_eq!(
        s.start_time.as_ref().unwrap().0.to_string(),
        "2024-01-01T00:00:05Z"
    );
    assert_eq!(r.state, Some(InstanceState::Running));
}

#[test]
fn completed_jobs_keep_their_exit_codes() {
    for (policy, code, phase) in [
        ("Never", 0, "Succeeded"),
        ("Never", 3, "Failed"),
        ("OnFailure", 0, "Succeeded"),
        ("OnFailure", 3, "Running"),
        ("Always", 0, "Running"),
    ] {
        let pod = pod(
            json!({"restartPolicy": policy, "containers": [{"name": "job", "image": "busybox"}]}),
        );
        let g = group(
            json!({"provisioningState": "Succeeded", "instanceView": {"state": "Running"},
            "containers": [container("job", terminated(code))]}),
        );
        let s = group_to_report(&g, &pod, None).status;
        assert_eq!(s.phase.as_deref(), Some(phase), "{policy} exit {code}");
        let t = cs(&s, 0)
            .state
            .as_ref()
            .unwrap()
            .terminated
            .clone()
            .unwrap();
        assert_eq!(t.exit_code, code);
        assert_eq!(
            t.reason.as_deref(),
            Some(if code == 0 { "Completed" } else { "Error" })
        );
        assert_eq!(t.finished_at.unwrap().0.to_string(), "2024-01-01T00:00:20Z");
        if phase == "Succeeded" {
            let ready = s
                .conditions
                .iter()
                .flatten()
                .find(|c| c.type_ == "Ready")
                .unwrap();
            assert_eq!(ready.status, "False");
            assert_eq!(ready.reason.as_deref(), Some("PodCompleted"));
        }
    }
    // OnFailure with the group itself failed: Failed.
    let pod = pod(
        json!({"restartPolicy": "OnFailure", "containers": [{"name": "job", "image": "busybox"}]}),
    );
    let g = group(
        json!({"provisioningState": "Succeeded", "instanceView": {"state": "Failed"},
        "containers": [container("job", terminated(1))]}),
    );
    assert_eq!(
        group_to_report(&g, &pod, None).status.phase.as_deref(),
        Some("Failed")
    );
}

#[test]
fn init_containers_gate_initialized() {
    let pod = pod(json!({
        "initContainers": [{"name": "init", "image": "busybox"}],
        "containers": [{"name": "app", "image": "app"}]
    }));
    let pending = group(json!({"provisioningState": "Creating",
        "initContainers": [{"name": "init", "properties": {"image": "busybox", "instanceView": running("2024-01-01T00:00:01Z")}}],
        "containers": [container("app", json!({"currentState": {"state": "Waiting", "detailStatus": ""}}))]}));
    let r = group_to_report(&pending, &pod, None);
    let s = &r.status;
    assert_eq!(r.state, Some(InstanceState::Creating));
    assert_eq!(s.phase.as_deref(), Some("Pending"));
    assert_eq!(cond(s, "Initialized"), "False");
    let init = &s.init_container_statuses.as_ref().unwrap()[0];
    assert!(init.state.as_ref().unwrap().running.is_some());
    assert_eq!(
        cs(s, 0)
            .state
            .as_ref()
            .unwrap()
            .waiting
            .as_ref()
            .unwrap()
            .reason
            .as_deref(),
        Some("PodInitializing")
    );

    let done = group(json!({"provisioningState": "Succeeded",
        "initContainers": [{"name": "init", "properties": {"image": "busybox", "instanceView": terminated(0)}}],
        "containers": [container("app", running("2024-01-01T00:01:00Z"))]}));
    let s = group_to_report(&done, &pod, None).status;
    assert_eq!(s.phase.as_deref(), Some("Running"));
    assert_eq!(cond(&s, "Initialized"), "True");
    let init = &s.init_container_statuses.as_ref().unwrap()[0];
    assert_eq!(
        init.state
            .as_ref()
            .unwrap()
            .terminated
            .as_ref()
            .unwrap()
            .reason
            .as_deref(),
        Some("Completed")
    );

    let never = pod_with_policy("Never");
    let failed = group(json!({"provisioningState": "Succeeded",
        "initContainers": [{"name": "init", "properties": {"image": "busybox", "instanceView": terminated(2)}}],
        "containers": [container("app", json!({"currentState": {"state": "Waiting"}}))]}));
    assert_eq!(
        group_to_report(&failed, &never, None)
            .status
            .phase
            .as_deref(),
        Some("Failed")
    );
}

fn pod_with_policy(policy: &str) -> Pod {
    pod(json!({"restartPolicy": policy,
        "initContainers": [{"name": "init", "image": "busybox"}],
        "containers": [{"name": "app", "image": "app"}]}))
}

#[test]
fn a_group_failed_on_its_image_is_retried_as_an_image_pull() {
    let g = group(
        json!({"provisioningState": "Failed", "containers": [container("demo1", json!({
        "currentState": {"state": "Waiting", "detailStatus": ""},
        "events": [
            {"count": 3, "firstTimestamp": "2024-01-01T00:00:01Z", "lastTimestamp": "2024-01-01T00:00:20Z",
             "name": "Pulling", "message": "pulling image \"nginx:nope\"", "type": "Normal"},
            {"count": 3, "firstTimestamp": "2024-01-01T00:00:02Z", "lastTimestamp": "2024-01-01T00:00:21Z",
             "name": "Failed", "message": "Failed to pull image \"nginx:nope\": not found", "type": "Warning"},
            {"count": 2, "firstTimestamp": "2024-01-01T00:00:03Z", "lastTimestamp": "2024-01-01T00:00:30Z",
             "name": "BackOff", "message": "Back-off pulling image \"nginx:nope\"", "type": "Normal"}
        ]}))]}),
    );
    let r = group_to_report(&g, &nginx_pod(), None);
    assert_eq!(r.state, Some(InstanceState::Failed));
    assert_eq!(r.status.phase.as_deref(), Some("Pending"));
    let w = cs(&r.status, 0)
        .state
        .as_ref()
        .unwrap()
        .waiting
        .clone()
        .unwrap();
    assert_eq!(w.reason.as_deref(), Some("ImagePullBackOff"));
    let retry = r.retry.expect("retried");
    assert_eq!(retry.kind, vk_pods::ErrorKind::ImagePull);
    assert_eq!(retry.container.as_deref(), Some("demo1"));
    assert_eq!(retry.image.as_deref(), Some("nginx"));
    assert!(
        retry.message.contains("Back-off pulling"),
        "{}",
        retry.message
    );
}

#[test]
fn a_group_under_repair_is_not_ready() {
    let g = group(json!({"provisioningState": "Repairing", "containers": [
        container("demo1", running("2024-01-01T00:00:09Z"))]}));
    let r = group_to_report(&g, &nginx_pod(), None);
    let s = &r.status;
    assert_eq!(s.phase.as_deref(), Some("Running"));
    assert_eq!(cond(s, "Ready"), "False");
    let ready = s
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == "Ready")
        .unwrap();
    assert_eq!(ready.reason.as_deref(), Some("ContainerGroupRepairing"));
    assert!(!cs(s, 0).ready);
    // Repaired: ready again.
    let g = group(json!({"provisioningState": "Succeeded", "containers": [
        container("demo1", running("2024-01-01T00:00:09Z"))]}));
    assert_eq!(
        cond(&group_to_report(&g, &nginx_pod(), None).status, "Ready"),
        "True"
    );
}

#[test]
fn a_failed_group_whose_job_ran_is_not_run_again() {
    let g = group(json!({"provisioningState": "Failed", "containers": [
        container("app", terminated(1))]}));
    let r = group_to_report(
        &g,
        &pod(json!({"restartPolicy": "Never",
        "containers": [{"name": "app", "image": "app"}]})),
        None,
    );
    assert_eq!(r.status.phase.as_deref(), Some("Failed"));
    assert_eq!(r.status.reason.as_deref(), Some("ProviderFailed"));
    assert!(r.retry.is_none());

    // A long-running pod gets a new group instead.
    let g = group(json!({"provisioningState": "Failed", "containers": [
        container("app", terminated(1))]}));
    let r = group_to_report(
        &g,
        &pod(json!({"containers": [{"name": "app", "image": "app"}]})),
        None,
    );
    assert_eq!(r.status.phase.as_deref(), Some("Pending"));
    assert!(r.retry.is_some());
}

#[test]
fn image_pull_failures_become_err_image_pull() {
    let g = group(
        json!({"provisioningState": "Creating", "containers": [container("demo1", json!({
        "currentState": {"state": "Waiting", "detailStatus": ""},
        "events": [
            {"count": 1, "firstTimestamp": "2024-01-01T00:00:01Z", "lastTimestamp": "2024-01-01T00:00:01Z",
             "name": "Pulling", "message": "pulling image \"nginx:nope\"", "type": "Normal"},
            {"count": 3, "firstTimestamp": "2024-01-01T00:00:02Z", "lastTimestamp": "2024-01-01T00:00:30Z",
             "name": "Failed", "message": "Failed to pull image \"nginx:nope\": not found", "type": "Warning"}
        ]}))]}),
    );
    let r = group_to_report(&g, &nginx_pod(), None);
    let w = cs(&r.status, 0)
        .state
        .as_ref()
        .unwrap()
        .waiting
        .clone()
        .unwrap();
    assert_eq!(w.reason.as_deref(), Some("ErrImagePull"));
    assert!(w.message.unwrap().contains("Failed to pull"));
    let failed = r.events.iter().find(|e| e.reason == "Failed").unwrap();
    assert_eq!(failed.type_, "Warning");
    assert_eq!(failed.count, 3);
    assert_eq!(failed.id, "demo1/Failed/2024-01-01T00:00:02Z");

    // A kubelet reason in detailStatus is used as is.
    let g = group(
        json!({"provisioningState": "Succeeded", "containers": [container("demo1", json!({
        "currentState": {"state": "Waiting", "detailStatus": "CrashLoopBackOff: Back-off restarting failed"}}))]}),
    );
    let w = group_to_report(&g, &nginx_pod(), None)
        .status
        .container_statuses
        .unwrap()[0]
        .state
        .clone()
        .unwrap()
        .waiting
        .unwrap();
    assert_eq!(w.reason.as_deref(), Some("CrashLoopBackOff"));
    assert_eq!(w.message.as_deref(), Some("Back-off restarting failed"));
}

#[test]
fn readiness_failures_reported_by_events_make_the_container_unready() {
    let pod = pod(json!({"containers": [{"name": "demo1", "image": "nginx",
        "readinessProbe": {"httpGet": {"port": 80}}}]}));
    let mut view = running("2024-01-01T00:00:00Z");
    view["events"] = json!([{"count": 2, "firstTimestamp": "2024-01-01T00:00:05Z", "lastTimestamp": "2024-01-01T00:00:15Z",
        "name": "Unhealthy", "message": "Readiness probe failed: HTTP probe failed with statuscode: 500", "type": "Warning"}]);
    let g =
        group(json!({"provisioningState": "Succeeded", "containers": [container("demo1", view)]}));
    let s = group_to_report(&g, &pod, None).status;
    assert_eq!(s.phase.as_deref(), Some("Running"));
    assert!(!cs(&s, 0).ready);
    assert_eq!(cond(&s, "Ready"), "False");
    // Without a readiness probe, running is ready.
    let s = group_to_report(&g, &nginx_pod(), None).status;
    assert!(cs(&s, 0).ready);
}

#[test]
fn instance_states_and_list_results() {
    use vk_aci::models::ProvisioningState as P;
    for (p, want) in [
        (P::Pending, InstanceState::Creating),
        (P::Creating, InstanceState::Creating),
        (P::Repairing, InstanceState::Creating),
        (P::Updating, InstanceState::Creating),
        (P::Succeeded, InstanceState::Running),
        (P::Deleting, InstanceState::Deleting),
        (P::Failed, InstanceState::Failed),
        (P::Canceled, InstanceState::Failed),
    ] {
        assert_eq!(instance_state(Some(&p)), want, "{p}");
    }
    assert_eq!(instance_state(None), InstanceState::Creating);

    let pod = nginx_pod();
    let mut g = group(json!({"provisioningState": "Succeeded", "containers": []}));
    assert!(
        group_to_instance(&g).is_none(),
        "untagged groups are not ours"
    );
    g.tags = Some(crate::tags::pod_tags(&pod, "node", "cluster"));
    let i = group_to_instance(&g).unwrap();
    assert_eq!(i.key, vk_pods::PodKey::of(&pod));
    assert_eq!(i.state, InstanceState::Running);
    assert_eq!(i.spec_hash, Some(vk_pods::spec_hash(&pod)));
}

#[test]
fn event_ids_are_stable_and_counts_follow() {
    let mk = |count: i32| {
        group(
            json!({"provisioningState": "Succeeded", "instanceView": {"events": [
            {"count": count, "firstTimestamp": "2024-01-01T00:00:01Z", "lastTimestamp": "2024-01-01T00:00:09Z",
             "name": "InsufficientCapacity.", "message": "no capacity", "type": "Normal"}]},
            "containers": [container("demo1", json!({"currentState": {"state": "Running"},
                "events": [{"count": 1, "firstTimestamp": "2024-01-01T00:00:03Z", "name": "Killing", "message": "stopping", "type": "Normal"}]}))]}),
        )
    };
    let a = group_to_report(&mk(1), &nginx_pod(), None).events;
    let b = group_to_report(&mk(4), &nginx_pod(), None).events;
    assert_eq!(a.len(), 2);
    assert_eq!(a[0].id, b[0].id);
    assert_eq!(a[0].id, "group/InsufficientCapacity/2024-01-01T00:00:01Z");
    assert_eq!(b[0].count, 4);
    assert_eq!(a[1].reason, "Killing");
    assert_eq!(a[1].type_, "Normal");
}

#[test]
fn waiting_after_termination_is_crash_loop_back_off() {
    let g = group(
        json!({"provisioningState": "Succeeded", "containers": [container("demo1", json!({
        "restartCount": 1,
        "currentState": {"state": "Waiting", "detailStatus": "Completed"},
        "previousState": {"state": "Terminated", "exitCode": 0, "detailStatus": "Completed"}}))]}),
    );
    let s = group_to_report(&g, &nginx_pod(), None).status;
    let c = cs(&s, 0);
    assert_eq!(
        c.state
            .as_ref()
            .unwrap()
            .waiting
            .as_ref()
            .unwrap()
            .reason
            .as_deref(),
        Some("CrashLoopBackOff")
    );
    assert_eq!(
        c.last_state
            .as_ref()
            .unwrap()
            .terminated
            .as_ref()
            .unwrap()
            .exit_code,
        0
    );
    assert_eq!(c.restart_count, 1);
    assert_eq!(
        s.phase.as_deref(),
        Some("Running"),
        "a restarting pod stays Running"
    );
}

// ---- Spot evictions, native sidecars, ephemeral containers (issue #21) ---

fn spot_group(provisioning: &str, view: Value) -> ContainerGroup {
    group(
        json!({"provisioningState": provisioning, "priority": "Spot",
        "containers": [container("demo1", view)]}),
    )
}

fn disruption(s: &PodStatus) -> Option<&k8s_openapi::api::core::v1::PodCondition> {
    s.conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == "DisruptionTarget")
}

#[test]
fn a_spot_eviction_is_a_disruption_target_until_the_group_runs_again() {
    let healthy = spot_group("Succeeded", running("2024-01-01T00:00:05Z"));
    let r = group_to_report(&healthy, &nginx_pod(), None);
    assert!(disruption(&r.status).is_none(), "no eviction, no condition");

    for state in ["Unhealthy", "Repairing"] {
        let evicted = spot_group(state, running("2024-01-01T00:00:05Z"));
        let r = group_to_report(&evicted, &nginx_pod(), None);
        let c = disruption(&r.status).expect("DisruptionTarget");
        assert_eq!(c.status, "True");
        assert_eq!(c.reason.as_deref(), Some(SPOT_EVICTION_REASON));
        assert!(c.message.as_deref().unwrap().contains("Spot eviction"));
        assert_eq!(cond(&r.status, "Ready"), "False");
        assert_eq!(r.status.phase.as_deref(), Some("Running"));
        // Said once, as the scheduler says a preemption.
        let e: Vec<_> = r
            .events
            .iter()
            .filter(|e| e.reason == "Preempted")
            .collect();
        assert_eq!(e.len(), 1, "{:?}", r.events);
        assert_eq!(e[0].type_, "Warning");
        assert!(e[0].message.contains("Spot eviction"));
    }
    // Not again once the pod shows the disruption.
    let mut marked = nginx_pod();
    marked.status = Some(
        serde_json::from_value(json!({"conditions": [{"type": "DisruptionTarget",
            "status": "True", "reason": SPOT_EVICTION_REASON}]}))
        .unwrap(),
    );
    let evicted = spot_group("Repairing", running("2024-01-01T00:00:05Z"));
    let r = group_to_report(&evicted, &marked, None);
    assert!(r.events.iter().all(|e| e.reason != "Preempted"));
    assert!(
        group_to_report(&healthy, &nginx_pod(), None)
            .events
            .iter()
            .all(|e| e.reason != "Preempted")
    );

    // Running again: the condition written before turns False.
    let mut pod = nginx_pod();
    pod.status = Some(
        serde_json::from_value(json!({"conditions": [{"type": "DisruptionTarget",
            "status": "True", "reason": SPOT_EVICTION_REASON}]}))
        .unwrap(),
    );
    let restarted = spot_group(
        "Succeeded",
        json!({"restartCount": 1, "currentState": {"state": "Running", "startTime": "2024-01-01T00:10:00Z"}}),
    );
    let r = group_to_report(&restarted, &pod, None);
    let c = disruption(&r.status).expect("DisruptionTarget");
    assert_eq!(c.status, "False");
    assert_eq!(c.reason.as_deref(), Some(SPOT_RESTARTED_REASON));
    assert_eq!(cs(&r.status, 0).restart_count, 1);

    // A Regular group under repair is not disrupted in this sense.
    let regular = group(json!({"provisioningState": "Repairing",
        "containers": [container("demo1", running("2024-01-01T00:00:05Z"))]}));
    assert!(disruption(&group_to_report(&regular, &nginx_pod(), None).status).is_none());
}

#[test]
fn native_sidecars_from_a_133_pod_report_init_statuses_from_the_group_containers() {
    let p = pod(json!({
        "initContainers": [
            {"name": "migrate", "image": "migrate:1"},
            {"name": "proxy", "image": "envoy", "restartPolicy": "Always"}
        ],
        "containers": [{"name": "demo1", "image": "nginx"}]
    }));
    let g = group(json!({"provisioningState": "Succeeded",
    "initContainers": [{"name": "migrate", "properties": {"image": "migrate:1",
        "instanceView": terminated(0)}}],
    "containers": [
        container("proxy", running("2024-01-01T00:00:21Z")),
        container("demo1", running("2024-01-01T00:00:22Z"))
    ]}));
    let r = group_to_report(&g, &p, None);
    let inits = r.status.init_container_statuses.as_ref().unwrap();
    let names: Vec<&str> = inits.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, vec!["migrate", "proxy"]);
    assert!(inits[0].state.as_ref().unwrap().terminated.is_some());
    assert!(
        inits[1].state.as_ref().unwrap().running.is_some(),
        "{:?}",
        inits[1]
    );
    assert_eq!(inits[1].started, Some(true));
    assert_eq!(cond(&r.status, "Initialized"), "True");
    assert_eq!(r.status.phase.as_deref(), Some("Running"));
    // The sidecar not running yet keeps the pod unready.
    let g = group(json!({"provisioningState": "Succeeded",
    "initContainers": [{"name": "migrate", "properties": {"image": "migrate:1",
        "instanceView": terminated(0)}}],
    "containers": [
        container("proxy", json!({"restartCount": 0, "currentState": {"state": "Waiting", "detailStatus": "CrashLoopBackOff"}})),
        container("demo1", running("2024-01-01T00:00:22Z"))
    ]}));
    let r = group_to_report(&g, &p, None);
    assert_eq!(cond(&r.status, "Ready"), "False");
}

#[test]
fn ephemeral_containers_wait_with_a_reason_kubectl_debug_prints() {
    let mut p = nginx_pod();
    p.spec.as_mut().unwrap().ephemeral_containers = Some(vec![
        serde_json::from_value(
            json!({"name": "debugger-x1", "image": "busybox", "targetContainerName": "demo1"}),
        )
        .unwrap(),
    ]);
    let g = group(json!({"provisioningState": "Succeeded",
        "containers": [container("demo1", running("2024-01-01T00:00:05Z"))]}));
    let r = group_to_report(&g, &p, None);
    let e = r
        .status
        .ephemeral_container_statuses
        .as_ref()
        .expect("ephemeral statuses");
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].name, "debugger-x1");
    assert_eq!(e[0].image, "busybox");
    let w = e[0].state.as_ref().unwrap().waiting.as_ref().unwrap();
    assert_eq!(w.reason.as_deref(), Some(EPHEMERAL_REASON));
    assert!(
        w.message
            .as_deref()
            .unwrap()
            .contains("ephemeral containers are not supported")
    );
    // The app is unaffected.
    assert_eq!(cond(&r.status, "Ready"), "True");
    assert!(
        group_to_report(&g, &nginx_pod(), None)
            .status
            .ephemeral_container_statuses
            .is_none()
    );
}

#[test]
fn a_133_pod_reports_sidecar_and_ephemeral_statuses() {
    let p: Pod = serde_json::from_str(include_str!(
        "../translate/fixtures/pod-v1.33-new-fields.json"
    ))
    .unwrap();
    let g = group(json!({"provisioningState": "Succeeded",
    "initContainers": [{"name": "migrate", "properties": {"image": "i", "instanceView": terminated(0)}}],
    "containers": [
        container("proxy", running("2024-01-01T00:00:21Z")),
        container("app", running("2024-01-01T00:00:22Z"))
    ]}));
    let r = group_to_report(&g, &p, Some("10.1.0.4"));
    let s = &r.status;
    assert_eq!(s.phase.as_deref(), Some("Running"));
    assert_eq!(cond(s, "Ready"), "True");
    let inits: Vec<(&str, bool)> = s
        .init_container_statuses
        .iter()
        .flatten()
        .map(|c| (c.name.as_str(), c.state.as_ref().unwrap().running.is_some()))
        .collect();
    assert_eq!(inits, vec![("migrate", false), ("proxy", true)]);
    let e = s.ephemeral_container_statuses.as_ref().unwrap();
    assert_eq!(e[0].name, "debugger-9wz7d");
    assert_eq!(
        e[0].state
            .as_ref()
            .unwrap()
            .waiting
            .as_ref()
            .unwrap()
            .reason
            .as_deref(),
        Some(EPHEMERAL_REASON)
    );
    // The pod carries the scheduler's PodScheduled, which vk never writes.
    assert!(
        s.conditions
            .iter()
            .flatten()
            .all(|c| c.type_ != "PodScheduled")
    );
}

#[test]
fn a_job_with_a_native_sidecar_succeeds_when_its_app_containers_do() {
    // Kubernetes: sidecars do not keep a pod from completing.
    let p = pod(json!({
        "restartPolicy": "Never",
        "initContainers": [{"name": "proxy", "image": "envoy", "restartPolicy": "Always"}],
        "containers": [{"name": "demo1", "image": "job"}]
    }));
    let g = group(
        json!({"provisioningState": "Succeeded", "restartPolicy": "Never",
        "containers": [
            container("proxy", running("2024-01-01T00:00:05Z")),
            container("demo1", terminated(0))
        ]}),
    );
    let r = group_to_report(&g, &p, None);
    assert_eq!(r.status.phase.as_deref(), Some("Succeeded"));
    let g = group(
        json!({"provisioningState": "Succeeded", "restartPolicy": "Never",
        "containers": [
            container("proxy", running("2024-01-01T00:00:05Z")),
            container("demo1", terminated(3))
        ]}),
    );
    assert_eq!(
        group_to_report(&g, &p, None).status.phase.as_deref(),
        Some("Failed")
    );
}
