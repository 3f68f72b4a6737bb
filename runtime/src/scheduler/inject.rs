//! The multi-thread scheduler's injector: spawns and wake-ups from threads that are not its
//! workers wait here until a worker takes them.
//!
//! An intrusive queue (the link is in each task's header, see [`QueueLink`]) after
//! D. Vyukov's non-blocking multi-producer queue: a producer swaps itself in as `tail` and
//! then links its predecessor to itself. Consumers take `head`'s lock and walk from the
//! oldest item. So a push is a counter increment, a swap and two stores (its own link cleared,
//! its predecessor's set): it never waits, never allocates and takes no lock a worker takes.
//!
//! Why not crossbeam-deque's `Injector` (corio's injector until this one): it allocates a
//! 63-slot block on the pushing thread and the worker that empties a block frees it. With
//! `block_on` spawning 100,000 tasks on its own thread, glibc's `free` on a worker waited on
//! the arena lock that the spawner's `malloc` held (a few hundred futex sleeps per run of the
//! 100,000-sleep lateness benchmark), and a stealer that found a slot claimed but not yet
//! written by a descheduled pusher backed off with `sched_yield`; on 2 cores either costs a
//! worker an OS time slice while its timers wait. `benches/RESULTS.md` has the measurements.
//!
//! Invariants:
//! 1. `tail` is the item pushed last, or the stub. From `head` on, each item's link points to
//!    the next one pushed, except where a producer has swapped `tail` but not yet stored its
//!    predecessor's link: a consumer reaching that gap takes nothing more, not even the
//!    predecessor (invariant 2). The queue "looks empty" for the few instructions of a push;
//!    `len` still counts the items, so the park re-check (step 4 of the parking protocol in
//!    DESIGN.md) does not put a worker to sleep on them, and the producer's own wake-up
//!    (step 6) follows its link.
//! 2. An item is handed out only while its link is non-null, so it is never the tail and no
//!    producer writes its link afterwards: the item may be pushed again at once.
//! 3. `len` is at least the number of items a consumer can reach: a producer adds its one
//!    before it swaps `tail`, and a consumer reaches an item only through the Acquire load of
//!    the link its producer stored (Release) after that addition, so the consumer's
//!    subtraction never goes below zero.
//! 4. The stub (a bare link owned by the queue) keeps the list non-empty: it is the first
//!    item of an empty queue, is skipped when popped, and is pushed again when the consumer
//!    must take the last item (which can only leave once something is behind it).

use std::fmt;
use std::marker::PhantomData;
use std::ptr::NonNull;

use crate::loom::deque::{Steal, Worker};
use crate::loom::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};
use crate::loom::sync::Mutex;
use crate::util::cache_padded::CachePadded;
use crate::util::queue_link::{Linked, QueueLink};

/// The most items one batch moves into a worker's queue. It must cover the workers'
/// `global_queue_interval` (61 by default): a busy worker that takes fewer at its periodic
/// check runs the rest of the interval from its own queue, where tasks that stall it (a
/// spinning poll) come round again before the injector's next turn.
pub(crate) const MAX_BATCH: usize = 64;

/// The batch of [`Inject::steal_batch_and_pop`], when a worker's own queue ran dry: about
/// what crossbeam's injector gave (32 and the one returned).
pub(crate) const DRY_BATCH: usize = 33;

/// See the module doc.
pub(crate) struct Inject<T: Linked> {
    /// Producers' end (invariant 1). On its own line: every push writes it.
    tail: CachePadded<AtomicPtr<QueueLink>>,
    /// Consumers' end: the oldest item (or the stub), behind the consumers' lock.
    head: CachePadded<Mutex<Head>>,
    /// Invariant 3. Read without the lock by every worker's periodic check and park re-check.
    len: CachePadded<AtomicUsize>,
    /// Invariant 4. Boxed, so its address survives moves of the queue.
    stub: Box<QueueLink>,
    _items: PhantomData<T>,
}

/// The consumers' position; only touched under `Inject::head`'s lock.
struct Head(NonNull<QueueLink>);

// SAFETY: the pointer is only dereferenced under the lock that owns it, by whichever thread
// holds the lock; what it points at is the stub or a queued item, both alive while queued.
unsafe impl Send for Head {}

// SAFETY: the queue owns its items (`T: Send`) and hands each one out once, under the lock;
// all shared state is atomics and the lock.
unsafe impl<T: Linked + Send> Send for Inject<T> {}
// SAFETY: as for `Send`: pushes go through atomics, pops through the lock.
unsafe impl<T: Linked + Send> Sync for Inject<T> {}

impl<T: Linked> Inject<T> {
    pub(crate) fn new() -> Self {
        let stub = Box::new(QueueLink::new());
        let at = NonNull::from(&*stub);
        Self {
            tail: CachePadded(AtomicPtr::new(at.as_ptr())),
            head: CachePadded(Mutex::new(Head(at))),
            len: CachePadded(AtomicUsize::new(0)),
            stub,
            _items: PhantomData,
        }
    }

    /// Appends `item`. The caller follows it with a `SeqCst` fence before it looks for a
    /// sleeping worker (the parking protocol's step 6): `len` already counts the item then.
    pub(crate) fn push(&self, item: T) {
        // Relaxed: ordered before any consumer's subtraction by the link's Release (inv. 3).
        self.len.fetch_add(1, Ordering::Relaxed);
        self.push_link(item.into_link());
    }

    fn push_link(&self, link: NonNull<QueueLink>) {
        // SAFETY: `link` is ours to queue (an item just given up, or the stub, which is out
        // of the list when pushed again: invariant 4).
        unsafe { link.as_ref() }
            .next
            .store(std::ptr::null_mut(), Ordering::Relaxed);
        // AcqRel: Release publishes the null link above to the next producer, which stores
        // into it; Acquire orders our store into `prev` after its producer's null store.
        let prev = self.tail.swap(link.as_ptr(), Ordering::AcqRel);
        // SAFETY: `prev` was the tail, so it is still queued and alive (invariant 2: it cannot
        // be handed out before this link is stored).
        // Release pairs with the Acquire in `next_of`: the item's contents (and its `len`
        // increment) happen before a consumer can reach it.
        unsafe { &*prev }
            .next
            .store(link.as_ptr(), Ordering::Release);
    }

    /// Items queued, counting pushes under way (invariant 3).
    pub(crate) fn len(&self) -> usize {
        // SeqCst: the park re-check's load, ordered with the pusher's fence (see `push`).
        self.len.load(Ordering::SeqCst)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The oldest item, if one can be reached (the Vyukov pop). `head` is the locked
    /// consumers' position.
    fn pop_locked(&self, head: &mut Head) -> Option<NonNull<QueueLink>> {
        let stub = NonNull::from(&*self.stub);
        let mut first = head.0;
        // SAFETY: `head.0` is the stub or a queued item (invariant 1); lock held.
        let mut next = unsafe { next_of(first) };
        if first == stub {
            // Empty, or a gap right behind the stub.
            let after = NonNull::new(next)?;
            head.0 = after;
            first = after;
            // SAFETY: `after` was linked behind the stub, so it is queued; lock held.
            next = unsafe { next_of(first) };
        }
        if let Some(after) = NonNull::new(next) {
            head.0 = after;
            return Some(first);
        }
        // `first` is the last item reachable. Unless it is the tail, a producer is between
        // its swap and its link, and `first` must wait for that link (invariants 1 and 2).
        if self.tail.load(Ordering::Acquire) != first.as_ptr() {
            return None;
        }
        // It is the tail: queue the stub behind it, so that it can leave (invariant 4).
        self.push_link(stub);
        // SAFETY: `first` is still queued (we have not moved `head` past it); lock held.
        let after = NonNull::new(unsafe { next_of(first) })?;
        head.0 = after;
        Some(first)
    }

    /// Takes the oldest item and moves up to `limit - 1` more (about half of what is queued,
    /// at most [`MAX_BATCH`] in all) into `dest`. `Empty` also when the oldest item's push is
    /// still under way (invariant 1); `len` then still counts it.
    pub(crate) fn steal_batch_with_limit_and_pop(
        &self,
        dest: &Worker<T>,
        limit: usize,
    ) -> Steal<T> {
        if self.len.load(Ordering::Relaxed) == 0 {
            return Steal::Empty;
        }
        let mut head = self.head.lock();
        let queued = self.len.load(Ordering::Relaxed);
        let want = limit.min(queued.div_ceil(2)).clamp(1, MAX_BATCH);
        let Some(first) = self.pop_locked(&mut head) else {
            return Steal::Empty;
        };
        let mut taken = 1;
        while taken < want {
            let Some(link) = self.pop_locked(&mut head) else {
                break;
            };
            // SAFETY: handed out once by `pop_locked`, from `T::into_link` in `push`.
            dest.push(unsafe { T::from_link(link) });
            taken += 1;
        }
        // Relaxed: nothing is published through `len`; the lock orders the consumers.
        self.len.fetch_sub(taken, Ordering::Relaxed);
        drop(head);
        // SAFETY: as above.
        Steal::Success(unsafe { T::from_link(first) })
    }

    /// As [`Inject::steal_batch_with_limit_and_pop`] for a worker whose own queue ran dry.
    pub(crate) fn steal_batch_and_pop(&self, dest: &Worker<T>) -> Steal<T> {
        self.steal_batch_with_limit_and_pop(dest, DRY_BATCH)
    }

    /// Takes the oldest item alone (shutdown's drain).
    pub(crate) fn steal(&self) -> Steal<T> {
        if self.len.load(Ordering::Relaxed) == 0 {
            return Steal::Empty;
        }
        let mut head = self.head.lock();
        match self.pop_locked(&mut head) {
            Some(link) => {
                self.len.fetch_sub(1, Ordering::Relaxed);
                // SAFETY: handed out once by `pop_locked`, from `T::into_link` in `push`.
                Steal::Success(unsafe { T::from_link(link) })
            }
            // A push under way: the caller retries.
            None => Steal::Retry,
        }
    }
}

/// The link stored behind `link`, or null.
///
/// # Safety
/// `link` is the stub or a queued item (alive while queued), and the caller holds the
/// consumers' lock.
unsafe fn next_of(link: NonNull<QueueLink>) -> *mut QueueLink {
    // SAFETY: alive per the contract. Acquire pairs with the Release in `push_link`: the
    // item's contents (and its `len` increment) happen before it can be reached.
    unsafe { link.as_ref() }.next.load(Ordering::Acquire)
}

impl<T: Linked> Drop for Inject<T> {
    fn drop(&mut self) {
        // No push can be under way (`&mut self`), so every item is reachable.
        let mut head = self.head.lock();
        while let Some(link) = self.pop_locked(&mut head) {
            // SAFETY: handed out once by `pop_locked`, from `T::into_link` in `push`.
            drop(unsafe { T::from_link(link) });
        }
    }
}

impl<T: Linked> fmt::Debug for Inject<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Inject").field("len", &self.len()).finish()
    }
}

/// The injector a runtime uses: [`Inject`] itself, or under loom a locked stand-in (see
/// its module doc; the real queue has its own models).
#[cfg(not(loom))]
pub(crate) use self::Inject as RuntimeInject;

#[cfg(loom)]
mod stand_in;
#[cfg(loom)]
pub(crate) use self::stand_in::Inject as RuntimeInject;

#[cfg(test)]
mod test_item;

#[cfg(all(test, not(loom)))]
mod tests;

#[cfg(all(test, loom))]
mod loom_tests;
