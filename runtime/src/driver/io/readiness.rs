//! The readiness record of one registered source.
//!
//! The record caches what the poller last said about the source, so that a task that finds
//! the source ready does its operation without any system call to the poller, and a task
//! that finds it not ready sleeps until the driver sees the next edge.
//!
//! # The readiness word
//!
//! One `AtomicUsize`, read as a [`Snapshot`]:
//!
//! | bits | name | set by | cleared by |
//! | --- | --- | --- | --- |
//! | [`READABLE`] | a read may succeed | driver event | a task that got `WouldBlock` on a read |
//! | [`WRITABLE`] | a write may succeed | driver event | a task that got `WouldBlock` on a write |
//! | [`CLOSED`] | the poller reported hang-up | driver event | any `WouldBlock` clear |
//! | [`ERROR`] | the poller reported an error | driver event | any `WouldBlock` clear |
//! | [`SHUTDOWN`] | the driver is gone | driver drop | never |
//! | [`READ_CLOSED`] | the peer will send nothing more (`EPOLLRDHUP` or `EPOLLHUP`) | driver event | never |
//! | `TICK_SHIFT..` | tick | +1 on every driver event for this source | never |
//!
//! `CLOSED` and `ERROR` always come with both `READABLE` and `WRITABLE`, so that whichever
//! task waits learns about the condition from its next operation (a 0-byte read, `EPIPE`,
//! `ECONNRESET`, the pending `SO_ERROR`). They are not sticky: a UDP socket reports `ERROR`
//! once per ICMP error, and the `recv` that consumes the error leaves it not ready again.
//! `READ_CLOSED` is sticky: a stream whose peer has shut down stays at end of file, and the
//! short-transfer rule below must not put a reader at end of file to sleep (no edge would
//! ever wake it).
//!
//! # Protocol
//!
//! Driver, for each event of this source ([`ScheduledIo::set_readiness`]):
//! 1. OR the event's bits into the word and bump the tick, in one atomic update (Release,
//!    paired with the Acquire loads in steps 3 and 5 below).
//! 2. Lock the waiters, take the wakers of the directions the event made ready, unlock,
//!    wake them (outside the lock).
//!
//! Task, for one operation in one direction ([`ScheduledIo::poll_ready`] then
//! [`ScheduledIo::clear_readiness`]):
//! 3. Load the word (Acquire). Ready in this direction (or shut down): go to step 6 with
//!    the [`ReadyEvent`] (the bits *and the tick* that were read).
//! 4. Not ready: lock the waiters, store the waker (replacing one that would wake the same
//!    task).
//! 5. Still under the lock, load the word again. Ready now: step 6. Otherwise `Pending`.
//!    Step 2 takes the same lock after step 1, so either step 5 sees the bits of step 1 or
//!    step 2 sees the waker of step 4: an event is never lost between the check and the
//!    sleep.
//! 6. Try the operation. `WouldBlock`: clear this direction's bits *only if the tick is
//!    still the one of step 3*, then go to step 3. An event that arrived after step 3 bumped
//!    the tick, so its readiness survives: a stale read never erases newer readiness.

use std::fmt;
use std::io;
use std::task::{Context, Poll, Waker};

use crate::loom::sync::atomic::{AtomicUsize, Ordering};
use crate::loom::sync::Mutex;

/// A read may succeed without blocking.
pub(crate) const READABLE: usize = 1 << 0;
/// A write may succeed without blocking.
pub(crate) const WRITABLE: usize = 1 << 1;
/// The poller reported hang-up (`EPOLLHUP`).
pub(crate) const CLOSED: usize = 1 << 2;
/// The poller reported an error condition (`EPOLLERR`).
pub(crate) const ERROR: usize = 1 << 3;
/// The driver was dropped: no event will ever come again.
pub(crate) const SHUTDOWN: usize = 1 << 4;
/// The peer shut its sending side down: reads return what is left, then end of file.
pub(crate) const READ_CLOSED: usize = 1 << 5;
/// The bits a `WouldBlock` may clear (never `SHUTDOWN`).
const CLEARABLE: usize = READABLE | WRITABLE | CLOSED | ERROR;
/// The tick lives above the flag bits and wraps.
const TICK_SHIFT: u32 = 8;
const FLAG_MASK: usize = (1 << TICK_SHIFT) - 1;

/// Six distinct single bits (so the masks are disjoint), all below the tick.
const ALL_FLAGS: usize = READABLE | WRITABLE | CLOSED | ERROR | SHUTDOWN | READ_CLOSED;
const _: () = assert!(ALL_FLAGS.count_ones() == 6);
const _: () = assert!((ALL_FLAGS & !FLAG_MASK) == 0);

/// A direction of I/O; each has its own readiness bit and its own waiters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    Read,
    Write,
}

impl Direction {
    /// The bits that make this direction ready.
    const fn mask(self) -> usize {
        match self {
            Direction::Read => READABLE,
            Direction::Write => WRITABLE,
        }
    }
}

/// A decoded readiness word.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Snapshot(usize);

impl Snapshot {
    pub(crate) fn tick(self) -> usize {
        self.0 >> TICK_SHIFT
    }

    pub(crate) fn is_shutdown(self) -> bool {
        self.0 & SHUTDOWN != 0
    }

    pub(crate) fn is_read_closed(self) -> bool {
        self.0 & READ_CLOSED != 0
    }

    fn is_ready(self, dir: Direction) -> bool {
        self.0 & (dir.mask() | SHUTDOWN) != 0
    }
}

impl fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Snapshot")
            .field("readable", &(self.0 & READABLE != 0))
            .field("writable", &(self.0 & WRITABLE != 0))
            .field("closed", &(self.0 & CLOSED != 0))
            .field("error", &(self.0 & ERROR != 0))
            .field("shutdown", &self.is_shutdown())
            .field("read_closed", &self.is_read_closed())
            .field("tick", &self.tick())
            .finish()
    }
}

/// What a task saw when it found its direction ready: the evidence it must hand back to
/// [`ScheduledIo::clear_readiness`] if the operation would block.
#[derive(Debug, Clone, Copy)]
#[must_use = "hand the event back to clear_readiness when the operation would block"]
pub(crate) struct ReadyEvent {
    pub(crate) snapshot: Snapshot,
    pub(crate) dir: Direction,
}

/// The wakers waiting on one source. Normally one per direction; more when several tasks
/// share a source (`&TcpStream` read from two tasks), so that none of them is forgotten.
#[derive(Debug, Default)]
struct Waiters {
    read: Vec<Waker>,
    write: Vec<Waker>,
}

/// The readiness record of one registered source (see the module doc).
#[derive(Debug)]
pub(crate) struct ScheduledIo {
    readiness: AtomicUsize,
    waiters: Mutex<Waiters>,
}

/// The flags of one poller event, as [`ScheduledIo::set_readiness`] takes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct EventFlags {
    pub(crate) readable: bool,
    pub(crate) writable: bool,
    pub(crate) closed: bool,
    pub(crate) error: bool,
    /// `EPOLLRDHUP` or `EPOLLHUP`: the peer will send nothing more (see [`READ_CLOSED`]).
    pub(crate) read_closed: bool,
}

impl EventFlags {
    fn bits(self) -> usize {
        let mut bits = 0;
        if self.readable {
            bits |= READABLE;
        }
        if self.writable {
            bits |= WRITABLE;
        }
        // Hang-up and error are reported to both directions: see the module doc.
        if self.closed {
            bits |= CLOSED | READABLE | WRITABLE;
        }
        if self.error {
            bits |= ERROR | READABLE | WRITABLE;
        }
        if self.read_closed {
            bits |= READ_CLOSED | READABLE;
        }
        bits
    }
}

impl ScheduledIo {
    /// A record that starts out optimistic: readable and writable, so the first operation
    /// is tried at once instead of waiting for the registration's first edge.
    pub(crate) fn new() -> Self {
        ScheduledIo {
            readiness: AtomicUsize::new(READABLE | WRITABLE),
            waiters: Mutex::new(Waiters::default()),
        }
    }

    /// The current readiness (Acquire: pairs with the Release update of `set_readiness`).
    pub(crate) fn snapshot(&self) -> Snapshot {
        Snapshot(self.readiness.load(Ordering::Acquire))
    }

    /// Protocol steps 1 and 2: records an event and moves the wakers it satisfies into
    /// `wake` (the caller wakes them after it has released its own locks).
    pub(crate) fn set_readiness(&self, event: EventFlags, wake: &mut Vec<Waker>) {
        let bits = event.bits();
        // AcqRel: Release publishes the bits to the Acquire loads of `poll_ready`; Acquire
        // orders this update after earlier clears, so the tick only ever grows.
        let _ = self
            .readiness
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |cur| {
                let tick = (cur >> TICK_SHIFT).wrapping_add(1);
                Some((tick << TICK_SHIFT) | (cur & FLAG_MASK) | bits)
            });
        if bits & (READABLE | WRITABLE) == 0 {
            return;
        }
        let mut waiters = self.waiters.lock();
        if bits & READABLE != 0 {
            wake.append(&mut waiters.read);
        }
        if bits & WRITABLE != 0 {
            wake.append(&mut waiters.write);
        }
    }

    /// Marks the source as shut down (its driver is gone) and hands out every waker.
    pub(crate) fn shutdown(&self, wake: &mut Vec<Waker>) {
        // Release pairs with the Acquire loads of `poll_ready`.
        self.readiness.fetch_or(SHUTDOWN, Ordering::Release);
        let mut waiters = self.waiters.lock();
        wake.append(&mut waiters.read);
        wake.append(&mut waiters.write);
    }

    /// Protocol steps 3 to 5. `Ready(Err)` once the driver is gone.
    pub(crate) fn poll_ready(
        &self,
        cx: &mut Context<'_>,
        dir: Direction,
    ) -> Poll<io::Result<ReadyEvent>> {
        let snapshot = self.snapshot();
        if snapshot.is_ready(dir) {
            return Poll::Ready(ready_result(snapshot, dir));
        }
        let mut waiters = self.waiters.lock();
        let slot = match dir {
            Direction::Read => &mut waiters.read,
            Direction::Write => &mut waiters.write,
        };
        match slot.iter_mut().find(|w| w.will_wake(cx.waker())) {
            Some(existing) => existing.clone_from(cx.waker()),
            None => slot.push(cx.waker().clone()),
        }
        // Step 5: re-checked under the lock that `set_readiness` takes after its update.
        let snapshot = self.snapshot();
        drop(waiters);
        if snapshot.is_ready(dir) {
            return Poll::Ready(ready_result(snapshot, dir));
        }
        Poll::Pending
    }

    /// Protocol step 6 for a stream socket whose read or write moved fewer bytes than asked
    /// for: the kernel's receive queue is empty, or its send buffer full, just as a
    /// `WouldBlock` would have said, so clear now and save the system call that would only
    /// return `WouldBlock`. Also what lets a task whose peer is slower give the worker up
    /// before its whole budget is spent. Not for a read at end of stream (`READ_CLOSED`):
    /// the peer's shutdown was its last edge, so the next read must be tried, and it
    /// returns 0. Not for datagram sockets, where a short read is one small datagram.
    pub(crate) fn clear_after_short_transfer(&self, event: ReadyEvent) {
        if event.dir == Direction::Read && event.snapshot.is_read_closed() {
            return;
        }
        self.clear_readiness(event);
    }

    /// Protocol step 6: the operation would block. Clears the direction (and the hang-up and
    /// error hints) unless an event arrived since `event` was read.
    pub(crate) fn clear_readiness(&self, event: ReadyEvent) {
        let clear = event.dir.mask() | (CLEARABLE & !(READABLE | WRITABLE));
        // Acquire/Release like `set_readiness`; a failed exchange means a newer tick (or
        // shutdown) is in the word, which must survive.
        let _ = self
            .readiness
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |cur| {
                (Snapshot(cur).tick() == event.snapshot.tick()).then_some(cur & !clear)
            });
    }
}

fn ready_result(snapshot: Snapshot, dir: Direction) -> io::Result<ReadyEvent> {
    if snapshot.is_shutdown() {
        return Err(shutdown_error());
    }
    Ok(ReadyEvent { snapshot, dir })
}

/// The error every operation on a source returns once its runtime is gone.
pub(crate) fn shutdown_error() -> io::Error {
    io::Error::other(
        "the corio runtime that owns this I/O source has shut down; \
         use the source only while its runtime is alive",
    )
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn event(readable: bool, writable: bool) -> EventFlags {
        EventFlags {
            readable,
            writable,
            closed: false,
            error: false,
            read_closed: false,
        }
    }

    #[test]
    fn stale_clear_keeps_newer_readiness() {
        let io = ScheduledIo::new();
        let mut cx = Context::from_waker(Waker::noop());
        let Poll::Ready(Ok(ev)) = io.poll_ready(&mut cx, Direction::Read) else {
            panic!("a new source starts readable")
        };
        let mut wake = Vec::new();
        io.set_readiness(event(true, false), &mut wake);
        io.clear_readiness(ev);
        assert!(
            io.poll_ready(&mut cx, Direction::Read).is_ready(),
            "newer readiness erased"
        );
        // A clear with the current tick does clear, and only its own direction.
        let Poll::Ready(Ok(ev)) = io.poll_ready(&mut cx, Direction::Read) else {
            panic!()
        };
        io.clear_readiness(ev);
        assert!(io.poll_ready(&mut cx, Direction::Read).is_pending());
        assert!(io.poll_ready(&mut cx, Direction::Write).is_ready());
    }

    #[test]
    fn event_wakes_every_waiter_of_its_direction_only() {
        let io = ScheduledIo::new();
        let mut cx = Context::from_waker(Waker::noop());
        for dir in [Direction::Read, Direction::Write] {
            let Poll::Ready(Ok(ev)) = io.poll_ready(&mut cx, dir) else {
                panic!()
            };
            io.clear_readiness(ev);
        }
        let (w1, w2) = (counting_waker(), counting_waker());
        assert!(io
            .poll_ready(&mut Context::from_waker(&w1.0), Direction::Read)
            .is_pending());
        assert!(io
            .poll_ready(&mut Context::from_waker(&w2.0), Direction::Read)
            .is_pending());
        assert!(io
            .poll_ready(&mut Context::from_waker(&w2.0), Direction::Write)
            .is_pending());
        let mut wake = Vec::new();
        io.set_readiness(event(true, false), &mut wake);
        assert_eq!(wake.len(), 2, "both readers, not the writer");
        wake.drain(..).for_each(Waker::wake);
        assert_eq!(w1.1.load(Ordering::SeqCst), 1);
        assert_eq!(w2.1.load(Ordering::SeqCst), 1);
        io.set_readiness(
            EventFlags {
                closed: true,
                ..event(false, false)
            },
            &mut wake,
        );
        assert_eq!(wake.len(), 1, "hang-up wakes the writer too");
        let snap = io.snapshot();
        assert_eq!(
            snap.0 & (CLOSED | READABLE | WRITABLE),
            CLOSED | READABLE | WRITABLE
        );
        wake.clear();
        io.shutdown(&mut wake);
        assert!(matches!(
            io.poll_ready(&mut cx, Direction::Read),
            Poll::Ready(Err(_))
        ));
    }

    fn counting_waker() -> (Waker, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
        use std::sync::atomic::AtomicUsize;
        use std::sync::Arc;
        struct Count(Arc<AtomicUsize>);
        impl std::task::Wake for Count {
            fn wake(self: Arc<Self>) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        let n = Arc::new(AtomicUsize::new(0));
        (Waker::from(Arc::new(Count(n.clone()))), n)
    }

    #[test]
    fn short_transfer_clears_like_would_block_but_never_past_end_of_stream() {
        let io = ScheduledIo::new();
        let mut cx = Context::from_waker(Waker::noop());
        let ready = |io: &ScheduledIo, dir| match io
            .poll_ready(&mut Context::from_waker(Waker::noop()), dir)
        {
            Poll::Ready(Ok(ev)) => Some(ev),
            Poll::Ready(Err(e)) => panic!("{e}"),
            Poll::Pending => None,
        };
        // A short read with no event since: the read direction sleeps, the write one not.
        let ev = ready(&io, Direction::Read).expect("a new source starts readable");
        io.clear_after_short_transfer(ev);
        assert!(io.poll_ready(&mut cx, Direction::Read).is_pending());
        assert!(ready(&io, Direction::Write).is_some());
        // A short write likewise.
        let ev = ready(&io, Direction::Write).unwrap();
        io.clear_after_short_transfer(ev);
        assert!(io.poll_ready(&mut cx, Direction::Write).is_pending());
        // An event after the snapshot survives the clear (the tick rule).
        let mut wake = Vec::new();
        io.set_readiness(event(true, false), &mut wake);
        let ev = ready(&io, Direction::Read).unwrap();
        io.set_readiness(event(true, false), &mut wake);
        io.clear_after_short_transfer(ev);
        assert!(
            ready(&io, Direction::Read).is_some(),
            "newer readiness erased"
        );
        // The peer shut down: a short read of its last bytes must leave the source readable,
        // and so must any later clear after a short read; a `WouldBlock` clear cannot happen
        // at end of stream (the read returns 0), and READ_CLOSED survives it anyway.
        io.set_readiness(
            EventFlags {
                read_closed: true,
                ..event(false, false)
            },
            &mut wake,
        );
        let ev = ready(&io, Direction::Read).expect("a shutdown makes the source readable");
        assert!(ev.snapshot.is_read_closed());
        io.clear_after_short_transfer(ev);
        let ev = ready(&io, Direction::Read).expect("put to sleep at end of stream");
        io.clear_readiness(ev);
        assert!(io.snapshot().is_read_closed(), "READ_CLOSED is sticky");
    }
}
