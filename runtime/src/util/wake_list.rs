//! A fixed-size batch of wakers, filled under a lock and woken after it is released.
//!
//! Wakers run arbitrary code (a scheduler push, even a user's waker), so no primitive in
//! `corio::sync` calls one while holding its lock. Notifiers collect up to [`NUM_WAKERS`]
//! wakers here; when the batch is full they unlock, wake, and lock again to continue.

use std::fmt;
use std::mem::MaybeUninit;
use std::task::Waker;

/// Wakers per batch: enough for the common case, small enough to live on the stack.
pub(crate) const NUM_WAKERS: usize = 32;

/// See the module doc.
///
/// Invariant: exactly `wakers[..len]` are initialised. The rest stay uninitialised so that
/// creating a batch (once per release or notify, usually to wake zero or one waker) costs no
/// stores.
pub(crate) struct WakeList {
    wakers: [MaybeUninit<Waker>; NUM_WAKERS],
    len: usize,
}

impl WakeList {
    pub(crate) fn new() -> Self {
        Self {
            wakers: [const { MaybeUninit::uninit() }; NUM_WAKERS],
            len: 0,
        }
    }

    /// True while there is room for another waker.
    pub(crate) fn can_push(&self) -> bool {
        self.len < NUM_WAKERS
    }

    /// Adds `waker`; the caller checked [`WakeList::can_push`].
    pub(crate) fn push(&mut self, waker: Waker) {
        assert!(self.can_push(), "WakeList overflow: check can_push first");
        self.wakers[self.len].write(waker);
        self.len += 1;
    }

    /// Wakes and clears every waker in the batch.
    pub(crate) fn wake_all(&mut self) {
        // Shrink first: if a waker panics, the ones after it leak instead of being read twice
        // (the invariant then covers only `wakers[..0]`).
        let len = std::mem::replace(&mut self.len, 0);
        for slot in &mut self.wakers[..len] {
            // SAFETY: slots below the old `len` were initialised by `push` and, `len` now
            // being 0, are read exactly once here.
            unsafe { slot.assume_init_read() }.wake();
        }
    }
}

impl Drop for WakeList {
    fn drop(&mut self) {
        // A notifier that returns early (or panics) still delivers what it collected.
        self.wake_all();
    }
}

impl fmt::Debug for WakeList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WakeList").field("len", &self.len).finish()
    }
}
