//! # corio: Rust futures on every core
//!
//! corio is a multi-threaded, work-stealing async runtime. Futures are scheduled over one
//! worker thread per core; each worker has its own run queue and steals from the others when
//! it runs dry; all workers share one I/O driver (built on the `polling` crate) and one
//! hierarchical timer wheel. The API follows Tokio 1.x: moving code over is mostly a matter
//! of writing `corio::` for `tokio::`.
//!
//! ```
//! let answer = corio::run(async {
//!     let handles: Vec<_> = (0..4u64).map(|i| corio::spawn(async move { i * i })).collect();
//!     let mut sum = 0;
//!     for h in handles {
//!         sum += h.await.unwrap();
//!     }
//!     sum
//! });
//! assert_eq!(answer, 14);
//! ```

#![cfg_attr(docsrs, feature(doc_cfg))]

#[macro_use]
mod macros;

pub(crate) mod loom;
pub(crate) mod util;

pub(crate) mod blocking;
pub(crate) mod coop;
pub(crate) mod driver;
pub(crate) mod scheduler;
pub mod task;

pub mod runtime;

pub mod io;
pub mod net;
// Real signals cannot be modelled: the loom build leaves the module out.
#[cfg(not(loom))]
pub mod signal;
pub mod sync;
pub mod time;

#[doc(hidden)]
pub use crate::macros::support as __private;

pub use crate::runtime::run;
pub use crate::task::spawn;
pub use corio_macros::{main, test};
