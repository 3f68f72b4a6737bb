//! `corio::time` on a real clock: sleeps never end early, complete in deadline order, scale
//! to 100,000, leave the wheel when dropped; timeouts both ways; far futures; shutdown.

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant as StdInstant};

use corio::runtime::{Builder, Runtime};
use corio::time::{self, sleep, sleep_until, timeout, timeout_at, Instant};

fn rt() -> Runtime {
    Builder::new_current_thread().build().unwrap()
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A waker that counts its wakes.
#[derive(Default)]
struct CountWaker(AtomicUsize);

impl Wake for CountWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn sleep_never_completes_early() {
    rt().block_on(async {
        for d in [0, 1, 2, 3, 5, 8, 13, 21] {
            let start = StdInstant::now();
            let corio_start = Instant::now();
            sleep(ms(d)).await;
            assert!(
                start.elapsed() >= ms(d),
                "sleep({d} ms) took {:?}",
                start.elapsed()
            );
            assert!(corio_start.elapsed() >= ms(d));
        }
        // A sub-millisecond sleep rounds up, never down.
        let start = StdInstant::now();
        sleep(Duration::from_micros(1500)).await;
        assert!(start.elapsed() >= Duration::from_micros(1500));
    });
}

#[test]
fn sleep_until_a_passed_deadline_completes_at_once() {
    rt().block_on(async {
        let past = Instant::now() - ms(5);
        let s = sleep_until(past);
        assert_eq!(s.deadline(), past);
        s.await;
        sleep(Duration::ZERO).await;
    });
}

#[test]
fn many_sleeps_complete_in_deadline_order() {
    let order = Arc::new(Mutex::new(Vec::new()));
    rt().block_on(async {
        let base = Instant::now() + ms(20);
        // Spawned in a scrambled order; deadlines 3 ms apart so they fall on distinct ticks.
        let mut handles = Vec::new();
        for i in (0..40u64).map(|i| (i * 17) % 40) {
            let order = order.clone();
            handles.push(corio::spawn(async move {
                sleep_until(base + ms(3 * i)).await;
                order.lock().unwrap().push(i);
            }));
        }
        for h in handles {
            h.await.unwrap();
        }
    });
    let order = order.lock().unwrap().clone();
    assert_eq!(order, (0..40).collect::<Vec<_>>());
}

#[test]
fn timeout_returns_the_output_of_a_fast_future() {
    rt().block_on(async {
        assert_eq!(timeout(ms(500), async { 42 }).await, Ok(42));
        let r = timeout(ms(500), async {
            sleep(ms(2)).await;
            "done"
        })
        .await;
        assert_eq!(r, Ok("done"));
        let deadline = Instant::now() + ms(500);
        let t = timeout_at(deadline, async { 1 });
        assert_eq!(t.deadline(), deadline);
        assert_eq!(t.await, Ok(1));
    });
}

#[test]
fn timeout_elapses_for_a_slow_future_and_not_before_its_deadline() {
    rt().block_on(async {
        let start = StdInstant::now();
        let r = timeout(ms(20), std::future::pending::<()>()).await;
        let err = r.unwrap_err();
        assert!(start.elapsed() >= ms(20));
        assert_eq!(err.to_string(), "deadline has elapsed");
        let io: std::io::Error = err.into();
        assert_eq!(io.kind(), std::io::ErrorKind::TimedOut);

        let start = StdInstant::now();
        assert!(timeout_at(Instant::now() + ms(10), sleep(ms(10_000)))
            .await
            .is_err());
        assert!(start.elapsed() >= ms(10));
    });
}

#[test]
fn timeout_fires_even_when_the_inner_future_spends_the_whole_budget() {
    // The inner future is always ready to make progress through a corio resource (an
    // elapsed sleep), so it spends the task's coop budget; the deadline must still win.
    rt().block_on(async {
        let busy = async {
            let mut done = pin!(sleep(Duration::ZERO));
            (&mut done).await;
            loop {
                // Each poll of an elapsed Sleep consumes budget.
                std::future::poll_fn(|cx| done.as_mut().poll(cx)).await;
            }
        };
        let r = corio::spawn(async move { timeout(ms(20), busy).await })
            .await
            .unwrap();
        assert!(r.is_err());
    });
}

#[test]
fn timers_consume_coop_budget_so_other_tasks_run() {
    rt().block_on(async {
        let other_ran = Arc::new(AtomicBool::new(false));
        let flag = other_ran.clone();
        let spinner = corio::spawn(async move {
            let mut done = pin!(sleep(Duration::ZERO));
            for _ in 0..10_000 {
                (&mut done).await; // ready at once, but spends budget
            }
            flag.load(Ordering::SeqCst)
        });
        let flag = other_ran.clone();
        let other = corio::spawn(async move { flag.store(true, Ordering::SeqCst) });
        assert!(
            spinner.await.unwrap(),
            "a task polling ready timers never yielded"
        );
        other.await.unwrap();
    });
}

#[test]
fn one_hundred_thousand_concurrent_sleeps_all_complete() {
    const N: u64 = 100_000;
    let done = Arc::new(AtomicUsize::new(0));
    let start = StdInstant::now();
    rt().block_on(async {
        let mut handles = Vec::with_capacity(N as usize);
        for i in 0..N {
            let done = done.clone();
            let d = ms(1 + (i * 7919) % 50);
            handles.push(corio::spawn(async move {
                let begun = StdInstant::now();
                sleep(d).await;
                assert!(begun.elapsed() >= d, "woke early");
                done.fetch_add(1, Ordering::Relaxed);
            }));
        }
        for h in handles {
            h.await.unwrap();
        }
    });
    assert_eq!(done.load(Ordering::SeqCst), N as usize);
    assert!(
        start.elapsed() < Duration::from_secs(60),
        "took {:?}",
        start.elapsed()
    );
}

#[test]
fn a_dropped_sleep_never_wakes_its_task() {
    let count = Arc::new(CountWaker::default());
    let waker = Waker::from(count.clone());
    rt().block_on(async {
        for d in [1, 5, 70, 5_000] {
            let mut s = Box::pin(sleep(ms(d)));
            assert!(s
                .as_mut()
                .poll(&mut Context::from_waker(&waker))
                .is_pending());
            drop(s);
        }
        sleep(ms(100)).await;
    });
    assert_eq!(count.0.load(Ordering::SeqCst), 0);
}

#[test]
fn far_future_sleeps_are_pending_and_time_out() {
    rt().block_on(async {
        for d in [Duration::from_secs(3 * 365 * 86_400), Duration::MAX] {
            let s = sleep(d);
            assert!(s.deadline() > Instant::now() + Duration::from_secs(365 * 86_400));
            let mut s = pin!(s);
            assert!(futures_lite::future::poll_once(s.as_mut()).await.is_none());
            assert!(!s.is_elapsed());
            assert!(timeout(ms(5), s).await.is_err());
        }
    });
}

#[test]
fn reset_moves_the_deadline_both_ways_and_rearms_an_elapsed_sleep() {
    rt().block_on(async {
        let start = StdInstant::now();
        let mut s = pin!(sleep(Duration::from_secs(3600)));
        assert!(futures_lite::future::poll_once(s.as_mut()).await.is_none());
        s.as_mut().reset(Instant::now() + ms(10));
        s.as_mut().await;
        assert!(s.is_elapsed());
        assert!(start.elapsed() >= ms(10) && start.elapsed() < Duration::from_secs(3000));

        let rearmed = Instant::now() + ms(15);
        s.as_mut().reset(rearmed);
        assert!(!s.is_elapsed());
        assert_eq!(s.deadline(), rearmed);
        s.as_mut().await;
        assert!(Instant::now() >= rearmed);
    });
}

#[test]
fn pending_timers_never_fire_after_the_runtime_is_dropped() {
    struct DropFlag(Arc<AtomicBool>);
    impl Drop for DropFlag {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }
    let fired = Arc::new(AtomicBool::new(false));
    let dropped = Arc::new(AtomicBool::new(false));
    let rt = rt();
    let (f, guard) = (fired.clone(), DropFlag(dropped.clone()));
    rt.spawn(async move {
        let _guard = guard;
        sleep(ms(30)).await;
        f.store(true, Ordering::SeqCst);
    });
    // A timer moved out of the runtime before it shuts down.
    let mut escaped = rt
        .block_on(async {
            sleep(ms(2)).await; // the spawned task registers its timer meanwhile
            let mut s = Box::pin(sleep(ms(30)));
            assert!(futures_lite::future::poll_once(s.as_mut()).await.is_none());
            Some(s) // an `Option`: handing out a future, not awaiting it
        })
        .unwrap();
    drop(rt);
    assert!(
        dropped.load(Ordering::SeqCst),
        "the sleeping task's future was not dropped"
    );
    std::thread::sleep(ms(60));
    assert!(!fired.load(Ordering::SeqCst));
    assert!(!escaped.is_elapsed());

    let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let waker = Waker::noop();
        let _ = escaped.as_mut().poll(&mut Context::from_waker(waker));
    }));
    // It was registered; shutdown cut it off. Polling it again cannot wait forever silently.
    let msg = panic.expect_err("polling a timer of a dropped runtime must panic");
    let msg = msg.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(msg.contains("shut down"), "{msg}");
}

#[test]
fn creating_a_timer_outside_a_runtime_panics_naming_the_fix() {
    let err = std::panic::catch_unwind(|| sleep(ms(1))).expect_err("sleep outside a runtime");
    let msg = err.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(
        msg.contains("corio::time::sleep") && msg.contains("inside a corio runtime"),
        "{msg}"
    );
    assert!(std::panic::catch_unwind(|| time::interval(ms(1))).is_err());
    assert!(std::panic::catch_unwind(|| time::pause()).is_err());
}

#[test]
fn instant_matches_std_outside_a_runtime_and_converts_both_ways() {
    let a = Instant::now();
    let std_a: StdInstant = a.into();
    assert_eq!(Instant::from(std_a), a);
    assert_eq!(Instant::from_std(std_a).into_std(), std_a);
    let b = a + ms(7);
    assert_eq!(b - a, ms(7));
    assert_eq!(a - b, Duration::ZERO);
    assert_eq!(b.checked_duration_since(a), Some(ms(7)));
    assert_eq!(a.checked_duration_since(b), None);
    assert_eq!(b.checked_sub(ms(7)), Some(a));
    let mut c = a;
    c += ms(3);
    c -= ms(1);
    assert_eq!(c, a + ms(2));
    assert!(Instant::now() >= a);
}

/// A one-shot flag a std thread sets and a task awaits.
#[derive(Default)]
struct Signal {
    set: AtomicBool,
    waker: Mutex<Option<Waker>>,
}

impl Signal {
    fn set(&self) {
        self.set.store(true, Ordering::SeqCst);
        if let Some(w) = self.waker.lock().unwrap().take() {
            w.wake();
        }
    }

    async fn wait(&self) {
        std::future::poll_fn(|cx| {
            *self.waker.lock().unwrap() = Some(cx.waker().clone());
            if self.set.load(Ordering::SeqCst) {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await
    }
}

#[test]
fn a_timer_registered_from_another_thread_cuts_a_longer_park_short() {
    // The runtime parks until a 10 s timer. Another thread registers a 10 ms sleep with it;
    // registration unparks the driver, which re-arms for 10 ms and fires it.
    let rt = rt();
    let handle = rt.handle().clone();
    let start = StdInstant::now();
    rt.block_on(async move {
        let _long = corio::spawn(sleep(Duration::from_secs(10)));
        let signal = Arc::new(Signal::default());
        let s = signal.clone();
        let thread = std::thread::spawn(move || {
            std::thread::sleep(ms(20)); // let the runtime park first
            let sleep = {
                let _g = handle.enter();
                sleep(ms(10))
            };
            futures_lite::future::block_on(sleep);
            s.set();
        });
        signal.wait().await;
        thread.join().unwrap();
    });
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "took {:?}",
        start.elapsed()
    );
}

#[test]
fn timer_types_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    fn unpin<T: Unpin>() {}
    send_sync::<time::Sleep>();
    send_sync::<time::Timeout<std::future::Ready<()>>>();
    send_sync::<time::Interval>();
    send_sync::<Instant>();
    send_sync::<time::error::Elapsed>();
    unpin::<time::Interval>();
}

#[test]
fn sleeps_from_every_worker_of_a_multi_thread_runtime_complete_never_early() {
    const N: u64 = 20_000;
    let rt = Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let done = Arc::new(AtomicUsize::new(0));
    let start = StdInstant::now();
    rt.block_on(async {
        let mut handles = Vec::new();
        for i in 0..N {
            let done = done.clone();
            handles.push(corio::spawn(async move {
                let d = ms(1 + (i * 31) % 40);
                let begun = StdInstant::now();
                sleep(d).await;
                assert!(begun.elapsed() >= d, "woke early");
                // Timeouts race their futures across workers too.
                assert!(timeout(ms(2), std::future::pending::<()>()).await.is_err());
                done.fetch_add(1, Ordering::Relaxed);
            }));
        }
        for h in handles {
            h.await.unwrap();
        }
    });
    assert_eq!(done.load(Ordering::SeqCst), N as usize);
    assert!(
        start.elapsed() < Duration::from_secs(60),
        "took {:?}",
        start.elapsed()
    );
}

#[test]
fn a_long_park_on_a_multi_thread_runtime_is_cut_short_by_an_earlier_timer() {
    let rt = Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let start = StdInstant::now();
    rt.block_on(async {
        let _long = corio::spawn(sleep(Duration::from_secs(10)));
        sleep(ms(20)).await; // everyone idles: the driver parks until the 10 s timer
        corio::spawn(async { sleep(ms(10)).await }).await.unwrap();
    });
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "took {:?}",
        start.elapsed()
    );
}
