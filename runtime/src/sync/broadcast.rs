//! A broadcast channel: every receiver sees every value, from a ring of `capacity` slots.
//!
//! State, behind one lock: the ring (each slot holds the value and its position), the
//! position of the next send (`tail`), sender and receiver counts, and a list of waiting
//! receivers (nodes inside [`Recv`] futures). Each receiver keeps its own next position.
//!
//! Protocol:
//! 1. Send, under the lock: no receivers: hand the value back. Else write the slot at
//!    `tail % capacity` (overwriting the oldest value), bump `tail`, pop every waiting
//!    receiver and take its waker; wake them after unlocking.
//! 2. Receive, under the lock: `next < tail - capacity`: the receiver fell behind and missed
//!    values; report `Lagged(missed)` and move it to the oldest value still held (lag is an
//!    error, never a silent skip). `next < tail`: clone the value at `next`. Else, every
//!    sender gone: `Closed`. Else link the node (or refresh its waker) and wait.
//! 3. A `Recv` dropped while linked unlinks itself. Nothing needs handing on: a send wakes
//!    every waiter and each value stays readable by every receiver.
//! 4. The last sender to drop wakes every waiter, which then sees `Closed` once it has read
//!    what is left.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{ready, Context, Poll, Waker};

use crate::coop;
use crate::loom::sync::{Arc, Mutex, MutexGuard};
use crate::util::linked_list::{LinkedList, Node};
use crate::util::wake_list::WakeList;

/// Errors of the broadcast channel.
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

    /// Why `recv` returned no value.
    #[derive(Debug, PartialEq, Eq, Clone)]
    pub enum RecvError {
        /// Every sender is gone and every value was received.
        Closed,
        /// The receiver fell behind and this many values were overwritten before it read
        /// them; the next `recv` returns the oldest value still held.
        Lagged(u64),
    }

    impl fmt::Display for RecvError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self {
                RecvError::Closed => f.write_str("channel closed"),
                RecvError::Lagged(n) => write!(f, "channel lagged by {n}"),
            }
        }
    }
    impl std::error::Error for RecvError {}

    /// Why `try_recv` returned no value.
    #[derive(Debug, PartialEq, Eq, Clone)]
    pub enum TryRecvError {
        /// No new value right now.
        Empty,
        /// Every sender is gone and every value was received.
        Closed,
        /// The receiver fell behind by this many values (see [`RecvError::Lagged`]).
        Lagged(u64),
    }

    impl fmt::Display for TryRecvError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self {
                TryRecvError::Empty => f.write_str("channel empty"),
                TryRecvError::Closed => f.write_str("channel closed"),
                TryRecvError::Lagged(n) => write!(f, "channel lagged by {n}"),
            }
        }
    }
    impl std::error::Error for TryRecvError {}
}

use error::{RecvError, SendError, TryRecvError};

struct Shared<T> {
    state: Mutex<State<T>>,
    capacity: usize,
}

struct State<T> {
    ring: Box<[Option<T>]>,
    tail: u64,
    tx_count: usize,
    rx_count: usize,
    waiters: LinkedList<Option<Waker>>,
}

/// Creates a broadcast channel keeping the last `capacity` values. Panics if `capacity` is
/// 0. A receiver more than `capacity` values behind gets [`RecvError::Lagged`].
///
/// ```
/// use corio::sync::broadcast::{self, error::RecvError};
/// # futures_lite::future::block_on(async {
/// let (tx, mut rx) = broadcast::channel(2);
/// for i in 0..3 {
///     tx.send(i).unwrap();
/// }
/// assert_eq!(rx.recv().await, Err(RecvError::Lagged(1)));
/// assert_eq!(rx.recv().await, Ok(1));
/// assert_eq!(rx.recv().await, Ok(2));
/// # });
/// ```
pub fn channel<T: Clone>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    assert!(
        capacity > 0,
        "broadcast channel capacity must be at least 1"
    );
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            ring: (0..capacity).map(|_| None).collect(),
            tail: 0,
            tx_count: 1,
            rx_count: 1,
            waiters: LinkedList::new(),
        }),
        capacity,
    });
    (
        Sender {
            shared: shared.clone(),
        },
        Receiver { shared, next: 0 },
    )
}

/// Sends values to every receiver; clone it for more senders.
pub struct Sender<T> {
    shared: Arc<Shared<T>>,
}

/// Receives every value sent after it subscribed.
pub struct Receiver<T> {
    shared: Arc<Shared<T>>,
    next: u64,
}

fn wake_all_waiters<'a, T>(mut state: MutexGuard<'a, State<T>>, shared: &'a Shared<T>) {
    loop {
        let mut wakers = WakeList::new();
        while wakers.can_push() {
            let Some(node) = state.waiters.pop_front() else {
                break;
            };
            // SAFETY: just unlinked from our list, still live (its owner locks to drop it);
            // lock held.
            if let Some(w) = unsafe { Node::with_value(node, Option::take) } {
                wakers.push(w);
            }
        }
        let more = !state.waiters.is_empty();
        drop(state);
        wakers.wake_all();
        if !more {
            return;
        }
        state = shared.state.lock();
    }
}

impl<T> Sender<T> {
    /// Sends `value` to every receiver; returns how many there are. Fails, handing the value
    /// back, when there are none.
    pub fn send(&self, value: T) -> Result<usize, SendError<T>> {
        let mut state = self.shared.state.lock();
        if state.rx_count == 0 {
            return Err(SendError(value));
        }
        let idx = (state.tail % self.shared.capacity as u64) as usize;
        let old = state.ring[idx].replace(value);
        state.tail += 1;
        let receivers = state.rx_count;
        wake_all_waiters(state, &self.shared);
        // The overwritten value is dropped outside the lock.
        drop(old);
        Ok(receivers)
    }

    /// A receiver that gets every value sent from now on.
    pub fn subscribe(&self) -> Receiver<T> {
        let mut state = self.shared.state.lock();
        state.rx_count += 1;
        Receiver {
            shared: self.shared.clone(),
            next: state.tail,
        }
    }

    /// Receivers alive right now.
    pub fn receiver_count(&self) -> usize {
        self.shared.state.lock().rx_count
    }

    /// Values still held (at most the capacity).
    pub fn len(&self) -> usize {
        let state = self.shared.state.lock();
        state.tail.min(self.shared.capacity as u64) as usize
    }

    /// True before the first send.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.shared.state.lock().tx_count += 1;
        Self {
            shared: self.shared.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let mut state = self.shared.state.lock();
        state.tx_count -= 1;
        if state.tx_count == 0 {
            // Step 4.
            wake_all_waiters(state, &self.shared);
        }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("capacity", &self.shared.capacity)
            .finish()
    }
}

impl<T: Clone> Receiver<T> {
    /// Step 2 without the waiting.
    fn try_recv_locked(&mut self, state: &State<T>) -> Result<T, TryRecvError> {
        let cap = self.shared.capacity as u64;
        let oldest = state.tail.saturating_sub(cap);
        if self.next < oldest {
            let missed = oldest - self.next;
            self.next = oldest;
            return Err(TryRecvError::Lagged(missed));
        }
        if self.next < state.tail {
            let idx = (self.next % cap) as usize;
            self.next += 1;
            let value = state.ring[idx]
                .as_ref()
                .expect("a slot below tail holds a value");
            return Ok(value.clone());
        }
        if state.tx_count == 0 {
            Err(TryRecvError::Closed)
        } else {
            Err(TryRecvError::Empty)
        }
    }

    /// The next value without waiting.
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        let shared = self.shared.clone();
        let state = shared.state.lock();
        self.try_recv_locked(&state)
    }

    /// Waits for the next value. `Err(Lagged(n))` if `n` values were missed (the next call
    /// continues from the oldest value held); `Err(Closed)` once every sender is gone and
    /// everything was received.
    pub fn recv(&mut self) -> Recv<'_, T> {
        Recv {
            rx: self,
            node: Node::new(None),
            queued: false,
        }
    }

    /// A new receiver starting from now (it does not see values already sent).
    pub fn resubscribe(&self) -> Self {
        let mut state = self.shared.state.lock();
        state.rx_count += 1;
        Self {
            shared: self.shared.clone(),
            next: state.tail,
        }
    }

    /// Values this receiver has not read yet (including ones it will see as lag).
    pub fn len(&self) -> usize {
        (self.shared.state.lock().tail - self.next) as usize
    }

    /// True if there is nothing new to read.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        self.shared.state.lock().rx_count -= 1;
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("next", &self.next)
            .finish()
    }
}

/// The future of [`Receiver::recv`].
#[must_use = "futures do nothing unless polled"]
pub struct Recv<'a, T> {
    rx: &'a mut Receiver<T>,
    node: Node<Option<Waker>>,
    /// The node may be linked (we pushed it and have not seen it unlinked).
    queued: bool,
}

// SAFETY: the node (a waker) is only touched under the channel's lock; the receiver is
// `Send` when `T: Send`.
unsafe impl<T: Send> Send for Recv<'_, T> {}
// SAFETY: `&Recv` gives access to nothing.
unsafe impl<T: Send> Sync for Recv<'_, T> {}

impl<T: Clone> Future for Recv<'_, T> {
    type Output = Result<T, RecvError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: we never move out of `self`; the node stays put.
        let this = unsafe { self.get_unchecked_mut() };
        let node = NonNull::from(&this.node);
        let restore = ready!(coop::poll_proceed(cx));
        let shared = this.rx.shared.clone();
        let mut state = shared.state.lock();
        let res = match this.rx.try_recv_locked(&state) {
            Ok(v) => Ok(v),
            Err(TryRecvError::Lagged(n)) => Err(RecvError::Lagged(n)),
            Err(TryRecvError::Closed) => Err(RecvError::Closed),
            Err(TryRecvError::Empty) => {
                // SAFETY: our pinned node is live and only ever in this channel's list;
                // lock held.
                unsafe {
                    Node::with_value(node, |w| {
                        if !w.as_ref().is_some_and(|k| k.will_wake(cx.waker())) {
                            *w = Some(cx.waker().clone());
                        }
                    });
                    if !Node::is_linked(node) {
                        state.waiters.push_back(node);
                    }
                }
                this.queued = true;
                return Poll::Pending;
            }
        };
        if this.queued {
            // SAFETY: as above.
            unsafe { state.waiters.remove(node) };
            this.queued = false;
        }
        restore.made_progress();
        Poll::Ready(res)
    }
}

impl<T> Drop for Recv<'_, T> {
    fn drop(&mut self) {
        if self.queued {
            let node = NonNull::from(&self.node);
            let mut state = self.rx.shared.state.lock();
            // SAFETY: our node is live and only ever in this channel's list; lock held.
            unsafe { state.waiters.remove(node) };
        }
    }
}

impl<T> fmt::Debug for Recv<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Recv")
            .field("queued", &self.queued)
            .finish()
    }
}
