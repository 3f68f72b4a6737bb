//! Wake-up lateness: 100,000 tasks each sleep a random 1-50 ms; how late (after its deadline)
//! does each one wake? Prints p50, p99 and max for corio and Tokio, measured in one run on
//! multi-thread runtimes with one worker per core.
//!
//! `cargo run --release -p corio-benches --example timer_lateness`

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const TASKS: usize = 100_000;

fn delays() -> Vec<Duration> {
    // A fixed xorshift sequence: both runtimes sleep the same durations.
    let mut x: u32 = 0x1234_5678;
    (0..TASKS)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            Duration::from_millis(1 + u64::from(x % 50))
        })
        .collect()
}

fn report(name: &str, mut late: Vec<Duration>) {
    late.sort();
    let p = |q: f64| late[((late.len() as f64 - 1.0) * q) as usize];
    println!(
        "{name:<6} p50 {:>8.3} ms   p99 {:>8.3} ms   max {:>8.3} ms   ({} sleeps)",
        p(0.5).as_secs_f64() * 1e3,
        p(0.99).as_secs_f64() * 1e3,
        late.last().unwrap().as_secs_f64() * 1e3,
        late.len()
    );
}

fn main() {
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let ds = delays();

    let rt = corio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .build()
        .unwrap();
    let late = Arc::new(Mutex::new(Vec::with_capacity(TASKS)));
    rt.block_on(async {
        let hs: Vec<_> = ds
            .iter()
            .map(|&d| {
                let late = late.clone();
                corio::spawn(async move {
                    let deadline = Instant::now() + d;
                    corio::time::sleep_until(deadline.into()).await;
                    let now = Instant::now();
                    assert!(now >= deadline, "woke early");
                    late.lock().unwrap().push(now - deadline);
                })
            })
            .collect();
        for h in hs {
            h.await.unwrap();
        }
    });
    drop(rt);
    report("corio", std::mem::take(&mut *late.lock().unwrap()));

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let hs: Vec<_> = ds
            .iter()
            .map(|&d| {
                let late = late.clone();
                tokio::spawn(async move {
                    let deadline = Instant::now() + d;
                    tokio::time::sleep_until(deadline.into()).await;
                    let now = Instant::now();
                    late.lock()
                        .unwrap()
                        .push(now.saturating_duration_since(deadline));
                })
            })
            .collect();
        for h in hs {
            h.await.unwrap();
        }
    });
    drop(rt);
    report("tokio", std::mem::take(&mut *late.lock().unwrap()));
}
