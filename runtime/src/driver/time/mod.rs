//! The time driver: one hierarchical timer wheel per runtime, fired from the park path.
//!
//! Responsibilities: turn deadlines into 1 ms ticks (rounding up, so nothing fires early),
//! keep pending timers in the [`wheel`], tell the parking thread how long it may sleep, fire
//! what has expired, and jump virtual time forward when a paused runtime goes idle.
//!
//! Pieces: [`Clock`] (real or virtual time), `wheel::Wheel` (the data structure; one per
//! shard, each behind its own lock), `entry::TimerEntry` (the pinned per-timer record and
//! its state word; its module doc has the entry protocol), `waker::AtomicWaker` (the
//! entry's waker slot).
//!
//! Protocol of one park ([`super::Driver::park`]):
//! 1. [`Handle::park_timeout`] shortens the caller's time-out to the next slot start of the
//!    wheel and records it as `parked_until` (not for a zero time-out: a turn that does not
//!    sleep needs no unpark). With time paused and a real (non-zero) park, it
//!    instead advances the clock to that slot start and asks for a zero wait: the runtime is
//!    idle, so virtual time jumps to the next timer. Not while auto-advance is inhibited
//!    (`spawn_blocking` work is running, which the runtime cannot see finish sooner than
//!    it does): then it waits like a real park, and [`Handle::allow_auto_advance`] unparks it.
//! 2. The driver waits for I/O with that time-out.
//! 3. [`Handle::process`] clears `parked_until`, then repeatedly takes the lock, pops up to
//!    [`WAKE_BATCH`] expired entries (firing each: see `entry.rs`), releases the lock and wakes
//!    them. The lock is never held while a waker runs: a wake may drop the last reference to
//!    a task whose `Sleep` then takes this lock to cancel another timer.
//!
//! Registration from another thread (the `Sleep` face, on its first poll) returns
//! `unpark = true` when its tick is earlier than `parked_until`; the caller then unparks the
//! driver, which re-runs step 1 with the new deadline.
//!
//! Shards: a multi-thread runtime has one wheel per worker, and a timer registers in its
//! thread's shard (a worker's own index; other threads take turns) and stays there until
//! it fires or is cancelled; each busy worker fires its own shard (see
//! [`Handle::process_without_driver`]). Why: with one wheel, one thread fired 2,000 timers a
//! millisecond in the 100,000-sleep benchmark while both workers' registrations contended
//! for its lock (a contended `parking_lot` lock yields and then sleeps, and on two cores
//! shared with a spawning thread a sleeper lost a 3-4 ms OS time slice). Sharding with one
//! firer was measured worse; splitting the firing is what lowered the tail. Step 1 visits
//! every shard, one lock at a time, records each shard's own next tick as that shard's
//! `parked_until` and sleeps until the earliest, so a registration earlier than the
//! wake-up always unparks (it is earlier than its own shard's record too); one later than
//! the wake-up but earlier than its shard's record unparks needlessly (one extra turn).
//! Step 3 skips a shard whose lock is busy if someone began firing it at this tick; its
//! stale `parked_until` can only cause such a needless unpark, and its due timers keep the
//! next step 1's wait at zero.
//!
//! Shutdown ([`Handle::shutdown`]) sets a flag and empties the wheel without firing anything;
//! the entries go back to `Idle` and their wakers are dropped (outside the lock).

use std::cell::Cell;
use std::fmt;
use std::ptr::NonNull;
use std::task::Waker;
use std::time::{Duration, Instant as StdInstant};

use crate::loom::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use crate::loom::sync::{Arc, Mutex, MutexGuard};
use crate::loom::StaticAtomicU64;
use crate::util::cache_padded::CachePadded;

mod clock;
mod entry;
mod waker;
mod wheel;

#[cfg(all(test, loom))]
mod loom_tests;
#[cfg(all(test, not(loom)))]
mod tests;
#[cfg(all(test, not(loom)))]
mod wheel_tests;

pub(crate) use clock::{any_virtual_clock, Clock};
pub(crate) use entry::{State, TimeDriverRef, TimerEntry};

use entry::{TimerShared, MAX_TICK};
use wheel::Wheel;

crate::loom::thread_local! {
    /// This thread's wheel shard, modulo the number of shards: a worker's index (set when
    /// it starts), else a number handed out on first use.
    #[allow(clippy::missing_const_for_thread_local)]
    static SHARD_HINT: Cell<usize> = Cell::new(usize::MAX);
}

/// Numbers for threads that are not workers (`block_on` callers, blocking threads).
static NEXT_SHARD_HINT: StaticAtomicU64 = StaticAtomicU64::new(0);

/// Worker `index` registers its timers in shard `index` (see "Shards" above).
pub(crate) fn set_shard_hint(index: usize) {
    let _ = SHARD_HINT.try_with(|h| h.set(index));
}

fn shard_hint() -> usize {
    SHARD_HINT
        .try_with(|h| {
            if h.get() == usize::MAX {
                // Relaxed: a unique-enough number, nothing to synchronize.
                h.set(NEXT_SHARD_HINT.fetch_add(1, Ordering::Relaxed) as usize);
            }
            h.get()
        })
        .unwrap_or(0)
}

/// Expired timers woken per lock hold (see step 3).
pub(crate) const WAKE_BATCH: usize = 32;

/// Panic message for a timer used after its runtime shut down.
pub(crate) const SHUTDOWN_MESSAGE: &str = "a corio timer was polled after its runtime shut \
    down, so it can never fire: keep the Runtime alive while its timers are in use (timers \
    belong to the runtime they were created in)";

/// The owned half of the time driver: dropping it (with the runtime's driver, at shutdown)
/// shuts the wheel down, so pending timers never fire afterwards.
#[derive(Debug)]
pub(crate) struct Driver {
    handle: Arc<Handle>,
}

impl Driver {
    /// `shards`: one per worker (see "Shards" above).
    /// `reactor`: the I/O driver that the runtime parks on (see [`Handle::unpark_driver`]).
    pub(crate) fn new(
        clock: Clock,
        shards: usize,
        reactor: crate::driver::io::Handle,
    ) -> (Driver, Arc<Handle>) {
        let mut handle = Handle::with_clock_and_shards(clock, shards);
        handle.reactor = Some(reactor);
        let handle = Arc::new(handle);
        (
            Driver {
                handle: handle.clone(),
            },
            handle,
        )
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        self.handle.shutdown();
    }
}

/// The shared half of the time driver: every thread of the runtime uses it.
pub(crate) struct Handle {
    clock: Clock,
    /// Tick 0. Ticks are milliseconds of the clock's time since then.
    origin: StdInstant,
    shards: Box<[CachePadded<Shard>]>,
    /// Set by `shutdown` before it locks any shard; read without a lock by `process` and
    /// `park_timeout`.
    is_shutdown: AtomicBool,
    /// Blocking closures in flight: while non-zero, paused time does not jump (step 1).
    inhibit_auto_advance: AtomicUsize,
    /// Wakes the thread parked on the runtime's driver (its I/O reactor), for a timer
    /// registered earlier than that thread's wake-up. `None` for a wheel without a reactor
    /// (the time driver's own tests).
    reactor: Option<crate::driver::io::Handle>,
}

/// Ticks after which a busy worker stops waiting for a sibling to fire the sibling's own
/// shard and fires it itself ([`Handle::process_without_driver`]).
const OWNER_LAG: u64 = 1;

/// One wheel and what is known about its firing.
struct Shard {
    shared: Mutex<Shared>,
    /// The latest tick at which some thread began a firing pass of this shard. Others leave
    /// the shard alone while it is current (two threads firing one wheel only fight over
    /// its lock), and fire it once it lags: its owner may be descheduled by the OS.
    fired_at: AtomicU64,
}

#[derive(Debug)]
struct Shared {
    wheel: Wheel,
    /// While the driver is between `park_timeout` and `process`: the tick it will wake at
    /// (`u64::MAX`: none). `None` when it is not parked.
    parked_until: Option<u64>,
}

/// The result of [`Handle::register`].
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Registration {
    /// In the wheel. `unpark`: earlier than the parked driver's wake-up; unpark it.
    Registered { unpark: bool },
    /// The tick has already come: the entry is `Fired` and was not inserted.
    Elapsed,
    /// The runtime shut down: the entry stays `Idle` forever.
    Shutdown,
}

impl Handle {
    /// A time driver on a real-time clock that cannot be paused.
    pub(crate) fn new() -> Self {
        Handle::with_clock(Clock::new())
    }

    /// A time driver on `clock` (current-thread runtimes pass [`Clock::pausable`]).
    pub(crate) fn with_clock(clock: Clock) -> Self {
        Handle::with_clock_and_shards(clock, 1)
    }

    /// A time driver with `shards` wheels (at least one).
    pub(crate) fn with_clock_and_shards(clock: Clock, shards: usize) -> Self {
        let origin = clock.origin();
        let shards = (0..shards.max(1))
            .map(|_| {
                CachePadded(Shard {
                    shared: Mutex::new(Shared {
                        wheel: Wheel::new(),
                        parked_until: None,
                    }),
                    fired_at: AtomicU64::new(0),
                })
            })
            .collect();
        Handle {
            clock,
            origin,
            shards,
            is_shutdown: AtomicBool::new(false),
            inhibit_auto_advance: AtomicUsize::new(0),
            reactor: None,
        }
    }

    /// Wakes the thread parked on the runtime's driver: a timer earlier than the one it
    /// waits for was registered.
    pub(crate) fn unpark_driver(&self) {
        if let Some(reactor) = &self.reactor {
            reactor.unpark();
        }
    }

    /// A blocking closure starts: paused time must not jump past its work.
    pub(crate) fn inhibit_auto_advance(&self) {
        self.inhibit_auto_advance.fetch_add(1, Ordering::SeqCst);
    }

    /// A blocking closure ended. The caller then unparks the driver, so that an idle paused
    /// runtime re-runs step 1 and jumps.
    pub(crate) fn allow_auto_advance(&self) {
        let prev = self.inhibit_auto_advance.fetch_sub(1, Ordering::SeqCst);
        debug_assert!(prev > 0, "allow_auto_advance without inhibit");
    }

    /// The runtime's clock: `corio::time::Instant::now()` and `pause()` go through it.
    pub(crate) fn clock(&self) -> &Clock {
        &self.clock
    }

    /// True once [`Handle::shutdown`] ran.
    pub(crate) fn is_shutdown(&self) -> bool {
        self.is_shutdown.load(Ordering::Acquire)
    }

    /// The first tick at or after `deadline` (rounding up: a timer never fires early).
    pub(crate) fn deadline_to_tick(&self, deadline: StdInstant) -> u64 {
        let nanos = deadline.saturating_duration_since(self.origin).as_nanos();
        u64::try_from(nanos.div_ceil(1_000_000))
            .unwrap_or(MAX_TICK)
            .min(MAX_TICK)
    }

    /// The last tick that has fully come (rounding down).
    fn now_tick(&self) -> u64 {
        let millis = self
            .clock
            .now()
            .saturating_duration_since(self.origin)
            .as_millis();
        u64::try_from(millis).unwrap_or(MAX_TICK).min(MAX_TICK)
    }

    /// The shard this thread registers its timers in.
    pub(crate) fn pick_shard(&self) -> usize {
        match self.shards.len() {
            1 => 0,
            n => shard_hint() % n,
        }
    }

    fn shard(&self, shard: usize) -> &Mutex<Shared> {
        &self.shards[shard].shared
    }

    /// Inserts an `Idle` entry at `tick` in `shard` and marks it `Registered` (or `Fired`).
    ///
    /// # Safety
    /// `entry` is pinned, `Idle`, and stays alive until it is cancelled through
    /// [`Handle::cancel`] (with the same `shard`) or observed `Fired` or `Idle` (the entry
    /// protocol, step 4).
    pub(crate) unsafe fn register(
        &self,
        entry: NonNull<TimerShared>,
        tick: u64,
        shard: usize,
    ) -> Registration {
        let mut shared = self.shard(shard).lock();
        if self.is_shutdown.load(Ordering::Relaxed) {
            return Registration::Shutdown;
        }
        // SAFETY: forwarded from this function's contract; we hold the lock.
        unsafe { shared.insert(entry, tick) }
    }

    /// Moves a registered entry to `tick`; an entry that is no longer registered goes `Idle`.
    /// Returns a waker to wake (the new tick has already come) and whether to unpark the
    /// driver.
    ///
    /// # Safety
    /// As for [`Handle::register`], except that the entry may be in any state; if it is
    /// registered, it is in `shard`.
    pub(crate) unsafe fn reregister(
        &self,
        entry: NonNull<TimerShared>,
        tick: u64,
        shard: usize,
    ) -> (Option<Waker>, bool) {
        let mut shared = self.shard(shard).lock();
        // SAFETY: the entry is live (contract).
        let this = unsafe { entry.as_ref() };
        // Relaxed: under the lock, which orders us after every transition but the owner's.
        let State::Registered(_) = this.state(Ordering::Relaxed) else {
            // The firer (or shutdown) got the lock first: `Fired` or `Idle`, in no wheel
            // (`Firing` is never visible under the lock). Like a reset of a fired timer, it
            // goes `Idle` and registers on its next poll; the firer woke its task already.
            this.set_state(State::Idle, Ordering::Relaxed);
            return (None, false);
        };
        // SAFETY: registered entries are in this wheel; we hold the lock.
        unsafe { shared.wheel.remove(entry) };
        this.set_state(State::Idle, Ordering::Relaxed);
        // SAFETY: the entry is live, pinned, `Idle` and ours; we hold the lock.
        match unsafe { shared.insert(entry, tick) } {
            Registration::Registered { unpark } => (None, unpark),
            _ => (this.waker_take(), false),
        }
    }

    /// Removes a registered entry from the wheel (it goes `Idle`); does nothing if it fired.
    ///
    /// # Safety
    /// `entry` is live and was registered with this handle, in `shard`.
    pub(crate) unsafe fn cancel(&self, entry: NonNull<TimerShared>, shard: usize) {
        let mut shared = self.shard(shard).lock();
        // SAFETY: live (contract).
        let this = unsafe { entry.as_ref() };
        if let State::Registered(_) = this.state(Ordering::Relaxed) {
            // SAFETY: registered entries are in this wheel; we hold the lock.
            unsafe { shared.wheel.remove(entry) };
            this.set_state(State::Idle, Ordering::Relaxed);
        }
    }

    /// Step 1: the time-out for the parking thread.
    pub(crate) fn park_timeout(&self, timeout: Option<Duration>) -> Option<Duration> {
        if self.is_shutdown() || timeout == Some(Duration::ZERO) {
            // A turn that does not sleep (a busy worker's maintenance) needs no wake-up and
            // records none: locking every shard here, each turn, made the workers contend
            // for each other's shard locks while they register timers.
            return timeout;
        }
        // Each shard records its own next tick (see "Shards" above).
        let next = self
            .shards
            .iter()
            .filter_map(|shard| {
                let mut shared = shard.shared.lock();
                let next = shared.wheel.next_deadline();
                shared.parked_until = Some(next.unwrap_or(u64::MAX));
                next
            })
            .min();
        let Some(next) = next else {
            return timeout;
        };
        let next_offset = Duration::from_millis(next);
        if self.clock.is_paused() {
            if self.inhibit_auto_advance.load(Ordering::SeqCst) > 0 {
                // Wait for the blocking work (its end unparks us) or the caller's time-out.
                return timeout;
            }
            if timeout != Some(Duration::ZERO) {
                // Idle with time paused: jump to the next timer instead of sleeping.
                if let Some(target) = self.origin.checked_add(next_offset) {
                    self.clock.advance_to(target);
                }
            }
            return Some(Duration::ZERO);
        }
        let now_offset = self.clock.now().saturating_duration_since(self.origin);
        let until = next_offset.saturating_sub(now_offset);
        Some(timeout.map_or(until, |t| t.min(until)))
    }

    /// Step 3: fires every timer whose tick has come: in this thread's own shard, in every
    /// shard no one began firing at this tick, and in the others if their lock is free.
    pub(crate) fn process(&self) {
        self.fire_expired(true);
    }

    /// Fires the timers of this thread's own shard whose tick has come, for a busy worker
    /// that could not take the driver, and those of a sibling's shard that no one began
    /// firing for [`OWNER_LAG`] ticks: the driver's holder may be parked, or a sibling
    /// descheduled by the OS in the middle of its turn, and timers must not wait for it.
    /// `parked_until` stays as it is, so that a registration earlier than the holder's wait
    /// still unparks it. Each worker firing its own shard, rather than the driver's holder
    /// firing all of them, splits 2,000 firings a millisecond between the workers, with no
    /// lock shared in the common case; a second thread firing a shard that is being fired
    /// would only contend for its lock (measured with one wheel: p99 lateness 17-40 ms
    /// without the lag filter, 13-22 ms with it).
    pub(crate) fn process_without_driver(&self) {
        self.fire_expired(false);
    }

    fn fire_expired(&self, holds_driver: bool) {
        if self.is_shutdown() {
            return;
        }
        let now = self.now_tick();
        let own = self.pick_shard();
        for (i, shard) in self.shards.iter().enumerate() {
            // Relaxed: a heuristic; a stale value only makes a thread fire or skip once.
            let fired_at = shard.fired_at.load(Ordering::Relaxed);
            let current = fired_at >= now;
            let lagging = now.saturating_sub(fired_at) >= OWNER_LAG;
            let guard = if (!current && (i == own || holds_driver)) || lagging {
                shard.shared.lock()
            } else if i == own || holds_driver {
                // Someone began firing it at this tick: help only if its lock is free (the
                // pass is over, or between batches).
                match shard.shared.try_lock() {
                    Some(guard) => guard,
                    None => continue,
                }
            } else {
                continue;
            };
            shard.fired_at.fetch_max(now, Ordering::Relaxed);
            self.fire_shard(&shard.shared, guard, now, holds_driver);
        }
    }

    /// Fires `shard`'s expired timers, `guard` being its lock (released while waking).
    fn fire_shard<'a>(
        &self,
        shard: &'a Mutex<Shared>,
        guard: MutexGuard<'a, Shared>,
        now: u64,
        holds_driver: bool,
    ) {
        let mut batch: [Option<Waker>; WAKE_BATCH] = Default::default();
        let mut guard = Some(guard);
        loop {
            let mut n = 0;
            let mut done = false;
            {
                let mut shared = guard.take().unwrap_or_else(|| shard.lock());
                if holds_driver {
                    shared.parked_until = None;
                }
                while n < WAKE_BATCH {
                    let Some(entry) = shared.wheel.poll_next(now) else {
                        done = true;
                        break;
                    };
                    // SAFETY: just removed from the wheel, lock held.
                    if let Some(waker) = unsafe { TimerShared::fire(entry) } {
                        // A task's waker points at the task: its first touch (the state
                        // word, in `wake` below) misses the cache, as the entry's did.
                        // Started now, the batch's loads overlap instead of queueing.
                        crate::util::prefetch::prefetch(waker.data().cast(), 64);
                        batch[n] = Some(waker);
                        n += 1;
                    }
                }
            }
            for waker in batch[..n].iter_mut() {
                waker.take().expect("batched waker").wake();
            }
            if done {
                return;
            }
        }
    }

    /// Empties the wheel without firing anything; later registrations fail. Idempotent.
    pub(crate) fn shutdown(&self) {
        // Release pairs with the Acquire in `is_shutdown`. Stored before any shard is
        // locked: a registration that takes a shard's lock after we emptied it sees it.
        self.is_shutdown.store(true, Ordering::Release);
        for shard in self.shards.iter() {
            Handle::shutdown_shard(&shard.shared);
        }
    }

    fn shutdown_shard(shard: &Mutex<Shared>) {
        let mut batch: [Option<Waker>; WAKE_BATCH] = Default::default();
        loop {
            let mut n = 0;
            {
                let mut shared = shard.lock();
                while n < WAKE_BATCH {
                    let Some(entry) = shared.wheel.pop_any() else {
                        break;
                    };
                    // SAFETY: just removed from the wheel, lock held.
                    batch[n] = unsafe { TimerShared::cut_off(entry) };
                    n += 1;
                }
            }
            // Dropped outside the lock: dropping a waker may drop a task and its timers.
            let was_full = n == WAKE_BATCH;
            batch[..n].iter_mut().for_each(|w| drop(w.take()));
            if !was_full {
                return;
            }
        }
    }

    /// How many timers are registered (`Debug`, tests).
    pub(crate) fn num_registered(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.shared.lock().wheel.len())
            .sum()
    }
}

impl Shared {
    /// # Safety
    /// As for [`Handle::register`]; the caller holds the lock.
    unsafe fn insert(&mut self, entry: NonNull<TimerShared>, tick: u64) -> Registration {
        // SAFETY: live (contract).
        let this = unsafe { entry.as_ref() };
        // SAFETY: forwarded from the contract.
        match unsafe { self.wheel.insert(entry, tick) } {
            Ok(tick) => {
                // Relaxed: the owner's own transition; the firer reads it under the lock.
                this.set_state(State::Registered(tick), Ordering::Relaxed);
                let unpark = matches!(self.parked_until, Some(until) if tick < until);
                if unpark {
                    // Later registrations before the driver wakes need no second unpark.
                    self.parked_until = Some(tick);
                }
                Registration::Registered { unpark }
            }
            Err(()) => {
                this.set_state(State::Fired, Ordering::Relaxed);
                Registration::Elapsed
            }
        }
    }
}

impl Default for Handle {
    fn default() -> Self {
        Handle::new()
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("time::Handle")
            .field("clock", &self.clock)
            .field("is_shutdown", &self.is_shutdown())
            .field("registered", &self.num_registered())
            .finish_non_exhaustive()
    }
}
