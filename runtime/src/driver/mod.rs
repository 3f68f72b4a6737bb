//! What workers park on: the I/O reactor and the timer wheel, behind one [`Driver`].
//!
//! Exactly one thread at a time owns the [`Driver`] (the scheduler keeps it behind a
//! try-lock); every thread of the runtime shares the [`Handle`]. The owner parks with
//! [`Driver::park`]: it waits for I/O readiness with the next timer's deadline as the
//! time-out, then fires expired timers. Anyone may call [`Handle::unpark`] to cut that
//! wait short (new work for the parked thread, or a timer earlier than the one it waits for).
//!
//! This module stores wakers and never names a task or a scheduler.

use std::time::Duration;

use crate::loom::sync::Arc;

pub(crate) mod io;
pub(crate) mod time;

/// The part of the driver that only the parked thread touches.
#[derive(Debug)]
pub(crate) struct Driver {
    io: io::Driver,
    /// Shuts the timer wheel down when the driver is dropped (runtime shutdown).
    _time: time::Driver,
}

/// The part of the driver every thread shares.
#[derive(Debug)]
pub(crate) struct Handle {
    pub(crate) io: io::Handle,
    pub(crate) time: Arc<time::Handle>,
}

impl Driver {
    /// Creates the driver and the handle that wakes it, with `clock`: `time::Clock::new()`
    /// (real time only) for multi-thread runtimes, `time::Clock::pausable(start_paused)` for
    /// current-thread ones.
    /// `timer_shards`: one per worker (see the time driver's "Shards").
    pub(crate) fn with_clock(
        clock: time::Clock,
        timer_shards: usize,
    ) -> std::io::Result<(Driver, Handle)> {
        let (io, io_handle) = io::Driver::new()?;
        let (time_driver, time) = time::Driver::new(clock, timer_shards, io_handle.clone());
        Ok((
            Driver {
                io,
                _time: time_driver,
            },
            Handle {
                io: io_handle,
                time,
            },
        ))
    }

    /// Blocks until I/O is ready, a timer expires, `timeout` passes (`None`: no limit) or
    /// [`Handle::unpark`] is called; then fires expired timers.
    pub(crate) fn park(&mut self, handle: &Handle, timeout: Option<Duration>) {
        let timeout = handle.time.park_timeout(timeout);
        self.io.turn(timeout);
        handle.time.process();
    }
}

impl Handle {
    /// Wakes the thread parked in [`Driver::park`], or makes its next park return at once.
    pub(crate) fn unpark(&self) {
        self.io.unpark();
    }
}
