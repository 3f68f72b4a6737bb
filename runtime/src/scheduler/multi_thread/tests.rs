//! Remote wakes held back and pushed in batches (`batch_remote_wakes`).

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use super::{batch_remote_wakes, REMOTE_BATCH};
use crate::runtime::{Builder, Runtime};

fn rt() -> Runtime {
    Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap()
}

/// Waits for `h` for at most 30 s: a task held back and never pushed fails the test instead
/// of hanging it.
fn join(rt: &Runtime, h: crate::task::JoinHandle<()>) {
    rt.block_on(async { crate::time::timeout(Duration::from_secs(30), h).await })
        .expect("a held-back task was never pushed")
        .unwrap();
}

fn counting(rt: &Runtime, ran: &Arc<AtomicUsize>) -> crate::task::JoinHandle<()> {
    let ran = ran.clone();
    rt.spawn(async move {
        ran.fetch_add(1, SeqCst);
    })
}

#[test]
fn remote_spawns_in_a_batch_wait_for_its_end_then_all_run() {
    let rt = rt();
    let ran = Arc::new(AtomicUsize::new(0));
    let mut handles = Vec::new();
    batch_remote_wakes(|| {
        handles.extend((0..REMOTE_BATCH - 1).map(|_| counting(&rt, &ran)));
        // Held back: not in the injector, so no worker can have run one.
        assert_eq!(rt.metrics().global_queue_depth(), 0);
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(
            ran.load(SeqCst),
            0,
            "a held-back task ran before the batch ended"
        );
    });
    for h in handles {
        join(&rt, h);
    }
    assert_eq!(ran.load(SeqCst), REMOTE_BATCH - 1);
}

#[test]
fn a_full_batch_is_pushed_before_the_batch_ends() {
    let rt = rt();
    let ran = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = mpsc::channel();
    batch_remote_wakes(|| {
        let hs: Vec<_> = (0..REMOTE_BATCH).map(|_| counting(&rt, &ran)).collect();
        // Still inside the batch: the first REMOTE_BATCH went out when it filled up.
        let ran = ran.clone();
        std::thread::spawn(move || {
            while ran.load(SeqCst) < REMOTE_BATCH {
                std::thread::sleep(Duration::from_millis(1));
            }
            tx.send(()).unwrap();
        });
        rx.recv_timeout(Duration::from_secs(30))
            .expect("a full batch was held until the end of the batch");
        drop(hs);
    });
}

#[test]
fn a_panic_inside_a_batch_still_pushes_what_it_held() {
    let rt = rt();
    let ran = Arc::new(AtomicUsize::new(0));
    let mut handles = Vec::new();
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        batch_remote_wakes(|| {
            handles.extend((0..3).map(|_| counting(&rt, &ran)));
            panic!("a waker panicked");
        })
    }));
    assert!(caught.is_err());
    for h in handles {
        join(&rt, h);
    }
    assert_eq!(ran.load(SeqCst), 3);
    // The thread's batch is closed: a later spawn goes out at once.
    join(&rt, counting(&rt, &ran));
    assert_eq!(ran.load(SeqCst), 4);
}

#[test]
fn wakes_for_another_runtime_go_out_at_once_and_nested_batches_join_the_outer() {
    let (a, b) = (rt(), rt());
    let (ran_a, ran_b) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let mut handles = Vec::new();
    batch_remote_wakes(|| {
        handles.push(counting(&a, &ran_a));
        // Another runtime's task is not held behind `a`'s batch.
        join(&b, counting(&b, &ran_b));
        batch_remote_wakes(|| handles.push(counting(&a, &ran_a)));
        // The inner batch's end did not push the outer batch's tasks.
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(ran_a.load(SeqCst), 0);
    });
    for h in handles {
        join(&a, h);
    }
    assert_eq!((ran_a.load(SeqCst), ran_b.load(SeqCst)), (2, 1));
}

#[test]
fn notify_waiters_from_a_plain_thread_wakes_every_waiter() {
    let rt = rt();
    let notify = Arc::new(crate::sync::Notify::new());
    let woken = Arc::new(AtomicUsize::new(0));
    let waiters: Vec<_> = (0..50)
        .map(|_| {
            let (notify, woken) = (notify.clone(), woken.clone());
            rt.spawn(async move {
                for _ in 0..10 {
                    notify.notified().await;
                    woken.fetch_add(1, SeqCst);
                }
            })
        })
        .collect();
    let notifier = {
        let (notify, woken) = (notify.clone(), woken.clone());
        std::thread::spawn(move || {
            while woken.load(SeqCst) < 500 {
                notify.notify_waiters();
                std::thread::yield_now();
            }
        })
    };
    for h in waiters {
        rt.block_on(async { crate::time::timeout(Duration::from_secs(30), h).await })
            .expect("a waiter was never woken")
            .unwrap();
    }
    notifier.join().unwrap();
}
