//! `corio::join!`, `corio::try_join!` and `corio::pin!`: output order, fair (rotating) poll
//! order, short-circuit on the first error, and both forms of `pin!`.
//!
//! No runtime needed: the futures are driven with `futures_lite::future::block_on` or
//! polled by hand with a no-op waker.

use std::cell::{Cell, RefCell};
use std::future::{pending, poll_fn, ready, Future};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use futures_lite::future::{block_on, yield_now};

/// Ready with `value` after returning `Pending` (and waking itself) `pendings` times.
async fn after_yields<T>(pendings: u32, value: T) -> T {
    for _ in 0..pendings {
        yield_now().await;
    }
    value
}

/// Never ready; records its id in `log` on every poll.
fn logging_pending(id: usize, log: &Rc<RefCell<Vec<usize>>>) -> impl Future<Output = ()> {
    let log = log.clone();
    poll_fn(move |_| {
        log.borrow_mut().push(id);
        Poll::Pending
    })
}

/// Sets its flag when dropped.
struct DropFlag(Rc<Cell<bool>>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.set(true);
    }
}

#[test]
fn join_returns_outputs_in_written_order_whatever_the_completion_order() {
    let (a, b, c, d) = block_on(async {
        corio::join!(
            after_yields(3, "slowest"),
            after_yields(0, 1u8),
            after_yields(2, vec![2]),
            async { 'd' },
        )
    });
    assert_eq!((a, b, c, d), ("slowest", 1, vec![2], 'd'));
}

#[test]
fn join_of_nothing_and_of_one() {
    block_on(async {
        let () = corio::join!();
        let (only,) = corio::join!(ready(5));
        assert_eq!(only, 5);
    });
}

#[test]
fn join_rotates_which_future_is_polled_first() {
    let log = Rc::new(RefCell::new(Vec::new()));
    let mut fut = Box::pin(async {
        corio::join!(
            logging_pending(0, &log),
            logging_pending(1, &log),
            logging_pending(2, &log)
        )
    });
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..3 {
        assert!(fut.as_mut().poll(&mut cx).is_pending());
    }
    // Every poll visits all three once, each poll starting one further along.
    assert_eq!(*log.borrow(), [0, 1, 2, 1, 2, 0, 2, 0, 1]);
}

#[test]
fn biased_join_always_starts_with_the_first_future() {
    let log = Rc::new(RefCell::new(Vec::new()));
    let mut fut = Box::pin(async {
        corio::join!(biased; logging_pending(0, &log), logging_pending(1, &log))
    });
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..3 {
        assert!(fut.as_mut().poll(&mut cx).is_pending());
    }
    assert_eq!(*log.borrow(), [0, 1, 0, 1, 0, 1]);
}

#[test]
fn finished_futures_are_not_polled_again_and_are_dropped_at_once() {
    let polls = Rc::new(Cell::new(0));
    let dropped = Rc::new(Cell::new(false));
    let counted = {
        let polls = polls.clone();
        let flag = DropFlag(dropped.clone());
        poll_fn(move |_| {
            let _keep = &flag;
            polls.set(polls.get() + 1);
            Poll::Ready("quick")
        })
    };
    let dropped_seen_by_slow = dropped.clone();
    let (quick, slow) = block_on(async {
        corio::join!(counted, async move {
            after_yields(4, ()).await;
            dropped_seen_by_slow.get()
        })
    });
    assert_eq!(quick, "quick");
    assert_eq!(polls.get(), 1);
    assert!(
        slow,
        "a finished future is dropped when it completes, not when join! returns"
    );
}

#[test]
fn many_futures_join() {
    let outputs = block_on(async {
        corio::join!(
            after_yields(9, 0),
            after_yields(8, 1),
            after_yields(7, 2),
            after_yields(6, 3),
            after_yields(5, 4),
            after_yields(4, 5),
            after_yields(3, 6),
            after_yields(2, 7),
            after_yields(1, 8),
            after_yields(0, 9),
            ready(10),
            ready(11),
        )
    });
    assert_eq!(outputs, (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11));
}

#[test]
fn try_join_collects_every_ok_value_in_order() {
    let result: Result<_, String> = block_on(async {
        corio::try_join!(
            async {
                after_yields(2, ()).await;
                Ok(1)
            },
            ready(Ok("two")),
            async { Ok(vec![3]) },
        )
    });
    assert_eq!(result, Ok((1, "two", vec![3])));
}

#[test]
fn try_join_returns_the_first_error_at_once_and_drops_the_rest() {
    let never_dropped = Rc::new(Cell::new(false));
    let slow_dropped = Rc::new(Cell::new(false));
    let never = {
        let flag = DropFlag(never_dropped.clone());
        async move {
            let _keep = flag;
            pending::<Result<i32, String>>().await
        }
    };
    let slow = {
        let flag = DropFlag(slow_dropped.clone());
        async move {
            let _keep = flag;
            after_yields(10, ()).await;
            Err::<(), String>("too late".into())
        }
    };
    let result = block_on(async {
        corio::try_join!(never, slow, async {
            after_yields(2, ()).await;
            Err::<u8, String>("first".into())
        })
    });
    assert_eq!(result, Err("first".to_string()));
    assert!(
        never_dropped.get() && slow_dropped.get(),
        "the other futures are dropped"
    );
}

#[test]
fn try_join_error_from_an_already_ready_future() {
    let result = block_on(async {
        corio::try_join!(biased; ready(Ok::<_, i32>(1)), ready(Err::<(), i32>(-1)), pending::<Result<u8, i32>>())
    });
    assert_eq!(result, Err(-1));
}

#[test]
fn pin_existing_variables() {
    block_on(async {
        let a = after_yields(1, 'a');
        let b = async { 'b' };
        corio::pin!(a, b);
        // Pinned by reference: polled through `&mut`, the futures stay in place.
        let a_ref: &mut Pin<&mut _> = &mut a;
        assert_eq!(a_ref.await, 'a');
        assert_eq!((&mut b).await, 'b');
    });
}

#[test]
fn pin_let_form_declares_and_pins() {
    block_on(async {
        corio::pin! {
            let first = after_yields(2, 1);
            let second = async { 2 };
        }
        let mut total = 0;
        loop {
            corio::select! {
                v = &mut first, if total & 1 == 0 => total += v,
                v = &mut second, if total & 2 == 0 => total += v,
                else => break,
            }
        }
        assert_eq!(total, 3);
    });
}
