//! Spawn + join, the cost of a unit of concurrency.
//!
//! ```text
//! cargo bench -p corio-benches --bench spawn
//! python3 benches/ratios.py
//! ```
//!
//! - `spawn/join_1000_current_thread`: 1,000 tasks spawned from `block_on` on a current-thread
//!   runtime, then each awaited; `corio` vs `tokio`.
//! - `spawn/join_10000_units`: 10,000 trivial units spawned then joined: as corio tasks
//!   (`corio`) and Tokio tasks (`tokio`) on one worker per core, and as OS threads
//!   (`threads`, `std::thread::spawn` + `join`). The target is corio >= 50x faster than threads.

// `criterion_group!` defines an undocumented `pub fn benches`.
#![allow(missing_docs)]

use std::hint::black_box;
use std::thread;

use criterion::{criterion_group, criterion_main, Criterion};

mod common;

const CURRENT_THREAD_TASKS: usize = 1_000;
const UNITS: usize = 10_000;

/// The same code for corio and Tokio: spawn `n` tasks returning their index, then await them
/// in order and sum the results (so that a lost or wrong output would show in the assert).
macro_rules! spawn_join {
    ($krate:ident, $n:expr) => {{
        let handles: Vec<_> = (0..$n)
            .map(|i| $krate::spawn(async move { black_box(i) }))
            .collect();
        let mut sum = 0;
        for h in handles {
            sum += h.await.unwrap();
        }
        assert_eq!(sum, $n * ($n - 1) / 2);
    }};
}

fn current_thread(c: &mut Criterion) {
    let mut g = c.benchmark_group("spawn/join_1000_current_thread");
    let rt = common::corio_current();
    g.bench_function("corio", |b| {
        b.iter(|| rt.block_on(async { spawn_join!(corio, CURRENT_THREAD_TASKS) }))
    });
    drop(rt);
    let rt = common::tokio_current();
    g.bench_function("tokio", |b| {
        b.iter(|| rt.block_on(async { spawn_join!(tokio, CURRENT_THREAD_TASKS) }))
    });
    g.finish();
}

fn units(c: &mut Criterion) {
    let mut g = c.benchmark_group("spawn/join_10000_units");
    common::flat(&mut g);
    let rt = common::corio_multi();
    g.bench_function("corio", |b| {
        b.iter(|| rt.block_on(async { spawn_join!(corio, UNITS) }))
    });
    drop(rt);
    let rt = common::tokio_multi(false);
    g.bench_function("tokio", |b| {
        b.iter(|| rt.block_on(async { spawn_join!(tokio, UNITS) }))
    });
    drop(rt);
    g.bench_function("threads", |b| {
        b.iter(|| {
            let handles: Vec<_> = (0..UNITS)
                .map(|i| thread::spawn(move || black_box(i)))
                .collect();
            let sum: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
            assert_eq!(sum, UNITS * (UNITS - 1) / 2);
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = current_thread, units
}
criterion_main!(benches);
