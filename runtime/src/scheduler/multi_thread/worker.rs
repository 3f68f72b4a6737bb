//! A worker's loop: which task to run next, stealing, and parking.
//!
//! Next task (DESIGN.md step 3): after every `global_queue_interval` polls (LIFO-slot polls
//! included, so a spawn chain cannot stretch the interval) the injector first, taking a fair
//! share of it (its length over the number of workers) so that remote spawns onto busy
//! workers drain as fast as they arrive; but while the run queue holds tasks that this
//! worker's driver turn woke (timers, I/O), only up to [`BACKLOG`] queued tasks in all, so
//! that woken tasks, which have a deadline or a peer waiting, run before a backlog of
//! never-polled spawns, which is better left in the injector, where it delays no deadline;
//! then the LIFO slot (at most [`MAX_LIFO_POLLS`] in a row, then its task goes to the back of
//! the run queue, so a ping-pong pair cannot starve the queue); then the run queue; then a
//! batch from the injector. With nothing local, the worker searches and then parks:
//!
//! 1. Become *searching* if fewer than half the workers search (`Idle`); else go to 4.
//! 2. Scan the victims from a random start: each one's run queue (steal about half), then its
//!    LIFO slot (stealable, so a task in the slot of a worker stuck in a long poll still
//!    runs); then the injector.
//!    Found nothing: watch the injector for a few microseconds before going on to 4
//!    ([`Context::spin_for_work`]), still searching, so remote pushes meanwhile wake no one;
//!    unless this worker's recent spins each found a single task (`spin.rs`: a producer
//!    that pushes one task at a time is better served by a worker that parks and then runs
//!    a batch).
//! 3. Found work: stop searching; the last searcher to stop wakes one sleeper if any queue
//!    or LIFO slot still holds work (wake-ups chain, one worker at a time, without a
//!    thundering herd).
//! 4. Publish "asleep" (push on the sleeper list), then re-check every queue and LIFO slot
//!    (SeqCst fence between): a concurrent notifier either sees this sleeper or is seen.
//!    Work found: take itself off the list and run it.
//! 5. Park: on the driver if it is free, else on the worker's condvar. While any worker is
//!    running, a sleeper wakes after [`WATCHDOG`] to look for work left behind by a worker
//!    stuck in a long poll (its run queue and LIFO slot), and to take the driver if no one
//!    holds it. Each such wake-up that finds nothing doubles the sleeper's next time-out, up
//!    to [`WATCHDOG_MAX`]: under partial load (one worker always busy) an idle worker wakes
//!    about 60 times a second rather than 500, and work behind a stuck worker still waits
//!    at most `WATCHDOG_MAX`.
//! 6. (in `mod.rs`) A remote push: if no one searches, pop a sleeper and unpark it.
//! 7. Driver hand-off: a worker that leaves the driver to run tasks wakes a condvar sleeper
//!    to take the driver over, so a worker stuck in a long poll never holds up I/O (I4).
//!    Busy workers also turn the driver without blocking every `event_interval` ticks (or,
//!    if another thread holds it, fire the timers that are due, which have their own lock:
//!    a holder descheduled by the OS mid-turn must not hold every timer up), with the core
//!    in the context, so what the turn wakes joins this worker's run queue.
//! 8. Rescue: at each maintenance a busy worker also looks at its siblings' heartbeats (a
//!    loop count each stores every tick): one that has not moved for [`STALLED`] belongs
//!    to a worker that is not running (descheduled by the OS, or in a long poll), and half
//!    of its run queue and its LIFO slot move here. And at the periodic injector check, a
//!    sibling's queue longer than this worker's by [`BACKLOG`] is halved before the
//!    injector is asked (busy workers never search, so a backlog would otherwise wait for
//!    its own worker).

use std::cell::RefCell;
use std::fmt;
use std::io::Write;
use std::time::{Duration, Instant};

use super::spin::{SpinGovernor, SEARCH_SPIN};
use super::{Handle, Remote};
use crate::loom::deque::{Steal, Stealer, Worker};
use crate::loom::sync::atomic::{fence, Ordering::Relaxed, Ordering::SeqCst};
use crate::loom::sync::Arc;
use crate::loom::thread;
use crate::runtime::context;
use crate::scheduler;
use crate::task::Notified;

/// Polls of the LIFO slot in a row before its task must queue like the others.
const MAX_LIFO_POLLS: u8 = 3;

/// While a worker's run queue holds tasks its driver turn woke, the periodic injector check
/// fills the queue only up to this length (it takes one task above it, for fairness). And
/// a run queue longer than this holds work its worker woke or spawned itself (an injector
/// batch is at most 63 tasks, one block), which a sibling whose own queue ran dry takes half
/// of before new tasks ([`Context::steal_backlog`]).
const BACKLOG: usize = 64;

/// A sibling whose loop count (`Remote::heartbeat`) has not moved for this long is not
/// running: the OS descheduled it (three threads on two cores, or a vCPU the host took
/// away) or it is inside one long poll. A busy worker then takes half of its queue at its
/// next maintenance ([`Context::rescue`]). Short enough to matter against the 3-4 ms an OS
/// time slice keeps a runnable thread waiting, long enough that a sibling between two
/// ordinary polls is never mistaken for a stalled one.
pub(super) const STALLED: Duration = Duration::from_micros(200);

/// The most tasks one steal from a sibling moves (crossbeam-deque's own batch limit), except
/// in a rescue, which takes half however many that is.
const STEAL_BATCH: usize = 32;

/// How soon a sleeping worker first checks on the running ones while any is running.
const WATCHDOG: Duration = Duration::from_millis(2);

/// The longest a sleeper waits between checks while any worker is running (step 5).
const WATCHDOG_MAX: Duration = Duration::from_millis(16);

type Task = Notified<Arc<Handle>>;

/// Completed tasks a worker keeps before it unlinks them from the owned list in one batch
/// ([`Context::defer_release`]); the batch is also flushed at every maintenance and before
/// the worker parks, so a completed task's memory waits at most one maintenance interval.
const RELEASE_BATCH: usize = 32;

/// What only the thread running worker `index` touches.
pub(crate) struct Core {
    index: usize,
    run_queue: Worker<Task>,
    tick: u32,
    /// Polls since the injector was last checked first.
    since_global: u32,
    lifo_polls: u8,
    is_searching: bool,
    /// Set while parked: a wake delivered by the driver to this worker's own queue then
    /// needs no notification (this worker is about to look).
    is_parking: bool,
    /// Set while this worker turns the driver in `maintenance`: wakes go to the back of the
    /// run queue (not the LIFO slot) and one notification follows the turn.
    in_driver: bool,
    /// Some task was pushed while `in_driver` (during the current turn).
    driver_woke: bool,
    /// A driver turn queued tasks that may still be in the run queue (cleared when the run
    /// queue is seen empty): the injector check then keeps the queue short.
    woken_queued: bool,
    rng: u32,
    polls: u64,
    steals: u64,
    busy_since: Instant,
    /// Per sibling: its heartbeat when last seen to change, and when that was.
    seen: Box<[(usize, Instant)]>,
    /// Tasks that completed on this worker and are still in the owned list, each with the
    /// completer's reference ([`Context::defer_release`]).
    completed: Vec<crate::task::Task<Arc<Handle>>>,
    /// Whether a search that found nothing spins before parking.
    spin: SpinGovernor,
}

/// The scheduler context of a worker thread.
pub(crate) struct Context {
    handle: Arc<Handle>,
    index: usize,
    core: RefCell<Option<Box<Core>>>,
}

impl Core {
    pub(super) fn new(index: usize, workers: usize) -> (Box<Core>, Stealer<Task>) {
        let run_queue = Worker::new_fifo();
        let steal = run_queue.stealer();
        let core = Box::new(Core {
            index,
            run_queue,
            tick: 0,
            since_global: 0,
            lifo_polls: 0,
            is_searching: false,
            is_parking: false,
            in_driver: false,
            driver_woke: false,
            woken_queued: false,
            rng: 0x9E37_79B9 ^ (index as u32).wrapping_mul(0x85EB_CA6B) | 1,
            polls: 0,
            steals: 0,
            busy_since: Instant::now(),
            seen: vec![(usize::MAX, Instant::now()); workers].into_boxed_slice(),
            completed: Vec::with_capacity(RELEASE_BATCH),
            spin: SpinGovernor::default(),
        });
        (core, steal)
    }

    fn next_rand(&mut self, n: usize) -> usize {
        // xorshift32: victim selection needs speed and spread, not quality.
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.rng = x;
        (x as usize) % n
    }
}

/// Starts a thread that runs worker `index` (its core waits in `shared.cores[index]`).
pub(super) fn launch(handle: &Arc<Handle>, index: usize) -> std::io::Result<()> {
    let config = &handle.config;
    let mut builder = thread::Builder::new().name(config.thread_name.clone());
    if let Some(size) = config.thread_stack_size {
        builder = builder.stack_size(size);
    }
    let h = handle.clone();
    let join = builder.spawn(move || run(h, index))?;
    handle.shared.threads.lock().push(join);
    Ok(())
}

/// The body of a worker thread.
fn run(handle: Arc<Handle>, index: usize) {
    let core = handle.shared.cores[index].lock().take();
    let Some(core) = core else {
        // `block_in_place` took the core back before this thread started.
        return;
    };
    if let Some(f) = &handle.config.on_thread_start {
        f();
    }
    // Timers this worker's tasks register go to its own wheel shard.
    crate::driver::time::set_shard_hint(index);
    let sched_handle = scheduler::Handle::MultiThread(handle.clone());
    {
        let _enter = context::enter_runtime(&sched_handle);
        let cx = scheduler::Context::MultiThread(Context {
            handle: handle.clone(),
            index,
            core: RefCell::new(None),
        });
        context::set_scheduler(&cx, || {
            let scheduler::Context::MultiThread(cx) = &cx else {
                unreachable!()
            };
            abort_on_scheduler_panic(index, || cx.run(core));
        });
    }
    if let Some(f) = &handle.config.on_thread_stop {
        f();
    }
}

/// Runs the worker loop and aborts the process if it unwinds.
///
/// Such a panic is a bug in corio's own code: polls, and the destructors and wakers they
/// reach, run under `catch_unwind` in the task harness. A worker thread that ended there
/// would strand the tasks in its run queue and LIFO slot and keep its place on the idle
/// list, so the program (or test) would hang with no word of why. The message goes to the
/// process's stderr directly: the test harness captures `eprintln!` and the panic hook's
/// output, and would lose both with the aborted process.
fn abort_on_scheduler_panic(index: usize, f: impl FnOnce()) {
    // Under loom a panic already fails the model, with its message.
    if cfg!(loom) {
        return f();
    }
    let Err(payload) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) else {
        return;
    };
    let what = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(a panic payload that is not a string)");
    // One write of the whole message: another worker's panic may be printing at the same
    // moment, and a message split over several writes came out interleaved with it.
    let message = format!(
        "corio: worker thread {index} panicked in the scheduler, outside any task: {what}\n\
         corio: this is a bug in corio, not in your code. Aborting, because the tasks queued \
         on that worker would otherwise never run; please report it with this message and \
         the output of a run with RUST_BACKTRACE=1.\n"
    );
    let _ = std::io::stderr().lock().write_all(message.as_bytes());
    std::process::abort();
}

/// Test-only fault: set, the next maintenance panics (`abort_on_scheduler_panic`'s test).
#[cfg(all(test, not(loom)))]
pub(super) static INJECT_SCHEDULER_PANIC: crate::loom::StaticAtomicU64 =
    crate::loom::StaticAtomicU64::new(0);

impl Context {
    pub(super) fn handle(&self) -> &Arc<Handle> {
        &self.handle
    }

    fn remote(&self) -> &Remote {
        &self.handle.shared.remotes[self.index]
    }

    fn run(&self, mut core: Box<Core>) {
        let shared = &self.handle.shared;
        let global_interval = self.handle.config.global_queue_interval.max(1);
        let event_interval = self.handle.config.event_interval.max(1);
        core.busy_since = Instant::now();
        while !shared.shutdown.load(SeqCst) {
            core.tick = core.tick.wrapping_add(1);
            self.remote()
                .heartbeat
                .count
                .store(core.tick as usize, Relaxed);
            if core.tick % event_interval == 0 {
                match self.maintenance(core) {
                    Some(c) => core = c,
                    None => return,
                }
            }
            let task = match self.next_task(&mut core, global_interval) {
                Some(task) => Some(task),
                None => self.steal_work(&mut core),
            };
            let next = match task {
                Some(task) => self.run_task(core, task).map(|mut core| {
                    if core.completed.len() >= RELEASE_BATCH {
                        self.release_completed(&mut core);
                    }
                    core
                }),
                None => {
                    if core.is_searching
                        && core.spin.should_spin(core.polls)
                        && self.spin_for_work()
                    {
                        core.spin.found(core.polls);
                        Some(core)
                    } else {
                        self.park(core)
                    }
                }
            };
            match next {
                Some(c) => core = c,
                // `block_in_place` handed the core to another thread.
                None => return,
            }
        }
        self.shutdown_core(core);
    }

    /// Step 3 (found work), then poll `task` and the LIFO chain it starts. Returns `None` if
    /// the core was handed away during a poll.
    fn run_task(&self, mut core: Box<Core>, task: Task) -> Option<Box<Core>> {
        if core.is_searching {
            core.is_searching = false;
            // The last searcher found work: if there is more, wake the next one. Only if
            // there is: a sleeper woken for nothing searches, finds nothing and parks again,
            // two context switches on a core a running thread may need (every remote wake-up
            // of a single task paid them). The fence pairs with the one in `push_remote` (and
            // `notify_if_needed`) as in step 4: a push that read `searching` before our
            // decrement and so woke no one is seen by `any_work` here.
            if self.handle.shared.idle.transition_from_searching() {
                fence(SeqCst);
                if self.any_work() {
                    self.handle.notify_parked();
                }
            }
        }
        core.polls += 1;
        core.since_global += 1;
        *self.core.borrow_mut() = Some(core);
        task.run();
        loop {
            let mut core = self.core.borrow_mut().take()?;
            let Some(task) = self.remote().lifo.take() else {
                core.lifo_polls = 0;
                return Some(core);
            };
            if core.lifo_polls >= MAX_LIFO_POLLS {
                core.lifo_polls = 0;
                core.run_queue.push(task);
                self.notify_if_needed();
                return Some(core);
            }
            core.lifo_polls += 1;
            core.polls += 1;
            core.since_global += 1;
            *self.core.borrow_mut() = Some(core);
            task.run();
        }
    }

    fn next_task(&self, core: &mut Core, global_interval: u32) -> Option<Task> {
        let shared = &self.handle.shared;
        if core.since_global >= global_interval {
            core.since_global = 0;
            // A sibling's backlog (the tasks its driver turn woke) before new tasks: a busy
            // worker refills its queue from the injector here every time, so while spawns
            // keep coming its queue never runs dry and it never reaches `steal_backlog`
            // below, and the sibling works through a millisecond's worth of timers alone.
            // The injector still gives one task after it (fairness: a remote wake-up must
            // not wait behind two workers taking turns at each other's queues).
            if let Some(task) = self.steal_backlog(core) {
                core.run_queue.push(task);
            }
            let mut share = shared.inject.len() / shared.remotes.len() + 1;
            if core.woken_queued {
                share = share.min(BACKLOG.saturating_sub(core.run_queue.len()).max(1));
            }
            let task = steal_one(|| {
                shared
                    .inject
                    .steal_batch_with_limit_and_pop(&core.run_queue, share)
            });
            if let Some(task) = task {
                if !core.run_queue.is_empty() {
                    self.notify_if_needed();
                }
                return Some(task);
            }
        }
        if let Some(task) = self.remote().lifo.take() {
            return Some(task);
        }
        if let Some(task) = core.run_queue.pop() {
            return Some(task);
        }
        core.woken_queued = false;
        if let Some(task) = self.steal_backlog(core) {
            return Some(task);
        }
        let task = steal_one(|| shared.inject.steal_batch_and_pop(&core.run_queue))?;
        if !core.run_queue.is_empty() {
            self.notify_if_needed();
        }
        Some(task)
    }

    /// A busy worker takes half of a sibling's backlog, if one has more than [`BACKLOG`]
    /// tasks queued beyond this worker's own, before it takes new tasks from the injector
    /// (when its own queue ran dry, and at the periodic injector check).
    /// Such a backlog is work the sibling woke or spawned itself: after a driver turn that fired a
    /// millisecond's worth of timers, it is every one of them, and splitting it halves how
    /// late the last one runs. Busy workers do not search (step 1), so without this the
    /// sibling would work through it alone while this worker starts new tasks.
    fn steal_backlog(&self, core: &mut Core) -> Option<Task> {
        let shared = &self.handle.shared;
        let n = shared.remotes.len();
        let mine = core.run_queue.len();
        let start = core.next_rand(n);
        for i in 0..n {
            let victim = (start + i) % n;
            if victim == core.index || shared.remotes[victim].steal.len() <= mine + BACKLOG {
                continue;
            }
            if let Some(task) = self.steal_half(core, victim) {
                return Some(task);
            }
        }
        None
    }

    /// Takes about half of `victim`'s run queue (at most [`STEAL_BATCH`] tasks) into ours
    /// and returns one of the tasks.
    fn steal_half(&self, core: &mut Core, victim: usize) -> Option<Task> {
        self.steal_half_up_to(core, victim, STEAL_BATCH)
    }

    /// As [`Context::steal_half`], at most `limit` tasks.
    fn steal_half_up_to(&self, core: &mut Core, victim: usize, limit: usize) -> Option<Task> {
        let before = core.run_queue.len();
        let task = steal_one(|| {
            self.handle.shared.remotes[victim]
                .steal
                .steal_batch_with_limit_and_pop(&core.run_queue, limit)
        })?;
        // Saturating: a sibling may steal from our queue meanwhile (its length can drop).
        core.steals += 1 + core.run_queue.len().saturating_sub(before) as u64;
        Some(task)
    }

    /// Steps 1 and 2.
    fn steal_work(&self, core: &mut Core) -> Option<Task> {
        let shared = &self.handle.shared;
        if !core.is_searching {
            if !shared.idle.try_transition_to_searching() {
                return None;
            }
            core.is_searching = true;
        }
        let n = shared.remotes.len();
        let start = core.next_rand(n);
        for i in 0..n {
            let victim = (start + i) % n;
            if victim == core.index {
                continue;
            }
            if let Some(task) = self.steal_half(core, victim) {
                return Some(task);
            }
            if let Some(task) = shared.remotes[victim].lifo.take() {
                core.steals += 1;
                return Some(task);
            }
        }
        steal_one(|| shared.inject.steal_batch_and_pop(&core.run_queue))
    }

    /// The end of step 2 for a searcher that found nothing: watch the injector for up to
    /// [`SEARCH_SPIN`] before parking. True if work arrived there.
    ///
    /// Work that comes from outside the runtime (a `block_on` thread spawning, a thread
    /// that notifies) comes in bursts, and a worker that parked between two pushes costs
    /// each next push a wake-up: a syscall for the pusher, and 20-50 us on a host whose
    /// idle vCPU halts before the worker runs (`benches/RESULTS.md`). While this worker
    /// stays a searcher, pushes wake no one (step 6) and it takes the work itself.
    /// Only the injector is watched: siblings' queues and LIFO slots are written by running
    /// workers on every spawn, and reading them in a loop took the cache lines (and the
    /// task chains) away from them (`chained_spawn` ran 3x slower). Their work is not lost:
    /// the park re-check (step 4) scans everything once more. The caller asks the core's
    /// [`SpinGovernor`] first, which refuses the spin while work comes one task at a time.
    fn spin_for_work(&self) -> bool {
        let inject = &self.handle.shared.inject;
        if !crate::loom::HAS_CLOCK {
            // Under loom (no clock) the spin is one look: enough for the models to cover a
            // searcher that found work this way and goes back to scanning, still counted as
            // searching, while remote pushes wake no one.
            return !inject.is_empty();
        }
        let start = Instant::now();
        loop {
            // The clock costs more than a look at the injector's length.
            for _ in 0..8 {
                if !inject.is_empty() {
                    return true;
                }
                crate::loom::hint::spin_loop();
            }
            if start.elapsed() >= SEARCH_SPIN {
                return false;
            }
        }
    }

    /// True if any queue or LIFO slot holds work (step 4's re-check).
    fn any_work(&self) -> bool {
        let shared = &self.handle.shared;
        !shared.inject.is_empty()
            || shared
                .remotes
                .iter()
                .any(|r| !r.steal.is_empty() || !r.lifo.is_empty())
    }

    /// Keeps `task`, whose completion on this worker just ran, for the next batch unlink
    /// ([`RELEASE_BATCH`]); returns it if this thread's core is elsewhere (handed away by
    /// `block_in_place`, or in use by the caller outside a task poll).
    pub(super) fn defer_release(
        &self,
        task: crate::task::Task<Arc<Handle>>,
    ) -> Option<crate::task::Task<Arc<Handle>>> {
        let Ok(mut slot) = self.core.try_borrow_mut() else {
            return Some(task);
        };
        match slot.as_mut() {
            // Batching pays when tasks complete in a row, from a queue that holds more;
            // a lone completion (a chain of spawns, a ping-pong) is cheaper unlinked at once,
            // while the shard lock is still in this core's cache, and its memory is freed
            // for the next spawn to reuse while it is hot.
            Some(core) if !core.run_queue.is_empty() || !core.completed.is_empty() => {
                core.completed.push(task);
                // Relaxed, a plain store: only this worker writes it; it is a metric.
                self.remote()
                    .heartbeat
                    .completed
                    .store(core.completed.len() as u64, Relaxed);
                None
            }
            _ => Some(task),
        }
    }

    /// Unlinks the tasks kept by [`Context::defer_release`] and drops their references.
    fn release_completed(&self, core: &mut Core) {
        if !core.completed.is_empty() {
            let kept = &self.remote().heartbeat.completed;
            self.handle
                .shared
                .owned
                .remove_batch(&mut core.completed, |left| kept.store(left as u64, Relaxed));
        }
    }

    /// Steps 4, 5 and 7. Returns the core with the worker unparked and searching.
    fn park(&self, mut core: Box<Core>) -> Option<Box<Core>> {
        let handle = &self.handle;
        let shared = &handle.shared;
        // A parked worker keeps nothing alive that it does not need.
        self.release_completed(&mut core);
        let was_searching = std::mem::replace(&mut core.is_searching, false);
        shared.idle.transition_to_parked(core.index, was_searching);
        // Pairs with the fence in `push_remote` / `notify_if_needed`: either they see us on
        // the sleeper list or we see their work here.
        fence(SeqCst);
        if self.any_work() || shared.shutdown.load(SeqCst) {
            shared.idle.unpark_self(core.index);
            core.is_searching = true;
            return Some(core);
        }

        self.flush_metrics(&mut core);
        self.remote().metrics.inc_parks();
        core.is_parking = true;
        let mut woke_on_driver = false;
        let mut watchdog = WATCHDOG;
        loop {
            let timeout = (shared.idle.num_unparked() > 0).then_some(watchdog);
            *self.core.borrow_mut() = Some(core);
            let woke = self
                .remote()
                .parker
                .park(&shared.driver, &handle.driver, timeout);
            core = self.core.borrow_mut().take()?;
            woke_on_driver |= woke == super::park::Woke::Driver;
            if shared.shutdown.load(SeqCst) {
                break;
            }
            if !shared.idle.is_parked(core.index) {
                // A notifier took us off the list and counted us as searching.
                break;
            }
            let own_work = !core.run_queue.is_empty() || !self.remote().lifo.is_empty();
            if (own_work || self.any_work()) && shared.idle.unpark_self(core.index) {
                break;
            }
            // Nothing to do: park again (on the driver, if it is free now: the watchdog's
            // second job).
            watchdog = (watchdog * 2).min(WATCHDOG_MAX);
        }
        core.is_parking = false;
        core.is_searching = true;
        core.busy_since = Instant::now();
        if woke_on_driver && !shared.shutdown.load(SeqCst) {
            // Step 7: we leave the driver to run tasks; hand it to a condvar sleeper.
            let remotes = &shared.remotes;
            if let Some(w) = shared
                .idle
                .worker_for_driver(|w| u8::from(remotes[w].parker.is_on_driver()))
            {
                remotes[w].parker.unpark(&handle.driver);
            }
        }
        Some(core)
    }

    /// Every `event_interval` ticks: turn the driver without blocking (if free), publish
    /// counters. Returns `None` if the core was handed away meanwhile.
    fn maintenance(&self, mut core: Box<Core>) -> Option<Box<Core>> {
        #[cfg(all(test, not(loom)))]
        if INJECT_SCHEDULER_PANIC.load(Relaxed) != 0 {
            panic!("injected scheduler fault");
        }
        let shared = &self.handle.shared;
        // The core is in the context during the turn, so the tasks it wakes (expired timers,
        // ready sockets) go to the back of this worker's run queue, which the injector check
        // keeps short, instead of behind every never-polled task in the injector: a woken
        // task has a deadline or a peer waiting on it, a new one does not yet. Idle workers
        // are told once, after the turn, and steal from the queue.
        core.in_driver = true;
        *self.core.borrow_mut() = Some(core);
        if let Some(mut guard) = shared.driver.try_lock() {
            guard.with(|driver| {
                if let Some(driver) = driver {
                    driver.park(&self.handle.driver, Some(Duration::ZERO));
                }
            });
        } else {
            // Someone else holds the driver: parked on it (it wakes for I/O and its next
            // timer by itself), or in its own turn and perhaps descheduled there by the OS.
            // Timers are behind their own lock, so fire what is due rather than wait.
            self.handle.driver.time.process_without_driver();
        }
        core = self.core.borrow_mut().take()?;
        core.in_driver = false;
        if std::mem::take(&mut core.driver_woke) {
            core.woken_queued = true;
            self.notify_if_needed();
        }
        self.flush_metrics(&mut core);
        self.release_completed(&mut core);
        self.rescue(&mut core);
        Some(core)
    }

    /// Takes half of the run queue (and the LIFO slot) of every sibling that has not run
    /// for [`STALLED`]: a worker the OS descheduled keeps its queue for a whole time slice
    /// (3-4 ms; on two cores the thread that called `block_on` is often the one running
    /// instead), and busy workers do not search, so without this a millisecond's worth of
    /// timers that it fired just before waits for it. Work-stealing runtimes usually leave
    /// this to idle workers, which never exist while spawns keep every worker busy.
    fn rescue(&self, core: &mut Core) {
        let shared = &self.handle.shared;
        // `flush_metrics` just read the clock.
        let now = core.busy_since;
        for victim in 0..shared.remotes.len() {
            if victim == core.index {
                continue;
            }
            let remote = &shared.remotes[victim];
            let beat = remote.heartbeat.count.load(Relaxed);
            let seen = &mut core.seen[victim];
            if beat != seen.0 {
                *seen = (beat, now);
                continue;
            }
            if now.duration_since(seen.1) < STALLED {
                continue;
            }
            let mut took = false;
            if let Some(task) = self.steal_half_up_to(core, victim, usize::MAX) {
                core.run_queue.push(task);
                took = true;
            }
            if let Some(task) = remote.lifo.take() {
                core.run_queue.push(task);
                core.steals += 1;
                took = true;
            }
            if took {
                self.notify_if_needed();
            }
        }
    }

    fn flush_metrics(&self, core: &mut Core) {
        let m = &self.remote().metrics;
        m.add_polls(std::mem::take(&mut core.polls));
        m.add_steals(std::mem::take(&mut core.steals));
        let now = Instant::now();
        m.add_busy(now - core.busy_since);
        core.busy_since = now;
        m.set_queue_depth(core.run_queue.len());
    }

    /// Wake a sleeper for work this worker cannot run right now (its run queue grew).
    fn notify_if_needed(&self) {
        fence(SeqCst);
        self.handle.notify_parked();
    }

    /// Step 2 of a task's life for a wake on this worker. Returns the task if this thread
    /// has no core (it must go remote).
    pub(super) fn schedule_local(&self, task: Task, is_yield: bool) -> Option<Task> {
        let mut slot = self.core.borrow_mut();
        let Some(core) = slot.as_mut() else {
            return Some(task);
        };
        let parking = core.is_parking;
        let in_driver = core.in_driver;
        if in_driver {
            core.driver_woke = true;
            core.run_queue.push(task);
        } else if is_yield {
            core.run_queue.push(task);
        } else {
            match self.remote().lifo.put(task) {
                Some(prev) => core.run_queue.push(prev),
                None => return None,
            }
        }
        drop(slot);
        if !parking && !in_driver {
            self.notify_if_needed();
        }
        None
    }

    fn shutdown_core(&self, core: Box<Core>) {
        // Drop the queued references; the tasks themselves are cancelled through the
        // owned list (shutdown step 2).
        drop(self.remote().lifo.take());
        while let Some(task) = core.run_queue.pop() {
            drop(task);
        }
        let mut core = core;
        self.release_completed(&mut core);
        self.flush_metrics(&mut core);
    }
}

fn steal_one(mut f: impl FnMut() -> Steal<Task>) -> Option<Task> {
    loop {
        match f() {
            Steal::Success(t) => return Some(t),
            Steal::Empty => return None,
            Steal::Retry => crate::loom::hint::spin_loop(),
        }
    }
}

/// Runs `f`, which may block, on this thread, after handing this worker's core (its queue)
/// to a new thread so the other tasks of this worker keep running.
///
/// # Panics
/// On a current-thread runtime, which has no other thread to hand its tasks to.
#[track_caller]
pub(crate) fn block_in_place<F: FnOnce() -> R, R>(f: F) -> R {
    let handed = context::with_scheduler(|cx| match cx {
        Some(scheduler::Context::MultiThread(cx)) => {
            let core = cx.core.borrow_mut().take();
            match core {
                Some(core) => {
                    let shared = &cx.handle.shared;
                    *shared.cores[cx.index].lock() = Some(core);
                    if let Err(e) = launch(&cx.handle, cx.index) {
                        // No thread: take the core back and block this worker instead.
                        let core = shared.cores[cx.index].lock().take();
                        *cx.core.borrow_mut() = core;
                        eprintln!("corio: block_in_place could not start a thread ({e}); blocking the worker");
                        return Ok(None);
                    }
                    Ok(Some(cx as *const Context))
                }
                // Already handed away (nested block_in_place).
                None => Ok(None),
            }
        }
        Some(scheduler::Context::CurrentThread(_)) => Err(()),
        None => Ok(None),
    });
    let handed = match handed {
        Ok(h) => h,
        Err(()) => panic!(
            "block_in_place cannot be used on a current-thread runtime: there is no other \
             thread to run this worker's tasks meanwhile. Use `corio::task::spawn_blocking`, \
             or build the runtime with `Builder::new_multi_thread()`"
        ),
    };
    let out = context::exit_runtime(f);
    if let Some(cx) = handed {
        // SAFETY: the context lives on this thread's stack frame of `run`, which is below us
        // (we are inside one of its task polls), so it outlives this call.
        let cx = unsafe { &*cx };
        // Take the core back if the new thread has not picked it up yet.
        let core = cx.handle.shared.cores[cx.index].lock().take();
        if core.is_some() {
            *cx.core.borrow_mut() = core;
        }
    }
    out
}

impl fmt::Debug for Core {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Core")
            .field("index", &self.index)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("multi_thread::Context")
            .field("index", &self.index)
            .finish_non_exhaustive()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};

    use super::INJECT_SCHEDULER_PANIC;

    const CHILD: &str = "CORIO_SCHEDULER_PANIC_CHILD";
    const CHILD_TEST: &str =
        "scheduler::multi_thread::worker::tests::child_runtime_hits_a_scheduler_fault";

    /// Runs in the child process only (in the parent's own run it returns at once): makes
    /// every worker's next maintenance panic, then waits for tasks that keep the workers
    /// ticking. Without the abort this hangs (both workers die, their tasks never run).
    #[test]
    fn child_runtime_hits_a_scheduler_fault() {
        if std::env::var_os(CHILD).is_none() {
            return;
        }
        let rt = crate::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap();
        INJECT_SCHEDULER_PANIC.store(1, std::sync::atomic::Ordering::Relaxed);
        rt.block_on(async {
            let hs: Vec<_> = (0..64)
                .map(|_| {
                    crate::spawn(async {
                        for _ in 0..1_000 {
                            crate::task::yield_now().await;
                        }
                    })
                })
                .collect();
            for h in hs {
                h.await.unwrap();
            }
        });
        println!("CHILD FINISHED");
    }

    #[test]
    fn a_panic_in_the_scheduler_aborts_with_a_message_instead_of_hanging() {
        let exe = std::env::current_exe().expect("path of the test binary");
        // Output to files, not pipes: a child blocked on a full pipe that nobody reads
        // while we poll for its exit would look like the hang this test detects.
        let dir = std::env::temp_dir();
        let tag = format!("corio-scheduler-panic-{}", std::process::id());
        let (out_path, err_path) = (
            dir.join(format!("{tag}.out")),
            dir.join(format!("{tag}.err")),
        );
        let file = |p: &std::path::Path| Stdio::from(std::fs::File::create(p).unwrap());
        let mut child = Command::new(exe)
            .args([CHILD_TEST, "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD, "1")
            // The message under test does not need the panic hook's backtraces.
            .env("RUST_BACKTRACE", "0")
            .stdout(file(&out_path))
            .stderr(file(&err_path))
            .spawn()
            .expect("run the test binary as a child");
        // Generous: the child needs milliseconds; a hang is what the abort prevents.
        let deadline = Instant::now() + Duration::from_secs(60);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = (
                    std::fs::remove_file(&out_path),
                    std::fs::remove_file(&err_path),
                );
                panic!("the child hung: a worker that panicked in the scheduler did not abort");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let stdout = std::fs::read_to_string(&out_path).unwrap_or_default();
        let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
        let _ = (
            std::fs::remove_file(&out_path),
            std::fs::remove_file(&err_path),
        );
        assert!(
            !status.success(),
            "the child should abort; stdout: {stdout}"
        );
        assert!(!stdout.contains("CHILD FINISHED"), "stdout: {stdout}");
        assert!(
            stderr
                .contains("panicked in the scheduler, outside any task: injected scheduler fault")
                && stderr.contains("this is a bug in corio"),
            "stderr: {stderr}"
        );
    }

    /// Step 3 wakes a sleeper only for work that is left: one remote task at a time wakes
    /// one worker, which runs it and parks again, while its sibling sleeps on. A sibling
    /// woken anyway would search, find nothing and park again: two parks per task.
    #[test]
    fn a_lone_remote_task_does_not_wake_a_second_worker() {
        const TASKS: u64 = 500;
        let rt = crate::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap();
        let m = rt.metrics();
        let parks = || (0..2).map(|i| m.worker_park_count(i)).sum::<u64>();
        // Both workers asleep before counting (each parks once at start).
        let deadline = Instant::now() + Duration::from_secs(10);
        while parks() < 2 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        let before = parks();
        for i in 0..TASKS {
            assert_eq!(rt.block_on(rt.spawn(async move { i })).unwrap(), i);
            // Long enough for the worker to park again: each task finds both asleep.
            std::thread::sleep(Duration::from_micros(200));
        }
        let parked = parks() - before;
        // One park per task, plus a margin for the noise of a shared machine (a worker
        // descheduled mid-round lets the other find the next task first, and so on).
        assert!(
            parked < TASKS * 3 / 2,
            "{parked} parks for {TASKS} tasks spawned one at a time: a worker that finds \
             the only task still wakes its sibling"
        );
    }
}
