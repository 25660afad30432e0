//! An in-memory provider: for tests, examples, and as a reference for
//! implementing [`Provider`].

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::{
    ContainerState, ContainerStateRunning, ContainerStateTerminated, ContainerStatus, Pod,
    PodCondition, PodIP, PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use crate::{
    Adjustment, Created, Instance, InstanceState, PodKey, PodReport, Provider, ProviderError,
    ProviderEvent, spec_hash,
};

#[derive(Debug, Clone)]
struct Running {
    key: PodKey,
    hash: String,
    resources: String,
    ip: String,
    started: jiff::Timestamp,
    restart_policy: String,
    /// name, image, exit code once terminated.
    containers: Vec<(String, String, Option<i32>)>,
    /// The instance failed by itself with this error (never ran).
    failed: Option<ProviderError>,
}

/// Runs "pods" in memory. A container whose command and args contain
/// `exit N` terminates at once with code N; every other container runs until
/// deleted. Failures can be injected with [`InMemoryProvider::fail_next_creates`].
#[derive(Debug, Default)]
pub struct InMemoryProvider {
    pods: Mutex<HashMap<String, Running>>,
    next_ip: AtomicU64,
    fail_creates: Mutex<Vec<ProviderError>>,
    fail_instances: Mutex<Vec<ProviderError>>,
    omitted: Mutex<HashMap<String, u64>>,
    adjustments: Mutex<Vec<Adjustment>>,
    stopped: Mutex<Vec<String>>,
    /// Status reads that do not find a new instance yet (eventual consistency).
    unseen_reads: AtomicU64,
    pending_on_create: std::sync::atomic::AtomicBool,
    provisioning: std::sync::atomic::AtomicBool,
    /// While set, listings answer only once it is cleared (with what they saw when called).
    listings_held: std::sync::atomic::AtomicBool,
    /// Listings waiting for `listings_held` to clear.
    listings_waiting: AtomicU64,
    /// Calls by operation: create, delete, status, list.
    calls: [AtomicU64; 4],
}

fn exit_code(command: &[String]) -> Option<i32> {
    let joined = command.join(" ");
    let idx = joined.find("exit ")?;
    joined[idx + 5..]
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .and_then(|n| n.parse().ok())
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl InMemoryProvider {
    /// The next `errors.len()` creations fail with these errors, in order.
    pub fn fail_next_creates(&self, errors: Vec<ProviderError>) {
        let mut f = lock(&self.fail_creates);
        f.extend(errors);
    }

    /// The next `errors.len()` instances created fail by themselves once
    /// created (as a backend whose image pull or provisioning fails after
    /// accepting the creation): listed as [`InstanceState::Failed`], read as
    /// a Pending pod with [`PodReport::retry`] set to the error.
    pub fn fail_next_instances(&self, errors: Vec<ProviderError>) {
        lock(&self.fail_instances).extend(errors);
    }

    /// The next `n` listings leave the instance of `uid` out, as a listing
    /// paged while instances come and go can.
    pub fn omit_from_listings(&self, uid: &str, n: u64) {
        lock(&self.omitted).insert(uid.to_owned(), n);
    }

    /// Removes the instance of `uid` behind the reconciler's back (deleted in
    /// a portal, say).
    pub fn remove_instance(&self, uid: &str) -> bool {
        lock(&self.pods).remove(uid).is_some()
    }

    /// The next `reads` status reads find no instance, as ARM can answer 404
    /// right after a PUT.
    pub fn hide_new_instances(&self, reads: u64) {
        self.unseen_reads.store(reads, Ordering::Relaxed);
    }

    /// The UIDs of the pods whose instances were stopped, in order.
    pub fn stopped(&self) -> Vec<String> {
        lock(&self.stopped).clone()
    }

    /// Every later creation reports these adjustments (as a provider that
    /// had to change something would).
    pub fn adjust_creates(&self, adjustments: Vec<Adjustment>) {
        *lock(&self.adjustments) = adjustments;
    }

    /// Records `hash` as the resources hash the instance of `uid` was created
    /// with, as if its pod had been resized in place since (a 1.20 API server
    /// refuses such resizes, so tests simulate them here).
    pub fn set_created_resources_hash(&self, uid: &str, hash: &str) -> bool {
        let mut pods = lock(&self.pods);
        pods.get_mut(uid)
            .map(|r| r.resources = hash.to_owned())
            .is_some()
    }

    /// When set, creation reports the pod as still starting (Pending,
    /// instance Creating), as a slow provider would; only a later status read
    /// sees it Running.
    pub fn report_pending_on_create(&self, pending: bool) {
        self.pending_on_create.store(pending, Ordering::Relaxed);
    }

    /// While set, every instance is reported as still provisioning (by
    /// creation, status reads and listings), like a slow backend.
    pub fn hold_provisioning(&self, hold: bool) {
        self.provisioning.store(hold, Ordering::Relaxed);
    }

    /// While `hold` is set, every listing takes its snapshot of the instances
    /// when called but answers only once the hold is lifted, as a listing
    /// that pages slowly while instances are deleted: what it returns is
    /// stale by then.
    pub fn hold_listings(&self, hold: bool) {
        self.listings_held.store(hold, Ordering::Release);
    }

    /// Listings that took their snapshot and wait for the hold to be lifted.
    pub fn listings_waiting(&self) -> u64 {
        self.listings_waiting.load(Ordering::Acquire)
    }

    fn held(&self) -> bool {
        self.provisioning.load(Ordering::Relaxed)
    }

    fn failed_report(r: &Running, e: &ProviderError) -> PodReport {
        let waiting_reason = if e.kind == crate::ErrorKind::ImagePull {
            "ErrImagePull"
        } else {
            "ContainerCreating"
        };
        let statuses = r
            .containers
            .iter()
            .map(|(name, image, _)| ContainerStatus {
                name: name.clone(),
                image: image.clone(),
                image_id: String::new(),
                started: Some(false),
                state: Some(ContainerState {
                    waiting: Some(k8s_openapi::api::core::v1::ContainerStateWaiting {
                        reason: Some(waiting_reason.into()),
                        message: Some(e.message.clone()),
                    }),
                    ..ContainerState::default()
                }),
                ..ContainerStatus::default()
            })
            .collect();
        PodReport {
            status: PodStatus {
                phase: Some("Pending".into()),
                reason: (e.kind != crate::ErrorKind::ImagePull).then(|| e.reason.clone()),
                message: (e.kind != crate::ErrorKind::ImagePull).then(|| e.message.clone()),
                container_statuses: Some(statuses),
                ..PodStatus::default()
            },
            events: Vec::new(),
            state: Some(InstanceState::Failed),
            retry: Some(e.clone()),
        }
    }

    /// `report` as a backend still provisioning shows it: Pending, every
    /// container waiting with `ContainerCreating`, as a kubelet says.
    fn still_starting(mut report: PodReport) -> PodReport {
        report.status.phase = Some("Pending".into());
        for c in report.status.container_statuses.iter_mut().flatten() {
            c.ready = false;
            c.started = Some(false);
            c.restart_count = 0;
            c.last_state = None;
            c.state = Some(ContainerState {
                waiting: Some(k8s_openapi::api::core::v1::ContainerStateWaiting {
                    reason: Some("ContainerCreating".into()),
                    message: None,
                }),
                ..ContainerState::default()
            });
        }
        report.status.conditions = None;
        report.status.pod_ip = None;
        report.status.pod_ips = None;
        report.state = Some(InstanceState::Creating);
        report
    }

    /// How many instances run now.
    pub fn len(&self) -> usize {
        lock(&self.pods).len()
    }

    /// True when nothing runs.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The keys of the running instances.
    pub fn keys(&self) -> Vec<PodKey> {
        lock(&self.pods).values().map(|r| r.key.clone()).collect()
    }

    /// Calls so far: (create, delete, status, list).
    pub fn calls(&self) -> (u64, u64, u64, u64) {
        let l = |i: usize| self.calls[i].load(Ordering::Relaxed);
        (l(0), l(1), l(2), l(3))
    }

    /// Gives the instance of `uid` a new IP address, as a backend that moved
    /// or restarted it would; returns the new address.
    pub fn move_instance(&self, uid: &str) -> Option<String> {
        let n = self.next_ip.fetch_add(1, Ordering::Relaxed);
        let mut pods = lock(&self.pods);
        let r = pods.get_mut(uid)?;
        r.ip = format!("10.201.{}.{}", (n / 250) % 250, n % 250 + 1);
        Some(r.ip.clone())
    }

    /// Makes container `container` of the pod with `uid` exit with `code`.
    pub fn terminate(&self, uid: &str, container: &str, code: i32) -> bool {
        let mut pods = lock(&self.pods);
        let Some(r) = pods.get_mut(uid) else {
            return false;
        };
        let mut found = false;
        for c in &mut r.containers {
            if c.0 == container {
                c.2 = Some(code);
                found = true;
            }
        }
        found
    }

    fn report(r: &Running) -> PodReport {
        if let Some(e) = &r.failed {
            return Self::failed_report(r, e);
        }
        let started = Some(Time(r.started));
        let statuses: Vec<ContainerStatus> = r
            .containers
            .iter()
            .map(|(name, image, exit)| ContainerStatus {
                name: name.clone(),
                image: image.clone(),
                image_id: String::new(),
                ready: exit.is_none(),
                started: Some(exit.is_none()),
                restart_count: 0,
                state: Some(match exit {
                    None => ContainerState {
                        running: Some(ContainerStateRunning {
                            started_at: started.clone(),
                        }),
                        ..ContainerState::default()
                    },
                    Some(code) => ContainerState {
                        terminated: Some(ContainerStateTerminated {
                            exit_code: *code,
                            reason: Some(if *code == 0 { "Completed" } else { "Error" }.into()),
                            started_at: started.clone(),
                            finished_at: started.clone(),
                            ..ContainerStateTerminated::default()
                        }),
                        ..ContainerState::default()
                    },
                }),
                ..ContainerStatus::default()
            })
            .collect();
        let all_done = r.containers.iter().all(|c| c.2.is_some());
        let all_ok = r.containers.iter().all(|c| c.2 == Some(0));
        let phase = if all_done && r.restart_policy != "Always" {
            if all_ok { "Succeeded" } else { "Failed" }
        } else {
            "Running"
        };
        let ready = if r.containers.iter().all(|c| c.2.is_none()) {
            "True"
        } else {
            "False"
        };
        let cond = |t: &str, s: &str| PodCondition {
            type_: t.into(),
            status: s.into(),
            last_transition_time: started.clone(),
            ..PodCondition::default()
        };
        PodReport {
            status: PodStatus {
                phase: Some(phase.into()),
                conditions: Some(vec![
                    cond("Initialized", "True"),
                    cond("ContainersReady", ready),
                    cond("Ready", ready),
                ]),
                container_statuses: Some(statuses),
                pod_ip: Some(r.ip.clone()),
                pod_ips: Some(vec![PodIP { ip: r.ip.clone() }]),
                start_time: started,
                ..PodStatus::default()
            },
            events: r
                .containers
                .iter()
                .map(|(name, image, _)| ProviderEvent {
                    id: format!("{name}/Started"),
                    type_: "Normal".into(),
                    reason: "Started".into(),
                    message: format!("Started container {name} ({image})"),
                    count: 1,
                })
                .collect(),
            state: Some(InstanceState::Running),
            retry: None,
        }
    }
}

impl Provider for InMemoryProvider {
    fn create_pod<'a>(&'a self, pod: &'a Pod) -> BoxFuture<'a, Result<Created, ProviderError>> {
        Box::pin(async move {
            self.calls[0].fetch_add(1, Ordering::Relaxed);
            if let Some(e) = {
                let mut f = lock(&self.fail_creates);
                (!f.is_empty()).then(|| f.remove(0))
            } {
                return Err(e);
            }
            let key = PodKey::of(pod);
            let spec = pod.spec.clone().unwrap_or_default();
            let mut containers = Vec::new();
            for c in &spec.containers {
                let image = c.image.clone().unwrap_or_default();
                if image.is_empty() {
                    return Err(ProviderError::invalid(
                        "InvalidImage",
                        format!("container {} has no image", c.name),
                    ));
                }
                let argv: Vec<String> = c
                    .command
                    .iter()
                    .flatten()
                    .chain(c.args.iter().flatten())
                    .cloned()
                    .collect();
                containers.push((c.name.clone(), image, exit_code(&argv)));
            }
            let failed = {
                let mut f = lock(&self.fail_instances);
                (!f.is_empty()).then(|| f.remove(0))
            };
            let mut pods = lock(&self.pods);
            let n = self.next_ip.fetch_add(1, Ordering::Relaxed);
            let r = pods.entry(key.uid.clone()).or_insert_with(|| Running {
                key: key.clone(),
                hash: spec_hash(pod),
                resources: crate::resources_hash(pod),
                ip: format!("10.200.{}.{}", (n / 250) % 250, n % 250 + 1),
                started: jiff::Timestamp::now(),
                restart_policy: spec
                    .restart_policy
                    .clone()
                    .unwrap_or_else(|| "Always".into()),
                containers,
                failed,
            });
            let mut report = Some(Self::report(r));
            if self.pending_on_create.load(Ordering::Relaxed) || self.held() {
                report = report.map(Self::still_starting);
            }
            Ok(Created {
                report,
                adjustments: lock(&self.adjustments).clone(),
            })
        })
    }

    fn delete_pod<'a>(&'a self, key: &'a PodKey) -> BoxFuture<'a, Result<bool, ProviderError>> {
        Box::pin(async move {
            self.calls[1].fetch_add(1, Ordering::Relaxed);
            lock(&self.pods).remove(&key.uid);
            Ok(true)
        })
    }

    fn pod_status<'a>(
        &'a self,
        pod: &'a Pod,
    ) -> BoxFuture<'a, Result<Option<PodReport>, ProviderError>> {
        Box::pin(async move {
            self.calls[2].fetch_add(1, Ordering::Relaxed);
            let hidden = self
                .unseen_reads
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                .is_ok();
            if hidden {
                return Ok(None);
            }
            let uid = pod.metadata.uid.clone().unwrap_or_default();
            let report = lock(&self.pods).get(&uid).map(Self::report);
            Ok(if self.held() {
                report.map(Self::still_starting)
            } else {
                report
            })
        })
    }

    fn stop_pod<'a>(&'a self, key: &'a PodKey) -> BoxFuture<'a, Result<(), ProviderError>> {
        Box::pin(async move {
            lock(&self.stopped).push(key.uid.clone());
            Ok(())
        })
    }

    fn list_instances(&self) -> BoxFuture<'_, Result<Vec<Instance>, ProviderError>> {
        Box::pin(async move {
            self.calls[3].fetch_add(1, Ordering::Relaxed);
            let snapshot = self.snapshot();
            if self.listings_held.load(Ordering::Acquire) {
                self.listings_waiting.fetch_add(1, Ordering::AcqRel);
                // A test-only hold: polling keeps it free of wake-up races.
                while self.listings_held.load(Ordering::Acquire) {
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
                self.listings_waiting.fetch_sub(1, Ordering::AcqRel);
            }
            Ok(snapshot)
        })
    }
}

impl InMemoryProvider {
    /// What a listing shows now.
    fn snapshot(&self) -> Vec<Instance> {
        let mut omitted = lock(&self.omitted);
        omitted.retain(|_, n| *n > 0);
        lock(&self.pods)
            .values()
            .filter(|r| match omitted.get_mut(&r.key.uid) {
                Some(n) => {
                    *n -= 1;
                    false
                }
                None => true,
            })
            .map(|r| Instance {
                key: r.key.clone(),
                state: if r.failed.is_some() {
                    InstanceState::Failed
                } else if self.held() {
                    InstanceState::Creating
                } else {
                    InstanceState::Running
                },
                spec_hash: Some(r.hash.clone()),
                resources_hash: Some(r.resources.clone()),
                ip: Some(r.ip.clone()),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_are_found_in_commands() {
        let v = |s: &[&str]| s.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
        assert_eq!(exit_code(&v(&["sh", "-c", "echo done; exit 3"])), Some(3));
        assert_eq!(exit_code(&v(&["sleep", "100"])), None);
    }
}
