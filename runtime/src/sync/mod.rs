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

/// Compile-time proof that the public types and their futures can cross threads.
#[allow(dead_code)]
fn _assert_send_sync() {
    fn is_send<T: Send>(_: &T) {}
    fn is_sync<T: Sync>() {}
    is_sync::<Mutex<u8>>();
    is_sync::<RwLock<u8>>();
    is_sync::<Semaphore>();
    is_sync::<Notify>();
    is_sync::<Barrier>();
    let m = Mutex::new(0u8);
    is_send(&m.lock());
    let rw = RwLock::new(0u8);
    is_send(&rw.read());
    is_send(&rw.write());
    let s = Semaphore::new(1);
    is_send(&s.acquire());
    let n = Notify::new();
    is_send(&n.notified());
    let b = Barrier::new(1);
    is_send(&b.wait());
    let (tx, mut rx) = mpsc::channel::<u8>(1);
    is_send(&tx.send(0));
    is_send(&tx.reserve());
    is_send(&tx.closed());
    is_send(&rx.recv());
    let (_wtx, mut wrx) = watch::channel(0u8);
    is_send(&wrx.changed());
    let (_btx, mut brx) = broadcast::channel::<u8>(1);
    is_send(&brx.recv());
    let (_otx, orx) = oneshot::channel::<u8>();
    is_send(&orx);
}
