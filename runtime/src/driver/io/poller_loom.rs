//! A loom-visible stand-in for the system poller, with the API of `poller.rs`.
//!
//! Tests play the kernel with [`Poller::fire`]: it queues an edge for a registered fd, as
//! epoll does when the fd becomes ready, and wakes a waiting [`Poller::wait`].

use std::collections::VecDeque;
use std::io;
use std::os::fd::RawFd;
use std::time::Duration;

use super::readiness::EventFlags;
use crate::loom::sync::atomic::{AtomicBool, Ordering::SeqCst};
use crate::loom::sync::{Condvar, Mutex};

/// The model's events never report a peer's shutdown, so the short-transfer rule is off.
pub(crate) const REPORTS_READ_CLOSED: bool = false;

#[derive(Debug)]
pub(crate) struct Poller {
    state: Mutex<State>,
    condvar: Condvar,
    /// The real poller's `notified` flag (see `poller.rs`), with its protocol: `notify`
    /// skips the "eventfd write" (`State::notified`) while it is set, `wait` clears it after
    /// it returns. Here loom can check that no skipped notify is lost.
    write_pending: AtomicBool,
}

#[derive(Debug, Default)]
struct State {
    registered: Vec<(RawFd, usize)>,
    pending: VecDeque<(usize, EventFlags)>,
    notified: bool,
}

#[derive(Debug)]
pub(crate) struct Events {
    list: Vec<(usize, EventFlags)>,
}

impl Poller {
    pub(crate) fn new() -> io::Result<Poller> {
        Ok(Poller {
            state: Mutex::new(State::default()),
            condvar: Condvar::new(),
            write_pending: AtomicBool::new(false),
        })
    }

    /// # Safety
    ///
    /// None in the stand-in; `unsafe` only to match the real poller.
    pub(crate) unsafe fn add(&self, fd: RawFd, key: usize) -> io::Result<()> {
        self.state.lock().registered.push((fd, key));
        Ok(())
    }

    /// # Safety
    ///
    /// None in the stand-in; `unsafe` only to match the real poller.
    pub(crate) unsafe fn delete(&self, fd: RawFd) -> io::Result<()> {
        let mut state = self.state.lock();
        let keys: Vec<usize> = state
            .registered
            .iter()
            .filter(|r| r.0 == fd)
            .map(|r| r.1)
            .collect();
        state.registered.retain(|r| r.0 != fd);
        // Like EPOLL_CTL_DEL: queued but undelivered events of the fd are dropped.
        state.pending.retain(|e| !keys.contains(&e.0));
        Ok(())
    }

    /// loom has no time: any time-out other than zero waits like `None`.
    pub(crate) fn wait(&self, events: &mut Events, timeout: Option<Duration>) -> io::Result<()> {
        events.list.clear();
        let mut state = self.state.lock();
        while state.pending.is_empty() && !state.notified && timeout != Some(Duration::ZERO) {
            self.condvar.wait(&mut state);
        }
        state.notified = false;
        events.list.extend(state.pending.drain(..));
        drop(state);
        self.write_pending.swap(false, SeqCst);
        Ok(())
    }

    pub(crate) fn notify(&self) -> io::Result<()> {
        if self.write_pending.swap(true, SeqCst) {
            return Ok(());
        }
        self.state.lock().notified = true;
        self.condvar.notify_one();
        Ok(())
    }

    /// The kernel's side: `fd` had an edge.
    #[cfg(test)]
    pub(crate) fn fire(&self, fd: RawFd, flags: EventFlags) {
        let mut state = self.state.lock();
        let keys: Vec<usize> = state
            .registered
            .iter()
            .filter(|r| r.0 == fd)
            .map(|r| r.1)
            .collect();
        state.pending.extend(keys.into_iter().map(|k| (k, flags)));
        drop(state);
        self.condvar.notify_one();
    }
}

impl Events {
    pub(crate) fn new() -> Events {
        Events { list: Vec::new() }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (usize, EventFlags)> + '_ {
        self.list.iter().copied()
    }
}
