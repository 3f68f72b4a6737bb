//! Tokio's `benches/rt_multi_threaded.rs` workloads, with Tokio's parameters, on corio, Tokio
//! and async-executor side by side in one run, each with one worker per core.
//!
//! ```text
//! cargo bench -p corio-benches --bench rt_multi_threaded
//! python3 benches/ratios.py            # corio/tokio and corio/async-executor per workload
//! ```
//!
//! Workloads (each a criterion group `rt_multi_threaded/<workload>` with functions `corio`,
//! `tokio`, `async-executor`):
//! - `spawn_many_local`: 10,000 tasks spawned from inside `block_on`, the last one signals.
//! - `spawn_many_remote_idle`: 10,000 tasks spawned from outside, then awaited.
//! - `spawn_many_remote_busy1`: the same while 2 tasks per worker loop yield + 10 µs stall.
//! - `spawn_many_remote_busy2`: 1,000 remote spawns while each worker runs a chain of tasks
//!   that stall 10 µs and spawn their successor.
//! - `ping_pong`: 1,000 pairs of tasks exchanging two oneshot messages.
//! - `yield_many`: 200 tasks yielding 1,000 times each.
//! - `chained_spawn`: a chain of 1,000 tasks, each spawning the next.
//!
//! The code is written for this crate; only the workloads and their constants follow Tokio.
//! The corio and Tokio variants are one macro body instantiated twice, so they are the same
//! code with the crate name swapped.

// `criterion_group!` defines an undocumented `pub fn benches`.
#![allow(missing_docs)]

use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::sync::{mpsc, Arc};

use criterion::{
    criterion_group, criterion_main, measurement::WallTime, BenchmarkGroup, Criterion,
};

mod common;

use common::stall;

type Group<'a> = BenchmarkGroup<'a, WallTime>;

const NUM_SPAWN: usize = 10_000;
const BUSY2_NUM_SPAWN: usize = 1_000;
const NUM_YIELD: usize = 1_000;
const YIELD_TASKS: usize = 200;
const NUM_PINGS: usize = 1_000;
const CHAIN_LEN: usize = 1_000;

/// The seven workloads for a runtime whose API is Tokio's: `$krate::spawn`,
/// `$krate::task::yield_now`, `$krate::sync::oneshot`, `rt.spawn`, `rt.handle().spawn`,
/// `rt.block_on`.
macro_rules! tokio_like_workloads {
    ($module:ident, $krate:ident, $label:literal, $rt:expr) => {
        mod $module {
            use super::*;

            pub(crate) fn spawn_many_local(g: &mut Group<'_>) {
                let rt = $rt;
                let (tx, rx) = mpsc::sync_channel(1000);
                let rem = Arc::new(AtomicUsize::new(0));
                g.bench_function($label, |b| {
                    b.iter(|| {
                        rem.store(NUM_SPAWN, Relaxed);
                        rt.block_on(async {
                            for _ in 0..NUM_SPAWN {
                                let tx = tx.clone();
                                let rem = rem.clone();
                                drop($krate::spawn(async move {
                                    if rem.fetch_sub(1, Relaxed) == 1 {
                                        tx.send(()).unwrap();
                                    }
                                }));
                            }
                            rx.recv().unwrap();
                        });
                    })
                });
            }

            pub(crate) fn spawn_many_remote_idle(g: &mut Group<'_>) {
                let rt = $rt;
                let mut handles = Vec::with_capacity(NUM_SPAWN);
                g.bench_function($label, |b| {
                    b.iter(|| {
                        for _ in 0..NUM_SPAWN {
                            handles.push(rt.spawn(async {}));
                        }
                        rt.block_on(async {
                            for handle in handles.drain(..) {
                                handle.await.unwrap();
                            }
                        });
                    })
                });
            }

            pub(crate) fn spawn_many_remote_busy1(g: &mut Group<'_>) {
                let rt = $rt;
                let handle = rt.handle();
                let mut handles = Vec::with_capacity(NUM_SPAWN);
                let flag = Arc::new(AtomicBool::new(true));
                for _ in 0..2 * common::workers() {
                    let flag = flag.clone();
                    drop(rt.spawn(async move {
                        while flag.load(Relaxed) {
                            $krate::task::yield_now().await;
                            stall();
                        }
                    }));
                }
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
                flag.store(false, Relaxed);
            }

            pub(crate) fn spawn_many_remote_busy2(g: &mut Group<'_>) {
                fn chain(flag: Arc<AtomicBool>) {
                    drop($krate::spawn(async move {
                        if flag.load(Relaxed) {
                            stall();
                            chain(flag);
                        }
                    }));
                }

                let rt = $rt;
                let handle = rt.handle();
                let mut handles = Vec::with_capacity(BUSY2_NUM_SPAWN);
                let flag = Arc::new(AtomicBool::new(true));
                for _ in 0..common::workers() {
                    let flag = flag.clone();
                    drop(rt.spawn(async move { chain(flag) }));
                }
                g.bench_function($label, |b| {
                    b.iter(|| {
                        for _ in 0..BUSY2_NUM_SPAWN {
                            handles.push(handle.spawn(async {}));
                        }
                        rt.block_on(async {
                            for handle in handles.drain(..) {
                                handle.await.unwrap();
                            }
                        });
                    })
                });
                flag.store(false, Relaxed);
            }

            pub(crate) fn ping_pong(g: &mut Group<'_>) {
                let rt = $rt;
                let (done_tx, done_rx) = mpsc::sync_channel(1000);
                let rem = Arc::new(AtomicUsize::new(0));
                g.bench_function($label, |b| {
                    b.iter(|| {
                        let done_tx = done_tx.clone();
                        let rem = rem.clone();
                        rem.store(NUM_PINGS, Relaxed);
                        rt.block_on(async {
                            drop($krate::spawn(async move {
                                for _ in 0..NUM_PINGS {
                                    let rem = rem.clone();
                                    let done_tx = done_tx.clone();
                                    drop($krate::spawn(async move {
                                        let (tx1, rx1) = $krate::sync::oneshot::channel::<()>();
                                        let (tx2, rx2) = $krate::sync::oneshot::channel::<()>();
                                        drop($krate::spawn(async move {
                                            rx1.await.unwrap();
                                            tx2.send(()).unwrap();
                                        }));
                                        tx1.send(()).unwrap();
                                        rx2.await.unwrap();
                                        if rem.fetch_sub(1, Relaxed) == 1 {
                                            done_tx.send(()).unwrap();
                                        }
                                    }));
                                }
                            }));
                            done_rx.recv().unwrap();
                        });
                    })
                });
            }

            pub(crate) fn yield_many(g: &mut Group<'_>) {
                let rt = $rt;
                let (tx, rx) = mpsc::sync_channel(YIELD_TASKS);
                g.bench_function($label, |b| {
                    b.iter(|| {
                        for _ in 0..YIELD_TASKS {
                            let tx = tx.clone();
                            drop(rt.spawn(async move {
                                for _ in 0..NUM_YIELD {
                                    $krate::task::yield_now().await;
                                }
                                tx.send(()).unwrap();
                            }));
                        }
                        for _ in 0..YIELD_TASKS {
                            rx.recv().unwrap();
                        }
                    })
                });
            }

            pub(crate) fn chained_spawn(g: &mut Group<'_>) {
                fn iter(done_tx: mpsc::SyncSender<()>, n: usize) {
                    if n == 0 {
                        done_tx.send(()).unwrap();
                    } else {
                        drop($krate::spawn(async move { iter(done_tx, n - 1) }));
                    }
                }

                let rt = $rt;
                let (done_tx, done_rx) = mpsc::sync_channel(1000);
                g.bench_function($label, |b| {
                    b.iter(|| {
                        let done_tx = done_tx.clone();
                        rt.block_on(async {
                            drop($krate::spawn(async move { iter(done_tx, CHAIN_LEN) }));
                            done_rx.recv().unwrap();
                        });
                    })
                });
            }
        }
    };
}

tokio_like_workloads!(on_corio, corio, "corio", common::corio_multi());
tokio_like_workloads!(on_tokio, tokio, "tokio", common::tokio_multi(true));

/// The same workloads on `async_executor::Executor` run by one thread per core. It has no
/// ambient "current runtime", so tasks that spawn carry the executor with them.
mod on_async_executor {
    use std::sync::Arc;

    use async_executor::Executor;
    use futures_lite::future;

    use super::*;
    use crate::common::AsyncExecutorPool;

    const LABEL: &str = "async-executor";

    pub(crate) fn spawn_many_local(g: &mut Group<'_>) {
        let pool = AsyncExecutorPool::new();
        let ex = pool.executor();
        let (tx, rx) = mpsc::sync_channel(1000);
        let rem = Arc::new(AtomicUsize::new(0));
        g.bench_function(LABEL, |b| {
            b.iter(|| {
                rem.store(NUM_SPAWN, Relaxed);
                future::block_on(async {
                    for _ in 0..NUM_SPAWN {
                        let tx = tx.clone();
                        let rem = rem.clone();
                        ex.spawn(async move {
                            if rem.fetch_sub(1, Relaxed) == 1 {
                                tx.send(()).unwrap();
                            }
                        })
                        .detach();
                    }
                    rx.recv().unwrap();
                });
            })
        });
    }

    fn spawn_many_remote(g: &mut Group<'_>, pool: &AsyncExecutorPool, n: usize) {
        let mut handles = Vec::with_capacity(n);
        g.bench_function(LABEL, |b| {
            b.iter(|| {
                for _ in 0..n {
                    handles.push(pool.spawn(async {}));
                }
                future::block_on(async {
                    for handle in handles.drain(..) {
                        handle.await;
                    }
                });
            })
        });
    }

    pub(crate) fn spawn_many_remote_idle(g: &mut Group<'_>) {
        let pool = AsyncExecutorPool::new();
        spawn_many_remote(g, &pool, NUM_SPAWN);
    }

    pub(crate) fn spawn_many_remote_busy1(g: &mut Group<'_>) {
        let pool = AsyncExecutorPool::new();
        let flag = Arc::new(AtomicBool::new(true));
        for _ in 0..2 * common::workers() {
            let flag = flag.clone();
            pool.spawn(async move {
                while flag.load(Relaxed) {
                    future::yield_now().await;
                    stall();
                }
            })
            .detach();
        }
        spawn_many_remote(g, &pool, NUM_SPAWN);
        flag.store(false, Relaxed);
    }

    pub(crate) fn spawn_many_remote_busy2(g: &mut Group<'_>) {
        fn chain(ex: Arc<Executor<'static>>, flag: Arc<AtomicBool>) {
            let next = ex.clone();
            ex.spawn(async move {
                if flag.load(Relaxed) {
                    stall();
                    chain(next, flag);
                }
            })
            .detach();
        }

        let pool = AsyncExecutorPool::new();
        let flag = Arc::new(AtomicBool::new(true));
        for _ in 0..common::workers() {
            chain(pool.executor().clone(), flag.clone());
        }
        spawn_many_remote(g, &pool, BUSY2_NUM_SPAWN);
        flag.store(false, Relaxed);
    }

    pub(crate) fn ping_pong(g: &mut Group<'_>) {
        let pool = AsyncExecutorPool::new();
        let (done_tx, done_rx) = mpsc::sync_channel(1000);
        let rem = Arc::new(AtomicUsize::new(0));
        g.bench_function(LABEL, |b| {
            b.iter(|| {
                let done_tx = done_tx.clone();
                let rem = rem.clone();
                rem.store(NUM_PINGS, Relaxed);
                let ex = pool.executor().clone();
                future::block_on(async {
                    pool.spawn(async move {
                        for _ in 0..NUM_PINGS {
                            let rem = rem.clone();
                            let done_tx = done_tx.clone();
                            let inner = ex.clone();
                            ex.spawn(async move {
                                let (tx1, rx1) = tokio::sync::oneshot::channel::<()>();
                                let (tx2, rx2) = tokio::sync::oneshot::channel::<()>();
                                inner
                                    .spawn(async move {
                                        rx1.await.unwrap();
                                        tx2.send(()).unwrap();
                                    })
                                    .detach();
                                tx1.send(()).unwrap();
                                rx2.await.unwrap();
                                if rem.fetch_sub(1, Relaxed) == 1 {
                                    done_tx.send(()).unwrap();
                                }
                            })
                            .detach();
                        }
                    })
                    .detach();
                    done_rx.recv().unwrap();
                });
            })
        });
    }

    pub(crate) fn yield_many(g: &mut Group<'_>) {
        let pool = AsyncExecutorPool::new();
        let (tx, rx) = mpsc::sync_channel(YIELD_TASKS);
        g.bench_function(LABEL, |b| {
            b.iter(|| {
                for _ in 0..YIELD_TASKS {
                    let tx = tx.clone();
                    pool.spawn(async move {
                        for _ in 0..NUM_YIELD {
                            future::yield_now().await;
                        }
                        tx.send(()).unwrap();
                    })
                    .detach();
                }
                for _ in 0..YIELD_TASKS {
                    rx.recv().unwrap();
                }
            })
        });
    }

    pub(crate) fn chained_spawn(g: &mut Group<'_>) {
        fn iter(ex: Arc<Executor<'static>>, done_tx: mpsc::SyncSender<()>, n: usize) {
            if n == 0 {
                done_tx.send(()).unwrap();
            } else {
                let next = ex.clone();
                ex.spawn(async move { iter(next, done_tx, n - 1) }).detach();
            }
        }

        let pool = AsyncExecutorPool::new();
        let (done_tx, done_rx) = mpsc::sync_channel(1000);
        g.bench_function(LABEL, |b| {
            b.iter(|| {
                let done_tx = done_tx.clone();
                let ex = pool.executor().clone();
                future::block_on(async {
                    pool.spawn(async move { iter(ex, done_tx, CHAIN_LEN) })
                        .detach();
                    done_rx.recv().unwrap();
                });
            })
        });
    }
}

/// Runs one workload on the three runtimes, in one criterion group.
macro_rules! workload {
    ($c:expr, $name:ident) => {{
        let mut g = $c.benchmark_group(concat!("rt_multi_threaded/", stringify!($name)));
        common::flat(&mut g);
        on_corio::$name(&mut g);
        on_tokio::$name(&mut g);
        on_async_executor::$name(&mut g);
        g.finish();
    }};
}

fn rt_multi_threaded(c: &mut Criterion) {
    workload!(c, spawn_many_local);
    workload!(c, spawn_many_remote_idle);
    workload!(c, spawn_many_remote_busy1);
    workload!(c, spawn_many_remote_busy2);
    workload!(c, ping_pong);
    workload!(c, yield_many);
    workload!(c, chained_spawn);
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = rt_multi_threaded
}
criterion_main!(benches);
