//! The status sync: one provider listing per interval, full status reads only
//! for pods in transition plus a fixed budget of steady ones, and removal of
//! instances whose pod is gone.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt as _;
use futures::channel::mpsc::UnboundedSender;
use k8s_openapi::api::core::v1::Pod;
use kube::runtime::reflector::{ObjectRef, Store};
use tokio_util::sync::CancellationToken;

use crate::context::Ctx;
use crate::metrics::ReconcilerMetrics;
use crate::reconciler::SECOND_LOOK_AFTER;
use crate::status::is_terminal;
use crate::{InstanceState, PodKey};

/// Whether a pod needs its full status read at every sync.
fn transitioning(pod: &Pod, state: InstanceState) -> bool {
    let status = pod.status.as_ref();
    let phase = status.and_then(|s| s.phase.as_deref());
    state == InstanceState::Creating
        || state == InstanceState::Deleting
        || phase.is_none_or(|p| p == "Pending")
        || status
            .and_then(|s| s.container_statuses.as_ref())
            .is_none_or(Vec::is_empty)
}

/// The listing shows the instance at another IP than the pod's status (the
/// backend restarted or moved it).
fn moved(pod: &Pod, inst: &crate::Instance) -> bool {
    let Some(ip) = inst.ip.as_deref() else {
        return false;
    };
    let shown = pod.status.as_ref().and_then(|s| s.pod_ip.as_deref());
    shown.is_some_and(|shown| shown != ip)
}

/// Pods that will end by themselves (Jobs): refreshed first among the steady ones.
fn runs_to_completion(pod: &Pod) -> bool {
    pod.spec
        .as_ref()
        .and_then(|s| s.restart_policy.as_deref())
        .is_some_and(|p| p != "Always")
}

pub(crate) async fn run(
    ctx: Arc<Ctx>,
    store: Store<Pod>,
    mut cache_ready: tokio::sync::watch::Receiver<bool>,
    trigger: UnboundedSender<ObjectRef<Pod>>,
    shutdown: CancellationToken,
) {
    tracing::debug!("status sync waiting for the pod cache");
    tokio::select! {
        () = shutdown.cancelled() => return,
        r = cache_ready.wait_for(|ready| *ready) => if r.is_err() {
            tracing::warn!("pod watch ended before its first list; status sync stops");
            return;
        },
    }
    tracing::debug!("pod cache ready; status sync running");
    let mut steady = SteadyRefreshes::default();
    loop {
        let started = tokio::time::Instant::now();
        let (pace, listing) = sync_once(&ctx, &store, &trigger, &mut steady).await;
        let wait = pace.interval(&ctx.config, listing);
        let mut deadline = started + wait;
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep_until(deadline) => break,
                // A pod started transitioning (created: provisioning; deleted):
                // no longer wait the steady interval.
                () = ctx.wake.notified() => {
                    let soon = Pace::Provisioning.interval(&ctx.config, listing);
                    deadline = deadline.min(started + soon);
                }
            }
        }
    }
}

/// How soon the next sync round runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Pace {
    /// Every pod is steady.
    Steady,
    /// Pods are stopping, running to completion or waiting for an instance.
    Busy,
    /// Instances are provisioning: a started container should show on its
    /// pod within about a second.
    Provisioning,
}

impl Pace {
    /// The wait from the start of one round to the next. A provisioning round
    /// waits at least five times as long as its listing took, so listing a
    /// large number of instances never takes more than a fifth of the time.
    fn interval(self, config: &crate::ReconcilerConfig, listing: Duration) -> Duration {
        match self {
            Self::Steady => config.steady_sync_interval,
            Self::Busy => config.sync_interval,
            Self::Provisioning => config
                .provisioning_sync_interval
                .max(listing.saturating_mul(5))
                .min(config.sync_interval),
        }
    }
}

/// The round robin over steady pods and its budget: `refresh_budget` reads
/// per `steady_sync_interval`, whatever the pace. Shorter rounds (pods
/// provisioning, stopping) get a pro-rated share, so a burst that shortens
/// the rounds to a second does not multiply the steady reads by sixty.
#[derive(Debug, Default)]
struct SteadyRefreshes {
    cursor: usize,
    /// Reads earned and not spent yet (fractional between rounds).
    credit: f64,
    last: Option<tokio::time::Instant>,
}

impl SteadyRefreshes {
    /// How many steady pods this round reads: the credit earned since the
    /// last round (the whole budget on the first), at most the budget.
    fn take(&mut self, config: &crate::ReconcilerConfig, now: tokio::time::Instant) -> usize {
        let budget = config.refresh_budget as f64;
        let earned = match self.last {
            None => budget,
            Some(last) => {
                let interval = config.steady_sync_interval.as_secs_f64().max(1e-3);
                budget * (now - last).as_secs_f64() / interval
            }
        };
        self.last = Some(now);
        self.credit = (self.credit + earned).min(budget);
        let whole = self.credit.floor();
        self.credit -= whole;
        whole as usize
    }
}

/// One sync round; returns how soon the next should run and how long its
/// listing took.
async fn sync_once(
    ctx: &Arc<Ctx>,
    store: &Store<Pod>,
    trigger: &UnboundedSender<ObjectRef<Pod>>,
    steady_reads: &mut SteadyRefreshes,
) -> (Pace, Duration) {
    ReconcilerMetrics::inc(&ctx.metrics.lists);
    let started = tokio::time::Instant::now();
    let listed = ctx.provider.list_instances().await;
    let listing = started.elapsed();
    match listed {
        Ok(listed) => ctx.replace_instances(listed),
        Err(e) => {
            tracing::warn!(error = %e, "listing provider instances failed; retrying next sync");
            if !ctx.listed.load(std::sync::atomic::Ordering::Acquire) {
                // The first failure is what waiting pods show (one status write
                // each, not one per failed listing).
                ctx.list_error
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .get_or_insert(e);
            }
            return (Pace::Busy, listing);
        }
    }
    let pods = store.state();
    tracing::trace!(pods = pods.len(), "sync round");
    let mut pace = Pace::Steady;
    let mut busy = |p: Pace| pace = pace.max(p);
    let mut urgent = Vec::new();
    let mut deferred = Vec::new();
    let mut steady = Vec::new();
    for pod in pods {
        let key = PodKey::of(&pod);
        if pod.metadata.deletion_timestamp.is_some() {
            busy(Pace::Busy);
            let _ = trigger.unbounded_send(ObjectRef::from_obj(&*pod));
            continue;
        }
        if is_terminal(&pod) {
            continue;
        }
        let instance = ctx.instance(&key.uid);
        if instance
            .as_ref()
            .is_some_and(|i| i.state == InstanceState::Creating)
        {
            busy(Pace::Provisioning);
        }
        match instance {
            None => {
                // No instance for a live pod: let reconcile create it (or explain why not).
                busy(Pace::Busy);
                let _ = trigger.unbounded_send(ObjectRef::from_obj(&*pod));
            }
            // Just created: the reconciler reads it shortly.
            Some(_) if ctx.first_look_due(&key.uid).is_some() => busy(Pace::Provisioning),
            // The listing missed it: read it to tell whether it is gone.
            Some(_) if ctx.unconfirmed(&key.uid) => {
                busy(Pace::Busy);
                urgent.push(pod);
            }
            // Still provisioning as the early read found it: publish that read.
            Some(inst) if inst.state == InstanceState::Creating && ctx.has_deferred(&key.uid) => {
                if let Some(report) = ctx.take_deferred(&key.uid, SECOND_LOOK_AFTER) {
                    deferred.push((pod, report));
                }
            }
            Some(inst)
                if transitioning(&pod, inst.state)
                    || moved(&pod, &inst)
                    || ctx.state_changed(&key.uid, inst.state) =>
            {
                busy(Pace::Busy);
                // A deferred early read is stale now.
                let stale = ctx.drop_deferred(&key.uid);
                // The listing says nothing new about it: do not read it again yet.
                if stale || !ctx.recently_observed(&key.uid, inst.state) {
                    urgent.push(pod);
                }
            }
            Some(_) => {
                if runs_to_completion(&pod) {
                    busy(Pace::Busy);
                }
                steady.push(pod);
            }
        }
    }
    futures::stream::iter(deferred)
        .for_each_concurrent(usize::from(ctx.config.concurrency.max(1)), |(pod, report)| {
            let ctx = Arc::clone(ctx);
            async move {
                let key = PodKey::of(&pod);
                if let Err(e) = crate::reconciler::publish_report(&pod, &key, &ctx, &report).await {
                    tracing::warn!(pod = %key, error = %e, "status not written; retrying next sync");
                    ctx.defer_report(&key.uid, report);
                }
            }
        })
        .await;
    // A fixed budget of steady pods per steady interval, Jobs first, round robin.
    steady.sort_by_key(|p| !runs_to_completion(p));
    let budget = steady_reads
        .take(&ctx.config, tokio::time::Instant::now())
        .min(steady.len());
    if budget > 0 {
        let start = steady_reads.cursor % steady.len();
        urgent.extend(steady.iter().cycle().skip(start).take(budget).cloned());
        steady_reads.cursor = start + budget;
    }
    futures::stream::iter(urgent)
        .for_each_concurrent(usize::from(ctx.config.concurrency.max(1)), |pod| {
            let ctx = Arc::clone(ctx);
            async move {
                refresh(&ctx, &pod).await;
            }
        })
        .await;
    collect_orphans(ctx, store).await;
    (pace, listing)
}

/// Reads `pod`'s full status and publishes it; false when the instance is gone
/// (it is forgotten, so the next reconcile re-creates it).
pub(crate) async fn refresh(ctx: &Ctx, pod: &Pod) -> bool {
    let key = PodKey::of(pod);
    ReconcilerMetrics::inc(&ctx.metrics.status_refreshes);
    match ctx.provider.pod_status(pod).await {
        Ok(Some(report)) => {
            ctx.confirmed(&key.uid);
            ctx.observe(&key.uid, report.state);
            if let Err(e) = crate::reconciler::publish_report(pod, &key, ctx, &report).await {
                tracing::warn!(pod = %key, error = %e, "status not written; retrying next sync");
            }
            true
        }
        Ok(None) if ctx.created_recently(&key.uid) => {
            // ARM's eventual consistency right after a PUT: not gone.
            tracing::debug!(pod = %key, "instance not visible yet after its creation");
            true
        }
        Ok(None) => {
            // Gone behind our back (deleted in the portal, emulator reset): re-create.
            tracing::warn!(pod = %key, "instance disappeared; it will be re-created");
            ctx.forget(&key.uid);
            false
        }
        Err(e) => {
            tracing::warn!(pod = %key, error = %e, "reading status failed; retrying next sync");
            true
        }
    }
}

/// Deletes instances whose pod UID no longer exists, but never in the first
/// `orphan_grace` after start (the pod cache must be complete and settled).
async fn collect_orphans(ctx: &Arc<Ctx>, store: &Store<Pod>) {
    if ctx.started.elapsed() < ctx.config.orphan_grace {
        return;
    }
    // Read the instances first, the pods second: an instance created after the
    // pod snapshot would otherwise look orphaned (its pod is newer than the
    // snapshot). Instances vk created moments ago are never orphans either.
    let candidates = ctx.orphan_candidates();
    let live: HashSet<String> = store
        .state()
        .iter()
        .filter_map(|p| p.metadata.uid.clone())
        .collect();
    ctx.forget_unlisted(|uid| live.contains(uid));
    // One already `Deleting` was deleted (by us, or is being): ACI finishes it.
    // So was one whose pod's deletion vk did after the listing began.
    let orphans: Vec<_> = candidates
        .into_iter()
        .filter(|i| {
            !live.contains(&i.key.uid)
                && i.state != InstanceState::Deleting
                // Deleted by the pod's own deletion after the listing began.
                && !ctx.instance_deletion_was_accepted(&i.key.uid)
        })
        .collect();
    futures::stream::iter(orphans)
        .for_each_concurrent(usize::from(ctx.config.concurrency.max(1)), |inst| {
            let ctx = Arc::clone(ctx);
            async move {
                let Ok(spend) = ctx.budgets.deletes.try_take(0, &inst.key.uid) else {
                    return; // next sync
                };
                tracing::info!(pod = %inst.key, "deleting instance of a pod that no longer exists");
                ReconcilerMetrics::inc(&ctx.metrics.deletes);
                let result = ctx.provider.delete_pod(&inst.key).await;
                ctx.budgets.deletes.settle(spend);
                match result {
                    Ok(true) => {
                        ReconcilerMetrics::inc(&ctx.metrics.orphans_deleted);
                        ctx.forget(&inst.key.uid);
                    }
                    Ok(false) => {}
                    Err(e) => tracing::warn!(pod = %inst.key, error = %e, "orphan not deleted; retrying next sync"),
                }
            }
        })
        .await;
}

#[cfg(test)]
mod tests {
    use super::{Pace, SteadyRefreshes};
    use std::time::Duration;

    #[test]
    fn steady_reads_per_steady_interval_do_not_grow_with_the_pace() {
        let config = crate::ReconcilerConfig::new("n"); // 20 per 60 s
        let t0 = tokio::time::Instant::now();
        let mut steady = SteadyRefreshes::default();
        assert_eq!(
            steady.take(&config, t0),
            20,
            "the first round reads a whole budget"
        );
        // A minute of one-second rounds reads one budget, not sixty.
        let spent: usize = (1..=60)
            .map(|s| steady.take(&config, t0 + Duration::from_secs(s)))
            .sum();
        assert_eq!(spent, 20);
        // A steady round a whole interval later reads the whole budget again,
        // and a long pause earns no more than one budget.
        assert_eq!(steady.take(&config, t0 + Duration::from_secs(120)), 20);
        assert_eq!(steady.take(&config, t0 + Duration::from_secs(1000)), 20);
    }

    #[test]
    fn provisioning_rounds_are_short_unless_listing_is_slow() {
        let config = crate::ReconcilerConfig::new("n");
        let ms = Duration::from_millis;
        assert_eq!(Pace::Provisioning.interval(&config, ms(20)), ms(1000));
        // Listing took 400 ms: at most a fifth of the time.
        assert_eq!(Pace::Provisioning.interval(&config, ms(400)), ms(2000));
        // Never beyond the busy interval.
        assert_eq!(
            Pace::Provisioning.interval(&config, ms(4000)),
            config.sync_interval
        );
        assert_eq!(Pace::Busy.interval(&config, ms(20)), config.sync_interval);
        assert_eq!(
            Pace::Steady.interval(&config, ms(20)),
            config.steady_sync_interval
        );
        assert!(Pace::Provisioning > Pace::Busy && Pace::Busy > Pace::Steady);
    }
}
