//! A watch channel: one sender publishes the latest value, many receivers see it change.
//!
//! State: the value behind a lock, and an atomic word holding a version (steps of 2) and a
//! CLOSED bit (the sender is gone). Each receiver remembers the version it last saw.
//! Two `Notify`s: `rx` (a new value, or the sender gone) and `tx` (the last receiver gone).
//!
//! Protocol:
//! 1. Send: under the value lock, replace the value and add 2 to the version (Release), so
//!    that a reader holding the lock sees a version that matches the value; unlock, then
//!    `rx.notify_waiters()`.
//! 2. `changed`: create a `Notified` (it snapshots the notify generation), *then* load the
//!    version (Acquire, pairing with step 1). Unseen version: done. Closed: error. Else await
//!    the `Notified`. A send whose version store we missed bumps the generation after our
//!    snapshot, so the `Notified` completes: no lost wake-up (notify step 1).
//! 3. Sender drop: set CLOSED (Release), then `rx.notify_waiters()`; same argument.
//! 4. The last receiver to drop wakes `Sender::closed` through `tx`, in the same order.

use std::fmt;
use std::ops::Deref;

use crate::loom::sync::atomic::{AtomicUsize, Ordering};
use crate::loom::sync::{Arc, Mutex, MutexGuard};
use crate::sync::Notify;

/// Errors of the watch channel.
pub mod error {
    use std::fmt;

    /// Every receiver is gone; the value is handed back.
    #[derive(PartialEq, Eq, Clone, Copy)]
    pub struct SendError<T>(pub T);

    impl<T> fmt::Debug for SendError<T> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("SendError").finish_non_exhaustive()
        }
    }
    impl<T> fmt::Display for SendError<T> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("channel closed")
        }
    }
    impl<T> std::error::Error for SendError<T> {}

    /// The sender is gone (and, for `changed`, no unseen value is left).
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct RecvError(pub(crate) ());

    impl fmt::Display for RecvError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("channel closed")
        }
    }
    impl std::error::Error for RecvError {}
}

use error::{RecvError, SendError};

const CLOSED: usize = 1;
const STEP: usize = 2;

struct Shared<T> {
    value: Mutex<T>,
    state: AtomicUsize,
    rx_count: AtomicUsize,
    notify_rx: Notify,
    notify_tx: Notify,
}

impl<T> Shared<T> {
    fn version(&self) -> (usize, bool) {
        // Acquire pairs with the Release in steps 1 and 3.
        let s = self.state.load(Ordering::Acquire);
        (s & !CLOSED, s & CLOSED == CLOSED)
    }
}

/// Creates a watch channel holding `init`.
///
/// ```
/// use corio::sync::watch;
/// # futures_lite::future::block_on(async {
/// let (tx, mut rx) = watch::channel("a");
/// tx.send("b").unwrap();
/// rx.changed().await.unwrap();
/// assert_eq!(*rx.borrow_and_update(), "b");
/// drop(tx);
/// assert!(rx.changed().await.is_err());
/// # });
/// ```
pub fn channel<T>(init: T) -> (Sender<T>, Receiver<T>) {
    let shared = Arc::new(Shared {
        value: Mutex::new(init),
        state: AtomicUsize::new(0),
        rx_count: AtomicUsize::new(1),
        notify_rx: Notify::new(),
        notify_tx: Notify::new(),
    });
    (
        Sender {
            shared: shared.clone(),
        },
        Receiver { shared, version: 0 },
    )
}

/// Publishes values to every [`Receiver`].
pub struct Sender<T> {
    shared: Arc<Shared<T>>,
}

/// Sees the latest value and waits for changes.
pub struct Receiver<T> {
    shared: Arc<Shared<T>>,
    version: usize,
}

/// A borrow of the current value; hold it briefly (it blocks senders).
pub struct Ref<'a, T> {
    guard: MutexGuard<'a, T>,
    has_changed: bool,
}

impl<T> Ref<'_, T> {
    /// Whether the value was unseen by the receiver when it was borrowed.
    pub fn has_changed(&self) -> bool {
        self.has_changed
    }
}

impl<T> Deref for Ref<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.guard
    }
}

impl<T: fmt::Debug> fmt::Debug for Ref<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T> Sender<T> {
    /// Publishes `value`; fails, handing it back, when every receiver is gone.
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        if self.receiver_count() == 0 {
            return Err(SendError(value));
        }
        self.send_replace(value);
        Ok(())
    }

    /// Publishes `value` even with no receivers; returns the old value.
    pub fn send_replace(&self, value: T) -> T {
        let mut value = value;
        self.send_modify(|v| std::mem::swap(v, &mut value));
        value
    }

    /// Modifies the value in place and notifies receivers, even with none.
    pub fn send_modify(&self, modify: impl FnOnce(&mut T)) {
        self.send_if_modified(|v| {
            modify(v);
            true
        });
    }

    /// Modifies the value in place; notifies receivers only if `modify` returns true.
    pub fn send_if_modified(&self, modify: impl FnOnce(&mut T) -> bool) -> bool {
        {
            let mut value = self.shared.value.lock();
            if !modify(&mut value) {
                return false;
            }
            // Step 1: Release pairs with `Shared::version`.
            self.shared.state.fetch_add(STEP, Ordering::Release);
        }
        self.shared.notify_rx.notify_waiters();
        true
    }

    /// The current value.
    pub fn borrow(&self) -> Ref<'_, T> {
        Ref {
            guard: self.shared.value.lock(),
            has_changed: false,
        }
    }

    /// A new receiver that has seen the current value.
    pub fn subscribe(&self) -> Receiver<T> {
        self.shared.rx_count.fetch_add(1, Ordering::Relaxed);
        let (version, _) = self.shared.version();
        Receiver {
            shared: self.shared.clone(),
            version,
        }
    }

    /// Receivers alive right now.
    pub fn receiver_count(&self) -> usize {
        self.shared.rx_count.load(Ordering::Acquire)
    }

    /// True when every receiver is gone.
    pub fn is_closed(&self) -> bool {
        self.receiver_count() == 0
    }

    /// Waits until every receiver is gone.
    pub async fn closed(&self) {
        loop {
            let notified = self.shared.notify_tx.notified();
            if self.is_closed() {
                return;
            }
            notified.await;
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        // Step 3.
        self.shared.state.fetch_or(CLOSED, Ordering::Release);
        self.shared.notify_rx.notify_waiters();
    }
}

impl<T: fmt::Debug> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("value", &*self.shared.value.lock())
            .finish()
    }
}

impl<T> Receiver<T> {
    /// The current value, without marking it seen.
    pub fn borrow(&self) -> Ref<'_, T> {
        let guard = self.shared.value.lock();
        // Under the value lock the version matches the value (step 1).
        let (version, _) = self.shared.version();
        Ref {
            guard,
            has_changed: version != self.version,
        }
    }

    /// The current value, marking it seen.
    pub fn borrow_and_update(&mut self) -> Ref<'_, T> {
        let guard = self.shared.value.lock();
        let (version, _) = self.shared.version();
        let has_changed = version != self.version;
        self.version = version;
        Ref { guard, has_changed }
    }

    /// Whether an unseen value is there; `Err` once the sender is gone.
    pub fn has_changed(&self) -> Result<bool, RecvError> {
        let (version, closed) = self.shared.version();
        if closed {
            return Err(RecvError(()));
        }
        Ok(version != self.version)
    }

    /// Marks the current value seen.
    pub fn mark_unchanged(&mut self) {
        self.version = self.shared.version().0;
    }

    /// Waits for a value this receiver has not seen and marks it seen; `Err` once the sender
    /// is gone and no unseen value is left.
    pub async fn changed(&mut self) -> Result<(), RecvError> {
        loop {
            // Step 2: the Notified first, then the version.
            let notified = self.shared.notify_rx.notified();
            let (version, closed) = self.shared.version();
            if version != self.version {
                self.version = version;
                crate::coop::consume_budget().await;
                return Ok(());
            }
            if closed {
                crate::coop::consume_budget().await;
                return Err(RecvError(()));
            }
            notified.await;
        }
    }

    /// True if both receivers watch the same channel.
    pub fn same_channel(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }
}

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Self {
        self.shared.rx_count.fetch_add(1, Ordering::Relaxed);
        Self {
            shared: self.shared.clone(),
            version: self.version,
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        // Step 4: AcqRel so the sender that sees 0 sees everything receivers did.
        if self.shared.rx_count.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.shared.notify_tx.notify_waiters();
        }
    }
}

impl<T: fmt::Debug> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("version", &self.version)
            .finish()
    }
}
