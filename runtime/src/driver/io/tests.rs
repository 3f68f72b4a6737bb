//! The reactor on its own: a thread turns the driver in a loop while the test drives sources
//! with `futures_lite::future::block_on`.

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc as StdArc;
use std::thread;
use std::time::{Duration, Instant};

use futures_lite::future::{block_on, poll_fn};

use super::*;

/// A driver turned by a background thread until dropped.
struct Reactor {
    handle: Handle,
    stop: StdArc<AtomicBool>,
    thread: Option<thread::JoinHandle<Driver>>,
}

impl Reactor {
    fn start() -> Reactor {
        let (mut driver, handle) = Driver::new().unwrap();
        let stop = StdArc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let thread = thread::spawn(move || {
            while !stop2.load(Ordering::SeqCst) {
                driver.turn(None);
            }
            driver
        });
        Reactor {
            handle,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Reactor {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.handle.unpark();
        drop(self.thread.take().unwrap().join().unwrap());
    }
}

fn pair() -> (UnixStream, UnixStream) {
    let (a, b) = UnixStream::pair().unwrap();
    a.set_nonblocking(true).unwrap();
    b.set_nonblocking(true).unwrap();
    (a, b)
}

#[test]
fn unpark_interrupts_a_blocking_turn_and_a_pending_one_returns_at_once() {
    let (mut driver, handle) = Driver::new().unwrap();
    handle.unpark();
    let start = Instant::now();
    driver.turn(None);
    driver.turn(Some(Duration::ZERO));
    assert!(start.elapsed() < Duration::from_secs(5));
    let h2 = handle.clone();
    let t = thread::spawn(move || {
        thread::sleep(Duration::from_millis(50));
        h2.unpark();
    });
    driver.turn(None);
    t.join().unwrap();
    let start = Instant::now();
    driver.turn(Some(Duration::from_millis(30)));
    assert!(
        start.elapsed() >= Duration::from_millis(25),
        "time-out not honoured"
    );
}

/// Without sources, a turn that must not block has nothing to collect: no system call. With
/// one, it asks the poller again; once the source is gone, it stops again. A blocking turn
/// always waits in the poller (it is how the thread sleeps).
#[test]
fn non_blocking_turns_skip_the_poller_while_no_source_is_registered() {
    let (mut driver, handle) = Driver::new().unwrap();
    let waits = |d: &Driver| d.inner.waits.load(Relaxed);
    for _ in 0..100 {
        driver.turn(Some(Duration::ZERO));
    }
    assert_eq!(waits(&driver), 0);
    let (a, b) = pair();
    // SAFETY: `a` outlives the registration, which is dropped first.
    let mut reg = unsafe { Registration::new(&handle, a.as_raw_fd()) }.unwrap();
    driver.turn(Some(Duration::ZERO));
    driver.turn(Some(Duration::ZERO));
    assert_eq!(waits(&driver), 2);
    reg.deregister().unwrap();
    drop(reg);
    drop((a, b));
    driver.turn(Some(Duration::ZERO));
    assert_eq!(waits(&driver), 2);
    handle.unpark();
    driver.turn(Some(Duration::from_secs(10)));
    assert_eq!(waits(&driver), 3);
}

#[test]
fn read_waits_for_data_written_later() {
    let reactor = Reactor::start();
    let (a, mut b) = pair();
    // SAFETY: `a` outlives `reg` (declared before it, dropped after it).
    let reg = unsafe { Registration::new(&reactor.handle, a.as_raw_fd()) }.unwrap();
    let writer = thread::spawn(move || {
        thread::sleep(Duration::from_millis(50));
        b.write_all(b"hello").unwrap();
        b
    });
    let mut buf = [0u8; 16];
    let n = block_on(poll_fn(|cx| {
        reg.poll_io(cx, Direction::Read, || (&a).read(&mut buf))
    }))
    .unwrap();
    assert_eq!(&buf[..n], b"hello");
    // EOF after the peer closes is a 0-byte read.
    drop(writer.join().unwrap());
    let n = block_on(poll_fn(|cx| {
        reg.poll_io(cx, Direction::Read, || (&a).read(&mut buf))
    }))
    .unwrap();
    assert_eq!(n, 0);
    drop(reg);
}

#[test]
fn many_sources_ping_pong_with_concurrent_registration() {
    let reactor = Reactor::start();
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let handle = reactor.handle.clone();
            thread::spawn(move || {
                for round in 0..50u8 {
                    let (a, b) = pair();
                    // SAFETY: both sockets outlive their registrations (dropped at the end of
                    // the iteration, registrations first: declared later).
                    let ra = unsafe { Registration::new(&handle, a.as_raw_fd()) }.unwrap();
                    // SAFETY: as above.
                    let rb = unsafe { Registration::new(&handle, b.as_raw_fd()) }.unwrap();
                    let msg = [t, round, 7];
                    let echo = thread::scope(|s| {
                        s.spawn(|| {
                            let mut buf = [0u8; 3];
                            let mut got = 0;
                            while got < 3 {
                                got += block_on(poll_fn(|cx| {
                                    rb.poll_io(cx, Direction::Read, || (&b).read(&mut buf[got..]))
                                }))
                                .unwrap();
                            }
                            block_on(poll_fn(|cx| {
                                rb.poll_io(cx, Direction::Write, || (&b).write(&buf))
                            }))
                            .unwrap();
                        });
                        block_on(poll_fn(|cx| {
                            ra.poll_io(cx, Direction::Write, || (&a).write(&msg))
                        }))
                        .unwrap();
                        let mut buf = [0u8; 3];
                        let mut got = 0;
                        while got < 3 {
                            got += block_on(poll_fn(|cx| {
                                ra.poll_io(cx, Direction::Read, || (&a).read(&mut buf[got..]))
                            }))
                            .unwrap();
                        }
                        buf
                    });
                    assert_eq!(echo, msg);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

#[test]
fn write_waits_for_the_peer_to_drain_a_full_buffer() {
    let reactor = Reactor::start();
    let (a, b) = pair();
    // SAFETY: `a` outlives `reg`.
    let reg = unsafe { Registration::new(&reactor.handle, a.as_raw_fd()) }.unwrap();
    let chunk = vec![0xabu8; 64 * 1024];
    // Fill the socket buffer until a write would block.
    let mut total = 0usize;
    loop {
        match (&a).write(&chunk) {
            Ok(n) => total += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) => panic!("{e}"),
        }
    }
    let reader = thread::spawn(move || {
        thread::sleep(Duration::from_millis(50));
        b.set_nonblocking(false).unwrap();
        let mut buf = vec![0u8; 64 * 1024];
        let mut read = 0;
        while read < total + 1 {
            let n = (&b).read(&mut buf).unwrap();
            assert!(n > 0);
            assert!(buf[..n].iter().all(|&x| x == 0xab));
            read += n;
        }
        read
    });
    let n = block_on(poll_fn(|cx| {
        reg.poll_io(cx, Direction::Write, || (&a).write(&chunk[..1]))
    }))
    .unwrap();
    assert_eq!(n, 1);
    assert_eq!(reader.join().unwrap(), total + 1);
}

#[test]
fn driver_drop_fails_waiters_and_new_registrations() {
    let (driver, handle) = Driver::new().unwrap();
    let (a, _b) = pair();
    // SAFETY: `a` outlives `reg`.
    let reg = unsafe { Registration::new(&handle, a.as_raw_fd()) }.unwrap();
    let waiter = thread::spawn(move || {
        let mut buf = [0u8; 1];
        let res = block_on(poll_fn(|cx| {
            reg.poll_io(cx, Direction::Read, || (&a).read(&mut buf))
        }));
        (res.unwrap_err().to_string(), a)
    });
    thread::sleep(Duration::from_millis(50));
    drop(driver);
    let (msg, a) = waiter.join().unwrap();
    assert!(msg.contains("shut down"), "{msg}");
    // SAFETY: `a` outlives the (failed) registration.
    let err = unsafe { Registration::new(&handle, a.as_raw_fd()) }.unwrap_err();
    assert!(err.to_string().contains("shut down"));
}

#[test]
fn stale_key_of_a_removed_source_is_ignored() {
    let mut registry = Registry::default();
    let first = Arc::new(ScheduledIo::new());
    let k1 = registry.insert(first).unwrap();
    registry.remove(k1);
    let k2 = registry.insert(Arc::new(ScheduledIo::new())).unwrap();
    assert_eq!(k1 & INDEX_MASK, k2 & INDEX_MASK, "slot reused");
    assert!(registry.get(k1).is_none());
    assert!(registry.get(k2).is_some());
}
