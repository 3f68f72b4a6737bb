//! Unit tests of the task core, driven by a tiny scheduler that queues into a `Vec`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use super::*;

#[derive(Clone, Default)]
struct TestSched {
    queue: Arc<Mutex<Vec<Notified<TestSched>>>>,
    list: Arc<Option<OwnedTasks<TestSched>>>,
}

impl TestSched {
    fn new() -> Self {
        TestSched {
            queue: Default::default(),
            list: Arc::new(Some(OwnedTasks::new(4))),
        }
    }
    fn list(&self) -> &OwnedTasks<TestSched> {
        self.list.as_ref().as_ref().unwrap()
    }
    fn spawn<F: Future + Send + 'static>(&self, f: F) -> JoinHandle<F::Output>
    where
        F::Output: Send,
    {
        let (join, notified) = self.list().bind(f, self.clone(), Id::next());
        if let Some(n) = notified {
            self.queue.lock().unwrap().push(n);
        }
        join
    }
    fn run_all(&self) -> usize {
        let mut n = 0;
        loop {
            let next = self.queue.lock().unwrap().pop();
            match next {
                Some(t) => {
                    t.run();
                    n += 1
                }
                None => return n,
            }
        }
    }
}

impl Schedule for TestSched {
    fn schedule(&self, task: Notified<Self>) {
        self.queue.lock().unwrap().push(task);
    }
    fn release(&self, task: &Task<Self>) -> Option<Task<Self>> {
        self.list().remove(task)
    }
}

/// Counts drops of its future.
struct DropCount(Arc<AtomicUsize>);
impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn poll_once<F: Future + Unpin>(f: &mut F) -> Poll<F::Output> {
    Pin::new(f).poll(&mut Context::from_waker(Waker::noop()))
}

#[test]
fn output_reaches_join_handle() {
    let s = TestSched::new();
    let mut h = s.spawn(async { 42 });
    assert!(poll_once(&mut h).is_pending());
    assert_eq!(s.run_all(), 1);
    assert!(h.is_finished());
    assert!(matches!(poll_once(&mut h), Poll::Ready(Ok(42))));
    assert!(s.list().is_empty());
}

#[test]
fn panic_is_caught_with_payload() {
    let s = TestSched::new();
    let mut h = s.spawn(async { panic!("boom") });
    s.run_all();
    let Poll::Ready(Err(e)) = poll_once(&mut h) else {
        panic!("expected an error")
    };
    assert!(e.is_panic() && !e.is_cancelled());
    assert!(e.to_string().contains("boom"), "{e}");
    assert_eq!(*e.into_panic().downcast::<&str>().unwrap(), "boom");
}

#[test]
fn abort_before_first_poll_drops_future_unpolled() {
    let s = TestSched::new();
    let drops = Arc::new(AtomicUsize::new(0));
    let polled = Arc::new(AtomicUsize::new(0));
    let (d, p) = (DropCount(drops.clone()), polled.clone());
    let mut h = s.spawn(async move {
        let _d = d;
        p.fetch_add(1, Ordering::SeqCst);
    });
    h.abort();
    s.run_all();
    assert_eq!(polled.load(Ordering::SeqCst), 0);
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    let Poll::Ready(Err(e)) = poll_once(&mut h) else {
        panic!()
    };
    assert!(e.is_cancelled());
}

#[test]
fn abort_of_idle_task_schedules_its_cancellation() {
    let s = TestSched::new();
    let drops = Arc::new(AtomicUsize::new(0));
    let d = DropCount(drops.clone());
    let mut h = s.spawn(async move {
        let _d = d;
        std::future::pending::<()>().await
    });
    s.run_all();
    assert_eq!(drops.load(Ordering::SeqCst), 0);
    h.abort();
    assert_eq!(
        s.queue.lock().unwrap().len(),
        1,
        "abort of an idle task must queue it"
    );
    s.run_all();
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    assert!(matches!(poll_once(&mut h), Poll::Ready(Err(ref e)) if e.is_cancelled()));
}

#[test]
fn abort_while_running_cancels_when_poll_returns() {
    let s = TestSched::new();
    let drops = Arc::new(AtomicUsize::new(0));
    let d = DropCount(drops.clone());
    let slot: Arc<Mutex<Option<AbortHandle>>> = Default::default();
    let slot2 = slot.clone();
    let mut h = s.spawn(async move {
        let _d = d;
        // Abort ourselves mid-poll, then keep going: cancellation happens after this poll.
        slot2.lock().unwrap().take().unwrap().abort();
        std::future::pending::<()>().await
    });
    *slot.lock().unwrap() = Some(h.abort_handle());
    s.run_all();
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    assert!(matches!(poll_once(&mut h), Poll::Ready(Err(ref e)) if e.is_cancelled()));
}

#[test]
fn abort_after_completion_keeps_output() {
    let s = TestSched::new();
    let mut h = s.spawn(async { 7 });
    s.run_all();
    h.abort();
    assert_eq!(s.run_all(), 0);
    assert!(matches!(poll_once(&mut h), Poll::Ready(Ok(7))));
}

#[test]
fn detached_task_runs_and_its_output_is_dropped() {
    let s = TestSched::new();
    let drops = Arc::new(AtomicUsize::new(0));
    let d = DropCount(drops.clone());
    let ran = Arc::new(AtomicUsize::new(0));
    let r = ran.clone();
    drop(s.spawn(async move {
        r.fetch_add(1, Ordering::SeqCst);
        d
    }));
    s.run_all();
    assert_eq!(ran.load(Ordering::SeqCst), 1);
    assert_eq!(
        drops.load(Ordering::SeqCst),
        1,
        "output of a detached task must be dropped"
    );
    assert!(s.list().is_empty());
}

#[test]
fn output_dropped_when_handle_dropped_after_completion() {
    let s = TestSched::new();
    let drops = Arc::new(AtomicUsize::new(0));
    let d = DropCount(drops.clone());
    let h = s.spawn(async move { d });
    s.run_all();
    assert_eq!(drops.load(Ordering::SeqCst), 0);
    drop(h);
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}

#[test]
// Cloning then waking by value is the point: it exercises the by-value waker path.
#[allow(clippy::waker_clone_wake)]
fn wake_while_running_requeues_once() {
    let s = TestSched::new();
    let polls = Arc::new(AtomicUsize::new(0));
    let p = polls.clone();
    let _h = s.spawn(std::future::poll_fn(move |cx| {
        let n = p.fetch_add(1, Ordering::SeqCst);
        if n < 3 {
            // Two wakes during one poll must queue the task once.
            cx.waker().wake_by_ref();
            cx.waker().clone().wake();
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    }));
    assert_eq!(s.run_all(), 4);
    assert_eq!(polls.load(Ordering::SeqCst), 4);
}

#[test]
fn wake_after_completion_is_noop() {
    let s = TestSched::new();
    let stash: Arc<Mutex<Option<Waker>>> = Default::default();
    let st = stash.clone();
    let h = s.spawn(std::future::poll_fn(move |cx| {
        *st.lock().unwrap() = Some(cx.waker().clone());
        Poll::Ready(())
    }));
    s.run_all();
    drop(h);
    let w = stash.lock().unwrap().take().unwrap();
    w.wake_by_ref();
    w.wake();
    assert_eq!(s.run_all(), 0);
}

#[test]
fn join_waker_is_woken_and_replaced() {
    use std::task::Wake;
    struct Flag(AtomicUsize);
    impl Wake for Flag {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let s = TestSched::new();
    let mut h = s.spawn(async { 1 });
    let (a, b) = (
        Arc::new(Flag(AtomicUsize::new(0))),
        Arc::new(Flag(AtomicUsize::new(0))),
    );
    let (wa, wb) = (Waker::from(a.clone()), Waker::from(b.clone()));
    assert!(Pin::new(&mut h)
        .poll(&mut Context::from_waker(&wa))
        .is_pending());
    assert!(Pin::new(&mut h)
        .poll(&mut Context::from_waker(&wb))
        .is_pending());
    s.run_all();
    assert_eq!(
        a.0.load(Ordering::SeqCst),
        0,
        "the replaced waker must not be woken"
    );
    assert_eq!(b.0.load(Ordering::SeqCst), 1);
    assert!(matches!(
        Pin::new(&mut h).poll(&mut Context::from_waker(&wb)),
        Poll::Ready(Ok(1))
    ));
}

#[test]
fn shutdown_cancels_idle_and_queued_tasks_once() {
    let s = TestSched::new();
    let drops = Arc::new(AtomicUsize::new(0));
    let mut handles = Vec::new();
    for i in 0..10 {
        let d = DropCount(drops.clone());
        handles.push(s.spawn(async move {
            let _d = d;
            if i % 2 == 0 {
                std::future::pending::<()>().await
            }
        }));
    }
    // Run half of them once (they park), leave the rest queued.
    for _ in 0..5 {
        let t = s.queue.lock().unwrap().remove(0);
        t.run();
    }
    s.list().close_and_shutdown_all();
    // Queued references are dropped without running.
    s.queue.lock().unwrap().clear();
    let finished_normally = handles
        .iter_mut()
        .filter_map(|h| match poll_once(h) {
            Poll::Ready(Ok(())) => Some(()),
            _ => None,
        })
        .count();
    assert_eq!(drops.load(Ordering::SeqCst), 10);
    // Spawning after close yields a cancelled handle.
    let mut late = s.spawn(async { 1 });
    assert!(matches!(poll_once(&mut late), Poll::Ready(Err(ref e)) if e.is_cancelled()));
    assert!(finished_normally <= 3);
    assert!(s.list().is_empty());
}

#[test]
fn ids_are_unique_and_visible_inside_the_task() {
    let s = TestSched::new();
    let mut h = s.spawn(async { id() });
    let expected = h.id();
    s.run_all();
    assert!(matches!(poll_once(&mut h), Poll::Ready(Ok(got)) if got == expected));
    assert!(try_id().is_none());
    let other = s.spawn(async {});
    assert_ne!(other.id(), expected);
    s.run_all();
}
