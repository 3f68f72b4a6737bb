//! Where does wake-up lateness come from? The `timer_lateness` scenario (N tasks spawned from
//! `block_on`, each sleeping a random 1-50 ms), instrumented: for corio and Tokio in one run it
//! prints
//! - how long the spawn loop took and when the last task first ran (registered its timer),
//! - the CPU time per task of the `block_on` thread (which spawns and joins) and of the
//!   runtime's other threads (from `/proc/self/task/*/schedstat`): the cost that decides
//!   whether 2 cores keep up with the arrival rate,
//! - lateness bucketed by deadline (10 ms buckets after the start): a backlog shows as buckets
//!   whose lateness grows with the deadline.
//!
//! `cargo run --release -p corio-benches --example timer_probe [N [corio|tokio|both [common]]]`
//! (N defaults to 100,000; naming one runtime runs only that one, e.g. under `perf record`;
//! `common` runs the "timer only" scenario of `timer_lateness`: deadlines at a common start
//! plus 1-50 ms, CPU counted from that start, i.e. firing, running and joining only).
//! With `PROBE_TIMELINE=1` it also prints, per millisecond of wall time, how many tasks were
//! first polled, how many deadlines fell due and how many tasks woke.

use std::time::{Duration, Instant};

/// Per task: when it first ran, its deadline, and when it woke, all as offsets from the start.
#[derive(Debug, Clone, Copy)]
struct Sample {
    first_poll: Duration,
    deadline: Duration,
    woke: Duration,
}

fn delays(n: usize) -> Vec<Duration> {
    // The same xorshift sequence as `timer_lateness`.
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

/// CPU time of this process's live threads so far: `(this thread, all others)`, from the
/// first field (nanoseconds on a CPU) of `/proc/self/task/*/schedstat`. Read while the
/// runtime's workers still live.
fn cpu_time() -> (Duration, Duration) {
    let me = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    let first = |s: &str| s.split_whitespace().next()?.parse::<u64>().ok();
    let me = first(&me).unwrap_or(0);
    let all: u64 = std::fs::read_dir("/proc/self/task")
        .into_iter()
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("schedstat")).ok())
        .filter_map(|s| first(&s))
        .sum();
    (
        Duration::from_nanos(me),
        Duration::from_nanos(all.saturating_sub(me)),
    )
}

/// CPU used since `start`: `(this thread, all others)`.
fn cpu_since(start: (Duration, Duration)) -> (Duration, Duration) {
    let now = cpu_time();
    (now.0 - start.0, now.1.saturating_sub(start.1))
}

fn report(
    name: &str,
    n: usize,
    spawned: Duration,
    (spawner, workers): (Duration, Duration),
    mut samples: Vec<Sample>,
) {
    let last_first_poll = samples
        .iter()
        .map(|s| s.first_poll)
        .max()
        .unwrap_or_default();
    let per_task = |d: Duration| d.as_secs_f64() * 1e6 / n as f64;
    println!(
        "{name}: {n} tasks; spawn loop {:.1} ms; last first poll at {:.1} ms; CPU per task: \
         {:.2} us block_on thread (spawn, join) + {:.2} us workers = {:.2} us",
        spawned.as_secs_f64() * 1e3,
        last_first_poll.as_secs_f64() * 1e3,
        per_task(spawner),
        per_task(workers),
        per_task(spawner + workers),
    );
    if std::env::var_os("PROBE_TIMELINE").is_some() {
        // Per millisecond of wall time since the start: first polls, deadlines due, wake-ups.
        // A millisecond with deadlines due and no wake-ups is a stall (see RESULTS.md).
        let ms = |d: Duration| d.as_millis() as usize;
        let end = samples.iter().map(|s| ms(s.woke)).max().unwrap_or(0) + 1;
        let mut t = vec![(0u32, 0u32, 0u32); end];
        for s in &samples {
            t[ms(s.first_poll)].0 += 1;
            t[ms(s.deadline)].1 += 1;
            t[ms(s.woke)].2 += 1;
        }
        for (i, (f, d, w)) in t.iter().enumerate() {
            println!("  t {i:>5} ms   first polls {f:>6}   due {d:>6}   woke {w:>6}");
        }
    }
    samples.sort_by_key(|s| s.deadline);
    let mut start = 0;
    while start < samples.len() {
        let bucket = samples[start].deadline.as_millis() / 10;
        let end = start
            + samples[start..]
                .iter()
                .position(|s| s.deadline.as_millis() / 10 != bucket)
                .unwrap_or(samples.len() - start);
        let mut late: Vec<Duration> = samples[start..end]
            .iter()
            .map(|s| s.woke.saturating_sub(s.deadline))
            .collect();
        late.sort();
        let p = |q: f64| late[((late.len() as f64 - 1.0) * q) as usize].as_secs_f64() * 1e3;
        println!(
            "  deadline {:>4}-{:<4} ms {:>6} timers   late p50 {:>7.3} ms  p99 {:>7.3} ms",
            bucket * 10,
            bucket * 10 + 10,
            late.len(),
            p(0.5),
            p(0.99),
        );
        start = end;
    }
}

/// With `common`: every deadline is this long after the start plus the task's 1-50 ms (the
/// "timer only" scenario of `timer_lateness`), and CPU is counted from that common start.
const COMMON_START: Duration = Duration::from_millis(500);

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let only = std::env::args().nth(2).filter(|a| a != "both");
    let runs = |name: &str| only.as_deref().is_none_or(|o| o == name);
    let common = (std::env::args().nth(3).as_deref() == Some("common")).then_some(COMMON_START);
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let ds = delays(n);
    if runs("corio") {
        corio_run(&ds, workers, common);
    }
    if runs("tokio") {
        tokio_run(&ds, workers, common);
    }
}

/// One body for both runtimes (their APIs agree on every name used here).
macro_rules! probe_run {
    ($krate:ident, $rt:expr, $ds:expr, $common:expr) => {{
        let (ds, common): (&[Duration], Option<Duration>) = ($ds, $common);
        let n = ds.len();

        let rt = $rt;
        let mut cpu0 = cpu_time();
        let (spawned, samples) = rt.block_on(async {
            let t0 = Instant::now();
            let hs: Vec<_> = ds
                .iter()
                .map(|&d| {
                    $krate::spawn(async move {
                        let first = Instant::now();
                        let deadline = common.map_or(first, |c| t0 + c) + d;
                        $krate::time::sleep_until(deadline.into()).await;
                        let woke = Instant::now();
                        Sample {
                            first_poll: first - t0,
                            deadline: deadline - t0,
                            woke: woke - t0,
                        }
                    })
                })
                .collect();
            let spawned = t0.elapsed();
            if let Some(c) = common {
                // Count only the firing phase: wait for the common start first.
                $krate::time::sleep_until((t0 + c).into()).await;
                cpu0 = cpu_time();
            }
            let mut samples = Vec::with_capacity(hs.len());
            for h in hs {
                samples.push(h.await.unwrap());
            }
            (spawned, samples)
        });
        let cpu = cpu_since(cpu0);
        drop(rt);
        report(stringify!($krate), n, spawned, cpu, samples);
    }};
}

fn corio_run(ds: &[Duration], workers: usize, common: Option<Duration>) {
    let rt = corio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .build()
        .unwrap();
    probe_run!(corio, rt, ds, common)
}

fn tokio_run(ds: &[Duration], workers: usize, common: Option<Duration>) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .unwrap();
    probe_run!(tokio, rt, ds, common)
}
