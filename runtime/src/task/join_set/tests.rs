//! The ready list holds only the entries whose task woke them, so `join_next` polls one
//! handle per completion however many tasks wait.

use std::collections::VecDeque;
use std::sync::atomic::AtomicUsize;
use std::sync::Mutex as StdMutex;

use super::*;
use crate::task::{Notified, OwnedTasks, Schedule, Task};

#[derive(Clone)]
struct Sched {
    queue: std::sync::Arc<StdMutex<VecDeque<Notified<Sched>>>>,
    list: std::sync::Arc<OwnedTasks<Sched>>,
}

impl Schedule for Sched {
    fn schedule(&self, task: Notified<Self>) {
        self.queue.lock().unwrap().push_back(task);
    }
    fn release(&self, task: &Task<Self>) -> Option<Task<Self>> {
        self.list.remove(task)
    }
}

impl Sched {
    fn run_all(&self) {
        loop {
            let next = self.queue.lock().unwrap().pop_front();
            match next {
                Some(t) => t.run(),
                None => return,
            }
        }
    }
}

struct CountWake(AtomicUsize);
impl std::task::Wake for CountWake {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

#[test]
fn only_woken_entries_are_queued_and_polled() {
    const N: u64 = 1000;
    let s = Sched {
        queue: Default::default(),
        list: std::sync::Arc::new(OwnedTasks::new(4)),
    };
    // Task i finishes once `release[i]` is set.
    let release: std::sync::Arc<Vec<std::sync::atomic::AtomicBool>> =
        std::sync::Arc::new((0..N).map(|_| Default::default()).collect());
    let mut set = JoinSet::new();
    for i in 0..N {
        let release = release.clone();
        let fut = std::future::poll_fn(move |cx| {
            if release[i as usize].load(std::sync::atomic::Ordering::SeqCst) {
                Poll::Ready(i)
            } else {
                // The test wakes it through this waker after setting `release[i]`.
                WAKERS.with(|w| w.borrow_mut().push(cx.waker().clone()));
                Poll::Pending
            }
        });
        let (join, notified) = s.list.bind(fut, s.clone(), Id::next());
        s.queue.lock().unwrap().push_back(notified.unwrap());
        set.insert(join);
    }
    s.run_all();
    let wakers: Vec<Waker> = WAKERS.with(|w| std::mem::take(&mut *w.borrow_mut()));
    assert_eq!(wakers.len(), N as usize);

    let parent = std::sync::Arc::new(CountWake(AtomicUsize::new(0)));
    let parent_waker = Waker::from(parent.clone());
    let mut cx = Context::from_waker(&parent_waker);
    // The first poll registers every entry (each was queued at insert), then waits.
    assert!(set.poll_join_next(&mut cx).is_pending());
    assert_eq!(set.ready.inner.lock().queue.len(), 0);

    for (n, i) in [7usize, 500, 999, 0].into_iter().enumerate() {
        release[i].store(true, std::sync::atomic::Ordering::SeqCst);
        wakers[i].wake_by_ref();
        s.run_all();
        assert_eq!(
            set.ready.inner.lock().queue.len(),
            1,
            "exactly the finished entry is ready"
        );
        assert_eq!(parent.0.load(std::sync::atomic::Ordering::SeqCst), n + 1);
        match set.poll_join_next(&mut cx) {
            Poll::Ready(Some(Ok(v))) => assert_eq!(v, i as u64),
            other => panic!("expected task {i}'s output, got {other:?}"),
        }
        assert_eq!(set.len(), N as usize - n - 1);
    }
    drop(wakers);
    drop(set);
    s.run_all();
    assert!(s.list.is_empty(), "dropping the set aborted every task");
}

std::thread_local! {
    static WAKERS: std::cell::RefCell<Vec<Waker>> = const { std::cell::RefCell::new(Vec::new()) };
}
