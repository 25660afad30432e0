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

/// A delay drawn from `min..=max` per image: the same image always takes the
/// same time (the image's size is what makes a pull slow), different images
/// spread over the range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DelayRange {
    /// Shortest delay.
    pub min: Duration,
    /// Longest delay.
    pub max: Duration,
}

impl DelayRange {
    /// A range from `min` to `max`.
    pub const fn new(min: Duration, max: Duration) -> Self {
        Self { min, max }
    }

    /// Always `d`.
    pub const fn fixed(d: Duration) -> Self {
        Self { min: d, max: d }
    }

    /// The delay for `key`: a stable point of the range chosen by hashing `key`.
    pub fn pick(&self, key: &str) -> Duration {
        let (lo, hi) = if self.min <= self.max {
            (self.min, self.max)
        } else {
            (self.max, self.min)
        };
        let span = hi - lo;
        if span.is_zero() {
            return lo;
        }
        // FNV-1a: stable across runs and platforms (unlike std's RandomState).
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in key.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        let millis = u64::try_from(span.as_millis()).unwrap_or(u64::MAX);
        lo + Duration::from_millis(h % millis.saturating_add(1))
    }
}

/// Every delay of the simulated runtime. The defaults are realistic: see the
/// behaviour catalogue in `docs/aci-emulator.md` ("Rates, quotas and timings")
/// for the source or the reasoning behind each number. [`Timings::zero`] is the
/// zero-delay set of [`EmulatorBuilder::fast`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timings {
    /// A new deployment (create, start of a stopped group) stays `Pending`
    /// this long before it gets a host and an IP (`Creating`). Default 30 s,
    /// an estimate: Azure publishes no figure; creating groups of cached
    /// images was measured at 35 s (MicrosoftDocs/azure-docs #31689), which
    /// 30 s + a cached pull + the start matches.
    pub provisioning: Duration,
    /// Pull time of an image in the cached-images list (default 2–5 s: the
    /// docs' events show the cached `aci-helloworld` pulled in 3 s).
    pub pull_cached: DelayRange,
    /// Pull time of any other Linux image (default 15–30 s, an estimate:
    /// start time "is directly related to" the image size
    /// (`container-instances-troubleshooting.md`); tens of seconds for
    /// common images).
    pub pull_linux: DelayRange,
    /// Pull time of any other Windows image (default 2–4 min, an estimate:
    /// Windows Server Core layers alone are several GB).
    pub pull_windows: DelayRange,
    /// Time between `Created` and `Started` of a Linux container (default
    /// 1 s; the docs' events show both in the same second).
    pub start_linux: Duration,
    /// Time between `Created` and `Started` of a Windows container (default
    /// 15 s: an estimate from Windows container start times,
    /// microsoft/Windows-Containers #478, moby/moby #29689).
    pub start_windows: Duration,
    /// Back-off before a container is restarted by its restart policy
    /// (default 500 ms; a choice, ACI documents none).
    pub restart_backoff: Duration,
    /// Time a deleted group stays `Deleting` before it is gone (default 10 s:
    /// an estimate; DELETE is asynchronous, 202).
    pub delete: Duration,
    /// Back-off after the first failed pull of an image; it doubles after
    /// every further failure up to [`Timings::pull_backoff_max`] (default
    /// 10 s: the kubelet's image back-off, whose `BackOff` events ACI shows;
    /// the troubleshooting page's three attempts within 41 s match it).
    pub pull_backoff: Duration,
    /// Longest back-off between two pulls of an image (default 5 min: the
    /// kubelet's maximum back-off).
    pub pull_backoff_max: Duration,
    /// How long after a minute starts Azure Monitor serves its `CpuUsage` /
    /// `MemoryUsage` data point (default 3 min, an estimate: platform metrics
    /// are aggregated per minute and ingested with a delay; users of the Go
    /// provider report minutes, virtual-kubelet #777). Zero: the current
    /// minute is served as it goes.
    pub metrics_latency: Duration,
}

impl Default for Timings {
    fn default() -> Self {
        let s = Duration::from_secs;
        Self {
            provisioning: s(30),
            pull_cached: DelayRange::new(s(2), s(5)),
            pull_linux: DelayRange::new(s(15), s(30)),
            pull_windows: DelayRange::new(s(120), s(240)),
            start_linux: s(1),
            start_windows: s(15),
            restart_backoff: Duration::from_millis(500),
            delete: s(10),
            pull_backoff: s(10),
            pull_backoff_max: s(300),
            metrics_latency: s(180),
        }
    }
}

impl Timings {
    /// No delay at all (the restart back-off stays 500 ms, so crashing
    /// containers do not spin; pull retries after a failed deployment wait at
    /// least the restart back-off too). The pull back-off starts at zero;
    /// its cap stays 5 min.
    pub fn zero() -> Self {
        Self {
            provisioning: Duration::ZERO,
            pull_cached: DelayRange::fixed(Duration::ZERO),
            pull_linux: DelayRange::fixed(Duration::ZERO),
            pull_windows: DelayRange::fixed(Duration::ZERO),
            start_linux: Duration::ZERO,
            start_windows: Duration::ZERO,
            restart_backoff: Duration::from_millis(500),
            delete: Duration::ZERO,
            pull_backoff: Duration::ZERO,
            // A cap, not a delay: zero back-offs stay zero below it.
            pull_backoff_max: Duration::from_secs(300),
            metrics_latency: Duration::ZERO,
        }
    }
}

/// One token bucket: `capacity` tokens; `refill_per_sec` come back every second.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenBucket {
    /// Bucket size (and the burst a client can send at once).
    pub capacity: u32,
    /// Tokens added back every second, up to the capacity.
    pub refill_per_sec: u32,
}

/// ARM's request throttling (the 2024 token-bucket model): one bucket per
/// subscription, principal and kind of request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArmThrottling {
    /// Refuse requests beyond the buckets with 429 (off in fast mode).
    pub enabled: bool,
    /// GET and HEAD requests (default 250 + 25/s).
    pub reads: TokenBucket,
    /// PUT, PATCH and POST requests (default 200 + 10/s).
    pub writes: TokenBucket,
    /// DELETE requests (default 200 + 10/s).
    pub deletes: TokenBucket,
}

impl Default for ArmThrottling {
    fn default() -> Self {
        Self {
            enabled: true,
            reads: TokenBucket {
                capacity: 250,
                refill_per_sec: 25,
            },
            writes: TokenBucket {
                capacity: 200,
                refill_per_sec: 10,
            },
            deletes: TokenBucket {
                capacity: 200,
                refill_per_sec: 10,
            },
        }
    }
}

/// At most `limit` actions in any window of `window` (a sliding window).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowLimit {
    /// Actions allowed per window.
    pub limit: u32,
    /// Window length.
    pub window: Duration,
}

impl WindowLimit {
    /// `limit` actions per `window`.
    pub const fn new(limit: u32, window: Duration) -> Self {
        Self { limit, window }
    }
}

/// ACI's create and delete rate quotas, per subscription and region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateQuotas {
    /// Refuse creates and deletes beyond the limits with 429 (off in fast mode).
    pub enabled: bool,
    /// Limits on container group creates (a PUT creating a new group);
    /// default 100 per 5 minutes and 300 per hour.
    pub creates: Vec<WindowLimit>,
    /// Limits on container group deletes (a DELETE of an existing group);
    /// default 100 per 5 minutes and 300 per hour.
    pub deletes: Vec<WindowLimit>,
}

impl Default for RateQuotas {
    fn default() -> Self {
        let aci = vec![
            WindowLimit::new(100, Duration::from_secs(300)),
            WindowLimit::new(300, Duration::from_secs(3600)),
        ];
        Self {
            enabled: true,
            creates: aci.clone(),
            deletes: aci,
        }
    }
}

/// One entry of the cached-images list (`GET .../cachedImages`); images in
/// it pull in [`Timings::pull_cached`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CachedImage {
    /// `Linux` or `Windows`.
    pub os_type: String,
    /// Image reference, e.g. `alpine:3.20`.
    pub image: String,
}

impl CachedImage {
    /// A cached image of `os_type`.
    pub fn new(os_type: impl Into<String>, image: impl Into<String>) -> Self {
        Self {
            os_type: os_type.into(),
            image: image.into(),
        }
    }
}

fn default_cached_images() -> Vec<CachedImage> {
    vec![
        CachedImage::new("Linux", "mcr.microsoft.com/azuredocs/aci-helloworld:latest"),
        CachedImage::new("Linux", "ubuntu:22.04"),
        CachedImage::new("Linux", "alpine:3.20"),
        CachedImage::new("Windows", "mcr.microsoft.com/windows/servercore:ltsc2022"),
    ]
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
    /// Delays of the simulated runtime (realistic by default).
    pub timings: Timings,
    /// Divides every delay, throttling window and refill period (e.g. 10:
    /// ten times faster); a non-zero duration never becomes zero. Default 1.
    pub time_scale: f64,
    /// ARM request throttling.
    pub arm_throttling: ArmThrottling,
    /// ACI create/delete rate quotas.
    pub rate_quotas: RateQuotas,
    /// The cached-images list; these images pull fast.
    pub cached_images: Vec<CachedImage>,
    /// LRO behaviour.
    pub lro: LroConfig,
    /// Page size of list operations.
    pub page_size: usize,
    /// Image substrings that make an image unpullable (`InaccessibleImage`).
    pub unpullable_images: Vec<String>,
    /// Failed pull attempts of an image before its deployment fails
    /// (default 3: the `count` of the `Pulling`, `Failed` and `BackOff`
    /// events on the troubleshooting page). Pulls go on after that.
    pub pull_attempts: u32,
    /// For this long after a PUT creates a group, GETs of it answer 404
    /// `ResourceNotFound` and lists omit it (ARM's eventual consistency).
    /// Zero (the default) turns it off; see
    /// [`crate::AdminHandle::transient_not_found_after_put`].
    pub transient_not_found_after_put: Duration,
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

impl EmulatorConfig {
    /// `d` divided by the time scale; a non-zero duration stays at least 1 ms.
    pub(crate) fn scaled(&self, d: Duration) -> Duration {
        if d.is_zero() || self.time_scale == 1.0 {
            return d;
        }
        let secs = d.as_secs_f64() / self.time_scale;
        Duration::try_from_secs_f64(secs)
            .unwrap_or(Duration::MAX)
            .max(Duration::from_millis(1))
    }

    /// Checks values the builder cannot refuse on the spot.
    pub(crate) fn validate(&self) -> Result<(), EmulatorError> {
        if !(self.time_scale.is_finite() && self.time_scale > 0.0) {
            return Err(EmulatorError::Config(format!(
                "time_scale must be a positive number, not {}",
                self.time_scale
            )));
        }
        let windows = self
            .rate_quotas
            .creates
            .iter()
            .chain(&self.rate_quotas.deletes);
        if let Some(w) = windows.into_iter().find(|w| w.window.is_zero()) {
            return Err(EmulatorError::Config(format!(
                "a rate quota window must not be empty ({} per 0 s)",
                w.limit
            )));
        }
        Ok(())
    }
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
            timings: Timings::default(),
            time_scale: 1.0,
            arm_throttling: ArmThrottling::default(),
            rate_quotas: RateQuotas::default(),
            cached_images: default_cached_images(),
            lro: LroConfig::default(),
            page_size: 100,
            unpullable_images: vec!["unpullable".to_owned()],
            pull_attempts: 3,
            transient_not_found_after_put: Duration::ZERO,
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

    /// Fast mode, for unit-speed tests: no delay at all (the restart back-off
    /// stays 500 ms), no ARM throttling, no create/delete rate quotas.
    /// Deliberately **more lenient than real ACI**; options set after it
    /// apply on top (`.fast().pull_delay(d)` pulls in `d`).
    pub fn fast(mut self) -> Self {
        self.config.timings = Timings::zero();
        self.config.arm_throttling.enabled = false;
        self.config.rate_quotas.enabled = false;
        self
    }

    /// Every runtime delay at once (default [`Timings::default`]).
    pub fn timings(mut self, timings: Timings) -> Self {
        self.config.timings = timings;
        self
    }

    /// Divide every delay, throttling window and refill period by `factor`
    /// (default 1; must be positive). A non-zero duration never becomes zero.
    pub fn time_scale(mut self, factor: f64) -> Self {
        self.config.time_scale = factor;
        self
    }

    /// How long after a minute starts its usage data point is served by the
    /// metrics API (default 3 min; zero in fast mode).
    pub fn metrics_latency(mut self, latency: Duration) -> Self {
        self.config.timings.metrics_latency = latency;
        self
    }

    /// Time a new deployment stays `Pending` (default 30 s).
    pub fn provisioning_delay(mut self, delay: Duration) -> Self {
        self.config.timings.provisioning = delay;
        self
    }

    /// Image pull time of every image, cached or not, Linux or Windows
    /// (default: by image, see [`Timings`]).
    pub fn pull_delay(mut self, delay: Duration) -> Self {
        let d = DelayRange::fixed(delay);
        self.config.timings.pull_cached = d;
        self.config.timings.pull_linux = d;
        self.config.timings.pull_windows = d;
        self
    }

    /// Container start time on every OS (default 1 s Linux, 15 s Windows).
    pub fn start_delay(mut self, delay: Duration) -> Self {
        self.config.timings.start_linux = delay;
        self.config.timings.start_windows = delay;
        self
    }

    /// Back-off before restarting an exited container (default 500 ms).
    pub fn restart_backoff(mut self, delay: Duration) -> Self {
        self.config.timings.restart_backoff = delay;
        self
    }

    /// Time a deleted group stays `Deleting` (default 10 s; zero: gone at once).
    pub fn delete_delay(mut self, delay: Duration) -> Self {
        self.config.timings.delete = delay;
        self
    }

    /// Failed pulls of an image before its deployment fails (default 3,
    /// minimum 1); pulls go on after that.
    pub fn pull_attempts(mut self, attempts: u32) -> Self {
        self.config.pull_attempts = attempts.max(1);
        self
    }

    /// Back-off after the first failed pull, doubling up to
    /// [`EmulatorBuilder::pull_backoff_max`] (default 10 s).
    pub fn pull_backoff(mut self, delay: Duration) -> Self {
        self.config.timings.pull_backoff = delay;
        self
    }

    /// Longest back-off between two pulls of an image (default 5 min).
    pub fn pull_backoff_max(mut self, delay: Duration) -> Self {
        self.config.timings.pull_backoff_max = delay;
        self
    }

    /// For `duration` after a PUT creates a group, GETs of it answer 404
    /// `ResourceNotFound` and lists omit it, as ARM's eventually consistent
    /// reads sometimes do (default zero: off). Not scaled by the time scale.
    pub fn transient_not_found_after_put(mut self, duration: Duration) -> Self {
        self.config.transient_not_found_after_put = duration;
        self
    }

    /// ARM request throttling (default on, 250 + 25/s reads, 200 + 10/s
    /// writes and deletes).
    pub fn arm_throttling(mut self, throttling: ArmThrottling) -> Self {
        self.config.arm_throttling = throttling;
        self
    }

    /// ACI create/delete rate quotas (default on, 100 per 5 minutes and 300
    /// per hour each).
    pub fn rate_quotas(mut self, quotas: RateQuotas) -> Self {
        self.config.rate_quotas = quotas;
        self
    }

    /// Limits on container group creates; turns the rate quotas on.
    pub fn create_limits(mut self, limits: impl IntoIterator<Item = WindowLimit>) -> Self {
        self.config.rate_quotas.creates = limits.into_iter().collect();
        self.config.rate_quotas.enabled = true;
        self
    }

    /// Limits on container group deletes; turns the rate quotas on.
    pub fn delete_limits(mut self, limits: impl IntoIterator<Item = WindowLimit>) -> Self {
        self.config.rate_quotas.deletes = limits.into_iter().collect();
        self.config.rate_quotas.enabled = true;
        self
    }

    /// The cached-images list (default: four common images).
    pub fn cached_images(mut self, images: impl IntoIterator<Item = CachedImage>) -> Self {
        self.config.cached_images = images.into_iter().collect();
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
