//! Virtual time for tests: [`pause`], [`advance`], [`resume`].

use std::future::poll_fn;
use std::task::Poll;
use std::time::Duration;

use super::context::RuntimeTime;
use crate::driver::time::TimeDriverRef;

/// Freezes the current runtime's clock. While it is paused and the runtime has nothing to run,
/// time jumps to the next timer's deadline at once; [`Instant::now`](super::Instant::now)
/// stands still otherwise. "Nothing to run" includes no `spawn_blocking` closure still
/// running or queued: time waits for those (in real time) before it jumps.
///
/// # Panics
/// Outside a runtime, on a multi-thread runtime (time is shared by all its workers), and if
/// time is already paused.
///
/// ```
/// use std::time::Duration;
/// use corio::time::{self, Instant};
/// corio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
///     time::pause();
///     let start = Instant::now();
///     time::sleep(Duration::from_secs(3600)).await; // completes at once
///     assert_eq!(start.elapsed(), Duration::from_secs(3600));
/// });
/// ```
#[track_caller]
pub fn pause() {
    RuntimeTime::current("corio::time::pause")
        .time_handle()
        .clock()
        .pause();
}

/// Lets the current runtime's paused clock run again, from the time it stands at.
///
/// # Panics
/// Outside a runtime, and if time is not paused.
#[track_caller]
pub fn resume() {
    RuntimeTime::current("corio::time::resume")
        .time_handle()
        .clock()
        .resume();
}

/// Moves paused time forward by `duration`, fires the timers that are due, and yields once so
/// that the tasks they woke can run.
///
/// # Panics
/// Outside a runtime, and if time is not paused.
///
/// ```
/// use std::time::Duration;
/// use corio::time;
/// corio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
///     time::pause();
///     let sleep = time::sleep(Duration::from_millis(10));
///     let mut sleep = std::pin::pin!(sleep);
///     assert!(futures_lite::future::poll_once(sleep.as_mut()).await.is_none());
///     time::advance(Duration::from_millis(10)).await;
///     assert!(sleep.is_elapsed());
/// });
/// ```
pub async fn advance(duration: Duration) {
    let time = RuntimeTime::current("corio::time::advance");
    time.time_handle().clock().advance(duration);
    time.time_handle().process();
    let mut yielded = false;
    poll_fn(move |cx| {
        if yielded {
            return Poll::Ready(());
        }
        yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    })
    .await
}
