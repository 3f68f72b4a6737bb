//! The runtime's clock: real time, or virtual time that tests pause and advance.
//!
//! `now = base + (time since unfrozen, if running)`. Pausing folds the running part into
//! `base` and freezes it; `advance(d)` adds `d` to `base`; resuming starts the running part
//! again, so time continues from where virtual time stood (it never goes back).
//!
//! A clock that has never been paused answers `now()` with `std::time::Instant::now()` and no
//! lock. [`any_virtual_clock`] lets `corio::time::Instant::now()` skip looking up the runtime
//! when no clock in the process has ever been paused.

use std::fmt;
use std::time::{Duration, Instant as StdInstant};

use crate::loom::sync::atomic::{AtomicBool, Ordering};
use crate::loom::sync::Mutex;
use crate::loom::StaticAtomicU64;

/// How many live clocks have left real time (paused at least once).
static VIRTUAL_CLOCKS: StaticAtomicU64 = StaticAtomicU64::new(0);

/// True if some clock in the process runs on virtual time.
pub(crate) fn any_virtual_clock() -> bool {
    // Acquire pairs with the Release increment in `make_virtual`: a thread that sees a clock
    // paused through the runtime also sees the count (the pause happened-before).
    VIRTUAL_CLOCKS.load(Ordering::Acquire) != 0
}

/// A runtime's clock. See the module doc.
pub(crate) struct Clock {
    /// When the clock was made: tick 0 of the time driver. Paused time stands at a whole
    /// number of milliseconds after it (see `pause`).
    origin: StdInstant,
    /// Only current-thread runtimes may pause time (a multi-thread runtime would race it).
    pausable: bool,
    /// Set once the clock first pauses; never cleared. Until then `now()` is real time.
    is_virtual: AtomicBool,
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    base: StdInstant,
    /// `Some(t)`: running since real time `t`. `None`: paused at `base`.
    unfrozen: Option<StdInstant>,
}

impl Clock {
    /// A real-time clock that cannot be paused (multi-thread runtimes).
    pub(crate) fn new() -> Clock {
        Clock::with_options(false, false)
    }

    /// A clock that [`Clock::pause`] may pause, paused from the start if `start_paused`
    /// (current-thread runtimes; `Builder::start_paused`).
    pub(crate) fn pausable(start_paused: bool) -> Clock {
        Clock::with_options(true, start_paused)
    }

    fn with_options(pausable: bool, start_paused: bool) -> Clock {
        let now = StdInstant::now();
        let clock = Clock {
            origin: now,
            pausable,
            is_virtual: AtomicBool::new(false),
            inner: Mutex::new(Inner {
                base: now,
                unfrozen: Some(now),
            }),
        };
        if start_paused {
            clock.pause();
        }
        clock
    }

    /// The current time, virtual if the clock was ever paused.
    pub(crate) fn now(&self) -> StdInstant {
        // Acquire pairs with the Release in `make_virtual`; a stale `false` can only be seen
        // by a thread that did not pause this clock and is not synchronized with one that did,
        // i.e. outside the one thread of a current-thread runtime.
        if !self.is_virtual.load(Ordering::Acquire) {
            return StdInstant::now();
        }
        let inner = self.inner.lock();
        match inner.unfrozen {
            Some(since) => inner.base + since.elapsed(),
            None => inner.base,
        }
    }

    /// Freezes time. Panics, saying what to do instead, on a clock that cannot be paused or
    /// that is paused already.
    #[track_caller]
    pub(crate) fn pause(&self) {
        assert!(
            self.pausable,
            "corio::time::pause() needs a current-thread runtime (time is shared by every \
             worker of a multi-thread one): build the runtime with \
             Builder::new_current_thread(), or use #[corio::test]"
        );
        let mut inner = self.inner.lock();
        let since = inner.unfrozen.take().unwrap_or_else(|| {
            panic!("corio::time::pause(): time is already paused; call resume() first")
        });
        // Round up to a whole millisecond after the origin, so that paused time sits on a
        // tick boundary: `sleep(d)` then ends exactly `d` later and `advance(d)` fires it.
        let now = inner.base + since.elapsed();
        let millis = now
            .saturating_duration_since(self.origin)
            .as_nanos()
            .div_ceil(1_000_000);
        inner.base = self.origin + Duration::from_millis(u64::try_from(millis).unwrap_or(u64::MAX));
        self.make_virtual();
    }

    /// Tick 0 of the time driver.
    pub(crate) fn origin(&self) -> StdInstant {
        self.origin
    }

    /// Lets time run again from where it stands. Panics if it is not paused.
    #[track_caller]
    pub(crate) fn resume(&self) {
        let mut inner = self.inner.lock();
        assert!(
            inner.unfrozen.is_none(),
            "corio::time::resume(): time is not paused; call pause() first"
        );
        inner.unfrozen = Some(StdInstant::now());
    }

    /// True while time is paused.
    pub(crate) fn is_paused(&self) -> bool {
        self.is_virtual.load(Ordering::Acquire) && self.inner.lock().unfrozen.is_none()
    }

    /// Moves paused time forward by `duration`. Panics if time is not paused.
    #[track_caller]
    pub(crate) fn advance(&self, duration: Duration) {
        let mut inner = self.inner.lock();
        assert!(
            inner.unfrozen.is_none(),
            "corio::time::advance(): time is not paused; call corio::time::pause() first, or \
             build the runtime with start_paused(true)"
        );
        inner.base += duration;
    }

    /// Moves paused time forward to `target` if it is later than now; does nothing if time
    /// runs (the auto-advance of an idle runtime).
    pub(crate) fn advance_to(&self, target: StdInstant) {
        let mut inner = self.inner.lock();
        if inner.unfrozen.is_none() && target > inner.base {
            inner.base = target;
        }
    }

    fn make_virtual(&self) {
        if !self.is_virtual.swap(true, Ordering::Release) {
            // Release pairs with the Acquire in `any_virtual_clock`.
            VIRTUAL_CLOCKS.fetch_add(1, Ordering::Release);
        }
    }
}

impl Drop for Clock {
    fn drop(&mut self) {
        if self.is_virtual.load(Ordering::Relaxed) {
            VIRTUAL_CLOCKS.fetch_sub(1, Ordering::Release);
        }
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::new()
    }
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Clock")
            .field("pausable", &self.pausable)
            .field("paused", &self.is_paused())
            .finish()
    }
}
