//! The timer wheel. For now no timers exist; the timer issue fills this in, keeping the
//! API that [`super::Driver::park`] uses.

use std::time::Duration;

#[derive(Debug)]
pub(crate) struct Handle {}

impl Handle {
    pub(crate) fn new() -> Self {
        Handle {}
    }

    /// The time-out the parked thread may sleep: `timeout` shortened to the next timer.
    pub(crate) fn park_timeout(&self, timeout: Option<Duration>) -> Option<Duration> {
        timeout
    }

    /// Fires every timer whose deadline has passed.
    pub(crate) fn process(&self) {}
}
