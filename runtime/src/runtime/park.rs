//! Blocking a plain thread on a future: `block_on` outside the workers.
//!
//! Protocol:
//! 1. Poll the future with a waker that sets `notified` and signals the condvar.
//! 2. If `Pending`, take the lock; if `notified` is set, clear it and poll again; otherwise
//!    wait on the condvar. The waker sets the flag before taking the lock to notify, so either
//!    the waiter sees the flag under the lock or its wait receives the notification.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};

use crate::coop;
use crate::loom::sync::atomic::{AtomicBool, Ordering};
use crate::loom::sync::{Arc, Condvar, Mutex};

/// Wakes one thread blocked in [`block_on`] (or in [`Parker::park`]).
#[derive(Debug)]
pub(crate) struct Parker {
    notified: AtomicBool,
    lock: Mutex<()>,
    condvar: Condvar,
}

impl Parker {
    pub(crate) fn new() -> Arc<Parker> {
        Arc::new(Parker {
            notified: AtomicBool::new(false),
            lock: Mutex::new(()),
            condvar: Condvar::new(),
        })
    }

    /// Blocks until [`Parker::unpark`] was called since the last return (step 2).
    pub(crate) fn park(&self) {
        // Acquire pairs with the Release swap in `unpark`.
        if self.notified.swap(false, Ordering::Acquire) {
            return;
        }
        let mut guard = self.lock.lock();
        while !self.notified.swap(false, Ordering::Acquire) {
            self.condvar.wait(&mut guard);
        }
    }

    pub(crate) fn unpark(&self) {
        // Release pairs with the Acquire swaps in `park`.
        if !self.notified.swap(true, Ordering::Release) {
            drop(self.lock.lock());
            self.condvar.notify_one();
        }
    }

    /// A waker that unparks this parker.
    pub(crate) fn waker(me: &Arc<Self>) -> Waker {
        let raw = Arc::into_raw(me.clone()) as *const ();
        // SAFETY: `raw` came from `Arc::into_raw` of an `Arc<Parker>`, which is what the
        // vtable functions expect; each RawWaker owns one strong count.
        unsafe { Waker::from_raw(RawWaker::new(raw, &VTABLE)) }
    }
}

static VTABLE: RawWakerVTable = RawWakerVTable::new(clone_raw, wake_raw, wake_by_ref_raw, drop_raw);

unsafe fn clone_raw(ptr: *const ()) -> RawWaker {
    // SAFETY: `ptr` is an `Arc<Parker>` owned by the waker being cloned.
    unsafe { Arc::increment_strong_count(ptr as *const Parker) };
    RawWaker::new(ptr, &VTABLE)
}

unsafe fn wake_raw(ptr: *const ()) {
    // SAFETY: the waker owns this strong count; we take it back to drop it.
    let parker = unsafe { Arc::from_raw(ptr as *const Parker) };
    parker.unpark();
}

unsafe fn wake_by_ref_raw(ptr: *const ()) {
    // SAFETY: the waker keeps the Arc alive for the call.
    unsafe { &*(ptr as *const Parker) }.unpark();
}

unsafe fn drop_raw(ptr: *const ()) {
    // SAFETY: the waker owns this strong count.
    drop(unsafe { Arc::from_raw(ptr as *const Parker) });
}

/// Runs `future` to completion on the calling thread (step 1 and 2 of the protocol).
pub(crate) fn block_on<F: Future>(future: F) -> F::Output {
    let parker = Parker::new();
    let waker = Parker::waker(&parker);
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(out) = coop::budget(|| future.as_mut().poll(&mut cx)) {
            return out;
        }
        parker.park();
    }
}
