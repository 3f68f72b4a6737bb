//! [`Interval`]: ticks at a fixed period.

use std::fmt;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use super::context::RuntimeTime;
use super::sleep::Sleep;
use super::Instant;

/// How late a tick may be before it counts as missed.
const MISSED_SLACK: Duration = Duration::from_millis(5);

/// An interval whose first tick completes at once, then every `period`.
///
/// # Panics
/// If `period` is zero, and outside a corio runtime.
///
/// ```
/// use std::time::Duration;
/// corio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
///     let mut interval = corio::time::interval(Duration::from_millis(2));
///     let first = interval.tick().await; // at once
///     let second = interval.tick().await;
///     assert!(second - first >= Duration::from_millis(2));
/// });
/// ```
#[track_caller]
pub fn interval(period: Duration) -> Interval {
    let time = RuntimeTime::current("corio::time::interval");
    let start = Instant::from_std(time.now());
    new_interval(time, start, period)
}

/// An interval whose first tick completes at `start`, then every `period`.
///
/// # Panics
/// If `period` is zero, and outside a corio runtime.
#[track_caller]
pub fn interval_at(start: Instant, period: Duration) -> Interval {
    new_interval(
        RuntimeTime::current("corio::time::interval_at"),
        start,
        period,
    )
}

#[track_caller]
fn new_interval(time: RuntimeTime, start: Instant, period: Duration) -> Interval {
    assert!(
        period > Duration::ZERO,
        "corio::time::interval: `period` must be non-zero"
    );
    Interval {
        delay: Box::pin(Sleep::new(time, start)),
        period,
        missed_tick_behavior: MissedTickBehavior::default(),
    }
}

/// What an [`Interval`] does when ticks were missed (the task came back more than a few
/// milliseconds after a tick was due).
///
/// With a period of 10 ms, ticks due at 10, 20, 30, ... and the task busy from 15 to 37 ms:
/// - `Burst` (the default): ticks at 37 (the 20 tick), 37 (30), then 40, 50, ...: it catches
///   up on every missed tick, back to back.
/// - `Delay`: ticks at 37, then 47, 57, ...: the schedule restarts from when it was late.
/// - `Skip`: ticks at 37, then 40, 50, ...: missed ticks are dropped; the schedule keeps its
///   phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MissedTickBehavior {
    /// Catch up on every missed tick at once.
    #[default]
    Burst,
    /// Restart the schedule one period after the late tick.
    Delay,
    /// Drop missed ticks; the next tick is the next multiple of the period.
    Skip,
}

impl MissedTickBehavior {
    /// The deadline after a tick that was due at `due` and taken at `now` (late).
    fn next_deadline(self, due: Instant, now: Instant, period: Duration) -> Instant {
        match self {
            MissedTickBehavior::Burst => add_or_far(due, period),
            MissedTickBehavior::Delay => add_or_far(now, period),
            MissedTickBehavior::Skip => {
                let late = (now - due).as_nanos();
                let into_period = (late % period.as_nanos()) as u64;
                add_or_far(now, period - Duration::from_nanos(into_period))
            }
        }
    }
}

fn add_or_far(at: Instant, by: Duration) -> Instant {
    at.checked_add(by)
        .unwrap_or_else(|| Instant::from_std(Instant::far_future_from(at.into_std())))
}

/// The stream of ticks of [`interval`] or [`interval_at`].
pub struct Interval {
    /// Boxed so that `Interval` is `Unpin` and `tick` can take `&mut self`.
    delay: Pin<Box<Sleep>>,
    period: Duration,
    missed_tick_behavior: MissedTickBehavior,
}

impl Interval {
    /// Waits for the next tick and returns when it was due.
    pub async fn tick(&mut self) -> Instant {
        poll_fn(|cx| self.poll_tick(cx)).await
    }

    /// Polls for the next tick (for hand-written futures and streams).
    pub fn poll_tick(&mut self, cx: &mut Context<'_>) -> Poll<Instant> {
        ready!(self.delay.as_mut().poll(cx));
        let due = self.delay.deadline();
        let now = Instant::now();
        let next = if now.saturating_duration_since(due) > MISSED_SLACK {
            self.missed_tick_behavior
                .next_deadline(due, now, self.period)
        } else {
            add_or_far(due, self.period)
        };
        // The sleep fired, so this only records the deadline: it registers on the next poll.
        self.delay.as_mut().reset(next);
        Poll::Ready(due)
    }

    /// Restarts the schedule: the next tick is one period from now.
    pub fn reset(&mut self) {
        self.reset_at(add_or_far(Instant::now(), self.period));
    }

    /// The next tick completes at once; later ones follow one period apart from now.
    pub fn reset_immediately(&mut self) {
        self.reset_at(Instant::now());
    }

    /// The next tick is `after` from now.
    pub fn reset_after(&mut self, after: Duration) {
        self.reset_at(add_or_far(Instant::now(), after));
    }

    /// The next tick is at `deadline`.
    pub fn reset_at(&mut self, deadline: Instant) {
        self.delay.as_mut().reset(deadline);
    }

    /// What happens when ticks are missed.
    pub fn missed_tick_behavior(&self) -> MissedTickBehavior {
        self.missed_tick_behavior
    }

    /// Sets what happens when ticks are missed.
    pub fn set_missed_tick_behavior(&mut self, behavior: MissedTickBehavior) {
        self.missed_tick_behavior = behavior;
    }

    /// The period.
    pub fn period(&self) -> Duration {
        self.period
    }
}

impl fmt::Debug for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Interval")
            .field("next", &self.delay.deadline())
            .field("period", &self.period)
            .field("missed_tick_behavior", &self.missed_tick_behavior)
            .finish()
    }
}
