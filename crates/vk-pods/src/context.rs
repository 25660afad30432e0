//! State shared by the reconcile function and the status sync loop.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, Taint};
use kube::Client;
use kube::runtime::events::Recorder;
use kube::runtime::reflector::{ObjectRef, Store};
use tokio::time::Instant;

use crate::metrics::ReconcilerMetrics;
use crate::{Instance, InstanceState, PodReport, Provider, ProviderError, ReconcilerConfig};

/// A pod's consecutive failures, when the next attempt may run, and the last
/// error (for the status shown while backing off).
#[derive(Debug, Clone)]
pub(crate) struct Failure {
    pub(crate) count: u32,
    pub(crate) not_before: Instant,
    /// When the last failure happened.
    pub(crate) at: Instant,
    pub(crate) last: Option<ProviderError>,
    /// The back-off status (e.g. `ImagePullBackOff`) was written already.
    pub(crate) backing_off: bool,
    /// The failure was the instance's own (see [`crate::PodReport::retry`]):
    /// a successful creation does not reset the count, only a running
    /// instance does, so the back-off keeps growing across re-creations.
    pub(crate) instance_failed: bool,
}

/// Consecutive instances whose early reads all found them still provisioning
/// after which new instances skip theirs (see [`Ctx::early_looks`]).
const EARLY_LOOK_MISSES: u32 = 8;
/// Early reads of one instance at most: the first
/// [`first_look_delay`](crate::ReconcilerConfig::first_look_delay) after its
/// creation, each next one twice as long after the previous (at 50, 150, 350
/// and 750 ms with the default delay), so a fast backend that is late under
/// load is still seen Running within about a second, without the listing.
pub const EARLY_LOOKS: u8 = 4;
/// While early reads are skipped, one creation in this many still takes one.
const EARLY_LOOK_PROBE: u32 = 16;

/// A locally created instance is trusted for this long even if a list does not show it yet.
const FRESH_CREATE: Duration = Duration::from_secs(30);

/// The operation budgets a reconciler spends (see [`crate::Budget`]).
#[derive(Debug, Clone, Default)]
pub(crate) struct Budgets {
    pub(crate) creates: Arc<crate::Budget>,
    pub(crate) deletes: Arc<crate::Budget>,
}

/// What the reconciler knows about one pod, by UID (see [`Ctx::forget`],
/// [`Ctx::forget_all`] and [`Ctx::instance_removed`] for what each forgets).
#[derive(Debug, Default)]
struct PodEntry {
    /// The pod's instance, from the last list plus local knowledge, and when
    /// this process created it (`None`: listed).
    instance: Option<(Instance, Option<Instant>)>,
    /// The instance was listed before but the last listing did not show it:
    /// kept until a status read confirms it gone (a listing paged while groups
    /// come and go can miss one; only a 404 for the instance itself says it
    /// is gone).
    unconfirmed: bool,
    /// Events already published: event id → count.
    events: HashMap<String, i32>,
    /// Consecutive failures.
    failure: Option<Failure>,
    /// Held back for a spec the provider cannot run: the
    /// [`fingerprint`](crate::key::fingerprint) it was refused with.
    held: Option<u64>,
    /// Restart counts carried over a re-creation (an image change restarts
    /// the container in a new instance whose counts start at zero), by
    /// container name.
    restart_base: Option<HashMap<String, i32>>,
    /// Created while still provisioning: when its status is read next, and
    /// how many reads were taken already.
    first_look: Option<(Instant, u8)>,
    /// The state the last full status read reported, and when.
    observed: Option<(InstanceState, Instant)>,
    /// Queued for the create quota: how many were ahead when its status last
    /// said so.
    queued: Option<usize>,
    /// The early read found the instance still provisioning: its report,
    /// published by a later status sync round without another read while the
    /// listing still shows the same state (see [`Ctx::take_deferred`]).
    deferred: Option<(Box<PodReport>, Instant)>,
    /// The [`ADJUSTMENTS_ANNOTATION`] value not written yet: it rides on the
    /// pod's next status write (one API write, not two).
    adjustments: Option<String>,
}

impl PodEntry {
    /// Nothing is known: the entry can go.
    fn is_empty(&self) -> bool {
        self.instance.is_none()
            && !self.unconfirmed
            && self.events.is_empty()
            && self.failure.is_none()
            && self.held.is_none()
            && self.restart_base.is_none()
            && self.first_look.is_none()
            && self.observed.is_none()
            && self.queued.is_none()
            && self.deferred.is_none()
            && self.adjustments.is_none()
    }

    /// Forgets the instance and what was read of it.
    fn instance_removed(&mut self) {
        self.instance = None;
        self.unconfirmed = false;
        self.first_look = None;
        self.observed = None;
        self.deferred = None;
    }
}

pub(crate) struct Ctx {
    pub(crate) budgets: Budgets,
    pub(crate) client: Client,
    pub(crate) provider: Arc<dyn Provider>,
    pub(crate) config: ReconcilerConfig,
    pub(crate) metrics: Arc<ReconcilerMetrics>,
    pub(crate) recorder: Recorder,
    pub(crate) node: Store<Node>,
    pub(crate) started: Instant,
    /// Per-pod state, by pod UID.
    pods: Mutex<HashMap<String, PodEntry>>,
    /// Wakes the status sync from its steady interval when a pod starts
    /// transitioning (created, deleted), so it is refreshed at the short interval.
    pub(crate) wake: tokio::sync::Notify,
    /// Set once the first provider listing succeeded: until then "no instance
    /// known" does not mean "no instance", and creating would re-PUT groups
    /// that already run (after a restart, say).
    pub(crate) listed: std::sync::atomic::AtomicBool,
    /// Why the last provider listing failed, while none succeeded yet.
    pub(crate) list_error: Mutex<Option<crate::ProviderError>>,
    /// Consecutive early reads that found the instance still provisioning
    /// (see [`Ctx::early_looks`]).
    look_misses: std::sync::atomic::AtomicU32,
    /// Creations that skipped or took the early read, for the probes.
    looks_planned: std::sync::atomic::AtomicU32,
    /// Token bucket for Normal events: (tokens, last refill).
    event_budget: Mutex<(f64, Instant)>,
    /// Pods whose deletion vk completed (instance and object), by UID, and
    /// when: a reconcile queued before the object left the cache is a no-op.
    deleted: Mutex<HashMap<String, Instant>>,
    /// Pods whose instance deletion the backend accepted, by UID, and when:
    /// a listing that started before it may still show the instance
    /// running, and it must not be deleted again as an orphan (that spends
    /// a slot of the delete quota on nothing).
    instances_deleted: Mutex<HashMap<String, Instant>>,
    /// Adjustment events already published for a controller's pods, by
    /// "owner UID/reason", and when (see [`Ctx::publish_adjustments`]).
    adjustment_events: Mutex<HashMap<String, Instant>>,
}

/// How long a completed deletion is remembered.
const DELETED_MEMORY: Duration = Duration::from_secs(300);

/// Records `uid` now in a map of recent deletions, dropping old ones now and then.
fn remember(map: &Mutex<HashMap<String, Instant>>, uid: &str) {
    let mut d = lock(map);
    insert_now(&mut d, uid, DELETED_MEMORY);
}

/// Records `key` now in a map of recent keys; at each power of two from 1024
/// entries, first drops those older than `memory` (so the map stays as large
/// as what happened within `memory`, at an amortised cost).
fn insert_now(map: &mut HashMap<String, Instant>, key: &str, memory: Duration) {
    if map.len() >= 1024 && map.len().is_power_of_two() {
        map.retain(|_, at| at.elapsed() < memory);
    }
    map.insert(key.to_owned(), Instant::now());
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding one of these small maps cannot leave them
    // inconsistent in a way that matters; keep going.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Merges a fresh listing into the pod entries: listed instances replace
/// what was known; one no longer listed is kept, marked unconfirmed (until a
/// status read confirms it or finds it gone), unless vk created it moments
/// ago (the listing could not know it yet).
fn merge_listing(pods: &mut HashMap<String, PodEntry>, listed: Vec<Instance>) {
    let before: Vec<(String, (Instance, Option<Instant>))> = pods
        .iter_mut()
        .filter_map(|(uid, p)| Some((uid.clone(), p.instance.take()?)))
        .collect();
    for i in listed {
        let uid = i.key.uid.clone();
        pods.entry(uid).or_default().instance = Some((i, None));
    }
    for (uid, entry) in before {
        let pod = pods.entry(uid).or_default();
        if pod.instance.is_some() {
            pod.unconfirmed = false;
            continue;
        }
        let fresh = entry.1.is_some_and(|t| t.elapsed() < FRESH_CREATE);
        if !fresh {
            // Not listed this time: kept until a read confirms it is gone.
            pod.unconfirmed = true;
        }
        pod.instance = Some(entry);
    }
}

/// What the orphan collection may delete: instances the latest listing
/// showed (or a status read confirmed since), not created by this process in
/// the last moments. One the latest listing left out is gone, or the next
/// listing shows it again: deleting it on an older listing's word would spend
/// a slot of the delete quota on nothing.
fn orphan_candidates(pods: &HashMap<String, PodEntry>) -> Vec<Instance> {
    pods.values()
        .filter(|p| !p.unconfirmed)
        .filter_map(|p| p.instance.as_ref())
        .filter(|(_, created)| created.is_none_or(|t| t.elapsed() >= FRESH_CREATE))
        .map(|(i, _)| i.clone())
        .collect()
}

/// The entries whose instance the latest listing left out and whose pod is
/// not `live`: nothing reads or reconciles them any more, and one kept would
/// be taken for an orphan once the memory of its deletion fades. (A listing
/// that began before a pod's deletion puts its instance back after the
/// deletion forgot it; the listings after it no longer show it.)
fn unlisted_without_pod(
    pods: &HashMap<String, PodEntry>,
    live: impl Fn(&str) -> bool,
) -> Vec<String> {
    pods.iter()
        .filter(|(uid, p)| p.unconfirmed && p.instance.is_some() && !live(uid))
        .map(|(uid, _)| uid.clone())
        .collect()
}

impl Ctx {
    pub(crate) fn new(
        client: Client,
        provider: Arc<dyn Provider>,
        config: ReconcilerConfig,
        metrics: Arc<ReconcilerMetrics>,
        node: Store<Node>,
        budgets: Budgets,
    ) -> Self {
        let recorder = Recorder::new(client.clone(), config.field_manager.as_str().into());
        let event_burst = config.event_burst;
        Self {
            budgets,
            client,
            provider,
            config,
            metrics,
            recorder,
            node,
            started: Instant::now(),
            pods: Mutex::default(),
            wake: tokio::sync::Notify::new(),
            listed: std::sync::atomic::AtomicBool::new(false),
            list_error: Mutex::default(),
            look_misses: std::sync::atomic::AtomicU32::new(0),
            looks_planned: std::sync::atomic::AtomicU32::new(0),
            event_budget: Mutex::new((f64::from(event_burst), Instant::now())),
            deleted: Mutex::default(),
            instances_deleted: Mutex::default(),
            adjustment_events: Mutex::default(),
        }
    }

    /// Records that `uid`'s instance and pod object are gone.
    pub(crate) fn deletion_done(&self, uid: &str) {
        remember(&self.deleted, uid);
    }

    /// Records that the backend accepted the deletion of `uid`'s instance.
    pub(crate) fn instance_deletion_accepted(&self, uid: &str) {
        remember(&self.instances_deleted, uid);
    }

    /// True when the backend accepted the deletion of `uid`'s instance moments ago.
    pub(crate) fn instance_deletion_was_accepted(&self, uid: &str) -> bool {
        lock(&self.instances_deleted)
            .get(uid)
            .is_some_and(|at| at.elapsed() < DELETED_MEMORY)
    }

    /// True when vk completed `uid`'s deletion moments ago.
    pub(crate) fn deletion_was_done(&self, uid: &str) -> bool {
        lock(&self.deleted)
            .get(uid)
            .is_some_and(|at| at.elapsed() < DELETED_MEMORY)
    }

    pub(crate) fn node_taints(&self) -> Vec<Taint> {
        self.node
            .get(&ObjectRef::new(&self.config.node_name))
            .and_then(|n| n.spec.as_ref().and_then(|s| s.taints.clone()))
            .unwrap_or_default()
    }

    /// Runs `f` on `uid`'s entry if there is one, then drops the entry if
    /// nothing is left in it.
    fn with_pod<R>(&self, uid: &str, f: impl FnOnce(&mut PodEntry) -> R) -> Option<R> {
        let mut pods = lock(&self.pods);
        let entry = pods.get_mut(uid)?;
        let r = f(entry);
        if entry.is_empty() {
            pods.remove(uid);
        }
        Some(r)
    }

    /// Reads `uid`'s entry, if there is one.
    fn read_pod<R>(&self, uid: &str, f: impl FnOnce(&PodEntry) -> R) -> Option<R> {
        lock(&self.pods).get(uid).map(f)
    }

    pub(crate) fn instance(&self, uid: &str) -> Option<Instance> {
        self.read_pod(uid, |p| p.instance.as_ref().map(|(i, _)| i.clone()))
            .flatten()
    }

    /// True when this process created `uid`'s instance moments ago: a read
    /// that does not find it yet is the backend's eventual consistency (ARM can
    /// answer 404 right after a PUT), not a sign that it is gone.
    pub(crate) fn created_recently(&self, uid: &str) -> bool {
        self.read_pod(uid, |p| {
            p.instance.as_ref().and_then(|(_, created)| *created)
        })
        .flatten()
        .is_some_and(|t| t.elapsed() < FRESH_CREATE)
    }

    pub(crate) fn remember_created(&self, instance: Instance) {
        let uid = instance.key.uid.clone();
        lock(&self.pods).entry(uid).or_default().instance = Some((instance, Some(Instant::now())));
        self.wake.notify_one();
    }

    /// Forgets `uid`'s instance, what was read of it, its failures, hold and
    /// published events; keeps the restart counts carried over and its place
    /// in the create queue.
    pub(crate) fn forget(&self, uid: &str) {
        self.with_pod(uid, |p| {
            *p = PodEntry {
                restart_base: p.restart_base.take(),
                queued: p.queued.take(),
                ..PodEntry::default()
            };
        });
    }

    /// Forgets everything about `uid`, restart counts carried over included.
    pub(crate) fn forget_all(&self, uid: &str) {
        lock(&self.pods).remove(uid);
        self.budgets.creates.forget_uid(uid);
        self.budgets.deletes.forget_uid(uid);
    }

    /// Records that `uid` waits for the create quota with `ahead` pods before
    /// it. `Some(first)` when its status should say so now: the first time
    /// (`first`), or when the number ahead halved since it was last written.
    pub(crate) fn quota_position(&self, uid: &str, ahead: usize) -> Option<bool> {
        let mut pods = lock(&self.pods);
        let queued = &mut pods.entry(uid.to_owned()).or_default().queued;
        match *queued {
            None => {
                *queued = Some(ahead);
                Some(true)
            }
            Some(last) if ahead <= last / 2 && ahead < last => {
                *queued = Some(ahead);
                Some(false)
            }
            Some(_) => None,
        }
    }

    /// `uid` got its create slot.
    pub(crate) fn quota_granted(&self, uid: &str) {
        self.with_pod(uid, |p| p.queued = None);
    }

    /// Holds `uid` back until its fingerprint differs from `fingerprint`.
    pub(crate) fn hold(&self, uid: &str, fingerprint: u64) {
        lock(&self.pods).entry(uid.to_owned()).or_default().held = Some(fingerprint);
    }

    /// True when `uid` was held back with this `fingerprint`.
    pub(crate) fn is_held(&self, uid: &str, fingerprint: u64) -> bool {
        self.read_pod(uid, |p| p.held == Some(fingerprint))
            .unwrap_or(false)
    }

    /// Carries the restart counts of `status` over to `uid`'s next instance,
    /// one more for each container in `restarted`.
    pub(crate) fn carry_restarts(
        &self,
        uid: &str,
        status: Option<&k8s_openapi::api::core::v1::PodStatus>,
        restarted: &[String],
    ) {
        let mut pods = lock(&self.pods);
        let base = pods
            .entry(uid.to_owned())
            .or_default()
            .restart_base
            .get_or_insert_default();
        for c in status
            .and_then(|s| s.container_statuses.as_ref())
            .into_iter()
            .flatten()
        {
            let bump = i32::from(restarted.contains(&c.name));
            base.insert(c.name.clone(), c.restart_count.saturating_add(bump));
        }
    }

    /// Adds the restart counts carried over a re-creation to `status`.
    /// Without a record (after a restart of vk), a pod whose status counts
    /// more restarts than its instance reports had been re-created: its
    /// recorded counts are kept.
    pub(crate) fn apply_restarts(
        &self,
        uid: &str,
        current: Option<&k8s_openapi::api::core::v1::PodStatus>,
        status: &mut k8s_openapi::api::core::v1::PodStatus,
    ) {
        let mut pods = lock(&self.pods);
        let base = pods
            .entry(uid.to_owned())
            .or_default()
            .restart_base
            .get_or_insert_with(|| {
                let mut recovered = HashMap::new();
                for c in status.container_statuses.iter().flatten() {
                    let recorded = current
                        .and_then(|s| s.container_statuses.as_ref())
                        .into_iter()
                        .flatten()
                        .find(|s| s.name == c.name)
                        .map_or(0, |s| s.restart_count);
                    if recorded > c.restart_count {
                        recovered.insert(c.name.clone(), recorded - c.restart_count);
                    }
                }
                recovered
            });
        if base.is_empty() {
            return;
        }
        for c in status.container_statuses.iter_mut().flatten() {
            if let Some(b) = base.get(&c.name) {
                c.restart_count = c.restart_count.saturating_add(*b);
            }
        }
    }

    /// Reads `uid`'s status once `after` has passed, counting `taken` reads
    /// so far (see [`ReconcilerConfig::first_look_delay`]).
    pub(crate) fn schedule_look(&self, uid: &str, after: Duration, taken: u8) {
        lock(&self.pods)
            .entry(uid.to_owned())
            .or_default()
            .first_look = Some((Instant::now() + after, taken));
    }

    /// When `uid`'s next early status read is due, if one is planned.
    pub(crate) fn first_look_due(&self, uid: &str) -> Option<Instant> {
        self.read_pod(uid, |p| p.first_look.map(|(due, _)| due))
            .flatten()
    }

    /// Takes `uid`'s planned early read; returns how many were taken before it.
    pub(crate) fn take_look(&self, uid: &str) -> u8 {
        self.with_pod(uid, |p| p.first_look.take())
            .flatten()
            .map_or(0, |(_, taken)| taken)
    }

    /// Records what an early read found: still provisioning (`true`) or not.
    pub(crate) fn early_look_found(&self, provisioning: bool) {
        use std::sync::atomic::Ordering::Relaxed;
        if provisioning {
            let _ = self
                .look_misses
                .fetch_update(Relaxed, Relaxed, |n| n.checked_add(1));
        } else {
            self.look_misses.store(0, Relaxed);
        }
    }

    /// How many early reads a new instance gets: none when the last
    /// [`EARLY_LOOK_MISSES`] instances were still provisioning at all of
    /// theirs (a backend that takes tens of seconds, like ACI pulling an
    /// image), so another would spend reads on what the listing tells anyway;
    /// then one creation in [`EARLY_LOOK_PROBE`] still takes one, so a
    /// backend that became fast is noticed. Otherwise [`EARLY_LOOKS`].
    pub(crate) fn early_looks(&self) -> u8 {
        use std::sync::atomic::Ordering::Relaxed;
        let n = self.looks_planned.fetch_add(1, Relaxed);
        if self.look_misses.load(Relaxed) < EARLY_LOOK_MISSES {
            EARLY_LOOKS
        } else if n.is_multiple_of(EARLY_LOOK_PROBE) {
            1
        } else {
            0
        }
    }

    /// Keeps `report` (an early read of a provisioning instance) for a later
    /// sync round instead of writing it now. A report replacing a deferred one
    /// keeps its age: the pod has been waiting since the first.
    pub(crate) fn defer_report(&self, uid: &str, report: PodReport) {
        let mut pods = lock(&self.pods);
        let deferred = &mut pods.entry(uid.to_owned()).or_default().deferred;
        let since = deferred.as_ref().map_or_else(Instant::now, |(_, at)| *at);
        *deferred = Some((Box::new(report), since));
    }

    /// `uid`'s deferred report once it is `older_than` old; a younger one is
    /// kept (a fast backend may be running by the next round, and one write
    /// then says so).
    pub(crate) fn take_deferred(&self, uid: &str, older_than: Duration) -> Option<PodReport> {
        self.with_pod(uid, |p| {
            if p.deferred.as_ref()?.1.elapsed() < older_than {
                return None;
            }
            p.deferred.take().map(|(r, _)| *r)
        })
        .flatten()
    }

    /// Drops `uid`'s deferred report (the listing shows another state: it is stale).
    pub(crate) fn drop_deferred(&self, uid: &str) -> bool {
        self.with_pod(uid, |p| p.deferred.take().is_some())
            .unwrap_or(false)
    }

    /// True while `uid` has a deferred report.
    pub(crate) fn has_deferred(&self, uid: &str) -> bool {
        self.read_pod(uid, |p| p.deferred.is_some())
            .unwrap_or(false)
    }

    /// Records the state a full status read reported (and updates the
    /// instance's coarse state with it).
    pub(crate) fn observe(&self, uid: &str, state: Option<InstanceState>) {
        let Some(state) = state else { return };
        let mut pods = lock(&self.pods);
        let pod = pods.entry(uid.to_owned()).or_default();
        if state == InstanceState::Running
            && pod.failure.as_ref().is_some_and(|f| f.instance_failed)
        {
            // Running again after instance failures: the back-off starts over.
            pod.failure = None;
        }
        pod.observed = Some((state, Instant::now()));
        if let Some((inst, _)) = &mut pod.instance {
            inst.state = state;
        }
    }

    /// True when the last full read of `uid` saw another state than the
    /// listing shows now (e.g. a repair ended): its status is stale.
    pub(crate) fn state_changed(&self, uid: &str, listed: InstanceState) -> bool {
        self.read_pod(uid, |p| {
            p.observed.is_some_and(|(state, _)| state != listed)
        })
        .unwrap_or(false)
    }

    /// True when a full read already reported `listed` recently enough that
    /// reading again now would only repeat it: provisioning instances are
    /// re-read every [`ReconcilerConfig::provisioning_refresh_interval`],
    /// others when the last read is older than a sync interval.
    pub(crate) fn recently_observed(&self, uid: &str, listed: InstanceState) -> bool {
        let fresh_for = if listed == InstanceState::Creating {
            self.config.provisioning_refresh_interval
        } else {
            // A whole sync interval: the pod cache may show the status this
            // read published only a moment later (a pod still Pending in it
            // would otherwise be read again at the next provisioning round).
            self.config.sync_interval
        };
        self.read_pod(uid, |p| {
            p.observed
                .is_some_and(|(state, at)| state == listed && at.elapsed() < fresh_for)
        })
        .unwrap_or(false)
    }

    /// Replaces the instances with a fresh list, keeping local creations
    /// younger than the list could know about.
    pub(crate) fn replace_instances(&self, listed: Vec<Instance>) {
        self.listed
            .store(true, std::sync::atomic::Ordering::Release);
        merge_listing(&mut lock(&self.pods), listed);
    }

    /// True when `uid`'s instance was listed before but not by the last
    /// listing: its status must be read to tell whether it is gone.
    pub(crate) fn unconfirmed(&self, uid: &str) -> bool {
        self.read_pod(uid, |p| p.unconfirmed).unwrap_or(false)
    }

    /// A status read found `uid`'s instance: it exists, whatever a listing missed.
    pub(crate) fn confirmed(&self, uid: &str) {
        self.with_pod(uid, |p| p.unconfirmed = false);
    }

    /// What the orphan collection may delete: see [`orphan_candidates`].
    pub(crate) fn orphan_candidates(&self) -> Vec<Instance> {
        orphan_candidates(&lock(&self.pods))
    }

    /// Forgets every instance the latest listing left out whose pod is not
    /// `live` (see [`unlisted_without_pod`]).
    pub(crate) fn forget_unlisted(&self, live: impl Fn(&str) -> bool) {
        let gone = unlisted_without_pod(&lock(&self.pods), live);
        for uid in gone {
            self.forget_all(&uid);
        }
    }

    /// Records a failure; `backoff` maps the failure count to the wait before
    /// the next attempt, never shorter than what `error` asked for.
    pub(crate) fn failed_once(
        &self,
        uid: &str,
        error: Option<&ProviderError>,
        backoff: impl Fn(u32) -> Duration,
    ) -> (u32, Duration) {
        let mut pods = lock(&self.pods);
        let entry = pods
            .entry(uid.to_owned())
            .or_default()
            .failure
            .get_or_insert_with(|| Failure {
                count: 0,
                not_before: Instant::now(),
                at: Instant::now(),
                last: None,
                backing_off: false,
                instance_failed: false,
            });
        entry.count = entry.count.saturating_add(1);
        // The backend's own hint wins over the exponential back-off.
        let wait = error
            .and_then(|e| e.retry_after)
            .unwrap_or_else(|| backoff(entry.count));
        entry.not_before = Instant::now() + wait;
        entry.at = Instant::now();
        entry.last = error.cloned();
        entry.backing_off = false;
        entry.instance_failed = false;
        (entry.count, wait)
    }

    /// Records that `uid`'s instance failed by itself with `error` (see
    /// [`crate::PodReport::retry`]) and is being removed: the instance is
    /// forgotten (its failure count kept) and the next creation waits out the
    /// back-off. `None` when this failure was recorded already (its back-off
    /// is still running): the caller only retries the removal.
    pub(crate) fn instance_failed(
        &self,
        uid: &str,
        error: &ProviderError,
        backoff: impl Fn(u32) -> Duration,
    ) -> Option<(u32, Duration)> {
        let recorded = self
            .failure(uid)
            .is_some_and(|f| f.instance_failed && f.not_before > Instant::now());
        if recorded {
            return None;
        }
        let (n, wait) = self.failed_once(uid, Some(error), backoff);
        self.with_pod(uid, |p| {
            if let Some(f) = &mut p.failure {
                f.instance_failed = true;
            }
        });
        Some((n, wait))
    }

    /// Forgets `uid`'s instance (removed after it failed) but not its
    /// failures or the events already published.
    pub(crate) fn instance_removed(&self, uid: &str) {
        self.with_pod(uid, PodEntry::instance_removed);
    }

    /// How long a pod that failed recently must still wait before the next
    /// attempt (status writes re-trigger reconciles; they must not bypass backoff).
    pub(crate) fn backoff_left(&self, uid: &str) -> Option<Duration> {
        let not_before = self
            .read_pod(uid, |p| p.failure.as_ref().map(|f| f.not_before))
            .flatten()?;
        let now = Instant::now();
        (not_before > now).then(|| not_before - now)
    }

    /// The failure record of `uid`.
    pub(crate) fn failure(&self, uid: &str) -> Option<Failure> {
        self.read_pod(uid, |p| p.failure.clone()).flatten()
    }

    /// Marks that `uid`'s back-off status was written.
    pub(crate) fn backing_off(&self, uid: &str) {
        self.with_pod(uid, |p| {
            if let Some(f) = &mut p.failure {
                f.backing_off = true;
            }
        });
    }

    /// A creation succeeded: the failure count starts again, unless the
    /// last failure was the instance's own (then only a running instance
    /// resets it, see [`Self::observe`]).
    pub(crate) fn succeeded(&self, uid: &str) {
        self.with_pod(uid, |p| {
            if p.failure.as_ref().is_none_or(|f| !f.instance_failed) {
                p.failure = None;
            }
        });
    }
}

mod writes;

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::{PodEntry, merge_listing, orphan_candidates, unlisted_without_pod};
    use crate::{Instance, InstanceState, PodKey};

    fn instance(uid: &str) -> Instance {
        Instance {
            key: PodKey {
                namespace: "ns".into(),
                name: uid.into(),
                uid: uid.into(),
            },
            state: InstanceState::Running,
            spec_hash: None,
            resources_hash: None,
            ip: None,
        }
    }

    fn uids(instances: &[Instance]) -> Vec<&str> {
        let mut uids: Vec<&str> = instances.iter().map(|i| i.key.uid.as_str()).collect();
        uids.sort_unstable();
        uids
    }

    #[test]
    fn only_the_latest_listing_makes_orphan_candidates() {
        let mut pods: HashMap<String, PodEntry> = HashMap::new();
        merge_listing(&mut pods, vec![instance("a"), instance("b")]);
        assert_eq!(uids(&orphan_candidates(&pods)), ["a", "b"]);
        // The next listing leaves `b` out: it is gone, or listed again later.
        merge_listing(&mut pods, vec![instance("a")]);
        assert_eq!(uids(&orphan_candidates(&pods)), ["a"]);
        assert!(pods["b"].unconfirmed && pods["b"].instance.is_some());
        // Without its pod nothing will read it: it is forgotten. `a` is listed.
        assert_eq!(unlisted_without_pod(&pods, |_| false), ["b"]);
        // With its pod, a status read decides: kept.
        assert!(unlisted_without_pod(&pods, |uid| uid == "b").is_empty());
        // Listed again, it is a candidate again.
        merge_listing(&mut pods, vec![instance("a"), instance("b")]);
        assert_eq!(uids(&orphan_candidates(&pods)), ["a", "b"]);
        assert!(unlisted_without_pod(&pods, |_| false).is_empty());
    }
}
