//! A task completing on another thread races `join_next` (protocol steps 2 and 3): the
//! completion is never lost, each output is returned once, and a set dropped while its
//! task completes frees everything once.

use std::collections::VecDeque;

use loom::thread;

use super::*;
use crate::task::{Notified, OwnedTasks, Schedule, Task};

#[derive(Clone)]
struct Sched {
    queue: Arc<Mutex<VecDeque<Notified<Sched>>>>,
    list: Arc<OwnedTasks<Sched>>,
}

impl Schedule for Sched {
    fn schedule(&self, task: Notified<Self>) {
        self.queue.lock().push_back(task);
    }
    fn release(&self, task: &Task<Self>) -> Option<Task<Self>> {
        self.list.remove(task)
    }
}

fn sched() -> Sched {
    Sched {
        queue: Arc::new(Mutex::new(VecDeque::new())),
        list: Arc::new(OwnedTasks::new(1)),
    }
}

fn spawn(s: &Sched, v: u32) -> (JoinHandle<u32>, Notified<Sched>) {
    let (join, notified) = s.list.bind(async move { v }, s.clone(), Id::next());
    (join, notified.unwrap())
}

#[test]
fn loom_join_set_completion_on_other_thread() {
    loom::model(|| {
        let s = sched();
        let (j1, n1) = spawn(&s, 1);
        let (j2, n2) = spawn(&s, 2);
        let mut set = JoinSet::new();
        set.insert(j1);
        set.insert(j2);
        let th = thread::spawn(move || n1.run());
        n2.run();
        let mut got = [
            loom::future::block_on(set.join_next()).unwrap().unwrap(),
            loom::future::block_on(set.join_next()).unwrap().unwrap(),
        ];
        got.sort_unstable();
        assert_eq!(got, [1, 2]);
        assert!(loom::future::block_on(set.join_next()).is_none());
        th.join().unwrap();
        assert!(s.queue.lock().is_empty());
    });
}

#[test]
fn loom_join_set_drop_races_completion() {
    loom::model(|| {
        let s = sched();
        let (j1, n1) = spawn(&s, 1);
        let mut set = JoinSet::new();
        set.insert(j1);
        let th = thread::spawn(move || n1.run());
        // Register the entry waker (the task may or may not have completed yet).
        let _ = set.try_join_next();
        drop(set);
        th.join().unwrap();
        let queued: Vec<_> = s.queue.lock().drain(..).collect();
        drop(queued);
        s.list.close_and_shutdown_all();
    });
}
