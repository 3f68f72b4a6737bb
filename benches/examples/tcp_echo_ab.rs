//! `tcp_echo`, corio and Tokio interleaved: iteration i runs corio's echo and Tokio's (which
//! one first alternates), each on its own 2-worker (one per core) runtime, in one process.
//!
//! Why beside the criterion bench: the workload is kernel-bound (loopback TCP copies are over
//! 90 % of its CPU time), so the two runtimes differ by a few per cent, while this shared host
//! sometimes gives the VM half its CPU for tens of seconds. Criterion measures corio for ~8 s
//! and then Tokio for ~8 s, so such a phase lands on one of them; alternating iterations
//! spreads it over both. Prints each runtime's median and the median of per-pair ratios.
//!
//! `cargo run --release -p corio-benches --example tcp_echo_ab [-- ITERATIONS]` (default 60)

use std::time::{Duration, Instant};

#[path = "../benches/common/echo.rs"]
mod echo;

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let iterations: usize = std::env::args()
        .nth(1)
        .map_or(60, |s| s.parse().expect("ITERATIONS must be a number"));
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let corio_rt = corio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .build()
        .unwrap();
    let tokio_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .unwrap();
    let time = |f: &dyn Fn()| {
        let start = Instant::now();
        f();
        start.elapsed()
    };
    // One untimed round each: connection set-up paths, allocator and page cache warm.
    echo::corio_echo(&corio_rt);
    echo::tokio_echo(&tokio_rt);
    let (mut c, mut t, mut r) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..iterations {
        // Alternate which runtime goes first, so neither always runs right after the other
        // (whose sockets may still be closing and whose memory is warm).
        let (a, b): (Duration, Duration) = if i % 2 == 0 {
            let a = time(&|| echo::corio_echo(&corio_rt));
            (a, time(&|| echo::tokio_echo(&tokio_rt)))
        } else {
            let b = time(&|| echo::tokio_echo(&tokio_rt));
            (time(&|| echo::corio_echo(&corio_rt)), b)
        };
        c.push(a.as_secs_f64() * 1e3);
        t.push(b.as_secs_f64() * 1e3);
        r.push(a.as_secs_f64() / b.as_secs_f64());
    }
    let mib = (2 * echo::CONNS * echo::BYTES) as f64 / (1 << 20) as f64;
    let (cm, tm) = (median(&mut c), median(&mut t));
    println!(
        "tcp_echo x{iterations}: corio median {cm:.2} ms ({:.0} MiB/s), tokio median {tm:.2} ms ({:.0} MiB/s), corio/tokio median of pair ratios {:.3}",
        mib / cm * 1e3,
        mib / tm * 1e3,
        median(&mut r)
    );
}
