//! The system poller: `polling::Poller` in edge-triggered mode, behind the small API the
//! driver uses. Under `cfg(loom)` the sibling `poller_loom.rs` stands in with the same API.

use std::io;
use std::os::fd::{BorrowedFd, RawFd};
use std::time::Duration;

use polling::PollMode;

use super::readiness::EventFlags;

/// One `polling::Poller` (an epoll instance on Linux).
#[derive(Debug)]
pub(crate) struct Poller {
    inner: polling::Poller,
}

/// The buffer `wait` fills.
#[derive(Debug)]
pub(crate) struct Events {
    inner: polling::Events,
}

impl Poller {
    pub(crate) fn new() -> io::Result<Poller> {
        let inner = polling::Poller::new()?;
        if !inner.supports_edge() {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "corio's I/O driver needs edge-triggered polling (epoll or kqueue); \
                 this platform's poller does not offer it",
            ));
        }
        Ok(Poller { inner })
    }

    /// Registers `fd` once, for both directions, edge-triggered.
    ///
    /// # Safety
    ///
    /// `fd` must be open, and must be [`delete`](Self::delete)d before it is closed.
    pub(crate) unsafe fn add(&self, fd: RawFd, key: usize) -> io::Result<()> {
        // SAFETY: the caller keeps `fd` open until it deletes it (our contract above is
        // polling's contract for `add`).
        unsafe {
            self.inner
                .add_with_mode(fd, polling::Event::all(key), PollMode::Edge)
        }
    }

    /// Removes `fd`; after this returns no `wait` reports it.
    ///
    /// # Safety
    ///
    /// `fd` must still be open.
    pub(crate) unsafe fn delete(&self, fd: RawFd) -> io::Result<()> {
        // SAFETY: the caller guarantees that `fd` is open for the duration of this call.
        let fd = unsafe { BorrowedFd::borrow_raw(fd) };
        self.inner.delete(fd)
    }

    /// Waits for events, `timeout` (`None`: forever) or [`notify`](Self::notify).
    pub(crate) fn wait(&self, events: &mut Events, timeout: Option<Duration>) -> io::Result<()> {
        events.inner.clear();
        self.inner.wait(&mut events.inner, timeout).map(drop)
    }

    /// Wakes the current or the next `wait`.
    pub(crate) fn notify(&self) -> io::Result<()> {
        self.inner.notify()
    }
}

impl Events {
    pub(crate) fn new() -> Events {
        Events {
            inner: polling::Events::new(),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (usize, EventFlags)> + '_ {
        self.inner.iter().map(|ev| {
            let flags = EventFlags {
                readable: ev.readable,
                writable: ev.writable,
                closed: ev.is_interrupt(),
                error: ev.is_err().unwrap_or(false),
            };
            (ev.key, flags)
        })
    }
}
