//! Loom models of the readiness protocol (see `readiness.rs`), against the stand-in poller.
//!
//! Three threads each: the task (the model's main thread, in `block_on`), the driver (one
//! blocking turn), and the "kernel" (makes the fake fd readable, then fires its edge).

use std::io;
use std::task::Poll;

use futures_lite::future::poll_fn;
use loom::future::block_on;

use super::readiness::EventFlags;
use super::*;

const FD: RawFd = 3;
const READABLE: EventFlags = EventFlags {
    readable: true,
    writable: false,
    closed: false,
    error: false,
    read_closed: false,
};

/// A read of the fake fd: succeeds once the kernel has put data in it. The fd's buffer is
/// a mutex, as it is in the kernel.
fn read(data: &Mutex<bool>) -> io::Result<()> {
    if std::mem::take(&mut *data.lock()) {
        Ok(())
    } else {
        Err(io::ErrorKind::WouldBlock.into())
    }
}

fn run(clear_first: bool) {
    let (mut driver, handle) = Driver::new().unwrap();
    // SAFETY: the stand-in poller has no fds to keep open.
    let reg = unsafe { Registration::new(&handle, FD) }.unwrap();
    let data = Arc::new(Mutex::new(false));
    if clear_first {
        // Consume the optimistic readiness so the task must register its waker.
        let Poll::Ready(Ok(ev)) = reg.poll_ready(&mut noop_cx(), Direction::Read) else {
            panic!("a new registration starts readable")
        };
        reg.io.clear_readiness(ev);
    }
    let driver_thread = loom::thread::spawn(move || {
        driver.turn(None);
        driver
    });
    let kernel = {
        let (handle, data) = (handle.clone(), data.clone());
        loom::thread::spawn(move || {
            *data.lock() = true;
            handle.inner.poller.fire(FD, READABLE);
        })
    };
    // Never returning here is a deadlock loom reports: the event was lost.
    block_on(poll_fn(|cx| {
        reg.poll_io(cx, Direction::Read, || read(&data))
    }))
    .unwrap();
    kernel.join().unwrap();
    drop(driver_thread.join().unwrap());
    drop(reg);
}

fn noop_cx() -> std::task::Context<'static> {
    std::task::Context::from_waker(std::task::Waker::noop())
}

#[test]
fn loom_io_event_during_waker_registration_is_not_lost() {
    loom::model(|| run(true));
}

#[test]
fn loom_io_stale_would_block_does_not_clear_newer_event() {
    loom::model(|| run(false));
}

/// A read of up to `want` bytes from the fake fd's byte count.
fn read_some(data: &Mutex<usize>, want: usize) -> io::Result<usize> {
    let mut available = data.lock();
    if *available == 0 {
        return Err(io::ErrorKind::WouldBlock.into());
    }
    let n = (*available).min(want);
    *available -= n;
    Ok(n)
}

/// The short-transfer rule: a read of 1 byte into a 2-byte buffer clears readiness without
/// a `WouldBlock`. The second byte arrives (and its event fires) at any point around that
/// clear: before the read, between the read and the clear, or after the clear. The reader
/// must get both bytes; a lost wake-up is a deadlock loom reports.
#[test]
fn loom_io_short_read_clear_never_loses_the_next_event() {
    loom::model(|| {
        let (mut driver, handle) = Driver::new().unwrap();
        // SAFETY: the stand-in poller has no fds to keep open.
        let reg = unsafe { Registration::new(&handle, FD) }.unwrap();
        let data = Arc::new(Mutex::new(1usize));
        let driver_thread = loom::thread::spawn(move || {
            driver.turn(None);
            driver
        });
        let kernel = {
            let (handle, data) = (handle.clone(), data.clone());
            loom::thread::spawn(move || {
                *data.lock() += 1;
                handle.inner.poller.fire(FD, READABLE);
            })
        };
        let mut got = 0;
        while got < 2 {
            got += block_on(poll_fn(|cx| loop {
                let ev = match reg.io.poll_ready(cx, Direction::Read) {
                    Poll::Ready(ev) => ev?,
                    Poll::Pending => return Poll::Pending,
                };
                match read_some(&data, 2) {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => reg.io.clear_readiness(ev),
                    Ok(n) => {
                        if n < 2 {
                            reg.io.clear_after_short_transfer(ev);
                        }
                        return Poll::Ready(Ok::<_, io::Error>(n));
                    }
                    Err(e) => return Poll::Ready(Err(e)),
                }
            }))
            .unwrap();
        }
        kernel.join().unwrap();
        drop(driver_thread.join().unwrap());
        drop(reg);
    });
}

/// Two threads publish work and notify while the driver thread waits: the second notify may
/// find the first one's write pending and skip its own (the poller's `notified` flag), so
/// the wait that consumed the first must still leave the driver seeing both. A lost
/// wake-up leaves the driver waiting forever, which loom reports as a deadlock.
#[test]
fn loom_poller_skipped_notify_is_not_lost() {
    use crate::loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    loom::model(|| {
        let poller = Arc::new(Poller::new().unwrap());
        let work = Arc::new(AtomicUsize::new(0));
        let notifiers: Vec<_> = (0..2)
            .map(|_| {
                let (poller, work) = (poller.clone(), work.clone());
                loom::thread::spawn(move || {
                    work.fetch_add(1, SeqCst);
                    poller.notify().unwrap();
                })
            })
            .collect();
        let mut events = Events::new();
        while work.load(SeqCst) < 2 {
            poller.wait(&mut events, None).unwrap();
        }
        for n in notifiers {
            n.join().unwrap();
        }
    });
}
