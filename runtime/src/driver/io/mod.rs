//! The I/O reactor.
//!
//! For now a condition variable: [`Driver::turn`] sleeps until [`Handle::unpark`] or the
//! time-out. The reactor issue replaces it with a `polling::Poller`, keeping this API.

use std::time::Duration;

use crate::loom::sync::atomic::{AtomicBool, Ordering};
use crate::loom::sync::{wait_timeout, Arc, Condvar, Mutex};

#[derive(Debug)]
pub(crate) struct Driver {
    inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Handle {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// Set by `unpark`, consumed by `turn`; guarded by `lock` for the sleep itself.
    notified: AtomicBool,
    lock: Mutex<()>,
    condvar: Condvar,
}

impl Driver {
    pub(crate) fn new() -> std::io::Result<(Driver, Handle)> {
        let inner = Arc::new(Inner {
            notified: AtomicBool::new(false),
            lock: Mutex::new(()),
            condvar: Condvar::new(),
        });
        Ok((
            Driver {
                inner: inner.clone(),
            },
            Handle { inner },
        ))
    }

    /// Waits for an unpark or the time-out (`None`: forever, `Some(ZERO)`: no wait).
    pub(crate) fn turn(&mut self, timeout: Option<Duration>) {
        let inner = &*self.inner;
        // Acquire pairs with the Release swap in `unpark`: work published before the
        // unpark is visible after we consume the notification.
        if inner.notified.swap(false, Ordering::Acquire) {
            return;
        }
        if timeout == Some(Duration::ZERO) {
            return;
        }
        let mut guard = inner.lock.lock();
        // Checked again under the lock: `unpark` sets the flag, then takes the lock to
        // notify, so either we see the flag here or its notify finds us waiting.
        if inner.notified.swap(false, Ordering::Acquire) {
            return;
        }
        match timeout {
            None => inner.condvar.wait(&mut guard),
            Some(t) => {
                wait_timeout(&inner.condvar, &mut guard, t);
            }
        }
        // A swap, not a store: Acquire reads any `unpark` that came after the wake-up, so
        // the work it published is visible to the caller's next look at its queues.
        inner.notified.swap(false, Ordering::Acquire);
    }
}

impl Handle {
    pub(crate) fn unpark(&self) {
        let inner = &*self.inner;
        // Release pairs with the Acquire swaps in `turn`.
        if !inner.notified.swap(true, Ordering::Release) {
            drop(inner.lock.lock());
            inner.condvar.notify_one();
        }
    }
}
