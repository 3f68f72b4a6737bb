//! [`JoinSet`]: a set of spawned tasks whose outputs are taken in the order they finish.
//!
//! Each entry pairs a task's `JoinHandle` with its own *entry waker*. The handle is only
//! ever polled with that waker, so when the task completes the runtime wakes exactly that
//! entry, which puts itself on a shared ready list. `join_next` pops from the list: it never
//! scans the set, so taking one result costs O(1) however many tasks are in the set.
//!
//! Protocol:
//! 1. Insert: the entry gets a slab key, the slot's generation and an [`EntryWaker`] whose
//!    `queued` flag starts set; `(key, generation)` is pushed on the ready list, so the first
//!    `join_next` polls the handle once, which registers the entry waker with the task.
//! 2. Wake (any thread): if `queued` was clear, set it and, under the ready lock, push
//!    `(key, generation)` and take the parent waker (the task awaiting `join_next`); wake the
//!    parent after the lock is released.
//! 3. `join_next`: under the ready lock, store the caller's waker as parent, then pop one
//!    `(key, generation)`. A generation that no longer matches its slot is a late wake of a
//!    removed entry: skip it. Clear `queued` *before* polling the handle (a swap, paired with
//!    the swap of step 2), so a completion during or after the poll queues the entry again
//!    and none is lost. `Ready`: remove the entry, return the output. `Pending` with budget
//!    left: the handle registered the entry waker, pop the next. `Pending` because the coop
//!    budget is spent: the handle already woke the entry (re-queued), return `Pending`.
//! 4. Nothing popped: `None` if the set is empty, else `Pending`. The parent was stored in
//!    the same critical section as the pop, so a step 2 after it finds the parent.
//!
//! Removing an entry bumps its slot's generation, so stale ready-list items are harmless
//! and the ready list never points at a reused slot by mistake.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};

use super::{AbortHandle, Id, JoinError, JoinHandle, LocalSet};
use crate::coop;
use crate::loom::sync::atomic::{AtomicBool, Ordering};
use crate::loom::sync::{Arc, Mutex};
use crate::runtime::Handle;

/// A collection of tasks spawned on a runtime, awaited in the order they complete.
///
/// All tasks must have the same output type `T`. Dropping the set aborts every task still
/// in it (use [`JoinSet::detach_all`] first to keep them running).
///
/// ```
/// corio::run(async {
///     let mut set = corio::task::JoinSet::new();
///     for i in 0..10u64 {
///         set.spawn(async move { i * i });
///     }
///     let mut sum = 0;
///     while let Some(res) = set.join_next().await {
///         sum += res.unwrap();
///     }
///     assert_eq!(sum, 285);
/// });
/// ```
pub struct JoinSet<T> {
    slots: Vec<Slot<T>>,
    /// Keys of empty slots, reused by the next insert.
    free: Vec<usize>,
    len: usize,
    ready: Arc<Ready>,
}

struct Slot<T> {
    /// Bumped each time the slot's entry is removed (step 3 skips stale keys).
    generation: u64,
    entry: Option<Entry<T>>,
}

struct Entry<T> {
    handle: JoinHandle<T>,
    state: Arc<EntryWaker>,
    waker: Waker,
}

/// The ready list, shared with every entry waker.
struct Ready {
    inner: Mutex<ReadyInner>,
}

struct ReadyInner {
    queue: VecDeque<(usize, u64)>,
    /// The waker of whoever awaits `join_next`.
    parent: Option<Waker>,
}

/// The waker one entry's handle is polled with (step 2).
struct EntryWaker {
    ready: Arc<Ready>,
    key: usize,
    generation: u64,
    /// Set while `(key, generation)` is on the ready list or about to be.
    queued: AtomicBool,
}

impl<T> JoinSet<T> {
    /// An empty set.
    pub fn new() -> Self {
        JoinSet {
            slots: Vec::new(),
            free: Vec::new(),
            len: 0,
            ready: Arc::new(Ready {
                inner: Mutex::new(ReadyInner {
                    queue: VecDeque::new(),
                    parent: None,
                }),
            }),
        }
    }

    /// The number of tasks in the set (finished ones count until they are joined).
    pub fn len(&self) -> usize {
        self.len
    }

    /// True if the set holds no task.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Step 1: adds a task by its handle; returns an [`AbortHandle`] for it.
    fn insert(&mut self, handle: JoinHandle<T>) -> AbortHandle {
        let abort = handle.abort_handle();
        let key = match self.free.pop() {
            Some(key) => key,
            None => {
                self.slots.push(Slot {
                    generation: 0,
                    entry: None,
                });
                self.slots.len() - 1
            }
        };
        let generation = self.slots[key].generation;
        let state = Arc::new(EntryWaker {
            ready: self.ready.clone(),
            key,
            generation,
            queued: AtomicBool::new(true),
        });
        let waker = EntryWaker::waker(&state);
        self.slots[key].entry = Some(Entry {
            handle,
            state,
            waker,
        });
        self.len += 1;
        self.ready.inner.lock().queue.push_back((key, generation));
        abort
    }

    fn remove(&mut self, key: usize) -> Option<Entry<T>> {
        let slot = &mut self.slots[key];
        let entry = slot.entry.take()?;
        slot.generation += 1;
        self.free.push(key);
        self.len -= 1;
        Some(entry)
    }

    /// Spawns `future` on the current runtime into this set.
    ///
    /// # Panics
    /// Outside a runtime, as [`crate::spawn`].
    #[track_caller]
    pub fn spawn<F>(&mut self, future: F) -> AbortHandle
    where
        F: Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        self.insert(super::spawn(future))
    }

    /// Spawns `future` on the runtime of `handle` into this set.
    pub fn spawn_on<F>(&mut self, future: F, handle: &Handle) -> AbortHandle
    where
        F: Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        self.insert(handle.spawn(future))
    }

    /// Runs the blocking function `f` on the current runtime's blocking pool, as a member of
    /// this set.
    ///
    /// # Panics
    /// Outside a runtime, as [`super::spawn_blocking`].
    #[track_caller]
    pub fn spawn_blocking<F>(&mut self, f: F) -> AbortHandle
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.insert(super::spawn_blocking(f))
    }

    /// Runs `f` on the blocking pool of `handle`'s runtime, as a member of this set.
    pub fn spawn_blocking_on<F>(&mut self, f: F, handle: &Handle) -> AbortHandle
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.insert(handle.spawn_blocking(f))
    }

    /// Spawns a `!Send` future on the current [`LocalSet`] into this set.
    ///
    /// # Panics
    /// Outside a `LocalSet`, as [`super::spawn_local`].
    #[track_caller]
    pub fn spawn_local<F>(&mut self, future: F) -> AbortHandle
    where
        F: Future<Output = T> + 'static,
        T: 'static,
    {
        self.insert(super::spawn_local(future))
    }

    /// Spawns a `!Send` future on `local` into this set.
    pub fn spawn_local_on<F>(&mut self, future: F, local: &LocalSet) -> AbortHandle
    where
        F: Future<Output = T> + 'static,
        T: 'static,
    {
        self.insert(local.spawn_local(future))
    }

    /// Waits for any task of the set to finish and returns its output, or `None` when the
    /// set is empty. Cancel-safe: dropping the future loses no output.
    pub async fn join_next(&mut self) -> Option<Result<T, JoinError>> {
        std::future::poll_fn(|cx| self.poll_join_next(cx)).await
    }

    /// As [`JoinSet::join_next`], with the id of the task that finished.
    pub async fn join_next_with_id(&mut self) -> Option<Result<(Id, T), JoinError>> {
        std::future::poll_fn(|cx| self.poll_join_next_with_id(cx)).await
    }

    /// The poll form of [`JoinSet::join_next`].
    pub fn poll_join_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<T, JoinError>>> {
        self.poll_join_next_with_id(cx)
            .map(|o| o.map(|r| r.map(|(_, v)| v)))
    }

    /// The poll form of [`JoinSet::join_next_with_id`] (protocol steps 3 and 4).
    pub fn poll_join_next_with_id(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<(Id, T), JoinError>>> {
        loop {
            let popped = {
                let mut inner = self.ready.inner.lock();
                if !inner
                    .parent
                    .as_ref()
                    .is_some_and(|w| w.will_wake(cx.waker()))
                {
                    inner.parent = Some(cx.waker().clone());
                }
                inner.queue.pop_front()
            };
            let Some((key, generation)) = popped else {
                return if self.len == 0 {
                    Poll::Ready(None)
                } else {
                    Poll::Pending
                };
            };
            match self.poll_entry(key, generation) {
                Some(Poll::Ready(res)) => return Poll::Ready(Some(res)),
                Some(Poll::Pending) if !coop::has_budget_remaining() => return Poll::Pending,
                // Registered (or stale): look at the next ready entry.
                Some(Poll::Pending) | None => {}
            }
        }
    }

    /// Returns the output of a task that has already finished, without waiting; `None` if
    /// none has (or the set is empty).
    pub fn try_join_next(&mut self) -> Option<Result<T, JoinError>> {
        self.try_join_next_with_id().map(|r| r.map(|(_, v)| v))
    }

    /// As [`JoinSet::try_join_next`], with the id of the task that finished.
    pub fn try_join_next_with_id(&mut self) -> Option<Result<(Id, T), JoinError>> {
        // Only the entries queued now: each is popped at most once, so this terminates.
        let queued = self.ready.inner.lock().queue.len();
        for _ in 0..queued {
            let (key, generation) = self.ready.inner.lock().queue.pop_front()?;
            // Not a future: it cannot be made to yield, so the budget does not apply.
            if let Some(Poll::Ready(res)) =
                coop::with_unconstrained(|| self.poll_entry(key, generation))
            {
                return Some(res);
            }
        }
        None
    }

    /// Polls one popped entry with its own waker (step 3); `None` if the key is stale.
    fn poll_entry(
        &mut self,
        key: usize,
        generation: u64,
    ) -> Option<Poll<Result<(Id, T), JoinError>>> {
        let slot = self.slots.get_mut(key)?;
        if slot.generation != generation {
            return None;
        }
        let entry = slot.entry.as_mut()?;
        // AcqRel: pairs with the swap in `EntryWaker::wake`. Whichever swap comes second
        // sees the other: either the wake finds the flag clear and queues the entry again,
        // or we read its `true` and so see the completion it announced when we poll.
        entry.state.queued.swap(false, Ordering::AcqRel);
        let mut ecx = Context::from_waker(&entry.waker);
        match Pin::new(&mut entry.handle).poll(&mut ecx) {
            Poll::Ready(res) => {
                let id = entry.handle.id();
                drop(self.remove(key));
                Some(Poll::Ready(res.map(|v| (id, v))))
            }
            Poll::Pending => Some(Poll::Pending),
        }
    }

    /// Aborts every task in the set. They stay in it: `join_next` reports each one, as a
    /// cancelled [`JoinError`] unless it had already finished.
    pub fn abort_all(&mut self) {
        for entry in self.slots.iter().filter_map(|s| s.entry.as_ref()) {
            entry.handle.abort();
        }
    }

    /// Aborts every task and waits until all have stopped, discarding their results.
    pub async fn shutdown(&mut self) {
        self.abort_all();
        while self.join_next().await.is_some() {}
    }

    /// Removes every task from the set without aborting it: they keep running detached.
    pub fn detach_all(&mut self) {
        for key in 0..self.slots.len() {
            drop(self.remove(key));
        }
        self.ready.inner.lock().queue.clear();
    }

    /// Waits for every task and returns their outputs in completion order.
    ///
    /// # Panics
    /// If a task panicked (its panic is resumed here) or was cancelled; the remaining tasks
    /// are aborted first, as the set is dropped.
    pub async fn join_all(mut self) -> Vec<T> {
        let mut out = Vec::with_capacity(self.len);
        while let Some(res) = self.join_next().await {
            match res {
                Ok(v) => out.push(v),
                Err(e) => {
                    drop(self);
                    match e.try_into_panic() {
                        Ok(payload) => std::panic::resume_unwind(payload),
                        Err(e) => panic!("JoinSet::join_all: {e}"),
                    }
                }
            }
        }
        out
    }
}

impl<T> Default for JoinSet<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Drop for JoinSet<T> {
    fn drop(&mut self) {
        self.abort_all();
    }
}

impl<T> fmt::Debug for JoinSet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinSet").field("len", &self.len).finish()
    }
}

impl EntryWaker {
    /// Step 2.
    fn wake(&self) {
        // AcqRel: see `poll_entry`.
        if self.queued.swap(true, Ordering::AcqRel) {
            return;
        }
        let parent = {
            let mut inner = self.ready.inner.lock();
            inner.queue.push_back((self.key, self.generation));
            inner.parent.take()
        };
        if let Some(parent) = parent {
            parent.wake();
        }
    }

    fn waker(me: &Arc<Self>) -> Waker {
        let raw = Arc::into_raw(me.clone()) as *const ();
        // SAFETY: `raw` is a strong count of an `Arc<EntryWaker>` owned by the waker, which
        // is what every function of `ENTRY_WAKER` expects.
        unsafe { Waker::from_raw(RawWaker::new(raw, &ENTRY_WAKER)) }
    }
}

static ENTRY_WAKER: RawWakerVTable = RawWakerVTable::new(
    entry_waker_clone,
    entry_waker_wake,
    entry_waker_wake_by_ref,
    entry_waker_drop,
);

unsafe fn entry_waker_clone(ptr: *const ()) -> RawWaker {
    // SAFETY: the waker being cloned owns a strong count of this `Arc<EntryWaker>`.
    unsafe { Arc::increment_strong_count(ptr as *const EntryWaker) };
    RawWaker::new(ptr, &ENTRY_WAKER)
}

unsafe fn entry_waker_wake(ptr: *const ()) {
    // SAFETY: the waker owns this strong count; taken back to be dropped after the wake.
    let me = unsafe { Arc::from_raw(ptr as *const EntryWaker) };
    me.wake();
}

unsafe fn entry_waker_wake_by_ref(ptr: *const ()) {
    // SAFETY: the waker keeps the Arc alive for the call.
    unsafe { &*(ptr as *const EntryWaker) }.wake();
}

unsafe fn entry_waker_drop(ptr: *const ()) {
    // SAFETY: the waker owns this strong count.
    drop(unsafe { Arc::from_raw(ptr as *const EntryWaker) });
}

impl fmt::Debug for EntryWaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EntryWaker")
            .field("key", &self.key)
            .field("generation", &self.generation)
            .finish_non_exhaustive()
    }
}

#[allow(dead_code)]
fn _assert_send_sync() {
    fn is<T: Send + Sync>() {}
    is::<JoinSet<u32>>();
}

#[cfg(all(test, loom))]
mod loom_tests;
#[cfg(all(test, not(loom)))]
mod tests;
