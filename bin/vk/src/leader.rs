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
use tokio_util::sync::CancellationToken;
use vk_kube::Leadership;

/// Waits for leadership, then runs `controllers` until shutdown; losing
/// leadership is an error that stops the process.
pub(crate) async fn run_when_leader(
    mut leader: Leadership,
    controllers: Vec<(String, BoxFuture<'static, anyhow::Result<()>>)>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let identity = leader.identity().to_owned();
    tracing::info!(%identity, "standing by for the leader lease");
    tokio::select! {
        () = shutdown.cancelled() => return Ok(()),
        r = leader.acquired() => r?,
    }
    tracing::info!(%identity, "acquired the leader lease; starting the controllers");
    let names: Vec<String> = controllers.iter().map(|(n, _)| n.clone()).collect();
    let all = futures::future::try_join_all(
        controllers
            .into_iter()
            .map(|(name, c)| async move { c.await.with_context(|| format!("{name} failed")) }),
    );
    tokio::select! {
        r = all => r.map(|_| ()),
        r = leader.lost() => {
            r?;
            // Give up at once: the new leader's controllers now own the nodes.
            shutdown.cancel();
            tokio::time::sleep(Duration::from_millis(100)).await;
            anyhow::bail!("lost the leader lease; stopping {} so the new leader runs them alone", names.join(", "))
        }
    }
}
