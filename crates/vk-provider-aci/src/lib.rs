//! Azure Container Instances provider for vk: the pure parts.
//!
//! - [`naming`]: deterministic, ACI-valid container-group names
//!   (`<namespace>-<pod>`, else sanitized and hashed);
//! - [`tags`]: tags linking a group to its pod (namespace, name, UID, node,
//!   cluster id, spec hash) and parsing them back;
//! - [`refs`]: on-demand resolution of the Secrets, ConfigMaps and
//!   service-account tokens a pod references (no cluster-wide watches);
//! - [`translate`]: pod → [`ContainerGroup`](vk_aci::models::ContainerGroup)
//!   (containers, init containers, env with secrets as `secureValue`,
//!   volumes, registry credentials, ports and IP, probes, DNS, sizes);
//! - [`status`]: container group → [`vk_pods::PodReport`] (phase,
//!   conditions, container statuses, events) and the cheap
//!   [`vk_pods::Instance`] from a list result;
//! - [`AciConfig`]: the `[aci]` table of vk's configuration, with
//!   `validate()` naming every bad key and the node's [`TranslateConfig`].
//!
//! Failures are one [`Error`] enum naming the pod and the object at fault,
//! mapped to the reconciler's [`vk_pods::ProviderError`] by
//! [`Error::to_provider_error`]. Secret material is carried in
//! [`vk_aci::Secret`] and never reaches a plain value, a tag or `Debug`.
//! The translation rules and the choices made where ACI cannot express
//! Kubernetes are documented in `docs/aci-provider.md`.
//!
//! ```
//! use k8s_openapi::api::core::v1::Pod;
//! use vk_provider_aci::{ResolvedRefs, TranslateConfig, group_name, group_to_report, pod_to_group};
//!
//! let pod: Pod = serde_json::from_value(serde_json::json!({
//!     "metadata": {"name": "web", "namespace": "default", "uid": "u1"},
//!     "spec": {"restartPolicy": "Never", "containers": [{
//!         "name": "app", "image": "busybox", "command": ["sh", "-c", "echo $(GREETING)"],
//!         "env": [{"name": "GREETING", "value": "hi"},
//!                 {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "token"}}}]
//!     }]}
//! }))?;
//! let refs = ResolvedRefs::default().with_secret("creds", None, [("token", "s3cret")]);
//! let config = TranslateConfig::new("vk-node", "cluster-1", "westeurope");
//! let (group, _warnings) = pod_to_group(&pod, &refs, &config)?;
//! assert_eq!(group_name("default", "web"), "default-web");
//! let c = &group.properties.containers[0].properties;
//! assert_eq!(c.command.as_deref(), Some(&["sh".to_owned(), "-c".into(), "echo hi".into()][..]));
//! let token = &c.environment_variables.as_ref().unwrap()[1];
//! assert!(token.value.is_none() && token.secure_value.is_some());
//! assert!(!format!("{group:?}").contains("s3cret"));
//!
//! // Status: the group as ACI returns it → the pod's status and events.
//! let report = group_to_report(&group, &pod, Some("10.0.0.4"));
//! assert_eq!(report.status.phase.as_deref(), Some("Pending"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod config;
mod error;
mod health;
pub mod naming;
mod provider;
mod quota;
pub mod refs;
pub mod status;
pub mod tags;
pub mod translate;
mod util;

pub use config::AciConfig;
pub use error::Error;
pub use health::AciHealth;
pub use naming::group_name;
pub use provider::{AciProvider, GroupNames, provider_error};
pub use quota::{ACI_DEFAULT_OPERATION_QUOTA, OperationBudgets, QuotaConfig, operation_budget};
pub use refs::{ConfigMapData, KubeRefSource, RefSource, ResolvedRefs, Resolver, SecretData};
pub use status::{group_to_instance, group_to_report, instance_state};
pub use translate::{ClusterDns, TranslateConfig, pod_to_group};
