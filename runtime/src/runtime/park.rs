//! Blocking a plain thread on a future: `block_on` outside the workers.
//!
//! Protocol (the parker's state word: `EMPTY`, `PARKED`, `NOTIFIED`):
//! 1. Poll the future with a waker that unparks this thread.
//! 2. If `Pending`, park: consume `NOTIFIED` (swap to `EMPTY`) and poll again if it was set.
//!    Otherwise spin for a while (step 3), then take the lock and move `EMPTY` to `PARKED`
//!    under it (if that fails, the word is `NOTIFIED`: consume it and poll again) and wait on
//!    the condvar until the word is `NOTIFIED`.
//! 3. The spin: `block_on`'s thread is not a worker, so each time it sleeps, the task that
//!    wakes it pays a futex wake-up, the OS a context switch on each side (and, in a virtual
//!    machine, the wake-up of a halted virtual CPU), and the woken thread preempts a running
//!    worker when the cores are busy. When wake-ups come within microseconds (a channel
//!    receiver in `block_on` keeping up with producers on the workers), watching the word
//!    for a few microseconds first skips all of that. Only after a short wait: a sleep that
//!    lasted at most [`SHORT_WAIT`] makes the next park spin for up to [`MAX_SPIN`], a longer
//!    one turns the spin off until a sleep is short again, so a thread that waits long (for a
//!    timer, for a whole batch of tasks) never spins. And politely: each turn of the spin is
//!    a `sched_yield`, which returns at once on an idle CPU but hands the CPU over to a
//!    runnable worker that shares it, so the spin never holds a core a worker needs.
//! 4. `unpark` swaps in `NOTIFIED` and touches the lock and the condvar only if the word was
//!    `PARKED`: a thread that runs or spins needs no system call to see the flag. Taking the
//!    lock orders the notify after the sleeper's wait began (it set `PARKED` under the lock).
//! 5. The parker and the spin budget belong to the thread, not to one `block_on` call: they
//!    wait in a thread-local between calls. Synchronous code that calls `block_on` in a loop
//!    (a request at a time) then allocates no parker per call, and a short last sleep in one
//!    call lets the first wait of the next one spin, which a budget that started at zero in
//!    every call never did. A call takes the pair out for its duration, so a nested call gets
//!    a pair of its own and can never consume a notification meant for the outer one. A
//!    waker kept from an earlier call may still unpark the parker: the next call then polls
//!    its future once for nothing, which every future allows.

use std::cell::Cell;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};
use std::time::{Duration, Instant};

use crate::coop;
use crate::loom::sync::atomic::{
    AtomicUsize,
    Ordering::{Acquire, Relaxed, Release},
};
use crate::loom::sync::{Arc, Condvar, Mutex};

const EMPTY: usize = 0;
const PARKED: usize = 1;
const NOTIFIED: usize = 2;

/// The longest spin before sleeping (step 3).
const MAX_SPIN: Duration = Duration::from_micros(20);

/// A sleep at most this long says the wake-ups come soon: spin before the next one.
const SHORT_WAIT: Duration = Duration::from_micros(100);

/// Turns of the spin (each a `sched_yield`, 0.2-1 us) between two reads of the clock.
const SPINS_PER_CLOCK_READ: u32 = 4;

/// Wakes one thread blocked in [`block_on`] (or in [`Parker::park`]).
#[derive(Debug)]
pub(crate) struct Parker {
    /// Every change after `EMPTY` is a read-modify-write, so they are totally ordered on
    /// this one word whatever their ordering: `unpark`'s swap either comes after the
    /// sleeper's CAS to `PARKED` (and sees it) or makes that CAS fail. `unpark` releases what
    /// the waker published before it; consuming `NOTIFIED` acquires it.
    state: AtomicUsize,
    lock: Mutex<()>,
    condvar: Condvar,
}

/// How long the next [`Parker::park_spinning`] spins (step 3); one per thread (step 5).
#[derive(Debug)]
pub(crate) struct Spin {
    budget: Duration,
}

impl Spin {
    /// No spin until a first short sleep.
    pub(crate) fn new() -> Spin {
        Spin {
            budget: Duration::ZERO,
        }
    }
}

impl Parker {
    pub(crate) fn new() -> Arc<Parker> {
        Arc::new(Parker {
            state: AtomicUsize::new(EMPTY),
            lock: Mutex::new(()),
            condvar: Condvar::new(),
        })
    }

    /// Consumes a pending unpark.
    fn take_notification(&self) -> bool {
        self.state
            .compare_exchange(NOTIFIED, EMPTY, Acquire, Relaxed)
            .is_ok()
    }

    /// Blocks until [`Parker::unpark`] was called since the last return (step 2, no spin).
    pub(crate) fn park(&self) {
        if !self.take_notification() {
            self.sleep();
        }
    }

    /// [`Parker::park`], spinning first for `spin`'s budget (step 3), which it adapts.
    pub(crate) fn park_spinning(&self, spin: &mut Spin) {
        if self.take_notification() {
            return;
        }
        if !crate::loom::HAS_CLOCK {
            // Loom has no clock (and its executions must not depend on real time): one more
            // look after a yield stands for the spin.
            crate::loom::thread::yield_now();
            if !self.take_notification() {
                self.sleep();
            }
            return;
        }
        let start = Instant::now();
        if !spin.budget.is_zero() && self.spin_for(spin.budget) {
            return;
        }
        self.sleep();
        spin.budget = if start.elapsed() <= SHORT_WAIT {
            MAX_SPIN
        } else {
            Duration::ZERO
        };
    }

    /// Watches the word for `budget`; true if it consumed a notification meanwhile.
    fn spin_for(&self, budget: Duration) -> bool {
        let start = Instant::now();
        loop {
            for _ in 0..SPINS_PER_CLOCK_READ {
                crate::loom::thread::yield_now();
                // A plain load first: the compare-exchange would take the cache line from
                // the waker's core on every turn.
                if self.state.load(Relaxed) == NOTIFIED && self.take_notification() {
                    return true;
                }
            }
            if start.elapsed() >= budget {
                return false;
            }
        }
    }

    /// Step 2's sleep: returns once a notification was consumed.
    fn sleep(&self) {
        let mut guard = self.lock.lock();
        if self
            .state
            .compare_exchange(EMPTY, PARKED, Relaxed, Acquire)
            .is_err()
        {
            // Only `unpark` changes the word meanwhile, to `NOTIFIED`. A swap, not a store: a
            // second `unpark` after the failed CAS merges with the first, and this acquires
            // what it published too.
            self.state.swap(EMPTY, Acquire);
            return;
        }
        loop {
            self.condvar.wait(&mut guard);
            if self.take_notification() {
                return;
            }
            // Spurious wake-up: still `PARKED`.
        }
    }

    /// Step 4.
    pub(crate) fn unpark(&self) {
        if self.state.swap(NOTIFIED, Release) == PARKED {
            // Taking the lock orders this notify after the sleeper's wait began.
            drop(self.lock.lock());
            self.condvar.notify_one();
        }
    }

    /// A waker that unparks this parker.
    pub(crate) fn waker(me: &Arc<Self>) -> Waker {
        let raw = Arc::into_raw(me.clone()) as *const ();
        // SAFETY: `raw` came from `Arc::into_raw` of an `Arc<Parker>`, which is what the
        // vtable functions expect; each RawWaker owns one strong count.
        unsafe { Waker::from_raw(RawWaker::new(raw, &VTABLE)) }
    }
}

static VTABLE: RawWakerVTable = RawWakerVTable::new(clone_raw, wake_raw, wake_by_ref_raw, drop_raw);

unsafe fn clone_raw(ptr: *const ()) -> RawWaker {
    // SAFETY: `ptr` is an `Arc<Parker>` owned by the waker being cloned.
    unsafe { Arc::increment_strong_count(ptr as *const Parker) };
    RawWaker::new(ptr, &VTABLE)
}

unsafe fn wake_raw(ptr: *const ()) {
    // SAFETY: the waker owns this strong count; we take it back to drop it.
    let parker = unsafe { Arc::from_raw(ptr as *const Parker) };
    parker.unpark();
}

unsafe fn wake_by_ref_raw(ptr: *const ()) {
    // SAFETY: the waker keeps the Arc alive for the call.
    unsafe { &*(ptr as *const Parker) }.unpark();
}

unsafe fn drop_raw(ptr: *const ()) {
    // SAFETY: the waker owns this strong count.
    drop(unsafe { Arc::from_raw(ptr as *const Parker) });
}

/// Runs `future` to completion on the calling thread (steps 1, 2 and 5 of the protocol).
///
/// `spin`: spin before sleeping (step 3). Not for a current-thread runtime's `Handle::block_on`
/// from another thread: what it waits for runs on the one thread driving that runtime.
pub(crate) fn block_on<F: Future>(future: F, spin: bool) -> F::Output {
    // Step 5. `None` inside a nested `block_on` (the outer call holds the thread's pair) or
    // while the thread-locals are being destroyed: such a call gets a pair of its own.
    let (parker, mut spinner) = CACHED
        .try_with(Cell::take)
        .ok()
        .flatten()
        .unwrap_or_else(|| (Parker::new(), Spin::new()));
    let out = {
        let waker = Parker::waker(&parker);
        let mut cx = Context::from_waker(&waker);
        let mut future = pin!(future);
        loop {
            if let Poll::Ready(out) = coop::budget(|| future.as_mut().poll(&mut cx)) {
                break out;
            }
            if spin {
                parker.park_spinning(&mut spinner);
            } else {
                parker.park();
            }
        }
    };
    // A panic in `future` skips this: the next call starts with a fresh pair.
    let _ = CACHED.try_with(|c| c.set(Some((parker, spinner))));
    out
}

crate::loom::thread_local! {
    /// This thread's parker and spin state between `block_on` calls (step 5).
    // Not `const { .. }`: loom's `thread_local!` does not take that form.
    #[allow(clippy::missing_const_for_thread_local)]
    static CACHED: Cell<Option<(Arc<Parker>, Spin)>> = Cell::new(None);
}

#[cfg(all(test, loom))]
mod loom_tests {
    use loom::sync::atomic::{AtomicBool, Ordering::SeqCst};
    use loom::sync::Arc;
    use loom::thread;

    use super::{Parker, Spin};

    /// Two wake-ups race a thread that waits for both with `park_spinning`, each seen through
    /// a flag set before its `unpark` (the way a waker follows a message): the thread must
    /// never sleep through the second one (a lost wake-up is a loom deadlock).
    #[test]
    fn loom_block_on_park_spinning_races_unpark() {
        loom::model(|| {
            let parker = Parker::new();
            let flags = Arc::new([AtomicBool::new(false), AtomicBool::new(false)]);
            let unparkers: Vec<_> = (0..2)
                .map(|i| {
                    let (parker, flags) = (parker.clone(), flags.clone());
                    thread::spawn(move || {
                        flags[i].store(true, SeqCst);
                        parker.unpark();
                    })
                })
                .collect();
            let mut spin = Spin::new();
            while !(flags[0].load(SeqCst) && flags[1].load(SeqCst)) {
                parker.park_spinning(&mut spin);
            }
            unparkers.into_iter().for_each(|t| t.join().unwrap());
        });
    }

    /// A park returns only after consuming an unpark, and what the waker wrote before it
    /// (here a plain cell) is visible afterwards: loom reports a data race otherwise.
    #[test]
    fn loom_block_on_park_acquires_what_unpark_released() {
        loom::model(|| {
            let parker = Parker::new();
            let payload = Arc::new(loom::cell::UnsafeCell::new(0));
            let t = {
                let (parker, payload) = (parker.clone(), payload.clone());
                thread::spawn(move || {
                    // SAFETY: the main thread reads the cell only after its park returned,
                    // which is after this unpark (the property under test).
                    payload.with_mut(|p| unsafe { *p = 7 });
                    parker.unpark();
                })
            };
            parker.park_spinning(&mut Spin::new());
            // SAFETY: as above; the writer is done once the park returned.
            assert_eq!(payload.with(|p| unsafe { *p }), 7);
            t.join().unwrap();
        });
    }

    /// The plain `park` (no spin) against one `unpark`.
    #[test]
    fn loom_block_on_park_races_unpark() {
        loom::model(|| {
            let parker = Parker::new();
            let flag = Arc::new(AtomicBool::new(false));
            let t = {
                let (parker, flag) = (parker.clone(), flag.clone());
                thread::spawn(move || {
                    flag.store(true, SeqCst);
                    parker.unpark();
                })
            };
            while !flag.load(SeqCst) {
                parker.park();
            }
            t.join().unwrap();
        });
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::time::Duration;

    use super::{Parker, Spin, MAX_SPIN};

    /// A wait far longer than `SHORT_WAIT` turns the spin off; a notification that is already
    /// there is consumed at once and leaves the budget as it was.
    #[test]
    fn long_wait_turns_the_spin_off() {
        let parker = Parker::new();
        let mut spin = Spin { budget: MAX_SPIN };
        let unparker = {
            let parker = parker.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(20));
                parker.unpark();
            })
        };
        parker.park_spinning(&mut spin);
        unparker.join().unwrap();
        assert_eq!(
            spin.budget,
            Duration::ZERO,
            "a 20 ms wait must turn the spin off"
        );

        spin.budget = MAX_SPIN;
        parker.unpark();
        parker.park_spinning(&mut spin);
        assert_eq!(spin.budget, MAX_SPIN);
    }

    /// Step 5: consecutive calls on one thread share its parker (a waker kept from the first
    /// call keeps that parker alive, so a fresh one per call could not have its address).
    #[test]
    fn block_on_keeps_its_parker_for_the_next_call() {
        use std::task::Poll;

        let first = super::block_on(
            std::future::poll_fn(|cx| Poll::Ready(cx.waker().clone())),
            true,
        );
        let second = super::block_on(
            std::future::poll_fn(|cx| Poll::Ready(cx.waker().data())),
            true,
        );
        assert_eq!(
            first.data(),
            second,
            "a second block_on on the same thread must reuse the first one's parker"
        );
    }

    /// Step 5: a nested call must not share the outer call's parker, or the inner wait could
    /// consume the outer future's wake-up and leave the outer call asleep for good. The
    /// outer future is woken (from another thread) while the inner call waits.
    #[test]
    fn nested_block_on_keeps_the_outer_wake_up() {
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::{mpsc, Arc};
        use std::task::Poll;

        let (done_tx, done_rx) = mpsc::channel();
        std::thread::spawn(move || {
            // The thread's parker is cached from here on: the outer call below takes it.
            super::block_on(async {}, true);
            let ready = Arc::new(AtomicBool::new(false));
            let mut started = false;
            let out = super::block_on(
                std::future::poll_fn(|cx| {
                    if ready.load(Ordering::SeqCst) {
                        return Poll::Ready(true);
                    }
                    if started {
                        return Poll::Pending;
                    }
                    started = true;
                    let (ready, waker) = (ready.clone(), cx.waker().clone());
                    let outer_waker = std::thread::spawn(move || {
                        std::thread::sleep(Duration::from_millis(5));
                        ready.store(true, Ordering::SeqCst);
                        waker.wake();
                    });
                    // The inner call outlasts the outer wake-up by far.
                    let inner_ready = Arc::new(AtomicBool::new(false));
                    let mut inner_started = false;
                    super::block_on(
                        std::future::poll_fn(|cx| {
                            if inner_ready.load(Ordering::SeqCst) {
                                return Poll::Ready(());
                            }
                            if !inner_started {
                                inner_started = true;
                                let (flag, waker) = (inner_ready.clone(), cx.waker().clone());
                                std::thread::spawn(move || {
                                    std::thread::sleep(Duration::from_millis(50));
                                    flag.store(true, Ordering::SeqCst);
                                    waker.wake();
                                });
                            }
                            Poll::Pending
                        }),
                        true,
                    );
                    outer_waker.join().unwrap();
                    Poll::Pending
                }),
                true,
            );
            done_tx.send(out).unwrap();
        });
        let out = done_rx.recv_timeout(Duration::from_secs(30));
        assert_eq!(
            out,
            Ok(true),
            "the outer block_on never saw the wake-up that came while a nested one waited"
        );
    }

    /// Every unpark is seen, whether it finds the thread running, spinning or asleep.
    #[test]
    fn block_on_sees_every_wake_up() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::sync::Arc;
        use std::task::Poll;

        const ROUNDS: usize = 2_000;
        let count = Arc::new(AtomicUsize::new(0));
        let waker_slot = Arc::new(std::sync::Mutex::new(None::<std::task::Waker>));
        let waker_thread = {
            let (count, slot) = (count.clone(), waker_slot.clone());
            std::thread::spawn(move || {
                for i in 0..ROUNDS {
                    // Mix wake-ups that come at once, after a spin's length, and after a sleep.
                    match i % 3 {
                        0 => {}
                        1 => std::thread::sleep(Duration::from_micros(30)),
                        _ => std::thread::sleep(Duration::from_micros(300)),
                    }
                    count.fetch_add(1, Ordering::SeqCst);
                    if let Some(w) = slot.lock().unwrap().take() {
                        w.wake();
                    }
                }
            })
        };
        let seen = super::block_on(
            std::future::poll_fn(|cx| {
                *waker_slot.lock().unwrap() = Some(cx.waker().clone());
                let n = count.load(Ordering::SeqCst);
                if n == ROUNDS {
                    Poll::Ready(n)
                } else {
                    Poll::Pending
                }
            }),
            true,
        );
        waker_thread.join().unwrap();
        assert_eq!(seen, ROUNDS);
    }
}
