//! Notify: wake one waiting task, or all of them, with Tokio's permit semantics.
//!
//! State, behind one lock: a FIFO list of waiters (nodes inside [`Notified`] futures), a
//! single stored permit, and the count of `notify_waiters` calls (the *generation*), which is
//! mirrored in an atomic so that [`Notify::notified`] can snapshot it without locking.
//!
//! Protocol:
//! 1. `notified()` snapshots the generation (Acquire, pairing with the Release store in
//!    step 4). Any `notify_waiters` after that moment completes the future, even if it was
//!    never polled.
//! 2. First poll, under the lock: generation moved since the snapshot: ready. A stored permit:
//!    take it, ready. Otherwise push the node (with the waker and the generation) and wait.
//! 3. `notify_one`, under the lock: pop the oldest waiter, take its waker, then mark it `One`
//!    (the last touch of the waiter: see step 5); wake it after unlocking. With no waiter,
//!    store the permit (at most one is kept).
//! 4. `notify_waiters`: bump the generation (Release store of the mirror), then pop, mark
//!    `All` and wake every node whose generation is older, in batches of
//!    [`NUM_WAKERS`](crate::util::wake_list::NUM_WAKERS) with the lock released between
//!    batches. Nodes pushed meanwhile carry the new generation and are left alone.
//! 5. The mark is an atomic in the [`Notified`] future itself, outside the list node: the
//!    notifier stores it (Release) last, after unlinking the node and taking the waker, and
//!    never touches that waiter again. So a woken future reads it (Acquire) without the lock
//!    and, once marked, may complete and be freed at once. Unmarked, it locks to re-check and
//!    refresh its waker. A future dropped after being marked `One` but before returning
//!    `Ready` passes the notification on (step 3 again), so a cancelled waiter never swallows
//!    a `notify_one`.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{ready, Context, Poll, Waker};

use crate::coop;
use crate::loom::sync::atomic::{AtomicUsize, Ordering};
use crate::loom::sync::{Mutex, MutexGuard};
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
    generation: AtomicUsize,
    state: Mutex<State>,
}

struct State {
    waiters: LinkedList<Waiter>,
    permit: bool,
    generation: usize,
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
    generation: usize,
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
            generation: AtomicUsize::new(0),
            state: Mutex::new(State {
                waiters: LinkedList::new(),
                permit: false,
                generation: 0,
            }),
        }
    }

    /// A future that completes on the next notification (step 1 of the module protocol).
    pub fn notified(&self) -> Notified<'_> {
        Notified {
            notify: self,
            generation: self.generation.load(Ordering::Acquire),
            node: Node::new(Waiter {
                waker: None,
                generation: 0,
                mark: None,
            }),
            mark: AtomicUsize::new(UNMARKED),
            state: NotifiedState::Init,
        }
    }

    /// Wakes the oldest waiter, or stores a permit for the next one if nobody waits.
    pub fn notify_one(&self) {
        let waker = Self::notify_one_locked(self.state.lock());
        if let Some(w) = waker {
            w.wake();
        }
    }

    fn notify_one_locked(mut state: MutexGuard<'_, State>) -> Option<Waker> {
        match state.waiters.pop_front() {
            Some(node) => {
                // SAFETY: the node was linked in our list, so it is live; lock held.
                let (waker, mark) = unsafe { Node::with_value(node, |w| (w.waker.take(), w.mark)) };
                // SAFETY: see `set_mark`; nothing touches the waiter after this.
                unsafe { set_mark(mark, MARK_ONE) };
                waker
            }
            None => {
                state.permit = true;
                None
            }
        }
    }

    /// Wakes every task waiting now (and every `Notified` created before this call).
    /// Stores no permit.
    pub fn notify_waiters(&self) {
        let mut state = self.state.lock();
        state.generation = state.generation.wrapping_add(1);
        let gen = state.generation;
        // Release pairs with the Acquire in `notified` (step 1).
        self.generation.store(gen, Ordering::Release);
        loop {
            let mut wakers = WakeList::new();
            let mut more = false;
            while let Some(node) = state.waiters.front() {
                // SAFETY: linked, hence live; lock held.
                let older = unsafe { Node::with_value(node, |w| w.generation != gen) };
                if !older {
                    break;
                }
                if !wakers.can_push() {
                    more = true;
                    break;
                }
                state.waiters.pop_front();
                // SAFETY: just unlinked; its owner must take the lock to drop it (it is still
                // unmarked); lock held.
                let (waker, mark) = unsafe { Node::with_value(node, |w| (w.waker.take(), w.mark)) };
                // SAFETY: see `set_mark`; nothing touches the waiter after this.
                unsafe { set_mark(mark, MARK_ALL) };
                if let Some(w) = waker {
                    wakers.push(w);
                }
            }
            drop(state);
            wakers.wake_all();
            if !more {
                return;
            }
            state = self.state.lock();
        }
    }
}

/// Step 5: completes a waiter just unlinked from the list, with the lock still held.
///
/// # Safety
///
/// `mark` is the `mark` of a waiter that was linked in the list until now, read under the
/// lock that is still held. Its `Notified` is pinned, unmarked, and cannot be freed before
/// this store: its `Drop` and its unlocked poll path (step 5) both wait for a mark or the
/// lock. The caller must not touch that waiter (node or future) after this call.
unsafe fn set_mark(mark: Option<MarkPtr>, value: usize) {
    let mark = mark.expect("a queued waiter has its mark pointer set");
    // SAFETY: live per the contract above; an atomic is fine to share across threads.
    // Release pairs with the Acquire load in `Notified::poll`, publishing the unlink.
    unsafe { mark.0.as_ref() }.store(value, Ordering::Release);
}

impl Default for Notify {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Notify {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state.lock();
        f.debug_struct("Notify")
            .field("waiters", &state.waiters.len())
            .field("permit", &state.permit)
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
                let mut state = this.notify.state.lock();
                if state.generation != this.generation {
                    // Step 2: a notify_waiters happened since we were created.
                } else if state.permit {
                    state.permit = false;
                } else {
                    let mark = MarkPtr(NonNull::from(&this.mark));
                    // SAFETY: our pinned node is in no list; lock held. `mark` stays valid
                    // while the node is linked: both live in this pinned future, whose `Drop`
                    // unlinks under the lock.
                    unsafe {
                        Node::with_value(node, |w| {
                            w.waker = Some(cx.waker().clone());
                            w.generation = this.generation;
                            w.mark = Some(mark);
                        });
                        state.waiters.push_back(node);
                    }
                    this.state = NotifiedState::Waiting;
                    return Poll::Pending;
                }
            }
            NotifiedState::Waiting => {
                // Step 5. Acquire pairs with the Release in `set_mark`: once marked, the
                // notifier has unlinked our node and will not touch it again.
                if this.mark.load(Ordering::Acquire) == UNMARKED {
                    let state = this.notify.state.lock();
                    // Marks are stored under the lock, so this re-check is definitive.
                    if this.mark.load(Ordering::Acquire) == UNMARKED {
                        // SAFETY: our node is live and, unmarked, still linked; lock held.
                        unsafe {
                            Node::with_value(node, |w| {
                                if !w.waker.as_ref().is_some_and(|k| k.will_wake(cx.waker())) {
                                    w.waker = Some(cx.waker().clone());
                                }
                            });
                        }
                        drop(state);
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
        let mut state = self.notify.state.lock();
        // SAFETY: our node is live and only ever in this Notify's list; lock held.
        unsafe { state.waiters.remove(node) };
        // Relaxed: marks are stored under the lock we hold.
        if self.mark.load(Ordering::Relaxed) == MARK_ONE {
            // Step 5: hand the notification on.
            if let Some(w) = Notify::notify_one_locked(state) {
                w.wake();
            }
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
