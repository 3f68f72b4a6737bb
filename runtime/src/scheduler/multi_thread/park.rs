//! One worker's parker: it sleeps either on the shared driver (if it could take it) or on its
//! own condition variable (DESIGN.md, parking protocol step 5).
//!
//! States: `EMPTY` (running), `PARKED_CONDVAR`, `PARKED_DRIVER`, `NOTIFIED` (an unpark
//! arrived and was not consumed yet). `unpark` swaps in `NOTIFIED` and then wakes the worker
//! the way it sleeps; `park` consumes `NOTIFIED` before sleeping and after waking, so an
//! unpark is never lost, only possibly early.

use std::time::{Duration, Instant};

use crate::driver::{self, Driver};
use crate::loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use crate::loom::sync::{wait_timeout, Condvar, Mutex};

const EMPTY: usize = 0;
const PARKED_CONDVAR: usize = 1;
const PARKED_DRIVER: usize = 2;
const NOTIFIED: usize = 3;

#[derive(Debug)]
pub(super) struct Parker {
    /// SeqCst: `unpark` must see `PARKED_*` whenever `park` is past its own check of
    /// `NOTIFIED`; the two sides store and then load each other's word.
    state: AtomicUsize,
    lock: Mutex<()>,
    condvar: Condvar,
}

/// How a park ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Woke {
    /// An unpark, or a spurious wake-up.
    Unparked,
    /// The time-out passed.
    TimedOut,
    /// Parked on the driver, which may have woken tasks.
    Driver,
}

impl Parker {
    pub(super) fn new() -> Parker {
        Parker {
            state: AtomicUsize::new(EMPTY),
            lock: Mutex::new(()),
            condvar: Condvar::new(),
        }
    }

    /// True while the worker sleeps on the driver.
    pub(super) fn is_on_driver(&self) -> bool {
        self.state.load(SeqCst) == PARKED_DRIVER
    }

    /// Sleeps until unparked or `timeout` passes (`None`: no limit). If `driver` is free
    /// (`try_lock`), sleeps in it, so I/O and timers wake this worker.
    pub(super) fn park(
        &self,
        driver: &Mutex<Option<Driver>>,
        handle: &driver::Handle,
        timeout: Option<Duration>,
    ) -> Woke {
        if self
            .state
            .compare_exchange(NOTIFIED, EMPTY, SeqCst, SeqCst)
            .is_ok()
        {
            return Woke::Unparked;
        }
        if let Some(mut guard) = driver.try_lock() {
            if let Some(driver) = guard.as_mut() {
                if let Err(actual) =
                    self.state
                        .compare_exchange(EMPTY, PARKED_DRIVER, SeqCst, SeqCst)
                {
                    debug_assert_eq!(actual, NOTIFIED);
                    self.state.store(EMPTY, SeqCst);
                    return Woke::Unparked;
                }
                driver.park(handle, timeout);
                self.state.store(EMPTY, SeqCst);
                return Woke::Driver;
            }
        }
        self.park_condvar(timeout)
    }

    fn park_condvar(&self, timeout: Option<Duration>) -> Woke {
        let timeout = timeout.filter(|_| crate::loom::HAS_CLOCK);
        let mut guard = self.lock.lock();
        if let Err(actual) = self
            .state
            .compare_exchange(EMPTY, PARKED_CONDVAR, SeqCst, SeqCst)
        {
            debug_assert_eq!(actual, NOTIFIED);
            self.state.store(EMPTY, SeqCst);
            return Woke::Unparked;
        }
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            match deadline {
                None => self.condvar.wait(&mut guard),
                Some(deadline) => {
                    let now = Instant::now();
                    if now >= deadline {
                        self.state.store(EMPTY, SeqCst);
                        return Woke::TimedOut;
                    }
                    wait_timeout(&self.condvar, &mut guard, deadline - now);
                }
            }
            if self
                .state
                .compare_exchange(NOTIFIED, EMPTY, SeqCst, SeqCst)
                .is_ok()
            {
                return Woke::Unparked;
            }
        }
    }

    /// Wakes the worker, or makes its next park return at once.
    pub(super) fn unpark(&self, handle: &driver::Handle) {
        match self.state.swap(NOTIFIED, SeqCst) {
            EMPTY | NOTIFIED => {}
            PARKED_CONDVAR => {
                // Taking the lock orders this notify after the sleeper's wait began.
                drop(self.lock.lock());
                self.condvar.notify_one();
            }
            PARKED_DRIVER => handle.unpark(),
            actual => unreachable!("invalid parker state {actual}"),
        }
    }
}
