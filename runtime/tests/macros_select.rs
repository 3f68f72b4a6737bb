//! `corio::select!`: fairness, `biased;`, preconditions, pattern mismatch, `else`,
//! cancellation of the losers, and handlers that steer the caller's control flow.
//!
//! No runtime needed: the macro combines futures on whatever task awaits it, so these
//! tests drive it with `futures_lite::future::block_on` or poll it by hand.

use std::cell::Cell;
use std::future::{pending, poll_fn, ready, Future, IntoFuture};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use futures_lite::future::{block_on, yield_now};

/// Sets its flag when dropped, so a test can see when a branch's future is cancelled.
struct DropFlag {
    dropped: Rc<Cell<bool>>,
}

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.dropped.set(true);
    }
}

/// A future that is never ready and reports its drop.
fn pending_with_flag(dropped: &Rc<Cell<bool>>) -> impl Future<Output = ()> {
    let flag = DropFlag {
        dropped: dropped.clone(),
    };
    poll_fn(move |_| {
        let _keep = &flag;
        Poll::Pending
    })
}

/// Ready with `value` after returning `Pending` (and waking itself) `pendings` times;
/// counts its polls.
fn ready_after<T: Unpin>(
    pendings: u32,
    value: T,
    polls: &Rc<Cell<u32>>,
) -> impl Future<Output = T> + Unpin {
    let polls = polls.clone();
    let mut value = Some(value);
    poll_fn(move |cx| {
        polls.set(polls.get() + 1);
        if polls.get() > pendings {
            Poll::Ready(value.take().expect("polled after completion"))
        } else {
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    })
}

#[test]
fn unbiased_ready_branches_each_win_a_fair_share() {
    const RUNS: u32 = 10_000;
    let mut wins = [0u32; 3];
    block_on(async {
        for _ in 0..RUNS {
            let winner = corio::select! {
                v = ready(0) => v,
                v = ready(1) => v,
                v = ready(2) => v,
            };
            wins[winner] += 1;
        }
    });
    // Expected 1/3 each (3,333 with a standard deviation of 47): 25%..42% is a wide, honest
    // band that a fixed or skewed start would miss by far.
    for (branch, &count) in wins.iter().enumerate() {
        assert!(
            (RUNS * 25 / 100..=RUNS * 42 / 100).contains(&count),
            "branch {branch} won {count} of {RUNS} runs: {wins:?}"
        );
    }
}

#[test]
fn biased_polls_in_written_order() {
    block_on(async {
        for _ in 0..1_000 {
            let winner = corio::select! {
                biased;
                v = ready(0) => v,
                v = ready(1) => v,
                v = ready(2) => v,
            };
            assert_eq!(winner, 0);
        }
        // The first branch that is ready wins, even when earlier branches are pending.
        for _ in 0..1_000 {
            let winner = corio::select! {
                biased;
                () = pending() => 0,
                v = ready(1) => v,
                v = ready(2) => v,
            };
            assert_eq!(winner, 1);
        }
    });
}

#[test]
fn false_precondition_disables_branch_but_still_evaluates_its_future() {
    let evaluated = Cell::new(0);
    let polls = Rc::new(Cell::new(0));
    let make = |value| {
        evaluated.set(evaluated.get() + 1);
        ready_after(0, value, &polls)
    };
    block_on(async {
        for _ in 0..200 {
            let winner = corio::select! {
                v = make("disabled"), if false => v,
                v = ready("enabled"), if 1 + 1 == 2 => v,
            };
            assert_eq!(winner, "enabled");
        }
    });
    assert_eq!(
        evaluated.get(),
        200,
        "a disabled branch's future expression is still evaluated"
    );
    assert_eq!(polls.get(), 0, "a disabled branch's future is never polled");
}

#[test]
fn pattern_mismatch_disables_branch_and_select_goes_on() {
    let mismatch_polls = Rc::new(Cell::new(0));
    let other_polls = Rc::new(Cell::new(0));
    let winner = block_on(async {
        corio::select! {
            biased;
            Some(v) = ready_after(0, None::<&str>, &mismatch_polls) => v,
            v = ready_after(3, "second", &other_polls) => v,
        }
    });
    assert_eq!(winner, "second");
    assert_eq!(
        mismatch_polls.get(),
        1,
        "a completed branch is not polled again"
    );
    assert_eq!(other_polls.get(), 4);
}

#[test]
fn else_runs_when_every_branch_is_disabled() {
    block_on(async {
        let by_precondition = corio::select! {
            v = ready(1), if false => v,
            v = ready(2), if false => v,
            else => 0,
        };
        assert_eq!(by_precondition, 0);

        let by_mismatch = corio::select! {
            Some(v) = ready(None::<i32>) => v,
            Ok(v) = ready(Err::<i32, ()>(())) => v,
            else => -1,
        };
        assert_eq!(by_mismatch, -1);

        // `else` is not taken while a branch can still win.
        let late = corio::select! {
            Some(v) = ready(None::<i32>) => v,
            v = async { yield_now().await; 5 } => v,
            else => -1,
        };
        assert_eq!(late, 5);

        let only_else = corio::select! { else => "only" };
        assert_eq!(only_else, "only");
    });
}

#[test]
#[should_panic(expected = "there is no `else` branch; add `else => ...`")]
fn every_branch_disabled_without_else_panics_naming_the_fix() {
    block_on(async {
        corio::select! {
            Some(v) = ready(None::<i32>) => v,
            v = ready(2), if false => v,
        }
    });
}

#[test]
fn loser_is_dropped_before_the_winners_handler_runs() {
    let loser_dropped = Rc::new(Cell::new(false));
    block_on(async {
        corio::select! {
            () = pending_with_flag(&loser_dropped) => unreachable!(),
            () = async { yield_now().await } => {
                assert!(loser_dropped.get(), "the losing future must be dropped before the handler");
            }
        }
    });
    assert!(loser_dropped.get());
}

#[test]
fn borrowed_futures_survive_across_loop_iterations() {
    let long_polls = Rc::new(Cell::new(0));
    // Created once, polled by reference in every round until it completes.
    let mut long = ready_after(5, "long", &long_polls);
    let mut ticks = 0;
    let result = block_on(async {
        loop {
            corio::select! {
                biased;
                v = &mut long => break v,
                () = ready(()) => ticks += 1,
            }
        }
    });
    assert_eq!(result, "long");
    assert_eq!(
        long_polls.get(),
        6,
        "one poll per round: 5 pending, then ready"
    );
    assert_eq!(ticks, 5);
}

#[test]
fn pinned_borrowed_future_in_loop() {
    // An `async` block is not `Unpin`: pin it once, select on `&mut` it each round.
    let fut = async {
        for _ in 0..3 {
            yield_now().await;
        }
        42
    };
    corio::pin!(fut);
    let mut rounds = 0;
    let v = block_on(async {
        loop {
            rounds += 1;
            corio::select! {
                v = &mut fut => break v,
                () = yield_now() => {}
            }
        }
    });
    assert_eq!(v, 42);
    assert!(rounds >= 2, "the yield branch must have won at least once");
}

#[test]
fn handlers_drive_the_callers_control_flow() {
    async fn first_even(values: &[i32]) -> Result<i32, String> {
        let mut seen = 0;
        for &v in values {
            corio::select! {
                x = ready(v), if x_is_ok(v) => {
                    if x % 2 != 0 {
                        seen += 1;
                        continue;
                    }
                    return Ok(x);
                }
                else => Err(format!("negative value {v}"))?,
            }
        }
        Err(format!("no even value among {seen}"))
    }
    fn x_is_ok(v: i32) -> bool {
        v >= 0
    }
    block_on(async {
        assert_eq!(first_even(&[1, 3, 4, 5]).await, Ok(4));
        assert_eq!(
            first_even(&[1, -2, 4]).await,
            Err("negative value -2".to_string())
        );
        assert_eq!(
            first_even(&[1, 3]).await,
            Err("no even value among 2".to_string())
        );
    });
}

#[test]
fn patterns_with_mut_ref_and_alternatives() {
    block_on(async {
        let v = corio::select! {
            Some(mut v) = ready(Some(vec![1])) => {
                v.push(2);
                v
            }
        };
        assert_eq!(v, vec![1, 2]);

        let s = corio::select! {
            (ref a, b) = ready((String::from("x"), 1)) => format!("{a}{b}"),
        };
        assert_eq!(s, "x1");

        let kind = corio::select! {
            1 | 2 = ready(3) => "small",
            n @ 3..=9 = ready(3) => if n == 3 { "three" } else { "digit" },
            else => "none",
        };
        assert_eq!(kind, "three");

        let nested = corio::select! {
            Ok(Some(x)) = ready(Ok::<_, ()>(Some(7))) => x,
        };
        assert_eq!(nested, 7);
    });
}

#[test]
fn into_future_values_are_accepted() {
    struct Seven;
    impl IntoFuture for Seven {
        type Output = i32;
        type IntoFuture = std::future::Ready<i32>;
        fn into_future(self) -> Self::IntoFuture {
            ready(7)
        }
    }
    let v = block_on(async {
        corio::select! {
            v = Seven => v,
        }
    });
    assert_eq!(v, 7);
}

/// 64 branches, the maximum: only branch 63 (the last mask bit) is ever ready.
macro_rules! select_64 {
    ($ready:expr, $enabled:expr; $($i:literal)*) => {
        corio::select! {
            $( v = poll_fn(|_| if $i == $ready { Poll::Ready($i) } else { Poll::Pending }),
                if $i != 63 || $enabled => v, )*
            else => -1,
        }
    };
}

#[test]
fn sixty_four_branches_use_every_mask_bit() {
    block_on(async {
        let winner = select_64!(63, true;
            0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31
            32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57 58 59
            60 61 62 63);
        assert_eq!(winner, 63);
    });
    // With branch 63 disabled by its precondition the others stay pending forever.
    let mut fut = Box::pin(async {
        select_64!(63, false;
            0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31
            32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57 58 59
            60 61 62 63)
    });
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..10 {
        assert!(fut.as_mut().poll(&mut cx).is_pending());
    }
}

#[test]
fn select_waits_for_a_wake_then_completes() {
    // Polled by hand: Pending until the inner future is woken and ready.
    let ready_now = Rc::new(Cell::new(false));
    let flag = ready_now.clone();
    let mut fut = Box::pin(async move {
        corio::select! {
            () = poll_fn(|_| if flag.get() { Poll::Ready(()) } else { Poll::Pending }) => "woken",
            () = pending() => "never",
        }
    });
    let mut cx = Context::from_waker(Waker::noop());
    assert!(fut.as_mut().poll(&mut cx).is_pending());
    assert!(fut.as_mut().poll(&mut cx).is_pending());
    ready_now.set(true);
    assert_eq!(fut.as_mut().poll(&mut cx), Poll::Ready("woken"));
}

#[test]
fn select_is_usable_through_a_pinned_box_future() {
    // The expansion holds borrows across `.await`: make sure the whole thing is a normal
    // (Send, when its parts are) future that can be boxed and moved before polling.
    fn assert_send<T: Send>(_: &T) {}
    let fut = async {
        corio::select! {
            v = ready(1u8) => v,
            v = async { 2u8 } => v,
        }
    };
    assert_send(&fut);
    let boxed: Pin<Box<dyn Future<Output = u8> + Send>> = Box::pin(fut);
    assert!(matches!(block_on(boxed), 1 | 2));
}

#[test]
fn preconditions_are_evaluated_before_any_future_expression() {
    let log = std::cell::RefCell::new(Vec::new());
    let cond = |name: &'static str| {
        log.borrow_mut().push(name);
        true
    };
    let fut = |name: &'static str| {
        log.borrow_mut().push(name);
        ready(name)
    };
    block_on(async {
        corio::select! {
            biased;
            v = fut("future 0"), if cond("condition 0") => v,
            v = fut("future 1"), if cond("condition 1") => v,
        }
    });
    assert_eq!(
        *log.borrow(),
        ["condition 0", "condition 1", "future 0", "future 1"]
    );
}

#[test]
fn handler_may_use_what_the_futures_borrowed() {
    // The futures are gone when the handler runs, so their borrows are too.
    let mut values = vec![1];
    block_on(async {
        corio::select! {
            len = async {
                values.push(2);
                values.len()
            } => values.push(len as i32 + 1),
            () = pending() => {}
        }
    });
    assert_eq!(values, [1, 2, 3]);
}
