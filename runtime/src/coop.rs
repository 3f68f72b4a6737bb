//! Cooperative scheduling: a per-poll budget.
//!
//! A task that loops over resources which are always ready (a socket with data, a channel
//! with messages) would never return `Pending` and would starve every other task on its
//! worker. So each task poll gets a budget of [`BUDGET`] operations on corio resources.
//! A resource calls [`poll_proceed`] before doing work; once the budget is spent it returns
//! `Pending` and wakes the task at once, so the task goes to the back of the queue.
//!
//! Outside a task poll (e.g. in `block_on`'s own future) the budget is unconstrained
//! unless [`budget`] was entered.
//!
//! Protocol for a resource future:
//! 1. `let restore = ready!(coop::poll_proceed(cx));` (consumes one unit).
//! 2. Try the operation. If it completes, call `restore.made_progress()`.
//! 3. If it returns `Pending`, drop `restore`: the unit is given back, because no progress
//!    was made.

use std::cell::Cell;
use std::task::{Context, Poll};

/// Operations one task poll may perform on corio resources before it must yield.
pub(crate) const BUDGET: u8 = 128;

crate::loom::thread_local! {
    // Not `const`: loom's thread_local! does not take that form.
    #[allow(clippy::missing_const_for_thread_local)]
    static CURRENT: Cell<Budget> = Cell::new(Budget(None));
}

/// The budget left, `None` when unconstrained.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Budget(Option<u8>);

impl Budget {
    /// A fresh budget for one task poll.
    pub(crate) const fn initial() -> Self {
        Budget(Some(BUDGET))
    }

    /// No limit.
    pub(crate) const fn unconstrained() -> Self {
        Budget(None)
    }
}

/// Runs `f` with a fresh budget, restoring the previous budget afterwards (also on panic).
pub(crate) fn budget<R>(f: impl FnOnce() -> R) -> R {
    with_budget(Budget::initial(), f)
}

/// Runs `f` without a budget limit.
pub(crate) fn with_unconstrained<R>(f: impl FnOnce() -> R) -> R {
    with_budget(Budget::unconstrained(), f)
}

fn with_budget<R>(budget: Budget, f: impl FnOnce() -> R) -> R {
    struct ResetGuard(Budget);
    impl Drop for ResetGuard {
        fn drop(&mut self) {
            let _ = CURRENT.try_with(|cell| cell.set(self.0));
        }
    }
    let prev = CURRENT.with(|cell| cell.replace(budget));
    let _guard = ResetGuard(prev);
    f()
}

/// True when the current poll still has budget (or is unconstrained).
pub(crate) fn has_budget_remaining() -> bool {
    CURRENT
        .try_with(|cell| cell.get().0 != Some(0))
        .unwrap_or(true)
}

/// Consumes one unit of budget, or returns `Pending` (having woken the task) when the
/// budget is spent. See the module doc for the protocol.
#[inline]
pub(crate) fn poll_proceed(cx: &mut Context<'_>) -> Poll<RestoreOnPending> {
    CURRENT
        .try_with(|cell| {
            let mut budget = cell.get();
            match budget.0 {
                Some(0) => {
                    cx.waker().wake_by_ref();
                    Poll::Pending
                }
                Some(ref mut n) => {
                    *n -= 1;
                    let restore = RestoreOnPending(Cell::new(cell.get()));
                    cell.set(budget);
                    Poll::Ready(restore)
                }
                None => Poll::Ready(RestoreOnPending(Cell::new(Budget(None)))),
            }
        })
        .unwrap_or(Poll::Ready(RestoreOnPending(Cell::new(Budget(None)))))
}

/// Gives the unit back when dropped, unless [`RestoreOnPending::made_progress`] was called.
#[derive(Debug)]
pub(crate) struct RestoreOnPending(Cell<Budget>);

impl RestoreOnPending {
    /// The operation made progress: keep the unit spent.
    pub(crate) fn made_progress(&self) {
        self.0.set(Budget(None));
    }
}

impl Drop for RestoreOnPending {
    fn drop(&mut self) {
        let prev = self.0.get();
        if prev.0.is_some() {
            let _ = CURRENT.try_with(|cell| cell.set(prev));
        }
    }
}

/// Runs `f`, then yields if it made `Pending` progress impossible; the future form of the
/// budget for resources written as futures.
pub(crate) async fn consume_budget() {
    let mut status = Poll::Pending;
    std::future::poll_fn(move |cx| {
        if status.is_ready() {
            return status;
        }
        status = poll_proceed(cx).map(|restore| restore.made_progress());
        status
    })
    .await
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::task::Waker;

    use super::*;

    #[test]
    fn budget_runs_out_after_budget_ops_and_pending_gives_back() {
        let mut cx = Context::from_waker(Waker::noop());
        budget(|| {
            for _ in 0..BUDGET {
                let restore = match poll_proceed(&mut cx) {
                    Poll::Ready(r) => r,
                    Poll::Pending => panic!("budget ran out early"),
                };
                restore.made_progress();
            }
            assert!(poll_proceed(&mut cx).is_pending());
            assert!(!has_budget_remaining());
        });
        // A unit not marked as progress is given back.
        budget(|| {
            for _ in 0..1000 {
                assert!(poll_proceed(&mut cx).is_ready());
            }
        });
        // Outside `budget` there is no limit.
        for _ in 0..1000 {
            poll_proceed(&mut cx)
                .map(|r| r.made_progress())
                .is_ready()
                .then_some(())
                .unwrap();
        }
    }
}
