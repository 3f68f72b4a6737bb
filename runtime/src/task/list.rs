//! The owned-task list: every live task of a runtime, so that shutdown can cancel them all.
//!
//! Protocol (invariant I5: after shutdown begins, every task still alive is cancelled exactly
//! once and nothing is scheduled onto a closed runtime):
//! 1. `bind` allocates a task and, under its shard's lock, checks `closed`; if open it links
//!    the task (the list holds the task's `Task` reference) and returns its `Notified`.
//!    If closed it cancels the task at once, so its `JoinHandle` reports cancellation.
//! 2. A task that completes unlinks itself (`remove`), under the same lock.
//! 3. `close_and_shutdown_all` sets `closed`, then drains each shard under its lock and shuts
//!    down each task outside the lock. A `bind` that takes a shard lock after the drain of
//!    that shard sees `closed` (the lock orders it after the store), so no task is missed.
//!
//! The list is sharded by task id so that spawns and completions on different workers
//! rarely contend.

use std::future::Future;
use std::marker::PhantomData;
use std::ptr::NonNull;

use super::core::{allocate, Header};
use super::{Id, JoinHandle, Notified, Schedule, Task};
use crate::loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use crate::loom::sync::Mutex;
use crate::util::cache_padded::CachePadded;

/// Intrusive links, inside each task's header; guarded by the shard lock.
#[derive(Debug, Default)]
pub(crate) struct Links {
    prev: Option<NonNull<Header>>,
    next: Option<NonNull<Header>>,
    in_list: bool,
}

#[derive(Debug)]
struct Shard {
    head: Option<NonNull<Header>>,
}

// SAFETY: the raw pointers are task headers, which are Send + Sync; the shard is only
// accessed under its mutex.
unsafe impl Send for Shard {}

/// The list of a runtime's live tasks.
pub(crate) struct OwnedTasks<S: 'static> {
    shards: Box<[CachePadded<Mutex<Shard>>]>,
    mask: usize,
    closed: AtomicBool,
    count: AtomicUsize,
    _scheduler: PhantomData<fn(S)>,
}

impl<S: Schedule> OwnedTasks<S> {
    /// A list with about `shards` shards (rounded up to a power of two).
    pub(crate) fn new(shards: usize) -> Self {
        let n = shards
            .clamp(1, crate::loom::MAX_OWNED_SHARDS)
            .next_power_of_two();
        OwnedTasks {
            shards: (0..n)
                .map(|_| CachePadded(Mutex::new(Shard { head: None })))
                .collect(),
            mask: n - 1,
            closed: AtomicBool::new(false),
            count: AtomicUsize::new(0),
            _scheduler: PhantomData,
        }
    }

    fn shard(&self, id: Id) -> &Mutex<Shard> {
        &self.shards[id.as_u64() as usize & self.mask]
    }

    /// Step 1: creates a task for `future`. Returns its `JoinHandle` and, unless the list is
    /// closed, the `Notified` to queue.
    pub(crate) fn bind<T>(
        &self,
        future: T,
        scheduler: S,
        id: Id,
    ) -> (JoinHandle<T::Output>, Option<Notified<S>>)
    where
        T: Future + Send + 'static,
        T::Output: Send + 'static,
    {
        // SAFETY: `T: Send`, so the task may be polled on any thread.
        unsafe { self.bind_inner(future, scheduler, id) }
    }

    /// As [`OwnedTasks::bind`] for a `!Send` future.
    ///
    /// # Safety
    /// The task must only ever be polled, cancelled and dropped on the current thread (the
    /// scheduler `S` guarantees it, e.g. a `LocalSet`).
    pub(crate) unsafe fn bind_local<T>(
        &self,
        future: T,
        scheduler: S,
        id: Id,
    ) -> (JoinHandle<T::Output>, Option<Notified<S>>)
    where
        T: Future + 'static,
        T::Output: 'static,
    {
        // SAFETY: forwarded to the caller.
        unsafe { self.bind_inner(future, scheduler, id) }
    }

    /// # Safety
    /// If `T` is not `Send`, see [`OwnedTasks::bind_local`].
    unsafe fn bind_inner<T>(
        &self,
        future: T,
        scheduler: S,
        id: Id,
    ) -> (JoinHandle<T::Output>, Option<Notified<S>>)
    where
        T: Future + 'static,
    {
        let ptr = allocate(future, scheduler, id);
        // SAFETY: `allocate` made three references: the list's, the queue's, the handle's.
        let (task, notified, join) = unsafe {
            (
                Task::<S>::from_raw(ptr),
                Notified::<S>::from_raw(ptr),
                JoinHandle::from_raw(ptr),
            )
        };
        let mut shard = self.shard(id).lock();
        if self.closed.load(Ordering::Relaxed) {
            // Relaxed suffices: `closed` is stored before `close_and_shutdown_all` takes
            // this lock, and read under it.
            drop(shard);
            drop(notified);
            task.shutdown();
            return (join, None);
        }
        // SAFETY: we hold the shard lock, which guards the links of every task in it.
        unsafe { push_front(&mut shard, ptr) };
        std::mem::forget(task);
        self.count.fetch_add(1, Ordering::Relaxed);
        (join, Some(notified))
    }

    /// Step 2: unlinks a completing task; returns the list's reference if it was linked.
    pub(crate) fn remove(&self, task: &Task<S>) -> Option<Task<S>> {
        let ptr = task.header_ptr();
        // SAFETY: the caller's `task` keeps the header alive.
        let id = unsafe { ptr.as_ref() }.id;
        let mut shard = self.shard(id).lock();
        // SAFETY: we hold the lock of the shard this task is (or would be) linked into.
        if !unsafe { unlink(&mut shard, ptr) } {
            return None;
        }
        self.count.fetch_sub(1, Ordering::Relaxed);
        // SAFETY: the list's reference, now handed to the caller.
        Some(unsafe { Task::from_raw(ptr) })
    }

    /// Step 3: closes the list and cancels every task in it.
    pub(crate) fn close_and_shutdown_all(&self) {
        self.closed.store(true, Ordering::Relaxed);
        for shard in self.shards.iter() {
            loop {
                let task = {
                    let mut shard = shard.lock();
                    let Some(head) = shard.head else { break };
                    // SAFETY: under the shard lock; `head` is linked in this shard.
                    unsafe { unlink(&mut shard, head) };
                    self.count.fetch_sub(1, Ordering::Relaxed);
                    // SAFETY: the list's reference, now ours.
                    unsafe { Task::<S>::from_raw(head) }
                };
                task.shutdown();
            }
        }
    }

    /// The number of live tasks.
    pub(crate) fn len(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }

    /// True if no task is alive.
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// # Safety
/// The caller holds the shard lock and `ptr` is a live task not in any list.
unsafe fn push_front(shard: &mut Shard, ptr: NonNull<Header>) {
    // SAFETY: links are guarded by the shard lock, which the caller holds.
    unsafe {
        ptr.as_ref().owned.with_mut(|l| {
            *l = Links {
                prev: None,
                next: shard.head,
                in_list: true,
            };
        });
        if let Some(old) = shard.head {
            old.as_ref().owned.with_mut(|l| (*l).prev = Some(ptr));
        }
    }
    shard.head = Some(ptr);
}

/// Returns false if the task was not linked.
///
/// # Safety
/// The caller holds the lock of the shard the task belongs to, and `ptr` is live.
unsafe fn unlink(shard: &mut Shard, ptr: NonNull<Header>) -> bool {
    // SAFETY: links are guarded by the shard lock, which the caller holds.
    let links = unsafe {
        ptr.as_ref().owned.with_mut(|l| {
            let l = &mut *l;
            if !l.in_list {
                return None;
            }
            l.in_list = false;
            Some((l.prev.take(), l.next.take()))
        })
    };
    let Some((prev, next)) = links else {
        return false;
    };
    // SAFETY: neighbours are linked in the same shard, guarded by the held lock.
    unsafe {
        match prev {
            Some(p) => p.as_ref().owned.with_mut(|l| (*l).next = next),
            None => shard.head = next,
        }
        if let Some(n) = next {
            n.as_ref().owned.with_mut(|l| (*l).prev = prev);
        }
    }
    true
}

impl<S> std::fmt::Debug for OwnedTasks<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OwnedTasks")
            .field("len", &self.count.load(Ordering::Relaxed))
            .field("closed", &self.closed.load(Ordering::Relaxed))
            .finish()
    }
}

impl<S: 'static> Drop for OwnedTasks<S> {
    fn drop(&mut self) {
        debug_assert!(
            self.count.load(Ordering::Relaxed) == 0 || std::thread::panicking(),
            "a runtime's task list was dropped with live tasks; shut it down first"
        );
    }
}
