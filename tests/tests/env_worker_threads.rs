//! `CORIO_WORKER_THREADS` sets the default worker count of multi-thread runtimes.
//!
//! Environment variables are process-wide and the test harness runs tests on several
//! threads, so each case re-runs this test binary as a child process with the variable set
//! and the `child_reports_worker_count` test selected; the child prints what it saw.

use std::process::Command;

const CHILD: &str = "CORIO_ENV_TEST_CHILD";

/// Runs in the child only (in the parent's own run it returns at once): builds a
/// multi-thread runtime (default count, or `worker_threads(2)` if the child variable says
/// "explicit") and prints its worker count or the build error.
#[test]
fn child_reports_worker_count() {
    let Some(mode) = std::env::var_os(CHILD) else {
        return;
    };
    let mut builder = corio::runtime::Builder::new_multi_thread();
    if mode == "explicit" {
        builder.worker_threads(2);
    }
    match builder.build() {
        Ok(rt) => {
            let spread = rt.block_on(async {
                // Every worker really runs: the threads that poll 64 parked-then-woken tasks.
                let hs: Vec<_> = (0..64)
                    .map(|_| {
                        corio::spawn(async {
                            std::thread::sleep(std::time::Duration::from_millis(2));
                            std::thread::current().id()
                        })
                    })
                    .collect();
                let mut ids = Vec::new();
                for h in hs {
                    ids.push(h.await.unwrap());
                }
                ids.sort_by_key(|id| format!("{id:?}"));
                ids.dedup();
                ids.len()
            });
            println!(
                "WORKERS={} THREADS_SEEN={spread}",
                rt.metrics().num_workers()
            );
        }
        Err(e) => println!("ERROR kind={:?} msg={e}", e.kind()),
    }
}

fn run_child(mode: &str, value: &str) -> String {
    let exe = std::env::current_exe().expect("path of the test binary");
    let out = Command::new(exe)
        .args([
            "child_reports_worker_count",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, mode)
        .env("CORIO_WORKER_THREADS", value)
        .output()
        .expect("run the test binary as a child");
    assert!(
        out.status.success(),
        "child failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    // The harness prints "test <name> ... " before the report, on the same line.
    let start = ["WORKERS=", "ERROR kind="]
        .iter()
        .find_map(|marker| stdout.find(marker))
        .unwrap_or_else(|| panic!("child printed no report: {stdout}"));
    stdout[start..]
        .lines()
        .next()
        .unwrap_or("")
        .trim()
        .to_owned()
}

#[test]
fn env_var_sets_the_default_worker_count() {
    let report = run_child("default", "3");
    assert!(report.starts_with("WORKERS=3 "), "{report}");
    // The workers are real threads: 64 tasks that each block for 2 ms are not all polled by
    // one of them (the others are woken for the queued work).
    let seen: usize = report
        .rsplit('=')
        .next()
        .and_then(|s| s.parse().ok())
        .expect("THREADS_SEEN");
    assert!((2..=3).contains(&seen), "{report}");

    let report = run_child("default", " 1 ");
    assert!(report.starts_with("WORKERS=1 "), "{report}");
    assert!(report.ends_with("THREADS_SEEN=1"), "{report}");
}

#[test]
fn bad_env_var_is_a_clear_build_error() {
    for bad in ["0", "two", "-1", ""] {
        let report = run_child("default", bad);
        assert!(
            report.starts_with("ERROR kind=InvalidInput")
                && report.contains("CORIO_WORKER_THREADS must be a whole number of at least 1"),
            "CORIO_WORKER_THREADS={bad:?}: {report}"
        );
    }
}

#[test]
fn explicit_worker_threads_overrides_the_env_var() {
    // Even a bad value is not read when the count is given explicitly.
    let report = run_child("explicit", "zero");
    assert!(report.starts_with("WORKERS=2 "), "{report}");
}
