//! The one place where `corio::time` reaches the runtime: the current runtime's time driver.

use std::time::Instant as StdInstant;

use crate::driver::time::{any_virtual_clock, Handle as TimeHandle, TimeDriverRef};
use crate::loom::sync::Arc;
use crate::runtime::context;

/// A timer's way to its runtime: the runtime's time driver, which the `Arc` keeps alive
/// (the wheel and the reactor handle that unparks the driver) while the timer exists.
///
/// Why the time driver's own `Arc` and not the runtime handle's: every spawn clones the
/// runtime handle and every task frees a clone, so its count is written by the spawning
/// thread and by every worker; a `Sleep` cloning and dropping it too (from the workers)
/// made that cache line bounce at every timer (`perf`: 5-6 % of the CPU of the
/// 100,000-sleep benchmark in `Sleep`'s creation and drop, nearly all on the count).
#[derive(Clone)]
pub(crate) struct RuntimeTime {
    time: Arc<TimeHandle>,
}

impl RuntimeTime {
    /// The current runtime's. Panics outside one, naming `what` and the fix.
    #[track_caller]
    pub(crate) fn current(what: &str) -> RuntimeTime {
        match context::with_current(|handle| handle.driver().time.clone()) {
            Ok(time) => RuntimeTime { time },
            Err(e) => panic!(
                "{what} must be called from inside a corio runtime (from a task, inside \
                 Runtime::block_on, or after Handle::enter()): {e}"
            ),
        }
    }

    /// The runtime's time now (virtual time if its clock was paused).
    pub(crate) fn now(&self) -> StdInstant {
        self.time.clock().now()
    }
}

impl TimeDriverRef for RuntimeTime {
    fn time_handle(&self) -> &TimeHandle {
        &self.time
    }

    fn unpark(&self) {
        self.time.unpark_driver();
    }
}

impl std::fmt::Debug for RuntimeTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuntimeTime").finish_non_exhaustive()
    }
}

/// `Instant::now()`: the current runtime's clock when some clock runs on virtual time (and
/// there is a current runtime), else std's clock with no lookup at all.
pub(crate) fn now() -> StdInstant {
    if any_virtual_clock() {
        if let Ok(now) = context::with_current(|handle| handle.driver().time.clock().now()) {
            return now;
        }
    }
    StdInstant::now()
}
