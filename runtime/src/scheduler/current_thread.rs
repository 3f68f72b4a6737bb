//! The current-thread scheduler: every task runs on the thread inside `Runtime::block_on`.
//!
//! State: a local run queue inside the [`Core`] (no synchronization: only the thread holding
//! the core touches it), and a shared injector for tasks woken or spawned from elsewhere.
//!
//! Protocol:
//! 1. `block_on` takes the core (one thread at a time; other callers wait for the core or
//!    for their own future, whichever comes first), and installs it in the thread's
//!    scheduler context so that spawns and wakes on this thread push to the local queue.
//! 2. The loop polls the `block_on` future whenever its waker fired (`woken`), then runs up
//!    to `event_interval` tasks: the local queue first, the injector first every
//!    `global_queue_interval` ticks (so remote work is never starved).
//! 3. With no task to run it parks on the driver. A remote spawn or wake pushes to the
//!    injector, then calls `driver.unpark()`; the driver keeps the unpark as a token, so an
//!    unpark between the last look at the queues and the park makes the park return at once
//!    (no lost wake-up). Unparks cost one eventfd write per park at most (the poller skips
//!    the write while one is pending), and none for a wake of the `block_on` future on this
//!    thread itself, which is not asleep and reads `woken` before it parks.
//! 4. Every `event_interval` tasks it turns the driver without blocking, so I/O and timers
//!    are not starved by busy tasks.
//! 5. Shutdown (runtime drop): close the injector, cancel every owned task in place, drop the
//!    queued references. Spawns after that resolve to cancelled `JoinError`s.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::pin;
use std::task::{Context as TaskContext, Poll, RawWaker, RawWakerVTable, Waker};
use std::time::{Duration, Instant};

use super::metrics::WorkerMetrics;
use super::Config;
use crate::blocking::Spawner;
use crate::coop;
use crate::driver::{self, Driver};
use crate::loom::sync::atomic::{AtomicBool, Ordering};
use crate::loom::sync::{Arc, Mutex};
use crate::loom::MetricU64;
use crate::runtime::context;
use crate::runtime::park::Parker;
use crate::task::{Id, JoinHandle, Notified, OwnedTasks, Schedule, Task};

/// Owned by the `Runtime`: the core, while no thread is in `block_on`.
pub(crate) struct CurrentThread {
    core: Mutex<Option<Box<Core>>>,
    /// Threads waiting for the core, unparked when it is put back.
    waiters: Mutex<Vec<Arc<Parker>>>,
}

/// Shared by everything that can schedule onto this runtime.
pub(crate) struct Handle {
    inject: Mutex<Inject>,
    owned: OwnedTasks<Arc<Handle>>,
    /// The `block_on` future's waker fired.
    woken: AtomicBool,
    pub(crate) driver: driver::Handle,
    pub(crate) config: Config,
    pub(crate) metrics: WorkerMetrics,
    pub(crate) blocking: Spawner,
    pub(crate) spawned: MetricU64,
    pub(crate) started: Instant,
}

struct Inject {
    queue: VecDeque<Notified<Arc<Handle>>>,
    closed: bool,
}

/// What only the thread running the scheduler touches.
struct Core {
    tasks: VecDeque<Notified<Arc<Handle>>>,
    tick: u32,
    driver: Option<Driver>,
    polls: u64,
}

/// The scheduler's per-thread context while `block_on` runs.
pub(crate) struct Context {
    handle: Arc<Handle>,
    core: RefCell<Option<Box<Core>>>,
}

impl CurrentThread {
    pub(crate) fn new(
        config: Config,
        blocking: Spawner,
    ) -> std::io::Result<(CurrentThread, Arc<Handle>)> {
        // Virtual time (`pause`, `start_paused`) is only for current-thread runtimes: with
        // one thread, "idle" is well defined, so time may jump to the next deadline.
        let clock = crate::driver::time::Clock::pausable(config.start_paused);
        let (driver, driver_handle) = Driver::with_clock(clock, 1)?;
        let handle = Arc::new(Handle {
            inject: Mutex::new(Inject {
                queue: VecDeque::new(),
                closed: false,
            }),
            owned: OwnedTasks::new(1),
            woken: AtomicBool::new(false),
            driver: driver_handle,
            config,
            metrics: WorkerMetrics::default(),
            blocking,
            spawned: MetricU64::new(0),
            started: Instant::now(),
        });
        let core = Box::new(Core {
            tasks: VecDeque::with_capacity(64),
            tick: 0,
            driver: Some(driver),
            polls: 0,
        });
        Ok((
            CurrentThread {
                core: Mutex::new(Some(core)),
                waiters: Mutex::new(Vec::new()),
            },
            handle,
        ))
    }

    /// Step 1: runs `future` to completion, driving the scheduler while it holds the core.
    pub(crate) fn block_on<F: Future>(&self, handle: &Arc<Handle>, future: F) -> F::Output {
        let mut future = pin!(future);
        let parker = Parker::new();
        let waker = Parker::waker(&parker);
        loop {
            // Bound first: a guard in the `if let` scrutinee would live through the block.
            let core = self.core.lock().take();
            if let Some(core) = core {
                let (core, out) = CoreGuard::run(handle, core, future.as_mut());
                self.put_back(core);
                return out;
            }
            // Someone else drives the scheduler: wait for our own future or for the core.
            self.waiters.lock().push(parker.clone());
            if self.core.lock().is_some() {
                continue;
            }
            let mut cx = TaskContext::from_waker(&waker);
            if let Poll::Ready(out) = coop::budget(|| future.as_mut().poll(&mut cx)) {
                return out;
            }
            parker.park();
        }
    }

    fn put_back(&self, core: Box<Core>) {
        *self.core.lock() = Some(core);
        for waiter in self.waiters.lock().drain(..) {
            waiter.unpark();
        }
    }

    /// Step 5.
    pub(crate) fn shutdown(&self, handle: &Arc<Handle>) {
        handle.inject.lock().closed = true;
        handle.owned.close_and_shutdown_all();
        // Drop queued references outside the locks: a task's destructor may wake others.
        let queued = std::mem::take(&mut handle.inject.lock().queue);
        drop(queued);
        let core = self.core.lock().take();
        if let Some(mut core) = core {
            core.tasks.clear();
            drop(core.driver.take());
        }
        debug_assert!(handle.owned.is_empty());
    }
}

impl Handle {
    pub(crate) fn spawn<F>(me: &Arc<Handle>, future: F, id: Id) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        me.spawned
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (join, notified) = me.owned.bind(future, me.clone(), id);
        if let Some(notified) = notified {
            me.schedule(notified);
        }
        join
    }

    pub(crate) fn num_alive_tasks(&self) -> usize {
        self.owned.len()
    }

    pub(crate) fn injector_depth(&self) -> usize {
        self.inject.lock().queue.len()
    }

    fn push_remote(&self, task: Notified<Arc<Handle>>) {
        let mut inject = self.inject.lock();
        if inject.closed {
            // Shutdown already cancelled this task (it was in the owned list); drop the
            // reference outside the lock.
            drop(inject);
            drop(task);
            return;
        }
        inject.queue.push_back(task);
        drop(inject);
        self.driver.unpark();
    }

    fn pop_remote(&self) -> Option<Notified<Arc<Handle>>> {
        self.inject.lock().queue.pop_front()
    }

    fn waker(me: &Arc<Self>) -> Waker {
        let raw = Arc::into_raw(me.clone()) as *const ();
        // SAFETY: `raw` is an `Arc<Handle>` strong count owned by the waker; the vtable
        // below treats it as exactly that.
        unsafe { Waker::from_raw(RawWaker::new(raw, &BLOCK_ON_WAKER)) }
    }

    fn wake_block_on(&self) {
        // Release pairs with the Acquire swap in the loop: what the waker published is
        // visible when the future is polled again.
        self.woken.store(true, Ordering::Release);
        // On the thread that runs this scheduler (a task, the `block_on` future itself, or a
        // timer or I/O waker fired by the driver's turn), that thread is not blocked in the
        // driver, and its loop reads `woken` before it next parks: the unpark would only
        // wake it from a sleep it is not in. It is not free even with the poller's
        // one-write-per-wait rule: an atomic swap on every wake, and an eventfd write plus an
        // `epoll` wait that returns at once after every driver turn, which joined futures
        // waking each other (`join!` in `block_on`) would pay again and again.
        let on_own_thread = context::with_scheduler(
            |cx| matches!(cx, Some(super::Context::CurrentThread(cx)) if std::ptr::eq(&*cx.handle, self)),
        );
        if !on_own_thread {
            self.driver.unpark();
        }
    }
}

static BLOCK_ON_WAKER: RawWakerVTable =
    RawWakerVTable::new(waker_clone, waker_wake, waker_wake_by_ref, waker_drop);

unsafe fn waker_clone(ptr: *const ()) -> RawWaker {
    // SAFETY: the waker being cloned owns a strong count of this `Arc<Handle>`.
    unsafe { Arc::increment_strong_count(ptr as *const Handle) };
    RawWaker::new(ptr, &BLOCK_ON_WAKER)
}

unsafe fn waker_wake(ptr: *const ()) {
    // SAFETY: the waker owns this strong count; taken back to be dropped after the wake.
    let handle = unsafe { Arc::from_raw(ptr as *const Handle) };
    handle.wake_block_on();
}

unsafe fn waker_wake_by_ref(ptr: *const ()) {
    // SAFETY: the waker keeps the Arc alive for the call.
    unsafe { &*(ptr as *const Handle) }.wake_block_on();
}

unsafe fn waker_drop(ptr: *const ()) {
    // SAFETY: the waker owns this strong count.
    drop(unsafe { Arc::from_raw(ptr as *const Handle) });
}

impl Schedule for Arc<Handle> {
    fn schedule(&self, task: Notified<Self>) {
        context::with_scheduler(|cx| {
            if let Some(super::Context::CurrentThread(cx)) = cx {
                if Arc::ptr_eq(self, &cx.handle) {
                    if let Some(core) = cx.core.borrow_mut().as_mut() {
                        core.tasks.push_back(task);
                        return;
                    }
                }
            }
            self.push_remote(task);
        });
    }

    fn release(&self, task: &Task<Self>) -> Option<Task<Self>> {
        self.owned.remove(task)
    }
}

/// Runs the scheduler loop with the core installed in the thread's context, and takes the
/// core back out even if the `block_on` future panics.
struct CoreGuard;

impl CoreGuard {
    fn run<F: Future>(
        handle: &Arc<Handle>,
        core: Box<Core>,
        future: std::pin::Pin<&mut F>,
    ) -> (Box<Core>, F::Output) {
        let cx = super::Context::CurrentThread(Context {
            handle: handle.clone(),
            core: RefCell::new(Some(core)),
        });
        let out = context::set_scheduler(&cx, || {
            let super::Context::CurrentThread(cx) = &cx else {
                unreachable!()
            };
            cx.run(future)
        });
        let super::Context::CurrentThread(cx) = cx else {
            unreachable!()
        };
        let core = cx
            .core
            .into_inner()
            .expect("the scheduler core was not put back; this is a corio bug");
        (core, out)
    }
}

impl Context {
    /// Steps 2-4.
    fn run<F: Future>(&self, mut future: std::pin::Pin<&mut F>) -> F::Output {
        let handle = &self.handle;
        let waker = Handle::waker(handle);
        let mut cx = TaskContext::from_waker(&waker);
        let config = &handle.config;
        let global_interval = config.global_queue_interval.max(1);
        let event_interval = config.event_interval.max(1);
        handle.woken.store(true, Ordering::Relaxed);
        let mut busy_since = Instant::now();

        loop {
            // Acquire pairs with the Release store in `wake_block_on`.
            if handle.woken.swap(false, Ordering::Acquire) {
                if let Poll::Ready(out) = coop::budget(|| future.as_mut().poll(&mut cx)) {
                    self.flush_metrics(busy_since);
                    return out;
                }
            }

            let mut ran = 0;
            // Up to `event_interval` tasks even if the `block_on` future was woken meanwhile,
            // so a future that keeps yielding cannot starve the tasks it waits for.
            while ran < event_interval {
                let Some(task) = self.next_task(global_interval) else {
                    break;
                };
                task.run();
                ran += 1;
            }
            self.with_core(|core| core.polls += u64::from(ran));

            if ran == event_interval {
                // Step 4: busy; look at I/O and timers without blocking.
                self.park(Some(Duration::ZERO), &mut busy_since);
            } else if !handle.woken.load(Ordering::Relaxed) && self.has_no_work() {
                // Step 3.
                self.park(None, &mut busy_since);
            }
        }
    }

    fn with_core<R>(&self, f: impl FnOnce(&mut Core) -> R) -> R {
        f(self
            .core
            .borrow_mut()
            .as_mut()
            .expect("scheduler core missing; this is a corio bug"))
    }

    fn next_task(&self, global_interval: u32) -> Option<Notified<Arc<Handle>>> {
        let (tick, local) = self.with_core(|core| {
            core.tick = core.tick.wrapping_add(1);
            let local = if core.tick % global_interval == 0 {
                None
            } else {
                core.tasks.pop_front()
            };
            (core.tick, local)
        });
        if local.is_some() {
            return local;
        }
        if tick % global_interval == 0 {
            if let Some(t) = self.handle.pop_remote() {
                return Some(t);
            }
            if let Some(t) = self.with_core(|core| core.tasks.pop_front()) {
                return Some(t);
            }
            return None;
        }
        self.handle.pop_remote()
    }

    fn has_no_work(&self) -> bool {
        self.with_core(|core| core.tasks.is_empty()) && self.handle.inject.lock().queue.is_empty()
    }

    /// Parks on the driver with the core taken out of the context, so that wakers fired by
    /// the driver push to the injector (they cannot reach the local queue meanwhile).
    fn park(&self, timeout: Option<Duration>, busy_since: &mut Instant) {
        let mut core = self
            .core
            .borrow_mut()
            .take()
            .expect("scheduler core missing; this is a corio bug");
        let mut driver = core
            .driver
            .take()
            .expect("driver missing; this is a corio bug");
        if timeout != Some(Duration::ZERO) {
            self.handle.metrics.add_busy(busy_since.elapsed());
            self.handle
                .metrics
                .add_polls(std::mem::take(&mut core.polls));
            self.handle.metrics.inc_parks();
        }
        driver.park(&self.handle.driver, timeout);
        if timeout != Some(Duration::ZERO) {
            *busy_since = Instant::now();
        }
        core.driver = Some(driver);
        *self.core.borrow_mut() = Some(core);
    }

    fn flush_metrics(&self, busy_since: Instant) {
        self.handle.metrics.add_busy(busy_since.elapsed());
        let polls = self.with_core(|core| std::mem::take(&mut core.polls));
        self.handle.metrics.add_polls(polls);
        let depth = self.with_core(|core| core.tasks.len());
        self.handle.metrics.set_queue_depth(depth);
    }
}

impl fmt::Debug for CurrentThread {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CurrentThread").finish_non_exhaustive()
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("current_thread::Handle")
            .field("owned", &self.owned)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("current_thread::Context")
            .finish_non_exhaustive()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use crate::runtime::Builder;
    use crate::scheduler;
    use crate::sync::{oneshot, Notify};

    fn unparks(rt: &crate::runtime::Runtime) -> usize {
        let scheduler::Handle::CurrentThread(h) = &rt.handle().inner else {
            unreachable!("built as a current-thread runtime")
        };
        h.driver.io.unpark_count()
    }

    /// A wake-up on the thread that runs the scheduler needs no system call: that thread is
    /// not asleep in the driver, and it looks at `woken` before it sleeps. One from another
    /// thread still wakes the driver.
    #[test]
    fn wakes_from_the_scheduler_thread_leave_the_driver_alone() {
        let rt = Builder::new_current_thread().build().unwrap();
        let before = unparks(&rt);
        let pings = rt.block_on(async {
            // The `block_on` future wakes itself.
            for _ in 0..1_000 {
                crate::task::yield_now().await;
            }
            // A spawned task wakes the `block_on` future, and the other way round.
            let ping = Arc::new(Notify::new());
            let pong = Arc::new(Notify::new());
            let (ping2, pong2) = (ping.clone(), pong.clone());
            let task = crate::spawn(async move {
                for _ in 0..1_000 {
                    ping2.notified().await;
                    pong2.notify_one();
                }
            });
            let mut pings = 0;
            for _ in 0..1_000 {
                ping.notify_one();
                pong.notified().await;
                pings += 1;
            }
            task.await.unwrap();
            pings
        });
        assert_eq!(pings, 1_000);
        let local = unparks(&rt) - before;
        assert!(
            local < 10,
            "{local} driver unparks for 2,000 wake-ups on the scheduler's own thread"
        );

        let before = unparks(&rt);
        let got = rt.block_on(async {
            let (tx, rx) = oneshot::channel();
            let sender = std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(20));
                tx.send(7).unwrap();
            });
            let got = rx.await.unwrap();
            sender.join().unwrap();
            got
        });
        assert_eq!(got, 7);
        assert!(
            unparks(&rt) > before,
            "a wake-up from another thread must wake the driver"
        );
    }
}
