//! `tcp_echo`: 64 connections each send 1 MiB in 16 KiB chunks to an echo server and read it
//! all back; server and clients in one runtime (or one process, for threads). Compared:
//! corio, Tokio and async-io/async-executor on one worker per core, and thread per
//! connection. Throughput = 2 x 64 MiB moved per iteration.
//!
//! ```text
//! cargo bench -p corio-benches --bench tcp_echo
//! python3 benches/ratios.py
//! ```

#![allow(missing_docs)]

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

#[path = "common/echo.rs"]
mod echo;

use echo::{corio_echo, tokio_echo, BYTES, CHUNK, CONNS};

fn workers() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// async-io's reactor with an async-executor run by one thread per core.
struct Smol {
    ex: Arc<async_executor::Executor<'static>>,
    stop: Option<async_channel_stop::Stop>,
}

mod async_channel_stop {
    //! A tiny stop signal for the executor threads, built on `event-listener`-free parts:
    //! an atomic flag and the executor's own task to park on.
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    pub(crate) struct Stop {
        pub(crate) flag: Arc<AtomicBool>,
        pub(crate) threads: Vec<std::thread::JoinHandle<()>>,
    }

    impl Stop {
        pub(crate) fn stop(self) {
            self.flag.store(true, Ordering::SeqCst);
            for t in self.threads {
                t.join().unwrap();
            }
        }
    }
}

impl Smol {
    fn new(n: usize) -> Smol {
        use std::sync::atomic::{AtomicBool, Ordering};
        let ex = Arc::new(async_executor::Executor::new());
        let flag = Arc::new(AtomicBool::new(false));
        let threads = (0..n)
            .map(|_| {
                let (ex, flag) = (ex.clone(), flag.clone());
                std::thread::spawn(move || {
                    async_io::block_on(ex.run(async move {
                        while !flag.load(Ordering::SeqCst) {
                            async_io::Timer::after(Duration::from_millis(5)).await;
                        }
                    }))
                })
            })
            .collect();
        Smol {
            ex,
            stop: Some(async_channel_stop::Stop { flag, threads }),
        }
    }

    fn echo(&self) {
        use futures_lite::{AsyncReadExt, AsyncWriteExt};
        let ex = self.ex.clone();
        async_io::block_on(self.ex.spawn(async move {
            let listener =
                async_io::Async::<std::net::TcpListener>::bind(([127, 0, 0, 1], 0)).unwrap();
            let addr = listener.get_ref().local_addr().unwrap();
            let ex2 = ex.clone();
            let server = ex.spawn(async move {
                for _ in 0..CONNS {
                    let (mut s, _) = listener.accept().await.unwrap();
                    ex2.spawn(async move {
                        let mut buf = vec![0u8; CHUNK];
                        loop {
                            let n = s.read(&mut buf).await.unwrap();
                            if n == 0 {
                                break;
                            }
                            s.write_all(&buf[..n]).await.unwrap();
                        }
                    })
                    .detach();
                }
            });
            let clients: Vec<_> = (0..CONNS)
                .map(|_| {
                    let ex = ex.clone();
                    ex.clone().spawn(async move {
                        let s = Arc::new(
                            async_io::Async::<std::net::TcpStream>::connect(addr)
                                .await
                                .unwrap(),
                        );
                        let w = s.clone();
                        let writer = ex.spawn(async move {
                            let chunk = vec![7u8; CHUNK];
                            for _ in 0..BYTES / CHUNK {
                                (&*w).write_all(&chunk).await.unwrap();
                            }
                        });
                        let mut buf = vec![0u8; CHUNK];
                        let mut got = 0;
                        while got < BYTES {
                            let n = (&*s).read(&mut buf).await.unwrap();
                            assert!(n > 0, "early EOF");
                            got += n;
                        }
                        writer.await;
                    })
                })
                .collect();
            for c in clients {
                c.await;
            }
            server.await;
        }));
    }
}

impl Drop for Smol {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            s.stop();
        }
    }
}

fn threads_echo() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        let mut conns = Vec::new();
        for _ in 0..CONNS {
            let (mut s, _) = listener.accept().unwrap();
            conns.push(std::thread::spawn(move || {
                let mut buf = vec![0u8; CHUNK];
                loop {
                    let n = s.read(&mut buf).unwrap();
                    if n == 0 {
                        break;
                    }
                    s.write_all(&buf[..n]).unwrap();
                }
            }));
        }
        for c in conns {
            c.join().unwrap();
        }
    });
    let clients: Vec<_> = (0..CONNS)
        .map(|_| {
            std::thread::spawn(move || {
                let s = std::net::TcpStream::connect(addr).unwrap();
                let mut wr = s.try_clone().unwrap();
                let writer = std::thread::spawn(move || {
                    let chunk = vec![7u8; CHUNK];
                    for _ in 0..BYTES / CHUNK {
                        wr.write_all(&chunk).unwrap();
                    }
                    wr.shutdown(std::net::Shutdown::Write).unwrap();
                });
                let mut rd = s;
                let mut buf = vec![0u8; CHUNK];
                let mut got = 0;
                while got < BYTES {
                    let n = rd.read(&mut buf).unwrap();
                    assert!(n > 0, "early EOF");
                    got += n;
                }
                writer.join().unwrap();
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
    server.join().unwrap();
}

fn tcp_echo(c: &mut Criterion) {
    let n = workers();
    let mut g = c.benchmark_group("tcp_echo");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(8))
        .warm_up_time(Duration::from_secs(1));
    g.throughput(Throughput::Bytes((2 * CONNS * BYTES) as u64));
    let corio_rt = corio::runtime::Builder::new_multi_thread()
        .worker_threads(n)
        .build()
        .unwrap();
    g.bench_function("corio", |b| b.iter(|| corio_echo(&corio_rt)));
    drop(corio_rt);
    let tokio_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(n)
        .enable_all()
        .build()
        .unwrap();
    g.bench_function("tokio", |b| b.iter(|| tokio_echo(&tokio_rt)));
    drop(tokio_rt);
    let smol = Smol::new(n);
    g.bench_function("async-executor", |b| b.iter(|| smol.echo()));
    drop(smol);
    g.bench_function("threads", |b| b.iter(threads_echo));
    g.finish();
}

criterion_group!(benches, tcp_echo);
criterion_main!(benches);
