//! The channel core shared by the bounded and the unbounded flavours.
//!
//! State: a `VecDeque` of messages behind a lock, with the receiver's waker and two flags
//! (every sender gone, receiver closed); the receiver's own `VecDeque` (`rx_buf`, older
//! messages than the shared queue's); an atomic sender count; for the bounded flavour a
//! fair semaphore with one permit per free slot; a `Notify` for `Sender::closed`.
//!
//! Protocol:
//! 1. Bounded send: acquire a permit (FIFO among senders: backpressure), then push. The permit
//!    travels with the message and is released when the receiver pops it.
//! 2. Push, under the lock: receiver dropped, or closed and the sender holds no permit: hand
//!    the value back (nothing is dropped silently). Else enqueue and take the receiver's waker; wake after unlocking.
//! 3. Receive: pop from `rx_buf`; if it is empty, under the lock swap the whole shared queue
//!    into it (so the receiver takes the contended lock once per batch, not once per
//!    message, and the senders find an empty queue with capacity). Release the popped
//!    message's permit after unlocking. Both empty and closed (every sender gone, or receiver
//!    closed with no permit outstanding that could still send): `None`. Else store the waker,
//!    under the same lock that found the shared queue empty, and wait.
//! 4. The last sender to drop sets `tx_closed` under the lock and wakes the receiver, so a
//!    waiting receiver always learns it.
//! 5. Receiver close: set `rx_closed` under the lock, close the semaphore (waiting senders
//!    fail and get their values back), publish the atomic flag and `notify_waiters` (Release
//!    flag, then the generation bump; `Sender::closed` snapshots the generation before reading
//!    the flag, the watch-style argument in notify step 1). Dropping the receiver closes and
//!    then drops the messages still queued.
//! 6. An unsent bounded permit, when dropped, releases its slot and wakes the receiver, which
//!    may be waiting in step 3 for the last outstanding permit after a close.

use std::collections::VecDeque;
use std::fmt;
use std::task::{ready, Context, Poll, Waker};

use super::error::{SendError, TryRecvError};
use crate::coop;
use crate::loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use crate::loom::sync::{Mutex, MutexGuard};
use crate::sync::batch_semaphore as ll;
use crate::sync::Notify;
use crate::util::cache_padded::CachePadded;

/// The senders' lock, the receiver's buffer and the semaphore's permit word each have their
/// own cache line: they are written by different threads on every message.
pub(super) struct Chan<T> {
    inner: CachePadded<Mutex<Inner<T>>>,
    /// Step 3: messages the receiver took from `inner.queue` in one go. Only the receiver
    /// pops from it, so its lock is uncontended; lock order: `rx_buf`, then `inner`.
    rx_buf: CachePadded<Mutex<VecDeque<T>>>,
    tx_count: AtomicUsize,
    rx_closed: AtomicBool,
    notify_tx: Notify,
    /// `Some(capacity)` for the bounded flavour (read on every receive: kept off the
    /// semaphore's line, which every send and receive writes).
    capacity: Option<usize>,
    /// One permit per free slot; unused (and empty) in the unbounded flavour.
    slots: CachePadded<ll::Semaphore>,
}

struct Inner<T> {
    queue: VecDeque<T>,
    rx_waker: Option<Waker>,
    tx_closed: bool,
    rx_closed: bool,
    rx_dropped: bool,
}

impl<T> Chan<T> {
    pub(super) fn new(capacity: Option<usize>) -> Self {
        Self {
            inner: CachePadded(Mutex::new(Inner {
                queue: VecDeque::with_capacity(capacity.unwrap_or(0).min(1024)),
                rx_waker: None,
                tx_closed: false,
                rx_closed: false,
                rx_dropped: false,
            })),
            rx_buf: CachePadded(Mutex::new(VecDeque::new())),
            tx_count: AtomicUsize::new(1),
            rx_closed: AtomicBool::new(false),
            notify_tx: Notify::new(),
            capacity,
            slots: CachePadded(ll::Semaphore::new(capacity.unwrap_or(0))),
        }
    }

    pub(super) fn semaphore(&self) -> &ll::Semaphore {
        assert!(
            self.capacity.is_some(),
            "only bounded channels have a semaphore"
        );
        &self.slots
    }

    pub(super) fn capacity(&self) -> Option<usize> {
        self.capacity
    }

    // ---- sender side ----

    pub(super) fn add_sender(&self) {
        // Relaxed: the new sender comes from an existing one, which keeps the count above 0.
        self.tx_count.fetch_add(1, Ordering::Relaxed);
    }

    /// Step 4.
    pub(super) fn drop_sender(&self) {
        // AcqRel: the last sender must see every other sender's pushes before closing.
        if self.tx_count.fetch_sub(1, Ordering::AcqRel) != 1 {
            return;
        }
        let waker = {
            let mut inner = self.inner.lock();
            inner.tx_closed = true;
            inner.rx_waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Step 2. `has_permit`: a bounded permit reserved before a `close` may still deliver
    /// (as in Tokio); only a dropped receiver refuses it.
    pub(super) fn push(&self, value: T, has_permit: bool) -> Result<(), SendError<T>> {
        let waker = {
            let mut inner = self.inner.lock();
            if inner.rx_dropped || (inner.rx_closed && !has_permit) {
                return Err(SendError(value));
            }
            inner.queue.push_back(value);
            inner.rx_waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
        Ok(())
    }

    /// Step 6.
    pub(super) fn release_unsent_permit(&self) {
        self.semaphore().release(1);
        let waker = {
            let mut inner = self.inner.lock();
            if inner.rx_closed {
                inner.rx_waker.take()
            } else {
                None
            }
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    pub(super) fn is_rx_closed(&self) -> bool {
        // Acquire pairs with the Release store in `close_rx`.
        self.rx_closed.load(Ordering::Acquire)
    }

    /// Waits until the receiver is closed or dropped (step 5).
    pub(super) async fn closed(&self) {
        loop {
            let notified = self.notify_tx.notified();
            if self.is_rx_closed() {
                return;
            }
            notified.await;
        }
    }

    // ---- receiver side ----

    /// Step 5 (without the draining).
    pub(super) fn close_rx(&self) {
        {
            let mut inner = self.inner.lock();
            if inner.rx_closed {
                return;
            }
            inner.rx_closed = true;
        }
        if self.capacity.is_some() {
            self.slots.close();
        }
        self.rx_closed.store(true, Ordering::Release);
        self.notify_tx.notify_waiters();
    }

    /// Drops every queued message: the receiver is gone.
    pub(super) fn drain_on_drop(&self) {
        let (taken, dropped) = {
            let mut buf = self.rx_buf.lock();
            let mut inner = self.inner.lock();
            inner.rx_dropped = true;
            (std::mem::take(&mut *buf), std::mem::take(&mut inner.queue))
        };
        // The semaphore is closed, so these permits only keep `available_permits` honest.
        if self.capacity.is_some() {
            self.slots.release(taken.len() + dropped.len());
        }
        drop(taken);
        drop(dropped);
    }

    /// Is the channel finished for the receiver? Called with the queue empty.
    fn finished(&self, inner: &Inner<T>) -> bool {
        if inner.tx_closed {
            return true;
        }
        if !inner.rx_closed {
            return false;
        }
        match self.capacity {
            // Outstanding permits could still send: wait for them (step 3).
            Some(cap) => self.slots.available_permits() == cap,
            None => true,
        }
    }

    fn release_slots(&self, n: usize) {
        if self.capacity.is_some() {
            self.slots.release(n);
        }
    }

    /// Step 3: the oldest message, its slot released; or, with both queues empty, the
    /// shared queue's lock, still held, so that the caller checks for closure and stores
    /// its waker before any sender can push.
    fn pop(&self) -> Result<T, MutexGuard<'_, Inner<T>>> {
        let mut buf = self.rx_buf.lock();
        if buf.is_empty() {
            let mut inner = self.inner.lock();
            if inner.queue.is_empty() {
                return Err(inner);
            }
            std::mem::swap(&mut *buf, &mut inner.queue);
        }
        let v = buf.pop_front().expect("rx_buf was just refilled");
        drop(buf);
        self.release_slots(1);
        Ok(v)
    }

    pub(super) fn try_recv(&self) -> Result<T, TryRecvError> {
        match self.pop() {
            Ok(v) => Ok(v),
            Err(inner) if self.finished(&inner) => Err(TryRecvError::Disconnected),
            Err(_) => Err(TryRecvError::Empty),
        }
    }

    /// Step 3, taking up to `limit` messages into `buf` (`limit >= 1`).
    pub(super) fn poll_recv_many(
        &self,
        cx: &mut Context<'_>,
        buf: &mut Vec<T>,
        limit: usize,
    ) -> Poll<usize> {
        let restore = ready!(coop::poll_proceed(cx));
        let mut rx = self.rx_buf.lock();
        let mut n = rx.len().min(limit);
        buf.extend(rx.drain(..n));
        if n < limit {
            let mut inner = self.inner.lock();
            let more = inner.queue.len().min(limit - n);
            buf.extend(inner.queue.drain(..more));
            n += more;
            if n == 0 {
                if self.finished(&inner) {
                    restore.made_progress();
                    return Poll::Ready(0);
                }
                Self::set_rx_waker(&mut inner, cx);
                return Poll::Pending;
            }
        }
        drop(rx);
        self.release_slots(n);
        restore.made_progress();
        Poll::Ready(n)
    }

    fn set_rx_waker(inner: &mut Inner<T>, cx: &Context<'_>) {
        if !inner
            .rx_waker
            .as_ref()
            .is_some_and(|w| w.will_wake(cx.waker()))
        {
            inner.rx_waker = Some(cx.waker().clone());
        }
    }

    pub(super) fn poll_recv(&self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let restore = ready!(coop::poll_proceed(cx));
        match self.pop() {
            Ok(v) => {
                restore.made_progress();
                Poll::Ready(Some(v))
            }
            Err(inner) if self.finished(&inner) => {
                restore.made_progress();
                Poll::Ready(None)
            }
            Err(mut inner) => {
                Self::set_rx_waker(&mut inner, cx);
                Poll::Pending
            }
        }
    }

    pub(super) fn len(&self) -> usize {
        let buf = self.rx_buf.lock();
        buf.len() + self.inner.lock().queue.len()
    }

    pub(super) fn is_tx_closed(&self) -> bool {
        let inner = self.inner.lock();
        inner.tx_closed || inner.rx_closed
    }
}

impl<T> fmt::Debug for Chan<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let len = self.len();
        let inner = self.inner.lock();
        f.debug_struct("Chan")
            .field("len", &len)
            .field("capacity", &self.capacity())
            .field("tx_closed", &inner.tx_closed)
            .field("rx_closed", &inner.rx_closed)
            .finish()
    }
}
