//! Runs `examples/examples/all_cores.rs` in quick mode and checks what it reports: four
//! configurations, each with the known prime count, the per-worker metrics table, and the
//! verdict that all results agree. Timing is not checked here (that is the example's job on an
//! idle machine, and the benchmarks'); only correctness and the shape of the report.

use std::process::Command;

/// `pi(200_000)`: the answer the quick workload must give in every configuration.
const QUICK_PRIMES: &str = "17984";

#[test]
fn all_cores_quick_reports_agreeing_results() {
    let mut cmd = Command::new(env!("CARGO"));
    // Same workspace, so the example shares this build's target directory and profile.
    cmd.current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .args(["run", "--quiet", "-p", "examples", "--example", "all_cores"]);
    if !cfg!(debug_assertions) {
        cmd.arg("--release");
    }
    let out = cmd.args(["--", "--quick"]).output().expect("cargo runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "all_cores --quick failed: {}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );

    assert!(
        stdout.contains("QUICK mode"),
        "not in quick mode:\n{stdout}"
    );
    // One row per configuration, each with the known count: 1 and all workers, 1 and all threads.
    let rows: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("corio, ") || l.starts_with("OS threads, "))
        .collect();
    assert_eq!(rows.len(), 4, "expected 4 configuration rows:\n{stdout}");
    for row in &rows {
        assert!(row.contains(QUICK_PRIMES), "wrong count on {row:?}");
        assert!(row.contains("x "), "no speedup on {row:?}");
    }
    assert!(rows[0].starts_with("corio, 1 worker "), "{rows:?}");
    assert!(rows[2].starts_with("OS threads, 1 "), "{rows:?}");
    assert!(
        stdout.contains("of the OS threads' speedup"),
        "no speedup share:\n{stdout}"
    );
    // The metrics table: its header and at least worker 0's row.
    assert!(
        stdout.contains("polls") && stdout.contains("busy %"),
        "{stdout}"
    );
    assert!(
        stdout.contains("\nworker 0 "),
        "no per-worker row:\n{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "results agree: every run counted {QUICK_PRIMES} primes"
        )),
        "results do not agree:\n{stdout}"
    );
}
