//! Tokio's `benches/rt_current_thread.rs` workloads, with Tokio's parameters, on a corio and a
//! Tokio current-thread runtime side by side in one run.
//!
//! ```text
//! cargo bench -p corio-benches --bench rt_current_thread
//! python3 benches/ratios.py            # corio/tokio per workload
//! ```
//!
//! Workloads (each a criterion group `rt_current_thread/<workload>` with functions `corio`,
//! `tokio`):
//! - `spawn_many_local`: 1,000 tasks spawned from inside `block_on`, then each awaited.
//! - `spawn_many_remote_idle`: 1,000 tasks spawned through the runtime's handle from outside
//!   `block_on`, then awaited inside it.
//! - `spawn_many_remote_busy`: the same while a chain of tasks, each spawning its successor
//!   and doing nothing else, keeps the scheduler busy whenever `block_on` drives it.
//!
//! Tokio's runtime is built as Tokio's bench builds it (`new_current_thread().build()`, no
//! `enable_all`: no I/O or time driver); corio's always has both.
//!
//! The code is written for this crate; only the workloads and their constants follow Tokio.
//! The corio and Tokio variants are one macro body instantiated twice, so they are the same
//! code with the crate name swapped.

// `criterion_group!` defines an undocumented `pub fn benches`.
#![allow(missing_docs)]

use criterion::{
    criterion_group, criterion_main, measurement::WallTime, BenchmarkGroup, Criterion,
};

mod common;

type Group<'a> = BenchmarkGroup<'a, WallTime>;

const NUM_SPAWN: usize = 1_000;

/// The three workloads for a runtime whose API is Tokio's: `$krate::spawn`, `rt.handle().spawn`,
/// `rt.spawn`, `rt.block_on`.
macro_rules! tokio_like_workloads {
    ($module:ident, $krate:ident, $label:literal, $rt:expr) => {
        mod $module {
            use super::*;

            pub(crate) fn spawn_many_local(g: &mut Group<'_>) {
                let rt = $rt;
                let mut handles = Vec::with_capacity(NUM_SPAWN);
                g.bench_function($label, |b| {
                    b.iter(|| {
                        rt.block_on(async {
                            for _ in 0..NUM_SPAWN {
                                handles.push($krate::spawn(async {}));
                            }
                            for handle in handles.drain(..) {
                                handle.await.unwrap();
                            }
                        });
                    })
                });
            }

            /// 1,000 spawns through `rt`'s handle from outside `block_on`, then awaited.
            fn remote_spawns(g: &mut Group<'_>, rt: &$krate::runtime::Runtime) {
                let handle = rt.handle();
                let mut handles = Vec::with_capacity(NUM_SPAWN);
                g.bench_function($label, |b| {
                    b.iter(|| {
                        for _ in 0..NUM_SPAWN {
                            handles.push(handle.spawn(async {}));
                        }
                        rt.block_on(async {
                            for handle in handles.drain(..) {
                                handle.await.unwrap();
                            }
                        });
                    })
                });
            }

            pub(crate) fn spawn_many_remote_idle(g: &mut Group<'_>) {
                remote_spawns(g, &$rt);
            }

            pub(crate) fn spawn_many_remote_busy(g: &mut Group<'_>) {
                // Never ends: the last task of the chain is dropped with the runtime.
                fn chain() {
                    drop($krate::spawn(async { chain() }));
                }

                let rt = $rt;
                drop(rt.spawn(async { chain() }));
                remote_spawns(g, &rt);
            }
        }
    };
}

tokio_like_workloads!(on_corio, corio, "corio", common::corio_current());
tokio_like_workloads!(on_tokio, tokio, "tokio", common::tokio_current());

/// Runs one workload on the two runtimes, in one criterion group.
macro_rules! workload {
    ($c:expr, $name:ident) => {{
        let mut g = $c.benchmark_group(concat!("rt_current_thread/", stringify!($name)));
        common::flat(&mut g);
        on_corio::$name(&mut g);
        on_tokio::$name(&mut g);
        g.finish();
    }};
}

fn rt_current_thread(c: &mut Criterion) {
    workload!(c, spawn_many_local);
    workload!(c, spawn_many_remote_idle);
    workload!(c, spawn_many_remote_busy);
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = rt_current_thread
}
criterion_main!(benches);
