//! A one-shot channel: one value, from one sender to one receiver.
//!
//! State, behind one lock: the value slot, a `complete` flag (the sender sent or dropped), a
//! `closed` flag (the receiver closed or dropped), and a waker per side.
//!
//! Protocol:
//! 1. `send`, under the lock: receiver closed: hand the value back. Else store it, set
//!    `complete`, take the receiver's waker; wake after unlocking.
//! 2. Sender dropped without sending: set `complete`, wake the receiver (it gets
//!    [`RecvError`]).
//! 3. Receiver poll, under the lock: a value: take it. `complete` without a value: error.
//!    Otherwise store the waker.
//! 4. Receiver close or drop: set `closed`, wake the sender's `closed()` waiter. Drop also
//!    takes a value that was already sent, and drops it outside the lock.
//!
//! Every state change and every check happens under the lock, so a send racing a drop ends
//! in exactly one of: the receiver gets the value, or `send` hands it back (or the value is
//! dropped together with the receiver that was gone after it arrived).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll, Waker};

use crate::coop;
use crate::loom::sync::{Arc, Mutex};

/// Errors of the one-shot channel.
pub mod error {
    use std::fmt;

    /// The sender was dropped without sending.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct RecvError(pub(crate) ());

    impl fmt::Display for RecvError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("channel closed")
        }
    }
    impl std::error::Error for RecvError {}

    /// Why [`Receiver::try_recv`](super::Receiver::try_recv) got no value.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum TryRecvError {
        /// Nothing sent yet.
        Empty,
        /// The sender is gone without sending, or the value was already taken.
        Closed,
    }

    impl fmt::Display for TryRecvError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self {
                TryRecvError::Empty => f.write_str("channel empty"),
                TryRecvError::Closed => f.write_str("channel closed"),
            }
        }
    }
    impl std::error::Error for TryRecvError {}
}

use error::{RecvError, TryRecvError};

struct Inner<T> {
    state: Mutex<State<T>>,
}

struct State<T> {
    value: Option<T>,
    complete: bool,
    closed: bool,
    /// The value was already handed to the receiver.
    taken: bool,
    rx_waker: Option<Waker>,
    tx_waker: Option<Waker>,
}

/// Creates a one-shot channel.
///
/// ```
/// use corio::sync::oneshot;
/// # futures_lite::future::block_on(async {
/// let (tx, rx) = oneshot::channel();
/// tx.send(7).unwrap();
/// assert_eq!(rx.await, Ok(7));
///
/// let (tx, rx) = oneshot::channel::<i32>();
/// drop(rx);
/// assert_eq!(tx.send(8), Err(8)); // handed back
/// # });
/// ```
pub fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let inner = Arc::new(Inner {
        state: Mutex::new(State {
            value: None,
            complete: false,
            closed: false,
            taken: false,
            rx_waker: None,
            tx_waker: None,
        }),
    });
    (
        Sender {
            inner: Some(inner.clone()),
        },
        Receiver { inner },
    )
}

/// Sends the channel's one value.
pub struct Sender<T> {
    /// `None` once the value was sent.
    inner: Option<Arc<Inner<T>>>,
}

/// Receives the channel's one value; `.await` it.
pub struct Receiver<T> {
    inner: Arc<Inner<T>>,
}

impl<T> Sender<T> {
    /// Sends `value`, or hands it back as `Err(value)` if the receiver is closed or dropped.
    pub fn send(mut self, value: T) -> Result<(), T> {
        let inner = self
            .inner
            .take()
            .expect("a Sender holds its channel until it sends");
        let waker = {
            let mut state = inner.state.lock();
            if state.closed {
                // Step 1: hand it back. Mark complete so the receiver's state is final.
                state.complete = true;
                return Err(value);
            }
            state.value = Some(value);
            state.complete = true;
            state.rx_waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
        Ok(())
    }

    /// True once the receiver is closed or dropped.
    pub fn is_closed(&self) -> bool {
        self.inner.as_ref().is_some_and(|i| i.state.lock().closed)
    }

    /// Polls for the receiver closing or dropping.
    pub fn poll_closed(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let restore = ready!(coop::poll_proceed(cx));
        let inner = self
            .inner
            .as_ref()
            .expect("a Sender holds its channel until it sends");
        let mut state = inner.state.lock();
        if state.closed {
            restore.made_progress();
            return Poll::Ready(());
        }
        if !state
            .tx_waker
            .as_ref()
            .is_some_and(|w| w.will_wake(cx.waker()))
        {
            state.tx_waker = Some(cx.waker().clone());
        }
        Poll::Pending
    }

    /// Waits until the receiver is closed or dropped.
    pub async fn closed(&mut self) {
        std::future::poll_fn(|cx| self.poll_closed(cx)).await
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let Some(inner) = self.inner.take() else {
            return;
        };
        // Step 2.
        let waker = {
            let mut state = inner.state.lock();
            state.complete = true;
            state.rx_waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("closed", &self.is_closed())
            .finish()
    }
}

impl<T> Receiver<T> {
    /// The value if it was sent already.
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        let mut state = self.inner.state.lock();
        if let Some(v) = state.value.take() {
            state.taken = true;
            return Ok(v);
        }
        if state.complete || state.taken {
            Err(TryRecvError::Closed)
        } else {
            Err(TryRecvError::Empty)
        }
    }

    /// Refuses the value from now on: a later `send` hands it back. A value sent before the
    /// close can still be received.
    pub fn close(&mut self) {
        let waker = {
            let mut state = self.inner.state.lock();
            state.closed = true;
            state.tx_waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// True once this receiver has handed out the value (awaiting it again would panic).
    pub fn is_terminated(&self) -> bool {
        self.inner.state.lock().taken
    }
}

impl<T> Future for Receiver<T> {
    type Output = Result<T, RecvError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let restore = ready!(coop::poll_proceed(cx));
        let mut state = self.inner.state.lock();
        if let Some(v) = state.value.take() {
            state.taken = true;
            restore.made_progress();
            return Poll::Ready(Ok(v));
        }
        if state.taken {
            panic!("oneshot::Receiver polled after it returned its value");
        }
        if state.complete {
            restore.made_progress();
            return Poll::Ready(Err(RecvError(())));
        }
        if !state
            .rx_waker
            .as_ref()
            .is_some_and(|w| w.will_wake(cx.waker()))
        {
            state.rx_waker = Some(cx.waker().clone());
        }
        Poll::Pending
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        // Step 4.
        let (waker, value) = {
            let mut state = self.inner.state.lock();
            state.closed = true;
            (state.tx_waker.take(), state.value.take())
        };
        drop(value);
        if let Some(w) = waker {
            w.wake();
        }
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.inner.state.lock();
        f.debug_struct("Receiver")
            .field("complete", &state.complete)
            .field("closed", &state.closed)
            .finish()
    }
}
