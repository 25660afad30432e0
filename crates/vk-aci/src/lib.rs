//! Azure Container Instances (ACI) REST client, api-version 2023-05-01.
//!
//! vk runs pods as ACI container groups. This crate is how it talks to Azure Resource Manager:
//!
//! - [`models`]: typed serde models of container groups and the other bodies, with secret
//!   material wrapped in [`Secret`] so `Debug` never shows it;
//! - [`ContainerInstances`]: create-or-update (tracking the long-running operation through
//!   `Azure-AsyncOperation`, `Location` or `provisioningState`), get, delete, list with paging,
//!   start, stop, restart, logs, exec, attach, and the per-region capabilities, usages and cached
//!   images;
//! - [`credentials`]: access tokens behind [`credentials::TokenCredential`] (client secret,
//!   managed identity, workload identity, AKS `azure.json`, static), cached and refreshed early;
//! - resilience: retries with exponential back-off and full jitter honouring `Retry-After`
//!   ([`RetryPolicy`]), client-side token buckets ([`RateLimits`]), per-call timeouts and
//!   counters ([`ClientMetrics`]);
//! - [`exec`]: opening an exec WebSocket and bridging stdin/stdout.
//!
//! Every failure is an [`Error`] naming the operation and its object, carrying a [`Failure`]
//! with the HTTP status, ARM error code and message and the `x-ms-request-id`; helpers such as
//! [`Error::is_not_found`] and [`Error::is_transient`] classify it.
//!
//! The crate installs no process-wide state: the HTTP client uses rustls with the ring provider
//! passed explicitly ([`http_client`]), and callers may pass their own `reqwest::Client`. With the
//! workspace's reqwest features, `reqwest::Client::new()` panics for lack of a global provider,
//! so build clients with [`http_client`] or `tls_backend_preconfigured(`[`tls_config`]`()?)`.
//! Endpoints are configurable ([`AzureCloud`]), and plain `http://` works, for the emulator.
//!
//! ```no_run
//! use std::sync::Arc;
//! use vk_aci::credentials::{WorkloadIdentityConfig, WorkloadIdentityCredential};
//! use vk_aci::models::*;
//! use vk_aci::{ContainerInstances, http_client};
//!
//! # async fn demo() -> Result<(), vk_aci::Error> {
//! let config = WorkloadIdentityConfig::from_env_vars(|k| std::env::var(k).ok())?;
//! let credential = WorkloadIdentityCredential::new(http_client()?, config)?;
//! let aci = ContainerInstances::builder("subscription-id", "resource-group", Arc::new(credential)).build()?;
//!
//! let group = ContainerGroup {
//!     location: Some("westeurope".into()),
//!     properties: ContainerGroupProperties {
//!         os_type: Some(OperatingSystemType::Linux),
//!         restart_policy: Some(RestartPolicy::Never),
//!         containers: vec![Container {
//!             name: "app".into(),
//!             properties: ContainerProperties {
//!                 image: "nginx".into(),
//!                 resources: ResourceRequirements {
//!                     requests: ResourceRequests { cpu: 1.0, memory_in_gb: 1.5, gpu: None },
//!                     limits: None,
//!                 },
//!                 environment_variables: Some(vec![EnvironmentVariable::secure("TOKEN", "s3cret")]),
//!                 ..Default::default()
//!             },
//!         }],
//!         ..Default::default()
//!     },
//!     ..Default::default()
//! };
//! let created = aci.create_or_update("default-my-pod", &group).await?;
//! println!("{:?}", created.provisioning_state());
//! match aci.get("default-other").await {
//!     Err(e) if e.is_not_found() => {}
//!     other => println!("{:?}", other.map(|g| g.name)),
//! }
//! aci.delete("default-my-pod").await?;
//! println!("{:?}", aci.metrics());
//! # Ok(()) }
//! ```

mod builder;
mod client;
mod cloud;
mod config;
pub mod credentials;
mod error;
pub mod exec;
#[doc(hidden)]
pub mod fuzzing;
mod http;
mod lro;
mod metrics;
pub mod models;
pub mod monitor;
pub mod names;
mod paging;
mod rate_limit;
mod retry;
mod secret;
mod transport;
mod url;

pub use builder::ContainerInstancesBuilder;
pub use client::{ContainerInstances, LogOptions};
pub use cloud::AzureCloud;
pub use config::{
    CredentialConfig, RateLimitConfig, ResolvedCredential, UsageConfig, check_http_url,
};
pub use error::{Error, Failure, FailureDetail, FailureKind, Operation, Target};
pub use http::{http_client, tls_config};
pub use lro::LroOptions;
pub use metrics::{ClientMetrics, OperationCount};
pub use rate_limit::{BucketConfig, RateLimits};
pub use retry::{RetryPolicy, retry_after};
pub use secret::{REDACTED, Secret};
pub use transport::API_VERSION;
pub use url::Url;
