//! Where does `sync_notify/notify_waiters_<N>` spend its time? The bench's workload (N tasks
//! loop on `notified().await` and count; this thread notifies, yielding after each call,
//! until 500 wake-ups are counted), instrumented, for corio and Tokio in one run:
//! - microseconds per 500 wake-ups, and how many `notify_waiters` calls that took (wake-ups
//!   per call tell how many waiters had re-registered between two calls),
//! - CPU time per 500 wake-ups of the workers and of this (notifying) thread, from
//!   `/proc/self/task/*/schedstat`: on 2 cores the notifier takes about one core in both
//!   runtimes, so what decides the time is the workers' CPU per wake-up,
//! - for corio, each worker's polls, steals and parks per 500 wake-ups (`RuntimeMetrics`).
//!
//! `cargo run --release -p corio-benches --example notify_probe [N [corio|tokio|both] [one]]`
//! (N defaults to 10; six rounds of 4,000 iterations each; `one` probes
//! `notify_one_<N>` instead).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const ITERS: usize = 4_000;
const WAKEUPS: usize = 500;

macro_rules! probe {
    ($krate:ident, $rt:expr, $waiters:expr, $one:expr) => {{
        use $krate::sync::Notify;
        let rt = $rt;
        let notify = Arc::new(Notify::new());
        let counter = Arc::new(AtomicUsize::new(0));
        for _ in 0..$waiters {
            let notify = notify.clone();
            let counter = counter.clone();
            drop(rt.spawn(async move {
                loop {
                    notify.notified().await;
                    counter.fetch_add(1, Ordering::Relaxed);
                }
            }));
        }
        // Let every waiter register before the clock starts.
        std::thread::sleep(Duration::from_millis(50));
        let mut calls = 0u64;
        let (workers0, me0) = cpu_ns();
        let start = Instant::now();
        for _ in 0..ITERS {
            counter.store(0, Ordering::Relaxed);
            while counter.load(Ordering::Relaxed) < WAKEUPS {
                if $one {
                    notify.notify_one();
                } else {
                    notify.notify_waiters();
                }
                calls += 1;
                std::thread::yield_now();
            }
        }
        let elapsed = start.elapsed();
        let (workers1, me1) = cpu_ns();
        let per_iter = |ns: f64| ns / ITERS as f64 / 1e3;
        println!(
            "{:<6} {:>4} waiters{}: {:7.1} us/iter  {:6.1} calls/iter  CPU/iter: workers {:7.1} us, notifier {:7.1} us",
            stringify!($krate),
            $waiters,
            if $one { " (notify_one)" } else { "" },
            elapsed.as_secs_f64() * 1e6 / ITERS as f64,
            calls as f64 / ITERS as f64,
            per_iter(workers1 - workers0),
            per_iter(me1 - me0),
        );
        rt
    }};
}

/// CPU time (ns) of this process's worker threads (by name) and of the calling thread.
fn cpu_ns() -> (f64, f64) {
    let first = |s: String| {
        s.split_whitespace()
            .next()
            .map_or(0.0, |x| x.parse().unwrap_or(0.0))
    };
    let me = first(std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default());
    let mut workers = 0.0;
    if let Ok(dir) = std::fs::read_dir("/proc/self/task") {
        for entry in dir.flatten() {
            let path = entry.path();
            let comm = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
            // corio-worker, tokio-rt-worker
            if comm.contains("worker") {
                workers +=
                    first(std::fs::read_to_string(path.join("schedstat")).unwrap_or_default());
            }
        }
    }
    (workers, me)
}

fn main() {
    let waiters: usize = std::env::args()
        .nth(1)
        .map_or(10, |s| s.parse().expect("N: a number"));
    let only = std::env::args().nth(2).unwrap_or_default();
    let one = std::env::args().nth(3).is_some_and(|s| s == "one");
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    for _ in 0..6 {
        if only != "tokio" {
            let rt = probe!(
                corio,
                corio::runtime::Builder::new_multi_thread()
                    .worker_threads(workers)
                    .build()
                    .unwrap(),
                waiters,
                one
            );
            let m = rt.metrics();
            for i in 0..m.num_workers() {
                // Counters are flushed when a worker parks or turns its driver, so the last
                // few polls of a round may be missing.
                println!(
                    "       worker {i}: polls/iter {:6.1}  steals/iter {:5.1}  parks/iter {:5.1}",
                    m.worker_poll_count(i) as f64 / ITERS as f64,
                    m.worker_steal_count(i) as f64 / ITERS as f64,
                    m.worker_park_count(i) as f64 / ITERS as f64,
                );
            }
        }
        if only != "corio" {
            drop(probe!(
                tokio,
                tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(workers)
                    .build()
                    .unwrap(),
                waiters,
                one
            ));
        }
    }
}
