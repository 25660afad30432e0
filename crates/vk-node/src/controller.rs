//! One virtual node's lifecycle: register, heartbeat, status, re-create.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use futures::{StreamExt as _, TryStreamExt as _};
use k8s_openapi::api::core::v1::Node;
use kube::runtime::watcher;
use kube::{Api, Client};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

use crate::metrics::NodeMetrics;
use crate::register::{register, write_status};
use crate::status::Conditions;
use crate::time::now;
use crate::{Error, Health, HealthProbe, LeaseKeeper, NodeConfig};

/// Makes the Node's vk-owned taints match the provider's health (for
/// example with `vk-taints`' reconciler), keeping every other taint.
pub trait TaintHook: Send + Sync + 'static {
    /// Applies the taints for `health` to the Node `node`.
    fn apply<'a>(&'a self, node: &'a str, health: &'a Health) -> BoxFuture<'a, Result<(), String>>;
}

/// One virtual node: registration, Lease heartbeat, health-driven status and taints.
pub struct VirtualNode {
    client: Client,
    config: NodeConfig,
    probe: Arc<dyn HealthProbe>,
    taints: Option<Arc<dyn TaintHook>>,
    metrics: Arc<NodeMetrics>,
}

impl std::fmt::Debug for VirtualNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VirtualNode")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

const RETRY_START: Duration = Duration::from_millis(200);
const RETRY_MAX: Duration = Duration::from_secs(10);

impl VirtualNode {
    /// A virtual node using `client`, described by `config`, whose Ready
    /// condition follows `probe`.
    pub fn new(client: Client, config: NodeConfig, probe: Arc<dyn HealthProbe>) -> Self {
        Self {
            client,
            config,
            probe,
            taints: None,
            metrics: Arc::default(),
        }
    }

    /// Keeps vk's taints in line with health through `hook`.
    #[must_use]
    pub fn with_taint_hook(mut self, hook: Arc<dyn TaintHook>) -> Self {
        self.taints = Some(hook);
        self
    }

    /// This node's counters.
    pub fn metrics(&self) -> Arc<NodeMetrics> {
        Arc::clone(&self.metrics)
    }

    /// Registers this node's metric families in `registry` (see
    /// [`NodeMetrics::register`]); give each node its own
    /// `sub_registry_with_label(("node", name))`.
    pub fn register_metrics(&self, registry: &mut prometheus_client::registry::Registry) {
        self.metrics.register(registry);
    }

    /// Runs until `shutdown` is cancelled. Fails fast only on invalid
    /// configuration; everything else is retried with backoff and logged. On
    /// shutdown the Node and its pods are left in place (the Lease simply
    /// stops being renewed).
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), Error> {
        self.config.validate()?;
        let span = tracing::info_span!("node", node = %self.config.name);
        self.run_inner(shutdown).instrument(span).await;
        Ok(())
    }

    async fn run_inner(self, shutdown: CancellationToken) {
        let nodes: Api<Node> = Api::all(self.client.clone());
        let Some(kubelet_version) = retry(&shutdown, "reading the API server version", || async {
            self.client
                .apiserver_version()
                .await
                .map(|v| format!("{}-{}", v.git_version, self.config.provider_version))
                .map_err(Error::ServerVersion)
        })
        .await
        else {
            return;
        };

        let health = self.probe.check().await;
        let mut conditions = Conditions::new(&health, now());
        let Some(uid) = self
            .register_all(&nodes, &kubelet_version, &conditions, &shutdown)
            .await
        else {
            return;
        };
        let (uid_tx, uid_rx) = watch::channel(uid);

        let keeper = LeaseKeeper::new(
            self.client.clone(),
            &self.config.name,
            self.config.lease.clone(),
            uid_rx,
            Arc::clone(&self.metrics),
            &self.config.field_manager,
        );
        let lease_task = tokio::spawn(keeper.run(shutdown.child_token()).in_current_span());

        let wc = watcher::Config::default().fields(&format!("metadata.name={}", self.config.name));
        let mut node_events = watcher(nodes.clone(), wc).boxed();
        let mut health_tick = tokio::time::interval(self.config.status.health_interval);
        let mut status_tick = tokio::time::interval(self.config.status.interval);
        health_tick.reset();
        status_tick.reset();

        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                _ = health_tick.tick() => {
                    let health = self.probe.check().await;
                    if conditions.update(&health, now()) {
                        tracing::info!(?health, "provider health changed");
                        self.apply_taints(&health).await;
                        self.status(&nodes, &kubelet_version, &conditions, &uid_tx, &shutdown).await;
                        status_tick.reset();
                    }
                }
                _ = status_tick.tick() => {
                    self.status(&nodes, &kubelet_version, &conditions, &uid_tx, &shutdown).await;
                }
                event = node_events.try_next() => match event {
                    Ok(Some(watcher::Event::Delete(_))) => {
                        tracing::warn!("node was deleted; registering it again");
                        if let Some(uid) = self.register_all(&nodes, &kubelet_version, &conditions, &shutdown).await {
                            let _ = uid_tx.send(uid);
                        }
                    }
                    Ok(Some(_)) => {}
                    Ok(None) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "node watch failed; retrying");
                        tokio::time::sleep(RETRY_START).await;
                    }
                },
            }
        }
        shutdown.cancel();
        let _ = lease_task.await;
        tracing::info!("node controller stopped; the node and its pods stay in place");
    }

    async fn apply_taints(&self, health: &Health) {
        if let Some(hook) = &self.taints
            && let Err(message) = hook.apply(&self.config.name, health).await
        {
            let e = Error::UpdateTaints {
                node: self.config.name.clone(),
                message,
            };
            tracing::warn!(error = %e, "taints not updated; retried at the next health change or status write");
        }
    }

    /// Registers (create or adopt), applies taints and writes status, retrying until done.
    async fn register_all(
        &self,
        nodes: &Api<Node>,
        kubelet_version: &str,
        conditions: &Conditions,
        shutdown: &CancellationToken,
    ) -> Option<String> {
        let uid = retry(shutdown, "registering the node", || {
            register(nodes, &self.config, kubelet_version, conditions)
        })
        .await?;
        NodeMetrics::inc(&self.metrics.registrations);
        self.apply_taints(conditions.health()).await;
        retry(shutdown, "writing node status", || {
            write_status(nodes, &self.config, kubelet_version, conditions)
        })
        .await?;
        NodeMetrics::inc(&self.metrics.status_writes);
        Some(uid)
    }

    async fn status(
        &self,
        nodes: &Api<Node>,
        kubelet_version: &str,
        conditions: &Conditions,
        uid_tx: &watch::Sender<String>,
        shutdown: &CancellationToken,
    ) {
        match write_status(nodes, &self.config, kubelet_version, conditions).await {
            Ok(()) => {
                NodeMetrics::inc(&self.metrics.status_writes);
                // Periodic writes also re-assert taints, healing a failed earlier attempt.
                self.apply_taints(conditions.health()).await;
            }
            Err(Error::WriteStatus {
                source: kube::Error::Api(s),
                ..
            }) if s.is_not_found() => {
                tracing::warn!("node is gone; registering it again");
                if let Some(uid) = self
                    .register_all(nodes, kubelet_version, conditions, shutdown)
                    .await
                {
                    let _ = uid_tx.send(uid);
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "node status not written; retrying at the next tick")
            }
        }
    }
}

/// Retries `op` with exponential backoff until it succeeds (Some) or shutdown (None).
async fn retry<T, F, Fut>(shutdown: &CancellationToken, what: &str, mut op: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Error>>,
{
    let mut backoff = RETRY_START;
    loop {
        match op().await {
            Ok(v) => return Some(v),
            Err(e) => tracing::warn!(error = %e, retry_in = ?backoff, "{what} failed"),
        }
        tokio::select! {
            () = shutdown.cancelled() => return None,
            () = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(RETRY_MAX);
    }
}
