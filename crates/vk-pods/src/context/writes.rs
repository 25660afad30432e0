//! What [`Ctx`] writes to the API server: pod status patches (with the
//! adjustments annotation riding on them) and events within their budget.

use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Patch, PatchParams};
use kube::runtime::events::{Event as KubeEvent, EventType};
use kube::{Api, Resource as _};
use tokio::time::Instant;

use super::{Ctx, insert_now, lock};
use crate::metrics::ReconcilerMetrics;
use crate::status::{differs, patch, qos_class};
use crate::{ADJUSTMENTS_ANNOTATION, Adjustment, Error, PodKey, PodReport};

/// How long one controller's pods share an adjustment event.
pub(crate) const ADJUSTMENT_EVENT_MEMORY: Duration = Duration::from_secs(600);

/// The pod's controller (its owner reference with `controller: true`).
fn controller_of(pod: &Pod) -> Option<&OwnerReference> {
    pod.metadata
        .owner_references
        .as_ref()?
        .iter()
        .find(|o| o.controller == Some(true))
}

impl Ctx {
    /// Writes `report`'s status when it differs from the pod's, and publishes
    /// new events exactly once.
    pub(crate) async fn publish(&self, pod: &Pod, report: &PodReport) -> Result<(), Error> {
        let key = PodKey::of(pod);
        let mut status = report.status.clone();
        self.apply_restarts(&key.uid, pod.status.as_ref(), &mut status);
        if differs(pod.status.as_ref(), &status) || self.pending_adjustments(&key.uid).is_some() {
            self.write_status(pod, &status).await?;
            let finished = matches!(status.phase.as_deref(), Some("Succeeded" | "Failed"));
            if finished && !crate::status::is_terminal(pod) {
                // Its final status is written: the instance must not run again.
                match self.provider.stop_pod(&key).await {
                    Ok(()) => {
                        tracing::info!(pod = %key, phase = ?status.phase, "finished pod's instance stopped")
                    }
                    Err(e) => {
                        tracing::warn!(pod = %key, error = %e, "finished pod's instance not stopped")
                    }
                }
            }
        }
        let new: Vec<_> = {
            let mut pods = lock(&self.pods);
            let seen = &mut pods.entry(key.uid.clone()).or_default().events;
            let mut new = Vec::new();
            for e in &report.events {
                if seen.get(&e.id).is_none_or(|c| *c < e.count) {
                    seen.insert(e.id.clone(), e.count);
                    new.push(e.clone());
                }
            }
            new
        };
        let reference = pod.object_ref(&());
        for e in new {
            if e.type_ != "Warning" && !self.take_event_token() {
                ReconcilerMetrics::inc(&self.metrics.events_dropped);
                continue;
            }
            let ev = KubeEvent {
                type_: if e.type_ == "Warning" {
                    EventType::Warning
                } else {
                    EventType::Normal
                },
                reason: e.reason.clone(),
                note: Some(e.message.clone()),
                action: e.reason.clone(),
                secondary: None,
            };
            if let Err(err) = self.recorder.publish(&ev, &reference).await {
                tracing::debug!(pod = %key, error = %err, "event not published");
            }
        }
        Ok(())
    }

    pub(crate) async fn write_status(
        &self,
        pod: &Pod,
        status: &k8s_openapi::api::core::v1::PodStatus,
    ) -> Result<(), Error> {
        let mut body = patch(status, &self.config.host_ip, qos_class(pod));
        let key = PodKey::of(pod);
        let adjustments = self.pending_adjustments(&key.uid);
        if let Some(value) = &adjustments {
            body["metadata"] = serde_json::json!({"annotations": {ADJUSTMENTS_ANNOTATION: value}});
        }
        self.patch_status(pod, &body).await?;
        if adjustments.is_some() {
            self.with_pod(&key.uid, |p| p.adjustments = None);
        }
        Ok(())
    }

    /// Merges one condition into `pod`'s status (and `status.resize` when
    /// given), leaving everything else as it is.
    pub(crate) async fn write_condition(
        &self,
        pod: &Pod,
        condition: &k8s_openapi::api::core::v1::PodCondition,
        resize: Option<&str>,
    ) -> Result<(), Error> {
        let mut status = serde_json::json!({"conditions": [condition]});
        if let Some(r) = resize {
            status["resize"] = serde_json::json!(r);
        }
        self.patch_status(pod, &serde_json::json!({"status": status}))
            .await
    }

    /// Applies a strategic-merge patch to `pod`'s status (counted); a pod
    /// that is gone has nothing to report to.
    async fn patch_status(&self, pod: &Pod, body: &serde_json::Value) -> Result<(), Error> {
        let key = PodKey::of(pod);
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &key.namespace);
        let pp = PatchParams {
            field_manager: Some(self.config.field_manager.clone()),
            ..PatchParams::default()
        };
        match api
            .patch_status(&key.name, &pp, &Patch::Strategic(body))
            .await
        {
            Ok(_) => {
                ReconcilerMetrics::inc(&self.metrics.status_writes);
                Ok(())
            }
            Err(kube::Error::Api(s)) if s.is_not_found() => Ok(()),
            Err(source) => Err(Error::WriteStatus {
                pod: key.to_string(),
                source,
            }),
        }
    }

    fn take_event_token(&self) -> bool {
        let mut b = lock(&self.event_budget);
        let now = Instant::now();
        let refill = now.duration_since(b.1).as_secs_f64() * self.config.event_qps;
        b.0 = (b.0 + refill).min(f64::from(self.config.event_burst));
        b.1 = now;
        if b.0 >= 1.0 {
            b.0 -= 1.0;
            true
        } else {
            false
        }
    }

    /// Publishes a Warning event on `pod` (best effort, never budgeted).
    pub(crate) async fn warn(&self, pod: &Pod, reason: &str, message: &str) {
        self.event(pod, EventType::Warning, reason, message).await;
    }

    /// Publishes an event on `pod` (best effort, never budgeted: for the few
    /// events that explain a pod's state, unlike the provider's Normal ones).
    pub(crate) async fn event(&self, pod: &Pod, type_: EventType, reason: &str, message: &str) {
        let ev = KubeEvent {
            type_,
            reason: reason.into(),
            note: Some(message.into()),
            action: reason.into(),
            secondary: None,
        };
        if let Err(e) = self.recorder.publish(&ev, &pod.object_ref(&())).await {
            tracing::debug!(error = %e, "event not published");
        }
    }

    /// Shows what the provider changed or could not honour: the whole list in
    /// the pod's [`ADJUSTMENTS_ANNOTATION`] (written only when it differs, so
    /// a re-created instance adds nothing new), and one event per adjustment.
    /// Pods of one controller (a ReplicaSet, a Job) share their template and so
    /// their adjustments: one event per controller and reason every
    /// [`ADJUSTMENT_EVENT_MEMORY`] says it for all of them, instead of one
    /// identical Warning per pod — which at a burst of thousands of pods would
    /// double the API server writes of reaching Running. The events spend the
    /// event budget (`event_qps`, `event_burst`); the annotation is never
    /// dropped.
    pub(crate) async fn publish_adjustments(&self, pod: &Pod, adjustments: &[Adjustment]) {
        let key = PodKey::of(pod);
        let value = serde_json::to_string(adjustments).unwrap_or_default();
        let current = pod
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(ADJUSTMENTS_ANNOTATION));
        if adjustments.is_empty() || current == Some(&value) {
            return;
        }
        let owner = controller_of(pod);
        for a in adjustments {
            tracing::info!(pod = %key, reason = %a.reason, message = %a.message, "pod adjusted for the provider");
            let type_ = if a.warning {
                EventType::Warning
            } else {
                EventType::Normal
            };
            let message = match &owner {
                None => a.message.clone(),
                Some(owner) => {
                    if !self.first_adjustment_event(&format!("{}/{}", owner.uid, a.reason)) {
                        continue;
                    }
                    format!(
                        "{} (the same for the other pods of {} {}: each lists it in its {ADJUSTMENTS_ANNOTATION} annotation)",
                        a.message, owner.kind, owner.name
                    )
                }
            };
            // The annotation is the record every pod keeps; the events share
            // the Normal-event budget, as a kubelet rate-limits all its events.
            if !self.take_event_token() {
                ReconcilerMetrics::inc(&self.metrics.events_dropped);
                continue;
            }
            self.event(pod, type_, &a.reason, &message).await;
        }
        // The status subresource of a pod takes its metadata too (only the
        // spec and owner references are kept from the stored pod), so the
        // annotation goes with the status write that follows the creation.
        lock(&self.pods).entry(key.uid).or_default().adjustments = Some(value);
    }

    /// True (once per [`ADJUSTMENT_EVENT_MEMORY`]) for the first event of
    /// `owner_reason`; checked and recorded under one lock, so concurrent
    /// reconciles of one controller's pods publish it once.
    fn first_adjustment_event(&self, owner_reason: &str) -> bool {
        let mut seen = lock(&self.adjustment_events);
        if seen
            .get(owner_reason)
            .is_some_and(|at| at.elapsed() < ADJUSTMENT_EVENT_MEMORY)
        {
            return false;
        }
        insert_now(&mut seen, owner_reason, ADJUSTMENT_EVENT_MEMORY);
        true
    }

    /// The adjustments annotation waiting for `uid`'s next status write.
    fn pending_adjustments(&self, uid: &str) -> Option<String> {
        self.read_pod(uid, |p| p.adjustments.clone()).flatten()
    }
}
