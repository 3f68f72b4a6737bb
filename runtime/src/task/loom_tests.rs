//! Loom models of the task state word: concurrent wake, poll, complete, abort, `JoinHandle`
//! drop and join-waker swap. Each model checks that the future is dropped exactly once, the
//! output is delivered or dropped exactly once, and nothing is freed twice (loom's leak and
//! double-free checks on the task allocation).

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use loom::sync::{Arc, Mutex};
use loom::thread;

use super::*;

#[derive(Clone)]
struct Sched {
    queue: Arc<Mutex<VecDeque<Notified<Sched>>>>,
    list: Arc<OwnedTasks<Sched>>,
}

impl Sched {
    fn new() -> Self {
        Sched {
            queue: Arc::new(Mutex::new(VecDeque::new())),
            list: Arc::new(OwnedTasks::new(1)),
        }
    }
    fn spawn<F: Future + Send + 'static>(&self, f: F) -> JoinHandle<F::Output>
    where
        F::Output: Send,
    {
        let (join, notified) = self.list.bind(f, self.clone(), Id::next());
        self.queue.lock().unwrap().push_back(notified.unwrap());
        join
    }
    fn run_one(&self) -> bool {
        let t = self.queue.lock().unwrap().pop_front();
        match t {
            Some(t) => {
                t.run();
                true
            }
            None => false,
        }
    }
    fn drain(&self) {
        while self.run_one() {}
    }
    fn shutdown(&self) {
        self.list.close_and_shutdown_all();
        let q: Vec<_> = self.queue.lock().unwrap().drain(..).collect();
        drop(q);
    }
}

impl Schedule for Sched {
    fn schedule(&self, task: Notified<Self>) {
        self.queue.lock().unwrap().push_back(task);
    }
    fn release(&self, task: &Task<Self>) -> Option<Task<Self>> {
        self.list.remove(task)
    }
}

struct Counted(Arc<AtomicUsize>);
impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

/// Pending until `flag` is set; stores its waker in `slot` for the waking thread.
struct WaitFlag {
    flag: Arc<AtomicBool>,
    slot: Arc<Mutex<Option<Waker>>>,
    _drop: Counted,
}

impl Future for WaitFlag {
    type Output = u32;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u32> {
        if self.flag.load(SeqCst) {
            return Poll::Ready(7);
        }
        *self.slot.lock().unwrap() = Some(cx.waker().clone());
        if self.flag.load(SeqCst) {
            return Poll::Ready(7);
        }
        Poll::Pending
    }
}

fn wait_flag(drops: &Arc<AtomicUsize>) -> (WaitFlag, Arc<AtomicBool>, Arc<Mutex<Option<Waker>>>) {
    let flag = Arc::new(AtomicBool::new(false));
    let slot = Arc::new(Mutex::new(None));
    (
        WaitFlag {
            flag: flag.clone(),
            slot: slot.clone(),
            _drop: Counted(drops.clone()),
        },
        flag,
        slot,
    )
}

#[test]
fn loom_task_wake_races_poll() {
    loom::model(|| {
        let s = Sched::new();
        let drops = Arc::new(AtomicUsize::new(0));
        let (fut, flag, slot) = wait_flag(&drops);
        let join = s.spawn(fut);
        let waker_thread = thread::spawn(move || {
            flag.store(true, SeqCst);
            if let Some(w) = slot.lock().unwrap().take() {
                w.wake();
            }
        });
        // The waker thread either sees the stored waker (and queues the task) or the poll
        // sees the flag: the task always completes.
        s.run_one();
        waker_thread.join().unwrap();
        s.drain();
        assert!(join.is_finished());
        assert_eq!(loom::future::block_on(join).unwrap(), 7);
        assert_eq!(drops.load(SeqCst), 1);
        s.shutdown();
    });
}

#[test]
fn loom_task_abort_races_poll() {
    loom::model(|| {
        let s = Sched::new();
        let drops = Arc::new(AtomicUsize::new(0));
        let (fut, flag, slot) = wait_flag(&drops);
        let join = s.spawn(fut);
        let abort = join.abort_handle();
        let t = thread::spawn(move || {
            abort.abort();
            flag.store(true, SeqCst);
            if let Some(w) = slot.lock().unwrap().take() {
                w.wake();
            }
        });
        s.run_one();
        t.join().unwrap();
        s.drain();
        // Either the poll completed first (output 7) or the abort won (cancelled); never
        // neither, and the future is dropped once either way.
        match loom::future::block_on(join) {
            Ok(v) => assert_eq!(v, 7),
            Err(e) => assert!(e.is_cancelled()),
        }
        assert_eq!(drops.load(SeqCst), 1);
        s.shutdown();
    });
}

#[test]
fn loom_task_join_handle_drop_races_complete() {
    loom::model(|| {
        let s = Sched::new();
        let out_drops = Arc::new(AtomicUsize::new(0));
        let od = out_drops.clone();
        let join = s.spawn(async move { Counted(od) });
        let t = thread::spawn(move || drop(join));
        s.run_one();
        t.join().unwrap();
        // The output is dropped exactly once, by the completer or by the handle.
        assert_eq!(out_drops.load(SeqCst), 1);
        s.shutdown();
    });
}

#[test]
fn loom_task_join_waker_swap_races_complete() {
    loom::model(|| {
        let s = Sched::new();
        let drops = Arc::new(AtomicUsize::new(0));
        let (fut, flag, slot) = wait_flag(&drops);
        let mut join = s.spawn(fut);
        s.run_one();
        let s2 = s.clone();
        let t = thread::spawn(move || {
            flag.store(true, SeqCst);
            if let Some(w) = slot.lock().unwrap().take() {
                w.wake();
            }
            s2.drain();
        });
        // Poll with one waker, then with another (a swap), racing completion; then wait.
        let noop = Waker::noop();
        let v = match Pin::new(&mut join).poll(&mut Context::from_waker(noop)) {
            Poll::Ready(v) => v.unwrap(),
            Poll::Pending => loom::future::block_on(join).unwrap(),
        };
        assert_eq!(v, 7);
        t.join().unwrap();
        assert_eq!(drops.load(SeqCst), 1);
        s.shutdown();
    });
}

#[test]
fn loom_task_shutdown_races_wake() {
    loom::model(|| {
        let s = Sched::new();
        let drops = Arc::new(AtomicUsize::new(0));
        let (fut, flag, slot) = wait_flag(&drops);
        let join = s.spawn(fut);
        s.run_one();
        let t = thread::spawn(move || {
            flag.store(true, SeqCst);
            if let Some(w) = slot.lock().unwrap().take() {
                w.wake();
            }
        });
        s.shutdown();
        t.join().unwrap();
        // A wake after close only drops references: nothing runs, nothing leaks.
        s.queue.lock().unwrap().clear();
        assert_eq!(drops.load(SeqCst), 1);
        assert!(loom::future::block_on(join).unwrap_err().is_cancelled());
    });
}
