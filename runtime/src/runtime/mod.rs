//! Building and running a runtime: [`Builder`], [`Runtime`], [`Handle`], [`RuntimeMetrics`].
//!
//! ```
//! let rt = corio::runtime::Builder::new_multi_thread().worker_threads(2).build().unwrap();
//! let out = rt.block_on(async { corio::spawn(async { 1 + 1 }).await.unwrap() });
//! assert_eq!(out, 2);
//! ```

mod builder;
pub(crate) mod context;
mod handle;
mod metrics;
pub(crate) mod park;
#[allow(clippy::module_inception)]
mod runtime;

pub use self::builder::Builder;
pub use self::handle::{EnterGuard, Handle, TryCurrentError};
pub use self::metrics::RuntimeMetrics;
pub use self::runtime::Runtime;

/// Runs `future` to completion on a new default runtime (one worker per core), then shuts
/// the runtime down: like Python's `asyncio.run`.
///
/// # Panics
/// If the runtime cannot be built (the I/O driver failed to start), or if called from inside
/// a runtime.
///
/// ```
/// let n = corio::run(async { 40 + 2 });
/// assert_eq!(n, 42);
/// ```
#[track_caller]
pub fn run<F: std::future::Future>(future: F) -> F::Output {
    let rt =
        Runtime::new().unwrap_or_else(|e| panic!("corio::run: failed to build the runtime: {e}"));
    rt.block_on(future)
}
