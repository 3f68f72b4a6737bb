//! Every accepted form of `#[corio::main]`, expanded against a fake runtime that records the
//! builder calls, so this checks the exact expansion without needing corio's runtime.

// The expansion itself must not cause warnings in the user's crate.
#![deny(unreachable_code, unused, clippy::all)]

use std::error::Error;
use std::fmt::Debug;
use std::io;

#[path = "../support/fake_corio.rs"]
mod fake_corio;

use fake_corio::runtime::take_calls;

/// The default is the multi-thread flavor with the default number of workers.
#[corio::main(crate = "crate::fake_corio")]
async fn default_flavor() -> Vec<String> {
    take_calls()
}

#[corio::main(crate = "crate::fake_corio", flavor = "multi_thread", worker_threads = 3)]
async fn three_workers() -> Vec<String> {
    take_calls()
}

#[corio::main(crate = "crate::fake_corio", flavor = "current_thread")]
async fn current_thread() -> Vec<String> {
    take_calls()
}

// Any order, a trailing comma, a suffixed literal.
#[corio::main(worker_threads = 2usize, crate = "crate::fake_corio",)]
async fn reordered() -> Vec<String> {
    take_calls()
}

#[corio::main(crate = "crate::fake_corio")]
async fn parse_io() -> io::Result<u32> {
    let n: u32 = "7"
        .parse()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    Ok(n)
}

// `?` converts into the declared error type.
#[corio::main(crate = "crate::fake_corio")]
async fn boxed_error() -> Result<u32, Box<dyn Error>> {
    let n: u32 = "not a number".parse()?;
    Ok(n)
}

#[corio::main(crate = "crate::fake_corio")]
async fn early_return() -> u32 {
    if std::hint::black_box(true) {
        return 1;
    }
    2
}

#[corio::main(crate = "crate::fake_corio")]
async fn awaits() -> u32 {
    let twenty = async { 20 };
    twenty.await + 22
}

#[corio::main(crate = "crate::fake_corio")]
async fn unnameable() -> impl Debug {
    "opaque"
}

#[corio::main(crate = "crate::fake_corio")]
#[inline(never)]
#[must_use = "keeps user attributes"]
async fn with_attributes() -> u8 {
    5
}

// A body that diverges: nothing after it in the expansion may warn as unreachable.
#[corio::main(crate = "crate::fake_corio")]
async fn diverges() -> u32 {
    panic!("not called")
}

mod inner {
    /// Visibility and doc comments are kept.
    #[corio::main(crate = "crate::fake_corio")]
    pub(crate) async fn run() -> &'static str {
        "inner"
    }
}

fn main() {
    let multi = ["new_multi_thread", "build", "block_on"];
    assert_eq!(default_flavor(), multi);
    assert_eq!(
        three_workers(),
        ["new_multi_thread", "worker_threads(3)", "build", "block_on"]
    );
    assert_eq!(
        current_thread(),
        ["new_current_thread", "build", "block_on"]
    );
    assert_eq!(
        reordered(),
        ["new_multi_thread", "worker_threads(2)", "build", "block_on"]
    );
    assert_eq!(parse_io().unwrap(), 7);
    let err = boxed_error().unwrap_err();
    assert_eq!(err.to_string(), "invalid digit found in string");
    assert_eq!(early_return(), 1);
    assert_eq!(awaits(), 42);
    assert_eq!(format!("{:?}", unnameable()), "\"opaque\"");
    assert_eq!(with_attributes(), 5);
    assert_eq!(inner::run(), "inner");
    if std::hint::black_box(false) {
        diverges();
    }
    take_calls();
}
