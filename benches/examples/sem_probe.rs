//! Where does `sync_semaphore/*_concurrent_multi` spend its time? The bench's workload (the
//! `block_on` thread spawns 6 tasks that each acquire and release one permit, then joins
//! them), with a fresh runtime per round, for corio and Tokio alternating:
//! - median and quartiles of microseconds per iteration (the bench's iteration time is
//!   bimodal in both runtimes, and the mode holds for a whole runtime instance);
//! - context switches per iteration of the `block_on` thread and of the workers
//!   (voluntary / involuntary, from `/proc/self/task/*/status`);
//! - for corio, worker parks per iteration (`RuntimeMetrics`).
//!
//! `cargo run --release -p corio-benches --example sem_probe [PERMITS [corio|tokio|both]]`
//! (PERMITS defaults to 5, the contended row; eight rounds of 3,000 iterations each).

use std::sync::Arc;
use std::time::Instant;

#[path = "common/threads.rs"]
mod threads;

const ITERS: usize = 3_000;
const TASKS: usize = 6;

macro_rules! probe {
    ($krate:ident, $rt:expr, $permits:expr) => {{
        use $krate::sync::Semaphore;
        let rt = $rt;
        let s = Arc::new(Semaphore::new($permits));
        let mut times = Vec::with_capacity(ITERS);
        let (w0, m0) = threads::counters();
        for _ in 0..ITERS {
            let s = s.clone();
            let start = Instant::now();
            rt.block_on(async move {
                let tasks: Vec<_> = (0..TASKS)
                    .map(|_| {
                        let s = s.clone();
                        $krate::spawn(async move {
                            drop(s.acquire().await.unwrap());
                        })
                    })
                    .collect();
                for t in tasks {
                    t.await.unwrap();
                }
            });
            times.push(start.elapsed().as_secs_f64() * 1e6);
        }
        let (w1, m1) = threads::counters();
        let mean = times.iter().sum::<f64>() / ITERS as f64;
        times.sort_by(f64::total_cmp);
        let (w, m) = (w1.per_iter_since(w0, ITERS), m1.per_iter_since(m0, ITERS));
        print!(
            "{:<6} us/iter mean {:6.1} p25 {:6.1} p50 {:6.1} p75 {:6.1}  switches/iter: main {:4.2}v {:4.2}i  workers {:4.2}v {:4.2}i",
            stringify!($krate),
            mean,
            times[ITERS / 4],
            times[ITERS / 2],
            times[ITERS * 3 / 4],
            m.voluntary,
            m.involuntary,
            w.voluntary,
            w.involuntary,
        );
        rt
    }};
}

fn main() {
    let permits: usize = std::env::args()
        .nth(1)
        .map_or(5, |s| s.parse().expect("PERMITS: a number"));
    let only = std::env::args().nth(2).unwrap_or_default();
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    for _ in 0..8 {
        if only != "tokio" {
            let rt = probe!(
                corio,
                corio::runtime::Builder::new_multi_thread()
                    .worker_threads(workers)
                    .build()
                    .unwrap(),
                permits
            );
            let m = rt.metrics();
            let parks: u64 = (0..m.num_workers()).map(|i| m.worker_park_count(i)).sum();
            println!("  parks/iter {:4.2}", parks as f64 / ITERS as f64);
        }
        if only != "corio" {
            drop(probe!(
                tokio,
                tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(workers)
                    .build()
                    .unwrap(),
                permits
            ));
            println!();
        }
    }
}
