//! Synchronization primitives for tasks: locks, semaphores, notifications and channels.
//!
//! Every waiting future here embeds its own waiter node (an intrusive list entry, see
//! `util::linked_list`), so waiting allocates nothing; waiters are served in FIFO order
//! where Tokio's are fair (`Mutex`, `RwLock`, `Semaphore`, bounded `mpsc` senders); a
//! waiter dropped before it completes gives up its place and passes on whatever was meant
//! for it. Every wait spends cooperative budget, so a task looping over always-ready
//! primitives still yields to its neighbours.
//!
//! The primitives need no runtime: they work with any executor.

pub(crate) mod batch_semaphore;

mod barrier;
mod mutex;
mod notify;
mod rwlock;
mod semaphore;

pub mod broadcast;
pub mod mpsc;
pub mod oneshot;
pub mod watch;

pub use barrier::{Barrier, BarrierWaitResult};
pub use mutex::{Mutex, MutexGuard, OwnedMutexGuard, TryLockError};
pub use notify::{Notified, Notify};
pub use rwlock::{RwLock, RwLockReadGuard, RwLockWriteGuard};
pub use semaphore::{
    AcquireError, OwnedSemaphorePermit, Semaphore, SemaphorePermit, TryAcquireError,
};

#[cfg(all(test, loom))]
mod loom_tests;
#[cfg(all(test, not(loom)))]
mod tests;
#[cfg(all(test, not(loom)))]
mod tests_chan;
