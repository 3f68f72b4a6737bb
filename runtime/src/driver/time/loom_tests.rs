//! Loom models of the entry protocol (`entry.rs`): the driver thread fires while the owner
//! cancels, resets or changes its waker, or while a busy worker fires too.

use std::pin::Pin;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use crate::loom::sync::atomic::{AtomicUsize, Ordering};
use crate::loom::sync::Arc;
use crate::loom::thread;

use super::{Clock, Handle, State, TimeDriverRef, TimerEntry};

#[derive(Debug, Clone)]
struct ModelDriver(Arc<Handle>);

impl TimeDriverRef for ModelDriver {
    fn time_handle(&self) -> &Handle {
        &self.0
    }
    fn unpark(&self) {}
}

/// Counts wakes. (`Wake` needs std's `Arc`; the count itself is a loom atomic.)
struct CountWaker(AtomicUsize);

impl Wake for CountWaker {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn counting() -> (std::sync::Arc<CountWaker>, Waker) {
    let count = std::sync::Arc::new(CountWaker(AtomicUsize::new(0)));
    (count.clone(), Waker::from(count))
}

fn wakes(count: &CountWaker) -> usize {
    count.0.load(Ordering::SeqCst)
}

type Entry = Pin<Box<TimerEntry<ModelDriver>>>;

/// A paused driver with one entry registered 1 ms ahead and time already advanced to it, so
/// that the next `process` fires it.
fn armed_entry(waker: &Waker) -> (Arc<Handle>, Entry) {
    let time = Arc::new(Handle::with_clock(Clock::pausable(true)));
    let deadline = time.clock().now() + Duration::from_millis(1);
    let mut entry = Box::pin(TimerEntry::new(ModelDriver(time.clone()), deadline));
    assert!(entry
        .as_mut()
        .poll_elapsed(&mut Context::from_waker(waker))
        .is_pending());
    time.clock().advance(Duration::from_millis(1));
    (time, entry)
}

fn fire_on_thread(time: &Arc<Handle>) -> thread::JoinHandle<()> {
    let time = time.clone();
    thread::spawn(move || time.process())
}

#[test]
fn loom_fire_races_cancel() {
    loom::model(|| {
        let (count, waker) = counting();
        let (time, entry) = armed_entry(&waker);
        let firer = fire_on_thread(&time);
        drop(entry); // cancel: unlinks under the lock, or finds it fired (or firing)
        firer.join().unwrap();
        assert_eq!(time.num_registered(), 0);
        assert!(wakes(&count) <= 1);
    });
}

#[test]
fn loom_holder_fire_races_busy_worker_fire() {
    // The driver's holder fires while a busy worker, which could not take the driver, fires
    // too (`process_without_driver`), or skips because the holder has just begun: either
    // way the entry fires exactly once and leaves the wheel.
    loom::model(|| {
        let (count, waker) = counting();
        let (time, entry) = armed_entry(&waker);
        let holder = fire_on_thread(&time);
        time.process_without_driver();
        holder.join().unwrap();
        assert_eq!(wakes(&count), 1);
        assert_eq!(time.num_registered(), 0);
        drop(entry);
    });
}

#[test]
fn loom_fire_races_reset() {
    loom::model(|| {
        let (count, waker) = counting();
        let (time, mut entry) = armed_entry(&waker);
        let firer = fire_on_thread(&time);
        let later = time.clock().now() + Duration::from_millis(5);
        entry.as_mut().reset(later);
        firer.join().unwrap();
        match entry.state() {
            // The reset came first: moved to 5 ms later, not fired, still holds the waker.
            State::Registered(_) => {
                assert_eq!(wakes(&count), 0);
                assert_eq!(time.num_registered(), 1);
            }
            // The fire came first (before the reset looked, or while it waited for the lock):
            // woken once; the reset made it idle, to register on the next poll.
            State::Idle => {
                assert_eq!(wakes(&count), 1);
                assert_eq!(time.num_registered(), 0);
            }
            other => panic!("unexpected state {other:?}"),
        }
        drop(entry);
        assert_eq!(time.num_registered(), 0);
    });
}

#[test]
fn loom_waker_change_races_fire() {
    loom::model(|| {
        let (_first, first_waker) = counting();
        let (second, second_waker) = counting();
        let (time, mut entry) = armed_entry(&first_waker);
        let firer = fire_on_thread(&time);
        let polled = entry
            .as_mut()
            .poll_elapsed(&mut Context::from_waker(&second_waker));
        firer.join().unwrap();
        assert!(entry.is_elapsed());
        if polled == Poll::Pending {
            // The owner went to sleep on the second waker: it must have been woken.
            assert_eq!(wakes(&second), 1, "the new waker was lost");
        }
        drop(entry);
    });
}

#[test]
fn loom_shutdown_races_fire_and_cancel() {
    loom::model(|| {
        let (count, waker) = counting();
        let (time, entry) = armed_entry(&waker);
        let firer = fire_on_thread(&time);
        let closer = {
            let time = time.clone();
            thread::spawn(move || time.shutdown())
        };
        let state = entry.state();
        drop(entry);
        firer.join().unwrap();
        closer.join().unwrap();
        assert_eq!(time.num_registered(), 0);
        // Fired at most once (if the fire won the race with shutdown), never after.
        assert!(wakes(&count) <= 1);
        assert!(time.is_shutdown());
        assert!(matches!(
            state,
            State::Registered(_) | State::Firing | State::Fired | State::Idle
        ));
    });
}

/// A paused, idle runtime parks while a blocking closure holds auto-advance back; the closure's
/// end (`allow_auto_advance` + unpark) racing that park never leaves it asleep, and the timer
/// then fires at its virtual deadline.
#[test]
fn loom_time_inhibited_park_races_allow_auto_advance() {
    loom::model(|| {
        let (mut driver, handle) =
            crate::driver::Driver::with_clock(Clock::pausable(true), 1).unwrap();
        let handle = Arc::new(handle);
        let time = handle.time.clone();
        let (count, waker) = counting();
        let deadline = time.clock().now() + Duration::from_millis(5);
        let mut entry = Box::pin(TimerEntry::new(ModelDriver(time.clone()), deadline));
        assert!(entry
            .as_mut()
            .poll_elapsed(&mut Context::from_waker(&waker))
            .is_pending());
        time.inhibit_auto_advance();
        let h = handle.clone();
        let blocking_ends = thread::spawn(move || {
            h.time.allow_auto_advance();
            h.unpark();
        });
        // Returns: either time jumped (the closure had ended) or the unpark woke it.
        driver.park(&handle, None);
        blocking_ends.join().unwrap();
        if wakes(&count) == 0 {
            driver.park(&handle, None);
        }
        assert_eq!(wakes(&count), 1);
        assert_eq!(time.clock().now(), deadline);
        drop(entry);
    });
}

/// A driver handle for the sharded models: counts unparks.
#[derive(Debug, Clone)]
struct CountingDriver {
    time: Arc<Handle>,
    unparks: Arc<AtomicUsize>,
}

impl TimeDriverRef for CountingDriver {
    fn time_handle(&self) -> &Handle {
        &self.time
    }
    fn unpark(&self) {
        self.unparks.fetch_add(1, Ordering::SeqCst);
    }
}

/// Two shards: the driver computes its wait from both (shard 0 holds a timer 5 s ahead)
/// while another thread registers a timer 1 s ahead in shard 1. No lost wake-up: either
/// the wait already covers the new timer or the registration unparks the driver.
#[test]
fn loom_register_in_another_shard_races_park() {
    loom::model(|| {
        let time = Arc::new(Handle::with_clock_and_shards(Clock::new(), 2));
        let unparks = Arc::new(AtomicUsize::new(0));
        let driver = CountingDriver {
            time: time.clone(),
            unparks: unparks.clone(),
        };
        let (_count, waker) = counting();
        super::set_shard_hint(0);
        let far = time.clock().now() + Duration::from_secs(5);
        let mut far = Box::pin(TimerEntry::new(driver.clone(), far));
        assert!(far
            .as_mut()
            .poll_elapsed(&mut Context::from_waker(&waker))
            .is_pending());
        let registrar = {
            let driver = driver.clone();
            thread::spawn(move || {
                super::set_shard_hint(1);
                let (_count, waker) = counting();
                let near = driver.time.clock().now() + Duration::from_secs(1);
                let mut near = Box::pin(TimerEntry::new(driver, near));
                assert!(near
                    .as_mut()
                    .poll_elapsed(&mut Context::from_waker(&waker))
                    .is_pending());
                // Handed back registered: dropping it here would cancel it.
                (near, _count)
            })
        };
        let wait = time.park_timeout(None).expect("a timer is registered");
        let near = registrar.join().unwrap();
        assert!(
            wait <= Duration::from_millis(1_001) || unparks.load(Ordering::SeqCst) > 0,
            "the driver would sleep {wait:?} past a timer 1 s ahead without being unparked"
        );
        drop(near);
        drop(far);
    });
}

/// Two shards: the driver's holder fires every shard while the worker that owns shard 1
/// fires its own (`process_without_driver`): the due entry fires exactly once.
#[test]
fn loom_holder_fire_races_owner_fire_of_its_shard() {
    loom::model(|| {
        let time = Arc::new(Handle::with_clock_and_shards(Clock::pausable(true), 2));
        let (count, waker) = counting();
        super::set_shard_hint(1);
        let deadline = time.clock().now() + Duration::from_millis(1);
        let mut entry = Box::pin(TimerEntry::new(ModelDriver(time.clone()), deadline));
        assert!(entry
            .as_mut()
            .poll_elapsed(&mut Context::from_waker(&waker))
            .is_pending());
        time.clock().advance(Duration::from_millis(1));
        let holder = {
            let time = time.clone();
            thread::spawn(move || {
                super::set_shard_hint(0);
                time.process();
            })
        };
        time.process_without_driver();
        holder.join().unwrap();
        assert_eq!(wakes(&count), 1);
        assert_eq!(time.num_registered(), 0);
        drop(entry);
    });
}
