//! [`Timeout`]: a future with a deadline.

use std::fmt;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use super::context::RuntimeTime;
use super::error::Elapsed;
use super::sleep::Sleep;
use super::Instant;
use crate::coop;

/// Runs `future` for at most `duration`: `Ok(output)` if it completes first, else
/// `Err(Elapsed)` (and `future` is dropped with the `Timeout`).
///
/// # Panics
/// Outside a corio runtime.
///
/// ```
/// use std::time::Duration;
/// use corio::time::{sleep, timeout};
/// corio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
///     assert_eq!(timeout(Duration::from_secs(5), async { 7 }).await, Ok(7));
///     let slow = sleep(Duration::from_secs(5));
///     assert!(timeout(Duration::from_millis(1), slow).await.is_err());
/// });
/// ```
#[track_caller]
pub fn timeout<F: IntoFuture>(duration: Duration, future: F) -> Timeout<F::IntoFuture> {
    let time = RuntimeTime::current("corio::time::timeout");
    let now = time.now();
    let deadline = now
        .checked_add(duration)
        .unwrap_or_else(|| Instant::far_future_from(now));
    Timeout {
        value: future.into_future(),
        delay: Sleep::new(time, Instant::from_std(deadline)),
    }
}

/// Runs `future` until `deadline` at most (see [`timeout`]).
///
/// # Panics
/// Outside a corio runtime.
#[track_caller]
pub fn timeout_at<F: IntoFuture>(deadline: Instant, future: F) -> Timeout<F::IntoFuture> {
    let time = RuntimeTime::current("corio::time::timeout_at");
    Timeout {
        value: future.into_future(),
        delay: Sleep::new(time, deadline),
    }
}

/// The future of [`timeout`] and [`timeout_at`].
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Timeout<T> {
    value: T,
    delay: Sleep,
}

impl<T> Timeout<T> {
    /// The wrapped future.
    pub fn get_ref(&self) -> &T {
        &self.value
    }

    /// The wrapped future.
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.value
    }

    /// The wrapped future, giving up the deadline.
    pub fn into_inner(self) -> T {
        self.value
    }

    /// When the time runs out.
    pub fn deadline(&self) -> Instant {
        self.delay.deadline()
    }

    fn project(self: Pin<&mut Self>) -> (Pin<&mut T>, Pin<&mut Sleep>) {
        // SAFETY: structural pinning of both fields: a pinned `Timeout` never moves them
        // (`into_inner` and `get_mut` need an unpinned `Timeout`, which `!Unpin` `Sleep`
        // prevents once pinned), and `Timeout` has no `Drop` impl.
        unsafe {
            let this = self.get_unchecked_mut();
            (
                Pin::new_unchecked(&mut this.value),
                Pin::new_unchecked(&mut this.delay),
            )
        }
    }
}

impl<T: Future> Future for Timeout<T> {
    type Output = Result<T::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let (value, delay) = self.project();
        let had_budget = coop::has_budget_remaining();
        if let Poll::Ready(v) = value.poll(cx) {
            return Poll::Ready(Ok(v));
        }
        // If the inner future spent the last of the budget, the deadline must still be able
        // to win, or a busy future could never time out.
        let poll_delay = |cx: &mut Context<'_>| delay.poll(cx);
        let fired = if had_budget && !coop::has_budget_remaining() {
            coop::with_unconstrained(|| poll_delay(cx))
        } else {
            poll_delay(cx)
        };
        fired.map(|()| Err(Elapsed::new()))
    }
}

impl<T: fmt::Debug> fmt::Debug for Timeout<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timeout")
            .field("value", &self.value)
            .field("delay", &self.delay)
            .finish()
    }
}
