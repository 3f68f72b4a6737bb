//! `corio::sync` on real runtimes: each behaviour runs on both scheduler flavours.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use corio::runtime::{Builder, Runtime};
use corio::sync::{broadcast, mpsc, oneshot, watch, Barrier, Mutex, Notify, Semaphore};

fn runtimes() -> Vec<(&'static str, Runtime)> {
    vec![
        (
            "current_thread",
            Builder::new_current_thread().build().unwrap(),
        ),
        (
            "multi_thread",
            Builder::new_multi_thread()
                .worker_threads(4)
                .build()
                .unwrap(),
        ),
    ]
}

/// Runs `body` as a spawned task (not as `block_on`'s own future), so that its
/// `yield_now`s let the other tasks run on every scheduler flavour.
fn in_task<F>(rt: &Runtime, body: F) -> F::Output
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    rt.block_on(async move { corio::spawn(body).await.unwrap() })
}

/// Yields until `cond` holds; panics (instead of hanging) after a very generous number of
/// yields, which only a lost wake-up or a stuck task would exhaust.
async fn yield_until(cond: impl Fn() -> bool) {
    for _ in 0..10_000_000 {
        if cond() {
            return;
        }
        corio::task::yield_now().await;
    }
    panic!("condition never became true");
}

#[test]
fn mutex_100_tasks_x_1000_increments_is_exact() {
    for (name, rt) in runtimes() {
        let total = rt.block_on(async {
            let m = Arc::new(Mutex::new(0u64));
            let tasks: Vec<_> = (0..100)
                .map(|_| {
                    let m = m.clone();
                    corio::spawn(async move {
                        for i in 0..1000 {
                            let mut g = m.lock().await;
                            *g += 1;
                            if i % 100 == 0 {
                                // Hold the lock across a yield so others queue behind it.
                                corio::task::yield_now().await;
                            }
                        }
                    })
                })
                .collect();
            for t in tasks {
                t.await.unwrap();
            }
            let v = *m.lock().await;
            v
        });
        assert_eq!(total, 100_000, "{name}");
    }
}

#[test]
fn semaphore_never_exceeds_its_permits() {
    for (name, rt) in runtimes() {
        let max = rt.block_on(async {
            let sem = Arc::new(Semaphore::new(5));
            let inside = Arc::new(AtomicUsize::new(0));
            let max = Arc::new(AtomicUsize::new(0));
            let tasks: Vec<_> = (0..50)
                .map(|i| {
                    let (sem, inside, max) = (sem.clone(), inside.clone(), max.clone());
                    corio::spawn(async move {
                        for _ in 0..20 {
                            let n = 1 + (i % 3) as u32;
                            let _p = sem.acquire_many(n).await.unwrap();
                            let now = inside.fetch_add(n as usize, Ordering::SeqCst) + n as usize;
                            max.fetch_max(now, Ordering::SeqCst);
                            corio::task::yield_now().await;
                            inside.fetch_sub(n as usize, Ordering::SeqCst);
                        }
                    })
                })
                .collect();
            for t in tasks {
                t.await.unwrap();
            }
            assert_eq!(sem.available_permits(), 5);
            max.load(Ordering::SeqCst)
        });
        assert!(max <= 5, "{name}: {max} permits in use at once");
        assert!(max >= 2, "{name}: the permits were never shared ({max})");
    }
}

#[test]
fn bounded_mpsc_backpressure_and_closure_both_ways() {
    for (name, rt) in runtimes() {
        in_task(&rt, async move {
            let (tx, mut rx) = mpsc::channel::<u32>(4);
            let sent = Arc::new(AtomicUsize::new(0));
            let producer = {
                let sent = sent.clone();
                corio::spawn(async move {
                    for i in 0..100 {
                        tx.send(i).await.unwrap();
                        sent.fetch_add(1, Ordering::SeqCst);
                    }
                })
            };
            // Without a receiver the producer fills the capacity, then stalls there.
            yield_until(|| sent.load(Ordering::SeqCst) >= 4).await;
            for _ in 0..100 {
                corio::task::yield_now().await;
            }
            assert_eq!(sent.load(Ordering::SeqCst), 4, "{name}: backpressure");
            let mut got = Vec::new();
            while let Some(v) = rx.recv().await {
                got.push(v);
            }
            producer.await.unwrap();
            assert_eq!(
                got,
                (0..100).collect::<Vec<_>>(),
                "{name}: every message, in order"
            );

            // Closure seen by senders, including one waiting for capacity.
            let (tx, rx) = mpsc::channel::<u32>(1);
            tx.send(0).await.unwrap();
            let waiting = {
                let tx = tx.clone();
                corio::spawn(async move { tx.send(1).await })
            };
            let watcher = {
                let tx = tx.clone();
                corio::spawn(async move { tx.closed().await })
            };
            corio::task::yield_now().await;
            drop(rx);
            assert_eq!(
                waiting.await.unwrap(),
                Err(mpsc::error::SendError(1)),
                "{name}"
            );
            watcher.await.unwrap();
            assert!(tx.is_closed());
        });
    }
}

#[test]
fn every_message_sent_before_close_is_received() {
    for (name, rt) in runtimes() {
        in_task(&rt, async move {
            let (tx, mut rx) = mpsc::unbounded_channel::<u64>();
            let producers: Vec<_> = (0..5u64)
                .map(|p| {
                    let tx = tx.clone();
                    corio::spawn(async move {
                        let mut accepted = 0;
                        for i in 0..1000 {
                            if tx.send(p * 1000 + i).is_ok() {
                                accepted += 1;
                            }
                            if i % 64 == 0 {
                                corio::task::yield_now().await;
                            }
                        }
                        accepted
                    })
                })
                .collect();
            drop(tx);
            let mut received = 0;
            let mut buf = Vec::new();
            // Receive some, then close mid-stream, then drain.
            while received < 2000 {
                buf.clear();
                let n = rx.recv_many(&mut buf, 100).await;
                assert!(n > 0);
                received += n;
            }
            rx.close();
            while rx.recv().await.is_some() {
                received += 1;
            }
            let mut accepted = 0;
            for p in producers {
                accepted += p.await.unwrap();
            }
            assert_eq!(received, accepted, "{name}: accepted == received");
        });
    }
}

#[test]
fn oneshot_and_watch_across_tasks() {
    for (name, rt) in runtimes() {
        in_task(&rt, async move {
            let (tx, rx) = oneshot::channel();
            corio::spawn(async move { tx.send(42).unwrap() });
            assert_eq!(rx.await, Ok(42), "{name}");

            let (tx, mut rx) = watch::channel(0u32);
            let reader = corio::spawn(async move {
                let mut last = 0;
                while rx.changed().await.is_ok() {
                    let v = *rx.borrow_and_update();
                    assert!(v > last, "values only move forward");
                    last = v;
                }
                last
            });
            for i in 1..=100 {
                tx.send(i).unwrap();
                if i % 10 == 0 {
                    corio::task::yield_now().await;
                }
            }
            drop(tx);
            assert_eq!(
                reader.await.unwrap(),
                100,
                "{name}: the latest value is always seen"
            );
        });
    }
}

#[test]
fn broadcast_lag_is_reported() {
    for (name, rt) in runtimes() {
        in_task(&rt, async move {
            let (tx, mut slow) = broadcast::channel::<u32>(8);
            let mut fast = tx.subscribe();
            let fast_seen = Arc::new(AtomicUsize::new(0));
            let fast_task = {
                let fast_seen = fast_seen.clone();
                corio::spawn(async move {
                    while let Ok(v) = fast.recv().await {
                        assert_eq!(v as usize, fast_seen.load(Ordering::SeqCst), "no gap");
                        fast_seen.fetch_add(1, Ordering::SeqCst);
                    }
                    fast_seen.load(Ordering::SeqCst)
                })
            };
            for i in 0..100 {
                tx.send(i).unwrap();
                // The fast receiver keeps up; the slow one never reads until the end.
                yield_until(|| fast_seen.load(Ordering::SeqCst) > i as usize).await;
            }
            drop(tx);
            assert_eq!(fast_task.await.unwrap(), 100, "{name}");
            let mut lagged = 0;
            let mut values = Vec::new();
            loop {
                match slow.recv().await {
                    Ok(v) => values.push(v),
                    Err(broadcast::error::RecvError::Lagged(n)) => lagged += n,
                    Err(broadcast::error::RecvError::Closed) => break,
                }
            }
            assert_eq!(lagged, 92, "{name}: missed values are counted");
            assert_eq!(values, (92..100).collect::<Vec<_>>(), "{name}");
        });
    }
}

#[test]
fn notify_semantics_as_in_tokio_docs() {
    for (name, rt) in runtimes() {
        in_task(&rt, async move {
            // notify_one before anyone waits: the permit makes the next wait return at once.
            let notify = Arc::new(Notify::new());
            notify.notify_one();
            notify.notified().await;

            // A waiting task is woken by notify_one.
            let waiter = {
                let notify = notify.clone();
                corio::spawn(async move { notify.notified().await })
            };
            corio::task::yield_now().await;
            notify.notify_one();
            waiter.await.unwrap();

            // notify_waiters wakes every waiting task.
            let woken = Arc::new(AtomicUsize::new(0));
            let barrier = Arc::new(Barrier::new(11));
            let waiters: Vec<_> = (0..10)
                .map(|_| {
                    let (notify, woken, barrier) = (notify.clone(), woken.clone(), barrier.clone());
                    corio::spawn(async move {
                        let notified = notify.notified();
                        barrier.wait().await; // registered (by snapshot) before the notify
                        notified.await;
                        woken.fetch_add(1, Ordering::SeqCst);
                    })
                })
                .collect();
            barrier.wait().await;
            notify.notify_waiters();
            for w in waiters {
                w.await.unwrap();
            }
            assert_eq!(woken.load(Ordering::SeqCst), 10, "{name}");
        });
    }
}

#[test]
fn barrier_has_one_leader_per_round() {
    for (name, rt) in runtimes() {
        let leaders = rt.block_on(async {
            let barrier = Arc::new(Barrier::new(8));
            let tasks: Vec<_> = (0..8)
                .map(|_| {
                    let barrier = barrier.clone();
                    corio::spawn(async move {
                        let mut led = 0;
                        for _ in 0..10 {
                            led += barrier.wait().await.is_leader() as usize;
                        }
                        led
                    })
                })
                .collect();
            let mut leaders = 0;
            for t in tasks {
                leaders += t.await.unwrap();
            }
            leaders
        });
        assert_eq!(leaders, 10, "{name}");
    }
}
