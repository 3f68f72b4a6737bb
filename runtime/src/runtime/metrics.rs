//! [`RuntimeMetrics`]: what the runtime did, per worker.

use std::fmt;
use std::time::{Duration, Instant};

use crate::scheduler::{self, metrics::WorkerStats};

/// A view of a runtime's statistics. Its `Display` is a per-worker table that answers
/// "did my tasks use every core?".
///
/// ```
/// let rt = corio::runtime::Builder::new_multi_thread().worker_threads(2).build().unwrap();
/// rt.block_on(async {
///     let tasks: Vec<_> = (0..100).map(|i| corio::spawn(async move { i })).collect();
///     for t in tasks {
///         t.await.unwrap();
///     }
/// });
/// let m = rt.metrics();
/// assert_eq!(m.num_workers(), 2);
/// println!("{m}");
/// ```
#[derive(Clone)]
pub struct RuntimeMetrics {
    handle: scheduler::Handle,
    taken: Instant,
}

impl RuntimeMetrics {
    pub(crate) fn new(handle: scheduler::Handle) -> Self {
        RuntimeMetrics {
            handle,
            taken: Instant::now(),
        }
    }

    /// The number of worker threads (1 for a current-thread runtime).
    pub fn num_workers(&self) -> usize {
        self.handle.num_workers()
    }

    /// The number of tasks alive (spawned and not yet complete).
    ///
    /// A task's `JoinHandle` learns that it finished just before the worker that ran it
    /// lets go of it, so on a multi-thread runtime a count read right after awaiting the
    /// handle may still include the task for a moment (as in Tokio): wait for the count to
    /// fall, rather than assert it at once.
    pub fn num_alive_tasks(&self) -> usize {
        self.handle.num_alive_tasks()
    }

    /// The number of tasks spawned since the runtime started.
    pub fn spawned_tasks_count(&self) -> u64 {
        self.handle.spawned_tasks_count()
    }

    /// Tasks waiting in the shared (injection) queue.
    pub fn global_queue_depth(&self) -> usize {
        self.handle.injector_depth()
    }

    fn stats(&self, worker: usize) -> WorkerStats {
        assert!(
            worker < self.num_workers(),
            "worker index {worker} out of range: this runtime has {} workers",
            self.num_workers()
        );
        self.handle.worker_stats(worker)
    }

    /// Tasks polled by worker `i`.
    pub fn worker_poll_count(&self, i: usize) -> u64 {
        self.stats(i).polls
    }

    /// Tasks worker `i` stole from other workers.
    pub fn worker_steal_count(&self, i: usize) -> u64 {
        self.stats(i).steals
    }

    /// Times worker `i` parked for lack of work.
    pub fn worker_park_count(&self, i: usize) -> u64 {
        self.stats(i).parks
    }

    /// Time worker `i` spent running tasks (not parked).
    pub fn worker_busy_duration(&self, i: usize) -> Duration {
        self.stats(i).busy
    }

    /// Tasks waiting in worker `i`'s local queue (as of its last batch).
    pub fn worker_local_queue_depth(&self, i: usize) -> usize {
        self.stats(i).queue_depth
    }

    /// Threads in the blocking pool.
    pub fn num_blocking_threads(&self) -> usize {
        self.handle.blocking().num_threads()
    }

    /// Blocking tasks waiting for a thread.
    pub fn blocking_queue_depth(&self) -> usize {
        self.handle.blocking().queue_depth()
    }
}

impl fmt::Display for RuntimeMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let uptime = self
            .taken
            .saturating_duration_since(self.handle.started())
            .max(Duration::from_nanos(1));
        writeln!(
            f,
            "{:<10} {:>12} {:>10} {:>10} {:>8}",
            "", "polls", "steals", "parks", "busy %"
        )?;
        let mut total = 0;
        for i in 0..self.num_workers() {
            let s = self.stats(i);
            total += s.polls;
            let busy = 100.0 * s.busy.as_secs_f64() / uptime.as_secs_f64();
            writeln!(
                f,
                "{:<10} {:>12} {:>10} {:>10} {:>7.1}%",
                format!("worker {i}"),
                s.polls,
                s.steals,
                s.parks,
                busy.min(100.0)
            )?;
        }
        write!(
            f,
            "{} workers, {} polls, {} tasks spawned, {} alive, uptime {:.3} s",
            self.num_workers(),
            total,
            self.spawned_tasks_count(),
            self.num_alive_tasks(),
            uptime.as_secs_f64()
        )
    }
}

impl fmt::Debug for RuntimeMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RuntimeMetrics")
            .field("num_workers", &self.num_workers())
            .field("num_alive_tasks", &self.num_alive_tasks())
            .finish_non_exhaustive()
    }
}
