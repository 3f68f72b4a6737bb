//! One task, one allocation: the header, the scheduler handle, and the future or its output.
//!
//! A task is a `Cell<T, S>` behind a `NonNull<Header>`; the [`Vtable`] recovers `T` and `S`.
//! Which reference may touch which field:
//!
//! | field | who | when |
//! | --- | --- | --- |
//! | `header.state` | anyone holding a reference | always (atomic) |
//! | `stage` | the thread that set `RUNNING` | until it clears `RUNNING` |
//! | `stage` (output) | the `JoinHandle` | after it saw `COMPLETE` |
//! | `stage` (output) | whoever sees `COMPLETE` without `JOIN_INTEREST` | to drop it |
//! | `header.join_waker` | see the table in [`super::state`] | |
//! | `header.owned` | the owned-task list | under its shard lock |
//! | `header.queue` | the injector | while it holds the task's `Notified` |
//!
//! The harness functions below implement steps 4 and 5 of a task's life (DESIGN.md): poll
//! under `catch_unwind` with a fresh coop budget, then go idle, re-queue or complete.

use std::alloc::{self, Layout};
use std::any::Any;
use std::future::Future;
use std::mem::ManuallyDrop;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{Context, Poll, Waker};

use super::join::{JoinError, JoinResult};
use super::list::Links;
use super::state::{State, TransitionToIdle, TransitionToNotified, TransitionToRunning};
use super::{waker, Id, Notified, Schedule, Task};
use crate::coop;
use crate::loom::cell::UnsafeCell;
use crate::util::queue_link::QueueLink;

/// The type-erased part of a task. `#[repr(C)]` and first in [`Cell`], so a pointer to the
/// cell is a pointer to its header.
#[repr(C)]
pub(crate) struct Header {
    pub(super) state: State,
    pub(super) vtable: &'static Vtable,
    pub(super) id: Id,
    /// Owned-task list links; guarded by the list's shard lock.
    pub(super) owned: UnsafeCell<Links>,
    /// The injector's link, while a `Notified` of the task waits there.
    pub(super) queue: QueueLink,
    /// Guarded by the `JOIN_WAKER` protocol in the state word.
    pub(super) join_waker: UnsafeCell<Option<Waker>>,
}

/// Functions that know the task's future type `T` and scheduler type `S`.
pub(super) struct Vtable {
    pub(super) poll: unsafe fn(NonNull<Header>),
    pub(super) schedule: unsafe fn(NonNull<Header>),
    pub(super) dealloc: unsafe fn(NonNull<Header>),
    pub(super) try_read_output: unsafe fn(NonNull<Header>, *mut (), &Waker),
    pub(super) drop_join_handle: unsafe fn(NonNull<Header>),
    pub(super) shutdown: unsafe fn(NonNull<Header>),
}

#[repr(C)]
struct Cell<T: Future, S> {
    header: Header,
    scheduler: S,
    stage: UnsafeCell<Stage<T>>,
}

enum Stage<T: Future> {
    Running(T),
    Finished(JoinResult<T::Output>),
    Consumed,
}

/// Allocates a task; the state word starts with three references (see
/// [`super::state`]), which the caller turns into a `Task`, a `Notified` and a `JoinHandle`.
pub(super) fn allocate<T, S>(future: T, scheduler: S, id: Id) -> NonNull<Header>
where
    T: Future + 'static,
    S: Schedule,
{
    let cell = Cell {
        header: Header {
            state: State::new(),
            vtable: vtable::<T, S>(),
            id,
            owned: UnsafeCell::new(Links::default()),
            queue: QueueLink::new(),
            join_waker: UnsafeCell::new(None),
        },
        scheduler,
        stage: UnsafeCell::new(Stage::Running(future)),
    };
    let layout = cell_layout::<T, S>();
    // SAFETY: the layout has a non-zero size.
    let ptr = unsafe { alloc::alloc(layout) }.cast::<Cell<T, S>>();
    let Some(ptr) = NonNull::new(ptr) else {
        alloc::handle_alloc_error(layout)
    };
    // SAFETY: freshly allocated with the cell's alignment and at least its size.
    unsafe { ptr.as_ptr().write(cell) };
    ptr.cast()
}

/// The least size of a task's allocation. glibc's `malloc` keeps freed chunks of up to 128
/// bytes (a request of up to 120) in "fastbins": lists reused last-in first-out that are not
/// merged with their free neighbours. Tasks spawned in a burst (from outside the runtime,
/// through the injector) then get the chunks that tasks completed on either worker last
/// freed, in any order, and neighbours in memory run on different workers: each poll's writes
/// to a task's state and future bounce the cache line it shares with its neighbour.
/// `rt_multi_threaded/yield_many` (200 tasks spawned remotely, 1,000 yields each) ran 25 %
/// slower for that; a larger chunk is merged when freed and handed out again in address order.
/// (crossbeam's injector, used before, hid this: its block allocations made `malloc` merge
/// the fastbins every 63 pushes.) It costs tiny tasks some memory and spawn-heavy benchmarks
/// some time (`benches/RESULTS.md`, "`yield_many` and glibc's fastbins").
const MIN_CELL: usize = 136;

/// The allocation of a `Cell<T, S>`: its own layout, at least [`MIN_CELL`] bytes.
fn cell_layout<T: Future, S>() -> Layout {
    let cell = Layout::new::<Cell<T, S>>();
    match Layout::from_size_align(cell.size().max(MIN_CELL), cell.align()) {
        Ok(layout) => layout,
        Err(_) => unreachable!("a cell's own layout is valid, and MIN_CELL is small"),
    }
}

fn vtable<T: Future + 'static, S: Schedule>() -> &'static Vtable {
    &Vtable {
        poll: poll::<T, S>,
        schedule: schedule::<T, S>,
        dealloc: dealloc::<T, S>,
        try_read_output: try_read_output::<T, S>,
        drop_join_handle: drop_join_handle::<T, S>,
        shutdown: shutdown::<T, S>,
    }
}

/// # Safety
/// `ptr` points to a live `Cell<T, S>`.
unsafe fn cell<'a, T: Future, S>(ptr: NonNull<Header>) -> &'a Cell<T, S> {
    // SAFETY: the caller guarantees the cell is live; `Header` is its first field and both
    // are `repr(C)`, so the cast is layout-correct.
    unsafe { ptr.cast::<Cell<T, S>>().as_ref() }
}

/// Polls the task on behalf of a `Notified` reference, which this call consumes.
///
/// # Safety
/// `ptr` is a live `Cell<T, S>` and the caller transfers one `Notified` reference.
unsafe fn poll<T: Future + 'static, S: Schedule>(ptr: NonNull<Header>) {
    // SAFETY: the Notified reference keeps the cell alive for this whole call.
    let cell = unsafe { cell::<T, S>(ptr) };
    match cell.header.state.transition_to_running() {
        TransitionToRunning::Success => {}
        TransitionToRunning::Cancelled => {
            cell.cancel();
            // SAFETY: we own RUNNING and hold the Notified reference.
            unsafe { complete::<T, S>(ptr) };
            return;
        }
        TransitionToRunning::Failed => return,
        TransitionToRunning::Dealloc => {
            // SAFETY: that was the last reference.
            unsafe { dealloc::<T, S>(ptr) };
            return;
        }
    }

    // SAFETY: the Notified reference outlives the borrowed waker, which is never dropped.
    let waker = ManuallyDrop::new(unsafe { waker::borrowed(ptr) });
    let mut cx = Context::from_waker(&waker);
    let polled = {
        let _id = super::CurrentId::enter(cell.header.id);
        catch_unwind(AssertUnwindSafe(|| {
            coop::budget(|| cell.poll_future(&mut cx))
        }))
    };
    match polled {
        Ok(Poll::Ready(())) => {}
        Ok(Poll::Pending) => match cell.header.state.transition_to_idle() {
            TransitionToIdle::Ok => return,
            TransitionToIdle::OkDealloc => {
                // SAFETY: that was the last reference.
                unsafe { dealloc::<T, S>(ptr) };
                return;
            }
            TransitionToIdle::OkNotified => {
                // SAFETY: transition_to_idle made a new reference for this Notified.
                let notified = unsafe { Notified::<S>::from_raw(ptr) };
                cell.scheduler.yield_now(notified);
                drop_reference::<T, S>(&cell.header, ptr);
                return;
            }
            TransitionToIdle::Cancelled => cell.cancel(),
        },
        Err(payload) => cell.store_panic(payload),
    }
    // SAFETY: we own RUNNING and hold the Notified reference.
    unsafe { complete::<T, S>(ptr) };
}

/// Finishes a task whose stage holds its output: publish COMPLETE, hand the output to the
/// `JoinHandle` or drop it, leave the owned list, and drop the caller's reference.
///
/// # Safety
/// The caller owns `RUNNING` and one reference (a `Notified`, or the list's `Task` during
/// shutdown), which this call consumes.
unsafe fn complete<T: Future + 'static, S: Schedule>(ptr: NonNull<Header>) {
    // SAFETY: the caller's reference keeps the cell alive.
    let cell = unsafe { cell::<T, S>(ptr) };
    let snapshot = cell.header.state.transition_to_complete();
    // A user destructor or waker may panic; it must not unwind through the scheduler.
    let _ = catch_unwind(AssertUnwindSafe(|| {
        if !snapshot.is_join_interested() {
            // No JoinHandle will read the output: drop it here.
            let _id = super::CurrentId::enter(cell.header.id);
            // SAFETY: COMPLETE without JOIN_INTEREST gives the completer the stage.
            cell.stage
                .with_mut(|stage| unsafe { *stage = Stage::Consumed });
        } else if snapshot.is_join_waker_set() {
            // SAFETY: JOIN_WAKER is set, so the runtime may read the slot.
            cell.header
                .join_waker
                .with(|w| unsafe { (*w).as_ref() }.map(Waker::wake_by_ref));
            let after = cell.header.state.unset_waker_after_complete();
            if !after.is_join_interested() {
                // SAFETY: the handle left while we held the slot; it is ours to clear.
                cell.header.join_waker.with_mut(|w| unsafe { *w = None });
            }
        }
    }));

    // SAFETY: our own reference, as a `Task`; from here on only through `me`.
    let me = unsafe { Task::<S>::from_raw(ptr) };
    let Some(me) = cell.scheduler.defer_release(me) else {
        // The scheduler keeps our reference and unlinks the task later.
        return;
    };
    // Forgotten below: `release` only reads it.
    let me = ManuallyDrop::new(me);
    let released = cell.scheduler.release(&me);
    let refs = 1 + usize::from(released.is_some());
    std::mem::forget(released);
    if cell.header.state.ref_dec_n(refs) {
        // SAFETY: those were the last references.
        unsafe { dealloc::<T, S>(ptr) };
    }
}

fn drop_reference<T: Future + 'static, S: Schedule>(header: &Header, ptr: NonNull<Header>) {
    if header.state.ref_dec_n(1) {
        // SAFETY: that was the last reference.
        unsafe { dealloc::<T, S>(ptr) };
    }
}

/// Queues the task through its scheduler.
///
/// # Safety
/// The caller transfers one `Notified` reference and holds another one for the duration of
/// the call (so the scheduler handle inside the cell stays alive).
unsafe fn schedule<T: Future + 'static, S: Schedule>(ptr: NonNull<Header>) {
    // SAFETY: the caller's second reference keeps the cell alive.
    let cell = unsafe { cell::<T, S>(ptr) };
    // SAFETY: the caller transfers this reference.
    let notified = unsafe { Notified::<S>::from_raw(ptr) };
    cell.scheduler.schedule(notified);
}

/// # Safety
/// No reference to the task remains.
unsafe fn dealloc<T: Future, S>(ptr: NonNull<Header>) {
    let cell = ptr.cast::<Cell<T, S>>().as_ptr();
    // SAFETY: the cell was allocated with `cell_layout` and initialized in `allocate`, and no
    // reference remains: it is dropped and freed once.
    unsafe {
        std::ptr::drop_in_place(cell);
        alloc::dealloc(cell.cast(), cell_layout::<T, S>());
    }
}

/// Moves the output into `dst` (a `*mut Poll<JoinResult<T::Output>>`) if the task is
/// complete; otherwise stores `waker` to be woken on completion.
///
/// # Safety
/// The caller is the `JoinHandle` (holding its reference) and `dst` has the right type.
unsafe fn try_read_output<T: Future + 'static, S: Schedule>(
    ptr: NonNull<Header>,
    dst: *mut (),
    waker: &Waker,
) {
    // SAFETY: the JoinHandle's reference keeps the cell alive.
    let cell = unsafe { cell::<T, S>(ptr) };
    if !can_read_output(&cell.header, waker) {
        return;
    }
    // SAFETY: COMPLETE was observed with JOIN_INTEREST held, so the stage is the handle's.
    let stage = cell
        .stage
        .with_mut(|stage| unsafe { std::mem::replace(&mut *stage, Stage::Consumed) });
    let out = match stage {
        Stage::Finished(out) => out,
        _ => panic!("JoinHandle polled after it returned Ready"),
    };
    // SAFETY: the caller guarantees the type of `dst`.
    unsafe { *dst.cast::<Poll<JoinResult<T::Output>>>() = Poll::Ready(out) };
}

/// The join waker protocol, from the `JoinHandle`'s side. True when the task is complete.
fn can_read_output(header: &Header, waker: &Waker) -> bool {
    let snapshot = header.state.load();
    if snapshot.is_complete() {
        return true;
    }
    let res = if !snapshot.is_join_waker_set() {
        set_join_waker(header, waker)
    } else {
        // SAFETY: the runtime only reads the slot while JOIN_WAKER is set, and so do we.
        let same = header
            .join_waker
            .with(|w| unsafe { (*w).as_ref() }.is_some_and(|w| w.will_wake(waker)));
        if same {
            return false;
        }
        header
            .state
            .unset_join_waker()
            .and_then(|_| set_join_waker(header, waker))
    };
    match res {
        Ok(_) => false,
        Err(s) => {
            debug_assert!(s.is_complete());
            true
        }
    }
}

fn set_join_waker(
    header: &Header,
    waker: &Waker,
) -> Result<super::state::Snapshot, super::state::Snapshot> {
    // SAFETY: JOIN_WAKER is clear and the task is not complete: the handle owns the slot.
    header
        .join_waker
        .with_mut(|w| unsafe { *w = Some(waker.clone()) });
    let res = header.state.set_join_waker();
    if res.is_err() {
        // Completed meanwhile: the slot is still ours; leave it empty.
        // SAFETY: as above, the failed transition did not publish the slot.
        header.join_waker.with_mut(|w| unsafe { *w = None });
    }
    res
}

/// # Safety
/// The caller is the `JoinHandle` and gives up its reference.
unsafe fn drop_join_handle<T: Future + 'static, S: Schedule>(ptr: NonNull<Header>) {
    // SAFETY: the handle's reference keeps the cell alive until `drop_reference`.
    let cell = unsafe { cell::<T, S>(ptr) };
    let (drop_output, drop_waker) = cell.header.state.transition_to_join_handle_dropped();
    if drop_output {
        // The output of a detached, finished task is dropped here; a panic in its destructor
        // is the task's, not the caller's.
        let _ = catch_unwind(AssertUnwindSafe(|| {
            let _id = super::CurrentId::enter(cell.header.id);
            // SAFETY: COMPLETE and we held JOIN_INTEREST: the stage is ours.
            cell.stage
                .with_mut(|stage| unsafe { *stage = Stage::Consumed });
        }));
    }
    if drop_waker {
        // SAFETY: the transition gave the slot to the handle.
        cell.header.join_waker.with_mut(|w| unsafe { *w = None });
    }
    drop_reference::<T, S>(&cell.header, ptr);
}

/// Runtime shutdown: cancel the task in place if it is idle; otherwise whoever runs it next
/// sees `CANCELLED`.
///
/// # Safety
/// The caller transfers the list's `Task` reference (already unlinked).
unsafe fn shutdown<T: Future + 'static, S: Schedule>(ptr: NonNull<Header>) {
    // SAFETY: the Task reference keeps the cell alive.
    let cell = unsafe { cell::<T, S>(ptr) };
    if cell.header.state.transition_to_shutdown() {
        cell.cancel();
        // SAFETY: we own RUNNING; the Task reference is the one `complete` consumes.
        unsafe { complete::<T, S>(ptr) };
    } else {
        drop_reference::<T, S>(&cell.header, ptr);
    }
}

impl<T: Future, S> Cell<T, S> {
    /// Polls the future; on `Ready` the output is stored.
    fn poll_future(&self, cx: &mut Context<'_>) -> Poll<()> {
        // SAFETY: the caller owns RUNNING, so no other thread touches the stage; the future
        // never moves: it lives in the heap cell until dropped in place.
        self.stage.with_mut(|stage| unsafe {
            let Stage::Running(future) = &mut *stage else {
                unreachable!("a running task always holds its future")
            };
            match Pin::new_unchecked(future).poll(cx) {
                Poll::Ready(out) => {
                    *stage = Stage::Finished(Ok(out));
                    Poll::Ready(())
                }
                Poll::Pending => Poll::Pending,
            }
        })
    }

    /// Drops the future (catching a panic from its destructor) and stores the cancellation.
    fn cancel(&self) {
        let dropped = {
            let _id = super::CurrentId::enter(self.header.id);
            catch_unwind(AssertUnwindSafe(|| {
                // SAFETY: the caller owns RUNNING, so the stage is ours alone.
                self.stage
                    .with_mut(|stage| unsafe { *stage = Stage::Consumed })
            }))
        };
        let err = match dropped {
            Ok(()) => JoinError::cancelled(self.header.id),
            Err(payload) => JoinError::panic(self.header.id, payload),
        };
        // SAFETY: the caller owns RUNNING.
        self.stage
            .with_mut(|stage| unsafe { *stage = Stage::Finished(Err(err)) });
    }

    /// The future panicked: drop it (a second panic from its destructor is discarded, the
    /// first is the one reported) and store the payload.
    fn store_panic(&self, payload: Box<dyn Any + Send>) {
        let _ = catch_unwind(AssertUnwindSafe(|| {
            let _id = super::CurrentId::enter(self.header.id);
            // SAFETY: the caller owns RUNNING.
            self.stage
                .with_mut(|stage| unsafe { *stage = Stage::Consumed })
        }));
        let err = JoinError::panic(self.header.id, payload);
        // SAFETY: the caller owns RUNNING.
        self.stage
            .with_mut(|stage| unsafe { *stage = Stage::Finished(Err(err)) });
    }
}

impl Header {
    /// Wakes the task (by reference): schedules it if it was idle.
    ///
    /// # Safety
    /// The caller holds a reference for the duration of the call.
    pub(super) unsafe fn wake_by_ref(ptr: NonNull<Header>) {
        // SAFETY: the caller's reference keeps the header alive.
        let header = unsafe { ptr.as_ref() };
        if header.state.transition_to_notified_by_ref() == TransitionToNotified::Submit {
            // SAFETY: the transition made the Notified reference; the caller holds another.
            unsafe { (header.vtable.schedule)(ptr) };
        }
    }

    /// Asks the task to cancel at its next scheduling point.
    ///
    /// # Safety
    /// As for [`Header::wake_by_ref`].
    pub(super) unsafe fn remote_abort(ptr: NonNull<Header>) {
        // SAFETY: the caller's reference keeps the header alive.
        let header = unsafe { ptr.as_ref() };
        if header.state.transition_to_notified_and_cancel() == TransitionToNotified::Submit {
            // SAFETY: the transition made the Notified reference; the caller holds another.
            unsafe { (header.vtable.schedule)(ptr) };
        }
    }

    /// Drops one reference, freeing the task if it was the last.
    ///
    /// # Safety
    /// The caller gives up one reference.
    pub(super) unsafe fn drop_ref(ptr: NonNull<Header>) {
        // SAFETY: forwarded.
        unsafe { Self::drop_refs(ptr, 1) }
    }

    /// Drops `n` references, freeing the task if they were the last.
    ///
    /// # Safety
    /// The caller gives up `n` references.
    pub(super) unsafe fn drop_refs(ptr: NonNull<Header>, n: usize) {
        // SAFETY: the caller's references keep the header alive until the decrement.
        let header = unsafe { ptr.as_ref() };
        if header.state.ref_dec_n(n) {
            // SAFETY: that was the last reference.
            unsafe { (header.vtable.dealloc)(ptr) };
        }
    }
}

// SAFETY: the header's cells are accessed only under the protocols documented above (state
// word transitions and the list's shard locks), which make every access exclusive or
// read-only; the state word is atomic.
unsafe impl Send for Header {}
// SAFETY: as above.
unsafe impl Sync for Header {}
