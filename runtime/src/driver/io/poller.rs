//! The system poller: `polling::Poller` in edge-triggered mode, behind the small API the
//! driver uses. Under `cfg(loom)` the sibling `poller_loom.rs` stands in with the same API.
//!
//! On Linux (x86_64, aarch64) the *wait* bypasses `polling::Poller::wait`, which costs five
//! system calls on every call whatever happens (it re-arms its timerfd with
//! `timerfd_settime` and `epoll_ctl`, then `epoll_wait`, then reads and re-arms its notifier
//! with `read` and `epoll_ctl`): a worker parking on the driver paid that each time, and
//! park-heavy workloads (a `Notify` ping, short sleeps) spent most of their system time there.
//! Here a wait is one `epoll_pwait2` on the poller's own epoll fd (nanosecond time-out, so
//! timers are not rounded to milliseconds; plain `epoll_wait` with the time-out rounded up if
//! the kernel predates 5.11), and `notify` writes to an eventfd of ours, registered in the
//! same epoll set in edge mode (never read: each write is a new edge), at most once until a
//! wait returns, as `polling`'s own `notify` does (a current-thread runtime fed by other
//! threads wrote once per remote wake-up: 850 ns per remote spawn against 430 without the
//! repeats, `benches/RESULTS.md`). Registration still
//! goes through `polling` (`add`, `delete`), which keeps the epoll set and its keys; a
//! registered source's event carries its key in `data`, exactly as `polling` sets it.
//! Except that there `add` is our own `epoll_ctl`, with `polling`'s flags plus `EPOLLRDHUP`
//! (which `polling` does not offer): the readiness record needs to know that a peer shut
//! down, see [`REPORTS_READ_CLOSED`].

use std::io;
use std::os::fd::{BorrowedFd, RawFd};
use std::time::Duration;

use super::readiness::EventFlags;

/// Whether events say when a peer shut its sending side down (`EventFlags::read_closed`).
/// Without it the short-transfer rule (`ScheduledIo::clear_after_short_transfer`) could put
/// a reader at end of stream to sleep for good, so it is off.
pub(crate) const REPORTS_READ_CLOSED: bool = cfg!(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
));

/// One `polling::Poller` (an epoll instance on Linux).
#[derive(Debug)]
pub(crate) struct Poller {
    inner: polling::Poller,
    #[cfg(all(
        target_os = "linux",
        any(target_arch = "x86_64", target_arch = "aarch64")
    ))]
    fast: fast::Wait,
}

/// The buffer `wait` fills.
#[derive(Debug)]
pub(crate) struct Events {
    #[cfg(not(all(
        target_os = "linux",
        any(target_arch = "x86_64", target_arch = "aarch64")
    )))]
    inner: polling::Events,
    #[cfg(all(
        target_os = "linux",
        any(target_arch = "x86_64", target_arch = "aarch64")
    ))]
    inner: fast::Events,
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
        #[cfg(all(
            target_os = "linux",
            any(target_arch = "x86_64", target_arch = "aarch64")
        ))]
        let fast = fast::Wait::new(&inner)?;
        Ok(Poller {
            inner,
            #[cfg(all(
                target_os = "linux",
                any(target_arch = "x86_64", target_arch = "aarch64")
            ))]
            fast,
        })
    }

    /// Registers `fd` once, for both directions, edge-triggered.
    ///
    /// # Safety
    ///
    /// `fd` must be open, and must be [`delete`](Self::delete)d before it is closed.
    pub(crate) unsafe fn add(&self, fd: RawFd, key: usize) -> io::Result<()> {
        #[cfg(all(
            target_os = "linux",
            any(target_arch = "x86_64", target_arch = "aarch64")
        ))]
        // SAFETY: the caller keeps `fd` open until it deletes it (`fast::add`'s contract);
        // `delete` goes through `polling`, which needs only that the fd is in the epoll set.
        return unsafe { fast::add(&self.inner, fd, key) };
        #[cfg(not(all(
            target_os = "linux",
            any(target_arch = "x86_64", target_arch = "aarch64")
        )))]
        // SAFETY: the caller keeps `fd` open until it deletes it (our contract above is
        // polling's contract for `add`).
        return unsafe {
            self.inner
                .add_with_mode(fd, polling::Event::all(key), polling::PollMode::Edge)
        };
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
        #[cfg(not(all(
            target_os = "linux",
            any(target_arch = "x86_64", target_arch = "aarch64")
        )))]
        return self.inner.wait(&mut events.inner, timeout).map(drop);
        #[cfg(all(
            target_os = "linux",
            any(target_arch = "x86_64", target_arch = "aarch64")
        ))]
        return self.fast.wait(&self.inner, &mut events.inner, timeout);
    }

    /// Wakes the current or the next `wait`.
    pub(crate) fn notify(&self) -> io::Result<()> {
        #[cfg(not(all(
            target_os = "linux",
            any(target_arch = "x86_64", target_arch = "aarch64")
        )))]
        return self.inner.notify();
        #[cfg(all(
            target_os = "linux",
            any(target_arch = "x86_64", target_arch = "aarch64")
        ))]
        return self.fast.notify();
    }
}

impl Events {
    pub(crate) fn new() -> Events {
        Events {
            #[cfg(not(all(
                target_os = "linux",
                any(target_arch = "x86_64", target_arch = "aarch64")
            )))]
            inner: polling::Events::new(),
            #[cfg(all(
                target_os = "linux",
                any(target_arch = "x86_64", target_arch = "aarch64")
            ))]
            inner: fast::Events::new(),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }

    #[cfg(all(
        target_os = "linux",
        any(target_arch = "x86_64", target_arch = "aarch64")
    ))]
    pub(crate) fn iter(&self) -> impl Iterator<Item = (usize, EventFlags)> + '_ {
        self.inner.iter()
    }

    #[cfg(not(all(
        target_os = "linux",
        any(target_arch = "x86_64", target_arch = "aarch64")
    )))]
    pub(crate) fn iter(&self) -> impl Iterator<Item = (usize, EventFlags)> + '_ {
        self.inner.iter().map(|ev| {
            let flags = EventFlags {
                readable: ev.readable,
                writable: ev.writable,
                closed: ev.is_interrupt(),
                error: ev.is_err().unwrap_or(false),
                // `polling` does not report a peer's shutdown apart from readability; the
                // short-transfer rule is off here (`REPORTS_READ_CLOSED`).
                read_closed: ev.is_interrupt(),
            };
            (ev.key, flags)
        })
    }
}

#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
mod fast {
    //! The Linux wait path (see the module doc of `poller`).

    use std::fs::File;
    use std::io::{self, Read, Write};
    use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
    use std::time::Duration;

    use polling::PollMode;

    use super::EventFlags;
    use crate::loom::sync::atomic::{
        AtomicBool,
        Ordering::{Relaxed, SeqCst},
    };

    /// The key of our eventfd in the epoll set. `polling` uses `usize::MAX` for its own
    /// (never armed here) notifier and timer; the driver's keys are slab indices, far below.
    const WAKE_KEY: usize = usize::MAX - 1;

    /// Events per wait; more stay queued in the kernel for the next wait.
    const CAPACITY: usize = 1024;

    #[derive(Debug)]
    pub(super) struct Wait {
        /// A `File` only for its safe `read`/`write` on the fd.
        pub(super) eventfd: File,
        /// False once `epoll_pwait2` said ENOSYS (a kernel before 5.11).
        pwait2: AtomicBool,
        /// A `notify` wrote to the eventfd and no wait has returned since. Further notifies
        /// skip the write: the pending edge already makes the current or next wait return.
        /// Cleared by every wait once it returns, with a swap: a notifier that saw it set
        /// published its work before setting it, so whoever waited sees that work on its
        /// re-check after the wait (all SeqCst).
        notified: AtomicBool,
    }

    /// Registers `fd` for both directions, edge-triggered, with `key` in `data`: what
    /// `polling`'s `add_with_mode(fd, Event::all(key), PollMode::Edge)` does, plus
    /// `EPOLLRDHUP`, so that events tell a peer's shutdown apart from new data.
    ///
    /// # Safety
    ///
    /// `fd` must be open, and must be deleted from `poller` before it is closed.
    pub(super) unsafe fn add(poller: &polling::Poller, fd: i32, key: usize) -> io::Result<()> {
        let flags = libc::EPOLLIN
            | libc::EPOLLPRI
            | libc::EPOLLRDHUP
            | libc::EPOLLHUP
            | libc::EPOLLERR
            | libc::EPOLLOUT
            | libc::EPOLLET;
        let mut ev = libc::epoll_event {
            events: flags as u32,
            u64: key as u64,
        };
        // SAFETY: `ev` is a valid epoll_event for the duration of the call; the fd's
        // lifetime is the caller's contract.
        let rc = unsafe { libc::epoll_ctl(poller.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut ev) };
        if rc == -1 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    impl Wait {
        pub(super) fn new(poller: &polling::Poller) -> io::Result<Wait> {
            // SAFETY: eventfd has no memory-safety preconditions; we check the result.
            let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
            if fd < 0 {
                return Err(io::Error::last_os_error());
            }
            // SAFETY: `fd` was just created and is owned by nothing else.
            let eventfd = File::from(unsafe { OwnedFd::from_raw_fd(fd) });
            // SAFETY: the eventfd lives in `Wait`, which `Poller` drops after deleting it
            // (see `Drop for Poller`), so it is open for as long as it is registered.
            unsafe {
                poller.add_with_mode(
                    eventfd.as_raw_fd(),
                    polling::Event::readable(WAKE_KEY),
                    PollMode::Edge,
                )?;
            }
            Ok(Wait {
                eventfd,
                pwait2: AtomicBool::new(true),
                notified: AtomicBool::new(false),
            })
        }

        pub(super) fn wait(
            &self,
            poller: &polling::Poller,
            events: &mut Events,
            timeout: Option<Duration>,
        ) -> io::Result<()> {
            let epfd = poller.as_raw_fd();
            let list = &mut events.list;
            let n = loop {
                let n = if self.pwait2.load(Relaxed) {
                    let ts = timeout.map(|t| libc::timespec {
                        tv_sec: t.as_secs().min(i64::MAX as u64) as libc::time_t,
                        tv_nsec: t.subsec_nanos() as libc::c_long,
                    });
                    let ts_ptr = ts.as_ref().map_or(std::ptr::null(), |t| t as *const _);
                    // SAFETY: `list` has room for CAPACITY events (reserved in `new`); the
                    // time-out pointer is null or points at `ts`, alive for the call; a null
                    // signal mask makes the kernel ignore the size argument.
                    unsafe {
                        libc::syscall(
                            libc::SYS_epoll_pwait2,
                            epfd,
                            list.as_mut_ptr(),
                            CAPACITY as libc::c_int,
                            ts_ptr,
                            std::ptr::null::<libc::sigset_t>(),
                            8usize,
                        ) as libc::c_int
                    }
                } else {
                    let ms = match timeout {
                        None => -1,
                        // Round up: waking early would only cost a spin, waking late a tick.
                        Some(t) => t.as_nanos().div_ceil(1_000_000).min(i32::MAX as u128) as i32,
                    };
                    // SAFETY: as above, `list` has room for CAPACITY events.
                    unsafe {
                        libc::epoll_wait(epfd, list.as_mut_ptr(), CAPACITY as libc::c_int, ms)
                    }
                };
                if n >= 0 {
                    break n as usize;
                }
                let err = io::Error::last_os_error();
                match err.raw_os_error() {
                    // A signal: a spurious wake-up, which every caller tolerates.
                    Some(libc::EINTR) => break 0,
                    Some(libc::ENOSYS) if self.pwait2.load(Relaxed) => {
                        self.pwait2.store(false, Relaxed);
                    }
                    _ => return Err(err),
                }
            };
            // After the wait, never before it: a notify that found the flag set skipped its
            // write, and only a wait that starts after this swap may block again.
            self.notified.swap(false, SeqCst);
            // SAFETY: the kernel initialised the first `n` entries (n <= CAPACITY).
            unsafe { list.set_len(n) };
            Ok(())
        }

        /// Adds 1 to the eventfd's counter. The counter is never read back: in edge mode every
        /// write is a new edge, which is all a wake-up needs (and saves a `read` per wake).
        pub(super) fn notify(&self) -> io::Result<()> {
            if self.notified.swap(true, SeqCst) {
                return Ok(());
            }
            let mut file = &self.eventfd;
            match file.write(&1u64.to_ne_bytes()) {
                Ok(_) => Ok(()),
                // The counter is at its maximum (after 2^64 - 2 wake-ups): reset it, retry.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    let _ = file.read(&mut [0u8; 8]);
                    file.write(&1u64.to_ne_bytes()).map(drop)
                }
                Err(e) => Err(e),
            }
        }

        pub(super) fn deregister(&self, poller: &polling::Poller) {
            let _ = poller.delete(self.eventfd.as_fd());
        }
    }

    /// The kernel's event records, read in place.
    #[derive(Debug)]
    pub(super) struct Events {
        list: Vec<libc::epoll_event>,
    }

    impl Events {
        pub(super) fn new() -> Events {
            Events {
                list: Vec::with_capacity(CAPACITY),
            }
        }

        pub(super) fn clear(&mut self) {
            self.list.clear();
        }

        pub(super) fn is_empty(&self) -> bool {
            self.list.is_empty()
        }

        /// Decodes as `polling` does: readable on IN, PRI, HUP or ERR; writable on OUT, HUP
        /// or ERR. Our own wake-up and `polling`'s internal key are skipped.
        pub(super) fn iter(&self) -> impl Iterator<Item = (usize, EventFlags)> + '_ {
            self.list.iter().filter_map(|ev| {
                // Copies: the struct is packed on x86_64, so no references to its fields.
                let (bits, key) = (ev.events as libc::c_int, ev.u64 as usize);
                if key >= WAKE_KEY {
                    return None;
                }
                let any = |m: libc::c_int| bits & m != 0;
                let flags = EventFlags {
                    readable: any(libc::EPOLLIN | libc::EPOLLPRI | libc::EPOLLHUP | libc::EPOLLERR),
                    writable: any(libc::EPOLLOUT | libc::EPOLLHUP | libc::EPOLLERR),
                    closed: any(libc::EPOLLHUP),
                    error: any(libc::EPOLLERR),
                    read_closed: any(libc::EPOLLRDHUP | libc::EPOLLHUP),
                };
                Some((key, flags))
            })
        }
    }
}

#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
impl Drop for Poller {
    fn drop(&mut self) {
        // Before the eventfd closes (it is a field of `fast`, dropped after this).
        self.fast.deregister(&self.inner);
    }
}

#[cfg(all(
    test,
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
mod tests {
    use std::io::Read;
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use super::*;

    /// The eventfd's counter (one per write since the last read), read and reset.
    fn writes(poller: &Poller) -> u64 {
        let mut buf = [0u8; 8];
        match (&poller.fast.eventfd).read(&mut buf) {
            Ok(_) => u64::from_ne_bytes(buf),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => 0,
            Err(e) => panic!("reading the eventfd: {e}"),
        }
    }

    #[test]
    fn notifies_before_a_wait_returns_write_once() {
        let poller = Poller::new().unwrap();
        let mut events = Events::new();
        for _ in 0..5 {
            poller.notify().unwrap();
        }
        // The pending edge ends the next wait at once, and the wait re-arms `notify`.
        let start = Instant::now();
        poller
            .wait(&mut events, Some(Duration::from_secs(10)))
            .unwrap();
        assert!(start.elapsed() < Duration::from_secs(5));
        // (Read only after the wait: an eventfd read to zero also withdraws the edge.)
        assert_eq!(writes(&poller), 1);
        poller.notify().unwrap();
        poller.notify().unwrap();
        assert_eq!(writes(&poller), 1);
    }

    /// Every notify that follows a wait's return reaches the next wait, even when an
    /// earlier one was skipped.
    #[test]
    fn a_notify_after_a_wait_wakes_the_next_wait() {
        let poller = Arc::new(Poller::new().unwrap());
        let mut events = Events::new();
        for round in 0..200 {
            let p = poller.clone();
            let notifier = std::thread::spawn(move || {
                if round % 2 == 0 {
                    std::thread::yield_now();
                }
                p.notify().unwrap();
                p.notify().unwrap();
            });
            let start = Instant::now();
            poller
                .wait(&mut events, Some(Duration::from_secs(10)))
                .unwrap();
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "round {round}: the wait missed its notify"
            );
            notifier.join().unwrap();
            // Both notifies may have landed before the wait returned, or one after: drain a
            // possible leftover edge so that each round starts clean.
            poller.wait(&mut events, Some(Duration::ZERO)).unwrap();
        }
    }
}
