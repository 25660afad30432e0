//! An emulator of the Azure Container Instances ARM REST API, for tests, demos
//! and benchmarks: token endpoints, container group operations, long-running
//! operations, validation, a simulated container runtime and fault injection.
//!
//! The emulator works on plain JSON (it shares no model types with any client),
//! validates requests like ACI does and answers with ARM-shaped bodies, headers
//! and error codes. Containers run a tiny command language (`sleep`, `echo`,
//! `exit`, `true`, `false`, `;`, `&&`, `||`, wrapped in `sh -c`, `cmd /c` or
//! `powershell -Command`); anything else runs until stopped or deleted.
//!
//! At its defaults the emulator is as slow and as strict as ACI: image pulls
//! take seconds to minutes by image, ARM throttles requests with token buckets,
//! creates and deletes have their rate quotas (`docs/aci-emulator.md`,
//! "Rates, quotas and timings"). Ordinary tests use
//! [`EmulatorBuilder::fast`]: no delays, no throttling — deliberately more
//! lenient than ACI. [`EmulatorBuilder::time_scale`] runs realistic scenarios
//! faster.
//!
//! ```no_run
//! use std::time::Duration;
//! use vk_aci_emulator::{Emulator, FaultRule};
//!
//! # async fn demo() -> Result<(), vk_aci_emulator::EmulatorError> {
//! let emu = Emulator::builder()
//!     .fast()
//!     .pull_delay(Duration::from_millis(50))
//!     .page_size(10)
//!     .start(std::net::SocketAddr::from(([127, 0, 0, 1], 0)))
//!     .await?;
//! // Point the client's ARM endpoint and authority host at emu.base_url().
//! println!("ARM at {}", emu.base_url());
//! // Throttle the next create.
//! emu.admin()
//!     .inject_fault(FaultRule::new("create").with_status(429).with_retry_after(2).times(1));
//! // ... run the client ...
//! assert_eq!(emu.admin().count_status("create", 429), 1);
//! emu.shutdown().await?;
//! # Ok(())
//! # }
//! ```
//!
//! Besides request faults, the admin handle injects what ACI's platform does
//! on its own: image pulls that fail at run time and are retried
//! ([`AdminHandle::fail_image_pulls`], [`AdminHandle::mark_image_pullable`]),
//! maintenance restarts ([`AdminHandle::platform_restart`]), repairs
//! ([`AdminHandle::repair`]), Spot evictions ([`AdminHandle::spot_evict`])
//! and ARM's eventually consistent reads
//! ([`AdminHandle::transient_not_found_after_put`]).
//!
//! Operation names used by counters and fault rules: `token`, `create` (PUT),
//! `get`, `update` (PATCH), `delete`, `list`, `start`, `stop`, `restart`,
//! `logs`, `exec`, `attach`, `usages`, `capabilities`, `cached_images`,
//! `operations`, `operation_status` (both LRO polling URLs),
//! `outbound_dependencies`, `service_association_link`, `unknown`; rules may
//! use `any`. See `docs/aci-emulator.md` for the admin API and what is modelled.

mod admin;
mod apierror;
mod arm;
mod auth;
mod cmdlang;
mod config;
mod error;
mod exec;
mod faults;
mod fs;
mod metrics;
mod persist;
mod render;
mod route;
mod runtime;
mod server;
mod shell;
pub mod spec;
mod state;
mod throttle;
mod tty;
mod validate;

pub use admin::{AdminHandle, ContainerSummary, GroupSummary};
pub use config::{
    ArmThrottling, CachedImage, DelayRange, EmulatorBuilder, EmulatorConfig, GroupLimits,
    GroupMaxima, LroConfig, Quota, RateQuotas, Timings, TokenBucket, WindowLimit,
};
pub use error::EmulatorError;
pub use faults::{FaultRule, ProvisioningFailure};
pub use metrics::IDLE_MEMORY_BYTES;
pub use server::RunningEmulator;
pub use state::RecordedRequest;
pub use throttle::{ActionState, BucketState, ThrottleState, ThrottledCounts, WindowState};

/// Entry point: `Emulator::builder()...start(addr)`.
#[derive(Debug, Clone, Copy)]
pub struct Emulator;

impl Emulator {
    /// A builder with the default configuration.
    pub fn builder() -> EmulatorBuilder {
        EmulatorBuilder::default()
    }
}
