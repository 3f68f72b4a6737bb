//! The one place that names concurrency primitives.
//!
//! Every atomic, cell, lock, condition variable and thread inside corio comes from here, so
//! that building with `RUSTFLAGS="--cfg loom"` swaps them all for [loom]'s model-checked
//! versions at once. Two dependencies are not loom-aware and get stand-ins with the same API:
//! `crossbeam-deque` (see [`deque`]) and `polling` (see the driver's `sys` module).
//!
//! The wrappers follow `parking_lot`'s shape (no lock poisoning, `Condvar::wait(&mut guard)`),
//! because that is what the runtime uses outside loom.
//!
//! [loom]: https://docs.rs/loom

pub(crate) use imp::*;

/// Things that are the same in both builds.
pub(crate) mod common {
    /// A process-wide counter that need not be modelled: it hands out unique numbers
    /// (task ids, runtime ids) with `Relaxed` increments and synchronizes nothing else.
    /// Loom atomics cannot live in a `static`, so this one stays std's in both builds.
    pub(crate) type StaticAtomicU64 = std::sync::atomic::AtomicU64;

    /// A statistics counter (polls, steals, parks, busy time): written with `Relaxed` and
    /// only read for reporting, never to decide anything, so it is left out of the models
    /// to keep their state space small.
    pub(crate) type MetricU64 = std::sync::atomic::AtomicU64;

    /// A progress hint (a worker's loop count, see `Remote::heartbeat`): stored and loaded
    /// with `Relaxed`, it only tells a busy worker which sibling's queue to steal from, and a
    /// steal is correct at any moment whatever the hint says (every queue is a
    /// work-stealing deque), so it is left out of the models like a metric.
    pub(crate) type HintUsize = std::sync::atomic::AtomicUsize;
}

#[cfg(not(loom))]
mod imp {
    pub(crate) use super::common::*;

    pub(crate) mod sync {
        pub(crate) use std::sync::Arc;

        pub(crate) mod atomic {
            pub(crate) use std::sync::atomic::{
                fence, AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering,
            };
        }

        /// A mutex without poisoning: a panic while holding it is already a bug that the
        /// runtime contains elsewhere (tasks run outside every runtime lock).
        pub(crate) type Mutex<T> = parking_lot::Mutex<T>;
        pub(crate) type MutexGuard<'a, T> = parking_lot::MutexGuard<'a, T>;
        pub(crate) type Condvar = parking_lot::Condvar;

        /// Waits on `cv` for at most `timeout`; returns true if the wait timed out.
        pub(crate) fn wait_timeout<T>(
            cv: &Condvar,
            guard: &mut MutexGuard<'_, T>,
            timeout: std::time::Duration,
        ) -> bool {
            cv.wait_for(guard, timeout).timed_out()
        }
    }

    pub(crate) mod cell {
        /// `std::cell::UnsafeCell` with loom's closure-based API, so that loom can track
        /// every access in the model build.
        #[derive(Debug)]
        pub(crate) struct UnsafeCell<T: ?Sized>(std::cell::UnsafeCell<T>);

        impl<T> UnsafeCell<T> {
            pub(crate) const fn new(value: T) -> Self {
                Self(std::cell::UnsafeCell::new(value))
            }
        }

        impl<T: ?Sized> UnsafeCell<T> {
            #[inline(always)]
            pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
                f(self.0.get())
            }

            #[inline(always)]
            pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
                f(self.0.get())
            }
        }
    }

    pub(crate) mod thread {
        pub(crate) use std::thread::{current, yield_now, Builder, JoinHandle};
    }

    pub(crate) mod hint {
        pub(crate) use std::hint::spin_loop;
    }

    /// Work-stealing queues: crossbeam-deque itself outside loom.
    pub(crate) mod deque {
        pub(crate) use crossbeam_deque::{Steal, Stealer, Worker};
    }

    /// The number of CPUs, the default worker count.
    pub(crate) fn num_cpus() -> usize {
        num_cpus::get()
    }

    /// Wall-clock time-outs are honoured (loom has no clock; see the loom build).
    pub(crate) const HAS_CLOCK: bool = true;

    /// Most shards of the owned-task list.
    pub(crate) const MAX_OWNED_SHARDS: usize = 64;

    pub(crate) use std::thread_local;
}

#[cfg(loom)]
mod imp {
    pub(crate) use super::common::*;

    pub(crate) mod sync {
        pub(crate) use loom::sync::Arc;

        pub(crate) mod atomic {
            pub(crate) use loom::sync::atomic::{
                fence, AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering,
            };
        }

        /// loom's mutex with `parking_lot`'s API.
        #[derive(Debug)]
        pub(crate) struct Mutex<T>(loom::sync::Mutex<T>);

        /// Holds an `Option` so that [`Condvar::wait`] can hand the inner guard to loom and
        /// take it back.
        #[derive(Debug)]
        pub(crate) struct MutexGuard<'a, T>(Option<loom::sync::MutexGuard<'a, T>>);

        impl<T> Mutex<T> {
            pub(crate) fn new(value: T) -> Self {
                Self(loom::sync::Mutex::new(value))
            }

            #[track_caller]
            pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
                MutexGuard(Some(self.0.lock().unwrap()))
            }

            #[track_caller]
            pub(crate) fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
                self.0.try_lock().ok().map(|g| MutexGuard(Some(g)))
            }
        }

        impl<T: Default> Default for Mutex<T> {
            fn default() -> Self {
                Self::new(T::default())
            }
        }

        impl<T> std::ops::Deref for MutexGuard<'_, T> {
            type Target = T;
            fn deref(&self) -> &T {
                self.0.as_ref().unwrap()
            }
        }

        impl<T> std::ops::DerefMut for MutexGuard<'_, T> {
            fn deref_mut(&mut self) -> &mut T {
                self.0.as_mut().unwrap()
            }
        }

        /// loom's condition variable with `parking_lot`'s API.
        #[derive(Debug, Default)]
        pub(crate) struct Condvar(loom::sync::Condvar);

        impl Condvar {
            pub(crate) fn new() -> Self {
                Self(loom::sync::Condvar::new())
            }

            pub(crate) fn wait<T>(&self, guard: &mut MutexGuard<'_, T>) {
                let inner = guard.0.take().unwrap();
                guard.0 = Some(self.0.wait(inner).unwrap());
            }

            pub(crate) fn notify_one(&self) -> bool {
                self.0.notify_one();
                true
            }

            pub(crate) fn notify_all(&self) -> usize {
                self.0.notify_all();
                0
            }
        }

        /// loom has no time: a timed wait is an untimed wait that reports no time-out, so a
        /// model that relies on a time-out to make progress deadlocks and loom reports it.
        pub(crate) fn wait_timeout<T>(
            cv: &Condvar,
            guard: &mut MutexGuard<'_, T>,
            _timeout: std::time::Duration,
        ) -> bool {
            cv.wait(guard);
            false
        }
    }

    pub(crate) mod cell {
        pub(crate) use loom::cell::UnsafeCell;
    }

    pub(crate) mod thread {
        pub(crate) use loom::thread::{current, yield_now, Builder, JoinHandle};
        // Used by the loom models only.
        #[allow(unused_imports)]
        pub(crate) use loom::thread::spawn;
    }

    pub(crate) mod hint {
        pub(crate) use loom::hint::spin_loop;
    }

    /// A loom-visible stand-in for crossbeam-deque: a locked `VecDeque` with the same API,
    /// so the scheduler's use of the queues (not crossbeam's internals, which are tested
    /// upstream) is model-checked.
    pub(crate) mod deque {
        use std::collections::VecDeque;

        use loom::sync::{Arc, Mutex};

        pub(crate) use crossbeam_deque::Steal;

        /// Moves about half of `src` (at most `limit`, the popped task included) to `dest`.
        /// One lock at a time: two workers stealing from each other must not take the two
        /// queue locks in opposite orders.
        fn steal_batch<T>(src: &Mutex<VecDeque<T>>, dest: &Worker<T>, limit: usize) -> Steal<T> {
            let (first, batch) = {
                let mut src = src.lock().unwrap();
                let Some(first) = src.pop_front() else {
                    return Steal::Empty;
                };
                let n = src.len().div_ceil(2).min(limit.saturating_sub(1));
                (first, src.drain(..n).collect::<Vec<_>>())
            };
            dest.inner.lock().unwrap().extend(batch);
            Steal::Success(first)
        }

        #[derive(Debug)]
        pub(crate) struct Worker<T> {
            inner: Arc<Mutex<VecDeque<T>>>,
            lifo: bool,
        }

        #[derive(Debug)]
        pub(crate) struct Stealer<T> {
            inner: Arc<Mutex<VecDeque<T>>>,
        }

        impl<T> Clone for Stealer<T> {
            fn clone(&self) -> Self {
                Self {
                    inner: self.inner.clone(),
                }
            }
        }

        impl<T> Worker<T> {
            pub(crate) fn new_fifo() -> Self {
                Self {
                    inner: Arc::new(Mutex::new(VecDeque::new())),
                    lifo: false,
                }
            }
            pub(crate) fn stealer(&self) -> Stealer<T> {
                Stealer {
                    inner: self.inner.clone(),
                }
            }
            pub(crate) fn push(&self, task: T) {
                self.inner.lock().unwrap().push_back(task);
            }
            pub(crate) fn pop(&self) -> Option<T> {
                let mut q = self.inner.lock().unwrap();
                if self.lifo {
                    q.pop_back()
                } else {
                    q.pop_front()
                }
            }
            pub(crate) fn is_empty(&self) -> bool {
                self.inner.lock().unwrap().is_empty()
            }
            pub(crate) fn len(&self) -> usize {
                self.inner.lock().unwrap().len()
            }
        }

        impl<T> Stealer<T> {
            pub(crate) fn steal_batch_with_limit_and_pop(
                &self,
                dest: &Worker<T>,
                limit: usize,
            ) -> Steal<T> {
                steal_batch(&self.inner, dest, limit)
            }
            pub(crate) fn is_empty(&self) -> bool {
                self.inner.lock().unwrap().is_empty()
            }
            pub(crate) fn len(&self) -> usize {
                self.inner.lock().unwrap().len()
            }
        }
    }

    /// Loom models run two workers unless they say otherwise.
    pub(crate) fn num_cpus() -> usize {
        2
    }

    /// Loom has no clock: code that would branch on `Instant::now()` against a deadline
    /// waits for a wake-up instead, which keeps every execution deterministic (and a model
    /// that relies on a time-out to make progress deadlocks, which loom reports).
    pub(crate) const HAS_CLOCK: bool = false;

    /// One shard: task ids (which pick the shard) keep growing across loom's iterations,
    /// and the choice must not change the explored interleavings.
    pub(crate) const MAX_OWNED_SHARDS: usize = 1;

    pub(crate) use loom::thread_local;
}
