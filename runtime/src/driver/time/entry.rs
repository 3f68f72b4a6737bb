//! Timer entries: the part of a timer that the wheel links, and its owner-side face.
//!
//! A [`TimerEntry`] is embedded (pinned) in the future that owns it, such as `Sleep`; the wheel
//! links its [`TimerShared`] part into a slot list by raw pointer, so registering allocates
//! nothing. The owner polls, resets and drops the entry on its thread; the thread that owns
//! the driver fires it at the same time. The [`State`] word arbitrates:
//!
//! | state | meaning | who moves it out |
//! | --- | --- | --- |
//! | `Idle` | in no wheel and not fired: new, reset, cancelled, or cut off by shutdown | the owner, under the wheel lock (register) or alone (to `Fired` if the deadline has passed) |
//! | `Registered(tick)` | in the wheel, due at `tick` | the firer (to `Firing`) or the owner (to `Idle` / `Registered(t2)`), both under the wheel lock |
//! | `Firing` | unlinked by the firer, whose waker is being taken | the firer (to `Fired`), before it releases the lock |
//! | `Fired` | the deadline has come and the firer is done with the entry | the owner (reset, to `Idle`) |
//!
//! Protocol:
//! 1. First poll: the owner stores its waker, then registers under the lock (`Idle ->
//!    Registered`), or completes at once if the deadline has passed.
//! 2. Fire (driver thread, lock held): unlink, store `Firing`, take the waker, store `Fired`
//!    (Release), then, after releasing the lock, wake the waker.
//! 3. Later polls: store the (possibly new) waker, then load the state (Acquire): `Firing` or
//!    `Fired` means done. A waker stored while step 2 runs is woken by the owner itself or
//!    found by the firer (see `waker.rs`), so a changed waker is never missed.
//! 4. Cancel (drop) and reset load the state first and take the lock only when it is
//!    `Registered` or `Firing`. Loading `Fired` with Acquire (partner: the Release in step 2)
//!    proves the firer no longer touches the entry, so it can be freed or re-used without the
//!    lock. `Firing` is only visible to threads without the lock; taking the lock waits it out.
//!    A `Registered` entry is unlinked under the lock, so no firer can reach it afterwards.

use std::fmt;
use std::marker::PhantomPinned;
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{Context, Poll, Waker};
use std::time::Instant as StdInstant;

use super::waker::AtomicWaker;
use super::{Handle, Registration};
use crate::loom::cell::UnsafeCell;
use crate::loom::sync::atomic::{AtomicU64, Ordering};

const IDLE: u64 = u64::MAX;
const FIRING: u64 = u64::MAX - 1;
const FIRED: u64 = u64::MAX - 2;
/// The largest tick a `Registered` state can carry; the words above it name other states.
pub(crate) const MAX_TICK: u64 = u64::MAX - 3;

/// A decoded state word (see the module doc for the transitions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    Idle,
    Registered(u64),
    Firing,
    Fired,
}

impl State {
    fn decode(word: u64) -> State {
        match word {
            IDLE => State::Idle,
            FIRING => State::Firing,
            FIRED => State::Fired,
            tick => State::Registered(tick),
        }
    }

    fn encode(self) -> u64 {
        match self {
            State::Idle => IDLE,
            State::Firing => FIRING,
            State::Fired => FIRED,
            State::Registered(tick) => {
                debug_assert!(tick <= MAX_TICK);
                tick.min(MAX_TICK)
            }
        }
    }

    /// The deadline has come: `Firing` or `Fired`.
    pub(crate) fn is_elapsed(self) -> bool {
        matches!(self, State::Firing | State::Fired)
    }
}

/// The wheel's links: which slot list an entry is in and its neighbours there. Only touched
/// under the wheel lock while the entry is registered.
#[derive(Debug)]
pub(crate) struct Links {
    pub(crate) prev: Option<NonNull<TimerShared>>,
    pub(crate) next: Option<NonNull<TimerShared>>,
    /// The tick the entry fires at (after clamping).
    pub(crate) tick: u64,
    /// `(level * SLOTS + slot) * CHAINS + chain` (see the wheel).
    pub(crate) slot: u16,
}

/// The part of an entry that the driver thread touches.
pub(crate) struct TimerShared {
    state: AtomicU64,
    waker: AtomicWaker,
    links: UnsafeCell<Links>,
    /// The wheel holds pointers to this struct.
    _pin: PhantomPinned,
}

// SAFETY: `state` and `waker` are thread-safe; `links` is only touched under the wheel lock
// (the `# Safety` contract of `with_links`), and the pointers in it are only followed there.
unsafe impl Send for TimerShared {}
// SAFETY: as for `Send`.
unsafe impl Sync for TimerShared {}

impl TimerShared {
    pub(crate) fn new() -> Self {
        TimerShared {
            state: AtomicU64::new(IDLE),
            waker: AtomicWaker::new(),
            links: UnsafeCell::new(Links {
                prev: None,
                next: None,
                tick: 0,
                slot: 0,
            }),
            _pin: PhantomPinned,
        }
    }

    pub(crate) fn state(&self, order: Ordering) -> State {
        State::decode(self.state.load(order))
    }

    pub(crate) fn set_state(&self, state: State, order: Ordering) {
        self.state.store(state.encode(), order);
    }

    /// Fire step 2 (module doc): mark the entry fired and take its waker.
    ///
    /// # Safety
    /// `this` was just removed from the wheel by the caller, who holds the wheel lock.
    pub(crate) unsafe fn fire(this: NonNull<TimerShared>) -> Option<Waker> {
        // SAFETY: an entry is live while in the wheel, and it left the wheel under the lock
        // that we still hold, so its owner cannot have freed it (its drop takes the lock).
        let entry = unsafe { this.as_ref() };
        // Relaxed: the AcqRel RMW in `take` publishes it (waker.rs, step 4).
        entry.set_state(State::Firing, Ordering::Relaxed);
        let waker = entry.waker.take();
        // Release pairs with the owner's Acquire loads (step 4): after it, we never touch
        // the entry again.
        entry.set_state(State::Fired, Ordering::Release);
        waker
    }

    /// Cuts an entry off at shutdown: back to `Idle`, without firing; returns its waker so
    /// that the caller can drop it after releasing the lock.
    ///
    /// # Safety
    /// As for [`TimerShared::fire`].
    pub(crate) unsafe fn cut_off(this: NonNull<TimerShared>) -> Option<Waker> {
        // SAFETY: as in `fire`.
        let entry = unsafe { this.as_ref() };
        entry.set_state(State::Firing, Ordering::Relaxed);
        let waker = entry.waker.take();
        // Release, as in `fire`: the owner may free the entry once it sees `Idle`.
        entry.set_state(State::Idle, Ordering::Release);
        waker
    }

    /// Takes the waker (the owner, resetting to a tick that has already come).
    pub(crate) fn waker_take(&self) -> Option<Waker> {
        self.waker.take()
    }

    /// Runs `f` on the entry's links.
    ///
    /// # Safety
    /// `this` is live and the caller holds the lock of the wheel that the entry is in (or is
    /// about to be put in), so nobody else touches the links.
    pub(crate) unsafe fn with_links<R>(
        this: NonNull<TimerShared>,
        f: impl FnOnce(&mut Links) -> R,
    ) -> R {
        // SAFETY: live (contract); exclusive access to `links` by the lock (contract).
        unsafe { this.as_ref().links.with_mut(|links| f(&mut *links)) }
    }
}

impl fmt::Debug for TimerShared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimerShared")
            .field("state", &self.state(Ordering::Relaxed))
            .finish()
    }
}

/// How an entry reaches its time driver: a runtime handle in `corio::time`, a bare driver
/// handle in tests.
pub(crate) trait TimeDriverRef {
    /// The time driver that fires the entry.
    fn time_handle(&self) -> &Handle;
    /// Wakes the thread parked on the driver: a timer earlier than the one it waits for was
    /// registered.
    fn unpark(&self);
}

/// An owned timer: a deadline plus the state the wheel shares. Not `Unpin`: once polled, the
/// wheel may point into it until it is dropped.
pub(crate) struct TimerEntry<R: TimeDriverRef> {
    driver: R,
    deadline: StdInstant,
    /// The wheel shard it registered in (meaningful while it is registered).
    shard: usize,
    shared: TimerShared,
}

impl<R: TimeDriverRef> TimerEntry<R> {
    /// A timer for `deadline`; it registers on its first poll.
    pub(crate) fn new(driver: R, deadline: StdInstant) -> Self {
        TimerEntry {
            driver,
            deadline,
            shard: 0,
            shared: TimerShared::new(),
        }
    }

    pub(crate) fn deadline(&self) -> StdInstant {
        self.deadline
    }

    /// The deadline has come and the timer fired (or completed at once).
    pub(crate) fn is_elapsed(&self) -> bool {
        self.shared.state(Ordering::Acquire).is_elapsed()
    }

    /// The current state (for tests and `Debug`).
    pub(crate) fn state(&self) -> State {
        self.shared.state(Ordering::Acquire)
    }

    /// Polls for the deadline: steps 1 and 3 of the module protocol.
    pub(crate) fn poll_elapsed(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.as_ref().get_ref();
        // Acquire pairs with the Release store of `Fired` (step 2).
        match this.shared.state(Ordering::Acquire) {
            State::Firing | State::Fired => Poll::Ready(()),
            State::Registered(_) => {
                this.shared.waker.register(cx.waker());
                if this.shared.state(Ordering::Acquire).is_elapsed() {
                    Poll::Ready(())
                } else {
                    Poll::Pending
                }
            }
            State::Idle => {
                // SAFETY: `register` writes the `shard` field and moves nothing out of the
                // pinned entry.
                unsafe { self.as_mut().get_unchecked_mut() }.register(cx)
            }
        }
    }

    #[cold]
    fn register(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        self.shard = self.driver.time_handle().pick_shard();
        let time = self.driver.time_handle();
        if time.is_shutdown() {
            panic!("{}", super::SHUTDOWN_MESSAGE);
        }
        if self.deadline <= time.clock().now() {
            // Idle entries are in no wheel: nobody else looks at this one.
            self.shared.set_state(State::Fired, Ordering::Relaxed);
            return Poll::Ready(());
        }
        // The waker goes in before the entry becomes visible to the firer (step 1).
        self.shared.waker.register(cx.waker());
        let tick = time.deadline_to_tick(self.deadline);
        // SAFETY: `self` is pinned (we got here through `Pin<&mut Self>`), and `Drop` removes
        // the entry from the wheel before the memory goes away.
        match unsafe { time.register(NonNull::from(&self.shared), tick, self.shard) } {
            Registration::Registered { unpark } => {
                if unpark {
                    self.driver.unpark();
                }
                Poll::Pending
            }
            Registration::Elapsed => Poll::Ready(()),
            Registration::Shutdown => panic!("{}", super::SHUTDOWN_MESSAGE),
        }
    }

    /// Moves the deadline. A registered timer moves in the wheel at once (keeping its waker);
    /// any other goes back to `Idle` and registers on its next poll.
    pub(crate) fn reset(self: Pin<&mut Self>, deadline: StdInstant) {
        // SAFETY: only `deadline` is changed in place; `shared` is not moved.
        let this = unsafe { self.get_unchecked_mut() };
        this.deadline = deadline;
        match this.shared.state(Ordering::Acquire) {
            State::Idle | State::Fired => {
                // The firer is done with the entry (step 4), so no lock is needed.
                this.shared.set_state(State::Idle, Ordering::Relaxed);
            }
            State::Registered(_) | State::Firing => {
                let time = this.driver.time_handle();
                let tick = time.deadline_to_tick(deadline);
                // SAFETY: pinned and removed before drop, as in `register`.
                let (waker, unpark) =
                    unsafe { time.reregister(NonNull::from(&this.shared), tick, this.shard) };
                if unpark {
                    this.driver.unpark();
                }
                if let Some(waker) = waker {
                    waker.wake();
                }
            }
        }
    }
}

impl<R: TimeDriverRef> Drop for TimerEntry<R> {
    fn drop(&mut self) {
        // Step 4: only a registered (or firing) entry needs the lock.
        if matches!(
            self.shared.state(Ordering::Acquire),
            State::Registered(_) | State::Firing
        ) {
            // SAFETY: the entry is live (we are in its drop) and was registered by this
            // entry's own `register`/`reset` with this driver.
            unsafe {
                self.driver
                    .time_handle()
                    .cancel(NonNull::from(&self.shared), self.shard)
            };
        }
    }
}

impl<R: TimeDriverRef> fmt::Debug for TimerEntry<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimerEntry")
            .field("deadline", &self.deadline)
            .field("state", &self.state())
            .finish()
    }
}
