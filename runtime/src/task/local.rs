//! [`LocalSet`]: runs `!Send` futures on the thread that owns the set.
//!
//! A `LocalSet` is a tiny scheduler of its own (it implements [`Schedule`]) that runs
//! inside whatever polls it: `run_until`, `block_on` or `.await` on the set. Its tasks use
//! the ordinary task core; what keeps a `!Send` future on one thread is this protocol.
//!
//! Protocol:
//! 1. `LocalSet::new` makes the shared part (`Arc<Shared>`: the owned-task list, the remote
//!    queue and the owner's waker, behind one mutex) and the thread-bound part
//!    (`Rc<Context>`: the local run queue). The set is `!Send`, so tasks bound to it with
//!    `OwnedTasks::bind_local` are polled (step 4) and cancelled (step 5) on this thread
//!    only; other threads only ever move and drop their `Notified` references.
//! 2. While the set is polled (or `enter`ed) its context is installed in the thread-local
//!    `CURRENT`; `spawn_local` and wakes on this thread find it there and push to the local
//!    queue, which needs no lock.
//! 3. Any other wake (another thread, or this thread while the set is not being polled)
//!    pushes to the remote queue and takes the owner's waker in the same critical section,
//!    then wakes it, so the task that awaits the set is polled again.
//! 4. A poll of the set first registers its caller's waker (under the remote lock), then
//!    runs up to [`TASKS_PER_TICK`] tasks: the local queue first, the remote queue first
//!    every [`REMOTE_INTERVAL`] tasks. With work left it wakes itself and yields, to be
//!    fair to the runtime's other tasks. Registering before looking at the queues means a
//!    step-3 push either is seen by this poll or finds the waker: no lost wake-up.
//! 5. Drop: with the context installed, close the owned list and cancel every task in place
//!    (on this thread, so their `JoinHandle`s report cancellation), then close the remote
//!    queue and drop what both queues hold. A later remote wake finds the queue closed and
//!    drops its `Notified` where it is: that only drops a reference, the future is gone.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::{pin, Pin};
use std::rc::Rc;
use std::task::{Context as TaskContext, Poll, Waker};

use super::{Id, JoinHandle, Notified, OwnedTasks, Schedule, Task};
use crate::coop;
use crate::loom::sync::{Arc, Mutex};
use crate::runtime::Runtime;

/// Tasks run per poll of the set before it yields to the runtime.
const TASKS_PER_TICK: u32 = 64;

/// Every this many tasks the remote queue is looked at first, so that tasks woken from
/// other threads are not starved by a busy local queue.
const REMOTE_INTERVAL: u32 = 16;

/// A set of `!Send` tasks that run on the thread that polls the set.
///
/// Spawn onto it with [`LocalSet::spawn_local`] or, from inside it, with
/// [`spawn_local`]; run it with [`LocalSet::run_until`], [`LocalSet::block_on`] or by
/// awaiting it (which waits for all its tasks). Dropping the set cancels the tasks still in
/// it. It works on both runtime flavours: on a multi-thread runtime the tasks run on the
/// thread that calls `block_on`, never on a worker.
///
/// ```
/// use std::rc::Rc;
///
/// let rt = corio::runtime::Builder::new_current_thread().build().unwrap();
/// let local = corio::task::LocalSet::new();
/// let out = local.block_on(&rt, async {
///     let shared = Rc::new(5); // `Rc` is !Send: `corio::spawn` would not accept this task
///     let task = corio::task::spawn_local(async move { *shared * 2 });
///     task.await.unwrap()
/// });
/// assert_eq!(out, 10);
/// ```
pub struct LocalSet {
    /// Counts tasks run, for [`REMOTE_INTERVAL`].
    ticks: Cell<u32>,
    context: Rc<Context>,
}

/// The thread-bound part of a set (step 1).
struct Context {
    shared: Arc<Shared>,
    queue: RefCell<VecDeque<Notified<Arc<Shared>>>>,
}

/// The part of a set that wakers on any thread reach.
struct Shared {
    owned: OwnedTasks<Arc<Shared>>,
    remote: Mutex<Remote>,
}

struct Remote {
    /// `None` once the set is dropped (step 5).
    queue: Option<VecDeque<Notified<Arc<Shared>>>>,
    /// The waker of the task polling the set (steps 3 and 4).
    waker: Option<Waker>,
}

crate::loom::thread_local! {
    /// The set being polled on this thread (step 2).
    // Not `const { .. }`: loom's `thread_local!` does not accept it.
    #[allow(clippy::missing_const_for_thread_local)]
    static CURRENT: RefCell<Option<Rc<Context>>> = RefCell::new(None);
}

const OUTSIDE_LOCAL_SET: &str = "`corio::task::spawn_local` called outside a `LocalSet`: \
    create a `corio::task::LocalSet` and call it from inside `LocalSet::run_until`, \
    `LocalSet::block_on`, or a task already spawned on the set; or use \
    `LocalSet::spawn_local` on the set itself";

impl LocalSet {
    /// An empty set, owned by the calling thread.
    pub fn new() -> LocalSet {
        LocalSet {
            ticks: Cell::new(0),
            context: Rc::new(Context {
                shared: Arc::new(Shared {
                    owned: OwnedTasks::new(1),
                    remote: Mutex::new(Remote {
                        queue: Some(VecDeque::new()),
                        waker: None,
                    }),
                }),
                queue: RefCell::new(VecDeque::new()),
            }),
        }
    }

    /// Spawns a `!Send` future onto this set. It runs when the set is polled
    /// (`run_until`, `block_on` or `.await` on the set).
    pub fn spawn_local<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        self.context.spawn(future)
    }

    /// Runs `future` to completion on this thread, running the set's tasks meanwhile.
    /// Tasks still in the set when `future` completes stay there; they run on the next
    /// `run_until` or are cancelled when the set is dropped.
    ///
    /// ```
    /// corio::run(async {
    ///     let local = corio::task::LocalSet::new();
    ///     let n = local
    ///         .run_until(async {
    ///             corio::task::spawn_local(async { 3 }).await.unwrap()
    ///         })
    ///         .await;
    ///     assert_eq!(n, 3);
    /// });
    /// ```
    pub async fn run_until<F: Future>(&self, future: F) -> F::Output {
        let mut future = pin!(future);
        std::future::poll_fn(|cx| {
            let _enter = self.context.enter();
            self.context.shared.register(cx.waker());
            if let Poll::Ready(out) = coop::budget(|| future.as_mut().poll(cx)) {
                return Poll::Ready(out);
            }
            if self.tick() {
                cx.waker().wake_by_ref();
            }
            Poll::Pending
        })
        .await
    }

    /// Runs `future` on `rt` with this set's tasks: `rt.block_on(self.run_until(future))`.
    ///
    /// # Panics
    /// Inside a runtime, as [`Runtime::block_on`].
    #[track_caller]
    pub fn block_on<F: Future>(&self, rt: &Runtime, future: F) -> F::Output {
        rt.block_on(self.run_until(future))
    }

    /// Makes this set current on this thread until the guard drops, so that
    /// [`spawn_local`] puts tasks on it (they run when the set is next polled).
    pub fn enter(&self) -> LocalEnterGuard {
        LocalEnterGuard {
            _guard: self.context.enter(),
        }
    }

    /// Step 4: runs up to [`TASKS_PER_TICK`] tasks; true if work is left.
    fn tick(&self) -> bool {
        for _ in 0..TASKS_PER_TICK {
            let n = self.ticks.get().wrapping_add(1);
            self.ticks.set(n);
            let task = if n % REMOTE_INTERVAL == 0 {
                self.context
                    .shared
                    .pop_remote()
                    .or_else(|| self.context.pop_local())
            } else {
                self.context
                    .pop_local()
                    .or_else(|| self.context.shared.pop_remote())
            };
            match task {
                Some(task) => task.run(),
                None => return false,
            }
        }
        !self.context.queue.borrow().is_empty() || self.context.shared.has_remote()
    }
}

impl Context {
    /// Installs this context in `CURRENT` until the guard drops.
    fn enter(self: &Rc<Self>) -> ContextGuard {
        let prev = CURRENT.with(|c| c.replace(Some(self.clone())));
        ContextGuard { prev }
    }

    fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        let shared = &self.shared;
        // SAFETY: the task belongs to this set, which is `!Send` and lives on this thread:
        // it is polled only by `LocalSet::tick` and cancelled only by `LocalSet::drop` (or
        // by its own poll), both on this thread. Other threads only hold wakers and queued
        // `Notified`s, whose drop never drops the future (protocol steps 1 and 5).
        let (join, notified) =
            unsafe { shared.owned.bind_local(future, shared.clone(), Id::next()) };
        if let Some(notified) = notified {
            self.queue.borrow_mut().push_back(notified);
            // The set may be idle, awaited elsewhere on this thread: make it look again.
            shared.wake_owner();
        }
        join
    }

    fn pop_local(&self) -> Option<Notified<Arc<Shared>>> {
        self.queue.borrow_mut().pop_front()
    }
}

impl Shared {
    /// Step 4: the waker of the task polling the set.
    fn register(&self, waker: &Waker) {
        let mut remote = self.remote.lock();
        if !remote.waker.as_ref().is_some_and(|w| w.will_wake(waker)) {
            remote.waker = Some(waker.clone());
        }
    }

    fn wake_owner(&self) {
        let waker = self.remote.lock().waker.take();
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Step 3.
    fn push_remote(&self, task: Notified<Arc<Shared>>) {
        let mut remote = self.remote.lock();
        let Some(queue) = remote.queue.as_mut() else {
            // Step 5 already cancelled the task; drop the reference outside the lock.
            drop(remote);
            drop(task);
            return;
        };
        queue.push_back(task);
        let waker = remote.waker.take();
        drop(remote);
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    fn pop_remote(&self) -> Option<Notified<Arc<Shared>>> {
        self.remote.lock().queue.as_mut()?.pop_front()
    }

    fn has_remote(&self) -> bool {
        self.remote
            .lock()
            .queue
            .as_ref()
            .is_some_and(|q| !q.is_empty())
    }
}

impl Schedule for Arc<Shared> {
    fn schedule(&self, task: Notified<Self>) {
        let mut task = Some(task);
        // Step 2: on this set's thread, while it is being polled: the local queue.
        let _ = CURRENT.try_with(|current| {
            if let Some(cx) = current.borrow().as_ref() {
                if Arc::ptr_eq(&cx.shared, self) {
                    if let Some(task) = task.take() {
                        cx.queue.borrow_mut().push_back(task);
                    }
                }
            }
        });
        // Step 3: anywhere else.
        if let Some(task) = task {
            self.push_remote(task);
        }
    }

    fn release(&self, task: &Task<Self>) -> Option<Task<Self>> {
        self.owned.remove(task)
    }
}

/// Restores the previous `CURRENT` on drop.
struct ContextGuard {
    prev: Option<Rc<Context>>,
}

impl Drop for ContextGuard {
    fn drop(&mut self) {
        let prev = self.prev.take();
        let ours = CURRENT.try_with(|c| c.replace(prev));
        // Dropped outside the borrow: it may be the last `Rc` of a context.
        drop(ours);
    }
}

/// Returned by [`LocalSet::enter`]; the set stops being current when it drops.
#[must_use = "the LocalSet is current only until the guard is dropped"]
pub struct LocalEnterGuard {
    _guard: ContextGuard,
}

/// Spawns a `!Send` future onto the current [`LocalSet`].
///
/// # Panics
/// Outside a `LocalSet` (its `run_until`, `block_on`, a task on it, or `enter`), with a
/// message that says how to set one up.
///
/// ```
/// use std::rc::Rc;
///
/// corio::run(async {
///     let local = corio::task::LocalSet::new();
///     local
///         .run_until(async {
///             let rc = Rc::new("local");
///             let h = corio::task::spawn_local(async move { *rc });
///             assert_eq!(h.await.unwrap(), "local");
///         })
///         .await;
/// });
/// ```
#[track_caller]
pub fn spawn_local<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    let cx = CURRENT.try_with(|c| c.borrow().clone()).ok().flatten();
    match cx {
        Some(cx) => cx.spawn(future),
        None => panic!("{OUTSIDE_LOCAL_SET}"),
    }
}

impl Default for LocalSet {
    fn default() -> Self {
        Self::new()
    }
}

/// Awaiting a `LocalSet` runs its tasks until all of them have finished.
impl Future for LocalSet {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<()> {
        let _enter = self.context.enter();
        self.context.shared.register(cx.waker());
        if self.tick() {
            cx.waker().wake_by_ref();
            Poll::Pending
        } else if self.context.shared.owned.is_empty() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

impl Drop for LocalSet {
    /// Step 5.
    fn drop(&mut self) {
        let _enter = self.context.enter();
        self.context.shared.owned.close_and_shutdown_all();
        let remote = self.context.shared.remote.lock().queue.take();
        drop(remote);
        // Cancelling a task may wake another local one (pushing to the local queue): drain
        // until nothing is left. These are references only; every future is already gone.
        loop {
            let queued = std::mem::take(&mut *self.context.queue.borrow_mut());
            if queued.is_empty() {
                break;
            }
            drop(queued);
        }
    }
}

impl fmt::Debug for LocalSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalSet")
            .field("tasks", &self.context.shared.owned.len())
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("local::Context")
            .field("queued", &self.queue.borrow().len())
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("local::Shared")
            .field("owned", &self.owned)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for ContextGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ContextGuard").finish_non_exhaustive()
    }
}

impl fmt::Debug for LocalEnterGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalEnterGuard").finish_non_exhaustive()
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    //! A local task woken from another thread (protocol steps 3 and 4): the wake reaches the
    //! set whether it lands before, during or after the set's poll; and a wake racing the
    //! set's drop (step 5) neither runs nor leaks the task.

    use std::task::Poll;

    use loom::sync::atomic::{AtomicBool, Ordering::SeqCst};
    use loom::thread;

    use super::*;

    /// A one-shot flag with a waker slot: what a channel does, in miniature.
    struct Flag {
        set: AtomicBool,
        waker: Mutex<Option<Waker>>,
    }

    impl Flag {
        fn new() -> Arc<Flag> {
            Arc::new(Flag {
                set: AtomicBool::new(false),
                waker: Mutex::new(None),
            })
        }

        fn raise(&self) {
            self.set.store(true, SeqCst);
            let waker = self.waker.lock().take();
            if let Some(waker) = waker {
                waker.wake();
            }
        }

        async fn wait(&self) {
            std::future::poll_fn(|cx| {
                if self.set.load(SeqCst) {
                    return Poll::Ready(());
                }
                *self.waker.lock() = Some(cx.waker().clone());
                if self.set.load(SeqCst) {
                    Poll::Ready(())
                } else {
                    Poll::Pending
                }
            })
            .await
        }
    }

    #[test]
    fn loom_local_set_remote_wake() {
        loom::model(|| {
            let local = LocalSet::new();
            let flag = Flag::new();
            let f = flag.clone();
            let not_send = Rc::new(5);
            let h = local.spawn_local(async move {
                f.wait().await;
                *not_send
            });
            let th = thread::spawn(move || flag.raise());
            let out = loom::future::block_on(local.run_until(h));
            assert_eq!(out.unwrap(), 5);
            th.join().unwrap();
        });
    }

    #[test]
    fn loom_local_set_drop_races_remote_wake() {
        loom::model(|| {
            let local = LocalSet::new();
            let flag = Flag::new();
            let f = flag.clone();
            let h = local.spawn_local(async move { f.wait().await });
            // Run the task once so that it parks on the flag: the `run_until` future yields
            // once, and the set runs its tasks before polling it again.
            let mut yielded = false;
            loom::future::block_on(local.run_until(std::future::poll_fn(|cx| {
                if std::mem::replace(&mut yielded, true) {
                    Poll::Ready(())
                } else {
                    cx.waker().wake_by_ref();
                    Poll::Pending
                }
            })));
            let th = thread::spawn(move || flag.raise());
            drop(local);
            th.join().unwrap();
            assert!(loom::future::block_on(h).unwrap_err().is_cancelled());
        });
    }
}
