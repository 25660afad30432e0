//! The level-triggered reconcile of one pod, and the controller that drives it.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt as _;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{DeleteParams, Preconditions};
use kube::runtime::controller::{Action, Config as ControllerConfig, Controller};
use kube::runtime::{WatchStreamExt as _, reflector, watcher};
use kube::{Api, Client, ResourceExt as _};
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

use kube::runtime::events::EventType;

use crate::backoff::{backoff, config_backoff, image_backoff};
use crate::context::{Budgets, Ctx, EARLY_LOOKS};
use crate::key::fingerprint;
use crate::metrics::ReconcilerMetrics;
use crate::status::{deadline_exceeded, differs, failed, is_terminal, pending, waiting};
use crate::{
    Budget, Error, ErrorKind, Instance, InstanceState, PodKey, Provider, ProviderError,
    ReconcilerConfig, ReconcilerMetricsSnapshot, admission, resources_hash, spec_hash, sync,
};

/// Reconciles the pods bound to one node with a [`Provider`].
pub struct PodReconciler {
    client: Client,
    provider: Arc<dyn Provider>,
    config: ReconcilerConfig,
    budgets: Budgets,
    metrics: Arc<ReconcilerMetrics>,
    store: reflector::Store<Pod>,
    writer: reflector::store::Writer<Pod>,
}

impl std::fmt::Debug for PodReconciler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PodReconciler")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl PodReconciler {
    /// A reconciler for `config.node_name`'s pods, backed by `provider`.
    pub fn new(client: Client, provider: Arc<dyn Provider>, config: ReconcilerConfig) -> Self {
        let (store, writer) = reflector::store::<Pod>();
        Self {
            client,
            provider,
            config,
            budgets: Budgets::default(),
            metrics: Arc::default(),
            store,
            writer,
        }
    }

    /// Spends `creates` and `deletes` for the provider's operations: a pod
    /// waits (Pending, with how many are ahead) until `creates` has room, oldest
    /// pod first; deletions wait for `deletes`. Share one pair between every
    /// reconciler that spends the same backend quota. Unlimited by default.
    #[must_use]
    pub fn with_budgets(mut self, creates: Arc<Budget>, deletes: Arc<Budget>) -> Self {
        self.budgets = Budgets { creates, deletes };
        self
    }

    /// The pods bound to this node, as the reconciler's watch sees them (for a
    /// kubelet API's `/pods`, say). Filled once [`run`](Self::run) runs.
    pub fn pods(&self) -> reflector::Store<Pod> {
        self.store.clone()
    }

    /// Reads the reconciler's counters.
    pub fn metrics(&self) -> ReconcilerMetricsSnapshot {
        self.metrics.snapshot()
    }

    /// A handle to the live counters.
    pub fn metrics_handle(&self) -> Arc<ReconcilerMetrics> {
        Arc::clone(&self.metrics)
    }

    /// Runs until `shutdown` is cancelled: one watch of the pods with
    /// `spec.nodeName=<node>`, a watch of the Node (for admission), and the
    /// status sync loop. Pods and their instances are left as they are on shutdown.
    pub async fn run(self, shutdown: CancellationToken) {
        let span = tracing::info_span!("pods", node = %self.config.node_name);
        self.run_inner(shutdown).instrument(span).await;
    }

    async fn run_inner(self, shutdown: CancellationToken) {
        let node_name = self.config.node_name.clone();
        let (node_store, node_writer) = reflector::store::<Node>();
        let (node_ready_tx, mut node_ready) = tokio::sync::watch::channel(false);
        let node_watch = watcher(
            Api::<Node>::all(self.client.clone()),
            watcher::Config::default().fields(&format!("metadata.name={node_name}")),
        )
        .default_backoff()
        .reflect(node_writer)
        .for_each(move |ev| {
            if matches!(ev, Ok(watcher::Event::InitDone)) {
                let _ = node_ready_tx.send(true);
            }
            async {}
        });
        let node_watch = tokio::spawn(node_watch.in_current_span());
        // Admission needs the node's taints: start only once they are known.
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = node_ready.wait_for(|r| *r) => {}
        }

        let pods: Api<Pod> = Api::all(self.client.clone());
        let wc = watcher::Config::default().fields(&format!("spec.nodeName={node_name}"));
        let (store, writer) = (self.store.clone(), self.writer);
        // The status sync starts once the first full list is in the cache
        // (never judge instances orphaned against a partial cache).
        let (cache_ready_tx, cache_ready_rx) = tokio::sync::watch::channel(false);
        let pod_stream = watcher(pods, wc)
            .default_backoff()
            // managedFields are often half of a pod's size and vk never reads them.
            .modify(|pod: &mut Pod| pod.managed_fields_mut().clear())
            .reflect(writer)
            .inspect(move |ev| {
                if matches!(ev, Ok(watcher::Event::InitDone)) {
                    let _ = cache_ready_tx.send(true);
                }
            })
            .applied_objects();
        let controller = Controller::for_stream(pod_stream, store.clone())
            .with_config(ControllerConfig::default().concurrency(self.config.concurrency));
        let (trigger_tx, trigger_rx) = futures::channel::mpsc::unbounded();
        let ctx = Arc::new(Ctx::new(
            self.client.clone(),
            Arc::clone(&self.provider),
            self.config.clone(),
            Arc::clone(&self.metrics),
            node_store,
            self.budgets.clone(),
        ));
        let sync_task = tokio::spawn(
            sync::run(
                Arc::clone(&ctx),
                store,
                cache_ready_rx,
                trigger_tx,
                shutdown.child_token(),
            )
            .in_current_span(),
        );
        let stop = shutdown.clone();
        let run = controller
            .reconcile_on(trigger_rx)
            .graceful_shutdown_on(async move { stop.cancelled().await })
            .run(reconcile, error_policy, ctx)
            .for_each(|r| async move {
                if let Err(e) = r {
                    tracing::debug!(error = %e, "reconcile");
                }
            });
        run.await;
        shutdown.cancel();
        node_watch.abort();
        let _ = sync_task.await;
        tracing::info!("pod reconciler stopped; pods and their instances stay in place");
    }
}

/// How soon after a failed pull the status moves from `ErrImagePull` to
/// `ImagePullBackOff`, as a kubelet's next sync does.
const BACK_OFF_STATUS_AFTER: Duration = Duration::from_secs(1);

fn error_policy(pod: Arc<Pod>, err: &Error, ctx: Arc<Ctx>) -> Action {
    ReconcilerMetrics::inc(&ctx.metrics.reconcile_errors);
    let key = PodKey::of(&pod);
    let provider_error = match err {
        Error::Provider { source, .. } => Some(source),
        _ => None,
    };
    let (n, wait) = ctx.failed_once(&key.uid, provider_error, backoff);
    tracing::warn!(pod = %key, error = %err, attempt = n, retry_in = ?wait, "reconcile failed");
    Action::requeue(wait)
}

async fn reconcile(pod: Arc<Pod>, ctx: Arc<Ctx>) -> Result<Action, Error> {
    let key = PodKey::of(&pod);
    let span = tracing::debug_span!("reconcile", pod = %key);
    async move {
        ReconcilerMetrics::inc(&ctx.metrics.reconciles);
        let started = std::time::Instant::now();
        let result = reconcile_inner(&pod, &key, &ctx).await;
        let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        ctx.metrics
            .reconcile_micros
            .fetch_add(micros, std::sync::atomic::Ordering::Relaxed);
        result
    }
    .instrument(span)
    .await
}

async fn reconcile_inner(pod: &Pod, key: &PodKey, ctx: &Ctx) -> Result<Action, Error> {
    if pod.metadata.deletion_timestamp.is_some() {
        return delete(key, ctx).await;
    }
    if is_terminal(pod) {
        return Ok(Action::await_change());
    }
    if let Some(action) = active_deadline(pod, key, ctx).await? {
        return Ok(action);
    }
    if let Some(left) = ctx.backoff_left(&key.uid) {
        let flip_in = show_back_off(pod, key, ctx).await?;
        return Ok(Action::requeue(flip_in.map_or(left, |f| f.min(left))));
    }
    match ctx.instance(&key.uid) {
        // Before the first listing, adopt rather than guess: wait for it.
        None if !ctx.listed.load(std::sync::atomic::Ordering::Acquire) => {
            let failed = ctx
                .list_error
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone();
            match failed {
                // The provider cannot be listed (an outage, a missing resource
                // group): say so, and look again at the sync's pace.
                Some(e) => {
                    let desired = pending(pod, &e.reason, &e.message);
                    if differs(pod.status.as_ref(), &desired) {
                        ctx.write_status(pod, &desired).await?;
                    }
                    Ok(Action::requeue(ctx.config.sync_interval))
                }
                None => Ok(Action::requeue(Duration::from_millis(200))),
            }
        }
        None => create(pod, key, ctx).await,
        Some(inst)
            if inst
                .spec_hash
                .as_ref()
                .is_some_and(|h| *h != spec_hash(pod)) =>
        {
            recreate(pod, key, ctx).await
        }
        Some(inst) => {
            if inst
                .resources_hash
                .as_ref()
                .is_some_and(|h| *h != resources_hash(pod))
            {
                resize_infeasible(pod, ctx).await?;
            }
            if let Some(action) = first_look(pod, key, ctx).await? {
                return Ok(action);
            }
            Ok(deadline_requeue(pod).unwrap_or_else(Action::await_change))
        }
    }
}

/// How long a deferred early report waits before a status sync round
/// publishes it (see [`first_look`]), and the wait between early reads of an
/// instance ARM does not show yet right after its PUT.
pub(crate) const SECOND_LOOK_AFTER: Duration = Duration::from_secs(1);

/// The early status read of an instance still provisioning when it was
/// created, [`ReconcilerConfig::first_look_delay`] after the PUT: `Some(requeue)`
/// while it is not due yet. A fast backend is running by then and the pod goes
/// from the API server's Pending to Running in one write. A read that finds the
/// instance still provisioning writes nothing and looks again twice as late, up
/// to [`EARLY_LOOKS`] reads within about a second (a fast backend that is late
/// under load). Each such read's report is deferred (aged from the first), and
/// after the last early read the
/// status sync (listing every [`ReconcilerConfig::provisioning_sync_interval`]
/// while instances provision) publishes it [`SECOND_LOOK_AFTER`] later if the
/// listing still shows the instance provisioning, or reads the instance again
/// once the listing shows it changed — one read per state, not per second.
async fn first_look(pod: &Pod, key: &PodKey, ctx: &Ctx) -> Result<Option<Action>, Error> {
    let Some(due) = ctx.first_look_due(&key.uid) else {
        return Ok(None);
    };
    let now = tokio::time::Instant::now();
    if due > now {
        return Ok(Some(Action::requeue(due - now)));
    }
    let taken = ctx.take_look(&key.uid) + 1;
    ReconcilerMetrics::inc(&ctx.metrics.status_refreshes);
    match ctx.provider.pod_status(pod).await {
        Ok(Some(report))
            if report.state == Some(InstanceState::Creating) && report.retry.is_none() =>
        {
            ctx.observe(&key.uid, report.state);
            ctx.defer_report(&key.uid, report);
            if taken < EARLY_LOOKS {
                // A fast backend late under load: look again, twice as late.
                let after = ctx.config.first_look_delay.saturating_mul(1u32 << taken);
                ctx.schedule_look(&key.uid, after, taken);
                return Ok(Some(Action::requeue(after)));
            }
            // Still provisioning after every early read: a slow backend; the
            // listing tells when it changes.
            ctx.early_look_found(true);
            Ok(None)
        }
        Ok(Some(report)) => {
            ctx.early_look_found(report.state == Some(InstanceState::Creating));
            ctx.observe(&key.uid, report.state);
            // What this read found supersedes an earlier deferred one.
            ctx.drop_deferred(&key.uid);
            if let Err(e) = publish_report(pod, key, ctx, &report).await {
                tracing::warn!(error = %e, "status not written; the status sync retries");
            }
            Ok(None)
        }
        Ok(None) if ctx.created_recently(&key.uid) => {
            // Not visible yet right after its creation (eventual consistency):
            // look again; the status sync takes over if it never shows up.
            tracing::debug!("instance not visible yet after its creation");
            ctx.schedule_look(&key.uid, SECOND_LOOK_AFTER, taken);
            Ok(Some(Action::requeue(SECOND_LOOK_AFTER)))
        }
        Ok(None) => {
            // The instance vanished after its creation: create it again.
            tracing::warn!("instance disappeared; it will be re-created");
            ctx.forget(&key.uid);
            Ok(Some(Action::requeue(Duration::from_secs(1))))
        }
        Err(e) => {
            tracing::warn!(error = %e, "reading status failed; the status sync retries");
            Ok(None)
        }
    }
}

async fn create(pod: &Pod, key: &PodKey, ctx: &Ctx) -> Result<Action, Error> {
    if ctx.is_held(&key.uid, fingerprint(pod)) {
        // Refused as it is; only a change of the pod can help.
        return Ok(Action::await_change());
    }
    // A pod the kubelet side never saw (no container statuses) goes through admission.
    if let Err(refusal) = admission::admit(pod, &ctx.config.node_os, &ctx.node_taints()) {
        ReconcilerMetrics::inc(&ctx.metrics.rejected);
        tracing::warn!(reason = %refusal.reason, message = %refusal.message, "pod refused by admission");
        ctx.write_status(pod, &failed(&refusal.reason, &refusal.message))
            .await?;
        ctx.warn(pod, &refusal.reason, &refusal.message).await;
        return Ok(Action::await_change());
    }
    let spend = match ctx.budgets.creates.try_take(created_at(pod), &key.uid) {
        Ok(spend) => spend,
        Err(wait) => return wait_for_create_quota(pod, key, ctx, wait).await,
    };
    ctx.quota_granted(&key.uid);
    ReconcilerMetrics::inc(&ctx.metrics.creates);
    let result = ctx.provider.create_pod(pod).await;
    // The backend counted the creation when it arrived, not when the slot was taken.
    ctx.budgets.creates.settle(spend);
    match result {
        Ok(created) => {
            ctx.publish_adjustments(pod, &created.adjustments).await;
            let report = created.report;
            let state = report
                .as_ref()
                .and_then(|r| r.state)
                .unwrap_or(InstanceState::Creating);
            ctx.remember_created(Instance {
                key: key.clone(),
                state,
                spec_hash: Some(spec_hash(pod)),
                resources_hash: Some(resources_hash(pod)),
                ip: None,
            });
            ctx.succeeded(&key.uid);
            let looks = (state == InstanceState::Creating).then(|| ctx.early_looks());
            match report {
                // Still provisioning: the pod already says Pending, so write
                // nothing now and read the status shortly (a fast backend
                // is Running by then: one status write per pod).
                _ if looks == Some(0) => {
                    // A slow backend: the early read would find it provisioning
                    // too. The pod shows what a kubelet shows meanwhile
                    // (ContainerCreating), published by the status sync a
                    // moment later unless the listing shows it running by
                    // then; the listing's next state is read.
                    let report = crate::PodReport {
                        status: crate::status::waiting(pod, "ContainerCreating", None, None),
                        events: Vec::new(),
                        state: Some(InstanceState::Creating),
                        retry: None,
                    };
                    ctx.observe(&key.uid, report.state);
                    ctx.defer_report(&key.uid, report);
                    Ok(deadline_requeue(pod).unwrap_or_else(Action::await_change))
                }
                _ if let Some(looks) = looks => {
                    let after = ctx.config.first_look_delay;
                    ctx.schedule_look(&key.uid, after, EARLY_LOOKS.saturating_sub(looks));
                    Ok(Action::requeue(after))
                }
                Some(report) => {
                    ctx.observe(&key.uid, report.state);
                    publish_report(pod, key, ctx, &report).await?;
                    Ok(deadline_requeue(pod).unwrap_or_else(Action::await_change))
                }
                None => Ok(deadline_requeue(pod).unwrap_or_else(Action::await_change)),
            }
        }
        Err(e) => refused(pod, key, ctx, e).await,
    }
}

/// Publishes a status read of `pod`'s instance. An instance that failed by
/// itself ([`PodReport::retry`](crate::PodReport::retry)) is removed and
/// created again after a back-off, the pod Pending meanwhile with the
/// report's waiting reasons (a kubelet retries failed pulls and sandboxes the
/// same way); its removal, while the back-off runs, publishes nothing more.
pub(crate) async fn publish_report(
    pod: &Pod,
    key: &PodKey,
    ctx: &Ctx,
    report: &crate::PodReport,
) -> Result<(), Error> {
    let removing = ctx
        .failure(&key.uid)
        .is_some_and(|f| f.instance_failed && ctx.backoff_left(&key.uid).is_some());
    if removing && report.state == Some(InstanceState::Deleting) {
        return Ok(());
    }
    let Some(e) = &report.retry else {
        return ctx.publish(pod, report).await;
    };
    ctx.publish(pod, report).await?;
    let recorded = if e.kind == ErrorKind::ImagePull {
        ctx.instance_failed(&key.uid, e, |n| image_backoff(&ctx.config, n))
    } else {
        ctx.instance_failed(&key.uid, e, backoff)
    };
    if let Some((n, wait)) = recorded {
        tracing::warn!(pod = %key, reason = %e.reason, message = %e.message, attempt = n, retry_in = ?wait, "instance failed; it is removed and created again after a back-off");
        if e.kind == ErrorKind::ImagePull {
            // The backend's own events told of the pull; the status may say
            // ImagePullBackOff already (then vk adds no BackOff of its own).
            if crate::status::waiting_reason(&report.status) == Some("ImagePullBackOff") {
                ctx.backing_off(&key.uid);
            }
        } else {
            let message = format!(
                "{}; the instance is created again in {}s",
                e.message,
                wait.as_secs().max(1)
            );
            ctx.warn(pod, &e.reason, &message).await;
        }
    }
    if provider_delete(ctx, key, "delete (instance failed)").await? {
        ctx.instance_removed(&key.uid);
        ctx.wake.notify_one();
    }
    Ok(())
}

/// The pod's creation time in seconds (the order in which a burst is served).
pub(crate) fn created_at(pod: &Pod) -> i64 {
    pod.metadata
        .creation_timestamp
        .as_ref()
        .map_or(i64::MAX, |t| t.0.as_second())
}

/// Longest wait between two looks at a pod queued for the create quota.
const QUOTA_LOOK_MAX: Duration = Duration::from_secs(30);

/// A pod queued for the provider's create quota: Pending with how many pods
/// are ahead (rewritten only when that number halved, so a long queue costs a
/// few writes per pod, not one per creation), and one Normal event.
async fn wait_for_create_quota(
    pod: &Pod,
    key: &PodKey,
    ctx: &Ctx,
    wait: crate::Wait,
) -> Result<Action, Error> {
    let windows: Vec<String> = ctx
        .budgets
        .creates
        .windows()
        .iter()
        .map(ToString::to_string)
        .collect();
    let message = format!(
        "waiting for the create quota ({}): {} ahead",
        windows.join(", "),
        wait.ahead
    );
    if let Some(first) = ctx.quota_position(&key.uid, wait.ahead) {
        tracing::info!(ahead = wait.ahead, retry_in = ?wait.retry_in, "waiting for the create quota");
        let desired = pending(pod, "WaitingForCreateQuota", &message);
        if differs(pod.status.as_ref(), &desired) {
            ctx.write_status(pod, &desired).await?;
        }
        if first {
            ctx.event(pod, EventType::Normal, "WaitingForCreateQuota", &message)
                .await;
        }
    }
    Ok(Action::requeue(wait.retry_in.min(QUOTA_LOOK_MAX)))
}

/// A creation the provider refused: the pod stays Pending with a kubelet's
/// waiting reason, and is retried only when that may help.
async fn refused(pod: &Pod, key: &PodKey, ctx: &Ctx, e: ProviderError) -> Result<Action, Error> {
    let container = e.container.as_deref();
    match e.kind {
        ErrorKind::InvalidSpec | ErrorKind::Unsupported => {
            ReconcilerMetrics::inc(&ctx.metrics.rejected);
            tracing::warn!(reason = %e.reason, message = %e.message, "pod cannot run on this provider; held Pending until it changes");
            // The kubelet's own reason for an image it cannot parse.
            let waiting_reason = if e.reason == "InvalidImageName" {
                "InvalidImageName"
            } else {
                "CreateContainerError"
            };
            let mut desired = waiting(pod, waiting_reason, Some(&e.message), container);
            desired.reason = Some(e.reason.clone());
            desired.message = Some(e.message.clone());
            if differs(pod.status.as_ref(), &desired) {
                ctx.write_status(pod, &desired).await?;
                ctx.warn(pod, &e.reason, &e.message).await;
            }
            ctx.hold(&key.uid, fingerprint(pod));
            Ok(Action::await_change())
        }
        ErrorKind::ConfigUnavailable => {
            let (n, wait) = ctx.failed_once(&key.uid, Some(&e), config_backoff);
            tracing::warn!(reason = %e.reason, message = %e.message, attempt = n, retry_in = ?wait, "pod configuration not available yet");
            let desired = waiting(
                pod,
                "CreateContainerConfigError",
                Some(&e.message),
                container,
            );
            if differs(pod.status.as_ref(), &desired) {
                ctx.write_status(pod, &desired).await?;
                ctx.warn(pod, "Failed", &format!("Error: {}", e.message))
                    .await;
                if e.reason != "Failed" {
                    ctx.warn(pod, &e.reason, &e.message).await;
                }
            }
            Ok(Action::requeue(wait))
        }
        ErrorKind::ImagePull => {
            let (n, wait) = ctx.failed_once(&key.uid, Some(&e), |n| image_backoff(&ctx.config, n));
            tracing::warn!(reason = %e.reason, message = %e.message, attempt = n, retry_in = ?wait, "image pull failed; backing off");
            let desired = waiting(pod, "ErrImagePull", Some(&e.message), container);
            if differs(pod.status.as_ref(), &desired) {
                ctx.write_status(pod, &desired).await?;
            }
            let image = e.image.as_deref().unwrap_or("the image");
            ctx.warn(
                pod,
                "Failed",
                &format!("Failed to pull image \"{image}\": {}", e.message),
            )
            .await;
            ctx.warn(pod, "Failed", "Error: ErrImagePull").await;
            Ok(Action::requeue(BACK_OFF_STATUS_AFTER.min(wait)))
        }
        ErrorKind::QuotaExceeded | ErrorKind::Transient => {
            let desired = pending(pod, &e.reason, &e.message);
            if differs(pod.status.as_ref(), &desired) {
                ctx.write_status(pod, &desired).await?;
            }
            Err(Error::Provider {
                action: "create",
                pod: key.to_string(),
                source: e,
            })
        }
    }
}

/// While a pod waits out an image pull back-off, its status says so once
/// (a moment after `ErrImagePull`): `ImagePullBackOff`, with the kubelet's
/// `BackOff` event. Returns how soon to look again when it is not time yet.
async fn show_back_off(pod: &Pod, key: &PodKey, ctx: &Ctx) -> Result<Option<Duration>, Error> {
    let Some(failure) = ctx.failure(&key.uid) else {
        return Ok(None);
    };
    let Some(e) = failure.last.filter(|e| e.kind == ErrorKind::ImagePull) else {
        return Ok(None);
    };
    if failure.backing_off {
        return Ok(None);
    }
    let since = failure.at.elapsed();
    if since < BACK_OFF_STATUS_AFTER {
        return Ok(Some(BACK_OFF_STATUS_AFTER - since));
    }
    let image = e.image.as_deref().unwrap_or("the image");
    let message = format!("Back-off pulling image \"{image}\"");
    let desired = waiting(
        pod,
        "ImagePullBackOff",
        Some(&message),
        e.container.as_deref(),
    );
    if differs(pod.status.as_ref(), &desired) {
        ctx.write_status(pod, &desired).await?;
    }
    ctx.backing_off(&key.uid);
    ctx.event(pod, EventType::Normal, "BackOff", &message).await;
    ctx.warn(pod, "Failed", "Error: ImagePullBackOff").await;
    Ok(None)
}

/// An in-place resize the provider cannot apply (ACI cannot resize a running
/// group): the pod keeps running with what it was created with, and says so
/// as a kubelet does for an infeasible resize (`PodResizePending`,
/// `Infeasible`; `status.resize` on 1.27–1.32). Written once.
async fn resize_infeasible(pod: &Pod, ctx: &Ctx) -> Result<(), Error> {
    let condition = crate::status::resize_infeasible();
    let already = pod
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| {
            cs.iter()
                .any(|c| c.type_ == condition.type_ && c.status == "True")
        });
    if already {
        return Ok(());
    }
    tracing::warn!("resources changed in place; the instance keeps its original resources");
    // The event first: whoever sees the condition finds the event too.
    let message = condition.message.clone().unwrap_or_default();
    ctx.warn(pod, "ResizeInfeasible", &message).await;
    ctx.write_condition(pod, &condition, Some("Infeasible"))
        .await
}

/// Deletes `key`'s instance through the provider (counted in the metrics),
/// within the delete budget when an instance is known: false (call again)
/// while it has no room. (Without a known instance the provider only checks.)
async fn provider_delete(ctx: &Ctx, key: &PodKey, action: &'static str) -> Result<bool, Error> {
    let known = ctx.instance(&key.uid);
    if known
        .as_ref()
        .is_some_and(|i| i.state == InstanceState::Deleting)
    {
        // Its deletion was accepted already (a restart, a listing after our
        // DELETE): the backend finishes it; another DELETE would only spend quota.
        return Ok(true);
    }
    let spend = match known {
        Some(_) => match ctx.budgets.deletes.try_take(0, &key.uid) {
            Ok(spend) => Some(spend),
            Err(_) => {
                tracing::debug!("waiting for the delete quota");
                return Ok(false);
            }
        },
        None => None,
    };
    ReconcilerMetrics::inc(&ctx.metrics.deletes);
    let result = ctx.provider.delete_pod(key).await;
    if let Some(spend) = spend {
        ctx.budgets.deletes.settle(spend);
    }
    result.map_err(|source| Error::Provider {
        action,
        pod: key.to_string(),
        source,
    })
}

async fn recreate(pod: &Pod, key: &PodKey, ctx: &Ctx) -> Result<Action, Error> {
    tracing::info!("container image changed: re-creating the instance");
    let gone = provider_delete(ctx, key, "delete (recreate)").await?;
    let containers: Vec<String> = pod
        .spec
        .iter()
        .flat_map(|s| s.containers.iter())
        .map(|c| c.name.clone())
        .collect();
    let desired = pending(
        pod,
        "Recreating",
        "a container image changed; the provider cannot update an instance in place, so it is re-created",
    );
    if differs(pod.status.as_ref(), &desired) {
        // Every container restarts in the new instance: carry their counts over, one more each.
        ctx.carry_restarts(&key.uid, pod.status.as_ref(), &containers);
        for c in &containers {
            let message = format!("Container {c} definition changed, will be restarted");
            ctx.event(pod, EventType::Normal, "Killing", &message).await;
        }
        ctx.write_status(pod, &desired).await?;
    }
    if gone {
        ctx.forget(&key.uid);
        create(pod, key, ctx).await
    } else {
        Ok(Action::requeue(Duration::from_secs(1)))
    }
}

async fn delete(key: &PodKey, ctx: &Ctx) -> Result<Action, Error> {
    if ctx.deletion_was_done(&key.uid) {
        // A reconcile queued by the object's last updates, before it left the cache.
        return Ok(Action::await_change());
    }
    // It no longer waits for a create slot, whatever happens next.
    ctx.budgets.creates.forget_uid(&key.uid);
    let gone = provider_delete(ctx, key, "delete").await?;
    if !gone {
        ctx.wake.notify_one();
        return Ok(Action::requeue(Duration::from_secs(1)));
    }
    ctx.instance_deletion_accepted(&key.uid);
    ctx.forget_all(&key.uid);
    let api: Api<Pod> = Api::namespaced(ctx.client.clone(), &key.namespace);
    let dp = DeleteParams {
        grace_period_seconds: Some(0),
        preconditions: Some(Preconditions {
            uid: Some(key.uid.clone()),
            resource_version: None,
        }),
        ..DeleteParams::default()
    };
    match api.delete(&key.name, &dp).await {
        Ok(_) => {}
        // Already gone, or a new pod with the same name (UID precondition): not ours to delete.
        Err(kube::Error::Api(s)) if s.is_not_found() || s.is_conflict() => {}
        Err(source) => {
            return Err(Error::DeletePod {
                pod: key.to_string(),
                source,
            });
        }
    }
    ctx.deletion_done(&key.uid);
    tracing::info!("pod deleted after its instance was removed");
    Ok(Action::await_change())
}

fn deadline_left(pod: &Pod) -> Option<Duration> {
    let secs = pod.spec.as_ref()?.active_deadline_seconds?;
    let start = pod.status.as_ref()?.start_time.as_ref()?.0;
    let end = start
        .checked_add(jiff::SignedDuration::from_secs(secs))
        .ok()?;
    let left = end.duration_since(jiff::Timestamp::now());
    Some(Duration::try_from(left).unwrap_or(Duration::ZERO))
}

fn deadline_requeue(pod: &Pod) -> Option<Action> {
    deadline_left(pod).map(|d| Action::requeue(d + Duration::from_millis(100)))
}

/// `activeDeadlineSeconds`: past the deadline the instance is deleted and the pod Failed.
async fn active_deadline(pod: &Pod, key: &PodKey, ctx: &Ctx) -> Result<Option<Action>, Error> {
    match deadline_left(pod) {
        Some(left) if left.is_zero() => {
            tracing::info!("active deadline exceeded");
            let gone = provider_delete(ctx, key, "delete (deadline)").await?;
            if !gone {
                return Ok(Some(Action::requeue(Duration::from_secs(1))));
            }
            ctx.forget_all(&key.uid);
            let status = deadline_exceeded(pod, pod.status.as_ref());
            // The event first: whoever sees the Failed phase finds the event too.
            let message = status.message.as_deref().unwrap_or_default();
            ctx.event(pod, EventType::Normal, "DeadlineExceeded", message)
                .await;
            ctx.write_status(pod, &status).await?;
            Ok(Some(Action::await_change()))
        }
        _ => Ok(None),
    }
}
