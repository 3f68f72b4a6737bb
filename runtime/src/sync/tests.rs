//! Unit tests of the semantics, driven by hand-polled futures and std threads.

use std::future::Future;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use futures_lite::future::block_on;

use super::*;

/// A waker that counts its wake-ups.
#[derive(Default)]
struct Counter(AtomicUsize);

impl Wake for Counter {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn counter() -> (Arc<Counter>, Waker) {
    let c = Arc::new(Counter::default());
    (c.clone(), Waker::from(c))
}

fn wakes(c: &Counter) -> usize {
    c.0.load(Ordering::SeqCst)
}

fn poll<F: Future>(f: Pin<&mut F>, w: &Waker) -> Poll<F::Output> {
    f.poll(&mut Context::from_waker(w))
}

#[test]
fn semaphore_serves_waiters_fifo_even_when_a_smaller_request_could_fit() {
    let sem = Semaphore::new(0);
    let (ca, wa) = counter();
    let (cb, wb) = counter();
    let mut a = pin!(sem.acquire_many(2));
    let mut b = pin!(sem.acquire());
    assert!(poll(a.as_mut(), &wa).is_pending());
    assert!(poll(b.as_mut(), &wb).is_pending());
    sem.add_permits(1);
    // The one permit goes to `a` (first in line), not to `b` that it would satisfy.
    assert_eq!(wakes(&cb), 0);
    assert!(poll(b.as_mut(), &wb).is_pending());
    assert!(
        sem.try_acquire().is_err(),
        "a newcomer must not barge past the queue"
    );
    sem.add_permits(2);
    assert_eq!(wakes(&ca), 1);
    assert_eq!(wakes(&cb), 1);
    let pa = match poll(a.as_mut(), &wa) {
        Poll::Ready(Ok(p)) => p,
        other => panic!("expected a's permits, got {other:?}"),
    };
    assert_eq!(pa.num_permits(), 2);
    let pb = match poll(b.as_mut(), &wb) {
        Poll::Ready(Ok(p)) => p,
        other => panic!("expected b's permit, got {other:?}"),
    };
    assert_eq!(sem.available_permits(), 0);
    drop(pa);
    pb.forget();
    assert_eq!(sem.available_permits(), 2);
}

#[test]
fn cancelled_acquire_hands_its_partial_permits_to_the_next_waiter() {
    let sem = Semaphore::new(0);
    let (_, wa) = counter();
    let (cb, wb) = counter();
    let mut b = pin!(sem.acquire());
    {
        let mut a = pin!(sem.acquire_many(2));
        assert!(poll(a.as_mut(), &wa).is_pending());
        assert!(poll(b.as_mut(), &wb).is_pending());
        sem.add_permits(1); // assigned to `a`, which still needs one more
        assert_eq!(wakes(&cb), 0);
    } // `a` is dropped here
    assert_eq!(wakes(&cb), 1, "the permit meant for `a` must reach `b`");
    assert!(matches!(poll(b.as_mut(), &wb), Poll::Ready(Ok(_))));
    assert_eq!(sem.available_permits(), 1);
}

#[test]
fn satisfied_but_unpolled_acquire_gives_its_permits_back_on_drop() {
    let sem = Semaphore::new(0);
    let (c, w) = counter();
    {
        let mut a = pin!(sem.acquire_many(3));
        assert!(poll(a.as_mut(), &w).is_pending());
        sem.add_permits(3);
        assert_eq!(wakes(&c), 1);
    }
    assert_eq!(sem.available_permits(), 3);
}

#[test]
fn closed_semaphore_fails_waiters_and_new_acquires() {
    let sem = Semaphore::new(1);
    let held = sem.try_acquire().unwrap();
    let (c, w) = counter();
    let mut a = pin!(sem.acquire());
    assert!(poll(a.as_mut(), &w).is_pending());
    sem.close();
    assert!(sem.is_closed());
    assert_eq!(wakes(&c), 1);
    assert!(matches!(
        poll(a.as_mut(), &w),
        Poll::Ready(Err(AcquireError { .. }))
    ));
    assert_eq!(sem.try_acquire().unwrap_err(), TryAcquireError::Closed);
    assert!(block_on(sem.acquire()).is_err());
    drop(held);
    assert_eq!(sem.available_permits(), 1);
}

#[test]
fn owned_permits_and_forget() {
    let sem = Arc::new(Semaphore::new(3));
    let p = block_on(sem.clone().acquire_many_owned(2)).unwrap();
    assert_eq!(sem.available_permits(), 1);
    assert!(sem.clone().try_acquire_many_owned(2).is_err());
    p.forget();
    assert_eq!(sem.available_permits(), 1);
    let q = sem.clone().try_acquire_owned().unwrap();
    assert!(Arc::ptr_eq(q.semaphore(), &sem));
    drop(q);
    assert_eq!(sem.forget_permits(5), 1);
    assert_eq!(sem.available_permits(), 0);
}

#[test]
#[should_panic(expected = "at most")]
fn adding_too_many_permits_panics_with_the_limit() {
    let sem = Semaphore::new(Semaphore::MAX_PERMITS);
    sem.add_permits(1);
}

#[test]
fn semaphore_never_exceeds_its_permits_across_threads() {
    let sem = Arc::new(Semaphore::new(3));
    let inside = Arc::new(AtomicUsize::new(0));
    let max = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..6)
        .map(|_| {
            let (sem, inside, max) = (sem.clone(), inside.clone(), max.clone());
            std::thread::spawn(move || {
                for _ in 0..500 {
                    let _p = block_on(sem.acquire()).unwrap();
                    let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                    max.fetch_max(now, Ordering::SeqCst);
                    std::thread::yield_now();
                    inside.fetch_sub(1, Ordering::SeqCst);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert!(max.load(Ordering::SeqCst) <= 3);
    assert_eq!(sem.available_permits(), 3);
}

#[test]
fn mutex_hands_off_in_fifo_order() {
    let m = Mutex::new(0);
    let g = m.try_lock().unwrap();
    let (c1, w1) = counter();
    let (c2, w2) = counter();
    let mut l1 = pin!(m.lock());
    let mut l2 = pin!(m.lock());
    assert!(poll(l1.as_mut(), &w1).is_pending());
    assert!(poll(l2.as_mut(), &w2).is_pending());
    drop(g);
    assert_eq!((wakes(&c1), wakes(&c2)), (1, 0));
    assert!(
        m.try_lock().is_err(),
        "the lock was handed to l1, not left free"
    );
    let Poll::Ready(mut g1) = poll(l1.as_mut(), &w1) else {
        panic!("l1 owns the lock")
    };
    *g1 += 1;
    drop(g1);
    assert_eq!(wakes(&c2), 1);
    let Poll::Ready(g2) = poll(l2.as_mut(), &w2) else {
        panic!("l2 owns the lock")
    };
    assert_eq!(*g2, 1);
}

#[test]
fn mutex_counts_exactly_across_threads() {
    let m = Arc::new(Mutex::new(0u64));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let m = m.clone();
            std::thread::spawn(move || {
                for _ in 0..1000 {
                    *block_on(m.lock()) += 1;
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(*block_on(m.clone().lock_owned()), 4000);
    let m = Arc::try_unwrap(m).unwrap();
    assert_eq!(m.into_inner(), 4000);
}

#[test]
fn rwlock_queued_writer_blocks_later_readers() {
    let lock = RwLock::new(1);
    let r1 = lock.try_read().unwrap();
    let (cw, ww) = counter();
    let (_, wr) = counter();
    let mut w = pin!(lock.write());
    assert!(poll(w.as_mut(), &ww).is_pending());
    assert!(
        lock.try_read().is_err(),
        "a reader must not overtake the queued writer"
    );
    let mut r2 = pin!(lock.read());
    assert!(poll(r2.as_mut(), &wr).is_pending());
    drop(r1);
    assert_eq!(wakes(&cw), 1);
    let Poll::Ready(mut g) = poll(w.as_mut(), &ww) else {
        panic!("writer should hold it")
    };
    *g = 2;
    drop(g);
    let Poll::Ready(g) = poll(r2.as_mut(), &wr) else {
        panic!("reader should hold it")
    };
    assert_eq!(*g, 2);
    assert!(lock.try_write().is_err());
}

#[test]
fn notify_one_stores_one_permit_and_notify_waiters_stores_none() {
    let n = Notify::new();
    let (_, w) = counter();
    n.notify_one();
    n.notify_one(); // still one permit
    assert!(poll(pin!(n.notified()), &w).is_ready());
    assert!(poll(pin!(n.notified()), &w).is_pending());
    n.notify_waiters();
    assert!(
        poll(pin!(n.notified()), &w).is_pending(),
        "notify_waiters stores no permit"
    );
}

#[test]
fn notify_waiters_completes_futures_created_before_it_even_unpolled() {
    let n = Notify::new();
    let (c, w) = counter();
    let mut polled = pin!(n.notified());
    assert!(poll(polled.as_mut(), &w).is_pending());
    let mut unpolled = pin!(n.notified());
    n.notify_waiters();
    assert_eq!(wakes(&c), 1);
    assert!(poll(polled.as_mut(), &w).is_ready());
    assert!(poll(unpolled.as_mut(), &w).is_ready());
    assert!(
        poll(pin!(n.notified()), &w).is_pending(),
        "a later future is not notified"
    );
}

#[test]
fn notify_one_wakes_in_fifo_order_and_a_cancelled_waiter_passes_it_on() {
    let n = Notify::new();
    let (c1, w1) = counter();
    let (c2, w2) = counter();
    let mut f2 = pin!(n.notified());
    {
        let mut f1 = pin!(n.notified());
        assert!(poll(f1.as_mut(), &w1).is_pending());
        assert!(poll(f2.as_mut(), &w2).is_pending());
        n.notify_one();
        assert_eq!((wakes(&c1), wakes(&c2)), (1, 0));
    } // f1 dropped without observing its notification
    assert_eq!(wakes(&c2), 1, "the notification must pass to f2");
    assert!(poll(f2.as_mut(), &w2).is_ready());
    // With nobody left, a cancelled notified waiter stores the permit instead.
    {
        let mut f3 = pin!(n.notified());
        assert!(poll(f3.as_mut(), &w1).is_pending());
        n.notify_one();
    }
    assert!(poll(pin!(n.notified()), &w1).is_ready());
}

#[test]
fn notify_waiters_wakes_more_than_one_batch() {
    let n = Notify::new();
    let (c, w) = counter();
    let mut futs: Vec<_> = (0..100).map(|_| Box::pin(n.notified())).collect();
    for f in &mut futs {
        assert!(poll(f.as_mut(), &w).is_pending());
    }
    n.notify_waiters();
    assert_eq!(wakes(&c), 100);
    for f in &mut futs {
        assert!(poll(f.as_mut(), &w).is_ready());
    }
}

/// `notify_waiters` marks the waiters it took without the lock (steps 4 and 6 of the
/// `Notify` protocol): waiters dropped, or polled again with another waker, while it does
/// must neither lose their wake-up nor be freed under it.
#[test]
fn notify_waiters_racing_dropped_and_repolled_waiters() {
    const THREADS: usize = 4;
    const ROUNDS: usize = 2_000;
    let n = Arc::new(Notify::new());
    let done = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let (n, done) = (n.clone(), done.clone());
            std::thread::spawn(move || {
                let (_, w) = counter();
                let mut completed = 0;
                for round in 0..ROUNDS {
                    let mut f = Box::pin(n.notified());
                    if poll(f.as_mut(), &w).is_ready() {
                        completed += 1;
                        continue;
                    }
                    if (round + t) % 2 == 0 {
                        drop(f); // cancelled while queued or being taken
                    } else {
                        // Another waker than the one queued: `block_on`'s own.
                        block_on(f);
                        completed += 1;
                    }
                }
                done.fetch_add(1, Ordering::SeqCst);
                completed
            })
        })
        .collect();
    // A lost wake-up leaves a thread in `block_on` for good: fail instead of hanging.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while done.load(Ordering::SeqCst) < THREADS {
        assert!(
            std::time::Instant::now() < deadline,
            "a waiter re-polled while notify_waiters marked it was never woken"
        );
        n.notify_waiters();
        std::thread::yield_now();
    }
    let completed: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
    // Every other round blocks until woken; the rest may complete at their first poll.
    assert!(completed >= THREADS * ROUNDS / 2);
}

#[test]
fn barrier_has_one_leader_per_generation() {
    let barrier = Arc::new(Barrier::new(3));
    let leaders = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..3)
        .map(|_| {
            let (b, l) = (barrier.clone(), leaders.clone());
            std::thread::spawn(move || {
                for _ in 0..50 {
                    if block_on(b.wait()).is_leader() {
                        l.fetch_add(1, Ordering::SeqCst);
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(leaders.load(Ordering::SeqCst), 50);
}

#[test]
fn coop_budget_makes_an_always_ready_receiver_yield() {
    let (tx, mut rx) = mpsc::unbounded_channel();
    for i in 0..1000 {
        tx.send(i).unwrap();
    }
    let (c, w) = counter();
    let got = crate::coop::budget(|| {
        let mut got = 0;
        while let Poll::Ready(Some(_)) = rx.poll_recv(&mut Context::from_waker(&w)) {
            got += 1;
        }
        got
    });
    assert_eq!(got, crate::coop::BUDGET as usize);
    assert_eq!(
        wakes(&c),
        1,
        "a budget-exhausted poll wakes the task at once"
    );
}
