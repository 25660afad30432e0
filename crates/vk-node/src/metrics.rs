//! Counters the binary exports to Prometheus.

use std::sync::atomic::{AtomicU64, Ordering};

/// Counters of one virtual node's lifecycle work.
#[derive(Debug, Default)]
pub struct NodeMetrics {
    pub(crate) lease_renewals: AtomicU64,
    pub(crate) lease_failures: AtomicU64,
    pub(crate) lease_creations: AtomicU64,
    pub(crate) status_writes: AtomicU64,
    pub(crate) registrations: AtomicU64,
}

/// A point-in-time copy of [`NodeMetrics`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NodeMetricsSnapshot {
    /// Successful lease renewals.
    pub lease_renewals: u64,
    /// Failed lease renewal attempts.
    pub lease_failures: u64,
    /// Lease creations (first start or after deletion).
    pub lease_creations: u64,
    /// Node status writes.
    pub status_writes: u64,
    /// Node registrations (first start or after deletion).
    pub registrations: u64,
}

impl NodeMetrics {
    /// Reads all counters.
    pub fn snapshot(&self) -> NodeMetricsSnapshot {
        NodeMetricsSnapshot {
            lease_renewals: self.lease_renewals.load(Ordering::Relaxed),
            lease_failures: self.lease_failures.load(Ordering::Relaxed),
            lease_creations: self.lease_creations.load(Ordering::Relaxed),
            status_writes: self.status_writes.load(Ordering::Relaxed),
            registrations: self.registrations.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn inc(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}
