//! [`Handle`]: a cloneable reference to a runtime, usable from any thread.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;

use super::{context, park, RuntimeMetrics};
use crate::scheduler;
use crate::task::{Id, JoinHandle};

/// A reference to a runtime: spawn onto it from any thread, or make it current.
///
/// ```
/// let rt = corio::runtime::Runtime::new().unwrap();
/// let handle = rt.handle().clone();
/// let out = std::thread::spawn(move || {
///     let h = handle.spawn(async { 5 });
///     handle.block_on(h).unwrap()
/// })
/// .join()
/// .unwrap();
/// assert_eq!(out, 5);
/// ```
#[derive(Clone)]
pub struct Handle {
    pub(crate) inner: scheduler::Handle,
}

impl Handle {
    /// The handle of the current runtime.
    ///
    /// # Panics
    /// Outside a runtime, with a message naming the fix; [`Handle::try_current`] does not.
    #[track_caller]
    pub fn current() -> Handle {
        match Handle::try_current() {
            Ok(h) => h,
            Err(e) => panic!("Handle::current(): {e}"),
        }
    }

    /// The handle of the current runtime, or an error outside one.
    pub fn try_current() -> Result<Handle, TryCurrentError> {
        context::with_current(|inner| Handle {
            inner: inner.clone(),
        })
    }

    /// Spawns a task onto this runtime.
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.inner.spawn(future, Id::next())
    }

    /// Runs `f` on this runtime's blocking pool.
    pub fn spawn_blocking<F, R>(&self, f: F) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        self.inner.spawn_blocking(f)
    }

    /// Blocks this thread on `future` with this runtime current (so it may spawn, use I/O and
    /// timers). The thread does not run the runtime's tasks: on a current-thread runtime
    /// they run only inside `Runtime::block_on`.
    ///
    /// # Panics
    /// From inside a runtime, as [`crate::runtime::Runtime::block_on`].
    #[track_caller]
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        let _enter = context::enter_runtime(&self.inner);
        let spin = matches!(self.inner, scheduler::Handle::MultiThread(_));
        park::block_on(future, spin)
    }

    /// Makes this runtime current on this thread until the guard drops, so that
    /// `corio::spawn` and `Handle::current` work there.
    pub fn enter(&self) -> EnterGuard<'_> {
        EnterGuard {
            _guard: context::set_current(&self.inner),
            _handle: PhantomData,
        }
    }

    /// Statistics of the runtime.
    pub fn metrics(&self) -> RuntimeMetrics {
        RuntimeMetrics::new(self.inner.clone())
    }

    /// The driver (I/O reactor and timer wheel) of this runtime.
    pub(crate) fn driver(&self) -> &crate::driver::Handle {
        self.inner.driver()
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle").finish_non_exhaustive()
    }
}

/// Returned by [`Handle::enter`]; the runtime stops being current when it drops.
#[must_use = "the runtime is current only until the guard is dropped"]
pub struct EnterGuard<'a> {
    _guard: context::SetCurrentGuard,
    _handle: PhantomData<&'a Handle>,
}

impl fmt::Debug for EnterGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EnterGuard").finish_non_exhaustive()
    }
}

/// Why there is no current runtime.
#[derive(Debug)]
pub struct TryCurrentError {
    destroyed: bool,
}

impl TryCurrentError {
    pub(crate) fn no_context() -> Self {
        TryCurrentError { destroyed: false }
    }

    pub(crate) fn thread_local_destroyed() -> Self {
        TryCurrentError { destroyed: true }
    }

    /// True if no runtime was entered on this thread.
    pub fn is_missing_context(&self) -> bool {
        !self.destroyed
    }

    /// True if the thread is exiting and its runtime context is already gone.
    pub fn is_thread_local_destroyed(&self) -> bool {
        self.destroyed
    }
}

impl fmt::Display for TryCurrentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.destroyed {
            f.write_str("the thread is exiting and its corio runtime context is already destroyed")
        } else {
            f.write_str(context::no_runtime_message())
        }
    }
}

impl std::error::Error for TryCurrentError {}
