//! The one place where `corio::time` reaches the runtime: the current runtime's time driver.

use std::time::Instant as StdInstant;

use crate::driver::time::{any_virtual_clock, Handle as TimeHandle, TimeDriverRef};
use crate::runtime::Handle;

/// A timer's way to its runtime: the runtime handle (which keeps the wheel alive while the
/// timer exists) seen as a [`TimeDriverRef`].
#[derive(Clone)]
pub(crate) struct RuntimeTime {
    handle: Handle,
}

impl RuntimeTime {
    /// The current runtime. Panics outside one, naming `what` and the fix.
    #[track_caller]
    pub(crate) fn current(what: &str) -> RuntimeTime {
        match Handle::try_current() {
            Ok(handle) => RuntimeTime { handle },
            Err(e) => panic!(
                "{what} must be called from inside a corio runtime (from a task, inside \
                 Runtime::block_on, or after Handle::enter()): {e}"
            ),
        }
    }

    /// The runtime's time now (virtual time if its clock was paused).
    pub(crate) fn now(&self) -> StdInstant {
        self.time_handle().clock().now()
    }
}

impl TimeDriverRef for RuntimeTime {
    fn time_handle(&self) -> &TimeHandle {
        &self.handle.driver().time
    }

    fn unpark(&self) {
        self.handle.driver().unpark();
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
        if let Ok(handle) = Handle::try_current() {
            return handle.driver().time.clock().now();
        }
    }
    StdInstant::now()
}
