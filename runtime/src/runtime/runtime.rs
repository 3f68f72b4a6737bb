//! [`Runtime`]: owns the scheduler, the driver and the blocking pool.

use std::fmt;
use std::future::Future;
use std::io;
use std::time::Duration;

use super::builder::Kind;
use super::{context, park, EnterGuard, Handle, RuntimeMetrics};
use crate::blocking::BlockingPool;
use crate::scheduler::{self, current_thread::CurrentThread, multi_thread::MultiThread, Config};
use crate::task::JoinHandle;

/// A corio runtime: worker threads (or the calling thread), the I/O driver, the timer
/// wheel and the blocking pool.
///
/// Dropping it cancels every task still alive, drops every future exactly once, and joins
/// the workers; blocking threads are waited for (use [`Runtime::shutdown_timeout`] or
/// [`Runtime::shutdown_background`] to bound that).
///
/// ```
/// let rt = corio::runtime::Runtime::new().unwrap();
/// let h = rt.spawn(async { 7 });
/// assert_eq!(rt.block_on(h).unwrap(), 7);
/// ```
pub struct Runtime {
    handle: Handle,
    scheduler: Scheduler,
    blocking: BlockingPool,
    shut_down: bool,
}

enum Scheduler {
    CurrentThread(CurrentThread),
    MultiThread(MultiThread),
}

impl Runtime {
    /// A multi-thread runtime with default settings: `Builder::new_multi_thread().build()`.
    pub fn new() -> io::Result<Runtime> {
        super::Builder::new_multi_thread().build()
    }

    pub(crate) fn build(kind: Kind, config: Config) -> io::Result<Runtime> {
        let blocking = BlockingPool::new(&config);
        let spawner = blocking.spawner().clone();
        let (scheduler, inner) = match kind {
            Kind::CurrentThread => {
                let (ct, handle) = CurrentThread::new(config, spawner)?;
                (
                    Scheduler::CurrentThread(ct),
                    scheduler::Handle::CurrentThread(handle),
                )
            }
            Kind::MultiThread => {
                let (mt, handle) = MultiThread::new(config, spawner)?;
                (
                    Scheduler::MultiThread(mt),
                    scheduler::Handle::MultiThread(handle),
                )
            }
        };
        Ok(Runtime {
            handle: Handle { inner },
            scheduler,
            blocking,
            shut_down: false,
        })
    }

    /// Runs `future` to completion on this thread, driving the runtime meanwhile (on a
    /// current-thread runtime this is where every task runs). Callable from several threads
    /// at once.
    ///
    /// # Panics
    /// When called from inside a runtime (a task, or another `block_on`): that would block
    /// a thread that other tasks depend on. Use `.await` there.
    #[track_caller]
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        let _enter = context::enter_runtime(&self.handle.inner);
        match (&self.scheduler, &self.handle.inner) {
            (Scheduler::CurrentThread(ct), scheduler::Handle::CurrentThread(h)) => {
                ct.block_on(h, future)
            }
            _ => park::block_on(future, true),
        }
    }

    /// Spawns a task onto this runtime, from any thread.
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.handle.spawn(future)
    }

    /// Runs `f` on the blocking pool.
    pub fn spawn_blocking<F, R>(&self, f: F) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        self.handle.spawn_blocking(f)
    }

    /// The runtime's handle.
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Makes this runtime current on this thread until the guard drops.
    pub fn enter(&self) -> EnterGuard<'_> {
        self.handle.enter()
    }

    /// Statistics of the runtime.
    pub fn metrics(&self) -> RuntimeMetrics {
        self.handle.metrics()
    }

    /// Shuts down: cancels every task, then waits at most `timeout` for blocking threads.
    pub fn shutdown_timeout(mut self, timeout: Duration) {
        self.shutdown(Some(timeout));
    }

    /// Shuts down: cancels every task and waits for no blocking thread.
    pub fn shutdown_background(mut self) {
        self.shutdown(Some(Duration::ZERO));
    }

    fn shutdown(&mut self, blocking_timeout: Option<Duration>) {
        if std::mem::replace(&mut self.shut_down, true) {
            return;
        }
        // Task destructors run now and may spawn or ask for the current runtime: make this
        // one current so they see a runtime that refuses (cancels) new work.
        let _current = context::set_current(&self.handle.inner);
        let join_workers = blocking_timeout != Some(Duration::ZERO);
        match (&self.scheduler, &self.handle.inner) {
            (Scheduler::CurrentThread(ct), scheduler::Handle::CurrentThread(h)) => ct.shutdown(h),
            (Scheduler::MultiThread(mt), scheduler::Handle::MultiThread(h)) => {
                mt.shutdown(h, join_workers)
            }
            _ => unreachable!("runtime and handle flavours always match"),
        }
        self.blocking.shutdown(blocking_timeout);
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.shutdown(None);
    }
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime")
            .field("handle", &self.handle)
            .finish_non_exhaustive()
    }
}

#[allow(dead_code)]
fn _assert_send_sync() {
    fn is<T: Send + Sync>() {}
    is::<Runtime>();
    is::<Handle>();
}
