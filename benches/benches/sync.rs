//! `corio::sync` beside `tokio::sync`, each on its own runtime of the same flavour and worker
//! count, with the workloads and constants of Tokio's `benches/sync_mpsc.rs` (contention),
//! `sync_semaphore.rs` and `sync_notify.rs`.
//!
//! ```text
//! cargo bench -p corio-benches --bench sync
//! python3 benches/ratios.py
//! ```
//!
//! - `sync_mpsc/contention_{bounded,bounded_full,unbounded}`: 5 producer tasks send 1,000
//!   numbers each into one channel (capacity 1,000,000; 100; unbounded) while `block_on`
//!   receives all 5,000.
//! - `sync_semaphore/*`: 6 acquire + release of one permit: in sequence (`uncontended`), as 6
//!   spawned tasks on the multi-thread runtime (`*_concurrent_multi`), as 6 futures joined on
//!   a current-thread runtime (`*_concurrent_single`); 10 permits (uncontended) or 5
//!   (contended).
//! - `sync_notify/{notify_one,notify_waiters}_<N>`: N tasks loop on `notified().await` and
//!   count; the bench thread notifies until 500 wake-ups have been counted, calling
//!   `std::thread::yield_now()` after each notification. Tokio's bench spins without yielding;
//!   it has 6 workers on a machine with more cores. Here the bench thread and the 2 workers
//!   share 2 cores, and a spinning notifier held a core that a woken worker needed, so each
//!   iteration measured when the OS time slice ran out (Tokio's own times varied 7x between
//!   runs, corio's ratio 0.1-70). Yielding hands the core to a runnable worker at once and
//!   costs the notifier nothing when no one else wants the core. Both runtimes run the same
//!   loop, so neither is favoured.
//!
//! Tokio runs these with 6 workers; here both runtimes get one worker per core (see
//! `common::workers`). The corio and Tokio variants are one macro body instantiated twice.

// `criterion_group!` defines an undocumented `pub fn benches`.
#![allow(missing_docs)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use criterion::{
    criterion_group, criterion_main, measurement::WallTime, BenchmarkGroup, Criterion,
};
use futures_lite::future::zip;

mod common;

type Group<'a> = BenchmarkGroup<'a, WallTime>;

const PRODUCERS: usize = 5;
const MESSAGES: usize = 1_000;
const SEMAPHORE_TASKS: usize = 6;
const NOTIFY_ITERS: usize = 500;
const NOTIFY_WAITERS: [usize; 5] = [10, 50, 100, 200, 500];

macro_rules! sync_workloads {
    ($module:ident, $krate:ident, $label:literal, $multi:expr, $current:expr) => {
        mod $module {
            use super::*;
            use $krate::sync::{mpsc, Notify, Semaphore};

            pub(crate) fn contention_bounded(g: &mut Group<'_>, capacity: usize) {
                let rt = $multi;
                g.bench_function($label, |b| {
                    b.iter(|| {
                        rt.block_on(async move {
                            let (tx, mut rx) = mpsc::channel::<usize>(capacity);
                            for _ in 0..PRODUCERS {
                                let tx = tx.clone();
                                drop($krate::spawn(async move {
                                    for i in 0..MESSAGES {
                                        tx.send(i).await.unwrap();
                                    }
                                }));
                            }
                            for _ in 0..PRODUCERS * MESSAGES {
                                let _ = rx.recv().await;
                            }
                        })
                    })
                });
            }

            pub(crate) fn contention_unbounded(g: &mut Group<'_>) {
                let rt = $multi;
                g.bench_function($label, |b| {
                    b.iter(|| {
                        rt.block_on(async move {
                            let (tx, mut rx) = mpsc::unbounded_channel::<usize>();
                            for _ in 0..PRODUCERS {
                                let tx = tx.clone();
                                drop($krate::spawn(async move {
                                    for i in 0..MESSAGES {
                                        tx.send(i).unwrap();
                                    }
                                }));
                            }
                            for _ in 0..PRODUCERS * MESSAGES {
                                let _ = rx.recv().await;
                            }
                        })
                    })
                });
            }

            async fn acquire_release(s: Arc<Semaphore>) {
                let permit = s.acquire().await.unwrap();
                drop(permit);
            }

            pub(crate) fn semaphore_sequential(g: &mut Group<'_>) {
                let rt = $multi;
                let s = Arc::new(Semaphore::new(10));
                g.bench_function($label, |b| {
                    b.iter(|| {
                        let s = s.clone();
                        rt.block_on(async move {
                            for _ in 0..SEMAPHORE_TASKS {
                                let permit = s.acquire().await.unwrap();
                                drop(permit);
                            }
                        })
                    })
                });
            }

            pub(crate) fn semaphore_concurrent_multi(g: &mut Group<'_>, permits: usize) {
                let rt = $multi;
                let s = Arc::new(Semaphore::new(permits));
                g.bench_function($label, |b| {
                    b.iter(|| {
                        let s = s.clone();
                        rt.block_on(async move {
                            let tasks: Vec<_> = (0..SEMAPHORE_TASKS)
                                .map(|_| $krate::spawn(acquire_release(s.clone())))
                                .collect();
                            for t in tasks {
                                t.await.unwrap();
                            }
                        })
                    })
                });
            }

            pub(crate) fn semaphore_concurrent_single(g: &mut Group<'_>, permits: usize) {
                let rt = $current;
                let s = Arc::new(Semaphore::new(permits));
                g.bench_function($label, |b| {
                    b.iter(|| {
                        let s = s.clone();
                        rt.block_on(async move {
                            // Six futures joined in one task, like Tokio's `join!`.
                            let f = || acquire_release(s.clone());
                            zip(zip(zip(f(), f()), zip(f(), f())), zip(f(), f())).await;
                        })
                    })
                });
            }

            pub(crate) fn notify(g: &mut Group<'_>, waiters: usize, all: bool) {
                let rt = $multi;
                let notify = Arc::new(Notify::new());
                let counter = Arc::new(AtomicUsize::new(0));
                for _ in 0..waiters {
                    let notify = notify.clone();
                    let counter = counter.clone();
                    drop(rt.spawn(async move {
                        loop {
                            notify.notified().await;
                            counter.fetch_add(1, Ordering::Relaxed);
                        }
                    }));
                }
                g.bench_function($label, |b| {
                    b.iter(|| {
                        counter.store(0, Ordering::Relaxed);
                        while counter.load(Ordering::Relaxed) < NOTIFY_ITERS {
                            if all {
                                notify.notify_waiters();
                            } else {
                                notify.notify_one();
                            }
                            // Give the core to a worker that has work (see the module doc).
                            std::thread::yield_now();
                        }
                    })
                });
            }
        }
    };
}

sync_workloads!(
    on_corio,
    corio,
    "corio",
    common::corio_multi(),
    common::corio_current()
);
sync_workloads!(
    on_tokio,
    tokio,
    "tokio",
    common::tokio_multi(false),
    common::tokio_current()
);

/// One workload on both runtimes, in one criterion group.
macro_rules! workload {
    ($c:expr, $group:expr, $f:ident $(, $arg:expr)*) => {{
        let mut g = $c.benchmark_group($group);
        common::flat(&mut g);
        on_corio::$f(&mut g $(, $arg)*);
        on_tokio::$f(&mut g $(, $arg)*);
        g.finish();
    }};
}

fn sync_mpsc(c: &mut Criterion) {
    workload!(
        c,
        "sync_mpsc/contention_bounded",
        contention_bounded,
        1_000_000
    );
    workload!(
        c,
        "sync_mpsc/contention_bounded_full",
        contention_bounded,
        100
    );
    workload!(c, "sync_mpsc/contention_unbounded", contention_unbounded);
}

fn sync_semaphore(c: &mut Criterion) {
    workload!(c, "sync_semaphore/uncontended", semaphore_sequential);
    workload!(
        c,
        "sync_semaphore/uncontended_concurrent_multi",
        semaphore_concurrent_multi,
        10
    );
    workload!(
        c,
        "sync_semaphore/uncontended_concurrent_single",
        semaphore_concurrent_single,
        10
    );
    workload!(
        c,
        "sync_semaphore/contended_concurrent_multi",
        semaphore_concurrent_multi,
        5
    );
    workload!(
        c,
        "sync_semaphore/contended_concurrent_single",
        semaphore_concurrent_single,
        5
    );
}

fn sync_notify(c: &mut Criterion) {
    for n in NOTIFY_WAITERS {
        workload!(c, format!("sync_notify/notify_one_{n}"), notify, n, false);
    }
    for n in NOTIFY_WAITERS {
        workload!(
            c,
            format!("sync_notify/notify_waiters_{n}"),
            notify,
            n,
            true
        );
    }
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = sync_mpsc, sync_semaphore, sync_notify
}
criterion_main!(benches);
