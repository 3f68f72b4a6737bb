//! The work-stealing runtime: spreading, stealing from stuck workers, lifecycle, blocking.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use corio::runtime::{Builder, Runtime};

fn rt(workers: usize) -> Runtime {
    Builder::new_multi_thread()
        .worker_threads(workers)
        .build()
        .unwrap()
}

fn spin_for(d: Duration) {
    let start = Instant::now();
    while start.elapsed() < d {
        std::hint::spin_loop();
    }
}

struct DropCount(Arc<AtomicUsize>);
impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

/// Runs CPU-bound tasks until every worker thread has been seen (or a generous deadline).
fn threads_seen(rt: &Runtime, want: usize) -> usize {
    let seen = Arc::new(Mutex::new(HashSet::new()));
    let deadline = Instant::now() + Duration::from_secs(20);
    while seen.lock().unwrap().len() < want && Instant::now() < deadline {
        let s = seen.clone();
        rt.block_on(async move {
            let hs: Vec<_> = (0..64)
                .map(|_| {
                    let s = s.clone();
                    corio::spawn(async move {
                        spin_for(Duration::from_millis(2));
                        s.lock().unwrap().insert(std::thread::current().id());
                    })
                })
                .collect();
            for h in hs {
                h.await.unwrap();
            }
        });
    }
    let n = seen.lock().unwrap().len();
    n
}

#[test]
fn work_spreads_over_every_worker() {
    for workers in [2, 4] {
        let rt = rt(workers);
        assert_eq!(
            threads_seen(&rt, workers),
            workers,
            "tasks did not reach all {workers} workers"
        );
        // Workers publish their counters when they park; give them a moment to.
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut m = rt.metrics();
        while (0..workers).any(|i| m.worker_poll_count(i) == 0) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
            m = rt.metrics();
        }
        let busy_workers = (0..workers).filter(|&i| m.worker_poll_count(i) > 0).count();
        assert_eq!(busy_workers, workers, "{m}");
        let table = m.to_string();
        for i in 0..workers {
            assert!(table.contains(&format!("worker {i}")), "{table}");
        }
    }
}

#[test]
fn spawn_100k_from_inside_and_outside() {
    let rt = rt(2);
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    rt.block_on(async move {
        let hs: Vec<_> = (0..50_000)
            .map(|_| {
                let c = c.clone();
                corio::spawn(async move {
                    c.fetch_add(1, SeqCst);
                })
            })
            .collect();
        for h in hs {
            h.await.unwrap();
        }
    });
    let outside: Vec<_> = (0..50_000)
        .map(|_| {
            let c = count.clone();
            rt.spawn(async move {
                c.fetch_add(1, SeqCst);
            })
        })
        .collect();
    rt.block_on(async move {
        for h in outside {
            h.await.unwrap();
        }
    });
    assert_eq!(count.load(SeqCst), 100_000);
    assert_eq!(wait_for_no_alive_tasks(&rt), 0);
}

/// `num_alive_tasks` once it reaches 0, or after 10 s: the last joined task may still be
/// counted until its worker releases it, a moment after its `JoinHandle` returned (see the
/// method's doc); a task that leaked never leaves the count.
fn wait_for_no_alive_tasks(rt: &Runtime) -> usize {
    let start = Instant::now();
    loop {
        let alive = rt.metrics().num_alive_tasks();
        if alive == 0 || start.elapsed() > Duration::from_secs(10) {
            return alive;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn spawn_from_inside_a_task_fans_out() {
    let rt = rt(4);
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    rt.block_on(async move {
        corio::spawn(async move {
            let hs: Vec<_> = (0..10_000)
                .map(|_| {
                    let c = c.clone();
                    corio::spawn(async move {
                        c.fetch_add(1, SeqCst);
                        corio::task::yield_now().await;
                        c.fetch_add(1, SeqCst);
                    })
                })
                .collect();
            for h in hs {
                h.await.unwrap();
            }
        })
        .await
        .unwrap();
    });
    assert_eq!(count.load(SeqCst), 20_000);
}

/// A task on a worker stuck in `std::thread::sleep` spawns two tasks: one lands in its LIFO
/// slot, the other is pushed to its run queue. Both must run on the other worker while the
/// first one is still stuck.
#[test]
fn tasks_behind_a_stuck_worker_run_elsewhere() {
    let rt = rt(2);
    // Keep the other worker asleep first, so that nothing but stealing can rescue the tasks.
    std::thread::sleep(Duration::from_millis(50));
    let stuck_done = Arc::new(AtomicBool::new(false));
    let ran_while_stuck = Arc::new(AtomicUsize::new(0));
    let (sd, rws) = (stuck_done.clone(), ran_while_stuck.clone());
    let results = rt.block_on(async move {
        corio::spawn(async move {
            let mut hs = Vec::new();
            for _ in 0..2 {
                let (sd, rws) = (sd.clone(), rws.clone());
                hs.push(corio::spawn(async move {
                    if !sd.load(SeqCst) {
                        rws.fetch_add(1, SeqCst);
                    }
                }));
            }
            // Stuck: a blocking call inside a task (a bug in user code, but it happens).
            std::thread::sleep(Duration::from_millis(1500));
            sd.store(true, SeqCst);
            hs
        })
        .await
        .unwrap()
    });
    rt.block_on(async move {
        for h in results {
            h.await.unwrap();
        }
    });
    assert_eq!(
        ran_while_stuck.load(SeqCst),
        2,
        "both the LIFO-slot task and the run-queue task must run while their worker is stuck"
    );
}

#[test]
fn panicking_tasks_leave_every_worker_alive() {
    let rt = rt(2);
    rt.block_on(async {
        let hs: Vec<_> = (0..1000)
            .map(|i| corio::spawn(async move { panic!("task {i} panics") }))
            .collect();
        for h in hs {
            assert!(h.await.unwrap_err().is_panic());
        }
    });
    assert_eq!(threads_seen(&rt, 2), 2);
}

#[test]
fn dropping_runtime_drops_every_pending_future_once() {
    let rt = rt(2);
    let drops = Arc::new(AtomicUsize::new(0));
    let started = Arc::new(AtomicUsize::new(0));
    let mut handles = Vec::new();
    for i in 0..1000 {
        let d = DropCount(drops.clone());
        let s = started.clone();
        handles.push(rt.spawn(async move {
            let _d = d;
            s.fetch_add(1, SeqCst);
            if i % 2 == 0 {
                std::future::pending::<()>().await;
            } else {
                loop {
                    corio::task::yield_now().await;
                }
            }
        }));
    }
    while started.load(SeqCst) < 100 {
        std::thread::yield_now();
    }
    drop(rt);
    assert_eq!(drops.load(SeqCst), 1000);
    let rt2 = Builder::new_current_thread().build().unwrap();
    for h in handles {
        assert!(rt2.block_on(h).unwrap_err().is_cancelled());
    }
}

#[test]
fn shutdown_timeout_returns_while_blocking_task_is_stuck() {
    let rt = rt(2);
    let release = Arc::new((Mutex::new(false), std::sync::Condvar::new()));
    let r = release.clone();
    rt.spawn_blocking(move || {
        let (lock, cv) = &*r;
        let mut done = lock.lock().unwrap();
        while !*done {
            done = cv.wait(done).unwrap();
        }
    });
    std::thread::sleep(Duration::from_millis(50));
    let start = Instant::now();
    rt.shutdown_timeout(Duration::from_millis(200));
    let took = start.elapsed();
    assert!(
        took < Duration::from_secs(5),
        "shutdown_timeout(200ms) took {took:?}"
    );
    *release.0.lock().unwrap() = true;
    release.1.notify_all();
}

#[test]
fn shutdown_background_does_not_wait() {
    let rt = rt(2);
    rt.spawn_blocking(|| std::thread::sleep(Duration::from_secs(2)));
    std::thread::sleep(Duration::from_millis(50));
    let start = Instant::now();
    rt.shutdown_background();
    assert!(start.elapsed() < Duration::from_secs(1));
}

#[test]
fn max_blocking_threads_bounds_concurrency() {
    let rt = Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(3)
        .build()
        .unwrap();
    let running = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let hs: Vec<_> = (0..20)
        .map(|_| {
            let (r, p) = (running.clone(), peak.clone());
            rt.spawn_blocking(move || {
                let now = r.fetch_add(1, SeqCst) + 1;
                p.fetch_max(now, SeqCst);
                std::thread::sleep(Duration::from_millis(10));
                r.fetch_sub(1, SeqCst);
            })
        })
        .collect();
    rt.block_on(async move {
        for h in hs {
            h.await.unwrap();
        }
    });
    assert!(peak.load(SeqCst) <= 3, "peak {} > 3", peak.load(SeqCst));
    assert!(rt.metrics().num_blocking_threads() <= 3);
}

#[test]
fn idle_blocking_threads_exit_after_keep_alive() {
    let rt = Builder::new_multi_thread()
        .worker_threads(1)
        .thread_keep_alive(Duration::from_millis(50))
        .build()
        .unwrap();
    rt.block_on(async { corio::task::spawn_blocking(|| ()).await.unwrap() });
    let deadline = Instant::now() + Duration::from_secs(10);
    while rt.metrics().num_blocking_threads() > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(rt.metrics().num_blocking_threads(), 0);
}

#[test]
fn block_in_place_lets_other_tasks_on_that_worker_proceed() {
    // One worker: only the hand-over can run the second task while the first blocks.
    let rt = rt(1);
    let flag = Arc::new(AtomicBool::new(false));
    let f2 = flag.clone();
    let out = rt.block_on(async move {
        let waiter = corio::spawn(async move {
            corio::task::block_in_place(|| {
                let deadline = Instant::now() + Duration::from_secs(20);
                while !f2.load(SeqCst) && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(1));
                }
                f2.load(SeqCst)
            })
        });
        corio::task::yield_now().await;
        let setter = corio::spawn(async move { flag.store(true, SeqCst) });
        setter.await.unwrap();
        waiter.await.unwrap()
    });
    assert!(out, "the other task never ran while block_in_place blocked");
}

#[test]
fn block_in_place_panics_on_current_thread() {
    let rt = Builder::new_current_thread().build().unwrap();
    let err = rt
        .block_on(async { corio::spawn(async { corio::task::block_in_place(|| ()) }).await })
        .unwrap_err();
    let p = err.into_panic();
    let msg = p
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap();
    assert!(
        msg.contains("current-thread") && msg.contains("spawn_blocking"),
        "{msg}"
    );
}

#[test]
fn block_on_from_several_threads() {
    let rt = Arc::new(rt(2));
    let barrier = Arc::new(Barrier::new(4));
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let (rt, b) = (rt.clone(), barrier.clone());
            std::thread::spawn(move || {
                b.wait();
                rt.block_on(async move {
                    let hs: Vec<_> = (0..1000u64)
                        .map(|i| corio::spawn(async move { i + t }))
                        .collect();
                    let mut sum = 0;
                    for h in hs {
                        sum += h.await.unwrap();
                    }
                    sum
                })
            })
        })
        .collect();
    for (t, th) in threads.into_iter().enumerate() {
        assert_eq!(th.join().unwrap(), 999 * 1000 / 2 + 1000 * t as u64);
    }
}

#[test]
fn thread_name_and_hooks() {
    let starts = Arc::new(AtomicUsize::new(0));
    let stops = Arc::new(AtomicUsize::new(0));
    let (s1, s2) = (starts.clone(), stops.clone());
    let rt = Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("my-pool")
        .on_thread_start(move || {
            s1.fetch_add(1, SeqCst);
        })
        .on_thread_stop(move || {
            s2.fetch_add(1, SeqCst);
        })
        .build()
        .unwrap();
    let name = rt.block_on(async {
        corio::spawn(async { std::thread::current().name().map(str::to_owned) })
            .await
            .unwrap()
    });
    assert_eq!(name.as_deref(), Some("my-pool"));
    drop(rt);
    assert!(starts.load(SeqCst) >= 2);
    assert_eq!(starts.load(SeqCst), stops.load(SeqCst));
}

#[test]
fn worker_threads_zero_panics_with_message() {
    let err = std::panic::catch_unwind(|| {
        Builder::new_multi_thread().worker_threads(0);
    })
    .unwrap_err();
    let msg = err
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| err.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap();
    assert!(msg.contains("at least 1"), "{msg}");
}

#[test]
fn remote_wake_reaches_sleeping_workers() {
    let rt = rt(2);
    for _ in 0..200 {
        // Let the workers fall asleep, then wake a task from outside.
        let (tx, rx) = std::sync::mpsc::channel::<std::task::Waker>();
        let done = Arc::new(AtomicBool::new(false));
        let d = done.clone();
        let h = rt.spawn(std::future::poll_fn(move |cx| {
            if d.load(SeqCst) {
                std::task::Poll::Ready(())
            } else {
                let _ = tx.send(cx.waker().clone());
                std::task::Poll::Pending
            }
        }));
        let w = rx.recv().unwrap();
        done.store(true, SeqCst);
        w.wake();
        rt.block_on(h).unwrap();
    }
}
