//! Operation budgets: a backend's rate quota (e.g. ACI's 100 container group
//! creates per 5 minutes and 300 per hour), spent in pod-creation order.
//!
//! A [`Budget`] is a set of sliding windows ("at most `limit` operations in
//! any `period`"). Pods ask for a slot with [`Budget::try_take`]; while the
//! windows are full they wait in a queue ordered by their creation time, so a
//! burst larger than the quota is served oldest first and each waiting pod
//! knows how many are ahead of it. One budget is shared by every reconciler
//! that spends the same backend quota (all nodes of one subscription and
//! region), so together they never exceed it.

use std::collections::{BTreeSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

/// At most `limit` operations in any `period`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateWindow {
    /// Operations allowed per period.
    pub limit: u32,
    /// The sliding period.
    pub period: Duration,
}

impl RateWindow {
    /// A window of `limit` operations per `period`.
    pub fn new(limit: u32, period: Duration) -> Self {
        Self { limit, period }
    }
}

impl std::fmt::Display for RateWindow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let secs = self.period.as_secs();
        match secs {
            s if s >= 3600 && s % 3600 == 0 => write!(f, "{} per {} h", self.limit, s / 3600),
            s if s >= 60 && s % 60 == 0 => write!(f, "{} per {} min", self.limit, s / 60),
            s => write!(f, "{} per {s} s", self.limit),
        }
    }
}

/// Why a pod may not spend the budget yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wait {
    /// Pods queued before this one.
    pub ahead: usize,
    /// When a slot is expected for this pod (an estimate: look again then).
    pub retry_in: Duration,
}

/// A slot taken from a [`Budget`]. Give it back to [`Budget::settle`] once
/// the operation has been sent: the spend then counts from that moment, not
/// from when the slot was taken (the backend counts the operation when it
/// arrives, which may be later: a client-side rate limiter, retries).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spend {
    at: Option<Instant>,
}

/// A snapshot of a budget, for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BudgetSnapshot {
    /// Operations that may start now.
    pub available: usize,
    /// Pods waiting for a slot.
    pub queued: usize,
    /// Operations spent so far.
    pub spent: u64,
}

#[derive(Debug, Default)]
struct Inner {
    /// When each operation of the longest window was spent, oldest first.
    spent_at: VecDeque<Instant>,
    /// Waiting pods: (creation time in seconds, UID).
    queue: BTreeSet<(i64, String)>,
    spent: u64,
}

/// A shared rate budget of [`RateWindow`]s, spent with [`try_take`](Self::try_take). Unlimited
/// without windows.
#[derive(Debug, Default)]
pub struct Budget {
    windows: Vec<RateWindow>,
    inner: Mutex<Inner>,
}

impl Budget {
    /// A budget enforcing every window at once.
    pub fn new(windows: Vec<RateWindow>) -> Self {
        Self {
            windows: windows.into_iter().filter(|w| w.limit > 0).collect(),
            inner: Mutex::default(),
        }
    }

    /// A budget that never makes anyone wait.
    pub fn unlimited() -> Self {
        Self::default()
    }

    /// The windows enforced.
    pub fn windows(&self) -> &[RateWindow] {
        &self.windows
    }

    /// Whether the budget limits anything.
    pub fn is_limited(&self) -> bool {
        !self.windows.is_empty()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Drops spends older than every window.
    fn prune(&self, inner: &mut Inner, now: Instant) {
        let longest = self
            .windows
            .iter()
            .map(|w| w.period)
            .max()
            .unwrap_or_default();
        while inner
            .spent_at
            .front()
            .is_some_and(|t| now.duration_since(*t) >= longest)
        {
            inner.spent_at.pop_front();
        }
    }

    /// When `need` slots are free at once in every window (assuming no other
    /// spend meanwhile): `now` when they are free already.
    fn free_at(&self, inner: &Inner, now: Instant, need: usize) -> Instant {
        let mut at = now;
        for w in &self.windows {
            // Spends inside this window, oldest first.
            let inside: Vec<Instant> = inner
                .spent_at
                .iter()
                .copied()
                .filter(|t| now.duration_since(*t) < w.period)
                .collect();
            let limit = w.limit as usize;
            if inside.len() + need <= limit {
                continue;
            }
            // That many must leave the window first; beyond what it holds the
            // estimate is its last departure (looked at again then).
            let leave = inside.len() + need - limit;
            let t = inside
                .get(leave.min(inside.len()).saturating_sub(1))
                .map_or(now + w.period, |t| *t + w.period);
            at = at.max(t);
        }
        at
    }

    /// Takes a slot for the pod created at `created` (seconds) with `uid`, or
    /// says how long to wait and how many are ahead. A pod that waits keeps
    /// its place until it takes a slot or [`forget`](Self::forget)s it.
    pub fn try_take(&self, created: i64, uid: &str) -> Result<Spend, Wait> {
        if !self.is_limited() {
            return Ok(Spend { at: None });
        }
        let now = Instant::now();
        let mut inner = self.lock();
        self.prune(&mut inner, now);
        let entry = (created, uid.to_owned());
        inner.queue.insert(entry.clone());
        let ahead = inner.queue.range(..entry.clone()).count();
        let at = self.free_at(&inner, now, ahead + 1);
        if at <= now {
            inner.queue.remove(&entry);
            inner.spent_at.push_back(now);
            inner.spent += 1;
            return Ok(Spend { at: Some(now) });
        }
        Err(Wait {
            ahead,
            retry_in: at
                .saturating_duration_since(now)
                .max(Duration::from_millis(100)),
        })
    }

    /// Moves `spend` to now: the operation it was taken for has been sent
    /// (or has failed); it occupies the windows from this moment on.
    pub fn settle(&self, spend: Spend) {
        let Some(at) = spend.at else { return };
        let now = Instant::now();
        let mut inner = self.lock();
        // Spends are kept in time order; every one is at most `now`.
        if let Some(pos) = inner.spent_at.iter().rposition(|t| *t == at) {
            inner.spent_at.remove(pos);
            inner.spent_at.push_back(now);
        }
    }

    /// Removes a pod from the queue (it was deleted, or no longer needs a slot).
    pub fn forget(&self, created: i64, uid: &str) {
        self.lock().queue.remove(&(created, uid.to_owned()));
    }

    /// Removes every queue entry of `uid`.
    pub fn forget_uid(&self, uid: &str) {
        self.lock().queue.retain(|(_, u)| u != uid);
    }

    /// The budget's state now.
    pub fn snapshot(&self) -> BudgetSnapshot {
        let now = Instant::now();
        let mut inner = self.lock();
        self.prune(&mut inner, now);
        let available = self
            .windows
            .iter()
            .map(|w| {
                let inside = inner
                    .spent_at
                    .iter()
                    .filter(|t| now.duration_since(**t) < w.period)
                    .count();
                (w.limit as usize).saturating_sub(inside)
            })
            .min()
            .unwrap_or(0);
        BudgetSnapshot {
            available,
            queued: inner.queue.len(),
            spent: inner.spent,
        }
    }
}

/// Exports a [`Budget`] at scrape time.
#[derive(Debug)]
struct BudgetCollector(Arc<Budget>);

impl Budget {
    /// Registers the budget's metric families in `registry`, read at every scrape:
    /// `vk_aci_quota_available` (operations allowed now), `vk_aci_quota_queued`
    /// (pods waiting) and `vk_aci_quota_spent_total`. Label each budget through
    /// its registry, e.g. `registry.sub_registry_with_label(("operation", "create"))`.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use prometheus_client::registry::Registry;
    ///
    /// let creates = Arc::new(vk_pods::Budget::unlimited());
    /// let mut registry = Registry::default();
    /// creates.register_metrics(
    ///     registry.sub_registry_with_label(("operation".into(), "create".into())),
    /// );
    /// let mut text = String::new();
    /// prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
    /// assert!(text.contains("vk_aci_quota_queued{operation=\"create\"} 0"));
    /// ```
    pub fn register_metrics(
        self: &Arc<Self>,
        registry: &mut prometheus_client::registry::Registry,
    ) {
        registry.register_collector(Box::new(BudgetCollector(Arc::clone(self))));
    }
}

impl prometheus_client::collector::Collector for BudgetCollector {
    fn encode(
        &self,
        mut encoder: prometheus_client::encoding::DescriptorEncoder<'_>,
    ) -> Result<(), std::fmt::Error> {
        use prometheus_client::encoding::EncodeMetric as _;
        use prometheus_client::metrics::MetricType;
        use prometheus_client::metrics::counter::ConstCounter;
        use prometheus_client::metrics::gauge::ConstGauge;

        let s = self.0.snapshot();
        let metric = encoder.encode_descriptor(
            "vk_aci_quota_available",
            "Container group operations the ACI quota allows right now (as vk counts them).",
            None,
            MetricType::Gauge,
        )?;
        ConstGauge::new(s.available as f64).encode(metric)?;
        let metric = encoder.encode_descriptor(
            "vk_aci_quota_queued",
            "Pods waiting for the ACI quota, served in creation order.",
            None,
            MetricType::Gauge,
        )?;
        ConstGauge::new(s.queued as f64).encode(metric)?;
        let metric = encoder.encode_descriptor(
            "vk_aci_quota_spent",
            "Container group operations started within the ACI quota.",
            None,
            MetricType::Counter,
        )?;
        ConstCounter::new(s.spent as f64).encode(metric)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[tokio::test(start_paused = true)]
    async fn a_settled_spend_counts_from_when_the_operation_was_sent() {
        let b = Budget::new(vec![RateWindow::new(1, 10 * S)]);
        let spend = b.try_take(0, "a").unwrap();
        // The operation waited 4 s (a client-side limiter) before it was sent.
        tokio::time::sleep(4 * S).await;
        b.settle(spend);
        tokio::time::sleep(7 * S).await;
        // 11 s after the slot was taken, but only 7 s after the send.
        let wait = b.try_take(1, "b").unwrap_err();
        assert_eq!(wait.retry_in, 3 * S);
        tokio::time::sleep(3 * S).await;
        assert!(b.try_take(1, "b").is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn without_windows_nobody_waits() {
        let b = Budget::unlimited();
        for i in 0..1000 {
            assert!(b.try_take(i, &format!("p{i}")).is_ok());
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_oldest_waiting_pod_gets_the_next_slot() {
        let b = Budget::new(vec![RateWindow::new(2, 10 * S)]);
        b.try_take(1, "a").unwrap();
        tokio::time::advance(5 * S).await;
        b.try_take(2, "b").unwrap();
        let c = b.try_take(3, "c").unwrap_err();
        assert_eq!(
            (c.ahead, c.retry_in),
            (0, 5 * S),
            "a leaves the window at 10 s"
        );
        // An older pod arrives: it goes first, c now has one ahead.
        let z = b.try_take(0, "z").unwrap_err();
        assert_eq!(z.ahead, 0);
        let c = b.try_take(3, "c").unwrap_err();
        assert_eq!(
            (c.ahead, c.retry_in),
            (1, 10 * S),
            "c needs b's slot too (15 s)"
        );
        tokio::time::advance(5 * S).await;
        // One slot (a's) is free: c must not take it before z.
        assert_eq!(b.try_take(3, "c").unwrap_err().ahead, 1);
        b.try_take(0, "z").unwrap();
        tokio::time::advance(5 * S).await;
        b.try_take(3, "c").unwrap();
        let snap = b.snapshot();
        assert_eq!((snap.spent, snap.queued), (4, 0));
    }

    #[tokio::test(start_paused = true)]
    async fn every_window_must_have_room() {
        // ACI's shape, shrunk: 2 per 10 s and 3 per 60 s.
        let b = Budget::new(vec![RateWindow::new(2, 10 * S), RateWindow::new(3, 60 * S)]);
        b.try_take(1, "a").unwrap();
        b.try_take(2, "b").unwrap();
        assert!(b.try_take(3, "c").is_err(), "the short window is full");
        tokio::time::advance(10 * S).await;
        b.try_take(3, "c").unwrap();
        tokio::time::advance(10 * S).await;
        // The short window has room, the long one does not until a leaves it (60 s).
        let d = b.try_take(4, "d").unwrap_err();
        assert_eq!(d.retry_in, 40 * S);
        assert_eq!(b.snapshot().available, 0);
        tokio::time::advance(40 * S).await;
        b.try_take(4, "d").unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn a_forgotten_pod_leaves_the_queue() {
        let b = Budget::new(vec![RateWindow::new(1, 10 * S)]);
        b.try_take(1, "a").unwrap();
        assert!(b.try_take(2, "b").is_err());
        assert_eq!(b.try_take(3, "c").unwrap_err().ahead, 1);
        b.forget(2, "b");
        assert_eq!(b.try_take(3, "c").unwrap_err().ahead, 0);
        assert_eq!(RateWindow::new(100, 300 * S).to_string(), "100 per 5 min");
        assert_eq!(RateWindow::new(300, 3600 * S).to_string(), "300 per 1 h");
    }

    #[tokio::test(start_paused = true)]
    async fn families_are_encoded_with_the_registry_labels() {
        let b = Arc::new(Budget::new(vec![RateWindow::new(3, 10 * S)]));
        b.try_take(0, "a").expect("a slot");
        let mut registry = prometheus_client::registry::Registry::default();
        b.register_metrics(registry.sub_registry_with_label(("operation".into(), "create".into())));
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).expect("encodes");
        for line in [
            "# HELP vk_aci_quota_available Container group operations the ACI quota allows right now (as vk counts them).",
            "# TYPE vk_aci_quota_available gauge",
            "vk_aci_quota_available{operation=\"create\"} 2.0",
            "# HELP vk_aci_quota_queued Pods waiting for the ACI quota, served in creation order.",
            "# TYPE vk_aci_quota_queued gauge",
            "vk_aci_quota_queued{operation=\"create\"} 0.0",
            "# HELP vk_aci_quota_spent Container group operations started within the ACI quota.",
            "# TYPE vk_aci_quota_spent counter",
            "vk_aci_quota_spent_total{operation=\"create\"} 1.0",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
    }
}
