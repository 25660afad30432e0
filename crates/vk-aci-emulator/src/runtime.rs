//! The simulated container runtime: provisioning, image pulls, init containers,
//! containers running the command language, restart policies.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tracing::Instrument;

use crate::cmdlang::{self, Stream};
use crate::config::EmulatorConfig;
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

/// Starts (or restarts) the deployment of a group at `generation` (a no-op
/// once the group has moved on to another generation). A deployment that
/// `provisions` (a new group, a stopped one started again) first stays
/// `Pending` for the provisioning delay; one in place (update, restart) does not.
pub(crate) fn deploy(shared: &Arc<Shared>, key: GroupKey, generation: u64, provisions: bool) {
    let span = tracing::info_span!("group", name = %key.name, rg = %key.rg, generation);
    let s = shared.clone();
    shared.spawn_group(
        key.clone(),
        generation,
        async move { run_group(s, key, generation, provisions).await }.instrument(span),
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
            "Pending" | "Creating" | "Updating" | "Repairing" => {
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

async fn run_group(shared: Arc<Shared>, key: GroupKey, generation: u64, provisions: bool) {
    tokio::task::yield_now().await;
    // Waiting for a host (`Pending`).
    if provisions {
        pause(&shared, shared.cfg.timings.provisioning).await;
    }
    // Provisioning: IP, injected failures.
    let failure = {
        let mut st = shared.lock();
        let Some(g) = st.groups.get(&key).filter(|g| g.generation == generation) else {
            return;
        };
        // A group in a virtual network always gets a private address in its
        // subnet, with or without an ipAddress block.
        let vnet = g.resource["properties"]["subnetIds"]
            .as_array()
            .is_some_and(|s| !s.is_empty());
        let ip_type = g.resource["properties"]["ipAddress"]["type"]
            .as_str()
            .map(str::to_owned)
            .or_else(|| vnet.then(|| "Private".to_owned()));
        let need_ip = ip_type.is_some() && g.ip.is_none();
        let location = g.location.clone();
        let ip = need_ip.then(|| st.alloc_ip(ip_type.as_deref() == Some("Public")));
        let failure =
            crate::faults::take_provisioning_failure(&mut st.provisioning_failures, &key.name);
        let Some(g) = st.groups.get_mut(&key) else {
            return;
        };
        g.provisioning_state = "Creating".to_owned();
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
        fail_group(&shared, &key, generation, err);
        return;
    }

    // Pull every image, one after the other (as the kubelet does by
    // default), each distinct image once: every container waits `Pulling`
    // from the start, and is `Pulled` when its image is.
    let pulls = mutate(&shared, &key, generation, |g| {
        let mut images = Vec::new();
        for c in g.init.iter_mut().chain(g.containers.iter_mut()) {
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
    });
    let Some((images, os)) = pulls else { return };
    let mut unpullable = None;
    for image in &images {
        pause(&shared, pull_time(&shared.cfg, &os, image)).await;
        let failed = shared.lock().image_unpullable(image);
        let current = mutate(&shared, &key, generation, |g| {
            for c in g.init.iter_mut().chain(g.containers.iter_mut()) {
                if &c.image != image {
                    continue;
                }
                if failed {
                    c.current = CState::waiting("ErrImagePull");
                    push_event(
                        &mut c.events,
                        "Failed",
                        format!(
                            "Failed to pull image \"{}\": the image is not accessible",
                            c.image
                        ),
                        true,
                    );
                } else {
                    c.current = CState::waiting("Pulled");
                    push_event(
                        &mut c.events,
                        "Pulled",
                        format!("Successfully pulled image \"{}\"", c.image),
                        false,
                    );
                }
            }
        });
        if current.is_none() {
            return;
        }
        if failed {
            unpullable = Some(image.clone());
            break;
        }
    }
    let pulled = mutate(&shared, &key, generation, |g| {
        (g.name.clone(), g.restart_policy().to_owned())
    });
    let Some((group_name, policy)) = pulled else {
        return;
    };
    if let Some(image) = unpullable {
        fail_group(
            &shared,
            &key,
            generation,
            ErrorInfo {
                code: "InaccessibleImage".to_owned(),
                message: format!(
                    "The image '{image}' in container group '{group_name}' is not accessible. Please check the image and registry credential."
                ),
            },
        );
        return;
    }

    // Init containers, one after the other.
    let n_init = shared.lock().groups.get(&key).map_or(0, |g| g.init.len());
    for idx in 0..n_init {
        let Some(command) = mutate(&shared, &key, generation, |g| {
            g.init.get(idx).map(|c| c.command.clone())
        })
        .flatten() else {
            return;
        };
        let program = cmdlang::from_argv(&command);
        loop {
            let code = run_once(&shared, &key, generation, (true, idx), &os, &program).await;
            let Some(code) = code else { return };
            if code == 0 {
                mutate(&shared, &key, generation, |g| {
                    if let Some(c) = g.init.get_mut(idx) {
                        c.finished = true;
                    }
                });
                break;
            }
            if policy == "Never" {
                let done = mutate(&shared, &key, generation, |g| {
                    g.init_failed = true;
                    g.provisioning_state = "Succeeded".to_owned();
                    for c in &mut g.containers {
                        c.current = CState::waiting("Blocked");
                    }
                });
                if done.is_some() {
                    shared
                        .lock()
                        .complete_ops(&key, generation, DEPLOY_OPS, None);
                }
                return;
            }
            if !back_off(&shared, &key, generation, true, idx, code).await {
                return;
            }
        }
    }

    // Main containers, concurrently.
    let commands: Vec<Vec<String>> = shared
        .lock()
        .groups
        .get(&key)
        .map(|g| g.containers.iter().map(|c| c.command.clone()).collect())
        .unwrap_or_default();
    let runs = commands.into_iter().enumerate().map(|(idx, command)| {
        let shared = shared.clone();
        let key = key.clone();
        let policy = policy.clone();
        let os = os.clone();
        async move {
            let program = cmdlang::from_argv(&command);
            loop {
                let Some(code) =
                    run_once(&shared, &key, generation, (false, idx), &os, &program).await
                else {
                    return;
                };
                let restart = policy == "Always" || (policy == "OnFailure" && code != 0);
                if !restart {
                    mutate(&shared, &key, generation, |g| {
                        if let Some(c) = g.containers.get_mut(idx) {
                            c.finished = true;
                        }
                    });
                    return;
                }
                if !back_off(&shared, &key, generation, false, idx, code).await {
                    return;
                }
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
            g.provisioning_state = "Succeeded".to_owned();
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

    use super::{canonical_image, pull_time};
    use crate::config::{DelayRange, EmulatorConfig};

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
