//! The multi-thread, work-stealing scheduler: one worker per core.
//!
//! Each worker owns a [`Core`](worker::Core): a `crossbeam_deque::Worker` run queue that
//! others may steal from. Beside it, in the shared [`Remote`], sit its stealable LIFO slot,
//! its parker and its counters. Remote spawns and wakes go to the shared injector.
//!
//! Where a `Notified` goes (DESIGN.md step 2): from a worker of this runtime, into that
//! worker's LIFO slot (the previous occupant moves to the back of its run queue); from
//! anywhere else, into the injector, then one idle worker is woken. Which task a worker
//! runs next (step 3), how idle workers search and sleep (the parking protocol) and how
//! the driver passes between workers are in `worker.rs`, `idle.rs` and `park.rs`.
//!
//! Shutdown (invariant I5):
//! 1. Set `shutdown` and unpark every worker; each leaves its loop at its next tick and
//!    drops the references in its queues (the tasks stay in the owned list).
//! 2. The runtime joins the workers (unless `shutdown_background`), then closes the owned
//!    list, which cancels every task still alive exactly once (a task still being polled
//!    by a stuck worker is cancelled by that worker when its poll returns).
//! 3. The injector is drained. A remote push that races step 1 checks `shutdown` after
//!    pushing (a SeqCst fence on both sides), so either it drains or the runtime does.

use std::fmt;
use std::future::Future;
use std::time::Instant;

use self::idle::Idle;
use self::lifo::LifoSlot;
use self::park::Parker;
use super::inject::RuntimeInject;
use super::metrics::WorkerMetrics;
use super::Config;
use crate::blocking::Spawner;
use crate::driver::{self, Driver};
use crate::loom::deque::{Steal, Stealer};
use crate::loom::sync::atomic::{fence, AtomicBool, Ordering::Relaxed, Ordering::SeqCst};
use crate::loom::sync::{Arc, Mutex};
use crate::loom::thread;
use crate::loom::{HintUsize, MetricU64};
use crate::runtime::context;
use crate::task::{Id, JoinHandle, Notified, OwnedTasks, Schedule, Task};
use crate::util::cache_padded::CachePadded;
use crate::util::try_lock::TryLock;

mod idle;
mod lifo;
mod park;
mod spin;
mod worker;

#[cfg(all(test, loom))]
mod loom_tests;

pub(crate) use self::worker::{block_in_place, Context};

/// Owned by the `Runtime`: the worker threads, to join at shutdown.
pub(crate) struct MultiThread {
    _private: (),
}

/// Shared by every thread of the runtime.
pub(crate) struct Handle {
    pub(super) shared: Shared,
    pub(crate) driver: driver::Handle,
    pub(crate) config: Config,
    pub(crate) blocking: Spawner,
    pub(crate) spawned: MetricU64,
    pub(crate) started: Instant,
}

pub(crate) struct Shared {
    remotes: Box<[Remote]>,
    inject: RuntimeInject<Notified<Arc<Handle>>>,
    idle: Idle,
    owned: OwnedTasks<Arc<Handle>>,
    /// Taken (try-lock) by the worker that parks on it.
    driver: TryLock<Option<Driver>>,
    /// A worker's core waits here to be picked up by its (new) thread: at start, and when
    /// `block_in_place` hands it over.
    cores: Box<[Mutex<Option<Box<worker::Core>>>]>,
    /// Threads running workers, joined at shutdown.
    threads: Mutex<Vec<thread::JoinHandle<()>>>,
    shutdown: AtomicBool,
}

/// The part of a worker that other threads touch.
pub(crate) struct Remote {
    steal: Stealer<Notified<Arc<Handle>>>,
    lifo: LifoSlot<Arc<Handle>>,
    parker: Parker,
    metrics: WorkerMetrics,
    /// The worker's loop count, stored every tick: a sibling that sees it unchanged for
    /// [`worker::STALLED`] knows this worker is not running (descheduled by the OS, or in
    /// a long poll) and takes half of its queue (`Context::rescue`).
    heartbeat: CachePadded<Beat>,
}

/// What a worker stores as it runs, on a cache line of its own.
#[derive(Debug)]
pub(crate) struct Beat {
    /// The loop count (see `Remote::heartbeat`).
    count: HintUsize,
    /// Tasks completed on this worker and not yet unlinked from the owned list
    /// (`Context::defer_release`), which [`Handle::num_alive_tasks`] must not count.
    completed: MetricU64,
}

impl MultiThread {
    pub(crate) fn new(
        config: Config,
        blocking: Spawner,
    ) -> std::io::Result<(MultiThread, Arc<Handle>)> {
        let n = config.worker_threads.max(1);
        // A real clock: time cannot be paused with several workers (see `time::pause`).
        let (driver, driver_handle) = Driver::with_clock(crate::driver::time::Clock::new(), n)?;
        let mut remotes = Vec::with_capacity(n);
        let mut cores = Vec::with_capacity(n);
        for index in 0..n {
            let (core, steal) = worker::Core::new(index, n);
            remotes.push(Remote {
                steal,
                lifo: LifoSlot::new(),
                parker: Parker::new(),
                metrics: WorkerMetrics::default(),
                heartbeat: CachePadded(Beat {
                    count: HintUsize::new(0),
                    completed: MetricU64::new(0),
                }),
            });
            cores.push(Mutex::new(Some(core)));
        }
        let handle = Arc::new(Handle {
            shared: Shared {
                remotes: remotes.into_boxed_slice(),
                inject: RuntimeInject::new(),
                idle: Idle::new(n),
                owned: OwnedTasks::new(4 * n),
                driver: TryLock::new(Some(driver)),
                cores: cores.into_boxed_slice(),
                threads: Mutex::new(Vec::with_capacity(n)),
                shutdown: AtomicBool::new(false),
            },
            driver: driver_handle,
            config,
            blocking,
            spawned: MetricU64::new(0),
            started: Instant::now(),
        });
        for index in 0..n {
            if let Err(e) = worker::launch(&handle, index) {
                handle.shutdown();
                MultiThread { _private: () }.shutdown(&handle, true);
                return Err(e);
            }
        }
        Ok((MultiThread { _private: () }, handle))
    }

    /// Steps 1-3 of shutdown; `join` waits for the worker threads.
    pub(crate) fn shutdown(&self, handle: &Arc<Handle>, join: bool) {
        handle.shutdown();
        if join {
            loop {
                let threads = std::mem::take(&mut *handle.shared.threads.lock());
                if threads.is_empty() {
                    break;
                }
                for t in threads {
                    // A worker thread never panics out of its loop (tasks are polled under
                    // catch_unwind); if a user's on_thread_stop hook panicked, the other
                    // workers still get joined.
                    let _ = t.join();
                }
            }
        }
        handle.shared.owned.close_and_shutdown_all();
        handle.drain_injector();
        if join {
            // No worker can hold the driver any more.
            let driver = handle
                .shared
                .driver
                .try_lock()
                .map(|mut d| d.with(Option::take));
            drop(driver);
        }
    }
}

impl Handle {
    pub(crate) fn spawn<F>(me: &Arc<Handle>, future: F, id: Id) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        me.spawned
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (join, notified) = me.shared.owned.bind(future, me.clone(), id);
        if let Some(notified) = notified {
            Handle::schedule_task(me, notified, false);
        }
        join
    }

    fn shutdown(&self) {
        if self.shared.shutdown.swap(true, SeqCst) {
            return;
        }
        for _ in self.shared.idle.take_all() {}
        for remote in self.shared.remotes.iter() {
            remote.parker.unpark(&self.driver);
        }
    }

    fn schedule_task(me: &Arc<Self>, task: Notified<Arc<Handle>>, is_yield: bool) {
        let local = context::with_scheduler(|cx| match cx {
            Some(super::Context::MultiThread(cx)) if Arc::ptr_eq(me, cx.handle()) => {
                cx.schedule_local(task, is_yield)
            }
            _ => Some(task),
        });
        if let Some(task) = local {
            me.push_remote(task);
        }
    }

    /// Step 6 of the parking protocol, and step 3 of shutdown.
    fn push_remote(&self, task: Notified<Arc<Handle>>) {
        self.shared.inject.push(task);
        // Pairs with the fence in `shutdown`'s caller path (`drain_injector` runs after
        // the SeqCst swap of `shutdown`), and with the parker's re-check after publishing
        // itself asleep (see `Idle`).
        fence(SeqCst);
        if self.shared.shutdown.load(SeqCst) {
            self.drain_injector();
            return;
        }
        self.notify_parked();
    }

    fn drain_injector(&self) {
        fence(SeqCst);
        loop {
            match self.shared.inject.steal() {
                Steal::Success(task) => drop(task),
                Steal::Retry => continue,
                Steal::Empty => break,
            }
        }
    }

    /// Wakes one sleeping worker if nobody is searching; prefers one that is not parked on
    /// the driver, so the driver keeps its waiter.
    pub(super) fn notify_parked(&self) {
        let remotes = &self.shared.remotes;
        if let Some(w) = self
            .shared
            .idle
            .worker_to_notify(|w| u8::from(remotes[w].parker.is_on_driver()))
        {
            remotes[w].parker.unpark(&self.driver);
        }
    }

    pub(crate) fn num_workers(&self) -> usize {
        self.shared.remotes.len()
    }

    pub(crate) fn num_alive_tasks(&self) -> usize {
        // A worker lowers its count under each shard lock just before the shard's own
        // count drops (`remove_batch`): a racing reader over-counts by a few tasks for a
        // moment, as one racing with any completion does.
        let kept: u64 = self
            .shared
            .remotes
            .iter()
            .map(|r| r.heartbeat.completed.load(Relaxed))
            .sum();
        self.shared.owned.len().saturating_sub(kept as usize)
    }

    pub(crate) fn injector_depth(&self) -> usize {
        self.shared.inject.len()
    }

    pub(crate) fn worker_stats(&self, worker: usize) -> super::metrics::WorkerStats {
        self.shared.remotes[worker].metrics.stats()
    }
}

impl Schedule for Arc<Handle> {
    fn schedule(&self, task: Notified<Self>) {
        Handle::schedule_task(self, task, false);
    }

    fn yield_now(&self, task: Notified<Self>) {
        Handle::schedule_task(self, task, true);
    }

    fn release(&self, task: &Task<Self>) -> Option<Task<Self>> {
        self.shared.owned.remove(task)
    }

    fn defer_release(&self, task: Task<Self>) -> Option<Task<Self>> {
        context::with_scheduler(|cx| match cx {
            Some(super::Context::MultiThread(cx)) if Arc::ptr_eq(self, cx.handle()) => {
                cx.defer_release(task)
            }
            _ => Some(task),
        })
    }
}

impl fmt::Debug for MultiThread {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MultiThread").finish_non_exhaustive()
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("multi_thread::Handle")
            .field("workers", &self.shared.remotes.len())
            .field("owned", &self.shared.owned)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shared").finish_non_exhaustive()
    }
}

impl fmt::Debug for Remote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Remote")
            .field("lifo", &self.lifo)
            .finish_non_exhaustive()
    }
}
