//! The current-thread runtime: spawn, wake-ups from other threads, misuse, shutdown.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::task::{Poll, Waker};
use std::time::Duration;

use corio::runtime::{Builder, Handle, Runtime};

fn rt() -> Runtime {
    Builder::new_current_thread().build().unwrap()
}

struct DropCount(Arc<AtomicUsize>);
impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn block_on_returns_output_and_runs_spawned_tasks() {
    let rt = rt();
    let out = rt.block_on(async {
        let hs: Vec<_> = (0..1000u64)
            .map(|i| corio::spawn(async move { i * 2 }))
            .collect();
        let mut sum = 0;
        for h in hs {
            sum += h.await.unwrap();
        }
        sum
    });
    assert_eq!(out, 999 * 1000);
    assert_eq!(rt.metrics().num_workers(), 1);
    assert_eq!(rt.metrics().num_alive_tasks(), 0);
}

#[test]
fn yield_now_lets_other_tasks_run() {
    let rt = rt();
    let log = Arc::new(Mutex::new(Vec::new()));
    rt.block_on(async {
        let l = log.clone();
        let a = corio::spawn(async move {
            for i in 0..3 {
                l.lock().unwrap().push(("a", i));
                corio::task::yield_now().await;
            }
        });
        let l = log.clone();
        let b = corio::spawn(async move {
            for i in 0..3 {
                l.lock().unwrap().push(("b", i));
                corio::task::yield_now().await;
            }
        });
        a.await.unwrap();
        b.await.unwrap();
    });
    let log = log.lock().unwrap();
    // Interleaved, not one task's three steps in a row.
    assert_eq!(log.len(), 6);
    assert_ne!(
        log[0].0, log[1].0,
        "yield_now must let the other task run: {log:?}"
    );
}

#[test]
fn remote_spawn_wakes_block_on() {
    let rt = rt();
    let handle = rt.handle().clone();
    let (tx, rx) = mpsc::channel();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        let h = handle.spawn(async { 99 });
        tx.send(h).unwrap();
    });
    let out = rt.block_on(async move {
        // Wait for the handle without blocking the thread.
        let h = loop {
            if let Ok(h) = rx.try_recv() {
                break h;
            }
            corio::task::yield_now().await;
        };
        h.await.unwrap()
    });
    assert_eq!(out, 99);
    t.join().unwrap();
}

#[test]
fn waker_from_other_thread_wakes_parked_block_on() {
    let rt = rt();
    let slot: Arc<Mutex<(bool, Option<Waker>)>> = Default::default();
    let s2 = slot.clone();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        let mut g = s2.lock().unwrap();
        g.0 = true;
        if let Some(w) = g.1.take() {
            w.wake();
        }
    });
    rt.block_on(std::future::poll_fn(|cx| {
        let mut g = slot.lock().unwrap();
        if g.0 {
            Poll::Ready(())
        } else {
            g.1 = Some(cx.waker().clone());
            Poll::Pending
        }
    }));
    t.join().unwrap();
}

#[test]
fn task_woken_from_other_thread_runs() {
    let rt = rt();
    let slot: Arc<Mutex<(bool, Option<Waker>)>> = Default::default();
    let s2 = slot.clone();
    let h = rt.spawn(std::future::poll_fn(move |cx| {
        let mut g = s2.lock().unwrap();
        if g.0 {
            Poll::Ready(5)
        } else {
            g.1 = Some(cx.waker().clone());
            Poll::Pending
        }
    }));
    let s3 = slot.clone();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        let mut g = s3.lock().unwrap();
        g.0 = true;
        g.1.take().expect("task should have polled by now").wake();
    });
    assert_eq!(rt.block_on(h).unwrap(), 5);
    t.join().unwrap();
}

#[test]
fn panicking_task_is_contained() {
    let rt = rt();
    let out = rt.block_on(async {
        let bad = corio::spawn(async { panic!("task panic") });
        let good = corio::spawn(async { 1 });
        (bad.await, good.await)
    });
    let err = out.0.unwrap_err();
    assert!(err.is_panic());
    assert_eq!(*err.into_panic().downcast::<&str>().unwrap(), "task panic");
    assert_eq!(out.1.unwrap(), 1);
}

#[test]
fn abort_cancels_pending_task() {
    let rt = rt();
    let drops = Arc::new(AtomicUsize::new(0));
    let d = DropCount(drops.clone());
    rt.block_on(async move {
        let h = corio::spawn(async move {
            let _d = d;
            std::future::pending::<()>().await
        });
        corio::task::yield_now().await;
        h.abort();
        let err = h.await.unwrap_err();
        assert!(err.is_cancelled());
    });
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}

#[test]
fn dropping_runtime_drops_every_future_once_and_cancels_handles() {
    let rt = rt();
    let drops = Arc::new(AtomicUsize::new(0));
    let mut handles = Vec::new();
    for _ in 0..100 {
        let d = DropCount(drops.clone());
        handles.push(rt.spawn(async move {
            let _d = d;
            std::future::pending::<()>().await
        }));
    }
    // Half get polled (and park), half are still queued.
    rt.block_on(async {
        for _ in 0..3 {
            corio::task::yield_now().await;
        }
    });
    for _ in 0..100 {
        let d = DropCount(drops.clone());
        handles.push(rt.spawn(async move {
            let _d = d;
        }));
    }
    drop(rt);
    assert_eq!(drops.load(Ordering::SeqCst), 200);
    let rt2 = Builder::new_current_thread().build().unwrap();
    for h in handles {
        let res = rt2.block_on(h);
        assert!(res.unwrap_err().is_cancelled());
    }
}

#[test]
fn spawn_from_task_destructor_during_shutdown_is_cancelled_not_lost() {
    struct SpawnOnDrop(Arc<Mutex<Option<corio::task::JoinHandle<()>>>>);
    impl Drop for SpawnOnDrop {
        fn drop(&mut self) {
            *self.0.lock().unwrap() = Some(corio::spawn(async {}));
        }
    }
    let rt = rt();
    let late = Arc::new(Mutex::new(None));
    let guard = SpawnOnDrop(late.clone());
    rt.spawn(async move {
        let _g = guard;
        std::future::pending::<()>().await
    });
    drop(rt);
    let h = late.lock().unwrap().take().expect("destructor ran");
    let res = Builder::new_current_thread().build().unwrap().block_on(h);
    assert!(res.unwrap_err().is_cancelled());
}

#[test]
fn spawn_after_shutdown_from_another_thread_is_cancelled() {
    let rt = rt();
    let handle = rt.handle().clone();
    drop(rt);
    let h = handle.spawn(async { 1 });
    let res = Builder::new_current_thread().build().unwrap().block_on(h);
    assert!(res.unwrap_err().is_cancelled());
}

#[test]
fn spawn_outside_runtime_panics_with_fix() {
    let err = std::panic::catch_unwind(|| drop(corio::spawn(async {}))).unwrap_err();
    let msg = err.downcast_ref::<String>().unwrap();
    assert!(
        msg.contains("no corio runtime") && msg.contains("block_on"),
        "{msg}"
    );
}

#[test]
fn handle_current_outside_runtime_panics_with_fix() {
    assert!(Handle::try_current().unwrap_err().is_missing_context());
    let err = std::panic::catch_unwind(Handle::current).unwrap_err();
    let msg = err.downcast_ref::<String>().unwrap();
    assert!(msg.contains("no corio runtime"), "{msg}");
}

#[test]
fn block_on_inside_runtime_panics_with_reason() {
    let rt = rt();
    let inner = rt.handle().clone();
    let err = rt
        .block_on(async move {
            corio::spawn(async move {
                inner.block_on(async {});
            })
            .await
        })
        .unwrap_err();
    assert!(err.is_panic());
    let payload = err.into_panic();
    let msg = payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap();
    assert!(
        msg.contains("cannot call `block_on` from inside a corio runtime"),
        "{msg}"
    );
}

#[test]
fn enter_makes_handle_current() {
    let rt = rt();
    {
        let _g = rt.enter();
        let h = corio::spawn(async { 3 });
        assert!(Handle::try_current().is_ok());
        assert_eq!(rt.block_on(h).unwrap(), 3);
    }
    assert!(Handle::try_current().is_err());
}

#[test]
fn block_on_from_two_threads_at_once() {
    let rt = Arc::new(rt());
    let counter = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let rt = rt.clone();
            let c = counter.clone();
            std::thread::spawn(move || {
                rt.block_on(async move {
                    for _ in 0..100 {
                        let c = c.clone();
                        corio::spawn(async move {
                            c.fetch_add(1, Ordering::SeqCst);
                        })
                        .await
                        .unwrap();
                    }
                })
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(counter.load(Ordering::SeqCst), 200);
}

#[test]
fn run_is_asyncio_run() {
    assert_eq!(
        corio::run(async { corio::spawn(async { 2 }).await.unwrap() + 1 }),
        3
    );
}

#[test]
fn spawn_blocking_runs_on_pool_and_can_spawn() {
    let rt = rt();
    let out = rt.block_on(async {
        let h = corio::runtime::Handle::current().spawn_blocking(|| {
            let me = std::thread::current().name().unwrap_or_default().to_owned();
            let inner = corio::spawn(async { 10 });
            (me, inner)
        });
        let (name, inner) = h.await.unwrap();
        (name, inner.await.unwrap())
    });
    assert!(out.0.contains("blocking"), "{}", out.0);
    assert_eq!(out.1, 10);
}
