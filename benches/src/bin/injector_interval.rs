//! Diagnostic for the `spawn_many_remote_busy1/2` misses: times both workloads on corio with
//! several `global_queue_interval` values. If a busy worker takes one injected task per
//! interval, the time grows in proportion to the interval.
//!
//! ```text
//! cargo run --release -p corio-benches --bin injector_interval
//! ```
//!
//! See `benches/RESULTS.md` for what it showed and the proposed scheduler change.

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use corio::runtime::{Builder, Runtime};

const WORKERS: usize = 2;

/// Tokio's 10 µs stall.
fn stall() {
    let now = Instant::now();
    while now.elapsed() < Duration::from_micros(10) {
        std::thread::yield_now();
    }
}

fn runtime(interval: u32) -> Runtime {
    Builder::new_multi_thread()
        .worker_threads(WORKERS)
        .global_queue_interval(interval)
        .build()
        .expect("building a corio runtime")
}

/// `n` tasks spawned from outside, then awaited; the wall time of each of `rounds` rounds.
fn remote_spawns(rt: &Runtime, n: usize, rounds: usize) -> Vec<Duration> {
    (0..rounds)
        .map(|_| {
            let start = Instant::now();
            let handles: Vec<_> = (0..n).map(|_| rt.spawn(async {})).collect();
            rt.block_on(async {
                for h in handles {
                    h.await.expect("an empty task cannot fail");
                }
            });
            start.elapsed()
        })
        .collect()
}

/// busy1: 2 tasks per worker loop on yield + stall while 10,000 remote spawns run.
fn busy1(interval: u32) -> Vec<Duration> {
    let rt = runtime(interval);
    let flag = Arc::new(AtomicBool::new(true));
    for _ in 0..2 * WORKERS {
        let flag = flag.clone();
        drop(rt.spawn(async move {
            while flag.load(Relaxed) {
                corio::task::yield_now().await;
                stall();
            }
        }));
    }
    let times = remote_spawns(&rt, 10_000, 3);
    flag.store(false, Relaxed);
    times
}

fn chain(flag: Arc<AtomicBool>) {
    drop(corio::spawn(async move {
        if flag.load(Relaxed) {
            stall();
            chain(flag);
        }
    }));
}

/// busy2: a chain of stall-then-spawn tasks per worker while 1,000 remote spawns run.
fn busy2(interval: u32) -> Vec<Duration> {
    let rt = runtime(interval);
    let flag = Arc::new(AtomicBool::new(true));
    for _ in 0..WORKERS {
        let flag = flag.clone();
        drop(rt.spawn(async move { chain(flag) }));
    }
    let times = remote_spawns(&rt, 1_000, 10);
    flag.store(false, Relaxed);
    times
}

fn show(times: &[Duration]) -> String {
    let all: Vec<String> = times.iter().map(|t| format!("{t:.1?}")).collect();
    all.join(" ")
}

fn main() {
    println!("{WORKERS} workers; each round's wall time");
    for interval in [61, 31, 8, 2] {
        println!(
            "global_queue_interval {interval:>2}: busy1 {}",
            show(&busy1(interval))
        );
        println!(
            "global_queue_interval {interval:>2}: busy2 {}",
            show(&busy2(interval))
        );
    }
}
