//! Serde-deserializable configuration of a client: how it authenticates
//! ([`CredentialConfig`]), its client-side ARM rate limits ([`RateLimitConfig`]) and how
//! usage is sampled from Azure Monitor ([`UsageConfig`]).
//!
//! ```
//! let credentials: vk_aci::CredentialConfig = serde_json::from_str(
//!     r#"{"kind": "client-secret", "tenant_id": "t", "client_id": "c", "client_secret": "s"}"#,
//! )
//! .unwrap();
//! assert_eq!(credentials.kind(), "client-secret");
//! credentials.validate().unwrap();
//! // Secrets never show, not even serialized.
//! assert!(serde_json::to_string(&credentials).unwrap().contains("<redacted>"));
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::credentials::{
    AzureJson, CachingCredential, ClientSecretCredential, ManagedIdentityCredential,
    StaticTokenCredential, TokenCredential, WorkloadIdentityConfig, WorkloadIdentityCredential,
};
use crate::{BucketConfig, Error, RateLimits, Secret};

/// How the client authenticates to ARM, selected by `kind`:
///
/// ```toml
/// [aci.credentials]
/// kind = "client-secret"
/// tenant_id = "…"
/// client_id = "…"
/// client_secret = "…"   # better: VK_ACI__CREDENTIALS__CLIENT_SECRET from a Secret
/// ```
///
/// Optional fields left out fall back to the `AZURE_*` variables of the process.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
#[non_exhaustive]
pub enum CredentialConfig {
    /// A service principal with a client secret.
    ClientSecret {
        /// Tenant (directory) ID.
        tenant_id: String,
        /// Application (client) ID.
        client_id: String,
        /// The client secret.
        client_secret: Secret,
    },
    /// The managed identity of the VM or of the pod (IMDS or App Service style endpoint).
    ManagedIdentity {
        /// Client ID of a user-assigned identity (system-assigned when unset).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_id: Option<String>,
        /// Resource ID of a user-assigned identity (instead of `client_id`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        resource_id: Option<String>,
        /// Token endpoint (IMDS when unset).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        endpoint: Option<String>,
    },
    /// Azure workload identity (federated token file projected into the pod).
    WorkloadIdentity {
        /// Tenant ID (`AZURE_TENANT_ID` when unset).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tenant_id: Option<String>,
        /// Client ID (`AZURE_CLIENT_ID` when unset).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_id: Option<String>,
        /// Federated token file (`AZURE_FEDERATED_TOKEN_FILE` when unset).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        token_file: Option<PathBuf>,
    },
    /// An AKS-style `azure.json` (credentials, and subscription, resource group and region
    /// when `aci` leaves them unset).
    AzureJson {
        /// Path of the file.
        #[serde(default = "default_azure_json")]
        path: PathBuf,
    },
    /// A fixed bearer token (tests, the emulator).
    StaticToken {
        /// The token.
        token: Secret,
    },
}

fn default_azure_json() -> PathBuf {
    PathBuf::from("/etc/kubernetes/azure.json")
}

impl Default for CredentialConfig {
    /// The system-assigned managed identity.
    fn default() -> Self {
        Self::ManagedIdentity {
            client_id: None,
            resource_id: None,
            endpoint: None,
        }
    }
}

/// A credential built from a [`CredentialConfig`], with what an `azure.json` adds.
#[derive(Clone)]
#[non_exhaustive]
pub struct ResolvedCredential {
    /// The credential (caching its tokens).
    pub credential: Arc<dyn TokenCredential>,
    /// The subscription an `azure.json` names (non-empty), else `None`.
    pub subscription_id: Option<String>,
    /// The resource group an `azure.json` names (non-empty), else `None`.
    pub resource_group: Option<String>,
}

impl std::fmt::Debug for ResolvedCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResolvedCredential")
            .field("subscription_id", &self.subscription_id)
            .field("resource_group", &self.resource_group)
            .finish_non_exhaustive()
    }
}

impl CredentialConfig {
    /// The `kind` tag.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::ClientSecret { .. } => "client-secret",
            Self::ManagedIdentity { .. } => "managed-identity",
            Self::WorkloadIdentity { .. } => "workload-identity",
            Self::AzureJson { .. } => "azure-json",
            Self::StaticToken { .. } => "static-token",
        }
    }

    /// Checks the fields (files must exist); the first problem is an
    /// [`Error::InvalidConfig`] naming the field (`tenant_id: must not be empty`).
    pub fn validate(&self) -> Result<(), Error> {
        match self {
            Self::ClientSecret {
                tenant_id,
                client_id,
                client_secret,
            } => {
                non_empty("tenant_id", tenant_id)?;
                non_empty("client_id", client_id)?;
                non_empty("client_secret", client_secret.expose())
            }
            Self::ManagedIdentity {
                client_id,
                resource_id,
                endpoint,
            } => {
                if client_id.is_some() && resource_id.is_some() {
                    return invalid("resource_id", "give client_id or resource_id, not both");
                }
                match endpoint {
                    Some(endpoint) => http_url("endpoint", endpoint),
                    None => Ok(()),
                }
            }
            Self::WorkloadIdentity { token_file, .. } => match token_file {
                Some(file) => existing_file("token_file", file),
                None => Ok(()),
            },
            Self::AzureJson { path } => existing_file("path", path),
            Self::StaticToken { token } => non_empty("token", token.expose()),
        }
    }

    /// Builds the credential, requesting tokens from `authority_host` (Entra ID) through
    /// `http`. An `azure-json` file is read now. Failures are [`Error::Credential`]s whose
    /// context names the setting as embedded under `credentials`
    /// (`credentials (client-secret)`, `credentials.path: cannot read …`).
    ///
    /// ```
    /// # fn demo() -> Result<(), vk_aci::Error> {
    /// let config = vk_aci::CredentialConfig::default(); // managed identity
    /// let resolved = config.build(&vk_aci::http_client()?, "https://login.microsoftonline.com")?;
    /// assert!(resolved.subscription_id.is_none());
    /// # Ok(()) }
    /// ```
    pub fn build(
        &self,
        http: &reqwest::Client,
        authority_host: &str,
    ) -> Result<ResolvedCredential, Error> {
        let fail = |context: String| {
            move |source: Error| Error::Credential {
                context,
                source: Box::new(source),
            }
        };
        let resolved = |credential: Arc<dyn TokenCredential>| ResolvedCredential {
            credential,
            subscription_id: None,
            resource_group: None,
        };
        Ok(match self {
            Self::ClientSecret {
                tenant_id,
                client_id,
                client_secret,
            } => resolved(Arc::new(CachingCredential::new(
                ClientSecretCredential::new(
                    http.clone(),
                    authority_host,
                    tenant_id,
                    client_id,
                    client_secret.clone(),
                )
                .map_err(fail("credentials (client-secret)".into()))?,
            ))),
            Self::ManagedIdentity {
                client_id,
                resource_id,
                endpoint,
            } => {
                let mut cred = ManagedIdentityCredential::new(http.clone());
                if let Some(id) = client_id {
                    cred = cred.with_client_id(id);
                }
                if let Some(id) = resource_id {
                    cred = cred.with_resource_id(id);
                }
                if let Some(ep) = endpoint {
                    cred = cred
                        .with_endpoint(ep)
                        .map_err(fail("credentials.endpoint (managed-identity)".into()))?;
                }
                resolved(Arc::new(CachingCredential::new(cred)))
            }
            Self::WorkloadIdentity {
                tenant_id,
                client_id,
                token_file,
            } => {
                // Explicit configuration wins over the AZURE_* variables the webhook injects.
                let wi = WorkloadIdentityConfig::from_env_vars(|key| match key {
                    "AZURE_TENANT_ID" if tenant_id.is_some() => tenant_id.clone(),
                    "AZURE_CLIENT_ID" if client_id.is_some() => client_id.clone(),
                    "AZURE_FEDERATED_TOKEN_FILE" if token_file.is_some() => {
                        token_file.as_ref().map(|p| p.display().to_string())
                    }
                    "AZURE_AUTHORITY_HOST" => Some(authority_host.to_owned()),
                    other => std::env::var(other).ok(),
                })
                .map_err(fail("credentials (workload-identity)".into()))?;
                resolved(Arc::new(CachingCredential::new(
                    WorkloadIdentityCredential::new(http.clone(), wi)
                        .map_err(fail("credentials (workload-identity)".into()))?,
                )))
            }
            Self::AzureJson { path } => {
                let bytes = std::fs::read(path).map_err(|source| Error::Credential {
                    context: format!("credentials.path: cannot read {}", path.display()),
                    source: Box::new(source),
                })?;
                let file = AzureJson::from_slice(&bytes).map_err(fail(format!(
                    "credentials.path: {} is not a valid azure.json",
                    path.display()
                )))?;
                let nonempty = |s: &String| (!s.is_empty()).then(|| s.clone());
                ResolvedCredential {
                    subscription_id: nonempty(&file.subscription_id),
                    resource_group: nonempty(&file.resource_group),
                    credential: file.credential(http.clone(), None, None).map_err(fail(
                        "credentials: azure.json names no usable credential".into(),
                    ))?,
                }
            }
            Self::StaticToken { token } => {
                resolved(Arc::new(StaticTokenCredential::new(token.expose())))
            }
        })
    }
}

/// Client-side token buckets for ARM calls (ARM allows bursts of 250 reads refilled at 25/s and
/// 200 writes refilled at 10/s per subscription and region).
///
/// ```
/// let limits = vk_aci::RateLimitConfig::default().with_reads(10.0, 20).limits();
/// assert!(limits.reads.is_some());
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct RateLimitConfig {
    /// Reads (GETs, including operation polls) per second.
    pub reads_per_sec: f64,
    /// Read burst.
    pub read_burst: u32,
    /// Writes (PUT, POST, PATCH, DELETE) per second.
    pub writes_per_sec: f64,
    /// Write burst.
    pub write_burst: u32,
}

impl Default for RateLimitConfig {
    /// Just below ARM's buckets (reads 250 + 25/s, writes 200 + 10/s per
    /// principal): rates at 98–99 % of ARM's refill, bursts short of ARM's
    /// by more than one second's refill (ARM's bucket refills once a second
    /// at a phase vk cannot see): reads 24.5/s burst 215, writes 9.9/s burst
    /// 185. vk paces itself below ARM instead of bouncing off, and a burst
    /// of creates goes out at nearly the rate ARM allows.
    fn default() -> Self {
        Self {
            reads_per_sec: 24.5,
            read_burst: 215,
            writes_per_sec: 9.9,
            write_burst: 185,
        }
    }
}

impl RateLimitConfig {
    /// Sets the read rate and burst.
    #[must_use]
    pub fn with_reads(mut self, per_sec: f64, burst: u32) -> Self {
        self.reads_per_sec = per_sec;
        self.read_burst = burst;
        self
    }

    /// Sets the write rate and burst.
    #[must_use]
    pub fn with_writes(mut self, per_sec: f64, burst: u32) -> Self {
        self.writes_per_sec = per_sec;
        self.write_burst = burst;
        self
    }

    /// Rates must be positive and bursts at least 1; the first problem is an
    /// [`Error::InvalidConfig`] naming the field.
    pub fn validate(&self) -> Result<(), Error> {
        for (field, rate) in [
            ("reads_per_sec", self.reads_per_sec),
            ("writes_per_sec", self.writes_per_sec),
        ] {
            if !(rate.is_finite() && rate > 0.0) {
                return invalid(field, "must be a positive number");
            }
        }
        for (field, burst) in [
            ("read_burst", self.read_burst),
            ("write_burst", self.write_burst),
        ] {
            if burst == 0 {
                return invalid(field, "must be at least 1");
            }
        }
        Ok(())
    }

    /// The buckets for [`ContainerInstancesBuilder::rate_limits`](crate::ContainerInstancesBuilder::rate_limits).
    pub fn limits(&self) -> RateLimits {
        RateLimits {
            reads: Some(BucketConfig::new(
                f64::from(self.read_burst),
                self.reads_per_sec,
            )),
            writes: Some(BucketConfig::new(
                f64::from(self.write_burst),
                self.writes_per_sec,
            )),
        }
    }
}

/// How the pods' CPU and memory usage is sampled from Azure Monitor (the `[aci.usage]` table
/// of vk's configuration; the sampler is `vk_kubelet_aci::UsageSampler`). It lives here, with
/// the client's other settings, because both the provider's `[aci]` table and the kubelet
/// backend read it.
///
/// ```
/// let usage = vk_aci::UsageConfig::default();
/// usage.validate().unwrap();
/// assert_eq!(usage.endpoint_for("westeurope"), "https://westeurope.metrics.monitor.azure.com");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct UsageConfig {
    /// Sample usage at all (default true; off: pods are listed without usage).
    pub enabled: bool,
    /// Seconds between two samples of every running pod (default 60: Azure
    /// Monitor's grain is one minute, sampling faster reads the same points).
    pub interval_secs: u64,
    /// How far back a sample asks, in seconds (default 600: covers Azure
    /// Monitor's delay with room to spare; the newest point with data is used).
    pub window_secs: u64,
    /// The metrics data-plane endpoint; `{region}` is replaced by the region
    /// of the container groups (default
    /// `https://{region}.metrics.monitor.azure.com`).
    pub endpoint: String,
}

impl Default for UsageConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            interval_secs: 60,
            window_secs: 600,
            endpoint: "https://{region}.metrics.monitor.azure.com".to_owned(),
        }
    }
}

impl UsageConfig {
    /// Checks the settings; the first problem is an [`Error::InvalidConfig`] naming the field
    /// (relative to the table).
    pub fn validate(&self) -> Result<(), Error> {
        if self.interval_secs == 0 {
            return invalid("interval_secs", "must be at least 1");
        }
        if self.window_secs < 120 {
            return invalid(
                "window_secs",
                "must be at least 120 (two one-minute points)",
            );
        }
        let endpoint = self.endpoint.replace("{region}", "region");
        if !(endpoint.starts_with("https://") || endpoint.starts_with("http://"))
            || crate::Url::parse(&endpoint).is_err()
        {
            return invalid(
                "endpoint",
                format!("{:?} is not an http(s) URL", self.endpoint),
            );
        }
        Ok(())
    }

    /// The time between two samples.
    pub fn interval(&self) -> Duration {
        Duration::from_secs(self.interval_secs.max(1))
    }

    /// How far back a sample asks.
    pub fn window(&self) -> Duration {
        Duration::from_secs(self.window_secs)
    }

    /// The endpoint for `region`.
    pub fn endpoint_for(&self, region: &str) -> String {
        self.endpoint.replace("{region}", region)
    }
}

fn invalid(field: &'static str, reason: impl Into<String>) -> Result<(), Error> {
    Err(Error::InvalidConfig {
        field,
        reason: reason.into(),
    })
}

fn non_empty(field: &'static str, value: &str) -> Result<(), Error> {
    if value.trim().is_empty() {
        return invalid(field, "must not be empty");
    }
    Ok(())
}

fn existing_file(field: &'static str, path: &Path) -> Result<(), Error> {
    match std::fs::metadata(path) {
        Ok(md) if md.is_file() => Ok(()),
        Ok(_) => invalid(field, format!("{} is not a file", path.display())),
        Err(err) => invalid(field, format!("cannot read {}: {err}", path.display())),
    }
}

/// An `http://` or `https://` URL with a host (http is for the emulator); the
/// endpoint settings of a client are checked with it.
///
/// ```
/// assert!(vk_aci::check_http_url("https://management.azure.com").is_ok());
/// assert_eq!(
///     vk_aci::check_http_url("management.azure.com").unwrap_err(),
///     "\"management.azure.com\" is not an http(s) URL"
/// );
/// ```
pub fn check_http_url(s: &str) -> Result<(), String> {
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"));
    match rest {
        Some(rest)
            if !rest.is_empty()
                && !rest.starts_with('/')
                && !rest.contains(char::is_whitespace) =>
        {
            Ok(())
        }
        _ => Err(format!("{s:?} is not an http(s) URL")),
    }
}

fn http_url(field: &'static str, s: &str) -> Result<(), Error> {
    check_http_url(s).or_else(|reason| invalid(field, reason))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(err: Error) -> (&'static str, String) {
        match err {
            Error::InvalidConfig { field, reason } => (field, reason),
            other => panic!("unexpected {other}"),
        }
    }

    #[test]
    fn validation_names_the_field() {
        let sp = CredentialConfig::ClientSecret {
            tenant_id: "t".into(),
            client_id: " ".into(),
            client_secret: Secret::from("s"),
        };
        assert_eq!(
            field_of(sp.validate().unwrap_err()),
            ("client_id", "must not be empty".into())
        );
        let mi = CredentialConfig::ManagedIdentity {
            client_id: Some("a".into()),
            resource_id: Some("b".into()),
            endpoint: None,
        };
        assert_eq!(field_of(mi.validate().unwrap_err()).0, "resource_id");
        let mi = CredentialConfig::ManagedIdentity {
            client_id: None,
            resource_id: None,
            endpoint: Some("imds".into()),
        };
        assert_eq!(
            field_of(mi.validate().unwrap_err()),
            ("endpoint", "\"imds\" is not an http(s) URL".into())
        );
        let file = CredentialConfig::AzureJson {
            path: "/nonexistent/azure.json".into(),
        };
        let (field, reason) = field_of(file.validate().unwrap_err());
        assert_eq!(field, "path");
        assert!(
            reason.starts_with("cannot read /nonexistent/azure.json"),
            "{reason}"
        );
        let token = CredentialConfig::StaticToken {
            token: Secret::from(""),
        };
        assert_eq!(field_of(token.validate().unwrap_err()).0, "token");
        assert!(CredentialConfig::default().validate().is_ok());

        let limits = RateLimitConfig::default().with_writes(-1.0, 5);
        assert_eq!(
            field_of(limits.validate().unwrap_err()),
            ("writes_per_sec", "must be a positive number".into())
        );
        let limits = RateLimitConfig::default().with_reads(1.0, 0);
        assert_eq!(
            field_of(limits.validate().unwrap_err()),
            ("read_burst", "must be at least 1".into())
        );
    }

    #[test]
    fn secrets_are_redacted_when_serialized() {
        let sp: CredentialConfig = serde_json::from_str(
            r#"{"kind":"client-secret","tenant_id":"t","client_id":"c","client_secret":"hunter2"}"#,
        )
        .unwrap();
        let shown = format!("{sp:?} {}", serde_json::to_string(&sp).unwrap());
        assert!(!shown.contains("hunter2"), "{shown}");
        let CredentialConfig::ClientSecret { client_secret, .. } = sp else {
            panic!("client secret expected");
        };
        assert_eq!(client_secret.expose(), "hunter2");
    }

    #[test]
    fn build_failures_name_the_setting() {
        let http = crate::http_client().unwrap();
        let file = CredentialConfig::AzureJson {
            path: "/nonexistent/azure.json".into(),
        };
        let err = file.build(&http, "https://login.example").unwrap_err();
        assert_eq!(
            err.to_string(),
            "credentials.path: cannot read /nonexistent/azure.json"
        );
        let token = CredentialConfig::StaticToken {
            token: Secret::from("t"),
        };
        let resolved = token.build(&http, "https://login.example").unwrap();
        assert!(resolved.subscription_id.is_none() && resolved.resource_group.is_none());
    }

    #[test]
    fn usage_config_is_checked() {
        assert!(UsageConfig::default().validate().is_ok());
        let bad = UsageConfig {
            interval_secs: 0,
            ..UsageConfig::default()
        };
        assert_eq!(
            field_of(bad.validate().unwrap_err()),
            ("interval_secs", "must be at least 1".into())
        );
        let bad = UsageConfig {
            window_secs: 60,
            ..UsageConfig::default()
        };
        assert_eq!(
            field_of(bad.validate().unwrap_err()),
            (
                "window_secs",
                "must be at least 120 (two one-minute points)".into()
            )
        );
        let bad = UsageConfig {
            endpoint: "metrics.example".into(),
            ..UsageConfig::default()
        };
        assert_eq!(
            field_of(bad.validate().unwrap_err()),
            (
                "endpoint",
                "\"metrics.example\" is not an http(s) URL".into()
            )
        );
        assert_eq!(
            UsageConfig::default().endpoint_for("westeurope"),
            "https://westeurope.metrics.monitor.azure.com"
        );
        assert_eq!(UsageConfig::default().interval(), Duration::from_secs(60));
    }
}
