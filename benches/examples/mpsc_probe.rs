//! Where does `sync_mpsc/contention_bounded_full` spend its time? The bench's workload (5
//! producer tasks send 1,000 numbers each into a channel of capacity 100 while `block_on`
//! receives them), instrumented, for corio and Tokio in one run. Per iteration it prints the
//! wall time, the CPU time of the workers and of the receiving (`block_on`) thread, and their
//! voluntary (they slept) and involuntary (they were preempted) context switches, from
//! `/proc/self/task/*/{schedstat,status}`.
//!
//! `cargo run --release -p corio-benches --example mpsc_probe [CAPACITY [corio|tokio]]`
//! (CAPACITY defaults to 100; six rounds of 200 iterations each).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Instant;

#[path = "common/threads.rs"]
mod threads;
use threads::{counters, Counters};

/// How often a send (resp. a receive) returned `Pending`: the producer waited for a slot
/// (resp. the receiver for a message).
static SEND_PENDING: AtomicUsize = AtomicUsize::new(0);
static RECV_PENDING: AtomicUsize = AtomicUsize::new(0);

/// Counts the `Pending`s of the future it wraps in `counter`.
struct CountPending<'a, F>(Pin<&'a mut F>, &'static AtomicUsize);

impl<F: Future> Future for CountPending<'_, F> {
    type Output = F::Output;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let counter = self.1;
        let poll = self.0.as_mut().poll(cx);
        if poll.is_pending() {
            counter.fetch_add(1, Ordering::Relaxed);
        }
        poll
    }
}

async fn counted<F: Future>(f: F, counter: &'static AtomicUsize) -> F::Output {
    let f = std::pin::pin!(f);
    CountPending(f, counter).await
}

const ITERS: usize = 200;
const PRODUCERS: usize = 5;
const MESSAGES: usize = 1_000;

/// Formats per-iteration counters.
fn show(c: Counters) -> String {
    format!(
        "CPU {:7.1} us  sleeps {:6.1}  preempted {:5.1}",
        c.cpu_ns / 1e3,
        c.voluntary,
        c.involuntary
    )
}

macro_rules! probe {
    ($krate:ident, $rt:expr, $capacity:expr) => {{
        use $krate::sync::mpsc;
        let rt = $rt;
        // Start the workers before counting.
        rt.block_on(async { $krate::spawn(async {}).await.unwrap() });
        SEND_PENDING.store(0, Ordering::Relaxed);
        RECV_PENDING.store(0, Ordering::Relaxed);
        let (w0, m0) = counters();
        let start = Instant::now();
        for _ in 0..ITERS {
            rt.block_on(async move {
                let (tx, mut rx) = mpsc::channel::<usize>($capacity);
                for _ in 0..PRODUCERS {
                    let tx = tx.clone();
                    drop($krate::spawn(async move {
                        for i in 0..MESSAGES {
                            counted(tx.send(i), &SEND_PENDING).await.unwrap();
                        }
                    }));
                }
                for _ in 0..PRODUCERS * MESSAGES {
                    let _ = counted(rx.recv(), &RECV_PENDING).await;
                }
            });
        }
        let elapsed = start.elapsed();
        let (w1, m1) = counters();
        println!(
            "{:<6} {:7.1} us/iter  send waits {:6.1}  recv waits {:6.1} | workers: {} | block_on: {}",
            stringify!($krate),
            elapsed.as_secs_f64() * 1e6 / ITERS as f64,
            SEND_PENDING.load(Ordering::Relaxed) as f64 / ITERS as f64,
            RECV_PENDING.load(Ordering::Relaxed) as f64 / ITERS as f64,
            show(w1.per_iter_since(w0, ITERS)),
            show(m1.per_iter_since(m0, ITERS)),
        );
        rt
    }};
}

fn main() {
    let capacity: usize = std::env::args()
        .nth(1)
        .map_or(100, |s| s.parse().expect("CAPACITY: a number"));
    let only = std::env::args().nth(2).unwrap_or_default();
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    for _ in 0..6 {
        if only != "tokio" {
            let rt = probe!(
                corio,
                corio::runtime::Builder::new_multi_thread()
                    .worker_threads(workers)
                    .build()
                    .unwrap(),
                capacity
            );
            let m = rt.metrics();
            for i in 0..m.num_workers() {
                println!(
                    "       worker {i}: polls/iter {:7.1}  steals/iter {:5.1}  parks/iter {:5.1}",
                    m.worker_poll_count(i) as f64 / ITERS as f64,
                    m.worker_steal_count(i) as f64 / ITERS as f64,
                    m.worker_park_count(i) as f64 / ITERS as f64,
                );
            }
        }
        if only != "corio" {
            drop(probe!(
                tokio,
                tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(workers)
                    .build()
                    .unwrap(),
                capacity
            ));
        }
    }
}
