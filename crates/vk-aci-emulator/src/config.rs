//! Emulator configuration and its builder.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::EmulatorError;
use crate::server::RunningEmulator;

/// Maximum CPU cores and memory (GB) of one container group.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GroupMaxima {
    /// Maximum total CPU cores requested by the group.
    pub cpu: f64,
    /// Maximum total memory in GB requested by the group.
    pub memory_gb: f64,
}

impl Default for GroupMaxima {
    fn default() -> Self {
        Self {
            cpu: 4.0,
            memory_gb: 16.0,
        }
    }
}

/// Per OS type and SKU container-group maxima.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct GroupLimits {
    /// Linux groups, `Standard` (and `Dedicated`) SKU.
    pub linux_standard: GroupMaxima,
    /// Windows groups, `Standard` (and `Dedicated`) SKU.
    pub windows_standard: GroupMaxima,
    /// `Confidential` SKU groups (Linux only).
    pub confidential: GroupMaxima,
    /// `Spot` priority groups.
    pub spot: GroupMaxima,
}

/// Regional quota of one subscription (applies per subscription and region).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quota {
    /// Maximum number of container groups (`ContainerGroups`).
    pub container_groups: u32,
    /// Maximum number of standard cores (`StandardCores`).
    pub cores: u32,
}

impl Default for Quota {
    fn default() -> Self {
        Self {
            container_groups: 100,
            cores: 100,
        }
    }
}

/// How long-running operations answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LroConfig {
    /// Value of the `Retry-After` header on LRO responses, in seconds.
    pub retry_after_secs: u32,
    /// Send the `Azure-AsyncOperation` header (operation-status URL).
    pub azure_async_operation: bool,
    /// Send the `Location` header (operation-result URL).
    pub location: bool,
}

impl Default for LroConfig {
    fn default() -> Self {
        Self {
            retry_after_secs: 1,
            azure_async_operation: true,
            location: true,
        }
    }
}

/// Complete emulator configuration. Build one with [`crate::Emulator::builder`].
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// Accepted subscription ids (`None`: any).
    pub subscriptions: Option<Vec<String>>,
    /// Existing resource groups (`None`: every resource group exists).
    pub resource_groups: Option<Vec<String>>,
    /// Require a bearer token issued by this emulator on ARM requests.
    pub require_auth: bool,
    /// A fixed bearer token that is always accepted.
    pub static_token: Option<String>,
    /// Lifetime of issued tokens.
    pub token_lifetime: Duration,
    /// Per-group CPU / memory maxima.
    pub limits: GroupLimits,
    /// Regional quota applied to every (subscription, region).
    pub quota: Quota,
    /// Image pull delay, per container.
    pub pull_delay: Duration,
    /// Delay between `Created` and `Started`, per container.
    pub start_delay: Duration,
    /// Back-off before a container is restarted by its restart policy.
    pub restart_backoff: Duration,
    /// Delay before a deleted group disappears (zero: at once).
    pub delete_delay: Duration,
    /// LRO behaviour.
    pub lro: LroConfig,
    /// Page size of list operations.
    pub page_size: usize,
    /// Image substrings that make an image unpullable (`InaccessibleImage`).
    pub unpullable_images: Vec<String>,
    /// GPU SKUs offered by the capabilities endpoint and accepted in requests
    /// (none by default: ACI's GPU SKUs were retired on 14 July 2025).
    pub gpu_skus: Vec<String>,
    /// Regions that offer Spot container groups (default East US 2, West
    /// Europe, West US), as normalised location names.
    pub spot_regions: Vec<String>,
    /// How many request bodies are kept per container group for inspection.
    pub recorded_requests: usize,
    /// Optional JSON state file, loaded at start and written on change.
    pub state_file: Option<PathBuf>,
    /// Debounce of state file writes.
    pub persist_debounce: Duration,
    /// Region names reported by the capabilities endpoint when asked for any location.
    pub default_location: String,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        Self {
            subscriptions: None,
            resource_groups: None,
            require_auth: true,
            static_token: None,
            token_lifetime: Duration::from_secs(3600),
            limits: GroupLimits::default(),
            quota: Quota::default(),
            pull_delay: Duration::ZERO,
            start_delay: Duration::ZERO,
            restart_backoff: Duration::from_millis(500),
            delete_delay: Duration::ZERO,
            lro: LroConfig::default(),
            page_size: 100,
            unpullable_images: vec!["unpullable".to_owned()],
            gpu_skus: Vec::new(),
            spot_regions: ["eastus2", "westeurope", "westus"]
                .map(str::to_owned)
                .to_vec(),
            recorded_requests: 20,
            state_file: None,
            persist_debounce: Duration::from_millis(100),
            default_location: "westus".to_owned(),
        }
    }
}

/// Builder of an emulator; see [`crate::Emulator::builder`].
#[derive(Debug, Clone, Default)]
pub struct EmulatorBuilder {
    config: EmulatorConfig,
}

impl EmulatorBuilder {
    /// Starts from a complete configuration.
    pub fn from_config(config: EmulatorConfig) -> Self {
        Self { config }
    }

    /// The configuration built so far.
    pub fn config(&self) -> &EmulatorConfig {
        &self.config
    }

    /// Accept only these subscription ids (default: any).
    pub fn subscriptions<I, S>(mut self, ids: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.config.subscriptions = Some(ids.into_iter().map(Into::into).collect());
        self
    }

    /// Only these resource groups exist (default: all); others answer 404
    /// `ResourceGroupNotFound`.
    pub fn resource_groups<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.config.resource_groups = Some(names.into_iter().map(Into::into).collect());
        self
    }

    /// Require (default) or not a bearer token on ARM requests.
    pub fn require_auth(mut self, require: bool) -> Self {
        self.config.require_auth = require;
        self
    }

    /// Always accept this bearer token.
    pub fn static_token(mut self, token: impl Into<String>) -> Self {
        self.config.static_token = Some(token.into());
        self
    }

    /// Lifetime of issued tokens (default one hour).
    pub fn token_lifetime(mut self, lifetime: Duration) -> Self {
        self.config.token_lifetime = lifetime;
        self
    }

    /// Per-group maxima for every OS and SKU.
    pub fn group_limits(mut self, limits: GroupLimits) -> Self {
        self.config.limits = limits;
        self
    }

    /// Regional quota (default 100 groups, 100 cores).
    pub fn quota(mut self, quota: Quota) -> Self {
        self.config.quota = quota;
        self
    }

    /// Image pull delay (default zero).
    pub fn pull_delay(mut self, delay: Duration) -> Self {
        self.config.pull_delay = delay;
        self
    }

    /// Container start delay (default zero).
    pub fn start_delay(mut self, delay: Duration) -> Self {
        self.config.start_delay = delay;
        self
    }

    /// Back-off before restarting an exited container (default 500 ms).
    pub fn restart_backoff(mut self, delay: Duration) -> Self {
        self.config.restart_backoff = delay;
        self
    }

    /// Delay before a deleted group disappears (default zero).
    pub fn delete_delay(mut self, delay: Duration) -> Self {
        self.config.delete_delay = delay;
        self
    }

    /// LRO behaviour.
    pub fn lro(mut self, lro: LroConfig) -> Self {
        self.config.lro = lro;
        self
    }

    /// Page size of list operations (default 100, minimum 1).
    pub fn page_size(mut self, size: usize) -> Self {
        self.config.page_size = size.max(1);
        self
    }

    /// Image substrings that are unpullable (default `["unpullable"]`).
    pub fn unpullable_images<I, S>(mut self, patterns: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.config.unpullable_images = patterns.into_iter().map(Into::into).collect();
        self
    }

    /// GPU SKUs offered (default none: ACI retired its GPU SKUs on 14 July 2025).
    pub fn gpu_skus<I, S>(mut self, skus: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.config.gpu_skus = skus.into_iter().map(Into::into).collect();
        self
    }

    /// Regions that offer Spot container groups (normalised names, e.g. `westeurope`).
    pub fn spot_regions<I, S>(mut self, regions: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.config.spot_regions = regions.into_iter().map(Into::into).collect();
        self
    }

    /// Number of request bodies kept per group (default 20).
    pub fn recorded_requests(mut self, n: usize) -> Self {
        self.config.recorded_requests = n;
        self
    }

    /// Persist state to this JSON file (loaded at start when it exists).
    pub fn state_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.config.state_file = Some(path.into());
        self
    }

    /// Debounce of state file writes (default 100 ms).
    pub fn persist_debounce(mut self, delay: Duration) -> Self {
        self.config.persist_debounce = delay;
        self
    }

    /// Binds `addr` and serves the emulator until [`RunningEmulator::shutdown`]
    /// is called or the handle is dropped. Must be called inside a tokio runtime.
    pub async fn start(self, addr: SocketAddr) -> Result<RunningEmulator, EmulatorError> {
        crate::server::start(self.config, addr).await
    }
}
