//! Notify: wake one waiting task, or all of them, with Tokio's permit semantics.
//!
//! State: one atomic word, [`Notify::state`], holding the count of `notify_waiters` calls
//! (the *generation*, above [`GEN_SHIFT`]) and one of [`EMPTY`], [`WAITING`] (the list is
//! non-empty) or [`NOTIFIED`] (a stored permit); behind a lock, a FIFO list of waiters (nodes
//! inside [`Notified`] futures).
//!
//! Invariant S: the low bits are WAITING exactly while the list is non-empty; they only
//! enter or leave WAITING with the lock held. So with no one waiting, `notify_one` and the
//! first poll of a `Notified` exchange the permit with a CAS, without the lock.
//!
//! Protocol (every access to the word is SeqCst, as the generation snapshot and the permit
//! CAS must agree on one order of `notify_*` calls and first polls):
//! 1. `notified()` snapshots the generation. Any `notify_waiters` after that moment
//!    completes the future, even if it was never polled.
//! 2. First poll: generation moved since the snapshot: ready. NOTIFIED: CAS it to EMPTY (take
//!    the permit), ready. Otherwise lock and re-check; then CAS EMPTY to WAITING (a racing
//!    lock-free `notify_one` makes the CAS fail and the loop take its permit instead), push
//!    the node (with the waker and the generation) and wait.
//! 3. `notify_one`: EMPTY or NOTIFIED: CAS to NOTIFIED (at most one permit is kept), done.
//!    WAITING: lock, pop the oldest waiter (back to EMPTY if it was the last), take its
//!    waker, then mark it `One` (the last touch of the waiter: see step 5); wake it after
//!    unlocking.
//! 4. `notify_waiters`: if the low bits are not WAITING, CAS the generation up and stop
//!    (nothing is queued, and a racing first poll's CAS to WAITING fails and sees the new
//!    generation, or succeeds first and makes ours fail). Otherwise, under the lock: bump
//!    the generation, clear WAITING and take the whole list out (O(1)); unlock. Then,
//!    without the lock, pop every node of the taken list, take its waker and mark it `All`;
//!    wake them all once every node is marked. Waiters that queue meanwhile go on the
//!    (fresh) list with the new generation and are left alone. A stored permit is left as
//!    it is.
//! 5. The mark is an atomic in the [`Notified`] future itself, outside the list node: the
//!    notifier stores it (Release) last, after unlinking the node and taking the waker, and
//!    never touches that waiter again. So a woken future reads it (Acquire) without the lock
//!    and, once marked, may complete and be freed at once.
//! 6. An unmarked waiter that needs its node (a poll to refresh its waker, a drop to unlink
//!    it) locks first. Its node is then either still on the list, and its generation is the
//!    current one (step 4 takes every node out in the same critical section as it bumps the
//!    generation), or in a list taken by a `notify_waiters` that is marking it right now
//!    (the generation moved). In the second case the node is the notifier's until the mark
//!    lands: a poll asks to be polled again (`wake_by_ref`) instead of waiting, and a drop
//!    waits for the mark, which comes after a bounded run of stores: no waker or other user
//!    code runs while a taken node is unmarked.
//! 7. A future dropped after being marked `One` but before returning `Ready` passes the
//!    notification on (step 3 again), so a cancelled waiter never swallows a `notify_one`.
//!
//! Why step 4 takes the list out instead of popping under the lock, as `notify_one` does:
//! every node lives in another task's memory, so walking the list costs a cache miss per
//! waiter, and woken waiters re-queue (taking the lock) while the walk goes on. Holding the
//! lock for the walk made the workers wait on it (`benches/RESULTS.md`, 2026-12-02).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{ready, Context, Poll, Waker};

use crate::coop;
use crate::loom::hint::spin_loop;
use crate::loom::sync::atomic::{AtomicUsize, Ordering};
use crate::loom::sync::{Mutex, MutexGuard};
use crate::loom::thread::yield_now;
use crate::util::linked_list::{LinkedList, Node};
use crate::util::wake_list::WakeList;

/// Wakes tasks waiting on it, one at a time or all at once.
///
/// [`notify_one`](Notify::notify_one) with nobody waiting stores a single permit that the
/// next [`notified`](Notify::notified) consumes at once. [`notify_waiters`](Notify::notify_waiters)
/// wakes every `Notified` future created before the call (polled or not) and stores nothing.
///
/// ```
/// use std::sync::Arc;
/// use corio::sync::Notify;
/// # futures_lite::future::block_on(async {
/// let notify = Arc::new(Notify::new());
/// notify.notify_one(); // stored as a permit
/// notify.notified().await; // consumes it without waiting
/// # });
/// ```
pub struct Notify {
    /// Generation and EMPTY / WAITING / NOTIFIED; see the module doc.
    state: AtomicUsize,
    waiters: Mutex<LinkedList<Waiter>>,
}

/// Nobody waits and no permit is stored.
const EMPTY: usize = 0;
/// The waiter list is non-empty (invariant S).
const WAITING: usize = 1;
/// A `notify_one` permit is stored.
const NOTIFIED: usize = 2;
const STATE_MASK: usize = 3;
/// The generation lives above the state bits.
const GEN_SHIFT: u32 = 2;
const _: () = assert!((EMPTY | WAITING | NOTIFIED) & !STATE_MASK == 0);
const _: () = assert!(STATE_MASK >> GEN_SHIFT == 0);

fn generation(word: usize) -> usize {
    word >> GEN_SHIFT
}

fn with_state(word: usize, state: usize) -> usize {
    (word & !STATE_MASK) | state
}

/// Values of a [`Notified`] future's `mark` (step 5).
const UNMARKED: usize = 0;
/// Woken by `notify_one`: a cancelled waiter must pass it on.
const MARK_ONE: usize = 1;
/// Woken by `notify_waiters`.
const MARK_ALL: usize = 2;

/// A waiter's node contents.
#[derive(Debug)]
struct Waiter {
    waker: Option<Waker>,
    /// The `mark` field of the pinned [`Notified`] that owns this node; set when pushed.
    mark: Option<MarkPtr>,
}

/// Where a queued waiter's notifier stores its mark (step 5).
#[derive(Debug, Clone, Copy)]
struct MarkPtr(NonNull<AtomicUsize>);

// SAFETY: it points at an atomic, which any thread may access; it is only dereferenced by the
// notifier, under the lock, while the `Notified` that owns the atomic is pinned and queued.
unsafe impl Send for MarkPtr {}
// SAFETY: as for `Send`: shared access only ever reaches an atomic.
unsafe impl Sync for MarkPtr {}

impl Notify {
    /// A `Notify` with no permit and no waiters.
    pub fn new() -> Self {
        Self {
            state: AtomicUsize::new(EMPTY),
            waiters: Mutex::new(LinkedList::new()),
        }
    }

    /// A future that completes on the next notification (step 1 of the module protocol).
    pub fn notified(&self) -> Notified<'_> {
        Notified {
            notify: self,
            generation: generation(self.state.load(Ordering::SeqCst)),
            node: Node::new(Waiter {
                waker: None,
                mark: None,
            }),
            mark: AtomicUsize::new(UNMARKED),
            state: NotifiedState::Init,
        }
    }

    /// Wakes the oldest waiter, or stores a permit for the next one if nobody waits.
    pub fn notify_one(&self) {
        // Step 3, lock-free while nobody waits.
        if self.update_unless_waiting(|curr| with_state(curr, NOTIFIED)) {
            return;
        }
        if let Some(w) = self.notify_one_locked(self.waiters.lock()) {
            w.wake();
        }
    }

    /// Step 3 with the lock held (also the hand-on of step 7).
    fn notify_one_locked(&self, mut waiters: MutexGuard<'_, LinkedList<Waiter>>) -> Option<Waker> {
        let mut curr = self.state.load(Ordering::SeqCst);
        loop {
            if curr & STATE_MASK == WAITING {
                let node = waiters
                    .pop_front()
                    .expect("invariant S: WAITING with an empty waiter list");
                if waiters.is_empty() {
                    // Nothing else changes the word while it is WAITING and we hold the lock.
                    self.state.store(with_state(curr, EMPTY), Ordering::SeqCst);
                }
                // SAFETY: the node was linked in our list, so it is live; lock held.
                let (waker, mark) = unsafe { Node::with_value(node, |w| (w.waker.take(), w.mark)) };
                // SAFETY: see `set_mark`; nothing touches the waiter after this.
                unsafe { set_mark(mark, MARK_ONE) };
                return waker;
            }
            match self.state.compare_exchange(
                curr,
                with_state(curr, NOTIFIED),
                Ordering::SeqCst,
                Ordering::SeqCst,
            ) {
                Ok(_) => return None,
                Err(actual) => curr = actual,
            }
        }
    }

    /// Wakes every task waiting now (and every `Notified` created before this call).
    /// Stores no permit.
    ///
    /// It holds the lock for a constant time, whatever the number of waiters: new waiters
    /// can queue while it wakes the old ones. Past 32 waiters it allocates one buffer for
    /// their wakers (all are taken before any is woken).
    pub fn notify_waiters(&self) {
        // Step 4, lock-free while nobody waits: the list is empty (invariant S), so bumping
        // the generation is all there is to do.
        if self.update_unless_waiting(|curr| curr.wrapping_add(1 << GEN_SHIFT)) {
            return;
        }
        let mut waiters = self.waiters.lock();
        // Step 4. The generation wraps; a stored permit is kept.
        let curr = self.state.load(Ordering::SeqCst);
        if curr & STATE_MASK == WAITING {
            // Lock held and WAITING: nothing else changes the word (invariant S), so one
            // store bumps the generation and clears WAITING for the list we take out.
            let next = with_state(curr.wrapping_add(1 << GEN_SHIFT), EMPTY);
            self.state.store(next, Ordering::SeqCst);
        } else {
            // The list emptied before we locked; lock-free notifies may still change the
            // low bits.
            self.state.fetch_add(1 << GEN_SHIFT, Ordering::SeqCst);
        }
        let mut taken = std::mem::take(&mut *waiters);
        drop(waiters);
        let mut wakers = WakeList::new();
        // Only past `NUM_WAKERS` waiters: every node must be marked before any waker runs
        // (step 6), so the wakers cannot be woken batch by batch.
        let mut more = Vec::new();
        while let Some(node) = taken.pop_front() {
            // SAFETY: `taken` is ours alone: its nodes' owners do not touch them before
            // their mark (step 6), and unlinking read and wrote only this node and its
            // successor, both unmarked, hence live.
            let (waker, mark) = unsafe { Node::with_value(node, |w| (w.waker.take(), w.mark)) };
            // SAFETY: see `set_mark`; nothing touches the waiter after this.
            unsafe { set_mark(mark, MARK_ALL) };
            if let Some(w) = waker {
                if wakers.can_push() {
                    wakers.push(w);
                } else {
                    more.push(w);
                }
            }
        }
        wakers.wake_all();
        more.into_iter().for_each(Waker::wake);
    }
}

/// Step 5: completes a waiter just unlinked from the list (or from a list taken out).
///
/// # Safety
///
/// `mark` is the `mark` of a waiter that was linked until now, read either under the lock
/// that is still held or from a list taken out by `notify_waiters` (step 4). Its `Notified`
/// is pinned, unmarked, and cannot be freed before this store: its `Drop` and its poll both
/// wait for a mark or the lock, and see a taken node as not theirs (step 6). The caller
/// must not touch that waiter (node or future) after this call.
unsafe fn set_mark(mark: Option<MarkPtr>, value: usize) {
    let mark = mark.expect("a queued waiter has its mark pointer set");
    // SAFETY: live per the contract above; an atomic is fine to share across threads.
    // Release pairs with the Acquire load in `Notified::poll`, publishing the unlink.
    unsafe { mark.0.as_ref() }.store(value, Ordering::Release);
}

impl Notify {
    /// Steps 3 and 4 without the lock: CAS the word to `f(word)` unless it is WAITING.
    /// Returns false if it is (or becomes) WAITING; the caller then takes the lock. A first
    /// poll enters WAITING with its own CAS on this word, so the two are ordered: either it
    /// sees our update (and re-checks) or our CAS fails and we see WAITING.
    fn update_unless_waiting(&self, f: impl Fn(usize) -> usize) -> bool {
        let mut curr = self.state.load(Ordering::SeqCst);
        while curr & STATE_MASK != WAITING {
            match self
                .state
                .compare_exchange(curr, f(curr), Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(_) => return true,
                Err(actual) => curr = actual,
            }
        }
        false
    }

    /// Step 2 without the lock: true if the future created at generation `gen` is done,
    /// taking a stored permit if need be.
    fn take_notification(&self, gen: usize) -> bool {
        let mut curr = self.state.load(Ordering::SeqCst);
        loop {
            if generation(curr) != gen {
                return true;
            }
            if curr & STATE_MASK != NOTIFIED {
                return false;
            }
            match self.state.compare_exchange(
                curr,
                with_state(curr, EMPTY),
                Ordering::SeqCst,
                Ordering::SeqCst,
            ) {
                Ok(_) => return true,
                Err(actual) => curr = actual,
            }
        }
    }

    /// Step 6, with the lock held, for an unmarked waiter created at generation `gen`: true
    /// if its node is still on the list, false if a `notify_waiters` has taken it out.
    fn still_queued(&self, gen: usize) -> bool {
        generation(self.state.load(Ordering::SeqCst)) == gen
    }

    /// Step 2 with the lock held: as [`Notify::take_notification`], but if not done, sets
    /// WAITING (the caller then pushes its node before unlocking) and returns false.
    fn take_or_set_waiting(&self, gen: usize) -> bool {
        let mut curr = self.state.load(Ordering::SeqCst);
        loop {
            if generation(curr) != gen {
                return true;
            }
            let next = match curr & STATE_MASK {
                NOTIFIED => with_state(curr, EMPTY),
                WAITING => return false,
                _ => with_state(curr, WAITING),
            };
            match self
                .state
                .compare_exchange(curr, next, Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(_) => return next & STATE_MASK == EMPTY,
                Err(actual) => curr = actual,
            }
        }
    }
}

impl Default for Notify {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Notify {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let waiters = self.waiters.lock().len();
        f.debug_struct("Notify")
            .field("waiters", &waiters)
            .field(
                "permit",
                &(self.state.load(Ordering::SeqCst) & STATE_MASK == NOTIFIED),
            )
            .finish()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NotifiedState {
    Init,
    Waiting,
    Done,
}

/// The future of [`Notify::notified`].
#[must_use = "futures do nothing unless polled"]
pub struct Notified<'a> {
    notify: &'a Notify,
    generation: usize,
    node: Node<Waiter>,
    /// [`UNMARKED`], [`MARK_ONE`] or [`MARK_ALL`]; written by the notifier (step 5).
    mark: AtomicUsize,
    state: NotifiedState,
}

// SAFETY: the node is only touched under the Notify's lock, and holds a `Waker` and plain
// data, all `Send + Sync`.
unsafe impl Send for Notified<'_> {}
// SAFETY: `&Notified` gives access to nothing.
unsafe impl Sync for Notified<'_> {}

impl Future for Notified<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // SAFETY: we never move out of `self`; the node stays put.
        let this = unsafe { self.get_unchecked_mut() };
        let node = NonNull::from(&this.node);
        let restore = ready!(coop::poll_proceed(cx));
        match this.state {
            NotifiedState::Init => {
                // Step 2, lock-free unless we have to queue.
                if !this.notify.take_notification(this.generation) {
                    // Cloned before locking: the clone touches the task's reference count,
                    // which the thread that woke this task has just written, and every
                    // cache miss inside the lock is one that notifiers wait for.
                    let waker = cx.waker().clone();
                    let mut waiters = this.notify.waiters.lock();
                    if !this.notify.take_or_set_waiting(this.generation) {
                        let mark = MarkPtr(NonNull::from(&this.mark));
                        // SAFETY: our pinned node is in no list; lock held. `mark` stays valid
                        // while the node is linked: both live in this pinned future, whose
                        // `Drop` unlinks under the lock. WAITING is set (invariant S).
                        unsafe {
                            Node::with_value(node, |w| {
                                w.waker = Some(waker);
                                w.mark = Some(mark);
                            });
                            waiters.push_back(node);
                        }
                        this.state = NotifiedState::Waiting;
                        return Poll::Pending;
                    }
                }
            }
            NotifiedState::Waiting => {
                // Step 5. Acquire pairs with the Release in `set_mark`: once marked, the
                // notifier has unlinked our node and will not touch it again.
                if this.mark.load(Ordering::Acquire) == UNMARKED {
                    let waiters = this.notify.waiters.lock();
                    if this.mark.load(Ordering::Acquire) == UNMARKED {
                        if this.notify.still_queued(this.generation) {
                            // SAFETY: our node is live and on the list (step 6); lock held.
                            unsafe {
                                Node::with_value(node, |w| {
                                    if !w.waker.as_ref().is_some_and(|k| k.will_wake(cx.waker())) {
                                        w.waker = Some(cx.waker().clone());
                                    }
                                });
                            }
                        } else {
                            // Step 6: a `notify_waiters` is marking our node now and will
                            // wake the waker it took, which may not be this one: come back.
                            cx.waker().wake_by_ref();
                            // Under loom, a waiter polled again at once would spin without
                            // the notifier ever running: tell the model to run others first.
                            #[cfg(loom)]
                            yield_now();
                        }
                        drop(waiters);
                        return Poll::Pending;
                    }
                }
            }
            NotifiedState::Done => {}
        }
        this.state = NotifiedState::Done;
        restore.made_progress();
        Poll::Ready(())
    }
}

impl Drop for Notified<'_> {
    fn drop(&mut self) {
        if self.state != NotifiedState::Waiting {
            return;
        }
        let node = NonNull::from(&self.node);
        let mut waiters = self.notify.waiters.lock();
        // Acquire: as in `poll`; a marked node is no longer the notifier's.
        match self.mark.load(Ordering::Acquire) {
            UNMARKED if self.notify.still_queued(self.generation) => {
                // SAFETY: our node is live and on this Notify's list (step 6); lock held.
                unsafe { waiters.remove(node) };
                if waiters.is_empty() {
                    // Invariant S. Lock held and WAITING, so nothing else changes the word.
                    let curr = self.notify.state.load(Ordering::SeqCst);
                    if curr & STATE_MASK == WAITING {
                        self.notify
                            .state
                            .store(with_state(curr, EMPTY), Ordering::SeqCst);
                    }
                }
            }
            UNMARKED => {
                // Step 6: a `notify_waiters` took our node and marks it within a few stores;
                // our memory must outlive that store.
                drop(waiters);
                let mut spins = 0u32;
                while self.mark.load(Ordering::Acquire) == UNMARKED {
                    if spins < 64 {
                        spins += 1;
                        spin_loop();
                    } else {
                        yield_now();
                    }
                }
            }
            // Step 7: hand the notification on (marked `One` under the lock we hold).
            MARK_ONE => {
                if let Some(w) = self.notify.notify_one_locked(waiters) {
                    w.wake();
                }
            }
            _ => {}
        }
    }
}

impl fmt::Debug for Notified<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Notified")
            .field("state", &self.state)
            .finish()
    }
}
