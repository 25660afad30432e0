//! The node heartbeat: a Lease in `kube-node-lease`, owned by the Node.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::api::PostParams;
use kube::{Api, Client};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::metrics::NodeMetrics;
use crate::time::{micro, now};
use crate::{Error, LeaseConfig};

/// Renews one node's Lease: from the cached copy (one write per renewal),
/// re-reading on conflict, re-creating it when it was deleted, backing off on
/// errors (200 ms doubling to 7 s, as the kubelet does). Never panics.
pub struct LeaseKeeper {
    api: Api<Lease>,
    node: String,
    config: LeaseConfig,
    node_uid: watch::Receiver<String>,
    cached: Option<Lease>,
    metrics: Arc<NodeMetrics>,
    field_manager: String,
}

impl std::fmt::Debug for LeaseKeeper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeaseKeeper")
            .field("node", &self.node)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

const BACKOFF_START: Duration = Duration::from_millis(200);
const BACKOFF_MAX: Duration = Duration::from_secs(7);

impl LeaseKeeper {
    /// A keeper for the Lease of `node`; `node_uid` follows the Node's UID
    /// (it changes when the Node is re-created) for the owner reference.
    pub fn new(
        client: Client,
        node: &str,
        config: LeaseConfig,
        node_uid: watch::Receiver<String>,
        metrics: Arc<NodeMetrics>,
        field_manager: &str,
    ) -> Self {
        Self {
            api: Api::namespaced(client, &config.namespace),
            node: node.to_owned(),
            config,
            node_uid,
            cached: None,
            metrics,
            field_manager: field_manager.to_owned(),
        }
    }

    fn lease_error(&self, action: &'static str) -> impl FnOnce(kube::Error) -> Error + '_ {
        move |source| Error::Lease {
            action,
            namespace: self.config.namespace.clone(),
            name: self.node.clone(),
            source,
        }
    }

    /// `base` with vk's spec and a fresh renew time.
    fn desired(&self, base: Option<Lease>) -> Lease {
        let mut lease = base.unwrap_or_else(|| Lease {
            metadata: ObjectMeta {
                name: Some(self.node.clone()),
                namespace: Some(self.config.namespace.clone()),
                ..ObjectMeta::default()
            },
            spec: None,
        });
        let uid = self.node_uid.borrow().clone();
        if !uid.is_empty() {
            lease.metadata.owner_references = Some(vec![OwnerReference {
                api_version: "v1".into(),
                kind: "Node".into(),
                name: self.node.clone(),
                uid,
                ..OwnerReference::default()
            }]);
        }
        let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
        spec.holder_identity = Some(self.node.clone());
        spec.lease_duration_seconds =
            Some(i32::try_from(self.config.duration.as_secs()).unwrap_or(i32::MAX));
        spec.renew_time = Some(micro(now()));
        lease
    }

    async fn create(&mut self) -> Result<(), Error> {
        let lease = self.desired(None);
        let pp = PostParams {
            field_manager: Some(self.field_manager.clone()),
            ..PostParams::default()
        };
        match self.api.create(&pp, &lease).await {
            Ok(created) => {
                NodeMetrics::inc(&self.metrics.lease_creations);
                tracing::info!(node = %self.node, "created node lease");
                self.cached = Some(created);
                Ok(())
            }
            // Someone (a previous vk, another replica) created it meanwhile: adopt on the next try.
            Err(kube::Error::Api(s)) if s.is_already_exists() => {
                self.cached = None;
                Err(self.lease_error("creating")(kube::Error::Api(s)))
            }
            Err(e) => Err(self.lease_error("creating")(e)),
        }
    }

    /// Renews the Lease once (creating it if needed).
    pub async fn renew_once(&mut self) -> Result<(), Error> {
        // At most two attempts: from the cache, then from a fresh read after a conflict.
        for attempt in 0..2 {
            let Some(base) = self.cached.take() else {
                match self
                    .api
                    .get_opt(&self.node)
                    .await
                    .map_err(self.lease_error("reading"))?
                {
                    Some(current) => {
                        self.cached = Some(current);
                        continue;
                    }
                    None => return self.create().await,
                }
            };
            let owner_changed = base
                .metadata
                .owner_references
                .as_ref()
                .and_then(|o| o.first())
                .is_none_or(|o| o.uid != *self.node_uid.borrow());
            let lease = self.desired(Some(base));
            if owner_changed {
                tracing::debug!(node = %self.node, "updating lease owner reference");
            }
            let pp = PostParams {
                field_manager: Some(self.field_manager.clone()),
                ..PostParams::default()
            };
            match self.api.replace(&self.node, &pp, &lease).await {
                Ok(renewed) => {
                    NodeMetrics::inc(&self.metrics.lease_renewals);
                    self.cached = Some(renewed);
                    return Ok(());
                }
                Err(kube::Error::Api(s)) if s.is_conflict() && attempt == 0 => {
                    tracing::debug!(node = %self.node, "lease conflict; re-reading");
                }
                Err(kube::Error::Api(s)) if s.is_not_found() => return self.create().await,
                Err(e) => return Err(self.lease_error("renewing")(e)),
            }
        }
        Err(Error::LeaseConflict {
            namespace: self.config.namespace.clone(),
            name: self.node.clone(),
        })
    }

    /// The wait before the next renewal: the interval shortened by up to `jitter` of itself.
    pub(crate) fn next_wait(&self) -> Duration {
        self.config
            .renew_interval
            .mul_f64(1.0 - self.config.jitter * fastrand::f64())
    }

    /// Renews until `shutdown` is cancelled.
    pub async fn run(mut self, shutdown: CancellationToken) {
        let mut backoff = BACKOFF_START;
        loop {
            let wait = match self.renew_once().await {
                Ok(()) => {
                    backoff = BACKOFF_START;
                    self.next_wait()
                }
                Err(e) => {
                    NodeMetrics::inc(&self.metrics.lease_failures);
                    tracing::warn!(node = %self.node, error = %e, retry_in = ?backoff, "lease renewal failed");
                    let wait = backoff;
                    backoff = (backoff * 2).min(BACKOFF_MAX);
                    wait
                }
            };
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(wait) => {}
            }
        }
    }
}
