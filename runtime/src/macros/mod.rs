//! The concurrency macros: [`join!`](crate::join), [`try_join!`](crate::try_join),
//! [`select!`](crate::select) and [`pin!`](crate::pin).
//!
//! All four are `macro_rules!` macros (exported at the crate root with
//! `#[macro_export]`), and none needs a runtime: they combine futures on the task that
//! awaits them, so they work under any executor. What their expansions need at run time
//! (a stack-pinning `MaybeDone`, the per-thread random number generator, the cooperative
//! budget check, the panic for an exhausted `select!`) lives in [`support`], re-exported as
//! the hidden `corio::__private` and always named through `$crate::__private`, so that the
//! user's own names cannot capture it.
//!
//! Each macro's module doc lists its expansion step by step.

mod join;
mod pin;
mod select;
pub mod support;
