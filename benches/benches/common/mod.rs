//! Helpers shared by the bench targets: the criterion settings, the three runtimes built with
//! the same worker count, and Tokio's `stall`.
//!
//! Every comparison is one criterion group per workload, with one function per
//! implementation (`corio`, `tokio`, `async-executor`, `threads`), so that
//! `benches/ratios.py` can pair them up from `target/criterion/<group>/<impl>/`.

#![allow(dead_code)] // each bench target uses a different subset

use std::future::Future;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use async_executor::Executor;
use criterion::{Criterion, SamplingMode};

/// Tokio's busy-task stall: 10 µs of CPU, yielding the OS thread meanwhile.
pub(crate) const STALL_DUR: Duration = Duration::from_micros(10);

/// Burns [`STALL_DUR`] of wall time on this thread, as Tokio's benches do.
pub(crate) fn stall() {
    let now = Instant::now();
    while now.elapsed() < STALL_DUR {
        thread::yield_now();
    }
}

/// The worker count every multi-thread runtime gets: one per core of this machine.
///
/// Tokio's own benches use 4 (`rt_multi_threaded`) and 6 (`sync_*`) workers; on a 2-core
/// machine that would measure the OS scheduler time-slicing extra threads, so all three
/// runtimes get the machine's core count instead.
pub(crate) fn workers() -> usize {
    thread::available_parallelism().map_or(2, |n| n.get())
}

/// Modest settings so that the whole `cargo bench -p corio-benches` takes minutes: 20 flat
/// samples over 3 s after 1 s of warm-up. Flat sampling keeps the iteration count per
/// sample fixed, which suits workloads of a millisecond or more per iteration.
pub(crate) fn criterion() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args()
}

/// Applies the per-group settings that `Criterion`'s defaults do not carry.
pub(crate) fn flat(group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>) {
    group.sampling_mode(SamplingMode::Flat);
}

/// A corio multi-thread runtime with [`workers`] workers.
pub(crate) fn corio_multi() -> corio::runtime::Runtime {
    corio::runtime::Builder::new_multi_thread()
        .worker_threads(workers())
        .build()
        .expect("building a corio runtime")
}

/// A corio current-thread runtime.
pub(crate) fn corio_current() -> corio::runtime::Runtime {
    corio::runtime::Builder::new_current_thread()
        .build()
        .expect("building a corio runtime")
}

/// A Tokio multi-thread runtime with [`workers`] workers; `enable_all` as Tokio's
/// `rt_multi_threaded` bench has it (its `sync_*` benches leave the drivers off).
pub(crate) fn tokio_multi(enable_all: bool) -> tokio::runtime::Runtime {
    let mut b = tokio::runtime::Builder::new_multi_thread();
    b.worker_threads(workers());
    if enable_all {
        b.enable_all();
    }
    b.build().expect("building a Tokio runtime")
}

/// A Tokio current-thread runtime.
pub(crate) fn tokio_current() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("building a Tokio runtime")
}

/// An `async_executor::Executor` run by [`workers`] threads, each in
/// `block_on(ex.run(..))` until the value is dropped.
///
/// The threads wait on a closed-on-drop semaphore rather than `future::pending()` so that
/// dropping this joins them instead of leaking them into the next benchmark.
pub(crate) struct AsyncExecutorPool {
    ex: Arc<Executor<'static>>,
    stop: Arc<tokio::sync::Semaphore>,
    threads: Vec<thread::JoinHandle<()>>,
}

impl std::fmt::Debug for AsyncExecutorPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncExecutorPool")
            .field("threads", &self.threads.len())
            .finish_non_exhaustive()
    }
}

impl AsyncExecutorPool {
    /// Starts the executor threads.
    pub(crate) fn new() -> Self {
        let ex = Arc::new(Executor::new());
        let stop = Arc::new(tokio::sync::Semaphore::new(0));
        let threads = (0..workers())
            .map(|i| {
                let ex = Arc::clone(&ex);
                let stop = Arc::clone(&stop);
                thread::Builder::new()
                    .name(format!("async-executor-{i}"))
                    .spawn(move || {
                        // `acquire` on a semaphore with no permits resolves only on close.
                        let _ = futures_lite::future::block_on(ex.run(stop.acquire()));
                    })
                    .expect("spawning an executor thread")
            })
            .collect();
        AsyncExecutorPool { ex, stop, threads }
    }

    /// The executor, to spawn on (and to move into tasks that spawn).
    pub(crate) fn executor(&self) -> &Arc<Executor<'static>> {
        &self.ex
    }

    /// Spawns onto the executor.
    pub(crate) fn spawn<T: Send + 'static>(
        &self,
        future: impl Future<Output = T> + Send + 'static,
    ) -> async_executor::Task<T> {
        self.ex.spawn(future)
    }
}

impl Drop for AsyncExecutorPool {
    fn drop(&mut self) {
        self.stop.close();
        for t in self.threads.drain(..) {
            t.join().expect("an executor thread panicked");
        }
    }
}
