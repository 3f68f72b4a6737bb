//! Timer wheel cost: arm a timer (first poll registers it) and cancel it (drop), with 64 and
//! 4,096 other timers outstanding; corio vs Tokio.
//!
//! ```text
//! cargo bench -p corio-benches --bench timer
//! python3 benches/ratios.py
//! ```
//! Wake-up lateness is measured by `cargo run --release -p corio-benches --example timer_lateness`.

#![allow(missing_docs)]

use std::future::Future;
use std::hint::black_box;
use std::pin::Pin;
use std::task::{Context, Waker};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};

fn poll_once<F: Future>(f: Pin<&mut F>) {
    let _ = f.poll(&mut Context::from_waker(Waker::noop()));
}

fn arm_cancel(c: &mut Criterion) {
    for outstanding in [64usize, 4096] {
        let mut g = c.benchmark_group(format!("timer/arm_cancel_{outstanding}"));
        g.sample_size(30)
            .measurement_time(Duration::from_secs(3))
            .warm_up_time(Duration::from_secs(1));

        let rt = corio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        {
            let _enter = rt.enter();
            let mut keep: Vec<Pin<Box<corio::time::Sleep>>> = (0..outstanding)
                .map(|i| {
                    Box::pin(corio::time::sleep(
                        Duration::from_secs(3600) + Duration::from_millis(i as u64),
                    ))
                })
                .collect();
            for s in keep.iter_mut() {
                poll_once(s.as_mut());
            }
            g.bench_function("corio", |b| {
                b.iter(|| {
                    let mut s =
                        Box::pin(corio::time::sleep(black_box(Duration::from_millis(1500))));
                    poll_once(s.as_mut());
                    drop(s);
                })
            });
            drop(keep);
        }
        drop(rt);

        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        {
            let _enter = rt.enter();
            let mut keep: Vec<Pin<Box<tokio::time::Sleep>>> = (0..outstanding)
                .map(|i| {
                    Box::pin(tokio::time::sleep(
                        Duration::from_secs(3600) + Duration::from_millis(i as u64),
                    ))
                })
                .collect();
            for s in keep.iter_mut() {
                poll_once(s.as_mut());
            }
            g.bench_function("tokio", |b| {
                b.iter(|| {
                    let mut s =
                        Box::pin(tokio::time::sleep(black_box(Duration::from_millis(1500))));
                    poll_once(s.as_mut());
                    drop(s);
                })
            });
            drop(keep);
        }
        drop(rt);
        g.finish();
    }
}

criterion_group!(benches, arm_cancel);
criterion_main!(benches);
