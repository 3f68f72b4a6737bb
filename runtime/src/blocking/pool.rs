//! See the module doc in `blocking/mod.rs` for the protocol.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::loom::sync::{wait_timeout, Arc, Condvar, Mutex};
use crate::loom::thread;
use crate::runtime::context;
use crate::scheduler::{self, Config};
use crate::task::{self, Id, JoinHandle, Notified, Schedule, Task};

/// Owned by the runtime: shuts the pool down on drop.
pub(crate) struct BlockingPool {
    spawner: Spawner,
}

/// Cloned into every scheduler handle: spawns blocking tasks.
#[derive(Clone)]
pub(crate) struct Spawner {
    inner: Arc<Inner>,
}

struct Inner {
    shared: Mutex<Shared>,
    condvar: Condvar,
    /// Signalled when the last thread exits.
    exited: Condvar,
    config: Config,
}

struct Shared {
    queue: VecDeque<Notified<BlockingSchedule>>,
    threads: usize,
    idle: usize,
    /// Notifications sent to idle threads and not yet consumed.
    notified: usize,
    shutdown: bool,
    next_thread_id: usize,
}

/// Blocking tasks never yield (`BlockingTask` is always `Ready` on its first poll), so the
/// task core never asks to re-schedule them; they are not in an owned list either: queued
/// ones are cancelled by the pool's shutdown, running ones cannot be interrupted.
///
/// It carries the task's [`scheduler::InhibitAutoAdvance`] (current-thread runtimes) and
/// drops it in `release`, which the task core calls only after the output is stored and
/// the `JoinHandle` woken: dropped any earlier (with the closure), an idle paused runtime
/// could see no blocking work and jump time past a `timeout` in the window before the
/// `JoinHandle`'s wake-up. A task freed without completing drops it with the scheduler.
#[derive(Debug)]
pub(crate) struct BlockingSchedule {
    inhibit: Mutex<Option<scheduler::InhibitAutoAdvance>>,
}

impl Schedule for BlockingSchedule {
    fn schedule(&self, _task: Notified<Self>) {
        unreachable!("a blocking task was re-scheduled; this is a corio bug")
    }

    fn release(&self, _task: &Task<Self>) -> Option<Task<Self>> {
        drop(self.inhibit.lock().take());
        None
    }
}

/// Runs the closure on its first (and only) poll.
struct BlockingTask<F>(Option<F>);

impl<F> Unpin for BlockingTask<F> {}

impl<F: FnOnce() -> R, R> Future for BlockingTask<F> {
    type Output = R;

    fn poll(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<R> {
        let f = self
            .0
            .take()
            .expect("blocking task polled after completion");
        // A blocking closure may take any time; it must not consume the budget of the
        // thread (there is none here, but a closure may block_on a resource).
        Poll::Ready(crate::coop::with_unconstrained(f))
    }
}

impl BlockingPool {
    pub(crate) fn new(config: &Config) -> BlockingPool {
        BlockingPool {
            spawner: Spawner {
                inner: Arc::new(Inner {
                    shared: Mutex::new(Shared {
                        queue: VecDeque::new(),
                        threads: 0,
                        idle: 0,
                        notified: 0,
                        shutdown: false,
                        next_thread_id: 0,
                    }),
                    condvar: Condvar::new(),
                    exited: Condvar::new(),
                    config: config.clone(),
                }),
            },
        }
    }

    pub(crate) fn spawner(&self) -> &Spawner {
        &self.spawner
    }

    /// Step 3: cancels queued tasks and waits at most `timeout` (`None`: forever) for the
    /// threads to exit. Returns true if they all did.
    pub(crate) fn shutdown(&self, timeout: Option<Duration>) -> bool {
        let inner = &self.spawner.inner;
        let mut shared = inner.shared.lock();
        if !shared.shutdown {
            shared.shutdown = true;
            inner.condvar.notify_all();
        }
        let queued = std::mem::take(&mut shared.queue);
        drop(shared);
        for task in queued {
            task.shutdown();
        }
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut shared = inner.shared.lock();
        while shared.threads > 0 {
            match deadline {
                None => inner.exited.wait(&mut shared),
                Some(deadline) => {
                    let now = Instant::now();
                    if now >= deadline {
                        return false;
                    }
                    wait_timeout(&inner.exited, &mut shared, deadline - now);
                }
            }
        }
        true
    }
}

impl Drop for BlockingPool {
    fn drop(&mut self) {
        // Shutdown normally happened already with the caller's time-out; this catches the
        // rest (e.g. a runtime whose build failed half way) without waiting.
        self.shutdown(Some(Duration::ZERO));
    }
}

impl Spawner {
    /// Step 1. `handle` becomes the current runtime on the pool thread, so the closure can
    /// spawn tasks.
    /// `inhibit` is held until the task completes (see [`BlockingSchedule`]).
    pub(crate) fn spawn_blocking<F, R>(
        &self,
        handle: &scheduler::Handle,
        f: F,
        inhibit: Option<scheduler::InhibitAutoAdvance>,
    ) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        let schedule = BlockingSchedule {
            inhibit: Mutex::new(inhibit),
        };
        let (notified, join) = task::unowned(BlockingTask(Some(f)), schedule, Id::next());
        let inner = &self.inner;
        let mut shared = inner.shared.lock();
        if shared.shutdown {
            drop(shared);
            notified.shutdown();
            return join;
        }
        shared.queue.push_back(notified);
        if shared.idle > shared.notified {
            shared.notified += 1;
            inner.condvar.notify_one();
        } else if shared.threads < inner.config.max_blocking_threads {
            shared.threads += 1;
            let id = shared.next_thread_id;
            shared.next_thread_id += 1;
            drop(shared);
            if let Err(e) = self.start_thread(handle, id) {
                let mut shared = inner.shared.lock();
                shared.threads -= 1;
                // The task stays queued: an existing thread will take it; with none,
                // it is cancelled rather than lost.
                if shared.threads == 0 {
                    let queued = std::mem::take(&mut shared.queue);
                    drop(shared);
                    for task in queued {
                        task.shutdown();
                    }
                }
                eprintln!("corio: failed to start a blocking thread: {e}");
            }
        }
        join
    }

    fn start_thread(&self, handle: &scheduler::Handle, id: usize) -> std::io::Result<()> {
        let config = &self.inner.config;
        let mut builder =
            thread::Builder::new().name(format!("{}-blocking-{id}", config.thread_name));
        if let Some(size) = config.thread_stack_size {
            builder = builder.stack_size(size);
        }
        let inner = self.inner.clone();
        let handle = handle.clone();
        builder.spawn(move || {
            let _current = context::set_current(&handle);
            drop(handle);
            if let Some(f) = &inner.config.on_thread_start {
                f();
            }
            inner.run();
            if let Some(f) = &inner.config.on_thread_stop {
                f();
            }
        })?;
        Ok(())
    }

    /// The number of threads in the pool.
    pub(crate) fn num_threads(&self) -> usize {
        self.inner.shared.lock().threads
    }

    /// The number of tasks waiting for a thread.
    pub(crate) fn queue_depth(&self) -> usize {
        self.inner.shared.lock().queue.len()
    }
}

impl Inner {
    /// Step 2.
    fn run(&self) {
        let keep_alive = self.config.thread_keep_alive;
        let mut shared = self.shared.lock();
        'outer: loop {
            while let Some(task) = shared.queue.pop_front() {
                drop(shared);
                task.run();
                shared = self.shared.lock();
            }
            if shared.shutdown {
                break;
            }
            shared.idle += 1;
            let deadline = Instant::now() + keep_alive;
            loop {
                let now = Instant::now();
                let timed_out =
                    now >= deadline || wait_timeout(&self.condvar, &mut shared, deadline - now);
                if shared.notified > 0 {
                    shared.notified -= 1;
                    shared.idle -= 1;
                    continue 'outer;
                }
                if shared.shutdown {
                    shared.idle -= 1;
                    break 'outer;
                }
                if timed_out {
                    shared.idle -= 1;
                    // Work may have been queued without a notification reaching us (it
                    // went to a thread that is about to start): take it before leaving.
                    if !shared.queue.is_empty() {
                        continue 'outer;
                    }
                    break 'outer;
                }
            }
        }
        // Leave: queued tasks left at shutdown are cancelled by `BlockingPool::shutdown`.
        shared.threads -= 1;
        if shared.threads == 0 {
            self.exited.notify_all();
        }
    }
}

impl fmt::Debug for BlockingPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlockingPool").finish_non_exhaustive()
    }
}

impl fmt::Debug for Spawner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("blocking::Spawner").finish_non_exhaustive()
    }
}
