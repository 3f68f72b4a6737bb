//! The smallest corio program: `#[corio::main]` on `async fn main`.
//!
//! ```text
//! cargo run -p examples --example hello_main            # prints two lines, exits 0
//! cargo run -p examples --example hello_main -- --fail  # main returns Err: exit code 1
//! ```
//!
//! `tests/tests/macros.rs` runs it and checks both.

use std::io;

#[corio::main]
async fn main() -> io::Result<()> {
    // Spawning needs a running runtime, so this line proves the body runs on one.
    let answer = corio::spawn(async { 6 * 7 })
        .await
        .expect("the task does not panic");
    println!("hello from corio");
    println!("6 * 7 = {answer}");
    if std::env::args().any(|arg| arg == "--fail") {
        return Err(io::Error::other("asked to fail"));
    }
    Ok(())
}
