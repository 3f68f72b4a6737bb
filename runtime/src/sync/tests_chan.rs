//! Unit tests of the channels: closure on both sides, backpressure, lag.

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use futures_lite::future::block_on;

use super::*;

#[derive(Default)]
struct Counter(AtomicUsize);

impl Wake for Counter {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn counter() -> (Arc<Counter>, Waker) {
    let c = Arc::new(Counter::default());
    (c.clone(), Waker::from(c))
}

fn cx(w: &Waker) -> Context<'_> {
    Context::from_waker(w)
}

#[test]
fn bounded_mpsc_applies_backpressure_in_fifo_order() {
    let (tx, mut rx) = mpsc::channel(2);
    tx.try_send(1).unwrap();
    tx.try_send(2).unwrap();
    assert!(matches!(
        tx.try_send(3),
        Err(mpsc::error::TrySendError::Full(3))
    ));
    assert_eq!(tx.capacity(), 0);
    let (c, w) = counter();
    let mut s3 = pin!(tx.send(3));
    let mut s4 = pin!(tx.send(4));
    assert!(s3.as_mut().poll(&mut cx(&w)).is_pending());
    assert!(s4.as_mut().poll(&mut cx(&w)).is_pending());
    assert_eq!(rx.try_recv(), Ok(1));
    assert_eq!(
        c.0.load(Ordering::SeqCst),
        1,
        "exactly one sender gets the freed slot"
    );
    assert!(
        s4.as_mut().poll(&mut cx(&w)).is_pending(),
        "s4 may not overtake s3"
    );
    assert!(s3.as_mut().poll(&mut cx(&w)).is_ready());
    assert_eq!(rx.try_recv(), Ok(2));
    assert!(s4.as_mut().poll(&mut cx(&w)).is_ready());
    let mut buf = Vec::new();
    assert_eq!(block_on(rx.recv_many(&mut buf, 10)), 2);
    assert_eq!(buf, [3, 4]);
    assert_eq!(tx.max_capacity(), 2);
}

#[test]
fn mpsc_receiver_sees_closure_after_every_message() {
    let (tx, mut rx) = mpsc::channel(8);
    let tx2 = tx.clone();
    block_on(tx.send(1)).unwrap();
    tx2.try_send(2).unwrap();
    drop(tx);
    assert!(!rx.is_closed());
    drop(tx2);
    assert!(rx.is_closed());
    assert_eq!(block_on(rx.recv()), Some(1));
    assert_eq!(block_on(rx.recv()), Some(2));
    assert_eq!(block_on(rx.recv()), None);
    assert_eq!(rx.try_recv(), Err(mpsc::error::TryRecvError::Disconnected));
}

#[test]
fn mpsc_senders_see_receiver_drop_and_get_values_back() {
    let (tx, rx) = mpsc::channel::<String>(1);
    tx.try_send("queued".into()).unwrap();
    let (c, w) = counter();
    let mut waiting = pin!(tx.send("waiting".into()));
    assert!(waiting.as_mut().poll(&mut cx(&w)).is_pending());
    let mut closed = pin!(tx.closed());
    assert!(closed.as_mut().poll(&mut cx(&w)).is_pending());
    drop(rx);
    assert_eq!(c.0.load(Ordering::SeqCst), 2);
    match waiting.as_mut().poll(&mut cx(&w)) {
        Poll::Ready(Err(mpsc::error::SendError(v))) => assert_eq!(v, "waiting"),
        other => panic!("expected the value back, got {other:?}"),
    }
    assert!(closed.as_mut().poll(&mut cx(&w)).is_ready());
    assert!(tx.is_closed());
    assert!(matches!(
        tx.try_send("x".into()),
        Err(mpsc::error::TrySendError::Closed(_))
    ));
    assert!(block_on(tx.reserve()).is_err());

    let (utx, urx) = mpsc::unbounded_channel::<u8>();
    drop(urx);
    assert_eq!(utx.send(5), Err(mpsc::error::SendError(5)));
    block_on(utx.closed());
}

#[test]
fn mpsc_close_keeps_queued_messages_and_reserved_permits() {
    let (tx, mut rx) = mpsc::channel(4);
    tx.try_send(1).unwrap();
    let permit = tx.try_reserve().unwrap();
    rx.close();
    assert!(tx.try_send(9).is_err());
    permit.send(2);
    assert_eq!(rx.try_recv(), Ok(1));
    assert_eq!(rx.try_recv(), Ok(2));
    assert_eq!(
        block_on(rx.recv()),
        None,
        "closed and drained, with the sender still alive"
    );

    // A receiver waiting for an outstanding permit learns when it is dropped unsent.
    let (tx, mut rx) = mpsc::channel::<u8>(1);
    let permit = tx.try_reserve().unwrap();
    rx.close();
    let (c, w) = counter();
    assert!(rx.poll_recv(&mut cx(&w)).is_pending());
    drop(permit);
    assert_eq!(c.0.load(Ordering::SeqCst), 1);
    assert_eq!(rx.poll_recv(&mut cx(&w)), Poll::Ready(None));
}

#[test]
fn mpsc_every_message_sent_from_threads_is_received() {
    let (tx, mut rx) = mpsc::channel(4);
    let threads: Vec<_> = (0..4u64)
        .map(|t| {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for i in 0..500 {
                    block_on(tx.send(t * 1000 + i)).unwrap();
                }
            })
        })
        .collect();
    drop(tx);
    let mut seen = Vec::new();
    while let Some(v) = block_on(rx.recv()) {
        seen.push(v);
    }
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(seen.len(), 2000);
    // Per-sender order is kept.
    for t in 0..4 {
        let mine: Vec<_> = seen.iter().filter(|v| **v / 1000 == t).copied().collect();
        assert_eq!(mine, (0..500).map(|i| t * 1000 + i).collect::<Vec<_>>());
    }
}

#[test]
fn oneshot_send_recv_and_closure_both_ways() {
    let (tx, rx) = oneshot::channel();
    tx.send(1).unwrap();
    assert_eq!(block_on(rx), Ok(1));

    let (tx, rx) = oneshot::channel::<u8>();
    drop(tx);
    assert_eq!(block_on(rx), Err(oneshot::error::RecvError(())));

    let (mut tx, rx) = oneshot::channel::<u8>();
    let (c, w) = counter();
    {
        let mut closed = pin!(tx.closed());
        assert!(closed.as_mut().poll(&mut cx(&w)).is_pending());
        drop(rx);
        assert_eq!(c.0.load(Ordering::SeqCst), 1);
        assert!(closed.as_mut().poll(&mut cx(&w)).is_ready());
    }
    assert!(tx.is_closed());
    assert_eq!(tx.send(3), Err(3));

    let (tx, mut rx) = oneshot::channel::<u8>();
    assert_eq!(rx.try_recv(), Err(oneshot::error::TryRecvError::Empty));
    tx.send(4).unwrap();
    rx.close();
    assert_eq!(
        rx.try_recv(),
        Ok(4),
        "a value sent before close stays receivable"
    );
    assert_eq!(rx.try_recv(), Err(oneshot::error::TryRecvError::Closed));

    let (tx, mut rx) = oneshot::channel::<u8>();
    rx.close();
    assert_eq!(tx.send(5), Err(5));
}

#[test]
fn watch_changed_borrow_and_closure() {
    let (tx, mut rx) = watch::channel(0);
    assert!(!rx.has_changed().unwrap());
    let (c, w) = counter();
    {
        let mut changed = pin!(rx.changed());
        assert!(changed.as_mut().poll(&mut cx(&w)).is_pending());
        tx.send(1).unwrap();
        assert_eq!(c.0.load(Ordering::SeqCst), 1);
        assert!(matches!(
            changed.as_mut().poll(&mut cx(&w)),
            Poll::Ready(Ok(()))
        ));
    }
    assert_eq!(*rx.borrow(), 1);
    assert!(!rx.borrow().has_changed());
    tx.send_modify(|v| *v += 1);
    tx.send_modify(|v| *v += 1);
    let mut rx2 = tx.subscribe();
    assert!(rx.borrow().has_changed());
    assert_eq!(*rx.borrow_and_update(), 3);
    assert!(!rx.has_changed().unwrap());
    assert!(!rx2.has_changed().unwrap());
    assert!(!tx.send_if_modified(|_| false));
    assert_eq!(tx.receiver_count(), 2);
    tx.send(4).unwrap();
    drop(tx);
    // An unseen value is still reported before the closure.
    assert!(block_on(rx.changed()).is_ok());
    assert!(block_on(rx.changed()).is_err());
    assert!(rx2.has_changed().is_err());
    assert_eq!(*rx2.borrow_and_update(), 4);

    let (tx, rx) = watch::channel(0);
    drop(rx);
    assert_eq!(tx.send(1), Err(watch::error::SendError(1)));
    block_on(tx.closed());
    assert_eq!(tx.send_replace(2), 0);
}

#[test]
fn broadcast_reports_lag_and_closure() {
    let (tx, mut rx1) = broadcast::channel(2);
    let mut rx2 = tx.subscribe();
    assert_eq!(tx.send(1).unwrap(), 2);
    assert_eq!(block_on(rx2.recv()), Ok(1));
    for i in 2..=5 {
        tx.send(i).unwrap();
    }
    // rx1 missed 1, 2, 3 (capacity 2 holds 4 and 5).
    assert_eq!(
        block_on(rx1.recv()),
        Err(broadcast::error::RecvError::Lagged(3))
    );
    assert_eq!(block_on(rx1.recv()), Ok(4));
    assert_eq!(
        rx2.try_recv(),
        Err(broadcast::error::TryRecvError::Lagged(2))
    );
    assert_eq!(rx2.try_recv(), Ok(4));
    let (c, w) = counter();
    {
        let mut r = pin!(rx1.recv());
        assert_eq!(r.as_mut().poll(&mut cx(&w)), Poll::Ready(Ok(5)));
    }
    {
        let mut r = pin!(rx1.recv());
        assert!(r.as_mut().poll(&mut cx(&w)).is_pending());
        tx.send(6).unwrap();
        assert_eq!(c.0.load(Ordering::SeqCst), 1);
        assert_eq!(r.as_mut().poll(&mut cx(&w)), Poll::Ready(Ok(6)));
    }
    drop(tx);
    assert_eq!(
        block_on(rx1.recv()),
        Err(broadcast::error::RecvError::Closed)
    );
    assert_eq!(rx2.try_recv(), Ok(5));
    assert_eq!(rx2.try_recv(), Ok(6));
    assert_eq!(rx2.try_recv(), Err(broadcast::error::TryRecvError::Closed));

    let (tx, rx) = broadcast::channel::<u8>(1);
    drop(rx);
    assert_eq!(tx.send(1), Err(broadcast::error::SendError(1)));
}

#[test]
fn broadcast_every_receiver_gets_every_value_across_threads() {
    let (tx, _) = broadcast::channel::<u32>(1024);
    let receivers: Vec<_> = (0..3)
        .map(|_| {
            let mut rx = tx.subscribe();
            std::thread::spawn(move || {
                let mut sum = 0u64;
                loop {
                    match block_on(rx.recv()) {
                        Ok(v) => sum += v as u64,
                        Err(broadcast::error::RecvError::Closed) => return sum,
                        Err(e) => panic!("unexpected {e}"),
                    }
                }
            })
        })
        .collect();
    for i in 0..1000 {
        tx.send(i).unwrap();
    }
    drop(tx);
    for r in receivers {
        assert_eq!(r.join().unwrap(), (0..1000u64).sum());
    }
}
