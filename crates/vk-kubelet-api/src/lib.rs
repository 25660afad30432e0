//! The kubelet HTTPS API of a virtual node: `kubectl logs`, `kubectl exec`, stats and metrics,
//! with kubelet-grade authentication and authorization.
//!
//! The API server forwards `kubectl logs`/`exec` to a node's daemon endpoint
//! (`status.daemonEndpoints.kubeletEndpoint.port` at its InternalIP). [`KubeletServer`] serves
//! that endpoint over HTTPS (rustls, ring provider passed explicitly) and delegates to a
//! [`KubeletBackend`] — a provider-independent trait (logs, exec, pods, stats). The crate knows
//! no provider: the Azure Container Instances backend lives in `vk-kubelet-aci`.
//!
//! - Routes: `/containerLogs/{ns}/{pod}/{container}` (all kubelet log parameters; `follow`
//!   polls and emits only new lines), `/exec/…` over WebSocket (`v5`/`v4.channel.k8s.io`,
//!   `channel.k8s.io`, base64 variants) and SPDY/3.1 (`v4.channel.k8s.io`), `/attach/…` and
//!   `/portForward/…` (501: not supported by ACI), `/stats/summary`, `/metrics/resource`,
//!   `/pods`, `/runningpods/`, `/healthz`.
//! - Configuration ([`KubeletConfig`], the `[kubelet]` table of vk's configuration file):
//!   serving certificate files or a self-signed certificate, the client CA, anonymous access.
//! - Auth ([`AuthConfig`]): client certificates (CN = user, O = groups) verified against the
//!   client CA, bearer tokens via TokenReview, authorization via SubjectAccessReview on
//!   `nodes/<node>` with the kubelet's subresource mapping, cached decisions, anonymous access
//!   only when enabled.
//!
//! See `docs/kubelet-api.md` for the protocols and what ACI cannot do.
//!
//! ```no_run
//! use k8s_openapi::api::core::v1::Pod;
//! use vk_kubelet_api::{
//!     AuthConfig, ContainerRef, Error, ExecIo, ExecRequest, ExitStatus, KubeletBackend,
//!     KubeletServer, LogRequest, TlsSource,
//! };
//!
//! struct Echo;
//!
//! impl KubeletBackend for Echo {
//!     async fn logs(&self, _: &ContainerRef, _: &LogRequest) -> Result<String, Error> {
//!         Ok("2024-01-01T00:00:00Z hello\n".into())
//!     }
//!     async fn exec(&self, _: &ContainerRef, req: ExecRequest, io: ExecIo) -> Result<ExitStatus, Error> {
//!         let line = format!("{}\n", req.command.join(" "));
//!         let _ = io.stdout.send(line.into()).await;
//!         Ok(ExitStatus::Code(0))
//!     }
//!     async fn pods(&self) -> Result<Vec<Pod>, Error> {
//!         Ok(Vec::new())
//!     }
//! }
//!
//! # async fn demo(kube: kube::Client, cluster_ca: String) -> Result<(), Error> {
//! let listener = tokio::net::TcpListener::bind("0.0.0.0:10250").await.map_err(Error::Serve)?;
//! KubeletServer::builder(Echo, "my-virtual-node")
//!     .tls(TlsSource::SelfSigned { sans: vec!["10.0.0.4".into()] })
//!     .auth(AuthConfig {
//!         client_ca: Some(cluster_ca),
//!         anonymous: false,
//!         kube: Some(kube),
//!         cache_ttl: std::time::Duration::from_secs(60),
//!     })
//!     .serve(listener, std::future::pending::<()>())
//!     .await
//! # }
//! ```

mod auth;
mod backend;
mod config;
mod error;
mod exec;
#[doc(hidden)]
pub mod fuzzing;
mod logs;
mod server;
mod stats;
#[cfg(test)]
mod tests;
mod tls;

pub use auth::{Attributes, AuthConfig, Identity, attributes};
pub use backend::{
    ContainerRef, ExecIo, ExecRequest, ExitStatus, KubeletBackend, LogRequest, TerminalSize,
};
pub use config::KubeletConfig;
pub use error::Error;
pub use server::{KubeletServer, KubeletServerBuilder};
pub use stats::{ContainerStats, PodStats};
pub use tls::TlsSource;
