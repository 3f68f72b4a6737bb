//! Beyond Tokio: a worker stuck in a long blocking poll must not stop I/O or timers for the
//! other tasks (Tokio's issue #4730 deadlocks here), nor strand the tasks queued behind it.

use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

use corio::io::{AsyncReadExt, AsyncWriteExt};
use corio::net::{TcpListener, TcpStream};
use corio::runtime::Builder;

const STUCK: Duration = Duration::from_secs(3);

#[test]
fn io_keeps_flowing_while_a_worker_is_stuck() {
    let rt = Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let stuck_over = Arc::new(AtomicBool::new(false));
    let served_while_stuck = rt.block_on({
        let stuck_over = stuck_over.clone();
        async move {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            corio::spawn(async move {
                loop {
                    let (mut s, _) = listener.accept().await.unwrap();
                    corio::spawn(async move {
                        let mut buf = [0u8; 64];
                        loop {
                            let n = s.read(&mut buf).await.unwrap();
                            if n == 0 {
                                break;
                            }
                            s.write_all(&buf[..n]).await.unwrap();
                        }
                    });
                }
            });
            // Warm up: a first round trip before anything is stuck.
            let mut c = TcpStream::connect(addr).await.unwrap();
            c.write_all(b"warm").await.unwrap();
            let mut buf = [0u8; 4];
            c.read_exact(&mut buf).await.unwrap();

            // A task blocks its worker (a bug in user code, but it happens).
            let so = stuck_over.clone();
            corio::spawn(async move {
                std::thread::sleep(STUCK);
                so.store(true, SeqCst);
            });
            // Meanwhile, connections, I/O and a timer on the other worker keep working.
            let start = Instant::now();
            let mut rounds = 0;
            while start.elapsed() < Duration::from_millis(1000) {
                let mut c = TcpStream::connect(addr).await.unwrap();
                c.write_all(b"ping").await.unwrap();
                let mut buf = [0u8; 4];
                c.read_exact(&mut buf).await.unwrap();
                assert_eq!(&buf, b"ping");
                corio::time::sleep(Duration::from_millis(5)).await;
                rounds += 1;
            }
            (rounds, !stuck_over.load(SeqCst))
        }
    });
    let (rounds, during) = served_while_stuck;
    assert!(
        during,
        "the checks must run while the worker is still stuck; the machine is too slow"
    );
    assert!(
        rounds >= 5,
        "only {rounds} echo rounds in 1 s while one worker was stuck"
    );
}
