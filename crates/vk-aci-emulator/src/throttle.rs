//! Rate limits: ARM's request throttling (token buckets per subscription,
//! principal and kind of request) and ACI's create/delete rate quotas
//! (sliding windows per subscription and region). Sources and the exact
//! answers are in the behaviour catalogue of `docs/aci-emulator.md`.
//!
//! Time is tokio time (a paused test clock drives refills and windows) divided
//! by the configured time scale.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use http::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::apierror::ApiError;
use crate::config::{EmulatorConfig, TokenBucket, WindowLimit};

/// The kind of an ARM request: which bucket it draws from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum ArmKind {
    Read,
    Write,
    Delete,
}

impl ArmKind {
    /// GET and HEAD read, DELETE deletes, everything else writes.
    pub(crate) fn of(method: &Method) -> Self {
        match *method {
            Method::GET | Method::HEAD => Self::Read,
            Method::DELETE => Self::Delete,
            _ => Self::Write,
        }
    }

    fn word(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
            Self::Delete => "delete",
        }
    }

    /// `reads`, `writes`, `deletes`: the suffix of the remaining-requests header.
    pub(crate) fn plural(self) -> &'static str {
        match self {
            Self::Read => "reads",
            Self::Write => "writes",
            Self::Delete => "deletes",
        }
    }

    fn bucket(self, cfg: &EmulatorConfig) -> TokenBucket {
        let t = &cfg.arm_throttling;
        match self {
            Self::Read => t.reads,
            Self::Write => t.writes,
            Self::Delete => t.deletes,
        }
    }
}

/// An ACI action limited by the create/delete rate quotas.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Action {
    /// A PUT creating a new container group.
    Create,
    /// A DELETE of an existing container group.
    Delete,
}

impl Action {
    fn name(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Delete => "delete",
        }
    }

    /// The RBAC action name ACI's throttling messages would name.
    fn rbac(self) -> &'static str {
        match self {
            Self::Create => "Microsoft.ContainerInstance/containerGroups/write",
            Self::Delete => "Microsoft.ContainerInstance/containerGroups/delete",
        }
    }

    fn limits(self, cfg: &EmulatorConfig) -> &[WindowLimit] {
        match self {
            Self::Create => &cfg.rate_quotas.creates,
            Self::Delete => &cfg.rate_quotas.deletes,
        }
    }
}

/// Where an ARM request is throttled: its subscription, or the tenant for
/// requests without one.
pub(crate) const TENANT_SCOPE: &str = "tenant";

#[derive(Debug)]
struct Bucket {
    tokens: u32,
    /// Start of the current refill period.
    since: Instant,
}

type BucketKey = (String, String, ArmKind);
type ActionKey = (Action, String, String);

#[derive(Debug, Default)]
struct Inner {
    buckets: BTreeMap<BucketKey, Bucket>,
    actions: BTreeMap<ActionKey, VecDeque<Instant>>,
    throttled: ThrottledCounts,
}

/// Throttling state of one emulator.
#[derive(Debug, Default)]
pub(crate) struct Throttle {
    inner: Mutex<Inner>,
}

/// Whole seconds to wait for `d`, at least one (the `Retry-After` header).
fn retry_secs(d: Duration) -> u64 {
    let s = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    s.max(1)
}

/// Brings a bucket up to date: `refill` tokens per elapsed `period`.
fn refill(b: &mut Bucket, cfg: TokenBucket, period: Duration, now: Instant) {
    let elapsed = now.saturating_duration_since(b.since);
    let periods = elapsed.as_nanos() / period.as_nanos().max(1);
    if periods > 0 {
        let added = u128::from(cfg.refill_per_sec).saturating_mul(periods);
        let tokens = u128::from(b.tokens).saturating_add(added);
        b.tokens = u32::try_from(tokens.min(u128::from(cfg.capacity))).unwrap_or(cfg.capacity);
        let step = u32::try_from(periods).unwrap_or(u32::MAX);
        b.since = b.since.checked_add(period * step).unwrap_or(now);
    }
    if b.tokens >= cfg.capacity {
        // A full bucket has no refill phase: the next token comes back one
        // period after it is taken.
        b.since = now;
    }
}

/// A .NET `TimeSpan` in its constant format (`00:05:00`, `01:00:00`,
/// `00:00:00.5000000`), as ARM messages print intervals.
fn timespan(d: Duration) -> String {
    let secs = d.as_secs();
    let (days, h, m, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    let mut out = if days > 0 {
        format!("{days}.{h:02}:{m:02}:{s:02}")
    } else {
        format!("{h:02}:{m:02}:{s:02}")
    };
    let ticks = d.subsec_nanos() / 100;
    if ticks > 0 {
        out.push_str(&format!(".{ticks:07}"));
    }
    out
}

impl Throttle {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Takes a token for an ARM request: `Ok(remaining)` (the value of the
    /// `x-ms-ratelimit-remaining-*` header), or the 429 to answer. With
    /// throttling off, always `Ok(capacity)`.
    pub(crate) fn arm(
        &self,
        cfg: &EmulatorConfig,
        scope: &str,
        principal: &str,
        kind: ArmKind,
    ) -> Result<u32, ApiError> {
        let bucket = kind.bucket(cfg);
        if !cfg.arm_throttling.enabled {
            return Ok(bucket.capacity);
        }
        let period = cfg.scaled(Duration::from_secs(1));
        let now = Instant::now();
        let mut inner = self.lock();
        let b = inner
            .buckets
            .entry((scope.to_owned(), principal.to_owned(), kind))
            .or_insert(Bucket {
                tokens: bucket.capacity,
                since: now,
            });
        refill(b, bucket, period, now);
        if b.tokens > 0 {
            b.tokens -= 1;
            return Ok(b.tokens);
        }
        let wait = if bucket.refill_per_sec == 0 {
            // Never refilled: tell the client to come back in an hour.
            Duration::from_secs(3600)
        } else {
            period.saturating_sub(now.saturating_duration_since(b.since))
        };
        let secs = retry_secs(wait);
        let c = &mut inner.throttled;
        match kind {
            ArmKind::Read => c.arm_reads += 1,
            ArmKind::Write => c.arm_writes += 1,
            ArmKind::Delete => c.arm_deletes += 1,
        }
        let whom = if scope == TENANT_SCOPE {
            "tenant".to_owned()
        } else {
            format!("subscription '{scope}'")
        };
        let mut e = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "SubscriptionRequestsThrottled",
            format!(
                "Number of '{}' requests for {whom} actor '{principal}' exceeded. Please try again after '{secs}' seconds after additional tokens are available. Refer to https://aka.ms/arm-throttling for additional information.",
                kind.word()
            ),
        );
        e.retry_after = Some(secs);
        Err(e)
    }

    /// Checks that one more `action` fits every window of its rate quota in
    /// (`sub`, `region`), without counting it; the 429 to answer otherwise.
    pub(crate) fn check_action(
        &self,
        cfg: &EmulatorConfig,
        action: Action,
        sub: &str,
        region: &str,
    ) -> Result<(), ApiError> {
        if !cfg.rate_quotas.enabled {
            return Ok(());
        }
        let now = Instant::now();
        let mut inner = self.lock();
        let key = (action, sub.to_ascii_lowercase(), region.to_owned());
        let empty = VecDeque::new();
        let times = inner.actions.get(&key).unwrap_or(&empty);
        // The binding window: the one that frees up last.
        let mut refusal: Option<(Duration, WindowLimit, Duration)> = None;
        for limit in action.limits(cfg) {
            let window = cfg.scaled(limit.window);
            let inside: Vec<Instant> = times
                .iter()
                .copied()
                .filter(|t| now.saturating_duration_since(*t) < window)
                .collect();
            let count = u32::try_from(inside.len()).unwrap_or(u32::MAX);
            if count < limit.limit {
                continue;
            }
            let wait = usize::try_from(count - limit.limit)
                .ok()
                .and_then(|i| inside.get(i))
                .map_or(window, |oldest| {
                    (*oldest + window).saturating_duration_since(now)
                });
            if refusal.is_none_or(|(w, _, _)| wait > w) {
                refusal = Some((wait, *limit, window));
            }
        }
        let Some((wait, limit, window)) = refusal else {
            return Ok(());
        };
        match action {
            Action::Create => inner.throttled.aci_creates += 1,
            Action::Delete => inner.throttled.aci_deletes += 1,
        }
        let secs = retry_secs(wait);
        let mut e = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "ResourceRequestsThrottled",
            format!(
                "Number of requests for action '{}' exceeded the limit of '{}' for time interval '{}'. Please try again after '{secs}' seconds.",
                action.rbac(),
                limit.limit,
                timespan(window)
            ),
        );
        e.retry_after = Some(secs);
        Err(e)
    }

    /// Counts an admitted `action` in (`sub`, `region`).
    pub(crate) fn record_action(
        &self,
        cfg: &EmulatorConfig,
        action: Action,
        sub: &str,
        region: &str,
    ) {
        if !cfg.rate_quotas.enabled {
            return;
        }
        let now = Instant::now();
        let longest = action
            .limits(cfg)
            .iter()
            .map(|l| cfg.scaled(l.window))
            .max()
            .unwrap_or_default();
        let mut inner = self.lock();
        let times = inner
            .actions
            .entry((action, sub.to_ascii_lowercase(), region.to_owned()))
            .or_default();
        while times
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= longest)
        {
            times.pop_front();
        }
        times.push_back(now);
    }

    /// Refills every bucket, empties every window and zeroes the 429 counts.
    pub(crate) fn reset(&self) {
        *self.lock() = Inner::default();
    }

    /// The current state, for the admin API.
    pub(crate) fn snapshot(&self, cfg: &EmulatorConfig) -> ThrottleState {
        let now = Instant::now();
        let period = cfg.scaled(Duration::from_secs(1));
        let mut inner = self.lock();
        let mut buckets = Vec::new();
        for ((scope, principal, kind), b) in &mut inner.buckets {
            let bucket = kind.bucket(cfg);
            refill(b, bucket, period, now);
            buckets.push(BucketState {
                scope: scope.clone(),
                principal: principal.clone(),
                kind: kind.plural().to_owned(),
                remaining: b.tokens,
                capacity: bucket.capacity,
                refill_per_sec: bucket.refill_per_sec,
            });
        }
        let actions = inner
            .actions
            .iter()
            .map(|((action, sub, region), times)| ActionState {
                action: action.name().to_owned(),
                subscription: sub.clone(),
                region: region.clone(),
                windows: action
                    .limits(cfg)
                    .iter()
                    .map(|l| {
                        let window = cfg.scaled(l.window);
                        let used = times
                            .iter()
                            .filter(|t| now.saturating_duration_since(**t) < window)
                            .count();
                        WindowState {
                            limit: l.limit,
                            window_ms: u64::try_from(window.as_millis()).unwrap_or(u64::MAX),
                            used: u32::try_from(used).unwrap_or(u32::MAX),
                        }
                    })
                    .collect(),
            })
            .collect();
        ThrottleState {
            arm_throttling: cfg.arm_throttling.enabled,
            rate_quotas: cfg.rate_quotas.enabled,
            time_scale: cfg.time_scale,
            buckets,
            actions,
            throttled: inner.throttled.clone(),
        }
    }
}

/// Throttling state: `GET /_emulator/throttle`, [`crate::AdminHandle::throttle`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThrottleState {
    /// Whether ARM throttling is on.
    pub arm_throttling: bool,
    /// Whether the create/delete rate quotas are on.
    pub rate_quotas: bool,
    /// The configured time scale.
    pub time_scale: f64,
    /// Every ARM token bucket used so far.
    pub buckets: Vec<BucketState>,
    /// Every create/delete rate window used so far.
    pub actions: Vec<ActionState>,
    /// Requests refused with 429 so far.
    pub throttled: ThrottledCounts,
}

/// One ARM token bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketState {
    /// Subscription id (lower case), or `tenant`.
    pub scope: String,
    /// The principal: the token's client id.
    pub principal: String,
    /// `reads`, `writes` or `deletes`.
    pub kind: String,
    /// Tokens left now.
    pub remaining: u32,
    /// Bucket size.
    pub capacity: u32,
    /// Tokens added back per (scaled) second.
    pub refill_per_sec: u32,
}

/// The create or delete windows of one subscription and region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionState {
    /// `create` or `delete`.
    pub action: String,
    /// Subscription id (lower case).
    pub subscription: String,
    /// Normalised region.
    pub region: String,
    /// One entry per configured limit.
    pub windows: Vec<WindowState>,
}

/// Use of one sliding window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowState {
    /// Actions allowed in the window.
    pub limit: u32,
    /// Window length after the time scale, in milliseconds.
    pub window_ms: u64,
    /// Actions counted in the window now.
    pub used: u32,
}

/// Counts of requests refused with 429 by each limit.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThrottledCounts {
    /// ARM reads beyond the read bucket.
    pub arm_reads: u64,
    /// ARM writes beyond the write bucket.
    pub arm_writes: u64,
    /// ARM deletes beyond the delete bucket.
    pub arm_deletes: u64,
    /// Container group creates beyond the create rate quota.
    pub aci_creates: u64,
    /// Container group deletes beyond the delete rate quota.
    pub aci_deletes: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timespans_print_like_dotnet() {
        assert_eq!(timespan(Duration::from_secs(300)), "00:05:00");
        assert_eq!(timespan(Duration::from_secs(3600)), "01:00:00");
        assert_eq!(timespan(Duration::from_millis(2500)), "00:00:02.5000000");
        assert_eq!(timespan(Duration::from_secs(90_061)), "1.01:01:01");
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(retry_secs(Duration::ZERO), 1);
        assert_eq!(retry_secs(Duration::from_millis(100)), 1);
        assert_eq!(retry_secs(Duration::from_millis(1001)), 2);
        assert_eq!(retry_secs(Duration::from_secs(300)), 300);
    }
}
