//! Timers: sleeps, timeouts and intervals, driven by one hierarchical timer wheel per runtime.
//!
//! Every timer belongs to the runtime it was created in (it looks the runtime up with
//! `Handle::current()`, so creating one outside a runtime panics, saying so). Timers have a
//! resolution of 1 ms and never complete early: a deadline between two milliseconds rounds up.
//! A timer registers with the wheel on its first poll and leaves it as soon as it is dropped.
//! Polling a timer spends one unit of the task's cooperative budget, like any other corio
//! resource.
//!
//! ```
//! use std::time::Duration;
//! use corio::time::{self, Instant};
//!
//! corio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//!     let start = Instant::now();
//!     time::sleep(Duration::from_millis(10)).await;
//!     assert!(start.elapsed() >= Duration::from_millis(10));
//!
//!     let slow = time::sleep(Duration::from_secs(60));
//!     assert!(time::timeout(Duration::from_millis(5), slow).await.is_err());
//! });
//! ```
//!
//! # Virtual time
//!
//! On a current-thread runtime, [`pause`] freezes the runtime's clock. While it is paused and
//! the runtime has nothing to run, time jumps straight to the next timer's deadline, so a test
//! that sleeps for an hour finishes at once, deterministically. [`advance`] moves paused time
//! forward by hand and [`resume`] lets it run again. [`Instant::now`] follows the clock.

mod clock;
mod context;
pub mod error;
mod instant;
mod interval;
mod sleep;
mod timeout;

pub use clock::{advance, pause, resume};
pub use instant::Instant;
pub use interval::{interval, interval_at, Interval, MissedTickBehavior};
pub use sleep::{sleep, sleep_until, Sleep};
pub use timeout::{timeout, timeout_at, Timeout};
