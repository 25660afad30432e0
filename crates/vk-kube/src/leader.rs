//! Leader election between replicas over a Lease ([`Leadership`]).
//!
//! The Lease is created when missing and renewed by a background task a third of its duration
//! before it expires; a standby takes it over once it has not been renewed for its duration.

use kube_lease_manager::{LeaseCreateMode, LeaseManagerBuilder};
use tokio::sync::watch;

use crate::{Error, LeaderConfig};

/// This replica's part in a leader election: competes for the Lease from
/// [`elect`](Self::elect) until dropped, and tells when leadership is
/// [`acquired`](Self::acquired) and [`lost`](Self::lost).
///
/// Dropping it stops the election and releases the Lease if held (in the background; a process
/// that exits at once may leave it to expire instead).
#[derive(Debug)]
pub struct Leadership {
    rx: watch::Receiver<bool>,
    identity: String,
    namespace: String,
    name: String,
}

impl Leadership {
    /// Starts competing for the Lease `config.lease_name` in `config.namespace` as
    /// `config.identity` (which must be set), for `config.lease_duration_secs` (at least 2).
    /// The Lease is created if it does not exist.
    ///
    /// ```no_run
    /// # async fn demo(client: kube::Client) -> Result<(), vk_kube::Error> {
    /// let mut config = vk_kube::LeaderConfig::default();
    /// config.identity = Some("vk-0".into());
    /// let mut leadership = vk_kube::Leadership::elect(client, &config).await?;
    /// leadership.acquired().await?;
    /// println!("{} leads", leadership.identity());
    /// leadership.lost().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn elect(client: kube::Client, config: &LeaderConfig) -> Result<Self, Error> {
        let identity = config
            .identity()
            .ok_or_else(|| Error::InvalidConfig {
                field: "identity",
                reason: "must not be empty".into(),
            })?
            .to_owned();
        let duration = u64::from(config.lease_duration_secs.max(2));
        // Renew well before expiry: a third of the duration is the grace.
        let grace = (duration / 3).max(1);
        let manager = LeaseManagerBuilder::new(client, &config.lease_name)
            .with_namespace(&config.namespace)
            .with_identity(&identity)
            .with_duration(duration)
            .with_grace(grace)
            .with_create_mode(LeaseCreateMode::AutoCreate)
            .with_field_manager("vk-leader")
            .build()
            .await
            .map_err(|source| Error::Lease {
                namespace: config.namespace.clone(),
                name: config.lease_name.clone(),
                source,
            })?;
        // The task ends when every receiver is dropped (it then releases the Lease).
        let (rx, _task) = manager.watch().await;
        Ok(Self {
            rx,
            identity,
            namespace: config.namespace.clone(),
            name: config.lease_name.clone(),
        })
    }

    /// This replica's identity in the Lease.
    pub fn identity(&self) -> &str {
        &self.identity
    }

    /// Whether this replica holds the Lease now.
    pub fn is_leader(&self) -> bool {
        *self.rx.borrow()
    }

    /// Waits until this replica holds the Lease (at once if it does). Fails with
    /// [`Error::ElectionStopped`] when the election task ended.
    pub async fn acquired(&mut self) -> Result<(), Error> {
        self.until(true).await
    }

    /// Waits until this replica no longer holds the Lease (at once if it does not). Fails
    /// with [`Error::ElectionStopped`] when the election task ended.
    pub async fn lost(&mut self) -> Result<(), Error> {
        self.until(false).await
    }

    async fn until(&mut self, leading: bool) -> Result<(), Error> {
        match self.rx.wait_for(|l| *l == leading).await {
            Ok(_) => Ok(()),
            Err(_) => Err(Error::ElectionStopped {
                namespace: self.namespace.clone(),
                name: self.name.clone(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leadership(rx: watch::Receiver<bool>) -> Leadership {
        Leadership {
            rx,
            identity: "vk-0".into(),
            namespace: "vk-system".into(),
            name: "vk-leader".into(),
        }
    }

    #[tokio::test]
    async fn follows_the_election_and_reports_its_end() {
        let (tx, rx) = watch::channel(false);
        let mut l = leadership(rx);
        assert!(!l.is_leader());
        l.lost().await.expect("not leading yet");
        tx.send(true).expect("sent");
        l.acquired().await.expect("leading");
        assert!(l.is_leader());
        assert_eq!(l.identity(), "vk-0");
        drop(tx);
        let err = l.lost().await.expect_err("the election ended");
        assert_eq!(
            err.to_string(),
            "leader election stopped (Lease vk-system/vk-leader)"
        );
    }

    #[tokio::test]
    async fn an_unset_identity_is_refused_before_any_request() {
        let mut config = kube::Config::new("https://127.0.0.1:1".parse().expect("uri"));
        config.connect_timeout = Some(std::time::Duration::from_millis(10));
        let client = kube::Client::try_from(config).expect("client");
        for identity in [None, Some(" ".to_string())] {
            let ha = LeaderConfig {
                identity,
                ..LeaderConfig::default()
            };
            let err = Leadership::elect(client.clone(), &ha)
                .await
                .expect_err("no identity");
            assert_eq!(
                err.to_string(),
                "invalid configuration: identity: must not be empty"
            );
        }
    }
}
