//! Thread-local runtime context: which runtime is current (for `spawn` and
//! `Handle::current`), whether this thread is inside a runtime (so `block_on` can refuse to
//! nest), and the scheduler context of the thread driving a scheduler.

use std::cell::{Cell, RefCell};
use std::future::Future;

use super::TryCurrentError;
use crate::scheduler;
use crate::task::{Id, JoinHandle};

struct Context {
    /// The runtime that `spawn` and `Handle::current` use.
    current: RefCell<Option<scheduler::Handle>>,
    /// Set while this thread drives a scheduler (`block_on`, a worker).
    scheduler: Cell<*const scheduler::Context>,
    /// Set inside `block_on` and on worker threads.
    in_runtime: Cell<bool>,
}

crate::loom::thread_local! {
    // Not `const`: loom's thread_local! does not take that form.
    #[allow(clippy::missing_const_for_thread_local)]
    static CONTEXT: Context = Context {
        current: RefCell::new(None),
        scheduler: Cell::new(std::ptr::null()),
        in_runtime: Cell::new(false),
    };
}

const NO_RUNTIME: &str = "there is no corio runtime on this thread: call this from inside \
    `Runtime::block_on`, a spawned task or `#[corio::main]`, or enter a runtime first with \
    `Handle::enter()`; from a plain thread, use `Handle::spawn` on a cloned handle";

/// Spawns onto the current runtime, panicking with a message naming the fix outside one.
#[track_caller]
pub(crate) fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let id = Id::next();
    match with_current(|handle| handle.spawn(future, id)) {
        Ok(join) => join,
        Err(e) => panic!("corio::spawn: {e}"),
    }
}

/// Runs `f` with the current runtime's handle.
pub(crate) fn with_current<R>(
    f: impl FnOnce(&scheduler::Handle) -> R,
) -> Result<R, TryCurrentError> {
    let res = CONTEXT.try_with(|cx| {
        let current = cx.current.borrow();
        current.as_ref().map(f).ok_or(TryCurrentError::no_context())
    });
    match res {
        Ok(r) => r,
        Err(_) => Err(TryCurrentError::thread_local_destroyed()),
    }
}

pub(crate) fn no_runtime_message() -> &'static str {
    NO_RUNTIME
}

/// Makes `handle` current until the guard drops (restoring the previous one).
pub(crate) fn set_current(handle: &scheduler::Handle) -> SetCurrentGuard {
    let prev = CONTEXT.with(|cx| cx.current.borrow_mut().replace(handle.clone()));
    SetCurrentGuard {
        prev: Some(prev),
        _not_send: std::marker::PhantomData,
    }
}

/// Restores the previously current runtime.
#[derive(Debug)]
pub(crate) struct SetCurrentGuard {
    prev: Option<Option<scheduler::Handle>>,
    _not_send: std::marker::PhantomData<*const ()>,
}

impl Drop for SetCurrentGuard {
    fn drop(&mut self) {
        let prev = self.prev.take().unwrap_or(None);
        let old = CONTEXT.try_with(|cx| std::mem::replace(&mut *cx.current.borrow_mut(), prev));
        // The replaced handle may be the last reference to a runtime: drop it outside the
        // borrow.
        drop(old);
    }
}

/// Marks this thread as inside a runtime (a `block_on` or a worker).
///
/// # Panics
/// If the thread already is: blocking a runtime thread on another future would stall every
/// task queued behind it.
#[track_caller]
pub(crate) fn enter_runtime(handle: &scheduler::Handle) -> EnterRuntimeGuard {
    let already = CONTEXT.with(|cx| cx.in_runtime.replace(true));
    if already {
        panic!(
            "cannot call `block_on` from inside a corio runtime: this thread is already driving \
             tasks, and blocking it would stall them. Use `.await` instead, or move the blocking \
             call to `corio::task::spawn_blocking` (or `block_in_place` on a multi-thread runtime)"
        );
    }
    EnterRuntimeGuard {
        _current: set_current(handle),
    }
}

/// Leaves the runtime on drop.
#[derive(Debug)]
pub(crate) struct EnterRuntimeGuard {
    _current: SetCurrentGuard,
}

impl Drop for EnterRuntimeGuard {
    fn drop(&mut self) {
        let _ = CONTEXT.try_with(|cx| cx.in_runtime.set(false));
    }
}

/// Temporarily marks this thread as outside the runtime (`block_in_place`); returns the
/// previous mark.
pub(crate) fn exit_runtime<R>(f: impl FnOnce() -> R) -> R {
    struct Reset(bool);
    impl Drop for Reset {
        fn drop(&mut self) {
            let _ = CONTEXT.try_with(|cx| cx.in_runtime.set(self.0));
        }
    }
    let prev = CONTEXT.with(|cx| cx.in_runtime.replace(false));
    let _reset = Reset(prev);
    f()
}

/// Installs `scheduler` as this thread's scheduler context while `f` runs.
pub(crate) fn set_scheduler<R>(scheduler: &scheduler::Context, f: impl FnOnce() -> R) -> R {
    struct Reset(*const scheduler::Context);
    impl Drop for Reset {
        fn drop(&mut self) {
            let _ = CONTEXT.try_with(|cx| cx.scheduler.set(self.0));
        }
    }
    let prev = CONTEXT.with(|cx| cx.scheduler.replace(scheduler));
    let _reset = Reset(prev);
    f()
}

/// Runs `f` with this thread's scheduler context, if it drives one.
pub(crate) fn with_scheduler<R>(f: impl FnOnce(Option<&scheduler::Context>) -> R) -> R {
    let ptr = CONTEXT
        .try_with(|cx| cx.scheduler.get())
        .unwrap_or(std::ptr::null());
    // SAFETY: a non-null pointer was installed by `set_scheduler`, whose caller keeps the
    // context alive (it borrows it) until the pointer is reset on the way out.
    f(unsafe { ptr.as_ref() })
}
