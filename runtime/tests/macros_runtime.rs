//! The macros inside a corio runtime: `select!` and `join!` over spawned tasks, woken by
//! the scheduler rather than polled by hand.

use std::future::pending;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use corio::runtime::Builder;

#[test]
fn select_wakes_when_a_spawned_task_finishes_and_cancels_the_loser() {
    let rt = Builder::new_current_thread().build().unwrap();
    let loser_dropped = Arc::new(AtomicBool::new(false));
    let out = rt.block_on(async {
        let handle = corio::spawn(async {
            for _ in 0..5 {
                corio::task::yield_now().await;
            }
            "task"
        });
        struct Flag(Arc<AtomicBool>);
        impl Drop for Flag {
            fn drop(&mut self) {
                self.0.store(true, Ordering::SeqCst);
            }
        }
        let flag = Flag(loser_dropped.clone());
        corio::select! {
            out = handle => out.unwrap(),
            () = async move {
                let _flag = flag;
                pending::<()>().await
            } => unreachable!(),
        }
    });
    assert_eq!(out, "task");
    assert!(loser_dropped.load(Ordering::SeqCst));
}

#[test]
fn join_and_try_join_over_spawned_tasks() {
    let rt = Builder::new_current_thread().build().unwrap();
    rt.block_on(async {
        let (a, b) = corio::join!(corio::spawn(async { 1 }), async {
            corio::task::yield_now().await;
            2
        });
        assert_eq!((a.unwrap(), b), (1, 2));

        let failed = corio::try_join!(
            corio::spawn(async { 1 }),
            corio::spawn(async { panic!("task failed") }),
        );
        let err = failed.expect_err("the panicking task's JoinError is the result");
        assert!(err.is_panic());
    });
}

#[test]
fn select_loop_over_tasks_in_a_multi_step_protocol() {
    let rt = Builder::new_current_thread().build().unwrap();
    let rounds = rt.block_on(async {
        let mut first = corio::spawn(async {
            corio::task::yield_now().await;
            10
        });
        let mut second = corio::spawn(async {
            for _ in 0..3 {
                corio::task::yield_now().await;
            }
            20
        });
        let (mut first_done, mut second_done) = (None, None);
        let mut rounds = 0;
        loop {
            rounds += 1;
            corio::select! {
                v = &mut first, if first_done.is_none() => first_done = Some(v.unwrap()),
                v = &mut second, if second_done.is_none() => second_done = Some(v.unwrap()),
                else => break,
            }
        }
        assert_eq!((first_done, second_done), (Some(10), Some(20)));
        rounds
    });
    // Two rounds that each finish one task, and the one that finds both disabled.
    assert_eq!(rounds, 3);
}
