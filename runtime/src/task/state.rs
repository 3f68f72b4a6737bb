//! The task state word: lifecycle bits and the reference count in one atomic `usize`.
//!
//! Every transition is one atomic read-modify-write, so whoever wins it owns the consequence
//! (polling, scheduling, dropping the output, freeing the task) and nobody else does.
//!
//! | bits | name | meaning |
//! | --- | --- | --- |
//! | 0 | [`RUNNING`] | a thread owns the future: it is polling or cancelling it |
//! | 1 | [`COMPLETE`] | the future is gone; the stage holds the output (or was consumed) |
//! | 2 | [`NOTIFIED`] | a wake-up is pending: a `Notified` reference exists or will be made |
//! | 3 | [`JOIN_INTEREST`] | the `JoinHandle` is alive and wants the output |
//! | 4 | [`JOIN_WAKER`] | the join waker slot is set and the runtime may read it |
//! | 5 | [`CANCELLED`] | the task must be cancelled at its next scheduling point |
//! | 6.. | refs | references: `Task` (owned list), `Notified` (queue), `JoinHandle`, wakers |
//!
//! The join waker slot belongs to the `JoinHandle` while `JOIN_WAKER` is clear and the task is
//! not complete; while `JOIN_WAKER` is set the runtime may read it. After completion the
//! runtime clears `JOIN_WAKER` once it has woken the handle, handing the slot back.

use std::fmt;

use crate::loom::sync::atomic::{
    AtomicUsize, Ordering::AcqRel, Ordering::Acquire, Ordering::Relaxed,
};

/// A thread owns the future.
const RUNNING: usize = 1 << 0;
/// The future has finished (with output, panic or cancellation).
const COMPLETE: usize = 1 << 1;
/// A wake-up is pending.
const NOTIFIED: usize = 1 << 2;
/// The `JoinHandle` still exists.
const JOIN_INTEREST: usize = 1 << 3;
/// The join waker slot is set and readable by the runtime.
const JOIN_WAKER: usize = 1 << 4;
/// The task has been asked to stop.
const CANCELLED: usize = 1 << 5;

const LIFECYCLE_MASK: usize = RUNNING | COMPLETE;
const FLAG_BITS: u32 = 6;
const REF_ONE: usize = 1 << FLAG_BITS;
const REF_MASK: usize = !(REF_ONE - 1);

// The flags are distinct single bits below the reference count.
const _: () = {
    let flags = [
        RUNNING,
        COMPLETE,
        NOTIFIED,
        JOIN_INTEREST,
        JOIN_WAKER,
        CANCELLED,
    ];
    let mut all = 0;
    let mut i = 0;
    while i < flags.len() {
        assert!(flags[i].count_ones() == 1);
        assert!(all & flags[i] == 0);
        all |= flags[i];
        i += 1;
    }
    assert!(all & REF_MASK == 0);
    assert!(all == REF_ONE - 1);
};

/// A new task: notified (it is about to be queued), wanted by its `JoinHandle`, and
/// referenced three times: by the owned-task list, the run queue and the `JoinHandle`.
const INITIAL: usize = (3 * REF_ONE) | JOIN_INTEREST | NOTIFIED;

/// The atomic state word of one task.
pub(super) struct State(AtomicUsize);

/// One reading of the state word.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) struct Snapshot(usize);

/// What the holder of a `Notified` reference must do after trying to run the task.
#[must_use]
#[derive(Debug, PartialEq, Eq)]
pub(super) enum TransitionToRunning {
    /// Poll the future.
    Success,
    /// Cancel the future instead of polling it.
    Cancelled,
    /// Someone else owns the task (it is running or complete); the `Notified` reference was
    /// dropped.
    Failed,
    /// As `Failed`, and that was the last reference: free the task.
    Dealloc,
}

/// What the poller must do after the future returned `Pending`.
#[must_use]
#[derive(Debug, PartialEq, Eq)]
pub(super) enum TransitionToIdle {
    /// Done; the poller's `Notified` reference was dropped.
    Ok,
    /// Woken during the poll: a new `Notified` reference was made; queue it, then drop the
    /// poller's reference.
    OkNotified,
    /// Done, and the poller held the last reference: free the task.
    OkDealloc,
    /// Aborted during the poll: the poller still owns the future and must cancel it.
    Cancelled,
}

/// What a waker must do.
#[must_use]
#[derive(Debug, PartialEq, Eq)]
pub(super) enum TransitionToNotified {
    /// Nothing: the task is already queued, running (it re-queues itself) or complete.
    DoNothing,
    /// Queue the task: a `Notified` reference was created for it.
    Submit,
}

impl State {
    pub(super) fn new() -> State {
        State(AtomicUsize::new(INITIAL))
    }

    pub(super) fn load(&self) -> Snapshot {
        Snapshot(self.0.load(Acquire))
    }

    /// Applies `f` until the compare-exchange succeeds; `f` returns the new word (or `None`
    /// for "no change") and a result. AcqRel: every transition both publishes what this
    /// thread did to the task (the stored output, the waker) and acquires what the previous
    /// owner did; each transition's partner is the one that hands ownership back.
    fn update<T>(&self, mut f: impl FnMut(Snapshot) -> (Option<Snapshot>, T)) -> T {
        let mut curr = self.load();
        loop {
            let (next, out) = f(curr);
            let Some(next) = next else { return out };
            match self
                .0
                .compare_exchange_weak(curr.0, next.0, AcqRel, Acquire)
            {
                Ok(_) => return out,
                Err(actual) => curr = Snapshot(actual),
            }
        }
    }

    /// Called by the holder of a `Notified` reference before polling.
    pub(super) fn transition_to_running(&self) -> TransitionToRunning {
        self.update(|mut s| {
            debug_assert!(s.is_notified(), "a queued task must carry NOTIFIED");
            if s.0 & LIFECYCLE_MASK != 0 {
                // Running elsewhere (shutdown claimed it) or complete: drop our reference.
                s.ref_dec();
                let action = if s.ref_count() == 0 {
                    TransitionToRunning::Dealloc
                } else {
                    TransitionToRunning::Failed
                };
                return (Some(s), action);
            }
            s.0 = (s.0 & !NOTIFIED) | RUNNING;
            let action = if s.is_cancelled() {
                TransitionToRunning::Cancelled
            } else {
                TransitionToRunning::Success
            };
            (Some(s), action)
        })
    }

    /// Called by the poller when the future returned `Pending`.
    pub(super) fn transition_to_idle(&self) -> TransitionToIdle {
        self.update(|mut s| {
            debug_assert!(s.is_running());
            if s.is_cancelled() {
                return (None, TransitionToIdle::Cancelled);
            }
            s.0 &= !RUNNING;
            if s.is_notified() {
                // A new reference for the new Notified; the poller drops its own only after
                // it has handed the Notified to the scheduler, so the task (and the
                // scheduler handle inside it) outlives that call even if another worker
                // runs the task to completion meanwhile.
                s.ref_inc();
                (Some(s), TransitionToIdle::OkNotified)
            } else {
                s.ref_dec();
                let action = if s.ref_count() == 0 {
                    TransitionToIdle::OkDealloc
                } else {
                    TransitionToIdle::Ok
                };
                (Some(s), action)
            }
        })
    }

    /// Called by the poller once the output (or error) is stored; returns the new state.
    pub(super) fn transition_to_complete(&self) -> Snapshot {
        const DELTA: usize = RUNNING | COMPLETE;
        let prev = Snapshot(self.0.fetch_xor(DELTA, AcqRel));
        debug_assert!(prev.is_running() && !prev.is_complete());
        Snapshot(prev.0 ^ DELTA)
    }

    /// A waker used by reference: a new reference is made for the `Notified` if one is
    /// needed.
    pub(super) fn transition_to_notified_by_ref(&self) -> TransitionToNotified {
        self.update(|mut s| {
            if s.is_complete() || s.is_notified() {
                (None, TransitionToNotified::DoNothing)
            } else if s.is_running() {
                s.0 |= NOTIFIED;
                (Some(s), TransitionToNotified::DoNothing)
            } else {
                s.0 |= NOTIFIED;
                s.ref_inc();
                (Some(s), TransitionToNotified::Submit)
            }
        })
    }

    /// `abort()`: mark cancelled and make sure someone will act on it at the task's next
    /// scheduling point. Returns `Submit` when the caller must queue a new `Notified`.
    pub(super) fn transition_to_notified_and_cancel(&self) -> TransitionToNotified {
        self.update(|mut s| {
            if s.is_cancelled() || s.is_complete() {
                (None, TransitionToNotified::DoNothing)
            } else if s.is_running() || s.is_notified() {
                // The poller, or whoever pops the queued reference, sees CANCELLED.
                s.0 |= CANCELLED | NOTIFIED;
                (Some(s), TransitionToNotified::DoNothing)
            } else {
                s.0 |= CANCELLED | NOTIFIED;
                s.ref_inc();
                (Some(s), TransitionToNotified::Submit)
            }
        })
    }

    /// Runtime shutdown: mark cancelled, and if the task is idle also claim it (set RUNNING)
    /// so the caller can cancel it in place. Returns true when the caller now owns the
    /// future.
    pub(super) fn transition_to_shutdown(&self) -> bool {
        self.update(|mut s| {
            let idle = s.0 & LIFECYCLE_MASK == 0;
            if idle {
                s.0 |= RUNNING;
            }
            s.0 |= CANCELLED;
            (Some(s), idle)
        })
    }

    /// The `JoinHandle` is dropped. Returns `(drop_output, drop_waker)`: whether the
    /// handle must drop the stored output (the task is complete), and whether it now owns
    /// the join waker slot and must clear it.
    pub(super) fn transition_to_join_handle_dropped(&self) -> (bool, bool) {
        self.update(|mut s| {
            debug_assert!(s.is_join_interested());
            let complete = s.is_complete();
            s.0 &= !JOIN_INTEREST;
            if !complete {
                // Before completion the runtime only reads the waker after seeing
                // JOIN_WAKER, so clearing it gives the slot to us.
                s.0 &= !JOIN_WAKER;
            }
            (Some(s), (complete, !s.is_join_waker_set()))
        })
    }

    /// The `JoinHandle` stored a waker while holding the slot: publish it to the runtime.
    /// Fails (returning the state) if the task completed meanwhile; the handle keeps the slot.
    pub(super) fn set_join_waker(&self) -> Result<Snapshot, Snapshot> {
        self.update(|mut s| {
            debug_assert!(s.is_join_interested() && !s.is_join_waker_set());
            if s.is_complete() {
                return (None, Err(s));
            }
            s.0 |= JOIN_WAKER;
            (Some(s), Ok(s))
        })
    }

    /// The `JoinHandle` wants to replace its waker: take the slot back from the runtime.
    /// Fails if the task completed meanwhile (the runtime may be reading the waker).
    pub(super) fn unset_join_waker(&self) -> Result<Snapshot, Snapshot> {
        self.update(|mut s| {
            debug_assert!(s.is_join_interested() && s.is_join_waker_set());
            if s.is_complete() {
                return (None, Err(s));
            }
            s.0 &= !JOIN_WAKER;
            (Some(s), Ok(s))
        })
    }

    /// After waking the join waker on completion, the runtime hands the slot back. Returns
    /// the new state; if the `JoinHandle` is gone, the runtime must drop the waker itself.
    pub(super) fn unset_waker_after_complete(&self) -> Snapshot {
        let prev = Snapshot(self.0.fetch_and(!JOIN_WAKER, AcqRel));
        debug_assert!(prev.is_complete() && prev.is_join_waker_set());
        Snapshot(prev.0 & !JOIN_WAKER)
    }

    pub(super) fn ref_inc(&self) {
        // Relaxed, as in `Arc::clone`: a reference is only made from an existing one, whose
        // holder keeps the task alive meanwhile; publication happens through the queues.
        let prev = self.0.fetch_add(REF_ONE, Relaxed);
        assert!(prev <= isize::MAX as usize, "task reference count overflow");
    }

    /// Drops `n` references; true when they were the last and the task must be freed.
    /// AcqRel: the last dropper must see every other holder's accesses (as in `Arc::drop`).
    pub(super) fn ref_dec_n(&self, n: usize) -> bool {
        let prev = Snapshot(self.0.fetch_sub(n * REF_ONE, AcqRel));
        debug_assert!(prev.ref_count() >= n, "task reference count underflow");
        prev.ref_count() == n
    }
}

impl Snapshot {
    pub(super) fn is_running(self) -> bool {
        self.0 & RUNNING != 0
    }
    pub(super) fn is_complete(self) -> bool {
        self.0 & COMPLETE != 0
    }
    pub(super) fn is_notified(self) -> bool {
        self.0 & NOTIFIED != 0
    }
    pub(super) fn is_join_interested(self) -> bool {
        self.0 & JOIN_INTEREST != 0
    }
    pub(super) fn is_join_waker_set(self) -> bool {
        self.0 & JOIN_WAKER != 0
    }
    pub(super) fn is_cancelled(self) -> bool {
        self.0 & CANCELLED != 0
    }
    pub(super) fn ref_count(self) -> usize {
        (self.0 & REF_MASK) >> FLAG_BITS
    }
    fn ref_dec(&mut self) {
        debug_assert!(self.ref_count() > 0);
        self.0 -= REF_ONE;
    }
    fn ref_inc(&mut self) {
        self.0 += REF_ONE;
    }
}

impl fmt::Debug for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.load().fmt(f)
    }
}

impl fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Snapshot")
            .field("running", &self.is_running())
            .field("complete", &self.is_complete())
            .field("notified", &self.is_notified())
            .field("join_interest", &self.is_join_interested())
            .field("join_waker", &self.is_join_waker_set())
            .field("cancelled", &self.is_cancelled())
            .field("refs", &self.ref_count())
            .finish()
    }
}
