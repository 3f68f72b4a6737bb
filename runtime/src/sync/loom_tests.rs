//! Loom models of every wait/notify path that can lose a wake-up or a permit.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Waker};

use loom::future::block_on;
use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use loom::sync::Arc;
use loom::thread;

use super::*;

/// Polls `fut` once with a no-op waker, then drops it: a cancelled waiter.
fn poll_once_then_drop<F: Future>(fut: F) -> bool {
    let mut fut = pin!(fut);
    fut.as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
        .is_ready()
}

#[test]
fn loom_mpsc_close_racing_recv() {
    loom::model(|| {
        let (tx, mut rx) = mpsc::channel::<u8>(1);
        let th = thread::spawn(move || {
            let sent = block_on(tx.send(7)).is_ok();
            drop(tx);
            sent
        });
        // The receiver must see the message (if it was accepted) and then the closure.
        let mut got = 0;
        while let Some(v) = block_on(rx.recv()) {
            assert_eq!(v, 7);
            got += 1;
        }
        assert!(th.join().unwrap());
        assert_eq!(got, 1);
    });
}

#[test]
fn loom_mpsc_receiver_close_racing_send() {
    loom::model(|| {
        let (tx, mut rx) = mpsc::unbounded_channel::<u8>();
        let th = thread::spawn(move || tx.send(1).is_ok());
        rx.close();
        let received = block_on(rx.recv()).is_some();
        let sent = th.join().unwrap();
        // Accepted exactly when received: nothing is lost, nothing is invented.
        assert_eq!(sent, received);
        assert_eq!(block_on(rx.recv()), None);
    });
}

#[test]
fn loom_oneshot_send_racing_drop() {
    loom::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        struct Counted(Arc<AtomicUsize>);
        impl Drop for Counted {
            fn drop(&mut self) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        let (tx, rx) = oneshot::channel();
        let value = Counted(drops.clone());
        let th = thread::spawn(move || tx.send(value).is_ok());
        drop(rx);
        let _ = th.join().unwrap();
        // Either handed back (and dropped by the sender's caller) or dropped with the
        // receiver: exactly once either way.
        assert_eq!(drops.load(Ordering::SeqCst), 1);
    });
}

#[test]
fn loom_oneshot_sender_drop_racing_recv() {
    loom::model(|| {
        let (tx, rx) = oneshot::channel::<u8>();
        // The receiver must wake when the sender goes away without sending.
        let th = thread::spawn(move || drop(tx));
        assert!(block_on(rx).is_err());
        th.join().unwrap();
    });
}

#[test]
fn loom_notify_waiters_racing_new_notified() {
    loom::model(|| {
        let notify = Arc::new(Notify::new());
        let flag = Arc::new(AtomicBool::new(false));
        let th = {
            let (notify, flag) = (notify.clone(), flag.clone());
            thread::spawn(move || {
                flag.store(true, Ordering::SeqCst);
                notify.notify_waiters();
            })
        };
        block_on(async {
            loop {
                let notified = notify.notified();
                if flag.load(Ordering::SeqCst) {
                    break;
                }
                notified.await;
            }
        });
        th.join().unwrap();
    });
}

/// Step 6 of the `Notify` protocol: a queued waiter dropped while `notify_waiters` marks the
/// list it took out must not touch its node (to take it off a list it is no longer on)
/// before the mark: loom reports that as a concurrent access to the node's cells. (Loom
/// does not see the memory being freed; the sanitizer run in `benches/RESULTS.md` does.)
#[test]
fn loom_notify_waiters_racing_a_dropped_waiter() {
    loom::model(|| {
        let notify = Arc::new(Notify::new());
        let th = {
            let notify = notify.clone();
            thread::spawn(move || poll_once_then_drop(notify.notified()))
        };
        notify.notify_waiters();
        th.join().unwrap();
        // Nothing is left queued, and no permit was stored.
        assert!(!poll_once_then_drop(notify.notified()));
    });
}

/// Step 6 again: a waiter polled with a new waker while `notify_waiters` holds its node (and
/// will wake the old waker) must still be woken through the new one.
#[test]
fn loom_notify_waiters_racing_a_poll_with_a_new_waker() {
    loom::model(|| {
        let notify = Arc::new(Notify::new());
        let queued = Arc::new(AtomicBool::new(false));
        let th = {
            let (notify, queued) = (notify.clone(), queued.clone());
            thread::spawn(move || {
                let mut fut = pin!(notify.notified());
                let first = fut
                    .as_mut()
                    .poll(&mut Context::from_waker(Waker::noop()))
                    .is_ready();
                queued.store(true, Ordering::SeqCst);
                if !first {
                    // `block_on` polls with its own waker, not the no-op one queued.
                    block_on(fut);
                }
            })
        };
        // Notify only once the waiter is queued, so that the notification is its own.
        while !queued.load(Ordering::SeqCst) {
            thread::yield_now();
        }
        notify.notify_waiters();
        th.join().unwrap();
    });
}

#[test]
fn loom_notify_one_to_cancelled_waiter_is_handed_on() {
    loom::model(|| {
        let notify = Arc::new(Notify::new());
        let th = {
            let notify = notify.clone();
            thread::spawn(move || poll_once_then_drop(notify.notified()))
        };
        notify.notify_one();
        let consumed = th.join().unwrap();
        // Unless the waiter completed (consuming the notification), the notification
        // survives its cancellation as a permit: exactly one of the two.
        assert_ne!(consumed, poll_once_then_drop(notify.notified()));
    });
}

#[test]
fn loom_notify_one_racing_a_waiter_that_completes_unlocked() {
    loom::model(|| {
        let notify = Arc::new(Notify::new());
        let th = {
            let notify = notify.clone();
            // Queues, then (woken) reads its mark without the lock and is freed at once,
            // while the notifier may still hold the lock.
            thread::spawn(move || block_on(notify.notified()))
        };
        notify.notify_one();
        th.join().unwrap();
        // The notification was consumed by the waiter (or its stored permit was): none left.
        assert!(!poll_once_then_drop(notify.notified()));
    });
}

#[test]
fn loom_semaphore_release_racing_cancelled_acquire() {
    loom::model(|| {
        let sem = Arc::new(Semaphore::new(0));
        let canceller = {
            let sem = sem.clone();
            thread::spawn(move || {
                // Queues (or takes the permit and drops it at once), then gives up.
                poll_once_then_drop(sem.acquire());
            })
        };
        let releaser = {
            let sem = sem.clone();
            thread::spawn(move || sem.add_permits(1))
        };
        // This waiter must get the permit whatever the cancelled one did with it.
        let permit = block_on(sem.acquire()).unwrap();
        drop(permit);
        canceller.join().unwrap();
        releaser.join().unwrap();
        assert_eq!(sem.available_permits(), 1);
    });
}

#[test]
fn loom_semaphore_fast_release_racing_enqueue() {
    loom::model(|| {
        let sem = Arc::new(Semaphore::new(0));
        let releasers: Vec<_> = (0..2)
            .map(|_| {
                let sem = sem.clone();
                thread::spawn(move || sem.add_permits(1))
            })
            .collect();
        // Needs both permits: it may take one and queue for the other while a release runs
        // its lock-free path; whichever release comes last must still reach it.
        let permit = block_on(sem.acquire_many(2)).unwrap();
        assert_eq!(sem.available_permits(), 0);
        drop(permit);
        for r in releasers {
            r.join().unwrap();
        }
        // The queue is empty again, so the fast path must serve (no stale "waiters" state).
        assert!(sem.try_acquire_many(2).is_ok());
    });
}

#[test]
fn loom_watch_send_racing_changed() {
    loom::model(|| {
        let (tx, mut rx) = watch::channel(0u8);
        let th = thread::spawn(move || {
            tx.send(1).unwrap();
        });
        block_on(rx.changed()).unwrap();
        assert_eq!(*rx.borrow_and_update(), 1);
        th.join().unwrap();
        // The sender is gone now.
        assert!(block_on(rx.changed()).is_err());
    });
}

#[test]
fn loom_mutex_handoff() {
    loom::model(|| {
        let m = std::sync::Arc::new(Mutex::new(0u8));
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let m = m.clone();
                thread::spawn(move || {
                    let mut g = block_on(m.lock());
                    *g += 1;
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(*m.try_lock().unwrap(), 2);
    });
}

#[test]
fn loom_mutex_cancelled_locker_hands_the_lock_on() {
    loom::model(|| {
        let m = std::sync::Arc::new(Mutex::new(0u8));
        let guard = m.try_lock().unwrap();
        let canceller = {
            let m = m.clone();
            thread::spawn(move || {
                // Queues behind the holder (or gets the lock and drops it), then gives up.
                poll_once_then_drop(m.lock());
            })
        };
        let locker = {
            let m = m.clone();
            thread::spawn(move || *block_on(m.lock()) += 1)
        };
        drop(guard);
        canceller.join().unwrap();
        locker.join().unwrap();
        assert_eq!(*m.try_lock().expect("the lock was lost"), 1);
    });
}

#[test]
fn loom_broadcast_send_racing_recv() {
    loom::model(|| {
        let (tx, mut rx) = broadcast::channel::<u8>(1);
        let th = thread::spawn(move || {
            tx.send(1).unwrap();
        });
        assert_eq!(block_on(rx.recv()), Ok(1));
        assert_eq!(
            block_on(rx.recv()),
            Err(broadcast::error::RecvError::Closed)
        );
        th.join().unwrap();
    });
}

#[test]
fn loom_barrier_one_leader() {
    loom::model(|| {
        let barrier = Arc::new(Barrier::new(2));
        let th = {
            let barrier = barrier.clone();
            thread::spawn(move || block_on(barrier.wait()).is_leader())
        };
        let me = block_on(barrier.wait()).is_leader();
        assert!(me ^ th.join().unwrap(), "exactly one leader");
    });
}
