//! Can coroutines use all cores? The same CPU-bound work, measured four ways in one run.
//!
//! ```text
//! cargo run --release -p examples --example all_cores            # ~25 s on 2 cores
//! cargo run --release -p examples --example all_cores -- --quick # tiny work, for tests
//! ```
//! (`CORIO_ALL_CORES_QUICK=1` does the same as `--quick`.)
//!
//! The workload counts the primes below a bound by trial division. It is split into many
//! chunks; each chunk is one corio task that yields between sub-blocks, so the tasks are real
//! coroutines that interleave on a worker rather than run-to-completion closures. The same
//! chunks, computed by the same function, run on:
//!
//! 1. a corio runtime with 1 worker,
//! 2. a corio runtime with one worker per core (the default worker count),
//! 3. 1 plain OS thread,
//! 4. as many plain OS threads as cores, taking chunks from a shared counter.
//!
//! The OS threads' speedup (3 vs 4) is what this machine can really give in parallel; shared
//! VMs sometimes give two vCPUs one CPU's worth, so corio's speedup (1 vs 2) is reported as a
//! share of it. Each configuration runs several times, interleaved so that a slow spell of the
//! host hits all of them alike, on a fresh runtime each time; the best run counts. The program
//! exits with status 1 if any two results disagree or differ from the known prime count.

use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use corio::runtime::{Builder, RuntimeMetrics};

/// The size of the problem: one full run, or a tiny one for tests.
#[derive(Debug, Clone, Copy)]
struct Workload {
    /// Count the primes in `0..limit`.
    limit: u64,
    /// `pi(limit)`, the known answer, to check every result against.
    known: u64,
    /// The number of chunks (tasks).
    chunks: u64,
    /// A task yields after every `block` numbers.
    block: u64,
    /// How many times each configuration is measured.
    repeats: usize,
}

const FULL: Workload = Workload {
    limit: 10_000_000,
    known: 664_579,
    chunks: 256,
    block: 2_000,
    repeats: 5,
};

const QUICK: Workload = Workload {
    limit: 200_000,
    known: 17_984,
    chunks: 64,
    block: 500,
    repeats: 1,
};

/// Whether `n` is prime, by trial division with 6k ± 1: deliberately CPU-bound.
// `is_multiple_of` needs Rust 1.87; the workspace's rust-version is 1.80.
#[allow(unknown_lints, clippy::manual_is_multiple_of)]
fn is_prime(n: u64) -> bool {
    if n < 4 {
        return n >= 2;
    }
    if n % 2 == 0 || n % 3 == 0 {
        return false;
    }
    let mut d = 5;
    while d * d <= n {
        if n % d == 0 || n % (d + 2) == 0 {
            return false;
        }
        d += 6;
    }
    true
}

fn count_primes(range: std::ops::Range<u64>) -> u64 {
    range.filter(|&n| is_prime(n)).count() as u64
}

impl Workload {
    /// The numbers of chunk `i`; the chunks cover `0..limit` exactly.
    fn chunk(&self, i: u64) -> std::ops::Range<u64> {
        let size = self.limit.div_ceil(self.chunks);
        (i * size).min(self.limit)..((i + 1) * size).min(self.limit)
    }

    /// Chunk `i`, computed as a coroutine that yields between blocks.
    async fn chunk_task(self, i: u64) -> u64 {
        let range = self.chunk(i);
        let mut count = 0;
        let mut start = range.start;
        while start < range.end {
            let end = (start + self.block).min(range.end);
            count += count_primes(start..end);
            start = end;
            corio::task::yield_now().await;
        }
        count
    }

    /// Chunk `i`, computed in the same blocks as [`Workload::chunk_task`], without yielding.
    fn chunk_blocking(&self, i: u64) -> u64 {
        let range = self.chunk(i);
        let mut count = 0;
        let mut start = range.start;
        while start < range.end {
            let end = (start + self.block).min(range.end);
            count += count_primes(start..end);
            start = end;
        }
        count
    }
}

/// One measured run: wall time, the prime count, and corio's metrics if it ran on corio.
#[derive(Debug)]
struct Run {
    wall: Duration,
    result: u64,
    metrics: Option<RuntimeMetrics>,
}

/// All chunks as corio tasks on a fresh runtime with `workers` workers.
fn run_corio(work: Workload, workers: usize) -> Run {
    let rt = Builder::new_multi_thread()
        .worker_threads(workers)
        .thread_name("all-cores-worker")
        .build()
        .expect("building a corio runtime");
    let start = Instant::now();
    let result = rt.block_on(async move {
        let tasks: Vec<_> = (0..work.chunks)
            .map(|i| corio::spawn(work.chunk_task(i)))
            .collect();
        let mut total = 0;
        for task in tasks {
            total += task.await.expect("a prime-counting task panicked");
        }
        total
    });
    let wall = start.elapsed();
    // Taken right away so that "busy %" is measured over this run only.
    let metrics = Some(rt.metrics());
    Run {
        wall,
        result,
        metrics,
    }
}

/// All chunks on `threads` plain OS threads that take chunks from a shared counter.
fn run_threads(work: Workload, threads: usize) -> Run {
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let next = Arc::clone(&next);
            thread::spawn(move || {
                let mut count = 0;
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed) as u64;
                    if i >= work.chunks {
                        return count;
                    }
                    count += work.chunk_blocking(i);
                }
            })
        })
        .collect();
    let result = handles
        .into_iter()
        .map(|h| h.join().expect("a prime-counting thread panicked"))
        .sum();
    Run {
        wall: start.elapsed(),
        result,
        metrics: None,
    }
}

/// One row of the report: a configuration and its runs.
#[derive(Debug)]
struct Config {
    name: String,
    threads: usize,
    runs: Vec<Run>,
}

impl Config {
    fn median(&self) -> Duration {
        let mut walls: Vec<Duration> = self.runs.iter().map(|r| r.wall).collect();
        walls.sort();
        walls[walls.len() / 2]
    }

    fn best(&self) -> &Run {
        self.runs
            .iter()
            .min_by_key(|r| r.wall)
            .expect("every configuration runs at least once")
    }
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

fn main() -> ExitCode {
    let quick = std::env::args().any(|a| a == "--quick")
        || std::env::var_os("CORIO_ALL_CORES_QUICK").is_some_and(|v| v != "0" && !v.is_empty());
    let work = if quick { QUICK } else { FULL };
    let cores = thread::available_parallelism().map_or(1, |n| n.get());
    // The runtime's default worker count (CORIO_WORKER_THREADS, else the number of cores).
    let workers = Builder::new_multi_thread()
        .build()
        .expect("building the default corio runtime")
        .metrics()
        .num_workers();

    println!("corio all_cores: can coroutines use all cores?");
    println!(
        "machine: {cores} logical CPUs; corio's default runtime has {workers} workers{}",
        if quick {
            "; QUICK mode (tiny workload)"
        } else {
            ""
        }
    );
    println!(
        "work: count the primes below {} by trial division, as {} tasks that yield every {} numbers",
        work.limit, work.chunks, work.block
    );
    println!(
        "each configuration runs {} time(s), interleaved, on a fresh runtime; the best run counts\n",
        work.repeats
    );

    let mut configs = [
        Config {
            name: "corio, 1 worker".into(),
            threads: 1,
            runs: Vec::new(),
        },
        Config {
            name: format!("corio, {workers} workers"),
            threads: workers,
            runs: Vec::new(),
        },
        Config {
            name: "OS threads, 1".into(),
            threads: 1,
            runs: Vec::new(),
        },
        Config {
            name: format!("OS threads, {cores}"),
            threads: cores,
            runs: Vec::new(),
        },
    ];
    for _ in 0..work.repeats {
        for (i, config) in configs.iter_mut().enumerate() {
            let run = if i < 2 {
                run_corio(work, config.threads)
            } else {
                run_threads(work, config.threads)
            };
            config.runs.push(run);
        }
    }

    let speedup = |one: &Config, many: &Config| secs(one.best().wall) / secs(many.best().wall);
    let corio_speedup = speedup(&configs[0], &configs[1]);
    let threads_speedup = speedup(&configs[2], &configs[3]);

    println!(
        "{:<22} {:>7} {:>11} {:>9} {:>11}  {:>8}  all runs (s)",
        "configuration", "threads", "best wall", "speedup", "median wall", "result"
    );
    for (i, config) in configs.iter().enumerate() {
        let baseline = if i < 2 { &configs[0] } else { &configs[2] };
        let all: Vec<String> = config
            .runs
            .iter()
            .map(|r| format!("{:.3}", secs(r.wall)))
            .collect();
        println!(
            "{:<22} {:>7} {:>9.3} s {:>8.2}x {:>9.3} s  {:>8}  {}",
            config.name,
            config.threads,
            secs(config.best().wall),
            speedup(baseline, config),
            secs(config.median()),
            config.best().result,
            all.join(" ")
        );
    }
    println!();
    println!(
        "corio's speedup {corio_speedup:.2}x is {:.1}% of the OS threads' speedup {threads_speedup:.2}x \
         (what this machine really gives in parallel right now)",
        100.0 * corio_speedup / threads_speedup
    );
    if cores > 1 && threads_speedup < 0.75 * cores as f64 {
        println!(
            "note: {cores} OS threads ran only {threads_speedup:.2}x faster than one: the host is \
             busy (other processes, or vCPUs sharing a core), so no runtime can show more here"
        );
    }
    println!(
        "coroutine overhead on one core: corio 1 worker takes {:.3}x the time of 1 OS thread",
        secs(configs[0].best().wall) / secs(configs[2].best().wall)
    );

    let best_multi = configs[1].best();
    let metrics = best_multi
        .metrics
        .as_ref()
        .expect("corio runs carry metrics");
    println!("\nper-worker metrics of the best {workers}-worker corio run:");
    println!("{metrics}");
    let idle: Vec<usize> = (0..metrics.num_workers())
        .filter(|&i| metrics.worker_poll_count(i) == 0)
        .collect();
    if idle.is_empty() {
        println!("every worker polled tasks");
    } else {
        println!("workers that polled nothing: {idle:?}");
    }

    let mismatches: Vec<String> = configs
        .iter()
        .flat_map(|c| c.runs.iter().map(move |r| (c, r)))
        .filter(|(_, r)| r.result != work.known)
        .map(|(c, r)| format!("{} gave {}", c.name, r.result))
        .collect();
    println!();
    if mismatches.is_empty() {
        println!(
            "results agree: every run counted {} primes below {} (the known value)",
            work.known, work.limit
        );
        ExitCode::SUCCESS
    } else {
        println!(
            "RESULTS DISAGREE: expected {} primes below {}; {}",
            work.known,
            work.limit,
            mismatches.join(", ")
        );
        ExitCode::FAILURE
    }
}
