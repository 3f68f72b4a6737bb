//! [`Sleep`]: a future that completes at a deadline.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use super::context::RuntimeTime;
use super::Instant;
use crate::coop;
use crate::driver::time::TimerEntry;

/// Waits until `duration` has passed (never less; the resolution is 1 ms).
///
/// # Panics
/// Outside a corio runtime.
///
/// ```
/// use std::time::Duration;
/// corio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
///     corio::time::sleep(Duration::from_millis(2)).await;
/// });
/// ```
#[track_caller]
pub fn sleep(duration: Duration) -> Sleep {
    let time = RuntimeTime::current("corio::time::sleep");
    let now = time.now();
    let deadline = now
        .checked_add(duration)
        .unwrap_or_else(|| Instant::far_future_from(now));
    Sleep::new(time, Instant::from_std(deadline))
}

/// Waits until `deadline` (at once if it has passed).
///
/// # Panics
/// Outside a corio runtime.
#[track_caller]
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep::new(RuntimeTime::current("corio::time::sleep_until"), deadline)
}

/// The future of [`sleep`] and [`sleep_until`]. It registers with the runtime's timer wheel
/// on its first poll and leaves the wheel as soon as it is dropped.
///
/// `Sleep` is `!Unpin` (the wheel points into it): to poll it by hand or keep it across loop
/// iterations, pin it (`std::pin::pin!`, `corio::pin!` or `Box::pin`).
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Sleep {
    entry: TimerEntry<RuntimeTime>,
}

impl Sleep {
    pub(crate) fn new(time: RuntimeTime, deadline: Instant) -> Sleep {
        Sleep {
            entry: TimerEntry::new(time, deadline.into_std()),
        }
    }

    /// When this sleep completes.
    pub fn deadline(&self) -> Instant {
        Instant::from_std(self.entry.deadline())
    }

    /// True once the deadline has been reached (the timer fired).
    pub fn is_elapsed(&self) -> bool {
        self.entry.is_elapsed()
    }

    /// Moves the deadline, earlier or later, also after the sleep completed: it then waits
    /// again for the new deadline.
    pub fn reset(self: Pin<&mut Self>, deadline: Instant) {
        self.entry().reset(deadline.into_std());
    }

    fn entry(self: Pin<&mut Self>) -> Pin<&mut TimerEntry<RuntimeTime>> {
        // SAFETY: structural pinning: `entry` is never moved out of a pinned `Sleep`, and
        // `Sleep` has no `Drop` of its own that could move it (the entry's drop runs in place).
        unsafe { self.map_unchecked_mut(|s| &mut s.entry) }
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let restore = ready!(coop::poll_proceed(cx));
        ready!(self.entry().poll_elapsed(cx));
        restore.made_progress();
        Poll::Ready(())
    }
}

impl fmt::Debug for Sleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sleep")
            .field("deadline", &self.deadline())
            .field("is_elapsed", &self.is_elapsed())
            .finish()
    }
}
