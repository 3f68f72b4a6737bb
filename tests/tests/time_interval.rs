//! `Interval`: the first tick at once, tick counts, `reset`, and each missed-tick behaviour
//! (on paused time, so the schedule is exact).

use std::time::{Duration, Instant as StdInstant};

use corio::runtime::{Builder, Runtime};
use corio::time::{self, interval, interval_at, Instant, MissedTickBehavior};

fn rt() -> Runtime {
    Builder::new_current_thread().build().unwrap()
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn first_tick_completes_at_once_on_real_time() {
    rt().block_on(async {
        let real = StdInstant::now();
        let mut iv = interval(Duration::from_secs(3600));
        let first = iv.tick().await;
        assert!(real.elapsed() < Duration::from_secs(60));
        assert!(first <= Instant::now());
    });
}

#[test]
fn ticks_come_one_period_apart_and_never_early() {
    rt().block_on(async {
        let mut iv = interval(ms(5));
        let first = iv.tick().await;
        for k in 1..=5u32 {
            let due = iv.tick().await;
            assert_eq!(due, first + ms(5) * k);
            assert!(Instant::now() >= due, "tick {k} came early");
        }
    });
}

#[test]
fn tick_counts_follow_virtual_time() {
    rt().block_on(async {
        time::pause();
        let start = Instant::now();
        let mut iv = interval(ms(10));
        for k in 0..10u32 {
            assert_eq!(iv.tick().await, start + ms(10) * k);
            assert_eq!(Instant::now(), start + ms(10) * k);
        }
        assert_eq!(iv.period(), ms(10));
    });
}

#[test]
fn interval_at_starts_at_its_start() {
    rt().block_on(async {
        time::pause();
        let start = Instant::now() + ms(25);
        let mut iv = interval_at(start, ms(10));
        assert_eq!(iv.tick().await, start);
        assert_eq!(Instant::now(), start);
        assert_eq!(iv.tick().await, start + ms(10));
    });
}

/// Ticks at 0 and then comes back 35 ms late; returns (due, now) offsets from the start for
/// the next four ticks.
async fn ticks_after_a_stall(behavior: MissedTickBehavior) -> Vec<(u64, u64)> {
    time::pause();
    let start = Instant::now();
    let mut iv = interval(ms(10));
    iv.set_missed_tick_behavior(behavior);
    assert_eq!(iv.missed_tick_behavior(), behavior);
    iv.tick().await;
    time::advance(ms(35)).await;
    let mut out = Vec::new();
    for _ in 0..4 {
        let due = iv.tick().await;
        let off = |i: Instant| (i - start).as_millis() as u64;
        out.push((off(due), off(Instant::now())));
    }
    out
}

#[test]
fn burst_catches_up_on_every_missed_tick() {
    let got = rt().block_on(ticks_after_a_stall(MissedTickBehavior::Burst));
    assert_eq!(got, vec![(10, 35), (20, 35), (30, 35), (40, 40)]);
}

#[test]
fn delay_restarts_the_schedule_from_the_late_tick() {
    let got = rt().block_on(ticks_after_a_stall(MissedTickBehavior::Delay));
    assert_eq!(got, vec![(10, 35), (45, 45), (55, 55), (65, 65)]);
}

#[test]
fn skip_drops_missed_ticks_and_keeps_the_phase() {
    let got = rt().block_on(ticks_after_a_stall(MissedTickBehavior::Skip));
    assert_eq!(got, vec![(10, 35), (40, 40), (50, 50), (60, 60)]);
}

#[test]
fn reset_restarts_one_period_from_now() {
    rt().block_on(async {
        time::pause();
        let start = Instant::now();
        let mut iv = interval(ms(10));
        iv.tick().await;
        time::advance(ms(4)).await;
        iv.reset();
        assert_eq!(iv.tick().await, start + ms(14));
        iv.reset_immediately();
        assert_eq!(iv.tick().await, start + ms(14));
        iv.reset_after(ms(3));
        assert_eq!(iv.tick().await, start + ms(17));
        assert_eq!(iv.tick().await, start + ms(27));
    });
}

#[test]
fn a_zero_period_panics() {
    rt().block_on(async {
        let err = std::panic::catch_unwind(|| interval(Duration::ZERO)).expect_err("zero period");
        let msg = err
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .unwrap_or_else(|| err.downcast_ref::<String>().cloned().unwrap_or_default());
        assert!(msg.contains("non-zero"), "{msg}");
    });
}
