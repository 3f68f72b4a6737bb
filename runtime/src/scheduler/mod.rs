//! Schedulers: where a task's `Notified` goes (step 2 of its life) and who pops it (step 3),
//! and how idle threads park.
//!
//! Two flavours share the task core, the driver and the blocking pool:
//! [`current_thread`] runs everything on the thread that calls `block_on`;
//! `multi_thread` runs one worker per core with work stealing.

use std::future::Future;
use std::sync::Arc as StdArc;
use std::time::Duration;

use crate::driver;
use crate::task::{Id, JoinHandle};

pub(crate) mod current_thread;
// Under loom the runtime uses the injector's stand-in; the real one runs in its own models.
#[cfg_attr(loom, allow(dead_code))]
pub(crate) mod inject;
pub(crate) mod metrics;
pub(crate) mod multi_thread;

/// A user callback run on runtime threads.
pub(crate) type Callback = StdArc<dyn Fn() + Send + Sync>;

/// Settings from the `Builder`, shared by both flavours.
#[derive(Clone)]
pub(crate) struct Config {
    pub(crate) worker_threads: usize,
    pub(crate) thread_name: String,
    pub(crate) thread_stack_size: Option<usize>,
    pub(crate) max_blocking_threads: usize,
    pub(crate) thread_keep_alive: Duration,
    pub(crate) on_thread_start: Option<Callback>,
    pub(crate) on_thread_stop: Option<Callback>,
    pub(crate) global_queue_interval: u32,
    pub(crate) event_interval: u32,
    pub(crate) start_paused: bool,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("worker_threads", &self.worker_threads)
            .field("thread_name", &self.thread_name)
            .field("global_queue_interval", &self.global_queue_interval)
            .field("event_interval", &self.event_interval)
            .finish_non_exhaustive()
    }
}

/// The scheduler behind a `runtime::Handle`.
#[derive(Debug, Clone)]
pub(crate) enum Handle {
    CurrentThread(crate::loom::sync::Arc<current_thread::Handle>),
    MultiThread(crate::loom::sync::Arc<multi_thread::Handle>),
}

impl Handle {
    pub(crate) fn spawn<F>(&self, future: F, id: Id) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        match self {
            Handle::CurrentThread(h) => current_thread::Handle::spawn(h, future, id),
            Handle::MultiThread(h) => multi_thread::Handle::spawn(h, future, id),
        }
    }

    /// On a current-thread runtime (whose time may be paused) the closure holds back
    /// paused time's auto-advance while it exists, as in Tokio: otherwise an idle runtime
    /// would jump time (firing `timeout`s around the blocking work) while the work still runs.
    pub(crate) fn spawn_blocking<F, R>(&self, f: F) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        match self {
            Handle::CurrentThread(_) => {
                let guard = InhibitAutoAdvance::new(self.clone());
                self.blocking().spawn_blocking(self, f, Some(guard))
            }
            Handle::MultiThread(_) => self.blocking().spawn_blocking(self, f, None),
        }
    }

    pub(crate) fn blocking(&self) -> &crate::blocking::Spawner {
        match self {
            Handle::CurrentThread(h) => &h.blocking,
            Handle::MultiThread(h) => &h.blocking,
        }
    }

    pub(crate) fn driver(&self) -> &driver::Handle {
        match self {
            Handle::CurrentThread(h) => &h.driver,
            Handle::MultiThread(h) => &h.driver,
        }
    }

    pub(crate) fn num_workers(&self) -> usize {
        match self {
            Handle::CurrentThread(_) => 1,
            Handle::MultiThread(h) => h.num_workers(),
        }
    }

    pub(crate) fn num_alive_tasks(&self) -> usize {
        match self {
            Handle::CurrentThread(h) => h.num_alive_tasks(),
            Handle::MultiThread(h) => h.num_alive_tasks(),
        }
    }

    pub(crate) fn spawned_tasks_count(&self) -> u64 {
        match self {
            Handle::CurrentThread(h) => h.spawned.load(std::sync::atomic::Ordering::Relaxed),
            Handle::MultiThread(h) => h.spawned.load(std::sync::atomic::Ordering::Relaxed),
        }
    }

    pub(crate) fn injector_depth(&self) -> usize {
        match self {
            Handle::CurrentThread(h) => h.injector_depth(),
            Handle::MultiThread(h) => h.injector_depth(),
        }
    }

    pub(crate) fn worker_stats(&self, worker: usize) -> metrics::WorkerStats {
        match self {
            Handle::CurrentThread(h) => {
                debug_assert_eq!(worker, 0);
                h.metrics.stats()
            }
            Handle::MultiThread(h) => h.worker_stats(worker),
        }
    }

    pub(crate) fn started(&self) -> std::time::Instant {
        match self {
            Handle::CurrentThread(h) => h.started,
            Handle::MultiThread(h) => h.started,
        }
    }
}

/// What a thread that drives a scheduler installs in its thread-local context, so that
/// spawns and wakes on that thread can reach its local queue.
#[derive(Debug)]
pub(crate) enum Context {
    CurrentThread(current_thread::Context),
    MultiThread(multi_thread::Context),
}

/// Held by a blocking task from its spawn until it completed and its `JoinHandle` was told
/// (or it was cancelled unrun): see [`Handle::spawn_blocking`] and
/// `blocking::pool::BlockingSchedule`.
#[derive(Debug)]
pub(crate) struct InhibitAutoAdvance(Handle);

impl InhibitAutoAdvance {
    fn new(handle: Handle) -> InhibitAutoAdvance {
        handle.driver().time.inhibit_auto_advance();
        InhibitAutoAdvance(handle)
    }
}

impl Drop for InhibitAutoAdvance {
    fn drop(&mut self) {
        let driver = self.0.driver();
        driver.time.allow_auto_advance();
        // An idle paused runtime waits in the driver for exactly this: let it jump now.
        driver.unpark();
    }
}
