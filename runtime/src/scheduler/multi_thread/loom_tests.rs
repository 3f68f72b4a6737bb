//! Loom models of the work-stealing scheduler: the park/unpark protocol with a remote spawn
//! racing workers going to sleep, a spawn from a worker (LIFO slot) racing a thief, a
//! searcher's spin finding a remote spawn and a later spawn that must still wake a worker, and
//! shutdown racing a spawn. A lost wake-up shows up as a loom deadlock.

use std::sync::atomic::Ordering::SeqCst;

use loom::sync::atomic::AtomicUsize;
use loom::sync::Arc;
use loom::thread;

use super::lifo::LifoSlot;
use crate::runtime::{Builder, Runtime};

/// Models of a whole runtime (2-3 loom threads running the real worker loop) explore at most
/// two preemptions, whatever `LOOM_MAX_PREEMPTIONS` says: at three, one model runs for more
/// than half an hour on 2 cores. The unit models of each structure below them (task state,
/// LIFO slot, driver, timer entries, sync primitives) take the bound as given.
fn model<F: Fn() + Sync + Send + 'static>(f: F) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(builder.preemption_bound.map_or(2, |p| p.min(2)));
    builder.check(f);
}

fn rt(workers: usize) -> Runtime {
    Builder::new_multi_thread()
        .worker_threads(workers)
        .build()
        .unwrap()
}

/// A remote spawn races both workers parking; `block_on` of the handle must return.
#[test]
fn loom_mt_remote_spawn_races_park() {
    model(|| {
        let rt = rt(2);
        let h = rt.spawn(async { 1 });
        assert_eq!(rt.block_on(h).unwrap(), 1);
        drop(rt);
    });
}

/// A task spawned from a worker lands in its LIFO slot; either that worker or a thief runs
/// it, exactly once.
#[test]
fn loom_mt_spawn_from_worker_lifo() {
    model(|| {
        let rt = rt(2);
        let runs = Arc::new(AtomicUsize::new(0));
        let r = runs.clone();
        let out = rt.block_on(rt.spawn(async move {
            let child = crate::spawn(async move {
                r.fetch_add(1, SeqCst);
                2
            });
            child.await.unwrap()
        }));
        assert_eq!(out.unwrap(), 2);
        assert_eq!(runs.load(SeqCst), 1);
        drop(rt);
    });
}

/// The slot itself: the owner puts two tasks (the first is displaced back to it) while a
/// thief takes; every task ends up with exactly one owner.
#[test]
fn loom_mt_lifo_slot_put_races_steal() {
    use crate::task::{Id, Notified, OwnedTasks, Schedule, Task};

    #[derive(Clone)]
    struct S(Arc<OwnedTasks<S>>);
    impl Schedule for S {
        fn schedule(&self, _task: Notified<Self>) {
            unreachable!()
        }
        fn release(&self, task: &Task<Self>) -> Option<Task<Self>> {
            self.0.remove(task)
        }
    }

    loom::model(|| {
        let list = Arc::new(OwnedTasks::new(1));
        let s = S(list.clone());
        let (j1, n1) = list.bind(async {}, s.clone(), Id::next());
        let (j2, n2) = list.bind(async {}, s.clone(), Id::next());
        let slot = Arc::new(LifoSlot::new());
        let thief = {
            let slot = slot.clone();
            thread::spawn(move || slot.take().map(|t| t.run()).is_some())
        };
        let mut mine = 0;
        if let Some(prev) = slot.put(n1.unwrap()) {
            prev.run();
            mine += 1;
        }
        if let Some(prev) = slot.put(n2.unwrap()) {
            prev.run();
            mine += 1;
        }
        if let Some(last) = slot.take() {
            last.run();
            mine += 1;
        }
        let stolen = usize::from(thief.join().unwrap());
        assert_eq!(mine + stolen, 2);
        assert!(j1.is_finished() && j2.is_finished());
        list.close_and_shutdown_all();
    });
}

/// A spawn from another thread races the runtime's shutdown: the task is either run or
/// cancelled, its future dropped once, and its handle resolves either way.
#[test]
fn loom_mt_shutdown_races_spawn() {
    model(|| {
        let rt = rt(1);
        let handle = rt.handle().clone();
        let drops = Arc::new(AtomicUsize::new(0));
        let d = drops.clone();
        let spawner = thread::spawn(move || {
            struct D(Arc<AtomicUsize>);
            impl Drop for D {
                fn drop(&mut self) {
                    self.0.fetch_add(1, SeqCst);
                }
            }
            let guard = D(d);
            handle.spawn(async move {
                drop(guard);
            })
        });
        drop(rt);
        let join = spawner.join().unwrap();
        assert_eq!(drops.load(SeqCst), 1);
        assert!(join.is_finished());
    });
}

#[test]
fn loom_mt_one_worker_remote_spawn() {
    model(|| {
        let rt = rt(1);
        let h = rt.spawn(async { 1 });
        assert_eq!(rt.block_on(h).unwrap(), 1);
        drop(rt);
    });
}

/// Two remote spawns one after the other, so the first can be found by a searcher's spin
/// (one look at the injector under loom) and the second must still wake the worker that
/// went back to sleep: the spin leaves the searching count as it found it.
#[test]
fn loom_mt_remote_spawn_after_spin() {
    model(|| {
        let rt = rt(1);
        let first = rt.spawn(async { 1 });
        assert_eq!(rt.block_on(first).unwrap(), 1);
        let second = rt.spawn(async { 2 });
        assert_eq!(rt.block_on(second).unwrap(), 2);
        drop(rt);
    });
}
