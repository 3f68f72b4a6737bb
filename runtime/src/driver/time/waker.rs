//! A waker slot that one thread fills while another takes it: the timer entry's waker.
//!
//! The owner of a timer (the task polling its `Sleep`) stores its waker with
//! [`AtomicWaker::register`]; the thread firing the timer takes it with [`AtomicWaker::take`]
//! and wakes it after releasing the wheel lock. Both may run at once.
//!
//! Protocol (the `state` word serializes access to the `waker` cell):
//! 1. `register` moves `state` from [`WAITING`] to [`REGISTERING`] (Acquire), which gives it
//!    the cell; it stores the waker, then moves back to [`WAITING`] (AcqRel).
//! 2. `take` sets [`WAKING`] (AcqRel). If the state was [`WAITING`] it owns the cell, takes
//!    the waker and clears [`WAKING`] (Release).
//! 3. If `take` finds [`REGISTERING`], it leaves [`WAKING`] set and returns nothing: the
//!    registering thread's final step fails, sees [`WAKING`], takes the waker it just stored
//!    and wakes it itself. So a waker registered at the same time as a fire is never lost.
//! 4. The caller of `register` re-checks its own completion flag after `register` returns;
//!    the caller of `take` sets that flag before calling `take`. Every step above is an RMW on
//!    `state`, so one of the two always sees the other's write.

use std::fmt;
use std::task::Waker;

use crate::loom::cell::UnsafeCell;
use crate::loom::sync::atomic::{AtomicUsize, Ordering};

/// Nobody holds the cell.
const WAITING: usize = 0;
/// `register` holds the cell.
const REGISTERING: usize = 0b01;
/// `take` holds the cell, or asked a concurrent `register` to wake its own waker.
const WAKING: usize = 0b10;

/// One waker, registered by one thread and taken by another.
pub(crate) struct AtomicWaker {
    state: AtomicUsize,
    waker: UnsafeCell<Option<Waker>>,
}

// SAFETY: the `waker` cell is only touched by the thread that won it through `state` (see
// the module doc), and `Waker` is `Send + Sync`.
unsafe impl Send for AtomicWaker {}
// SAFETY: as for `Send`: all shared access to the cell is serialized by `state`.
unsafe impl Sync for AtomicWaker {}

impl AtomicWaker {
    pub(crate) fn new() -> Self {
        AtomicWaker {
            state: AtomicUsize::new(WAITING),
            waker: UnsafeCell::new(None),
        }
    }

    /// Stores `waker` (unless an equivalent one is stored already). Called by one thread at a
    /// time: the timer's owner, which holds `&mut` to the timer.
    pub(crate) fn register(&self, waker: &Waker) {
        // Acquire pairs with the Release in `take` (step 2): the cell's last writer is done.
        match self.state.compare_exchange(
            WAITING,
            REGISTERING,
            Ordering::Acquire,
            Ordering::Acquire,
        ) {
            Ok(_) => {
                // SAFETY: REGISTERING gives this thread the cell (step 1).
                let old = unsafe {
                    self.waker.with_mut(|slot| {
                        let slot = &mut *slot;
                        match slot {
                            Some(w) if w.will_wake(waker) => None,
                            _ => slot.replace(waker.clone()),
                        }
                    })
                };
                // AcqRel: Release publishes the stored waker to the next `take`; Acquire
                // reads a concurrent `take`'s WAKING (step 3).
                let res = self.state.compare_exchange(
                    REGISTERING,
                    WAITING,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                );
                if res.is_err() {
                    // Step 3: a `take` ran meanwhile and left the waking to us.
                    // SAFETY: the state is REGISTERING | WAKING: `take` does not touch the
                    // cell in that state, so this thread still owns it.
                    let stored = unsafe { self.waker.with_mut(|slot| (*slot).take()) };
                    self.state.swap(WAITING, Ordering::AcqRel);
                    drop(old);
                    if let Some(w) = stored {
                        w.wake();
                    }
                    return;
                }
                // Dropped outside the protocol: a waker's drop may run arbitrary code.
                drop(old);
            }
            Err(WAKING) => {
                // A `take` holds the cell right now: the timer is firing. Wake ourselves so
                // the owner polls again and sees the fired state.
                waker.wake_by_ref();
            }
            Err(_) => {
                // REGISTERING from another thread: impossible, `register` has one caller at a
                // time (it needs `&mut` to the timer).
                unreachable!("AtomicWaker::register called concurrently");
            }
        }
    }

    /// Takes the stored waker, if any (see step 2 and 3).
    pub(crate) fn take(&self) -> Option<Waker> {
        // AcqRel: Acquire reads the waker published by `register`'s Release; Release makes
        // the caller's completion flag (stored before this call) visible to a `register`
        // that observes WAKING.
        match self.state.fetch_or(WAKING, Ordering::AcqRel) {
            WAITING => {
                // SAFETY: WAKING taken from WAITING gives this thread the cell (step 2).
                let waker = unsafe { self.waker.with_mut(|slot| (*slot).take()) };
                // Release pairs with the Acquire in `register`'s first step.
                self.state.fetch_and(!WAKING, Ordering::Release);
                waker
            }
            // Step 3: a `register` is running and will wake its own waker, or another `take`
            // holds the cell.
            _ => None,
        }
    }
}

impl fmt::Debug for AtomicWaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AtomicWaker")
            .field("state", &self.state.load(Ordering::Relaxed))
            .finish()
    }
}
