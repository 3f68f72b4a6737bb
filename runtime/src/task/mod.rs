//! Tasks: the unit of work corio schedules.
//!
//! A task is one heap allocation holding a header (state word, vtable, id, owned-list
//! links, injector link, join waker slot), its scheduler handle and its future or output (see `core.rs`).
//! References to it are counted in the state word (see `state.rs`); the kinds are:
//!
//! - `Task`: held by the runtime's owned-task list, for shutdown.
//! - `Notified`: held by a run queue; running it polls the task.
//! - [`JoinHandle`] and [`AbortHandle`]: held by the user.
//! - wakers.
//!
//! The life of a task (DESIGN.md): 1. `spawn` allocates it with three references and hands
//! its `Notified` to the scheduler. 4. A worker polls it: notified -> running (a cancelled
//! task is dropped instead), poll under `catch_unwind` with a fresh coop budget, then
//! running -> idle, or -> notified (re-queued once) if woken during the poll, or -> complete.
//! 5. A wake schedules an idle task, marks a running one to be re-queued by its poller, and
//! does nothing to a complete or already notified one. Steps 2 and 3 (where the `Notified`
//! goes and who pops it) belong to `scheduler/`, reached only through the `Schedule` trait.

use std::cell::Cell;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{Context, Poll};

mod core;
mod join;
mod join_set;
pub(crate) mod list;
mod local;
mod state;
mod task_local;
mod waker;

use self::core::Header;
pub use self::join::{AbortHandle, Id, JoinError, JoinHandle};
pub use self::join_set::JoinSet;
pub use self::local::{spawn_local, LocalEnterGuard, LocalSet};
pub use self::task_local::{AccessError, LocalKey, TaskLocalFuture};
use crate::util::queue_link::{Linked, QueueLink};

/// Futures returned by task utilities, as in Tokio's `task::futures`.
pub mod futures {
    pub use super::task_local::TaskLocalFuture;
}
pub(crate) use self::list::OwnedTasks;

#[cfg(all(test, loom))]
mod loom_tests;
#[cfg(all(test, not(loom)))]
mod tests;

/// What a task needs from its scheduler.
pub(crate) trait Schedule: Sync + Sized + 'static {
    /// Queues a task that was woken.
    fn schedule(&self, task: Notified<Self>);

    /// Queues a task that was woken while it was being polled (it yielded). Defaults to
    /// [`Schedule::schedule`]; schedulers put it behind other work for fairness.
    fn yield_now(&self, task: Notified<Self>) {
        self.schedule(task);
    }

    /// The task completed: unlink it from the owned list, returning the list's reference.
    fn release(&self, task: &Task<Self>) -> Option<Task<Self>>;

    /// The task completed and `task` is its completer's own reference: the scheduler may
    /// keep it and unlink the task later, together with others (one shard lock per batch:
    /// see `OwnedTasks::remove_batch`). Returns the reference if it was not kept; the
    /// completer then calls [`Schedule::release`] at once.
    fn defer_release(&self, task: Task<Self>) -> Option<Task<Self>> {
        Some(task)
    }
}

/// The owned list's reference to a task.
pub(crate) struct Task<S: 'static> {
    raw: NonNull<Header>,
    _scheduler: PhantomData<fn(S)>,
}

// SAFETY: a `Task` only touches the header's atomic state and calls the vtable's shutdown,
// which runs the future's destructor; futures of `!Send` tasks are only bound through
// `bind_local`, whose caller keeps every such call on the owning thread.
unsafe impl<S> Send for Task<S> {}
// SAFETY: as above.
unsafe impl<S> Sync for Task<S> {}

/// A run queue's reference to a task: running it polls the task once.
pub(crate) struct Notified<S: 'static>(Task<S>);

// SAFETY: as for `Task`.
unsafe impl<S> Send for Notified<S> {}
// SAFETY: as for `Task`.
unsafe impl<S> Sync for Notified<S> {}

impl<S: 'static> Task<S> {
    /// # Safety
    /// The caller transfers one reference to the task at `raw`, whose scheduler type is `S`.
    pub(super) unsafe fn from_raw(raw: NonNull<Header>) -> Self {
        Task {
            raw,
            _scheduler: PhantomData,
        }
    }

    fn header(&self) -> &Header {
        // SAFETY: our reference keeps the header alive.
        unsafe { self.raw.as_ref() }
    }

    pub(super) fn header_ptr(&self) -> NonNull<Header> {
        self.raw
    }

    /// The task's id.
    pub(crate) fn id(&self) -> Id {
        self.header().id
    }

    /// Drops this reference and `n - 1` more to the same task that the caller owns (the
    /// owned list's, just unlinked), with one atomic step.
    ///
    /// # Safety
    /// The caller owns those other references and gives them up, once.
    pub(crate) unsafe fn drop_refs(self, n: usize) {
        let raw = self.raw;
        std::mem::forget(self);
        // SAFETY: this reference and the caller's `n - 1` others, each given up once.
        unsafe { Header::drop_refs(raw, n) }
    }

    /// Runtime shutdown: cancels the task now if it is idle, else at its next scheduling
    /// point. Consumes this reference.
    pub(crate) fn shutdown(self) {
        let raw = self.raw;
        std::mem::forget(self);
        // SAFETY: we transfer our reference to `shutdown`.
        unsafe { (raw.as_ref().vtable.shutdown)(raw) }
    }
}

// The injector queues a `Notified` by its header's link (`Header::queue`).
impl<S: 'static> Linked for Notified<S> {
    fn into_link(self) -> NonNull<QueueLink> {
        let raw = self.0.raw;
        std::mem::forget(self);
        // SAFETY: our reference keeps the header alive; the link is one of its fields.
        unsafe { NonNull::new_unchecked(std::ptr::addr_of_mut!((*raw.as_ptr()).queue)) }
    }

    unsafe fn from_link(link: NonNull<QueueLink>) -> Self {
        // SAFETY: per the trait's contract `link` is the `queue` field of a header given up
        // by `into_link`, so stepping back by its offset gives that header, whose
        // reference is taken back once.
        unsafe {
            let raw = link
                .as_ptr()
                .cast::<u8>()
                .sub(std::mem::offset_of!(Header, queue))
                .cast::<Header>();
            Notified::from_raw(NonNull::new_unchecked(raw))
        }
    }
}

impl<S: 'static> Notified<S> {
    /// # Safety
    /// As [`Task::from_raw`]; the reference is a queue's (the task carries `NOTIFIED`).
    pub(super) unsafe fn from_raw(raw: NonNull<Header>) -> Self {
        // SAFETY: forwarded.
        Notified(unsafe { Task::from_raw(raw) })
    }

    /// Polls the task (or cancels it, if aborted). Consumes this reference.
    pub(crate) fn run(self) {
        let raw = self.0.raw;
        std::mem::forget(self);
        // SAFETY: we transfer our Notified reference to `poll`.
        unsafe { (raw.as_ref().vtable.poll)(raw) }
    }

    /// The raw pointer, owning this reference; see [`Notified::from_raw_ptr`].
    pub(crate) fn into_raw_ptr(self) -> *mut () {
        let raw = self.0.raw;
        std::mem::forget(self);
        raw.as_ptr().cast()
    }

    /// # Safety
    /// `ptr` came from [`Notified::into_raw_ptr`] with the same `S`, and is used once.
    pub(crate) unsafe fn from_raw_ptr(ptr: *mut ()) -> Self {
        // SAFETY: forwarded; the pointer is non-null as it came from a `NonNull`.
        unsafe { Notified::from_raw(NonNull::new_unchecked(ptr.cast())) }
    }

    /// Cancels the task without polling it (a queue that will never run it is being torn
    /// down). Consumes this reference.
    pub(crate) fn shutdown(self) {
        let raw = self.0.raw;
        std::mem::forget(self);
        // SAFETY: we transfer our reference to `shutdown`, which consumes one reference
        // whichever kind it is.
        unsafe { (raw.as_ref().vtable.shutdown)(raw) }
    }
}

/// Creates a task that is in no owned list (blocking tasks): returns its `Notified` and
/// `JoinHandle`.
pub(crate) fn unowned<T, S>(future: T, scheduler: S, id: Id) -> (Notified<S>, JoinHandle<T::Output>)
where
    T: Future + Send + 'static,
    T::Output: Send + 'static,
    S: Schedule,
{
    let ptr = self::core::allocate(future, scheduler, id);
    // SAFETY: `allocate` made three references; the list's is dropped at once.
    unsafe {
        drop(Task::<S>::from_raw(ptr));
        (Notified::from_raw(ptr), JoinHandle::from_raw(ptr))
    }
}

impl<S: 'static> Drop for Task<S> {
    fn drop(&mut self) {
        // SAFETY: we give up our reference, once.
        unsafe { Header::drop_ref(self.raw) }
    }
}

impl<S> fmt::Debug for Task<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Task")
            .field("id", &self.id())
            .field("state", &self.header().state)
            .finish()
    }
}

impl<S> fmt::Debug for Notified<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Notified").field(&self.0).finish()
    }
}

crate::loom::thread_local! {
    // Not `const`: loom's thread_local! does not take that form.
    #[allow(clippy::missing_const_for_thread_local)]
    static CURRENT_ID: Cell<Option<Id>> = Cell::new(None);
}

/// Sets the id that [`id`] and [`try_id`] report while a task is polled or dropped.
pub(crate) struct CurrentId(Option<Id>);

impl CurrentId {
    pub(crate) fn enter(id: Id) -> CurrentId {
        CurrentId(CURRENT_ID.try_with(|c| c.replace(Some(id))).unwrap_or(None))
    }
}

impl Drop for CurrentId {
    fn drop(&mut self) {
        let _ = CURRENT_ID.try_with(|c| c.set(self.0));
    }
}

/// The id of the task being polled.
///
/// # Panics
/// Outside a task; use [`try_id`] where that may happen.
#[track_caller]
pub fn id() -> Id {
    try_id().expect("corio::task::id() called outside a task; use corio::task::try_id() there")
}

/// The id of the task being polled, or `None` outside a task.
pub fn try_id() -> Option<Id> {
    CURRENT_ID.try_with(Cell::get).ok().flatten()
}

/// Spawns a task onto the current runtime.
///
/// The task starts at once and runs concurrently with the caller, on any worker. The
/// returned [`JoinHandle`] gives its output; dropping it detaches the task.
///
/// # Panics
/// Outside a runtime. Call it from inside `block_on`, a task or `#[corio::main]`, or use
/// [`crate::runtime::Handle::spawn`] / [`crate::runtime::Runtime::spawn`] from elsewhere.
///
/// ```
/// corio::run(async {
///     let h = corio::spawn(async { "hello" });
///     assert_eq!(h.await.unwrap(), "hello");
/// });
/// ```
#[track_caller]
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    crate::runtime::context::spawn(future)
}

/// Runs the blocking function `f` on the runtime's blocking pool and returns a handle to its
/// result, so that blocking code (file I/O, CPU-heavy work, a C library) does not stall the
/// workers.
///
/// # Panics
/// Outside a runtime (as [`spawn`]).
///
/// ```
/// corio::run(async {
///     let sum = corio::task::spawn_blocking(|| (1..=10u64).sum::<u64>()).await.unwrap();
///     assert_eq!(sum, 55);
/// });
/// ```
#[track_caller]
pub fn spawn_blocking<F, R>(f: F) -> JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    match crate::runtime::context::with_current(|h| h.spawn_blocking(f)) {
        Ok(join) => join,
        Err(e) => panic!("corio::task::spawn_blocking: {e}"),
    }
}

/// Runs the blocking function `f` on this thread, after handing this worker's queued tasks
/// to a new worker thread so they keep running meanwhile. Unlike [`spawn_blocking`], `f`
/// may borrow from the caller.
///
/// # Panics
/// On a current-thread runtime (use [`spawn_blocking`] there).
///
/// ```
/// corio::run(async {
///     let data = vec![1, 2, 3];
///     let total: i32 = corio::task::block_in_place(|| data.iter().sum());
///     assert_eq!(total, 6);
/// });
/// ```
#[track_caller]
pub fn block_in_place<F, R>(f: F) -> R
where
    F: FnOnce() -> R,
{
    crate::scheduler::multi_thread::block_in_place(f)
}

/// Yields to the scheduler: the task goes to the back of the run queue, so others run first.
///
/// ```
/// corio::run(async {
///     corio::task::yield_now().await;
/// });
/// ```
pub async fn yield_now() {
    YieldNow { yielded: false }.await
}

struct YieldNow {
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        // Waking while running re-queues the task after this poll (state step 5); the
        // scheduler's `yield_now` puts it behind the other queued work.
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}
