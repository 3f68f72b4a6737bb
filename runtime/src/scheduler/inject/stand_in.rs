//! The injector the whole-runtime loom models run with: a `VecDeque` under one lock, with the
//! API and the batch sizes of [`Inject`](super::Inject).
//!
//! The real queue is modelled on its own (`loom_inject_*`); inside a whole runtime its four
//! atomic steps per push multiplied the interleavings of every scheduler model past the CI
//! budget (the two multi-thread models ran for more than 15 minutes instead of seconds). What
//! the runtime models rely on is the queue's contract, which both keep: a push is counted by
//! `len` before the pusher's fence, and every counted item is eventually handed out.

use std::collections::VecDeque;
use std::fmt;

use super::{DRY_BATCH, MAX_BATCH};
use crate::loom::deque::{Steal, Worker};
use crate::loom::sync::Mutex;

pub(crate) struct Inject<T> {
    items: Mutex<VecDeque<T>>,
}

impl<T> Inject<T> {
    pub(crate) fn new() -> Self {
        Self {
            items: Mutex::new(VecDeque::new()),
        }
    }

    pub(crate) fn push(&self, item: T) {
        self.items.lock().push_back(item);
    }

    pub(crate) fn len(&self) -> usize {
        self.items.lock().len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(crate) fn steal_batch_with_limit_and_pop(
        &self,
        dest: &Worker<T>,
        limit: usize,
    ) -> Steal<T> {
        let mut items = self.items.lock();
        let want = limit.min(items.len().div_ceil(2)).clamp(1, MAX_BATCH);
        let Some(first) = items.pop_front() else {
            return Steal::Empty;
        };
        let more = (want - 1).min(items.len());
        for item in items.drain(..more) {
            dest.push(item);
        }
        Steal::Success(first)
    }

    pub(crate) fn steal_batch_and_pop(&self, dest: &Worker<T>) -> Steal<T> {
        self.steal_batch_with_limit_and_pop(dest, DRY_BATCH)
    }

    pub(crate) fn steal(&self) -> Steal<T> {
        match self.items.lock().pop_front() {
            Some(item) => Steal::Success(item),
            None => Steal::Empty,
        }
    }
}

impl<T> fmt::Debug for Inject<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Inject").field("len", &self.len()).finish()
    }
}
