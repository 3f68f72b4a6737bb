//! The bounded flavour: `Sender`, `Receiver`, `Permit`. See `chan` for the protocol.

use crate::loom::sync::Arc;
use std::fmt;
use std::task::{Context, Poll};

use super::chan::Chan;
use super::error::{SendError, TryRecvError, TrySendError};
use crate::sync::batch_semaphore::TryAcquireError;

/// Creates a channel holding at most `buffer` messages: senders wait (in FIFO order) while
/// it is full. Panics if `buffer` is 0.
///
/// ```
/// use corio::sync::mpsc;
/// # futures_lite::future::block_on(async {
/// let (tx, mut rx) = mpsc::channel(1);
/// tx.send(1).await.unwrap();
/// assert!(tx.try_send(2).is_err()); // full
/// assert_eq!(rx.recv().await, Some(1));
/// drop(tx);
/// assert_eq!(rx.recv().await, None);
/// # });
/// ```
pub fn channel<T>(buffer: usize) -> (Sender<T>, Receiver<T>) {
    assert!(
        buffer > 0,
        "mpsc bounded channel requires buffer > 0 (use unbounded_channel for no limit)"
    );
    let chan = Arc::new(Chan::new(Some(buffer)));
    (Sender { chan: chan.clone() }, Receiver { chan })
}

/// The sending half of a bounded channel; clone it for more producers.
pub struct Sender<T> {
    chan: Arc<Chan<T>>,
}

/// The receiving half of a bounded channel.
pub struct Receiver<T> {
    chan: Arc<Chan<T>>,
}

/// One reserved slot in a bounded channel: [`Permit::send`] fills it without waiting;
/// dropping the permit frees the slot.
#[must_use = "dropping a permit frees its slot without sending"]
pub struct Permit<'a, T> {
    chan: &'a Chan<T>,
}

impl<T> Sender<T> {
    /// Waits for a free slot, then sends. Fails, handing the value back, once the receiver is
    /// closed or dropped.
    pub async fn send(&self, value: T) -> Result<(), SendError<T>> {
        match self.reserve().await {
            Ok(permit) => {
                permit.send(value);
                Ok(())
            }
            Err(_) => Err(SendError(value)),
        }
    }

    /// Sends if a slot is free right now.
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        match self.chan.semaphore().try_acquire(1) {
            Ok(()) => {
                Permit { chan: &self.chan }.send(value);
                Ok(())
            }
            Err(TryAcquireError::NoPermits) => Err(TrySendError::Full(value)),
            Err(TryAcquireError::Closed) => Err(TrySendError::Closed(value)),
        }
    }

    /// Waits for a free slot and reserves it.
    pub async fn reserve(&self) -> Result<Permit<'_, T>, SendError<()>> {
        match self.chan.semaphore().acquire(1).await {
            Ok(()) => Ok(Permit { chan: &self.chan }),
            Err(_) => Err(SendError(())),
        }
    }

    /// Reserves a slot if one is free right now.
    pub fn try_reserve(&self) -> Result<Permit<'_, T>, TrySendError<()>> {
        match self.chan.semaphore().try_acquire(1) {
            Ok(()) => Ok(Permit { chan: &self.chan }),
            Err(TryAcquireError::NoPermits) => Err(TrySendError::Full(())),
            Err(TryAcquireError::Closed) => Err(TrySendError::Closed(())),
        }
    }

    /// Waits until the receiver is closed or dropped.
    pub async fn closed(&self) {
        self.chan.closed().await
    }

    /// True once the receiver is closed or dropped.
    pub fn is_closed(&self) -> bool {
        self.chan.is_rx_closed()
    }

    /// Free slots right now.
    pub fn capacity(&self) -> usize {
        self.chan.semaphore().available_permits()
    }

    /// The buffer size the channel was created with.
    pub fn max_capacity(&self) -> usize {
        self.chan.capacity().expect("bounded")
    }

    /// True if both senders feed the same channel.
    pub fn same_channel(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.chan, &other.chan)
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.chan.add_sender();
        Self {
            chan: self.chan.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        self.chan.drop_sender();
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender").field("chan", &self.chan).finish()
    }
}

impl<T> Permit<'_, T> {
    /// Sends `value` into the reserved slot. A permit reserved before the receiver called
    /// `close` still delivers; if the receiver was dropped, the value is dropped with the
    /// channel, as every queued message is.
    pub fn send(self, value: T) {
        let chan = self.chan;
        std::mem::forget(self);
        if chan.push(value, true).is_err() {
            // The receiver is gone: the slot goes back, and the value with it.
            chan.release_unsent_permit();
        }
    }
}

impl<T> Drop for Permit<'_, T> {
    fn drop(&mut self) {
        self.chan.release_unsent_permit();
    }
}

impl<T> fmt::Debug for Permit<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit").finish_non_exhaustive()
    }
}

impl<T> Receiver<T> {
    /// The next message; `None` once every sender is gone (or the receiver was closed) and
    /// the buffer is drained.
    pub async fn recv(&mut self) -> Option<T> {
        std::future::poll_fn(|cx| self.chan.poll_recv(cx)).await
    }

    /// Waits for at least one message, then moves up to `limit` of them into `buffer`;
    /// returns how many. `0` means the channel is finished (or `limit` was 0).
    pub async fn recv_many(&mut self, buffer: &mut Vec<T>, limit: usize) -> usize {
        if limit == 0 {
            return 0;
        }
        std::future::poll_fn(|cx| self.chan.poll_recv_many(cx, buffer, limit)).await
    }

    /// A message if one is queued right now.
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        self.chan.try_recv()
    }

    /// The poll form of [`Receiver::recv`].
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        self.chan.poll_recv(cx)
    }

    /// Stops new sends (waiting senders fail and get their values back) while keeping the
    /// messages already queued, and those of permits already reserved, receivable.
    pub fn close(&mut self) {
        self.chan.close_rx();
    }

    /// True once no more messages can be sent: every sender is gone or `close` was called.
    pub fn is_closed(&self) -> bool {
        self.chan.is_tx_closed()
    }

    /// Messages queued right now.
    pub fn len(&self) -> usize {
        self.chan.len()
    }

    /// True if no message is queued right now.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        self.chan.close_rx();
        self.chan.drain_on_drop();
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("chan", &self.chan)
            .finish()
    }
}
