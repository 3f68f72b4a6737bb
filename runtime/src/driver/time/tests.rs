//! The time driver with its entries, without a runtime: virtual time, fire, cancel, reset,
//! park time-outs, shutdown.

use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant as StdInstant};

use super::{Clock, Handle, State, TimeDriverRef, TimerEntry, WAKE_BATCH};

/// A driver reference for tests: counts unparks.
#[derive(Debug, Clone)]
struct TestDriver {
    time: Arc<Handle>,
    unparks: Arc<AtomicUsize>,
}

impl TimeDriverRef for TestDriver {
    fn time_handle(&self) -> &Handle {
        &self.time
    }
    fn unpark(&self) {
        self.unparks.fetch_add(1, Ordering::SeqCst);
    }
}

fn paused() -> TestDriver {
    TestDriver {
        time: Arc::new(Handle::with_clock(Clock::pausable(true))),
        unparks: Arc::default(),
    }
}

/// A waker that counts its wakes.
#[derive(Default)]
struct CountWaker(AtomicUsize);

impl Wake for CountWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn counting() -> (Arc<CountWaker>, Waker) {
    let count = Arc::new(CountWaker::default());
    (count.clone(), Waker::from(count))
}

fn wakes(count: &CountWaker) -> usize {
    count.0.load(Ordering::SeqCst)
}

fn poll(entry: Pin<&mut TimerEntry<TestDriver>>, waker: &Waker) -> Poll<()> {
    entry.poll_elapsed(&mut Context::from_waker(waker))
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

impl TestDriver {
    fn now(&self) -> StdInstant {
        self.time.clock().now()
    }
    fn advance_and_process(&self, by: Duration) {
        self.time.clock().advance(by);
        self.time.process();
    }
}

#[test]
fn registers_on_first_poll_and_fires_at_its_deadline_never_before() {
    let driver = paused();
    let mut entry = pin!(TimerEntry::new(driver.clone(), driver.now() + ms(10)));
    assert_eq!(
        driver.time.num_registered(),
        0,
        "registered before the first poll"
    );
    let (count, waker) = counting();
    assert!(poll(entry.as_mut(), &waker).is_pending());
    assert_eq!(driver.time.num_registered(), 1);

    driver.advance_and_process(ms(9));
    assert_eq!(wakes(&count), 0, "fired a millisecond early");
    assert!(poll(entry.as_mut(), &waker).is_pending());

    // Just short of the deadline: rounding must still not fire it.
    driver.advance_and_process(Duration::from_micros(999));
    assert_eq!(wakes(&count), 0, "fired a microsecond early");

    driver.advance_and_process(Duration::from_micros(1));
    assert_eq!(wakes(&count), 1);
    assert!(entry.is_elapsed());
    assert!(poll(entry.as_mut(), &waker).is_ready());
    assert_eq!(driver.time.num_registered(), 0);
}

#[test]
fn sub_millisecond_deadline_rounds_up() {
    let driver = paused();
    let mut entry = pin!(TimerEntry::new(
        driver.clone(),
        driver.now() + Duration::from_micros(1500)
    ));
    let (count, waker) = counting();
    assert!(poll(entry.as_mut(), &waker).is_pending());
    driver.advance_and_process(Duration::from_micros(1499));
    assert_eq!(wakes(&count), 0);
    // 1.5 ms is tick 2: it fires at the first tick boundary at or after its deadline.
    driver.advance_and_process(Duration::from_micros(1));
    assert_eq!(wakes(&count), 0);
    driver.advance_and_process(Duration::from_micros(500));
    assert_eq!(wakes(&count), 1);
}

#[test]
fn past_deadline_completes_on_first_poll_without_registering() {
    let driver = paused();
    let mut entry = pin!(TimerEntry::new(driver.clone(), driver.now()));
    let (count, waker) = counting();
    assert!(poll(entry.as_mut(), &waker).is_ready());
    assert_eq!(driver.time.num_registered(), 0);
    assert_eq!(wakes(&count), 0);
}

#[test]
fn dropping_a_registered_entry_removes_it_and_it_never_wakes() {
    let driver = paused();
    let (count, waker) = counting();
    {
        let mut entry = pin!(TimerEntry::new(driver.clone(), driver.now() + ms(5)));
        assert!(poll(entry.as_mut(), &waker).is_pending());
        assert_eq!(driver.time.num_registered(), 1);
    }
    assert_eq!(driver.time.num_registered(), 0);
    driver.advance_and_process(ms(100));
    assert_eq!(wakes(&count), 0);
}

#[test]
fn the_latest_waker_is_the_one_woken() {
    let driver = paused();
    let mut entry = pin!(TimerEntry::new(driver.clone(), driver.now() + ms(5)));
    let (first, first_waker) = counting();
    let (second, second_waker) = counting();
    assert!(poll(entry.as_mut(), &first_waker).is_pending());
    assert!(poll(entry.as_mut(), &second_waker).is_pending());
    driver.advance_and_process(ms(5));
    assert_eq!((wakes(&first), wakes(&second)), (0, 1));
}

#[test]
fn reset_moves_a_registered_entry_later_and_earlier() {
    let driver = paused();
    let start = driver.now();
    let mut entry = pin!(TimerEntry::new(driver.clone(), start + ms(10)));
    let (count, waker) = counting();
    assert!(poll(entry.as_mut(), &waker).is_pending());

    entry.as_mut().reset(start + ms(30));
    assert_eq!(driver.time.num_registered(), 1);
    driver.advance_and_process(ms(29));
    assert_eq!(wakes(&count), 0, "fired at the old deadline");

    entry.as_mut().reset(start + ms(40));
    driver.advance_and_process(ms(10));
    assert_eq!(wakes(&count), 0);
    driver.advance_and_process(ms(1));
    assert_eq!(wakes(&count), 1, "a reset entry keeps its waker");

    // A fired entry goes back to idle and registers again on its next poll.
    entry.as_mut().reset(driver.now() + ms(5));
    assert_eq!(entry.state(), State::Idle);
    assert!(poll(entry.as_mut(), &waker).is_pending());
    driver.advance_and_process(ms(5));
    assert_eq!(wakes(&count), 2);
}

#[test]
fn reset_to_a_passed_deadline_wakes_at_once() {
    let driver = paused();
    let mut entry = pin!(TimerEntry::new(driver.clone(), driver.now() + ms(10)));
    let (count, waker) = counting();
    assert!(poll(entry.as_mut(), &waker).is_pending());
    driver.advance_and_process(ms(3));
    entry.as_mut().reset(driver.now() - ms(1));
    assert_eq!(wakes(&count), 1);
    assert!(entry.is_elapsed());
    assert_eq!(driver.time.num_registered(), 0);
}

#[test]
fn more_expired_entries_than_one_batch_all_fire_in_deadline_order() {
    let driver = paused();
    let start = driver.now();
    let n = WAKE_BATCH * 3 + 5;
    let order = Arc::new(std::sync::Mutex::new(Vec::new()));
    struct Record(usize, Arc<std::sync::Mutex<Vec<usize>>>);
    impl Wake for Record {
        fn wake(self: Arc<Self>) {
            self.1.lock().unwrap().push(self.0);
        }
    }
    let mut entries: Vec<_> = (0..n)
        .map(|i| {
            Box::pin(TimerEntry::new(
                driver.clone(),
                start + ms(1 + (n - i) as u64),
            ))
        })
        .collect();
    for (i, entry) in entries.iter_mut().enumerate() {
        let waker = Waker::from(Arc::new(Record(i, order.clone())));
        assert!(poll(entry.as_mut(), &waker).is_pending());
    }
    driver.advance_and_process(ms(1 + n as u64));
    let fired = order.lock().unwrap().clone();
    assert_eq!(fired, (0..n).rev().collect::<Vec<_>>());
}

#[test]
fn park_timeout_is_shortened_to_the_next_timer() {
    let driver = TestDriver {
        time: Arc::new(Handle::new()),
        unparks: Arc::default(),
    };
    assert_eq!(driver.time.park_timeout(None), None);
    assert_eq!(driver.time.park_timeout(Some(ms(7))), Some(ms(7)));
    driver.time.process();

    let mut entry = pin!(TimerEntry::new(driver.clone(), driver.now() + ms(50)));
    let (_count, waker) = counting();
    assert!(poll(entry.as_mut(), &waker).is_pending());
    let timeout = driver.time.park_timeout(None).expect("a timer is pending");
    assert!(timeout <= ms(51), "{timeout:?}");
    assert_eq!(driver.time.park_timeout(Some(ms(1))), Some(ms(1)));
}

#[test]
fn registering_an_earlier_timer_while_parked_asks_for_an_unpark() {
    let driver = paused();
    let mut late = pin!(TimerEntry::new(driver.clone(), driver.now() + ms(100)));
    let (_count, waker) = counting();
    assert!(poll(late.as_mut(), &waker).is_pending());
    assert_eq!(
        driver.unparks.load(Ordering::SeqCst),
        0,
        "not parked: no unpark"
    );

    // A busy worker's zero-time turn does not sleep: it records no wake-up, and a timer
    // registered after it asks for no unpark, however early.
    assert_eq!(
        driver.time.park_timeout(Some(Duration::ZERO)),
        Some(Duration::ZERO)
    );
    {
        let mut soon = pin!(TimerEntry::new(driver.clone(), driver.now() + ms(1)));
        assert!(poll(soon.as_mut(), &waker).is_pending());
        assert_eq!(
            driver.unparks.load(Ordering::SeqCst),
            0,
            "no one sleeps: no unpark"
        );
    }

    // A sleeping park (auto-advance held off, so the paused clock stays put) records its
    // wake-up, the 100 ms timer.
    driver.time.inhibit_auto_advance();
    assert_eq!(
        driver.time.park_timeout(Some(Duration::from_secs(1))),
        Some(Duration::from_secs(1))
    );
    let mut later = pin!(TimerEntry::new(driver.clone(), driver.now() + ms(200)));
    assert!(poll(later.as_mut(), &waker).is_pending());
    assert_eq!(
        driver.unparks.load(Ordering::SeqCst),
        0,
        "a later timer needs no unpark"
    );

    let mut early = pin!(TimerEntry::new(driver.clone(), driver.now() + ms(10)));
    assert!(poll(early.as_mut(), &waker).is_pending());
    assert_eq!(driver.unparks.load(Ordering::SeqCst), 1);
    let mut early2 = pin!(TimerEntry::new(driver.clone(), driver.now() + ms(20)));
    assert!(poll(early2.as_mut(), &waker).is_pending());
    assert_eq!(
        driver.unparks.load(Ordering::SeqCst),
        1,
        "already unparked for 10 ms"
    );
    driver.time.allow_auto_advance();
}

#[test]
fn paused_idle_park_jumps_to_the_next_deadline() {
    let driver = paused();
    let start = driver.now();
    let mut entry = pin!(TimerEntry::new(
        driver.clone(),
        start + Duration::from_secs(3600)
    ));
    let (count, waker) = counting();
    assert!(poll(entry.as_mut(), &waker).is_pending());

    // A busy runtime's zero-time poll does not move time.
    assert_eq!(
        driver.time.park_timeout(Some(Duration::ZERO)),
        Some(Duration::ZERO)
    );
    driver.time.process();
    assert_eq!(driver.now(), start);

    // An idle park does; the hour passes at once, cascading down from level 3.
    let mut parks = 0;
    while wakes(&count) == 0 {
        assert_eq!(driver.time.park_timeout(None), Some(Duration::ZERO));
        driver.time.process();
        parks += 1;
        assert!(parks <= 6, "virtual time did not reach the deadline");
    }
    assert_eq!(driver.now(), start + Duration::from_secs(3600));
}

#[test]
fn shutdown_drops_pending_timers_without_firing_and_later_polls_panic() {
    let driver = paused();
    let mut entry = pin!(TimerEntry::new(driver.clone(), driver.now() + ms(5)));
    let (count, waker) = counting();
    assert!(poll(entry.as_mut(), &waker).is_pending());
    driver.time.shutdown();
    assert_eq!(driver.time.num_registered(), 0);
    assert_eq!(
        Arc::strong_count(&count),
        2,
        "the stored waker was not released"
    );
    driver.advance_and_process(ms(50));
    assert_eq!(wakes(&count), 0);
    assert!(!entry.is_elapsed());

    let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = poll(entry.as_mut(), &waker);
    }))
    .expect_err("polling a timer of a shut-down runtime must panic");
    let msg = err.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(msg.contains("shut down"), "{msg}");
}

#[test]
fn entries_race_the_firing_thread_on_real_time() {
    // Owners register, re-poll, reset and drop entries on 3 threads while this one fires;
    // every entry that is still alive at its deadline completes.
    let driver = TestDriver {
        time: Arc::new(Handle::new()),
        unparks: Arc::default(),
    };
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let firer = {
        let (time, stop) = (driver.time.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                time.process();
                std::thread::sleep(Duration::from_micros(200));
            }
        })
    };
    let owners: Vec<_> = (0..3u64)
        .map(|t| {
            let driver = driver.clone();
            std::thread::spawn(move || {
                for i in 0..300u64 {
                    let (count, waker) = counting();
                    let mut entry =
                        Box::pin(TimerEntry::new(driver.clone(), driver.now() + ms(i % 3)));
                    if (i + t) % 4 == 0 {
                        let _ = poll(entry.as_mut(), &waker);
                        drop(entry); // cancel, maybe while it fires
                        continue;
                    }
                    if (i + t) % 4 == 1 {
                        let _ = poll(entry.as_mut(), &waker);
                        entry.as_mut().reset(driver.now() + ms(1));
                    }
                    let deadline = StdInstant::now() + Duration::from_secs(10);
                    while poll(entry.as_mut(), &waker).is_pending() {
                        assert!(StdInstant::now() < deadline, "timer {i} never fired");
                        std::thread::sleep(Duration::from_micros(100));
                    }
                    assert!(entry.deadline() <= driver.now(), "fired early");
                    let _ = wakes(&count);
                }
            })
        })
        .collect();
    for owner in owners {
        owner.join().unwrap();
    }
    stop.store(true, Ordering::SeqCst);
    firer.join().unwrap();
    assert_eq!(driver.time.num_registered(), 0);
}

#[test]
fn a_real_time_clock_refuses_to_pause_and_says_why() {
    let err = std::panic::catch_unwind(|| Clock::new().pause()).expect_err("pause must panic");
    let msg = err
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .unwrap_or_else(|| err.downcast_ref::<String>().cloned().unwrap_or_default());
    assert!(msg.contains("current-thread runtime"), "{msg}");
}

#[test]
fn pausing_rounds_up_to_a_tick_boundary_and_advance_is_exact() {
    let clock = Clock::pausable(false);
    std::thread::sleep(Duration::from_micros(300));
    clock.pause();
    let since = clock.now() - clock.origin();
    assert_eq!(since.subsec_nanos() % 1_000_000, 0, "{since:?}");
    let before = clock.now();
    clock.advance(ms(7));
    assert_eq!(clock.now() - before, ms(7));
    clock.resume();
    assert!(clock.now() >= before + ms(7));
}
