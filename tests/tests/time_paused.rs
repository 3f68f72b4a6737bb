//! Virtual time on a current-thread runtime: `pause`, `advance`, `resume`, and the jump to
//! the next deadline when the runtime is idle.

use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant as StdInstant};

use corio::runtime::{Builder, Runtime};
use corio::time::{self, sleep, timeout, Instant};
use futures_lite::future::poll_once;

fn rt() -> Runtime {
    Builder::new_current_thread().build().unwrap()
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn an_hour_long_sleep_completes_at_once_and_exactly_on_time() {
    let real = StdInstant::now();
    rt().block_on(async {
        time::pause();
        let start = Instant::now();
        sleep(Duration::from_secs(3600)).await;
        assert_eq!(start.elapsed(), Duration::from_secs(3600));
    });
    assert!(
        real.elapsed() < Duration::from_secs(10),
        "took {:?} of real time",
        real.elapsed()
    );
}

#[test]
fn paused_time_stands_still_while_tasks_run() {
    rt().block_on(async {
        time::pause();
        let start = Instant::now();
        std::thread::sleep(ms(20));
        corio::task::yield_now().await;
        assert_eq!(Instant::now(), start);
    });
}

#[test]
fn advance_fires_exactly_the_timers_that_are_due() {
    rt().block_on(async {
        time::pause();
        let mut a = pin!(sleep(ms(10)));
        let mut b = pin!(sleep(ms(20)));
        assert!(poll_once(a.as_mut()).await.is_none());
        assert!(poll_once(b.as_mut()).await.is_none());

        time::advance(ms(9)).await;
        assert!(!a.is_elapsed());
        time::advance(ms(1)).await;
        assert!(a.is_elapsed());
        assert!(!b.is_elapsed());
        time::advance(ms(10)).await;
        assert!(b.is_elapsed());
    });
}

#[test]
fn sleeps_complete_in_deadline_order_at_their_virtual_deadlines() {
    let log = Arc::new(Mutex::new(Vec::new()));
    rt().block_on(async {
        time::pause();
        let start = Instant::now();
        let mut handles = Vec::new();
        for d in [50u64, 10, 3000, 1, 700, 64, 4096, 65] {
            let log = log.clone();
            handles.push(corio::spawn(async move {
                sleep(ms(d)).await;
                log.lock().unwrap().push((d, start.elapsed()));
            }));
        }
        for h in handles {
            h.await.unwrap();
        }
    });
    let log = log.lock().unwrap().clone();
    let want: Vec<_> = [1u64, 10, 50, 64, 65, 700, 3000, 4096]
        .iter()
        .map(|&d| (d, ms(d)))
        .collect();
    assert_eq!(log, want);
}

#[test]
fn timeout_of_a_pending_future_elapses_at_once_in_paused_time() {
    let real = StdInstant::now();
    rt().block_on(async {
        time::pause();
        let start = Instant::now();
        assert!(
            timeout(Duration::from_secs(600), std::future::pending::<()>())
                .await
                .is_err()
        );
        assert_eq!(start.elapsed(), Duration::from_secs(600));
    });
    assert!(real.elapsed() < Duration::from_secs(10));
}

#[test]
fn resume_lets_time_run_again_from_the_virtual_time() {
    rt().block_on(async {
        time::pause();
        let start = Instant::now();
        time::advance(Duration::from_secs(100)).await;
        time::resume();
        let after = Instant::now();
        assert!(after >= start + Duration::from_secs(100));
        let real = StdInstant::now();
        sleep(ms(5)).await;
        assert!(
            real.elapsed() >= ms(5),
            "resumed time must be real time again"
        );
        assert!(Instant::now() >= after + ms(5));
    });
}

fn panic_message(err: Box<dyn std::any::Any + Send>) -> String {
    match err.downcast::<String>() {
        Ok(s) => *s,
        Err(err) => err
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .unwrap_or_default(),
    }
}

#[test]
fn misuse_panics_with_a_message_that_says_what_to_do() {
    rt().block_on(async {
        let err = std::panic::catch_unwind(time::resume).expect_err("resume while running");
        assert!(panic_message(err).contains("not paused; call pause() first"));

        // `advance` is an `async fn`: the misuse shows when it first runs.
        let err = std::panic::catch_unwind(|| futures_lite::future::block_on(time::advance(ms(1))))
            .expect_err("advance while running");
        assert!(panic_message(err).contains("time is not paused"));

        time::pause();
        let err = std::panic::catch_unwind(time::pause).expect_err("pause twice");
        assert!(panic_message(err).contains("already paused; call resume() first"));
    });
}

#[test]
fn paused_time_does_not_jump_while_blocking_work_runs() {
    let real = StdInstant::now();
    rt().block_on(async {
        time::pause();
        let start = Instant::now();
        // Idle but for the blocking closure: time must wait for it, not fire the time-out.
        let work = corio::task::spawn_blocking(|| {
            std::thread::sleep(ms(100));
            7
        });
        let out = timeout(Duration::from_secs(10), work).await;
        assert_eq!(
            out.expect("time jumped past running blocking work")
                .unwrap(),
            7
        );
        assert_eq!(
            start.elapsed(),
            Duration::ZERO,
            "no timer was due, time stood still"
        );
        // With the work done, the idle runtime jumps again.
        sleep(Duration::from_secs(3600)).await;
        assert_eq!(start.elapsed(), Duration::from_secs(3600));
    });
    assert!(
        real.elapsed() < Duration::from_secs(10),
        "took {:?}",
        real.elapsed()
    );
}

#[test]
fn detached_blocking_work_holds_time_back_then_lets_it_jump() {
    let done = Arc::new(Mutex::new(false));
    let real = StdInstant::now();
    rt().block_on(async {
        time::pause();
        let d = done.clone();
        drop(corio::task::spawn_blocking(move || {
            std::thread::sleep(ms(100));
            *d.lock().unwrap() = true;
        }));
        // Nobody awaits the closure: its end alone must wake the idle runtime to jump.
        sleep(Duration::from_secs(60)).await;
        assert!(
            *done.lock().unwrap(),
            "the sleep ended before the blocking work did"
        );
    });
    assert!(
        real.elapsed() < Duration::from_secs(10),
        "took {:?}",
        real.elapsed()
    );
}
