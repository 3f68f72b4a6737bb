//! A barrier: `n` tasks wait until all of them have arrived, then all go on together.
//!
//! Protocol: under the lock, an arriving task counts itself. The `n`-th arrival resets the
//! count, bumps the generation, unlocks and calls `notify_waiters`; it is the leader. Every
//! other arrival creates its `Notified` *before* unlocking, so the leader's later
//! `notify_waiters` is guaranteed to complete it (notify step 1).

use std::fmt;

use super::Notify;
use crate::loom::sync::Mutex;

/// Makes `n` tasks wait for each other; reusable, one generation after another.
///
/// A `wait` future dropped before it completes still counts as arrived (as in Tokio).
///
/// ```
/// use corio::sync::Barrier;
/// # futures_lite::future::block_on(async {
/// let barrier = Barrier::new(1);
/// assert!(barrier.wait().await.is_leader());
/// # });
/// ```
pub struct Barrier {
    state: Mutex<BarrierState>,
    notify: Notify,
    n: usize,
}

#[derive(Debug)]
struct BarrierState {
    arrived: usize,
    generation: usize,
}

/// What [`Barrier::wait`] returns.
#[derive(Debug, Clone)]
pub struct BarrierWaitResult(bool);

impl BarrierWaitResult {
    /// True for exactly one task of each generation: the one that arrived last.
    pub fn is_leader(&self) -> bool {
        self.0
    }
}

impl Barrier {
    /// A barrier for `n` tasks (`0` behaves like `1`, as in Tokio).
    pub fn new(n: usize) -> Self {
        Self {
            state: Mutex::new(BarrierState {
                arrived: 0,
                generation: 0,
            }),
            notify: Notify::new(),
            n: n.max(1),
        }
    }

    /// Waits until `n` tasks have called `wait`.
    pub async fn wait(&self) -> BarrierWaitResult {
        // The lock is released before any await (the block ends), so the future stays `Send`.
        let notified = {
            let mut state = self.state.lock();
            state.arrived += 1;
            if state.arrived == self.n {
                state.arrived = 0;
                state.generation = state.generation.wrapping_add(1);
                None
            } else {
                Some(self.notify.notified())
            }
        };
        match notified {
            Some(notified) => {
                notified.await;
                BarrierWaitResult(false)
            }
            None => {
                self.notify.notify_waiters();
                // Still a wait point: spend budget like the others do.
                crate::coop::consume_budget().await;
                BarrierWaitResult(true)
            }
        }
    }
}

impl fmt::Debug for Barrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Barrier")
            .field("n", &self.n)
            .field("state", &*self.state.lock())
            .finish()
    }
}
