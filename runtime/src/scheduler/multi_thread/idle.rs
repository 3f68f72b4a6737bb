//! Which workers are searching for work and which are asleep (DESIGN.md, parking protocol
//! steps 1, 3, 4 and 6).
//!
//! One atomic word holds two counters, so that "is anyone searching?" and "is anyone
//! asleep?" are read together: `searching` (low half) and `unparked` (high half; workers
//! not asleep). The list of sleepers is behind a mutex; both counters only go *up* for a
//! sleeper under that mutex, so a notifier that re-reads the word under the lock cannot wake
//! a worker that another notifier already woke.

use crate::loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use crate::loom::sync::Mutex;

const UNPARKED_SHIFT: u32 = usize::BITS / 2;
const SEARCHING_MASK: usize = (1 << UNPARKED_SHIFT) - 1;
const UNPARKED_ONE: usize = 1 << UNPARKED_SHIFT;

#[derive(Debug)]
pub(super) struct Idle {
    /// `unparked << UNPARKED_SHIFT | searching`.
    ///
    /// SeqCst throughout: the protocol is a Dekker-style handshake between a worker that
    /// publishes "I am asleep" and then re-checks the queues, and a notifier that publishes
    /// work and then reads this word. Each side's store must be ordered before its own
    /// subsequent load of the other side's location, which Acquire/Release does not give.
    state: AtomicUsize,
    sleepers: Mutex<Vec<usize>>,
    num_workers: usize,
}

impl Idle {
    pub(super) fn new(num_workers: usize) -> Idle {
        assert!(num_workers < SEARCHING_MASK, "too many workers");
        Idle {
            state: AtomicUsize::new(num_workers << UNPARKED_SHIFT),
            sleepers: Mutex::new(Vec::with_capacity(num_workers)),
            num_workers,
        }
    }

    fn searching(state: usize) -> usize {
        state & SEARCHING_MASK
    }

    fn unparked(state: usize) -> usize {
        state >> UNPARKED_SHIFT
    }

    /// Step 1: become a searcher unless half the workers already search.
    pub(super) fn try_transition_to_searching(&self) -> bool {
        let state = self.state.load(SeqCst);
        if 2 * Self::searching(state) >= self.num_workers {
            return false;
        }
        self.state.fetch_add(1, SeqCst);
        true
    }

    /// Step 3: stop searching. True if this was the last searcher (who then wakes the next
    /// worker if there is more work).
    pub(super) fn transition_from_searching(&self) -> bool {
        let prev = self.state.fetch_sub(1, SeqCst);
        debug_assert!(Self::searching(prev) > 0);
        Self::searching(prev) == 1
    }

    /// Step 4, first half: publish "asleep". True if the worker was the last searcher.
    pub(super) fn transition_to_parked(&self, worker: usize, searching: bool) -> bool {
        let mut sleepers = self.sleepers.lock();
        let dec = UNPARKED_ONE + usize::from(searching);
        let prev = self.state.fetch_sub(dec, SeqCst);
        sleepers.push(worker);
        searching && Self::searching(prev) == 1
    }

    /// Step 4, second half: the re-check found work. Returns true if the worker took itself
    /// off the list (it is now unparked and searching); false if a notifier already did that
    /// for it (the worker is unparked and searching all the same, and will also see a
    /// pending unpark on its parker, which is harmless).
    pub(super) fn unpark_self(&self, worker: usize) -> bool {
        let mut sleepers = self.sleepers.lock();
        match sleepers.iter().position(|&w| w == worker) {
            Some(i) => {
                sleepers.swap_remove(i);
                self.state.fetch_add(UNPARKED_ONE + 1, SeqCst);
                true
            }
            None => false,
        }
    }

    /// True if `worker` is on the sleeper list (no one has woken it).
    pub(super) fn is_parked(&self, worker: usize) -> bool {
        self.sleepers.lock().contains(&worker)
    }

    /// Step 6: pick a sleeper to wake, unless someone is searching (it will find the work)
    /// or nobody sleeps. The chosen worker is counted as unparked and searching before it
    /// runs, so concurrent notifiers do not all wake workers for the same task.
    /// `prefer` ranks candidates (lower is better), e.g. to leave the driver holder asleep.
    pub(super) fn worker_to_notify(&self, prefer: impl Fn(usize) -> u8) -> Option<usize> {
        if !self.should_notify() {
            return None;
        }
        let mut sleepers = self.sleepers.lock();
        if !self.should_notify() {
            return None;
        }
        let i = (0..sleepers.len()).min_by_key(|&i| prefer(sleepers[i]))?;
        let worker = sleepers.swap_remove(i);
        self.state.fetch_add(UNPARKED_ONE + 1, SeqCst);
        Some(worker)
    }

    /// Step 7: wake a sleeper to take the driver over, even if someone is searching.
    /// Like any woken worker it is counted as unparked and searching: it searches once,
    /// then parks on the free driver.
    pub(super) fn worker_for_driver(&self, prefer: impl Fn(usize) -> u8) -> Option<usize> {
        let mut sleepers = self.sleepers.lock();
        let i = (0..sleepers.len()).min_by_key(|&i| prefer(sleepers[i]))?;
        let worker = sleepers.swap_remove(i);
        self.state.fetch_add(UNPARKED_ONE + 1, SeqCst);
        Some(worker)
    }

    fn should_notify(&self) -> bool {
        let state = self.state.load(SeqCst);
        Self::searching(state) == 0 && Self::unparked(state) < self.num_workers
    }

    /// Workers not asleep.
    pub(super) fn num_unparked(&self) -> usize {
        Self::unparked(self.state.load(SeqCst))
    }

    /// Shutdown: every sleeper, to be woken.
    pub(super) fn take_all(&self) -> Vec<usize> {
        let mut sleepers = self.sleepers.lock();
        let n = sleepers.len();
        self.state.fetch_add(n * UNPARKED_ONE, SeqCst);
        std::mem::take(&mut *sleepers)
    }
}
