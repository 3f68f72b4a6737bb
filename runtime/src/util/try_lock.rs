//! A lock that is only ever *tried*: one atomic flag beside the data.
//!
//! The driver is shared this way (DESIGN.md parking step 5: whoever can take it parks on it,
//! the others sleep elsewhere). It is not a `Mutex` because a try-lock never waits, and
//! loom models `Mutex::try_lock` as a blocking acquisition (a thread parked at a `try_lock`
//! is blocked by the holder), which would turn every parked driver holder into a false
//! deadlock.

use crate::loom::cell::UnsafeCell;
use crate::loom::sync::atomic::{AtomicBool, Ordering::Acquire, Ordering::Release};

#[derive(Debug)]
pub(crate) struct TryLock<T> {
    locked: AtomicBool,
    data: UnsafeCell<T>,
}

// SAFETY: the flag gives one thread at a time access to `data` (Acquire on taking it pairs
// with Release on giving it back), so sharing the lock only moves `T` between threads.
unsafe impl<T: Send> Sync for TryLock<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Send for TryLock<T> {}

/// Access to the data; gives the lock back on drop.
#[derive(Debug)]
pub(crate) struct TryLockGuard<'a, T> {
    lock: &'a TryLock<T>,
}

impl<T> TryLock<T> {
    pub(crate) fn new(data: T) -> Self {
        TryLock {
            locked: AtomicBool::new(false),
            data: UnsafeCell::new(data),
        }
    }

    /// Takes the lock if it is free.
    pub(crate) fn try_lock(&self) -> Option<TryLockGuard<'_, T>> {
        // Acquire pairs with the Release store in the guard's drop: we see what the previous
        // holder did to the data.
        if self.locked.swap(true, Acquire) {
            None
        } else {
            Some(TryLockGuard { lock: self })
        }
    }
}

impl<T> TryLockGuard<'_, T> {
    /// Runs `f` on the data.
    pub(crate) fn with<R>(&mut self, f: impl FnOnce(&mut T) -> R) -> R {
        // SAFETY: the guard is the only holder of the lock, so the access is exclusive.
        self.lock.data.with_mut(|p| f(unsafe { &mut *p }))
    }
}

impl<T> Drop for TryLockGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.locked.store(false, Release);
    }
}
