//! The injector: the queue of remote spawns and remote wake-ups that every worker takes from.
//!
//! A `VecDeque` under a lock, with its length mirrored in an atomic so that the checks every
//! worker makes often (is there anything? how much?) take no lock. It is written against the
//! loom shim, so the same code runs in the models, where the length's store and the park
//! protocol's fences are explored like every other atomic.
//!
//! Why not crossbeam-deque's `Injector` (which corio used before): it allocates a block per 63
//! pushes, and the consumer that empties a block frees it. With `block_on` spawning (and so
//! calling `malloc`) on another thread, glibc's `free` on a worker waited for the arena lock
//! that thread held; on two cores a worker that slept there lost an OS time slice while timers
//! it should fire waited. `perf record -e sched:sched_switch` counted 122 such sleeps per run
//! of the 100,000-sleep lateness benchmark, the largest off-CPU cause left. This ring buffer
//! grows to the largest backlog once and is then reused; pushes and batch pops hold the lock
//! for a few pointer moves, and no worker ever sleeps on it (see
//! [`Injector::steal_batch_with_limit_and_pop`]). Measured: see `benches/RESULTS.md`,
//! "a locked injector".

use std::collections::VecDeque;

use crate::loom::deque::{Steal, Worker};
use crate::loom::sync::atomic::{AtomicUsize, Ordering};
use crate::loom::sync::{Mutex, MutexGuard};
use crate::util::cache_padded::CachePadded;

/// The most tasks one batch moves from the injector (crossbeam's injector moved at most one
/// 63-slot block; half of that keeps the lock hold short and a batch on the stack).
const MAX_BATCH: usize = 32;

/// See the module doc.
#[derive(Debug)]
pub(super) struct Injector<T> {
    queue: CachePadded<Mutex<VecDeque<T>>>,
    /// `queue.len()`, stored under the lock after every change, so that a reader without the
    /// lock sees a length the queue really had. On its own line: workers read it at every
    /// injector check while pushers hold the lock.
    len: CachePadded<AtomicUsize>,
}

impl<T> Injector<T> {
    pub(super) fn new() -> Self {
        Self {
            queue: CachePadded(Mutex::new(VecDeque::new())),
            len: CachePadded(AtomicUsize::new(0)),
        }
    }

    /// Appends a task. The caller follows it with a `SeqCst` fence before it looks for a
    /// sleeping worker (`Handle::push_remote`); with the sleeper's fence before its last
    /// [`Injector::is_empty`], either the sleeper sees this length or the pusher sees the
    /// sleeper (the park protocol, DESIGN.md).
    pub(super) fn push(&self, task: T) {
        let mut queue = self.queue.lock();
        queue.push_back(task);
        self.len.store(queue.len(), Ordering::Release);
    }

    /// Pops the oldest task, waiting for the lock (shutdown's drain; not a worker's path).
    pub(super) fn steal(&self) -> Steal<T> {
        if self.looks_empty() {
            return Steal::Empty;
        }
        let mut queue = self.queue.lock();
        let task = queue.pop_front();
        self.len.store(queue.len(), Ordering::Release);
        task.map_or(Steal::Empty, Steal::Success)
    }

    /// [`Injector::steal_batch_with_limit_and_pop`] with the largest batch.
    pub(super) fn steal_batch_and_pop(&self, dest: &Worker<T>) -> Steal<T> {
        self.steal_batch_with_limit_and_pop(dest, MAX_BATCH)
    }

    /// Pops the oldest task and moves up to `limit - 1` more (at most [`MAX_BATCH`] in all)
    /// to `dest`. Returns `Retry` instead of waiting while another thread holds the lock: a
    /// worker must not sleep on it (the holder is a pusher or a sibling taking its own batch,
    /// both done in a few pointer moves), and its caller spins briefly and tries again, as
    /// it did on crossbeam's `Retry`.
    pub(super) fn steal_batch_with_limit_and_pop(
        &self,
        dest: &Worker<T>,
        limit: usize,
    ) -> Steal<T> {
        if self.looks_empty() {
            return Steal::Empty;
        }
        let mut batch: [Option<T>; MAX_BATCH] = std::array::from_fn(|_| None);
        let first = {
            let Some(mut queue) = self.lock_for_worker() else {
                return Steal::Retry;
            };
            let Some(first) = queue.pop_front() else {
                return Steal::Empty;
            };
            let n = queue.len().min(limit.clamp(1, MAX_BATCH) - 1);
            for (slot, task) in batch.iter_mut().zip(queue.drain(..n)) {
                *slot = Some(task);
            }
            self.len.store(queue.len(), Ordering::Release);
            first
        };
        // Outside the lock: a push may grow `dest`'s buffer.
        for task in batch.into_iter().map_while(|t| t) {
            dest.push(task);
        }
        Steal::Success(first)
    }

    /// The lock-free pre-check of the pop paths, which spares a worker the lock of an empty
    /// queue. Only an optimization: a stale "empty" here is the same as the push landing a
    /// moment later, and the park protocol's re-check ([`Injector::is_empty`]) covers that.
    ///
    /// The loom build skips it and takes the lock. Each load of `len` in a model branches
    /// over every store it may still see, and these pre-checks, on every pass of every
    /// worker's loop, made one whole-runtime model run for over 20 minutes (4 before); the
    /// load that matters, the park re-check, is modelled.
    fn looks_empty(&self) -> bool {
        !cfg!(loom) && self.is_empty()
    }

    /// The lock without sleeping on it, or `None` if another thread holds it.
    ///
    /// The loom build waits for the lock instead: a `Retry` only makes the caller come back
    /// (it has no effect of its own), and in the models every such spin would be one more
    /// scheduling point that loom's preemption bound does not count.
    fn lock_for_worker(&self) -> Option<MutexGuard<'_, VecDeque<T>>> {
        if cfg!(loom) {
            Some(self.queue.lock())
        } else {
            self.queue.try_lock()
        }
    }

    /// True if the queue was empty at the last change; see [`Injector::push`] for why that is
    /// enough for the park protocol.
    pub(super) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The length at the last change.
    pub(super) fn len(&self) -> usize {
        self.len.load(Ordering::Acquire)
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use loom::sync::atomic::{fence, AtomicBool, Ordering::SeqCst};
    use loom::sync::Arc;
    use loom::thread;

    use super::Injector;
    use crate::loom::deque::{Steal, Worker};

    /// The park protocol on the injector alone: a pusher fences and looks for a sleeper; a
    /// worker announces it sleeps, fences and re-checks `is_empty`. One of them must see the
    /// other, or the task waits with every worker asleep.
    #[test]
    fn loom_inject_push_races_park_recheck() {
        loom::model(|| {
            let inject = Arc::new(Injector::new());
            let asleep = Arc::new(AtomicBool::new(false));
            let (i, a) = (inject.clone(), asleep.clone());
            let pusher = thread::spawn(move || {
                i.push(1_u32);
                fence(SeqCst);
                a.load(SeqCst)
            });
            asleep.store(true, SeqCst);
            fence(SeqCst);
            let worker_saw_work = !inject.is_empty();
            let pusher_saw_sleeper = pusher.join().unwrap();
            assert!(worker_saw_work || pusher_saw_sleeper, "lost wake-up");
        });
    }

    /// Two workers take batches while a third thread pushes: every task is taken exactly
    /// once, and the length never claims a task that is not there at the end.
    #[test]
    fn loom_inject_batches_take_each_task_once() {
        loom::model(|| {
            let inject = Arc::new(Injector::new());
            inject.push(0_u32);
            let i = inject.clone();
            let pusher = thread::spawn(move || {
                i.push(1);
                i.push(2);
            });
            let take = |inject: &Injector<u32>| {
                let local = Worker::new_fifo();
                let mut got = Vec::new();
                for _ in 0..2 {
                    loop {
                        match inject.steal_batch_with_limit_and_pop(&local, 2) {
                            Steal::Success(t) => got.push(t),
                            Steal::Empty => break,
                            Steal::Retry => continue,
                        }
                        break;
                    }
                }
                while let Some(t) = local.pop() {
                    got.push(t);
                }
                got
            };
            let i = inject.clone();
            let thief = thread::spawn(move || take(&i));
            let mut got = take(&inject);
            pusher.join().unwrap();
            got.extend(thief.join().unwrap());
            while let Steal::Success(t) = inject.steal() {
                got.push(t);
            }
            got.sort_unstable();
            assert_eq!(got, [0, 1, 2]);
            assert!(inject.is_empty());
        });
    }
}
