//! The I/O reactor: one `polling::Poller` per runtime, a readiness record per source.
//!
//! # Responsibility
//!
//! The reactor turns the poller's events into woken tasks. It stores [`Waker`]s and knows
//! nothing of tasks or schedulers. Exactly one thread at a time owns the [`Driver`] and
//! calls [`Driver::turn`]; every thread shares the [`Handle`], through which sources
//! register ([`Registration::new`]) and through which anyone interrupts a blocked turn
//! ([`Handle::unpark`], which is `Poller::notify`).
//!
//! # Edge-triggered, registered once
//!
//! Each source is added to the poller once, for both directions, in `PollMode::Edge`, and
//! deleted once. Between the two there is no `epoll_ctl` at all: the readiness record (see
//! [`readiness`]) caches what the last edge said, a task whose source is ready does its
//! operation with no poller call, and a task that gets `WouldBlock` clears the cached bit
//! and sleeps until the next edge.
//!
//! `PollMode::Oneshot` (polling's default) was rejected: it disarms the fd after each event,
//! so every wait that follows a `WouldBlock` needs an `epoll_ctl(MOD)` to re-arm it, and two
//! tasks on the two directions of one socket must agree on the interest they re-arm with.
//! Edge mode costs nothing per operation and keeps the directions independent. Its hazard is
//! the classic lost edge (the edge arrives while the task still thinks the fd is ready, and
//! the task then clears readiness and sleeps forever): the record's tick closes it, because a
//! clear only applies if no event arrived since the task read the readiness it acted on.
//! Platforms whose poller has no edge mode are refused by [`Driver::new`] with a clear error.
//!
//! # Short transfers clear readiness
//!
//! A stream socket's read that returns fewer bytes than asked for has emptied the receive
//! queue, and a write that takes fewer has filled the send buffer: the record is cleared then
//! and there ([`Registration::poll_stream_io`]), as Tokio does on epoll, rather than by the
//! `WouldBlock` of one more system call. Besides that call, it matters for fairness: in
//! `tcp_echo` (64 echo tasks, data always waiting) an echo task without it kept reading and
//! writing until its whole coop budget was spent, 1 MiB per poll (128 polls per run of 64
//! MiB, 350 us each, against Tokio's 535 of 70 us), the client readers waited behind those
//! polls, and all 64 MiB sat in socket buffers, out of cache; with it the polls match Tokio's
//! and so does the throughput. Its hazard: the peer's shutdown arrives with its last bytes,
//! the short read of those bytes clears, and no edge follows. So the poller also reports
//! `EPOLLRDHUP`, the record keeps a sticky `READ_CLOSED`, and a short read never clears past
//! it ([`readiness::ScheduledIo::clear_after_short_transfer`]); where the poller cannot say
//! (`poller::REPORTS_READ_CLOSED` false) the rule is off. Datagram sockets never use it.
//!
//! # Protocol
//!
//! 1. [`Registration::new`]: insert a fresh readiness record (optimistically readable and
//!    writable) into the registry under a key `index | generation`, then `Poller::add`.
//! 2. [`Driver::turn`]: `Poller::wait` (time-out as given; `Some(ZERO)` only collects what
//!    is already queued). If there are events: lock the registry once, look every key up
//!    (a stale key whose generation no longer matches is skipped), record the event in the
//!    record and collect the wakers it satisfies; unlock; wake them. Waking happens outside
//!    every reactor lock, so a woken task that registers a new source cannot deadlock.
//! 3. A source's I/O: see the protocol in [`readiness`], steps 3 to 6.
//! 4. Deregistration ([`Registration`]'s drop, or [`Registration::deregister`] before an
//!    `into_inner`): `Poller::delete` while the fd is still open, then remove the record from
//!    the registry. The owner of the fd closes it only after this.
//! 5. Dropping the [`Driver`] (runtime shutdown) marks every record shut down and wakes all
//!    waiters; their operations then fail with an error that says the runtime is gone, and
//!    new registrations are refused.

use std::fmt;
use std::io;
use std::os::fd::RawFd;
use std::task::{ready, Context, Poll, Waker};
use std::time::Duration;

use crate::coop;
use crate::loom::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use crate::loom::sync::{Arc, Mutex};

pub(crate) mod readiness;

#[cfg(not(loom))]
mod poller;
#[cfg(loom)]
#[path = "poller_loom.rs"]
mod poller;

use poller::{Events, Poller};
use readiness::{shutdown_error, ScheduledIo};
pub(crate) use readiness::{Direction, ReadyEvent};

/// Low bits of a key: the registry slot. The rest: the slot's generation, so that an event
/// queued for a source that was removed never reaches the next source in its slot.
const INDEX_BITS: u32 = 24;
const INDEX_MASK: usize = (1 << INDEX_BITS) - 1;

/// The part of the reactor only the thread that turns it touches.
pub(crate) struct Driver {
    inner: Arc<Inner>,
    events: Events,
    /// Wakers collected under the registry lock, woken after it is released. Kept to reuse
    /// its allocation.
    wake: Vec<Waker>,
}

/// The part of the reactor every thread shares. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Handle {
    inner: Arc<Inner>,
}

struct Inner {
    poller: Poller,
    registry: Mutex<Registry>,
    /// Sources added to the poller and not yet deleted. While there are none, a turn that
    /// must not block has nothing to collect and skips its system call (see
    /// [`Driver::turn`]). Counted after a successful add, uncounted after the delete.
    sources: AtomicUsize,
    /// How many times [`Handle::unpark`] was called, for tests that check that a wake-up
    /// costs no system call where none is needed.
    #[cfg(all(test, not(loom)))]
    unparks: AtomicUsize,
    /// How many turns asked the poller, for the same kind of tests.
    #[cfg(all(test, not(loom)))]
    waits: AtomicUsize,
}

/// The live sources, by key.
#[derive(Debug, Default)]
struct Registry {
    slots: Vec<Slot>,
    free: Vec<usize>,
    /// Set once the driver is dropped: no further registrations.
    shutdown: bool,
}

#[derive(Debug)]
struct Slot {
    generation: usize,
    io: Option<Arc<ScheduledIo>>,
}

impl Registry {
    fn insert(&mut self, io: Arc<ScheduledIo>) -> io::Result<usize> {
        if self.shutdown {
            return Err(shutdown_error());
        }
        let index = match self.free.pop() {
            Some(index) => index,
            None if self.slots.len() < INDEX_MASK => {
                self.slots.push(Slot {
                    generation: 0,
                    io: None,
                });
                self.slots.len() - 1
            }
            None => {
                return Err(io::Error::other(format!(
                    "corio's I/O driver holds {INDEX_MASK} sources already; close some first"
                )))
            }
        };
        let slot = &mut self.slots[index];
        slot.io = Some(io);
        // The key is never usize::MAX (polling reserves it): the index is below INDEX_MASK.
        Ok(index | (slot.generation << INDEX_BITS))
    }

    fn get(&self, key: usize) -> Option<&Arc<ScheduledIo>> {
        let slot = self.slots.get(key & INDEX_MASK)?;
        let generation = key >> INDEX_BITS;
        slot.io.as_ref().filter(|_| slot.generation == generation)
    }

    fn remove(&mut self, key: usize) {
        let index = key & INDEX_MASK;
        if self.get(key).is_some() {
            let slot = &mut self.slots[index];
            slot.io = None;
            slot.generation = slot.generation.wrapping_add(1) & (usize::MAX >> INDEX_BITS);
            self.free.push(index);
        }
    }
}

impl Driver {
    /// Creates the reactor and the handle that registers sources and unparks it.
    pub(crate) fn new() -> io::Result<(Driver, Handle)> {
        let inner = Arc::new(Inner {
            poller: Poller::new()?,
            registry: Mutex::new(Registry::default()),
            sources: AtomicUsize::new(0),
            #[cfg(all(test, not(loom)))]
            unparks: AtomicUsize::new(0),
            #[cfg(all(test, not(loom)))]
            waits: AtomicUsize::new(0),
        });
        let driver = Driver {
            inner: inner.clone(),
            events: Events::new(),
            wake: Vec::new(),
        };
        Ok((driver, Handle { inner }))
    }

    /// Protocol step 2: blocks until events, `timeout` (`None`: no limit; `Some(ZERO)`: no
    /// blocking at all) or [`Handle::unpark`]; then delivers readiness to the wakers.
    pub(crate) fn turn(&mut self, timeout: Option<Duration>) {
        // A runtime without sockets or pipes: a busy worker's periodic look at I/O (every
        // `event_interval` polls) would be one `epoll_pwait2` that returns nothing. A source
        // registered meanwhile loses nothing: its events wait in the kernel for the next
        // turn (and a new registration starts out ready anyway). A wake-up pending on the
        // eventfd only makes the next blocking turn return at once, as an unpark may.
        if timeout == Some(Duration::ZERO) && self.inner.sources.load(Relaxed) == 0 {
            return;
        }
        #[cfg(all(test, not(loom)))]
        self.inner.waits.fetch_add(1, Relaxed);
        if let Err(e) = self.inner.poller.wait(&mut self.events, timeout) {
            // polling retries EINTR itself; anything else means the poller fd is broken and
            // no I/O of this runtime could ever complete again.
            panic!("corio: waiting on the I/O poller failed ({e}); the runtime cannot continue");
        }
        if self.events.is_empty() {
            return;
        }
        {
            let registry = self.inner.registry.lock();
            for (key, flags) in self.events.iter() {
                if let Some(io) = registry.get(key) {
                    io.set_readiness(flags, &mut self.wake);
                }
            }
        }
        self.wake.drain(..).for_each(Waker::wake);
    }
}

impl Drop for Driver {
    /// Protocol step 5.
    fn drop(&mut self) {
        {
            let mut registry = self.inner.registry.lock();
            registry.shutdown = true;
            for io in registry.slots.iter().filter_map(|s| s.io.as_ref()) {
                io.shutdown(&mut self.wake);
            }
        }
        self.wake.drain(..).for_each(Waker::wake);
    }
}

impl Handle {
    /// How many times [`Handle::unpark`] was called.
    #[cfg(all(test, not(loom)))]
    pub(crate) fn unpark_count(&self) -> usize {
        self.inner.unparks.load(Relaxed)
    }

    /// Wakes the thread blocked in [`Driver::turn`], or makes its next turn return at once.
    pub(crate) fn unpark(&self) {
        #[cfg(all(test, not(loom)))]
        self.inner.unparks.fetch_add(1, Relaxed);
        if let Err(e) = self.inner.poller.notify() {
            // Writing to the poller's own eventfd/pipe does not fail while the poller lives.
            panic!("corio: could not wake the I/O driver ({e})");
        }
    }
}

/// One source's membership in the reactor. Dropping it deregisters the fd (step 4).
pub(crate) struct Registration {
    handle: Handle,
    io: Arc<ScheduledIo>,
    key: usize,
    fd: RawFd,
    registered: bool,
}

impl Registration {
    /// Protocol step 1: registers `fd` with the reactor of `handle`.
    ///
    /// # Safety
    ///
    /// `fd` must stay open until this registration is dropped or
    /// [`deregister`](Self::deregister)ed.
    pub(crate) unsafe fn new(handle: &Handle, fd: RawFd) -> io::Result<Registration> {
        let io = Arc::new(ScheduledIo::new());
        let key = handle.inner.registry.lock().insert(io.clone())?;
        // SAFETY: the caller keeps `fd` open until `deregister`, which deletes it first.
        if let Err(e) = unsafe { handle.inner.poller.add(fd, key) } {
            handle.inner.registry.lock().remove(key);
            return Err(e);
        }
        handle.inner.sources.fetch_add(1, Relaxed);
        Ok(Registration {
            handle: handle.clone(),
            io,
            key,
            fd,
            registered: true,
        })
    }

    /// Waits until `dir` is ready (protocol steps 3 to 5), without doing any I/O.
    pub(crate) fn poll_ready(
        &self,
        cx: &mut Context<'_>,
        dir: Direction,
    ) -> Poll<io::Result<ReadyEvent>> {
        self.io.poll_ready(cx, dir)
    }

    /// Runs the non-blocking `op` once `dir` is ready, until it does not return
    /// `WouldBlock`; one unit of the task's coop budget per completed operation.
    pub(crate) fn poll_io<R>(
        &self,
        cx: &mut Context<'_>,
        dir: Direction,
        op: impl FnMut() -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        self.poll_io_then(cx, dir, op, |_| false)
    }

    /// [`poll_io`](Self::poll_io) for a byte stream's read or write of `len` bytes: a
    /// transfer of fewer bytes clears the direction's readiness (see
    /// [`ScheduledIo::clear_after_short_transfer`]), as Tokio does on epoll and kqueue.
    /// Only for stream sockets and pipes, whose short read means an empty receive queue.
    pub(crate) fn poll_stream_io(
        &self,
        cx: &mut Context<'_>,
        dir: Direction,
        len: usize,
        op: impl FnMut() -> io::Result<usize>,
    ) -> Poll<io::Result<usize>> {
        self.poll_io_then(cx, dir, op, |&n| {
            poller::REPORTS_READ_CLOSED && 0 < n && n < len
        })
    }

    /// The loop of both: `short(result)` says whether a successful result leaves the
    /// direction not ready.
    fn poll_io_then<R>(
        &self,
        cx: &mut Context<'_>,
        dir: Direction,
        mut op: impl FnMut() -> io::Result<R>,
        short: impl Fn(&R) -> bool,
    ) -> Poll<io::Result<R>> {
        let restore = ready!(coop::poll_proceed(cx));
        loop {
            let event = ready!(self.io.poll_ready(cx, dir))?;
            match op() {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.io.clear_readiness(event),
                res => {
                    if res.as_ref().is_ok_and(&short) {
                        self.io.clear_after_short_transfer(event);
                    }
                    restore.made_progress();
                    return Poll::Ready(res);
                }
            }
        }
    }

    /// Protocol step 4. Idempotent; the fd must still be open.
    pub(crate) fn deregister(&mut self) -> io::Result<()> {
        if !std::mem::replace(&mut self.registered, false) {
            return Ok(());
        }
        // SAFETY: `new`'s contract: the fd is open until this deregistration.
        let res = unsafe { self.handle.inner.poller.delete(self.fd) };
        self.handle.inner.registry.lock().remove(self.key);
        self.handle.inner.sources.fetch_sub(1, Relaxed);
        res
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        // An error here means the fd was not registered any more (it cannot be closed yet,
        // see `new`'s contract); there is nothing left to undo.
        let _ = self.deregister();
    }
}

impl fmt::Debug for Driver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("io::Driver").finish_non_exhaustive()
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("io::Handle").finish_non_exhaustive()
    }
}

impl fmt::Debug for Registration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registration")
            .field("fd", &self.fd)
            .field("key", &self.key)
            .field("readiness", &self.io.snapshot())
            .finish()
    }
}

#[cfg(all(test, not(loom)))]
mod tests;

#[cfg(all(test, loom))]
mod loom_tests;
