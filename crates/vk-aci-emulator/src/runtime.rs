// Over 800 lines: the simulated runtime (provisioning, pulls, init containers, restart policies) is one state machine per group.
//! The simulated container runtime: provisioning, image pulls, init containers,
//! containers running the command language, restart policies.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tracing::Instrument;

use crate::cmdlang::{self, Stream};
use crate::config::EmulatorConfig;
use crate::error::EmulatorError;
use crate::server::Shared;
use crate::state::{CState, ContainerRt, ErrorInfo, Group, GroupKey, OpKind, now, push_event};

const DEPLOY_OPS: &[OpKind] = &[
    OpKind::Create,
    OpKind::Update,
    OpKind::Start,
    OpKind::Restart,
];

/// Fresh runtime records (init, main) for a resource.
pub(crate) fn fresh_containers(resource: &Value) -> (Vec<ContainerRt>, Vec<ContainerRt>) {
    let list = |key: &str| -> Vec<ContainerRt> {
        resource["properties"][key]
            .as_array()
            .map(|cs| {
                cs.iter()
                    .map(|c| {
                        let p = &c["properties"];
                        ContainerRt::new(
                            c["name"].as_str().unwrap_or_default().to_owned(),
                            p["image"].as_str().unwrap_or_default().to_owned(),
                            p["command"]
                                .as_array()
                                .map(|a| {
                                    a.iter()
                                        .filter_map(|x| x.as_str().map(str::to_owned))
                                        .collect()
                                })
                                .unwrap_or_default(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    (list("initContainers"), list("containers"))
}

/// Runs `f` on the group if it still is at `generation`.
fn mutate<R>(
    shared: &Shared,
    key: &GroupKey,
    generation: u64,
    f: impl FnOnce(&mut Group) -> R,
) -> Option<R> {
    let r = {
        let mut st = shared.lock();
        let g = st
            .groups
            .get_mut(key)
            .filter(|g| g.generation == generation)?;
        f(g)
    };
    shared.changed();
    Some(r)
}

fn container(g: &mut Group, init: bool, idx: usize) -> Option<&mut ContainerRt> {
    if init {
        g.init.get_mut(idx)
    } else {
        g.containers.get_mut(idx)
    }
}

/// How a deployment begins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DeployKind {
    /// A new deployment (create, start): `Pending` for the provisioning
    /// delay, then `Creating`.
    Provision,
    /// In place (update, restart): straight to `Creating`.
    InPlace,
    /// Started by the platform (maintenance restart, repair): the group keeps
    /// its provisioning state (`Repairing`) until its containers run, and no
    /// provisioning failure applies.
    Platform,
}

/// Starts (or restarts) the deployment of a group at `generation` (a no-op
/// once the group has moved on to another generation). A deployment that
/// `provisions` (a new group, a stopped one started again) first stays
/// `Pending` for the provisioning delay; one in place (update, restart) does not.
pub(crate) fn deploy(shared: &Arc<Shared>, key: GroupKey, generation: u64, provisions: bool) {
    let kind = if provisions {
        DeployKind::Provision
    } else {
        DeployKind::InPlace
    };
    deploy_as(shared, key, generation, kind);
}

/// [`deploy`] of any [`DeployKind`].
pub(crate) fn deploy_as(shared: &Arc<Shared>, key: GroupKey, generation: u64, kind: DeployKind) {
    let span = tracing::info_span!("group", name = %key.name, rg = %key.rg, generation);
    let s = shared.clone();
    shared.spawn_group(
        key.clone(),
        generation,
        async move { run_group(s, key, generation, kind).await }.instrument(span),
    );
}

/// Waits `d` (scaled by the time scale); no timer at all for zero.
async fn pause(shared: &Shared, d: Duration) {
    let d = shared.cfg.scaled(d);
    if !d.is_zero() {
        tokio::time::sleep(d).await;
    }
}

/// Docker Hub's implicit parts of a reference: `docker.io/library/alpine`
/// is `alpine`, a missing tag is `latest`.
fn canonical_image(image: &str) -> String {
    let mut s = image.trim().to_ascii_lowercase();
    for prefix in ["docker.io/", "index.docker.io/", "registry-1.docker.io/"] {
        if let Some(rest) = s.strip_prefix(prefix) {
            s = rest.to_owned();
        }
    }
    if let Some(rest) = s.strip_prefix("library/") {
        s = rest.to_owned();
    }
    let name_end = s.rfind('/').map_or(0, |i| i + 1);
    if !s[name_end..].contains(':') && !s.contains('@') {
        s.push_str(":latest");
    }
    s
}

/// Unscaled pull time of `image` in a group of `os`: fast for the
/// cached-images list, else by OS; a stable point of the range per image.
fn pull_time(cfg: &EmulatorConfig, os: &str, image: &str) -> Duration {
    let t = &cfg.timings;
    let canonical = canonical_image(image);
    let cached = cfg
        .cached_images
        .iter()
        .any(|c| canonical_image(&c.image) == canonical);
    let range = if cached {
        t.pull_cached
    } else if os.eq_ignore_ascii_case("Windows") {
        t.pull_windows
    } else {
        t.pull_linux
    };
    range.pick(&canonical)
}

/// Unscaled start time (`Created` → `Started`) of a container in a group of `os`.
fn start_time(cfg: &EmulatorConfig, os: &str) -> Duration {
    if os.eq_ignore_ascii_case("Windows") {
        cfg.timings.start_windows
    } else {
        cfg.timings.start_linux
    }
}

/// Re-launches work for groups loaded from a state file.
pub(crate) fn resume_all(shared: &Arc<Shared>) {
    let keys: Vec<(GroupKey, String, u64)> = shared
        .lock()
        .groups
        .values()
        .map(|g| (g.key.clone(), g.provisioning_state.clone(), g.generation))
        .collect();
    for (key, prov, generation) in keys {
        match prov.as_str() {
            "Deleting" => {
                shared.lock().groups.remove(&key);
            }
            "Pending" | "Creating" | "Updating" | "Repairing" | "Unhealthy" => {
                {
                    let mut st = shared.lock();
                    if let Some(g) = st.groups.get_mut(&key) {
                        let (init, main) = fresh_containers(&g.resource);
                        g.init = init;
                        g.containers = main;
                        g.provisioning_state = "Pending".to_owned();
                    }
                }
                deploy(shared, key, generation, true);
            }
            _ => {}
        }
    }
}

async fn run_group(shared: Arc<Shared>, key: GroupKey, generation: u64, kind: DeployKind) {
    tokio::task::yield_now().await;
    // Waiting for a host (`Pending`).
    if kind == DeployKind::Provision {
        pause(&shared, shared.cfg.timings.provisioning).await;
    }
    if !provision(&shared, &key, generation, kind) {
        return;
    }
    let Some((images, os)) = start_pulls(&shared, &key, generation) else {
        return;
    };
    // One image after the other (as the kubelet does by default), each
    // distinct image once.
    for image in &images {
        if pull_image(&shared, &key, generation, image, &os)
            .await
            .is_none()
        {
            return;
        }
    }
    let Some(policy) = mutate(&shared, &key, generation, |g| g.restart_policy().to_owned()) else {
        return;
    };
    if !run_init_containers(&shared, &key, generation, &os, &policy).await {
        return;
    }
    // Nothing left to start (every container completed before a platform
    // restart): the group is settled.
    let settled = mutate(&shared, &key, generation, |g| {
        let all = g.containers.iter().all(|c| c.started_once);
        if all && g.provisioning_state != "Succeeded" {
            g.provisioning_state = "Succeeded".to_owned();
            g.error = None;
        }
        all
    });
    if settled == Some(true) {
        shared
            .lock()
            .complete_ops(&key, generation, DEPLOY_OPS, None);
    }
    run_main_containers(&shared, &key, generation, &os, &policy).await;
}

/// The provisioning step: the IP, an injected provisioning failure,
/// `Creating`. False when the deployment ends here.
fn provision(shared: &Shared, key: &GroupKey, generation: u64, kind: DeployKind) -> bool {
    let failure = {
        let mut st = shared.lock();
        let Some(g) = st.groups.get(key).filter(|g| g.generation == generation) else {
            return false;
        };
        let need_ip = g.ip.is_none();
        let public = ip_kind(g);
        let location = g.location.clone();
        let ip = match public {
            Some(public) if need_ip => Some(st.alloc_ip(public)),
            _ => None,
        };
        let failure = (kind != DeployKind::Platform)
            .then(|| {
                crate::faults::take_provisioning_failure(&mut st.provisioning_failures, &key.name)
            })
            .flatten();
        let Some(g) = st.groups.get_mut(key) else {
            return false;
        };
        if kind != DeployKind::Platform {
            g.provisioning_state = "Creating".to_owned();
        }
        if ip.is_some() {
            g.ip = ip;
        }
        failure.map(|f| ErrorInfo {
            code: f.code.unwrap_or_else(|| "ServiceUnavailable".to_owned()),
            message: f.message.unwrap_or_else(|| {
                format!("The requested resource is not available in the location '{location}' at this moment. Please retry with a different resource request or in another location.")
            }),
        })
    };
    shared.changed();
    if let Some(err) = failure {
        tracing::info!(code = %err.code, "injected provisioning failure");
        fail_group(shared, key, generation, err);
        return false;
    }
    true
}

/// Whether the group gets an IP address, and whether it is public: a group
/// in a virtual network always gets a private address in its subnet, with
/// or without an ipAddress block.
pub(crate) fn ip_kind(g: &Group) -> Option<bool> {
    let vnet = g.resource["properties"]["subnetIds"]
        .as_array()
        .is_some_and(|s| !s.is_empty());
    let ip_type = g.resource["properties"]["ipAddress"]["type"]
        .as_str()
        .map(str::to_owned)
        .or_else(|| vnet.then(|| "Private".to_owned()));
    ip_type.map(|t| t == "Public")
}

/// Every container still to run waits `Pulling`; returns the distinct
/// images to pull and the OS.
fn start_pulls(shared: &Shared, key: &GroupKey, generation: u64) -> Option<(Vec<String>, String)> {
    mutate(shared, key, generation, |g| {
        let mut images = Vec::new();
        for c in g.init.iter_mut().chain(g.containers.iter_mut()) {
            if c.done() {
                continue;
            }
            c.current = CState::waiting("Pulling");
            push_event(
                &mut c.events,
                "Pulling",
                format!("pulling image \"{}\"", c.image),
                false,
            );
            if !images.contains(&c.image) {
                images.push(c.image.clone());
            }
        }
        let os = g.resource["properties"]["osType"]
            .as_str()
            .unwrap_or("Linux")
            .to_owned();
        (images, os)
    })
}

/// The containers still to run that use `image`.
fn users<'a>(g: &'a mut Group, image: &'a str) -> impl Iterator<Item = &'a mut ContainerRt> {
    g.init
        .iter_mut()
        .chain(g.containers.iter_mut())
        .filter(move |c| c.image == image && !c.done())
}

/// Unscaled back-off after the `failures`-th failed pull of an image:
/// `pull_backoff` doubling up to `pull_backoff_max`; once the deployment has
/// failed at least the restart back-off (so zero delays do not spin).
fn pull_backoff(cfg: &EmulatorConfig, failures: u32) -> Duration {
    let t = &cfg.timings;
    let doublings = failures.saturating_sub(1).min(31);
    let d = t
        .pull_backoff
        .saturating_mul(1u32 << doublings)
        .min(t.pull_backoff_max.max(t.pull_backoff));
    if failures >= cfg.pull_attempts {
        d.max(t.restart_backoff)
    } else {
        d
    }
}

/// Pulls `image` for the containers using it, retrying as ACI does: after
/// each failed attempt a `Failed` (Warning) and a `BackOff` event, then a
/// growing back-off. After `pull_attempts` failures the deployment fails
/// (`InaccessibleImage`), and the pulls go on: "a failed state does not mean
/// that the resource is removed or stops attempting to succeed"
/// (`container-state.md`). `None` when the group moved on.
async fn pull_image(
    shared: &Arc<Shared>,
    key: &GroupKey,
    generation: u64,
    image: &str,
    os: &str,
) -> Option<()> {
    let mut failures: u32 = 0;
    loop {
        if failures > 0 {
            mutate(shared, key, generation, |g| {
                for c in users(g, image) {
                    c.current = CState::waiting("Pulling");
                    push_event(
                        &mut c.events,
                        "Pulling",
                        format!("pulling image \"{image}\""),
                        false,
                    );
                }
            })?;
        }
        pause(shared, pull_time(&shared.cfg, os, image)).await;
        let failed = shared.lock().pull_fails(image);
        if !failed {
            return mutate(shared, key, generation, |g| {
                for c in users(g, image) {
                    c.current = CState::waiting("Pulled");
                    push_event(
                        &mut c.events,
                        "Pulled",
                        format!("Successfully pulled image \"{image}\""),
                        false,
                    );
                }
            });
        }
        failures = failures.saturating_add(1);
        tracing::info!(image, failures, "image pull failed");
        let group_name = mutate(shared, key, generation, |g| {
            for c in users(g, image) {
                push_event(
                    &mut c.events,
                    "Failed",
                    format!(
                        "Failed to pull image \"{image}\": rpc error: code 2 desc Error: image {image} not found"
                    ),
                    true,
                );
                push_event(
                    &mut c.events,
                    "BackOff",
                    format!("Back-off pulling image \"{image}\""),
                    false,
                );
                c.current = CState::waiting("ImagePullBackOff");
            }
            g.name.clone()
        })?;
        if failures == shared.cfg.pull_attempts.max(1) {
            fail_group(
                shared,
                key,
                generation,
                ErrorInfo {
                    code: "InaccessibleImage".to_owned(),
                    message: format!(
                        "The image '{image}' in container group '{group_name}' is not accessible. Please check the image and registry credential."
                    ),
                },
            );
        }
        pause(shared, pull_backoff(&shared.cfg, failures)).await;
    }
}

/// Runs the init containers one after the other; false when the deployment
/// ends (the group moved on, or an init container failed under `Never`).
async fn run_init_containers(
    shared: &Arc<Shared>,
    key: &GroupKey,
    generation: u64,
    os: &str,
    policy: &str,
) -> bool {
    let n_init = shared.lock().groups.get(key).map_or(0, |g| g.init.len());
    for idx in 0..n_init {
        let Some(next) = mutate(shared, key, generation, |g| {
            g.init.get(idx).map(|c| (c.done(), c.command.clone()))
        })
        .flatten() else {
            return false;
        };
        let (done, command) = next;
        if done {
            continue;
        }
        let program = cmdlang::from_argv(&command);
        loop {
            let code = run_once(shared, key, generation, (true, idx), os, &program).await;
            let Some(code) = code else { return false };
            if code == 0 {
                mutate(shared, key, generation, |g| {
                    if let Some(c) = g.init.get_mut(idx) {
                        c.finished = true;
                    }
                });
                break;
            }
            if policy == "Never" {
                let done = mutate(shared, key, generation, |g| {
                    g.init_failed = true;
                    g.provisioning_state = "Succeeded".to_owned();
                    for c in &mut g.containers {
                        c.current = CState::waiting("Blocked");
                    }
                });
                if done.is_some() {
                    shared
                        .lock()
                        .complete_ops(key, generation, DEPLOY_OPS, None);
                }
                return false;
            }
            if !back_off(shared, key, generation, true, idx, code).await {
                return false;
            }
        }
    }
    true
}

/// Runs the main containers concurrently under the restart policy
/// (containers that already completed are left alone).
async fn run_main_containers(
    shared: &Arc<Shared>,
    key: &GroupKey,
    generation: u64,
    os: &str,
    policy: &str,
) {
    let commands: Vec<(usize, Vec<String>)> = shared
        .lock()
        .groups
        .get(key)
        .map(|g| {
            g.containers
                .iter()
                .enumerate()
                .filter(|(_, c)| !c.done())
                .map(|(i, c)| (i, c.command.clone()))
                .collect()
        })
        .unwrap_or_default();
    let runs = commands.into_iter().map(|(idx, command)| async move {
        let program = cmdlang::from_argv(&command);
        loop {
            let Some(code) = run_once(shared, key, generation, (false, idx), os, &program).await
            else {
                return;
            };
            let restart = policy == "Always" || (policy == "OnFailure" && code != 0);
            if !restart {
                mutate(shared, key, generation, |g| {
                    if let Some(c) = g.containers.get_mut(idx) {
                        c.finished = true;
                    }
                });
                return;
            }
            if !back_off(shared, key, generation, false, idx, code).await {
                return;
            }
        }
    });
    futures::future::join_all(runs).await;
}

/// Marks a group's provisioning as failed.
fn fail_group(shared: &Shared, key: &GroupKey, generation: u64, err: ErrorInfo) {
    let done = mutate(shared, key, generation, |g| {
        g.provisioning_state = "Failed".to_owned();
        push_event(&mut g.events, "Failed", err.message.clone(), true);
        g.error = Some(err.clone());
    });
    if done.is_some() {
        shared
            .lock()
            .complete_ops(key, generation, DEPLOY_OPS, Some(&err));
    }
}

/// Starts a container, runs its program, records its termination. `None` when
/// the group moved on (deleted, stopped, redeployed).
async fn run_once(
    shared: &Arc<Shared>,
    key: &GroupKey,
    generation: u64,
    (init, idx): (bool, usize),
    os: &str,
    program: &cmdlang::Program,
) -> Option<i32> {
    mutate(shared, key, generation, |g| {
        if let Some(c) = container(g, init, idx) {
            push_event(
                &mut c.events,
                "Created",
                format!("Created container {}", c.name),
                false,
            );
        }
    })?;
    pause(shared, start_time(&shared.cfg, os)).await;
    let all_started = mutate(shared, key, generation, |g| {
        if let Some(c) = container(g, init, idx) {
            c.current = CState {
                state: "Running".to_owned(),
                start_time: Some(now()),
                ..CState::default()
            };
            c.started_once = true;
            push_event(
                &mut c.events,
                "Started",
                format!("Started container {}", c.name),
                false,
            );
        }
        let all = !init
            && g.containers.iter().all(|c| c.started_once)
            && g.provisioning_state != "Succeeded";
        if all {
            // Also after a failed deployment that kept trying and made it.
            g.provisioning_state = "Succeeded".to_owned();
            g.error = None;
        }
        all
    })?;
    if all_started {
        shared
            .lock()
            .complete_ops(key, generation, DEPLOY_OPS, None);
    }
    let log_shared = shared.clone();
    let log_key = key.clone();
    let mut out = move |_stream: Stream, line: String| {
        mutate(&log_shared, &log_key, generation, |g| {
            if let Some(c) = container(g, init, idx) {
                c.log(line);
            }
        });
    };
    let code = program.run(&mut out).await;
    mutate(shared, key, generation, |g| {
        if let Some(c) = container(g, init, idx) {
            let start_time = c.current.start_time.clone();
            c.current = CState {
                state: "Terminated".to_owned(),
                start_time,
                finish_time: Some(now()),
                exit_code: Some(code),
                detail_status: if code == 0 { "Completed" } else { "Error" }.to_owned(),
            };
            c.stopped_logs();
        }
    })?;
    Some(code)
}

/// Waits the restart back-off of an exited container; false when the group moved on.
async fn back_off(
    shared: &Arc<Shared>,
    key: &GroupKey,
    generation: u64,
    init: bool,
    idx: usize,
    code: i32,
) -> bool {
    let ok = mutate(shared, key, generation, |g| {
        if let Some(c) = container(g, init, idx) {
            c.previous = Some(c.current.clone());
            c.current = CState::waiting(if code == 0 {
                "Completed"
            } else {
                "CrashLoopBackOff"
            });
            if code != 0 {
                push_event(
                    &mut c.events,
                    "BackOff",
                    "Back-off restarting failed container".to_owned(),
                    true,
                );
            }
        }
    });
    if ok.is_none() {
        return false;
    }
    pause(shared, shared.cfg.timings.restart_backoff).await;
    mutate(shared, key, generation, |g| {
        if let Some(c) = container(g, init, idx) {
            c.restart_count += 1;
        }
    })
    .is_some()
}

/// The groups named `name` (any subscription and resource group).
fn groups_named(shared: &Shared, name: &str) -> Result<Vec<GroupKey>, EmulatorError> {
    let name = name.to_ascii_lowercase();
    let keys: Vec<GroupKey> = shared
        .lock()
        .groups
        .keys()
        .filter(|k| k.name == name)
        .cloned()
        .collect();
    if keys.is_empty() {
        return Err(EmulatorError::NoSuchGroup(name));
    }
    Ok(keys)
}

/// Refuses platform events on a group that is stopped or in a transition.
fn check_settled(g: &Group) -> Result<(), EmulatorError> {
    if g.stopped || g.transitioning() {
        let state = if g.stopped {
            "Stopped".to_owned()
        } else {
            g.provisioning_state.clone()
        };
        return Err(EmulatorError::GroupBusy {
            name: g.name.clone(),
            state,
        });
    }
    Ok(())
}

/// Kills the containers still to run (`Killing` for running ones) and makes
/// them new instances waiting to start again: the old state becomes
/// `previousState`, `restartCount` grows for those that had started, logs
/// start afresh. Containers that completed with exit code 0 stay as they are.
fn restart_containers(g: &mut Group) {
    let keep: Vec<bool> = g
        .init
        .iter()
        .chain(g.containers.iter())
        .map(ContainerRt::done)
        .collect();
    kill_containers(g, 137, "Killed");
    for (c, keep) in g.init.iter_mut().chain(g.containers.iter_mut()).zip(keep) {
        if keep {
            continue;
        }
        c.previous = Some(c.current.clone());
        c.current = CState::waiting("Restarting");
        if c.started_once {
            c.restart_count += 1;
        }
        c.started_once = false;
        c.finished = false;
        c.clear_logs();
    }
    g.init_failed = false;
}

/// A maintenance restart by the platform of every group named `name`: each
/// container that has not completed successfully restarts (restart policy
/// `Never` containers that exited non-zero too: "the container might still
/// be restarted by the platform", `container-instances-restart-policy.md`),
/// the group is `Repairing` until they run again, and with `new_ip` it gets
/// a new address. Not for stopped or transitioning groups.
pub(crate) fn platform_restart(
    shared: &Arc<Shared>,
    name: &str,
    new_ip: bool,
) -> Result<(), EmulatorError> {
    for key in groups_named(shared, name)? {
        let generation = {
            let mut st = shared.lock();
            let generation = st.next_seq();
            let public = {
                let g = st
                    .groups
                    .get(&key)
                    .ok_or_else(|| EmulatorError::NoSuchGroup(name.to_owned()))?;
                check_settled(g)?;
                ip_kind(g).filter(|_| new_ip && g.ip.is_some())
            };
            let ip = public.map(|p| st.alloc_ip(p));
            let Some(g) = st.groups.get_mut(&key) else {
                continue;
            };
            g.generation = generation;
            restart_containers(g);
            if ip.is_some() {
                g.ip = ip;
            }
            g.provisioning_state = "Repairing".to_owned();
            st.cancel_stale_ops(&key, generation);
            generation
        };
        tracing::info!(group = %key.name, new_ip, "platform restart");
        shared.changed();
        deploy_as(shared, key, generation, DeployKind::Platform);
    }
    Ok(())
}

/// A repair of every group named `name`: its node is down, the group is
/// `Unhealthy` (its containers' last known state stays) for the first half of
/// `duration` and `Repairing` (moved: its containers wait to start again)
/// for the second; then it is deployed on its new host like a platform
/// restart and `Succeeded` once its containers run. `duration` is not scaled.
pub(crate) fn repair(
    shared: &Arc<Shared>,
    name: &str,
    duration: Duration,
) -> Result<(), EmulatorError> {
    for key in groups_named(shared, name)? {
        let generation = {
            let mut st = shared.lock();
            let generation = st.next_seq();
            let Some(g) = st.groups.get_mut(&key) else {
                continue;
            };
            check_settled(g)?;
            g.generation = generation;
            g.provisioning_state = "Unhealthy".to_owned();
            st.cancel_stale_ops(&key, generation);
            generation
        };
        tracing::info!(group = %key.name, ?duration, "repair");
        shared.changed();
        let s = shared.clone();
        let k = key.clone();
        let span = tracing::info_span!("group", name = %key.name, rg = %key.rg, generation);
        shared.spawn_group(
            key,
            generation,
            async move {
                tokio::time::sleep(duration / 2).await;
                let moved = mutate(&s, &k, generation, |g| {
                    g.provisioning_state = "Repairing".to_owned();
                    restart_containers(g);
                });
                if moved.is_none() {
                    return;
                }
                tokio::time::sleep(duration - duration / 2).await;
                run_group(s, k, generation, DeployKind::Platform).await;
            }
            .instrument(span),
        );
    }
    Ok(())
}

/// A Spot eviction of every group named `name`: Azure reclaims the capacity
/// and ACI restarts the group elsewhere, "automatically restarted without
/// requiring any action" (container-instances-spot-containers-overview.md).
/// Modelled as a [`repair`] of `duration` (`Unhealthy`, `Repairing`, then
/// running again); refused for groups that are not Spot.
pub(crate) fn spot_evict(
    shared: &Arc<Shared>,
    name: &str,
    duration: Duration,
) -> Result<(), EmulatorError> {
    for key in groups_named(shared, name)? {
        let st = shared.lock();
        let spot = st
            .groups
            .get(&key)
            .is_some_and(|g| g.resource["properties"]["priority"].as_str() == Some("Spot"));
        if !spot {
            return Err(EmulatorError::NotSpot(key.name.clone()));
        }
    }
    tracing::info!(group = %name, ?duration, "spot eviction");
    repair(shared, name, duration)
}

/// Stops every container of a group (used by stop, restart and delete).
pub(crate) fn kill_containers(g: &mut Group, exit_code: i32, detail: &str) {
    for c in g.init.iter_mut().chain(g.containers.iter_mut()) {
        if c.current.state == "Running" || c.current.state == "Waiting" {
            if c.current.state == "Running" {
                push_event(
                    &mut c.events,
                    "Killing",
                    format!("Killing container {}", c.name),
                    false,
                );
            }
            let start_time = c.current.start_time.clone();
            c.current = CState {
                state: "Terminated".to_owned(),
                start_time,
                finish_time: Some(now()),
                exit_code: Some(exit_code),
                detail_status: detail.to_owned(),
            };
            c.stopped_logs();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{canonical_image, pull_backoff, pull_time};
    use crate::config::{DelayRange, EmulatorConfig, Timings};

    #[test]
    fn pull_back_off_doubles_up_to_its_cap_and_never_spins_after_failing() {
        let s = Duration::from_secs;
        let cfg = EmulatorConfig::default();
        let waits: Vec<Duration> = (1..=7).map(|n| pull_backoff(&cfg, n)).collect();
        assert_eq!(waits, [s(10), s(20), s(40), s(80), s(160), s(300), s(300)]);
        assert_eq!(pull_backoff(&cfg, u32::MAX), s(300));
        let fast = EmulatorConfig {
            timings: Timings::zero(),
            ..EmulatorConfig::default()
        };
        assert_eq!(pull_backoff(&fast, 1), Duration::ZERO);
        assert_eq!(pull_backoff(&fast, 2), Duration::ZERO);
        // The deployment has failed: the restart back-off is the floor.
        assert_eq!(pull_backoff(&fast, 3), Duration::from_millis(500));
    }

    #[test]
    fn image_references_are_compared_without_docker_hub_defaults() {
        assert_eq!(
            canonical_image("docker.io/library/alpine:3.20"),
            "alpine:3.20"
        );
        assert_eq!(canonical_image("Alpine:3.20"), "alpine:3.20");
        assert_eq!(canonical_image("busybox"), "busybox:latest");
        assert_eq!(
            canonical_image("localhost:5000/app"),
            "localhost:5000/app:latest"
        );
        assert_eq!(canonical_image("repo/app@sha256:ab"), "repo/app@sha256:ab");
    }

    #[test]
    fn pull_times_stay_in_their_range_and_are_stable_per_image() {
        let cfg = EmulatorConfig::default();
        let t = cfg.timings;
        for i in 0..200 {
            let image = format!("example.azurecr.io/app{i}:v1");
            let linux = pull_time(&cfg, "Linux", &image);
            assert!(
                t.pull_linux.min <= linux && linux <= t.pull_linux.max,
                "{linux:?}"
            );
            let windows = pull_time(&cfg, "Windows", &image);
            assert!(t.pull_windows.min <= windows && windows <= t.pull_windows.max);
            assert_eq!(linux, pull_time(&cfg, "Linux", &image));
        }
        let cached = pull_time(&cfg, "Linux", "ubuntu:22.04");
        assert!(t.pull_cached.min <= cached && cached <= t.pull_cached.max);
        let s = Duration::from_secs;
        assert_eq!(DelayRange::fixed(s(3)).pick("x"), s(3));
        // A reversed range still picks between its ends.
        let r = DelayRange::new(s(5), s(2)).pick("x");
        assert!(s(2) <= r && r <= s(5));
    }
}
