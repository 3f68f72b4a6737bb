//! The `#[corio::main]` and `#[corio::test]` attributes.
//!
//! Use them through the `corio` crate, which re-exports them as `corio::main` and
//! `corio::test`; this crate is an implementation detail.
//!
//! Both turn an `async fn` into a plain `fn` that builds a corio runtime and blocks on the
//! original body. The expansion names only `::corio::runtime::Builder` (or the path given with
//! `crate = "..."`), so it works without any `use` in the user's code. Steps:
//! 1. `config` parses and checks the arguments, collecting every error with a span on the
//!    offending token and a message that says the fix.
//! 2. `expand` checks the function (`async`, no parameters) and emits either the runtime
//!    wrapper or, on error, the errors next to a stand-in that causes no follow-up errors.
//!
//! The examples below are compiled and run by the corio workspace's `tests/ui/pass` suite
//! and `tests/tests/macros.rs`; they cannot be doctests here because this crate does not
//! depend on corio.

mod config;
mod expand;
mod suggest;

use proc_macro::TokenStream;

use crate::config::Kind;

/// Runs `async fn main` on a corio runtime.
///
/// ```text
/// #[corio::main]
/// async fn main() -> std::io::Result<()> {
///     let answer = corio::spawn(async { 6 * 7 }).await.unwrap();
///     println!("{answer}");
///     Ok(())
/// }
/// ```
///
/// The function may return any type, e.g. `std::io::Result<()>` or
/// `Result<(), Box<dyn std::error::Error>>`, and `?` works in its body. It must be `async` and
/// take no parameters (read arguments with `std::env::args()`). Its name need not be `main`:
/// `#[corio::main] async fn run() -> u32` gives a blocking `fn run() -> u32`.
///
/// # Arguments
/// - `flavor = "multi_thread"` (the default): one worker thread per core, or as many as
///   `worker_threads` says.
/// - `flavor = "current_thread"`: everything runs on the thread that called `main`.
/// - `worker_threads = N`: `N >= 1` workers; only with the multi-thread flavor.
/// - `crate = "path"`: the path to the corio crate, for code that renamed the dependency
///   (e.g. `my_corio = { package = "corio", .. }` in Cargo.toml and `crate = "my_corio"`).
///   The default is `::corio`.
///
/// # Expansion
/// ```text
/// #[corio::main(worker_threads = 2)]
/// async fn main() -> T { body }
/// // becomes, roughly:
/// fn main() -> T {
///     let body = async { let ret: T = { body }; ret };
///     ::corio::runtime::Builder::new_multi_thread()
///         .worker_threads(2)
///         .build()
///         .expect("corio: failed to build the runtime")
///         .block_on(body)
/// }
/// ```
#[proc_macro_attribute]
pub fn main(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::expand(Kind::Main, args.into(), item.into()).into()
}

/// Runs an `async fn` test on a fresh corio runtime.
///
/// ```text
/// #[corio::test]
/// async fn adds() {
///     assert_eq!(corio::spawn(async { 1 + 1 }).await.unwrap(), 2);
/// }
///
/// #[corio::test(flavor = "multi_thread", worker_threads = 2)]
/// #[should_panic(expected = "boom")]
/// async fn panics() {
///     panic!("boom");
/// }
///
/// #[corio::test]
/// async fn fallible() -> std::io::Result<()> {
///     Ok(())
/// }
/// ```
///
/// The attribute adds `#[test]` itself (do not add another), keeps the other attributes
/// (`#[should_panic]`, `#[ignore]`, docs), and passes the body's return value to the test
/// harness, so tests may return `Result`.
///
/// # Arguments
/// - `flavor = "current_thread"` (the default) or `flavor = "multi_thread"`.
/// - `worker_threads = N`: `N >= 1` workers; only with `flavor = "multi_thread"`.
/// - `start_paused = true`: the runtime starts with its clock paused, so timers fire as soon as
///   every task is idle (virtual time); only with the current-thread flavor.
/// - `crate = "path"`: the path to the corio crate if the dependency was renamed.
#[proc_macro_attribute]
pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::expand(Kind::Test, args.into(), item.into()).into()
}

/// Collects every error found while checking one attribute, so one build reports them all.
#[derive(Debug, Default)]
pub(crate) struct Errors {
    first: Option<syn::Error>,
}

impl Errors {
    pub(crate) fn push(&mut self, err: syn::Error) {
        match &mut self.first {
            Some(first) => first.combine(err),
            None => self.first = Some(err),
        }
    }

    /// All collected errors as one `syn::Error`, or `None` if there were none.
    pub(crate) fn into_error(self) -> Option<syn::Error> {
        self.first
    }
}
