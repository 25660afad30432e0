//! HA: several vk replicas for the same nodes; the one holding the leader
//! Lease runs the controllers, the others wait to take over.
//!
//! The leader Lease is shorter than the node Lease (validated at start), so a
//! standby takes over and renews the node Lease before the node-lifecycle
//! controller would mark the node NotReady. A replica that loses leadership
//! stops (exit 1) and is restarted as a standby by its Deployment: its
//! controllers must never run beside the new leader's.

use std::time::Duration;

use anyhow::Context as _;
use futures::future::BoxFuture;
use kube_lease_manager::{LeaseCreateMode, LeaseManagerBuilder};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::config::HaSpec;

/// A leadership signal: `true` while this replica holds the leader Lease.
pub(crate) struct Leadership {
    rx: watch::Receiver<bool>,
    identity: String,
}

/// Starts competing for the leader Lease.
pub(crate) async fn elect(client: kube::Client, ha: &HaSpec) -> anyhow::Result<Leadership> {
    let identity = ha.identity.clone().context("ha.identity is not set")?;
    let duration = u64::from(ha.lease_duration_secs.max(2));
    // Renew well before expiry: a third of the duration is the grace.
    let grace = (duration / 3).max(1);
    let manager = LeaseManagerBuilder::new(client, &ha.lease_name)
        .with_namespace(&ha.namespace)
        .with_identity(&identity)
        .with_duration(duration)
        .with_grace(grace)
        .with_create_mode(LeaseCreateMode::AutoCreate)
        .with_field_manager("vk-leader")
        .build()
        .await
        .with_context(|| format!("ha: cannot use Lease {}/{}", ha.namespace, ha.lease_name))?;
    let (rx, _task) = manager.watch().await;
    Ok(Leadership { rx, identity })
}

/// Waits for leadership, then runs `controllers` until shutdown; losing
/// leadership is an error that stops the process.
pub(crate) async fn run_when_leader(
    mut leader: Leadership,
    controllers: Vec<(String, BoxFuture<'static, anyhow::Result<()>>)>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    tracing::info!(identity = %leader.identity, "standing by for the leader lease");
    tokio::select! {
        () = shutdown.cancelled() => return Ok(()),
        ok = until(&mut leader.rx, true) => anyhow::ensure!(ok, "leader election stopped"),
    }
    tracing::info!(identity = %leader.identity, "acquired the leader lease; starting the controllers");
    let names: Vec<String> = controllers.iter().map(|(n, _)| n.clone()).collect();
    let all = futures::future::try_join_all(
        controllers
            .into_iter()
            .map(|(name, c)| async move { c.await.with_context(|| format!("{name} failed")) }),
    );
    tokio::select! {
        r = all => r.map(|_| ()),
        ok = until(&mut leader.rx, false) => {
            anyhow::ensure!(ok, "leader election stopped");
            // Give up at once: the new leader's controllers now own the nodes.
            shutdown.cancel();
            tokio::time::sleep(Duration::from_millis(100)).await;
            anyhow::bail!("lost the leader lease; stopping {} so the new leader runs them alone", names.join(", "))
        }
    }
}

/// Waits until leadership equals `want`; false when the election task ended.
async fn until(rx: &mut watch::Receiver<bool>, want: bool) -> bool {
    rx.wait_for(|l| *l == want).await.is_ok()
}
