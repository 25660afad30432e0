//! vk's Kubernetes client plumbing, usable on its own:
//!
//! - [`ClientConfig`] (the `[kube]` table) builds a [`kube::Client`] from a kubeconfig file or
//!   the usual inference (in-cluster, `KUBECONFIG`, `~/.kube/config`), behind a client-side
//!   request limit ([`LimitLayer`]: a token bucket of `qps` with a `burst`, shared by every
//!   clone of the client);
//! - [`RequestMetrics`] counts the client's requests by verb and the requests the limit held
//!   back, registered by [`RequestMetrics::register_metrics`] as `vk_kube_requests_total{verb}`
//!   and `vk_kube_throttled_total`;
//! - [`LeaderConfig`] (the `[ha]` table) and [`Leadership`]: leader election between replicas
//!   over a `coordination.k8s.io` Lease, exposed as a signal ([`Leadership::acquired`],
//!   [`Leadership::lost`]) for the caller to start and stop its own work on.
//!
//! Both configuration types validate themselves ([`ClientConfig::validate`],
//! [`LeaderConfig::validate`]) and name every bad field relative to their table in an
//! [`Error::InvalidConfig`].
//!
//! ```no_run
//! # async fn demo() -> Result<(), vk_kube::Error> {
//! use vk_kube::{ClientConfig, LeaderConfig, Leadership, RequestMetrics};
//!
//! let mut registry = prometheus_client::registry::Registry::default();
//! let requests = RequestMetrics::default();
//! requests.register_metrics(&mut registry);
//! let client = ClientConfig::default().client(None, &requests).await?;
//!
//! let mut ha = LeaderConfig::default();
//! ha.identity = Some("replica-0".into());
//! let mut leadership = Leadership::elect(client, &ha).await?;
//! leadership.acquired().await?;
//! // ... lead, until:
//! leadership.lost().await?;
//! # Ok(())
//! # }
//! ```

mod client;
mod config;
mod error;
mod leader;
mod limit;
mod metrics;

pub use config::{ClientConfig, LeaderConfig};
pub use error::Error;
pub use leader::Leadership;
pub use limit::{LimitLayer, LimitService};
pub use metrics::RequestMetrics;
