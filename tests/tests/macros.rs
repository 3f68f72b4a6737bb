//! `#[corio::main]` and `#[corio::test]`: the trybuild suite (every compile error and every
//! accepted form) and `#[corio::test]` used for real.
//!
//! Tests with `crate = "crate::fake_corio"` expand against a stand-in runtime that records
//! the builder calls, so they check the exact expansion; the others run on corio itself.

// The expansion must not cause warnings in the user's crate (e.g. after a body that ends in
// `panic!`).
#![deny(unreachable_code, unused)]

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

// On corio's own runtime.

#[corio::test]
async fn real_current_thread_runs_tasks_on_the_test_thread() {
    let test_thread = std::thread::current().id();
    let task_thread = corio::spawn(async { std::thread::current().id() })
        .await
        .unwrap();
    assert_eq!(task_thread, test_thread);
}

#[corio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_multi_thread_runs_spawned_tasks() {
    let tasks: Vec<_> = (0..16u64)
        .map(|i| corio::spawn(async move { i * i }))
        .collect();
    let mut sum = 0;
    for task in tasks {
        sum += task.await.unwrap();
    }
    assert_eq!(sum, (0..16u64).map(|i| i * i).sum::<u64>());
}

#[corio::test(flavor = "multi_thread")]
#[should_panic(expected = "panics on the runtime")]
async fn real_should_panic() {
    corio::task::yield_now().await;
    panic!("panics on the runtime");
}

#[corio::test]
async fn real_returns_result() -> Result<(), std::num::ParseIntError> {
    let n: u64 = corio::spawn(async { "7".parse::<u64>() }).await.unwrap()?;
    assert_eq!(n, 7);
    Ok(())
}

/// Runs `examples/examples/hello_main.rs` (a `#[corio::main] async fn main() ->
/// io::Result<()>`) through `cargo run` in the same workspace, so it shares this build's target
/// directory and flags, and checks its output and exit status both ways.
#[test]
fn hello_main_example_runs() {
    let run = |extra: &[&str]| {
        let mut cmd = std::process::Command::new(env!("CARGO"));
        cmd.current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
            .args([
                "run",
                "--quiet",
                "-p",
                "examples",
                "--example",
                "hello_main",
            ]);
        if !cfg!(debug_assertions) {
            cmd.arg("--release");
        }
        let out = cmd.arg("--").args(extra).output().expect("cargo runs");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        (out.status, stdout, stderr)
    };

    let (status, stdout, stderr) = run(&[]);
    assert!(status.success(), "hello_main failed: {status}\n{stderr}");
    assert_eq!(stdout, "hello from corio\n6 * 7 = 42\n", "stderr: {stderr}");

    // `main` returning `Err` exits with code 1 and prints the error, like any Rust `main`.
    let (status, stdout, stderr) = run(&["--fail"]);
    assert_eq!(status.code(), Some(1), "stderr: {stderr}");
    assert_eq!(stdout, "hello from corio\n6 * 7 = 42\n");
    assert!(stderr.contains("asked to fail"), "stderr: {stderr}");
}
