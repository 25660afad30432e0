//! Counters the binary exports.

use std::sync::atomic::{AtomicU64, Ordering};

/// Counters of one node's pod reconciler.
#[derive(Debug, Default)]
pub struct ReconcilerMetrics {
    pub(crate) reconciles: AtomicU64,
    pub(crate) reconcile_errors: AtomicU64,
    pub(crate) creates: AtomicU64,
    pub(crate) deletes: AtomicU64,
    pub(crate) status_writes: AtomicU64,
    pub(crate) status_refreshes: AtomicU64,
    pub(crate) lists: AtomicU64,
    pub(crate) orphans_deleted: AtomicU64,
    pub(crate) rejected: AtomicU64,
    pub(crate) events_dropped: AtomicU64,
    pub(crate) reconcile_micros: AtomicU64,
}

/// A copy of [`ReconcilerMetrics`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReconcilerMetricsSnapshot {
    /// Reconcile runs.
    pub reconciles: u64,
    /// Reconcile runs that failed (and were retried with backoff).
    pub reconcile_errors: u64,
    /// Provider create calls.
    pub creates: u64,
    /// Provider delete calls.
    pub deletes: u64,
    /// Pod status writes.
    pub status_writes: u64,
    /// Provider status reads.
    pub status_refreshes: u64,
    /// Provider list calls.
    pub lists: u64,
    /// Orphaned instances deleted.
    pub orphans_deleted: u64,
    /// Pods refused by admission or failed for an invalid spec.
    pub rejected: u64,
    /// Normal events not published because of the event rate limit.
    pub events_dropped: u64,
    /// Time spent in reconcile runs, in microseconds (with `reconciles`, the mean latency).
    pub reconcile_micros: u64,
}

impl ReconcilerMetrics {
    /// Reads all counters.
    pub fn snapshot(&self) -> ReconcilerMetricsSnapshot {
        let l = |c: &AtomicU64| c.load(Ordering::Relaxed);
        ReconcilerMetricsSnapshot {
            reconciles: l(&self.reconciles),
            reconcile_errors: l(&self.reconcile_errors),
            creates: l(&self.creates),
            deletes: l(&self.deletes),
            status_writes: l(&self.status_writes),
            status_refreshes: l(&self.status_refreshes),
            lists: l(&self.lists),
            orphans_deleted: l(&self.orphans_deleted),
            rejected: l(&self.rejected),
            events_dropped: l(&self.events_dropped),
            reconcile_micros: l(&self.reconcile_micros),
        }
    }

    pub(crate) fn inc(c: &AtomicU64) {
        c.fetch_add(1, Ordering::Relaxed);
    }
}
