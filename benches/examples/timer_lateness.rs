//! Wake-up lateness: N tasks each sleep a random 1-50 ms; how late (after its deadline)
//! does each one wake? Prints p50, p99 and max for corio and Tokio, measured in one run on
//! multi-thread runtimes with one worker per core, for 100,000 sleeps (the issue's load:
//! about 2,000 wake-ups per millisecond, which saturates 2 cores) and for 10,000.
//!
//! After the issue's scenario, a second one, labelled "timer only", isolates the timer from the
//! spawn path: every task sleeps until a common start `START_AFTER` after the runtime started
//! plus its random 1-50 ms, so all spawns and first polls (the registrations) are done before
//! the first deadline, and what is measured is firing 2,000 timers per millisecond and running
//! and joining the woken tasks. Both runtimes run the same scenario. Why it exists: in the
//! issue's scenario the deadline clock starts at each task's first poll, so the spawn loop and
//! the registrations overlap with the firing, and the total CPU per task (spawn from outside,
//! first poll, fire, second poll, completion, join) exceeds what 2 cores can do at 2,000 tasks
//! per millisecond, for both runtimes (the arithmetic is in benches/RESULTS.md, "Timer
//! lateness"). The second scenario shows what the timer path itself does at that rate.
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

/// The "timer only" scenario's common start: long enough for the block_on thread to spawn
/// 100,000 tasks and for the workers to first-poll them all, also on a busy machine (the
/// report counts tasks that missed it).
const START_AFTER: Duration = Duration::from_secs(1);

fn main() {
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    issue_scenario(workers);
    timer_only(workers);
}

/// The issue's scenario: each task sleeps a random 1-50 ms from its first poll.
fn issue_scenario(workers: usize) {
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

/// What one task of the "timer only" scenario reports: its lateness, and whether its first
/// poll came after the common start (then the spawn path was not isolated for it).
type TimerOnly = (Duration, bool);

fn report_timer_only(name: &str, results: Vec<TimerOnly>) {
    let missed = results.iter().filter(|r| r.1).count();
    report(name, results.into_iter().map(|r| r.0).collect());
    if missed > 0 {
        println!("       ({missed} tasks first ran after the common start)");
    }
}

/// The "timer only" scenario (module doc): deadlines are `start + 1-50 ms` for a common
/// `start`, so the spawns and registrations are over before the timers fire.
fn timer_only(workers: usize) {
    let n = 100_000;
    let ds = delays(n);
    println!("timer only: {n} sleeps until a common start + 1-50 ms, registered before it");

    let rt = corio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .build()
        .unwrap();
    let start = Instant::now() + START_AFTER;
    let results = rt.block_on(async {
        let hs: Vec<_> = ds
            .iter()
            .map(|&d| {
                corio::spawn(async move {
                    let missed = Instant::now() >= start;
                    let deadline = start + d;
                    corio::time::sleep_until(deadline.into()).await;
                    let now = Instant::now();
                    assert!(now >= deadline, "woke early");
                    (now - deadline, missed)
                })
            })
            .collect();
        let mut results = Vec::with_capacity(hs.len());
        for h in hs {
            results.push(h.await.unwrap());
        }
        results
    });
    drop(rt);
    report_timer_only("corio", results);

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .unwrap();
    let start = Instant::now() + START_AFTER;
    let results = rt.block_on(async {
        let hs: Vec<_> = ds
            .iter()
            .map(|&d| {
                tokio::spawn(async move {
                    let missed = Instant::now() >= start;
                    let deadline = start + d;
                    tokio::time::sleep_until(deadline.into()).await;
                    (Instant::now().saturating_duration_since(deadline), missed)
                })
            })
            .collect();
        let mut results = Vec::with_capacity(hs.len());
        for h in hs {
            results.push(h.await.unwrap());
        }
        results
    });
    drop(rt);
    report_timer_only("tokio", results);
}
