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

/// Beyond Tokio: tasks queued on a worker that is stuck in a long poll run on the other
/// worker even while that one is busy (busy workers never search for work, so only the
/// rescue of a stalled sibling's queue moves them; in Tokio they wait for the stuck poll).
#[test]
fn tasks_behind_a_stuck_worker_run_while_the_other_is_busy() {
    use std::sync::atomic::AtomicUsize;

    const QUEUED: usize = 10;
    let rt = Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let stuck_over = Arc::new(AtomicBool::new(false));
    let ran_while_stuck = Arc::new(AtomicUsize::new(0));
    let (ran, waited) = rt.block_on({
        let (stop, stuck_over, ran_while_stuck) =
            (stop.clone(), stuck_over.clone(), ran_while_stuck.clone());
        async move {
            // Work that keeps both workers busy: each always has a task to run next.
            for _ in 0..4 {
                let stop = stop.clone();
                corio::spawn(async move {
                    while !stop.load(SeqCst) {
                        corio::task::yield_now().await;
                    }
                });
            }
            // A task queues a few small tasks on its own worker, then blocks that worker.
            let ran = ran_while_stuck.clone();
            corio::spawn(async move {
                for _ in 0..QUEUED {
                    let (stuck_over, ran) = (stuck_over.clone(), ran.clone());
                    corio::spawn(async move {
                        if !stuck_over.load(SeqCst) {
                            ran.fetch_add(1, SeqCst);
                        }
                    });
                }
                std::thread::sleep(STUCK);
                stuck_over.store(true, SeqCst);
            });
            let start = Instant::now();
            while ran_while_stuck.load(SeqCst) < QUEUED && start.elapsed() < STUCK {
                corio::time::sleep(Duration::from_millis(1)).await;
            }
            (ran_while_stuck.load(SeqCst), start.elapsed())
        }
    });
    stop.store(true, SeqCst);
    assert_eq!(
        ran, QUEUED,
        "only {ran} of the {QUEUED} tasks queued behind the stuck worker ran while it was \
         stuck (waited {waited:?})"
    );
}
