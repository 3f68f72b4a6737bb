//! Task utilities on both runtime flavours: `JoinSet`, `task_local!`, `LocalSet` and
//! `spawn_local`.

use std::cell::Cell;
use std::collections::HashSet;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread;
use std::time::{Duration, Instant};

use corio::runtime::{Builder, Runtime};
use corio::sync::{mpsc, oneshot};
use corio::task::{self, JoinSet, LocalSet};

fn current() -> Runtime {
    Builder::new_current_thread().build().unwrap()
}

fn multi() -> Runtime {
    Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap()
}

fn both() -> [(&'static str, Runtime); 2] {
    [("current_thread", current()), ("multi_thread", multi())]
}

struct DropCount(Arc<AtomicUsize>);
impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

struct NoopWaker;
impl Wake for NoopWaker {
    fn wake(self: Arc<Self>) {}
}

fn poll_once<F: Future + Unpin>(f: &mut F) -> Poll<F::Output> {
    let waker = Waker::from(Arc::new(NoopWaker));
    Pin::new(f).poll(&mut Context::from_waker(&waker))
}

// ---------------------------------------------------------------------------------------
// JoinSet

#[test]
fn join_set_collects_1000_results_each_once() {
    for (flavor, rt) in both() {
        let seen = rt.block_on(async {
            let mut set = JoinSet::new();
            for i in 0..1000u64 {
                set.spawn(async move {
                    if i % 3 == 0 {
                        task::yield_now().await;
                    }
                    i
                });
            }
            assert_eq!(set.len(), 1000);
            let mut seen = HashSet::new();
            while let Some(res) = set.join_next().await {
                assert!(seen.insert(res.unwrap()), "{flavor}: a result came twice");
            }
            assert!(set.is_empty());
            assert!(set.join_next().await.is_none());
            seen
        });
        assert_eq!(seen, (0..1000).collect::<HashSet<_>>(), "{flavor}");
    }
}

#[test]
fn join_set_abort_all_cancels_the_rest() {
    for (flavor, rt) in both() {
        rt.block_on(async {
            let drops = Arc::new(AtomicUsize::new(0));
            let mut set = JoinSet::new();
            for i in 0..100usize {
                let d = DropCount(drops.clone());
                set.spawn(async move {
                    let _d = d;
                    if i >= 10 {
                        std::future::pending::<()>().await;
                    }
                    i
                });
            }
            let mut done = Vec::new();
            for _ in 0..10 {
                done.push(set.join_next().await.unwrap().unwrap());
            }
            done.sort_unstable();
            assert_eq!(done, (0..10).collect::<Vec<_>>(), "{flavor}");
            set.abort_all();
            assert_eq!(set.len(), 90, "{flavor}: aborted tasks stay until joined");
            let mut cancelled = 0;
            while let Some(res) = set.join_next().await {
                let err = res.expect_err("a pending task produced output after abort_all");
                assert!(err.is_cancelled(), "{flavor}: {err}");
                cancelled += 1;
            }
            assert_eq!(cancelled, 90, "{flavor}");
            assert_eq!(drops.load(Ordering::SeqCst), 100, "{flavor}");
        });
    }
}

#[test]
fn dropping_join_set_aborts_its_tasks() {
    for (flavor, rt) in both() {
        rt.block_on(async {
            let (tx, mut rx) = mpsc::unbounded_channel::<()>();
            let mut set = JoinSet::new();
            for _ in 0..50 {
                let tx = tx.clone();
                set.spawn(async move {
                    let _tx = tx;
                    std::future::pending::<()>().await
                });
            }
            drop(tx);
            task::yield_now().await;
            drop(set);
            // Every task holds a sender: the channel closes only once all were dropped.
            assert!(rx.recv().await.is_none(), "{flavor}");
        });
    }
}

#[test]
fn join_set_shutdown_and_detach_all() {
    for (flavor, rt) in both() {
        rt.block_on(async {
            let mut set = JoinSet::new();
            for _ in 0..20 {
                set.spawn(std::future::pending::<()>());
            }
            set.shutdown().await;
            assert!(set.is_empty(), "{flavor}");

            let (tx, mut rx) = mpsc::unbounded_channel();
            let (go_tx, go_rx) = oneshot::channel::<()>();
            set.spawn(async move {
                go_rx.await.unwrap();
                tx.send(7).unwrap();
            });
            set.detach_all();
            assert!(set.is_empty());
            drop(set);
            go_tx.send(()).unwrap();
            assert_eq!(
                rx.recv().await,
                Some(7),
                "{flavor}: a detached task keeps running"
            );
        });
    }
}

#[test]
fn join_set_try_join_next_panics_ids_and_blocking() {
    for (flavor, rt) in both() {
        rt.block_on(async {
            let mut set = JoinSet::new();
            assert!(set.try_join_next().is_none());
            let (go_tx, go_rx) = oneshot::channel::<()>();
            set.spawn(async move {
                go_rx.await.unwrap();
                1
            });
            task::yield_now().await;
            assert!(
                set.try_join_next().is_none(),
                "{flavor}: nothing finished yet"
            );
            go_tx.send(()).unwrap();
            // The task finishes on a worker (multi_thread) whenever it gets there: poll
            // without waiting, under a generous bound for a loaded machine.
            let start = Instant::now();
            let got = loop {
                if let Some(res) = set.try_join_next() {
                    break res.unwrap();
                }
                assert!(
                    start.elapsed() < Duration::from_secs(20),
                    "{flavor}: try_join_next never saw the finished task"
                );
                task::yield_now().await;
            };
            assert_eq!(got, 1, "{flavor}");

            let id = set.spawn(async { panic!("boom in set") }).id();
            let err = set.join_next().await.unwrap().unwrap_err();
            assert!(err.is_panic() && err.id() == id, "{flavor}: {err}");

            set.spawn_blocking(|| 5);
            let aborted = set.spawn(std::future::pending());
            let (id2, v) = set.join_next_with_id().await.unwrap().unwrap();
            assert_eq!(v, 5);
            assert_ne!(id2, aborted.id());
            aborted.abort();
            assert!(set.join_next().await.unwrap().unwrap_err().is_cancelled());
            assert!(set.join_next().await.is_none());
        });
    }
}

#[test]
fn join_set_spawn_on_from_outside_and_join_all() {
    let rt = multi();
    let mut set = JoinSet::new();
    for i in 0..100u32 {
        set.spawn_on(async move { i }, rt.handle());
    }
    let mut all = rt.block_on(set.join_all());
    all.sort_unstable();
    assert_eq!(all, (0..100).collect::<Vec<_>>());
}

// ---------------------------------------------------------------------------------------
// task_local!

corio::task_local! {
    static NUM: u32;
    static NAME: String;
}

corio::task_local! {
    /// A key declared alone, with a doc comment and `pub`.
    pub static ALONE: u8
}

#[test]
fn task_locals_do_not_leak_across_interleaved_tasks() {
    for (flavor, rt) in both() {
        rt.block_on(async {
            let observe = |want: Option<u32>| async move {
                for _ in 0..200 {
                    assert_eq!(NUM.try_with(|v| *v).ok(), want);
                    task::yield_now().await;
                    assert_eq!(NUM.try_with(|v| *v).ok(), want);
                }
            };
            let a = corio::spawn(NUM.scope(1, observe(Some(1))));
            let b = corio::spawn(NUM.scope(2, observe(Some(2))));
            let c = corio::spawn(observe(None));
            a.await.unwrap();
            b.await.unwrap();
            c.await.unwrap();
            assert!(
                NUM.try_with(|_| ()).is_err(),
                "{flavor}: leaked into block_on"
            );
        });
    }
}

#[test]
fn task_local_scopes_nest_and_restore() {
    let rt = current();
    rt.block_on(async {
        NUM.scope(1, async {
            assert_eq!(NUM.get(), 1);
            NUM.scope(2, async {
                assert_eq!(NUM.get(), 2);
                task::yield_now().await;
                assert_eq!(NUM.get(), 2);
                NAME.scope("inner".to_string(), async {
                    assert_eq!(NAME.with(|s| s.len()), 5);
                    assert_eq!(NUM.get(), 2);
                })
                .await;
                assert!(NAME.try_with(|_| ()).is_err());
            })
            .await;
            assert_eq!(NUM.get(), 1, "outer value restored after the inner scope");
            let got = NUM.sync_scope(9, || NUM.get());
            assert_eq!(got, 9);
            assert_eq!(NUM.get(), 1);
        })
        .await;
        assert_eq!(ALONE.sync_scope(3, || ALONE.get()), 3);
    });
}

#[test]
#[should_panic(expected = "cannot access a task-local value outside its scope")]
fn task_local_with_outside_scope_panics_with_fix() {
    NUM.with(|_| ());
}

#[test]
fn task_local_try_with_outside_scope_errs() {
    let err = NUM.try_with(|v| *v).unwrap_err();
    assert!(err.to_string().contains("not set"), "{err}");
    let rt = current();
    rt.block_on(async {
        assert!(NAME.try_with(|_| ()).is_err());
    });
}

#[test]
fn task_local_restored_after_panic_and_after_drop_mid_way() {
    // A panicking sync scope restores the cell.
    let res = catch_unwind(|| NUM.sync_scope(5, || panic!("inside")));
    assert!(res.is_err());
    assert!(NUM.try_with(|_| ()).is_err(), "value leaked after a panic");

    // A panicking poll restores it too.
    let mut fut = Box::pin(NUM.scope(6, async { panic!("poll panics") }));
    let res = catch_unwind(AssertUnwindSafe(|| poll_once(&mut fut)));
    assert!(res.is_err());
    assert!(
        NUM.try_with(|_| ()).is_err(),
        "value leaked after a panicking poll"
    );
    drop(fut);

    // Dropped after one poll: the inner future's destructor still sees the value, and
    // nothing is left in the thread afterwards.
    struct SeesValue(Rc<Cell<Option<u32>>>);
    impl Drop for SeesValue {
        fn drop(&mut self) {
            self.0.set(NUM.try_with(|v| *v).ok());
        }
    }
    let seen = Rc::new(Cell::new(None));
    let guard = SeesValue(seen.clone());
    let mut fut = Box::pin(NUM.scope(7, async move {
        let _guard = guard;
        std::future::pending::<()>().await
    }));
    assert!(poll_once(&mut fut).is_pending());
    assert!(NUM.try_with(|_| ()).is_err(), "value visible between polls");
    drop(fut);
    assert_eq!(seen.get(), Some(7));
    assert!(NUM.try_with(|_| ()).is_err());
}

#[test]
fn task_local_scope_inside_with_panics_clearly() {
    let res = catch_unwind(|| NUM.sync_scope(1, || NUM.with(|_| NUM.sync_scope(2, || ()))));
    let msg = *res.unwrap_err().downcast::<&str>().unwrap();
    assert!(msg.contains("is borrowed"), "{msg}");
    assert!(NUM.try_with(|_| ()).is_err());
}

// ---------------------------------------------------------------------------------------
// LocalSet

#[test]
fn local_set_runs_rc_futures_on_both_flavours() {
    for (flavor, rt) in both() {
        let local = LocalSet::new();
        let out = local.block_on(&rt, async {
            let rc = Rc::new(Cell::new(0));
            let mut handles = Vec::new();
            for i in 0..1000 {
                let rc = rc.clone();
                handles.push(task::spawn_local(async move {
                    task::yield_now().await;
                    rc.set(rc.get() + i);
                }));
            }
            for h in handles {
                h.await.unwrap();
            }
            rc.get()
        });
        assert_eq!(out, 999 * 1000 / 2, "{flavor}");
    }
}

#[test]
fn local_tasks_woken_from_other_threads_run_on_the_owner_thread() {
    for (flavor, rt) in both() {
        let local = LocalSet::new();
        let owner = thread::current().id();
        let (tx, rx) = oneshot::channel::<u32>();
        let (mtx, mut mrx) = mpsc::unbounded_channel::<u32>();
        let rt_handle = rt.handle().clone();
        let sender = thread::spawn(move || {
            thread::sleep(Duration::from_millis(20));
            tx.send(41).unwrap();
            // And a wake from a runtime task (a worker on the multi-thread runtime).
            rt_handle.spawn(async move { mtx.send(1).unwrap() });
        });
        let out = local.block_on(&rt, async move {
            let h = task::spawn_local(async move {
                let not_send = Rc::new(());
                let a = rx.await.unwrap();
                assert_eq!(thread::current().id(), owner);
                let b = mrx.recv().await.unwrap();
                assert_eq!(thread::current().id(), owner);
                drop(not_send);
                a + b
            });
            h.await.unwrap()
        });
        sender.join().unwrap();
        assert_eq!(out, 42, "{flavor}");
    }
}

#[test]
#[should_panic(expected = "called outside a `LocalSet`")]
fn spawn_local_outside_local_set_panics_with_fix() {
    let rt = current();
    rt.block_on(async {
        drop(task::spawn_local(async {}));
    });
}

#[test]
fn dropping_local_set_cancels_its_tasks() {
    for (flavor, rt) in both() {
        let drops = Arc::new(AtomicUsize::new(0));
        let local = LocalSet::new();
        let mut handles = Vec::new();
        for _ in 0..10 {
            let d = DropCount(drops.clone());
            handles.push(local.spawn_local(async move {
                let _d = d;
                let _rc = Rc::new(());
                std::future::pending::<()>().await
            }));
        }
        // One that finishes.
        let d = DropCount(drops.clone());
        handles.push(local.spawn_local(async move {
            let _d = d;
        }));
        local.block_on(&rt, async {
            // Let the first ten start and park.
            for _ in 0..3 {
                task::yield_now().await;
            }
        });
        assert_eq!(
            drops.load(Ordering::SeqCst),
            1,
            "{flavor}: the short task finished"
        );
        drop(local);
        assert_eq!(drops.load(Ordering::SeqCst), 11, "{flavor}");
        let last = handles.pop().unwrap();
        assert!(rt.block_on(last).is_ok());
        for h in handles {
            let err = rt.block_on(h).unwrap_err();
            assert!(err.is_cancelled(), "{flavor}: {err}");
        }
    }
}

#[test]
fn awaiting_local_set_runs_all_tasks_including_nested_spawns() {
    for (flavor, rt) in both() {
        let local = LocalSet::new();
        let count = Rc::new(Cell::new(0));
        for _ in 0..10 {
            let count = count.clone();
            local.spawn_local(async move {
                for _ in 0..10 {
                    let count = count.clone();
                    task::spawn_local(async move {
                        task::yield_now().await;
                        count.set(count.get() + 1);
                    });
                }
            });
        }
        rt.block_on(local);
        assert_eq!(count.get(), 100, "{flavor}");
    }
}

#[test]
fn local_task_aborted_from_another_thread() {
    let rt = multi();
    let local = LocalSet::new();
    local.block_on(&rt, async {
        let h = task::spawn_local(std::future::pending::<()>());
        let abort = h.abort_handle();
        thread::spawn(move || abort.abort()).join().unwrap();
        assert!(h.await.unwrap_err().is_cancelled());
    });
}

#[test]
fn join_set_of_local_tasks() {
    let rt = current();
    let local = LocalSet::new();
    local.block_on(&rt, async {
        let mut set = JoinSet::new();
        for i in 0..100 {
            let rc = Rc::new(i);
            set.spawn_local(async move { *rc });
        }
        let mut sum = 0;
        while let Some(r) = set.join_next().await {
            sum += r.unwrap();
        }
        assert_eq!(sum, 4950);
    });
}

#[test]
fn local_set_enter_then_run_until_inside_block_on() {
    let rt = current();
    rt.block_on(async {
        let local = LocalSet::new();
        let h = {
            let _guard = local.enter();
            task::spawn_local(async { Rc::new(3) })
        };
        let out = local.run_until(h).await.unwrap();
        assert_eq!(*out, 3);
    });
}
