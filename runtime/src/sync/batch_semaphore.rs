//! The fair semaphore engine under `Semaphore`, `Mutex`, `RwLock` and bounded `mpsc`.
//!
//! State: one atomic word holding the free permits (shifted left by [`SHIFT`]), a CLOSED bit
//! and a WAITERS bit, and behind a lock a FIFO [`LinkedList`] of waiters, each embedded in an
//! [`Acquire`] future and holding how many permits it still needs.
//!
//! Invariant W (waiters bit): WAITERS is set exactly while the queue is non-empty. It is only
//! changed with the lock held, and always in the same atomic operation that moves permits, so
//! a lock-free release (step 3) can never add a permit "under" a waiter that is being queued.
//!
//! Invariant F (fairness): while the queue is non-empty (WAITERS set) the atomic holds zero
//! permits. So a newcomer's lock-free fast path can never overtake a queued waiter.
//!
//! Protocol:
//! 1. Acquire, fast path: CAS the needed permits out of the atomic. Success needs no lock.
//! 2. Acquire, slow path: lock the queue; if closed, fail; else in one CAS take whatever the
//!    atomic holds (up to the need) and, if that is not enough, set WAITERS. Satisfied: done.
//!    Otherwise record the rest as `remaining`, push the node and return `Pending`. Taking
//!    everything keeps invariant F; setting WAITERS in the same CAS keeps invariant W.
//! 3. Release (also `add_permits`), fast path: while WAITERS is clear, CAS the permits into
//!    the atomic without locking. A CAS that loses to step 2 sees WAITERS on its retry.
//! 4. Release, slow path (WAITERS set): lock the queue, give permits to the waiters from the
//!    front, popping each one whose `remaining` reaches zero and taking its waker; once the
//!    queue is empty, what is left goes back to the atomic in the same CAS that clears
//!    WAITERS (invariants F and W). Wake after unlocking.
//! 5. A woken acquirer locks and reads its node: `remaining == 0` means it holds its permits;
//!    unlinked with `remaining > 0` means the semaphore was closed.
//! 6. Cancellation: dropping a queued (or satisfied but not yet polled) `Acquire` locks,
//!    unlinks the node and releases every permit already assigned to it through step 4 (which
//!    also clears WAITERS if the queue became empty), so permits meant for it pass to the next
//!    waiter rather than vanish.
//! 7. Close: set CLOSED, lock, pop every waiter and wake it, clear WAITERS; step 5 then
//!    reports the error.

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

/// The most permits a semaphore can hold (Tokio's limit, leaving room for flag bits).
pub(crate) const MAX_PERMITS: usize = usize::MAX >> 3;
/// Set once the semaphore is closed; never cleared.
const CLOSED: usize = 1;
/// Set exactly while the waiter queue is non-empty (invariant W).
const WAITERS: usize = 1 << 1;
/// The permit count lives above the flag bits.
const SHIFT: u32 = 2;
const _: () = assert!(CLOSED & WAITERS == 0 && (CLOSED | WAITERS) >> SHIFT == 0);
const _: () = assert!(MAX_PERMITS <= usize::MAX >> SHIFT);

/// See the module doc.
pub(crate) struct Semaphore {
    permits: AtomicUsize,
    waiters: Mutex<Waitlist>,
}

struct Waitlist {
    queue: LinkedList<Waiter>,
    closed: bool,
}

/// A queued acquirer's request, in its node.
#[derive(Debug)]
pub(crate) struct Waiter {
    remaining: usize,
    waker: Option<Waker>,
}

/// Why a non-waiting acquire failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TryAcquireError {
    Closed,
    NoPermits,
}

/// The semaphore was closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Closed;

/// What step 2 did with an acquirer that the fast path could not serve.
#[must_use]
enum Enqueue {
    /// Every permit was taken from the atomic: no need to wait.
    Satisfied,
    /// `took` permits were taken and WAITERS is set: the caller must queue its node now,
    /// before unlocking.
    Wait { took: usize },
}

impl Semaphore {
    pub(crate) fn new(permits: usize) -> Self {
        assert!(
            permits <= MAX_PERMITS,
            "a semaphore holds at most {MAX_PERMITS} permits, {permits} were asked for"
        );
        Self {
            permits: AtomicUsize::new(permits << SHIFT),
            waiters: Mutex::new(Waitlist {
                queue: LinkedList::new(),
                closed: false,
            }),
        }
    }

    pub(crate) fn available_permits(&self) -> usize {
        self.permits.load(Ordering::Acquire) >> SHIFT
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.permits.load(Ordering::Acquire) & CLOSED == CLOSED
    }

    /// Step 1. Acquire pairs with the Release of the releasing CAS (steps 3 and 4), so
    /// whatever the releaser did under its permits is visible to us.
    pub(crate) fn try_acquire(&self, num: usize) -> Result<(), TryAcquireError> {
        let needed = num << SHIFT;
        let mut curr = self.permits.load(Ordering::Acquire);
        loop {
            if curr & CLOSED == CLOSED {
                return Err(TryAcquireError::Closed);
            }
            // Invariant F: with WAITERS set the count is zero, so we never overtake a waiter
            // (and an acquire of zero permits is always served, as in Tokio).
            if curr < needed {
                return Err(TryAcquireError::NoPermits);
            }
            match self.permits.compare_exchange_weak(
                curr,
                curr - needed,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return Ok(()),
                Err(actual) => curr = actual,
            }
        }
    }

    /// Takes up to `num` permits from the atomic; returns how many were taken.
    fn take_up_to(&self, num: usize) -> usize {
        let mut curr = self.permits.load(Ordering::Acquire);
        loop {
            let take = (curr >> SHIFT).min(num);
            if take == 0 {
                return 0;
            }
            match self.permits.compare_exchange_weak(
                curr,
                curr - (take << SHIFT),
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return take,
                Err(actual) => curr = actual,
            }
        }
    }

    /// Step 2, with the queue locked (the guard proves it): takes what the atomic holds, and
    /// sets WAITERS in the same CAS when that is not all of `num`.
    fn take_or_enqueue(&self, num: usize, _locked: &MutexGuard<'_, Waitlist>) -> Enqueue {
        let mut curr = self.permits.load(Ordering::Acquire);
        loop {
            let take = (curr >> SHIFT).min(num);
            let (next, outcome) = if take == num {
                (curr - (take << SHIFT), Enqueue::Satisfied)
            } else {
                (
                    (curr - (take << SHIFT)) | WAITERS,
                    Enqueue::Wait { took: take },
                )
            };
            // AcqRel: Acquire pairs with releasers' Release (we may take their permits);
            // Release publishes WAITERS, which fast-path releasers read before locking.
            match self.permits.compare_exchange_weak(
                curr,
                next,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return outcome,
                Err(actual) => curr = actual,
            }
        }
    }

    /// Steps 3 and 4: returns `num` permits, serving queued waiters first.
    pub(crate) fn release(&self, num: usize) {
        if num == 0 {
            return;
        }
        let mut curr = self.permits.load(Ordering::Relaxed);
        while curr & WAITERS == 0 {
            // Step 3. Checked before the CAS, so a failing `add_permits` changes nothing.
            assert_fits(curr >> SHIFT, num);
            // Release pairs with the Acquire of the fast path (step 1) and of step 2.
            match self.permits.compare_exchange_weak(
                curr,
                curr + (num << SHIFT),
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => return,
                Err(actual) => curr = actual,
            }
        }
        self.add_permits_locked(num, self.waiters.lock());
    }

    /// Step 4, with the queue locked. `rem` may be zero: a cancelled waiter that was assigned
    /// nothing calls this only to clear WAITERS if the queue became empty.
    #[cold]
    fn add_permits_locked<'a>(&'a self, mut rem: usize, mut waiters: MutexGuard<'a, Waitlist>) {
        let mut wakers = WakeList::new();
        loop {
            while rem > 0 && wakers.can_push() {
                let Some(head) = waiters.queue.front() else {
                    break;
                };
                // SAFETY: `head` is linked in our queue, hence live, and we hold the lock.
                let done = unsafe {
                    Node::with_value(head, |w| {
                        let give = rem.min(w.remaining);
                        w.remaining -= give;
                        rem -= give;
                        if w.remaining == 0 {
                            w.waker.take()
                        } else {
                            None
                        }
                    })
                };
                if let Some(waker) = done {
                    waiters.queue.pop_front();
                    wakers.push(waker);
                } else {
                    // `rem` is zero: the head still needs more.
                    break;
                }
            }
            let finished = if waiters.queue.is_empty() {
                self.publish_and_clear_waiters(rem);
                true
            } else {
                rem == 0
            };
            drop(waiters);
            wakers.wake_all();
            if finished {
                return;
            }
            waiters = self.waiters.lock();
        }
    }

    /// The end of step 4, lock held and queue empty: adds `rem` permits and clears WAITERS in
    /// one CAS (lock-free releasers may be adding concurrently if WAITERS was already clear).
    fn publish_and_clear_waiters(&self, rem: usize) {
        let mut curr = self.permits.load(Ordering::Relaxed);
        loop {
            if rem > 0 {
                assert_fits(curr >> SHIFT, rem);
            } else if curr & WAITERS == 0 {
                return;
            }
            // Release pairs with the Acquire of steps 1 and 2.
            match self.permits.compare_exchange_weak(
                curr,
                (curr + (rem << SHIFT)) & !WAITERS,
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => return,
                Err(actual) => curr = actual,
            }
        }
    }

    /// Step 7.
    pub(crate) fn close(&self) {
        self.permits.fetch_or(CLOSED, Ordering::Release);
        let mut waiters = self.waiters.lock();
        waiters.closed = true;
        loop {
            let mut wakers = WakeList::new();
            while wakers.can_push() {
                let Some(node) = waiters.queue.pop_front() else {
                    break;
                };
                // SAFETY: just unlinked from our queue, still live (its owner must lock to
                // drop it), lock held.
                if let Some(w) = unsafe { Node::with_value(node, |w| w.waker.take()) } {
                    wakers.push(w);
                }
            }
            let more = !waiters.queue.is_empty();
            if !more {
                self.publish_and_clear_waiters(0);
            }
            drop(waiters);
            wakers.wake_all();
            if !more {
                return;
            }
            waiters = self.waiters.lock();
        }
    }

    /// Removes up to `n` free permits for good; returns how many.
    pub(crate) fn forget_permits(&self, n: usize) -> usize {
        self.take_up_to(n)
    }

    /// A future that acquires `num` permits, in FIFO order with other waiters.
    pub(crate) fn acquire(&self, num: usize) -> Acquire<'_> {
        Acquire {
            sem: self,
            node: Node::new(Waiter {
                remaining: num,
                waker: None,
            }),
            num,
            state: AcquireState::Idle,
        }
    }
}

/// Panics unless `held + adding` permits fit in the semaphore.
fn assert_fits(held: usize, adding: usize) {
    assert!(
        adding <= MAX_PERMITS - held,
        "a semaphore holds at most {MAX_PERMITS} permits; adding {adding} to {held} would \
         overflow it"
    );
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Semaphore")
            .field("permits", &self.available_permits())
            .field("closed", &self.is_closed())
            .finish()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AcquireState {
    /// Not queued yet.
    Idle,
    /// The node was pushed and may still be linked or hold assigned permits.
    Waiting,
    /// Finished: the permits were handed to the caller or returned.
    Done,
}

/// The future of [`Semaphore::acquire`].
pub(crate) struct Acquire<'a> {
    sem: &'a Semaphore,
    node: Node<Waiter>,
    num: usize,
    state: AcquireState,
}

// SAFETY: the node is only touched under the semaphore's lock (linked_list invariant 3), and
// its contents (a count and a `Waker`) are `Send + Sync`; the rest is a shared reference to
// a `Sync` semaphore.
unsafe impl Send for Acquire<'_> {}
// SAFETY: `&Acquire` gives no access to anything (all methods take `Pin<&mut Self>`).
unsafe impl Sync for Acquire<'_> {}

impl Future for Acquire<'_> {
    type Output = Result<(), Closed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: we never move out of `self`; the node stays where it is.
        let this = unsafe { self.get_unchecked_mut() };
        let node = NonNull::from(&this.node);
        let restore = ready!(coop::poll_proceed(cx));
        let res = match this.state {
            AcquireState::Idle => match this.sem.try_acquire(this.num) {
                Ok(()) => Poll::Ready(Ok(())),
                Err(TryAcquireError::Closed) => Poll::Ready(Err(Closed)),
                Err(TryAcquireError::NoPermits) => match this.enqueue(cx) {
                    Poll::Ready(res) => Poll::Ready(res),
                    Poll::Pending => return Poll::Pending,
                },
            },
            AcquireState::Waiting => {
                // Step 5.
                let waiters = this.sem.waiters.lock();
                // SAFETY: our node is live; lock held.
                let (linked, remaining) = unsafe {
                    let linked = Node::is_linked(node);
                    let rem = Node::with_value(node, |w| {
                        if linked && !w.waker.as_ref().is_some_and(|k| k.will_wake(cx.waker())) {
                            w.waker = Some(cx.waker().clone());
                        }
                        w.remaining
                    });
                    (linked, rem)
                };
                drop(waiters);
                if linked {
                    return Poll::Pending;
                }
                this.state = AcquireState::Done;
                if remaining == 0 {
                    Poll::Ready(Ok(()))
                } else {
                    // Closed while partly served: give back what we got.
                    this.sem.release(this.num - remaining);
                    Poll::Ready(Err(Closed))
                }
            }
            AcquireState::Done => panic!("`Acquire` polled after it completed"),
        };
        this.state = AcquireState::Done;
        restore.made_progress();
        res
    }
}

impl Drop for Acquire<'_> {
    fn drop(&mut self) {
        if self.state != AcquireState::Waiting {
            return;
        }
        // Step 6.
        let node = NonNull::from(&self.node);
        let mut waiters = self.sem.waiters.lock();
        // SAFETY: our node is live and only ever in this semaphore's queue; lock held.
        let assigned = unsafe {
            waiters.queue.remove(node);
            Node::with_value(node, |w| self.num - w.remaining)
        };
        // With nothing assigned this only clears WAITERS if our node was the last one.
        self.sem.add_permits_locked(assigned, waiters);
    }
}

impl Acquire<'_> {
    /// Step 2: the fast path found too few permits.
    #[cold]
    fn enqueue(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Closed>> {
        let waiters = self.sem.waiters.lock();
        if waiters.closed {
            return Poll::Ready(Err(Closed));
        }
        let took = match self.sem.take_or_enqueue(self.num, &waiters) {
            Enqueue::Satisfied => return Poll::Ready(Ok(())),
            Enqueue::Wait { took } => took,
        };
        let mut waiters = waiters;
        let node = NonNull::from(&self.node);
        // SAFETY: our node is pinned (we are only reached through `Pin<&mut Self>`) and in
        // no list (state `Idle`); lock held. WAITERS is already set (invariant W).
        unsafe {
            Node::with_value(node, |w| {
                w.remaining = self.num - took;
                w.waker = Some(cx.waker().clone());
            });
            waiters.queue.push_back(node);
        }
        self.state = AcquireState::Waiting;
        Poll::Pending
    }
}

impl fmt::Debug for Acquire<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Acquire")
            .field("num", &self.num)
            .field("state", &self.state)
            .finish()
    }
}

impl fmt::Debug for Waitlist {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Waitlist")
            .field("queue", &self.queue)
            .field("closed", &self.closed)
            .finish()
    }
}
