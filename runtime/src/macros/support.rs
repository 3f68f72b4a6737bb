//! What the expansions of `join!`, `try_join!` and `select!` name through `$crate::__private`.
//!
//! Not public API: the items are `pub` only because macro expansions live in the user's
//! crate. They are re-exported from the crate root as `corio::__private` (hidden from docs),
//! and may change in any release.
//!
//! Everything a macro expansion needs is named through this module so that the expansion
//! works whatever the user has in scope (a local `Option`, `Poll` or `Future` of their own
//! cannot capture the macro's paths).

use std::fmt;
use std::future::Future as StdFuture;
use std::pin::Pin as StdPin;
use std::task::{Context as StdContext, Poll as StdPoll};

pub use std::future::{poll_fn, Future, IntoFuture};
pub use std::option::Option::{self, None, Some};
pub use std::pin::{pin, Pin};
pub use std::result::Result::{self, Err, Ok};
pub use std::task::{ready, Context, Poll};

/// A number in `0..n` from this thread's generator: the branch `select!` polls first.
#[inline]
pub fn thread_rng_n(n: u32) -> u32 {
    crate::util::rand::thread_rng_n(n)
}

/// `Pending` (after asking to be polled again) when the task's cooperative budget is spent.
///
/// `select!` checks this before polling its branches: its branches that are corio resources
/// would each return `Pending` anyway, while a branch that is always ready and ignores the
/// budget could otherwise keep the task running forever.
#[inline]
pub fn poll_budget_available(cx: &mut StdContext<'_>) -> StdPoll<()> {
    if crate::coop::has_budget_remaining() {
        StdPoll::Ready(())
    } else {
        cx.waker().wake_by_ref();
        StdPoll::Pending
    }
}

/// The `select!` expansion's fallback when every branch is disabled and there is no `else`.
#[cold]
#[track_caller]
pub fn all_branches_disabled() -> ! {
    panic!(
        "all branches of this select! are disabled (each one's `if` precondition was false or \
         its output did not match its pattern) and there is no `else` branch; add \
         `else => ...` to handle that case"
    )
}

/// One future of a `join!`/`try_join!`, and then its output.
///
/// The expansion pins each `MaybeDone` on the stack with [`pin!`] and polls it until it is
/// done; the future is dropped (in place) the moment it completes, and the output waits
/// in its place until the macro collects all of them.
pub enum MaybeDone<F: StdFuture> {
    /// Still running. Structurally pinned: never moved while in this state.
    Future(F),
    /// Finished; the output is not pinned and may be moved out.
    Done(F::Output),
    /// The output was taken.
    Gone,
}

impl<F: StdFuture> fmt::Debug for MaybeDone<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MaybeDone::Future(_) => "MaybeDone::Future(..)",
            MaybeDone::Done(_) => "MaybeDone::Done(..)",
            MaybeDone::Gone => "MaybeDone::Gone",
        })
    }
}

/// Wraps anything that converts into a future (the macros accept `IntoFuture`, as `.await`
/// does).
pub fn maybe_done<F: IntoFuture>(future: F) -> MaybeDone<F::IntoFuture> {
    MaybeDone::Future(future.into_future())
}

impl<F: StdFuture> MaybeDone<F> {
    /// Polls the future if it is still running; `Ready` once the output is stored.
    pub fn poll(mut self: StdPin<&mut Self>, cx: &mut StdContext<'_>) -> StdPoll<()> {
        // SAFETY: `Future(f)` is the only structurally pinned state and `f` is not moved:
        // it is polled through a new `Pin` and then dropped in place by `Pin::set` below;
        // no other state is touched through this reference.
        let output = match unsafe { self.as_mut().get_unchecked_mut() } {
            MaybeDone::Future(f) => {
                // SAFETY: `f` lives inside the pinned `self` (see above).
                match unsafe { StdPin::new_unchecked(f) }.poll(cx) {
                    StdPoll::Ready(output) => output,
                    StdPoll::Pending => return StdPoll::Pending,
                }
            }
            MaybeDone::Done(_) => return StdPoll::Ready(()),
            MaybeDone::Gone => panic!("MaybeDone polled after its output was taken"),
        };
        // Drops the finished future in place, as pinning requires, before storing its output.
        self.set(MaybeDone::Done(output));
        StdPoll::Ready(())
    }

    /// Moves the output out, leaving `Gone`.
    ///
    /// # Panics
    /// If the future has not finished or the output was already taken: the expansion takes
    /// each output exactly once, after every future reported `Ready`.
    pub fn take_output(self: StdPin<&mut Self>) -> F::Output {
        // SAFETY: only a `Done` value is moved (its output is not structurally pinned); a
        // running future is left where it is.
        let this = unsafe { self.get_unchecked_mut() };
        // Checked before moving anything: a running future must stay where it is.
        if !matches!(this, MaybeDone::Done(_)) {
            panic!("MaybeDone::take_output called in state {this:?}; this is a corio bug");
        }
        match std::mem::replace(this, MaybeDone::Gone) {
            MaybeDone::Done(output) => output,
            _ => unreachable!("the state was just checked"),
        }
    }
}

impl<T, E, F: StdFuture<Output = Result<T, E>>> MaybeDone<F> {
    /// Moves the error out if the future finished with one (for `try_join!`'s early return).
    pub fn take_err(self: StdPin<&mut Self>) -> Option<E> {
        // SAFETY: as in `take_output`, only a finished output is moved.
        let this = unsafe { self.get_unchecked_mut() };
        if let MaybeDone::Done(Err(_)) = this {
            match std::mem::replace(this, MaybeDone::Gone) {
                MaybeDone::Done(Err(e)) => return Some(e),
                _ => unreachable!("the state was just checked"),
            }
        }
        None
    }

    /// Moves the success value out (for `try_join!`, once every future finished with `Ok`).
    pub fn take_ok(self: StdPin<&mut Self>) -> T {
        match self.take_output() {
            Ok(value) => value,
            Err(_) => unreachable!("try_join! returns on the first error before collecting"),
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::future::{poll_fn, ready};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::{Wake, Waker};

    use super::*;
    use crate::coop;

    /// Counts wake-ups.
    struct CountingWaker(AtomicUsize);

    impl Wake for CountingWaker {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[test]
    fn select_yields_when_the_budget_is_spent_and_asks_to_be_polled_again() {
        let counter = Arc::new(CountingWaker(AtomicUsize::new(0)));
        let waker = Waker::from(counter.clone());
        let mut cx = StdContext::from_waker(&waker);
        let mut fut = std::pin::pin!(async {
            crate::select! {
                v = ready(1) => v,
            }
        });
        coop::budget(|| {
            // Spend the whole budget, as a task that polled many resources would have.
            while coop::poll_proceed(&mut cx)
                .map(|r| r.made_progress())
                .is_ready()
            {}
            counter.0.store(0, Ordering::Relaxed);
            assert!(
                fut.as_mut().poll(&mut cx).is_pending(),
                "an always-ready branch must yield"
            );
            assert_eq!(
                counter.0.load(Ordering::Relaxed),
                1,
                "and wake its task to run again"
            );
        });
        // With a fresh budget (the next poll of the task), it completes.
        assert_eq!(
            coop::budget(|| fut.as_mut().poll(&mut cx)),
            StdPoll::Ready(1)
        );
    }

    #[test]
    fn maybe_done_keeps_the_output_until_taken_once() {
        let polls = std::cell::Cell::new(0);
        let mut done = std::pin::pin!(maybe_done(poll_fn(|_| {
            polls.set(polls.get() + 1);
            if polls.get() < 2 {
                StdPoll::Pending
            } else {
                StdPoll::Ready("out")
            }
        })));
        let mut cx = StdContext::from_waker(Waker::noop());
        assert!(done.as_mut().poll(&mut cx).is_pending());
        assert!(done.as_mut().poll(&mut cx).is_ready());
        // Done: further polls do not reach the finished future.
        assert!(done.as_mut().poll(&mut cx).is_ready());
        assert_eq!(done.as_mut().take_output(), "out");
        assert!(matches!(*done, MaybeDone::Gone));
        assert_eq!(polls.get(), 2);
    }

    #[test]
    #[should_panic(expected = "take_output called in state MaybeDone::Future")]
    fn maybe_done_take_output_before_completion_panics() {
        let mut running = std::pin::pin!(maybe_done(std::future::pending::<()>()));
        running.as_mut().take_output();
    }

    #[test]
    fn maybe_done_take_err_only_takes_errors() {
        let mut cx = StdContext::from_waker(Waker::noop());
        let mut ok = std::pin::pin!(maybe_done(ready(Ok::<u8, &str>(1))));
        assert!(ok.as_mut().poll(&mut cx).is_ready());
        assert_eq!(ok.as_mut().take_err(), None);
        assert_eq!(ok.as_mut().take_ok(), 1);

        let mut err = std::pin::pin!(maybe_done(ready(Err::<u8, &str>("e"))));
        assert!(err.as_mut().poll(&mut cx).is_ready());
        assert_eq!(err.as_mut().take_err(), Some("e"));
        assert!(matches!(*err, MaybeDone::Gone));
    }
}
