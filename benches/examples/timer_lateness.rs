//! Wake-up lateness: N tasks each sleep a random 1-50 ms; how late (after its deadline)
//! does each one wake? Prints p50, p99 and max for corio and Tokio, measured in one run on
//! multi-thread runtimes with one worker per core, for 100,000 sleeps (the load:
//! about 2,000 wake-ups per millisecond, which saturates 2 cores) and for 10,000.
//!
//! `cargo run --release -p corio-benches --example timer_lateness`

use std::time::{Duration, Instant};

fn delays(n: usize) -> Vec<Duration> {
    // A fixed xorshift sequence: both runtimes sleep the same durations.
    let mut x: u32 = 0x1234_5678;
    (0..n)
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
        "{name:<6} {:>7} sleeps   p50 {:>8.3} ms   p99 {:>8.3} ms   max {:>8.3} ms",
        late.len(),
        p(0.5).as_secs_f64() * 1e3,
        p(0.99).as_secs_f64() * 1e3,
        late.last().unwrap().as_secs_f64() * 1e3,
    );
}

fn main() {
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    for n in [100_000, 10_000] {
        let ds = delays(n);
        // Each task returns its own lateness: no shared lock skews the wake-up path.
        let rt = corio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .build()
            .unwrap();
        let late = rt.block_on(async {
            let hs: Vec<_> = ds
                .iter()
                .map(|&d| {
                    corio::spawn(async move {
                        let deadline = Instant::now() + d;
                        corio::time::sleep_until(deadline.into()).await;
                        let now = Instant::now();
                        assert!(now >= deadline, "woke early");
                        now - deadline
                    })
                })
                .collect();
            let mut late = Vec::with_capacity(hs.len());
            for h in hs {
                late.push(h.await.unwrap());
            }
            late
        });
        drop(rt);
        report("corio", late);

        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .enable_all()
            .build()
            .unwrap();
        let late = rt.block_on(async {
            let hs: Vec<_> = ds
                .iter()
                .map(|&d| {
                    tokio::spawn(async move {
                        let deadline = Instant::now() + d;
                        tokio::time::sleep_until(deadline.into()).await;
                        Instant::now().saturating_duration_since(deadline)
                    })
                })
                .collect();
            let mut late = Vec::with_capacity(hs.len());
            for h in hs {
                late.push(h.await.unwrap());
            }
            late
        });
        drop(rt);
        report("tokio", late);
    }
}
