//! Per-worker statistics, written by the worker and read by `RuntimeMetrics`.

use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use crate::loom::MetricU64;

/// One worker's counters. The worker accumulates in plain locals and publishes them here
/// at batch boundaries (before parking), so the hot loop does no shared writes.
#[derive(Debug, Default)]
pub(crate) struct WorkerMetrics {
    polls: MetricU64,
    steals: MetricU64,
    parks: MetricU64,
    busy_ns: MetricU64,
    queue_depth: MetricU64,
}

/// Snapshot of one worker's counters.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct WorkerStats {
    pub(crate) polls: u64,
    pub(crate) steals: u64,
    pub(crate) parks: u64,
    pub(crate) busy: Duration,
    pub(crate) queue_depth: usize,
}

impl WorkerMetrics {
    pub(crate) fn add_polls(&self, n: u64) {
        self.polls.fetch_add(n, Relaxed);
    }
    pub(crate) fn add_steals(&self, n: u64) {
        self.steals.fetch_add(n, Relaxed);
    }
    pub(crate) fn inc_parks(&self) {
        self.parks.fetch_add(1, Relaxed);
    }
    pub(crate) fn add_busy(&self, d: Duration) {
        self.busy_ns.fetch_add(d.as_nanos() as u64, Relaxed);
    }
    pub(crate) fn set_queue_depth(&self, n: usize) {
        self.queue_depth.store(n as u64, Relaxed);
    }
    pub(crate) fn stats(&self) -> WorkerStats {
        WorkerStats {
            polls: self.polls.load(Relaxed),
            steals: self.steals.load(Relaxed),
            parks: self.parks.load(Relaxed),
            busy: Duration::from_nanos(self.busy_ns.load(Relaxed)),
            queue_depth: self.queue_depth.load(Relaxed) as usize,
        }
    }
}
