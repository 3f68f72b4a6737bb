//! `#[corio::main]` and `#[corio::test]`: the trybuild suite (every compile error and every
//! accepted form) and `#[corio::test]` used for real.
//!
//! Tests with `crate = "crate::fake_corio"` expand against a stand-in runtime that records
//! the builder calls, so they check the exact expansion; the others run on corio itself.

#[path = "../ui/support/fake_corio.rs"]
mod fake_corio;

use fake_corio::runtime::take_calls;

/// Compile errors (`ui/fail`, each with its expected `.stderr`) and accepted forms
/// (`ui/pass`, compiled and run). Regenerate the `.stderr` files with `TRYBUILD=overwrite`
/// and read the diff.
#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("ui/fail/*.rs");
    t.pass("ui/pass/*.rs");
}

#[corio::test(crate = "crate::fake_corio")]
async fn test_defaults_to_current_thread() {
    assert_eq!(take_calls(), ["new_current_thread", "build", "block_on"]);
}

#[corio::test(crate = "crate::fake_corio", flavor = "current_thread")]
async fn explicit_current_thread() {
    assert_eq!(take_calls(), ["new_current_thread", "build", "block_on"]);
}

#[corio::test(crate = "crate::fake_corio", start_paused = true)]
async fn start_paused_reaches_the_builder() {
    assert_eq!(
        take_calls(),
        [
            "new_current_thread",
            "start_paused(true)",
            "build",
            "block_on"
        ]
    );
}

#[corio::test(
    crate = "crate::fake_corio",
    flavor = "current_thread",
    start_paused = false
)]
async fn start_paused_false_is_passed_through() {
    assert_eq!(
        take_calls(),
        [
            "new_current_thread",
            "start_paused(false)",
            "build",
            "block_on"
        ]
    );
}

#[corio::test(crate = "crate::fake_corio", flavor = "multi_thread")]
async fn multi_thread_default_workers() {
    assert_eq!(take_calls(), ["new_multi_thread", "build", "block_on"]);
}

#[corio::test(
    crate = "crate::fake_corio",
    flavor = "multi_thread",
    worker_threads = 2
)]
async fn multi_thread_two_workers() {
    assert_eq!(
        take_calls(),
        ["new_multi_thread", "worker_threads(2)", "build", "block_on"]
    );
}

/// The user's attributes are kept: `#[should_panic]` sees the body's panic.
#[corio::test(crate = "crate::fake_corio")]
#[should_panic(expected = "boom from the body")]
async fn should_panic_sees_the_body_panic() {
    take_calls();
    let boom = async { panic!("boom from the body") };
    boom.await
}

#[corio::test(crate = "crate::fake_corio")]
async fn returns_result() -> Result<(), std::num::ParseIntError> {
    assert_eq!(take_calls(), ["new_current_thread", "build", "block_on"]);
    let n: u32 = "42".parse()?;
    assert_eq!(n, 42);
    Ok(())
}

#[corio::test(crate = "crate::fake_corio")]
async fn awaits_inside_the_body() {
    take_calls();
    let (tx, rx) = std::sync::mpsc::channel();
    // A future that is pending once and woken from another thread: the body really is polled
    // to completion by `block_on`, not just started.
    let mut woken = false;
    std::future::poll_fn(|cx| {
        if woken {
            return std::task::Poll::Ready(());
        }
        woken = true;
        let waker = cx.waker().clone();
        let tx = tx.clone();
        std::thread::spawn(move || {
            tx.send(()).unwrap();
            waker.wake();
        });
        std::task::Poll::Pending
    })
    .await;
    rx.recv().unwrap();
}
