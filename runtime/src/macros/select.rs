//! `select!`: wait on several futures, run the handler of the first one that completes.
//!
//! How an invocation expands (each step names where it happens in the macro):
//! 1. Parsing (`@parse`): the branches are read one per recursion step, so 64 branches stay
//!    far below the default recursion limit. Each branch is numbered by two running counts:
//!    a list of `_` tokens (to reach its slot in a tuple by destructuring,
//!    `let (_, _, slot, ..) = &mut tuple;`) and a `0 + 1 + 1` expression (its index).
//! 2. Preconditions (`@expand`): every `, if cond` is evaluated, in branch order, before any
//!    future expression; a false one sets the branch's bit in a `u64` mask of disabled
//!    branches (hence the 64-branch limit, checked by a `const` assertion).
//! 3. Every future expression is evaluated, also for disabled branches (as in Tokio), and
//!    pinned on the stack with `core::pin::pin!`: no `unsafe` in the expansion.
//! 4. One poll of the select: if the task's cooperative budget is spent, yield. Otherwise
//!    visit the branches once, starting at a random one (at the first one when `biased;`),
//!    skipping disabled ones. A branch that is `Ready` is disabled; if its output matches
//!    its pattern, the output moves to the branch's output slot and the poll returns the
//!    branch's index; if not, the output is dropped and the visit goes on.
//! 5. If no branch won: `Pending` if some branch is pending, else every branch is disabled
//!    and the poll returns the `else` marker.
//! 6. The futures are dropped (the block that pinned them ends) before any handler runs.
//!    Then the winner's output is matched against its pattern again, this time by value,
//!    and its handler runs outside every closure and loop of the expansion, so `break`,
//!    `continue`, `return`, `?` and `.await` in a handler act on the caller's code. With
//!    no winner the `else` expression runs, or, without one, a panic says to add it.
//!
//! Testing a pattern in step 4 without consuming the output (the handler needs it in step
//! 6) uses a match guard: in `match out { PAT if { matched = true; false } => unreachable,
//! _ => {} }` the bindings exist only as borrows while the guard runs, the guard always
//! fails, so nothing moves, yet `matched` records that the pattern fit. Unlike Tokio, this
//! needs no procedural macro to strip `ref`/`mut` from the pattern.

/// Waits on several branches at once and runs the handler of the first one to complete;
/// the other branches' futures are dropped (cancelled).
///
/// ```text
/// select! {
///     biased;                                  // optional: poll in order, not randomly
///     <pattern> = <future> [, if <precondition>] => <handler>,
///     ...
///     else => <expression>                     // optional: when every branch is disabled
/// }
/// ```
///
/// 1. Every `<precondition>` is evaluated; a branch whose precondition is `false` is
///    disabled for this `select!`.
/// 2. Every `<future>` expression is evaluated (also those of disabled branches; anything
///    `IntoFuture` works, and `&mut fut` selects on a future without consuming it).
/// 3. The enabled futures are polled, starting at a random branch each time so that no
///    branch can starve the others (with `biased;`, in the order written).
/// 4. When a future completes, its branch is disabled. If the output matches `<pattern>`,
///    all futures are dropped and `<handler>` runs with the pattern's bindings; the value of
///    the handler is the value of `select!`. If it does not match, the output is dropped
///    and the other branches go on.
/// 5. If every branch is disabled, the `else` expression is the value of `select!`. Without
///    an `else`, `select!` panics, saying so.
///
/// Handlers run in the caller's context: `break`, `continue`, `return`, `?` and `.await`
/// work as if written outside the macro. Up to 64 branches are supported. `select!` must
/// be used inside an `async` context. It also yields to the scheduler when the task's
/// cooperative budget is spent, like every corio resource.
///
/// # Examples
///
/// The first to finish wins; the loser is dropped without being polled again:
///
/// ```
/// use std::future::{pending, ready};
///
/// futures_lite::future::block_on(async {
///     let winner = corio::select! {
///         v = ready(1) => v,
///         _ = pending::<()>() => unreachable!("never completes"),
///     };
///     assert_eq!(winner, 1);
/// });
/// ```
///
/// A loop with a precondition, a refutable pattern and `else`:
///
/// ```
/// futures_lite::future::block_on(async {
///     let mut queue = vec![1, 2, 3, 4];
///     let mut sum = 0;
///     loop {
///         corio::select! {
///             // Disabled by its precondition once the sum reaches 5, and by its pattern
///             // once the queue is empty (`None` does not match `Some(v)`).
///             Some(v) = async { queue.pop() }, if sum < 5 => sum += v,
///             else => break,
///         }
///     }
///     assert_eq!(sum, 4 + 3);
///     assert_eq!(queue, [1, 2]);
/// });
/// ```
///
/// Selecting on `&mut fut` polls a future without consuming it, so it survives the rounds
/// it loses (an `async` block must be [pinned](crate::pin) first):
///
/// ```
/// use futures_lite::future::yield_now;
///
/// futures_lite::future::block_on(async {
///     let slow = async {
///         for _ in 0..3 {
///             yield_now().await;
///         }
///         "slow"
///     };
///     corio::pin!(slow);
///     let mut other_rounds = 0;
///     let result = loop {
///         corio::select! {
///             biased;
///             v = &mut slow => break v,
///             () = std::future::ready(()) => other_rounds += 1,
///         }
///     };
///     assert_eq!((result, other_rounds), ("slow", 3));
/// });
/// ```
#[macro_export]
macro_rules! select {
    // ===== Step 2-6: all branches parsed, expand. =====
    (@expand [$biased:tt] [$($total:tt)*] [$(
        [ ($($skip:tt)*) ($($idx:tt)*) $bind:pat, $fut:expr, ($($cond:tt)*), $handle:expr ]
    )+] [$else:expr]) => {{
        const __BRANCHES: u32 = $($total)*;
        const _: () = ::core::assert!(
            __BRANCHES <= 64,
            "select! supports at most 64 branches; nest select! or combine futures to use more"
        );
        let mut __disabled: u64 = 0;
        $( $crate::select!(@precondition __disabled, ($($idx)*), $($cond)*); )+
        let mut __outputs = ( $( $crate::select!(@none $fut), )+ );
        let __winner: u32 = {
            let mut __futures = ( $(
                $crate::__private::pin!($crate::__private::IntoFuture::into_future($fut)),
            )+ );
            let __winner = $crate::__private::poll_fn(|__cx| {
                $crate::__private::ready!($crate::__private::poll_budget_available(__cx));
                let __start: u32 = if $biased {
                    0
                } else {
                    $crate::__private::thread_rng_n(__BRANCHES)
                };
                let mut __any_pending = false;
                for __offset in 0..__BRANCHES {
                    // `__start + __offset < 2 * __BRANCHES`: one subtraction wraps it.
                    let __branch = match __start + __offset {
                        __b if __b >= __BRANCHES => __b - __BRANCHES,
                        __b => __b,
                    };
                    let __mask: u64 = 1 << __branch;
                    if __disabled & __mask != 0 {
                        continue;
                    }
                    $( if __branch == ($($idx)*) {
                        let ($($skip,)* __future, ..) = &mut __futures;
                        #[allow(unused_mut)]
                        let mut __output = match $crate::__private::Future::poll(
                            __future.as_mut(),
                            __cx,
                        ) {
                            $crate::__private::Poll::Ready(__output) => __output,
                            $crate::__private::Poll::Pending => {
                                __any_pending = true;
                                continue;
                            }
                        };
                        // A completed future is never polled again.
                        __disabled |= __mask;
                        let mut __matched = false;
                        match __output {
                            // The guard sees the bindings only as borrows and fails, so
                            // the arm never runs and nothing is moved (see module doc).
                            #[allow(unused_variables, unused_mut, clippy::diverging_sub_expression)]
                            $bind if {
                                __matched = true;
                                false
                            } => ::core::unreachable!(),
                            _ => {}
                        }
                        if !__matched {
                            // Pattern mismatch: the branch stays disabled, the output is
                            // dropped, the other branches go on.
                            continue;
                        }
                        let ($($skip,)* __slot, ..) = &mut __outputs;
                        *__slot = $crate::__private::Some(__output);
                        return $crate::__private::Poll::Ready(__branch);
                    } )+
                }
                if __any_pending {
                    $crate::__private::Poll::Pending
                } else {
                    // Every branch is disabled: the `else` marker.
                    $crate::__private::Poll::Ready(__BRANCHES)
                }
            })
            .await;
            __winner
        };
        match __winner {
            $( __w if __w == ($($idx)*) => {
                let ($($skip,)* __slot, ..) = &mut __outputs;
                match __slot.take() {
                    $crate::__private::Some($bind) => $handle,
                    _ => ::core::unreachable!("select!: the winner's pattern was checked when it won"),
                }
            } )+
            _ => $else,
        }
    }};

    (@precondition $disabled:ident, ($($idx:tt)*), if $cond:expr) => {
        if !$cond {
            $disabled |= 1 << ($($idx)*);
        }
    };
    (@precondition $disabled:ident, ($($idx:tt)*), ) => {};

    // An empty output slot per branch; its type is inferred from the poll that fills it.
    (@none $($ignored:tt)*) => {
        $crate::__private::None
    };

    // ===== Step 1: parse one branch per step. =====
    // State: [biased] [`_` per branch so far] [index expression] [normalized branches].
    (@parse [$b:tt] [$($s:tt)*] [$($n:tt)*] [$($br:tt)*]) => {
        $crate::select!(@expand [$b] [$($n)*] [$($br)*] [$crate::__private::all_branches_disabled()])
    };
    (@parse [$b:tt] [$($s:tt)*] [$($n:tt)*] [$($br:tt)*] else => $else:expr $(,)?) => {
        $crate::select!(@expand [$b] [$($n)*] [$($br)*] [$else])
    };
    (@parse [$b:tt] [$($s:tt)*] [$($n:tt)*] [$($br:tt)*] else => $else:expr, $($rest:tt)+) => {
        ::core::compile_error!("the `else` branch of select! must be the last one")
    };
    (@parse [$b:tt] [$($s:tt)*] [$($n:tt)*] [$($br:tt)*]
        $p:pat = $f:expr $(, if $c:expr)? => $h:block, $($rest:tt)*
    ) => {
        $crate::select!(@parse [$b] [$($s)* _] [$($n)* + 1]
            [$($br)* [($($s)*) ($($n)*) $p, $f, ($(if $c)?), $h]] $($rest)*)
    };
    (@parse [$b:tt] [$($s:tt)*] [$($n:tt)*] [$($br:tt)*]
        $p:pat = $f:expr $(, if $c:expr)? => $h:block $($rest:tt)*
    ) => {
        $crate::select!(@parse [$b] [$($s)* _] [$($n)* + 1]
            [$($br)* [($($s)*) ($($n)*) $p, $f, ($(if $c)?), $h]] $($rest)*)
    };
    (@parse [$b:tt] [$($s:tt)*] [$($n:tt)*] [$($br:tt)*]
        $p:pat = $f:expr $(, if $c:expr)? => $h:expr $(,)?
    ) => {
        $crate::select!(@parse [$b] [$($s)* _] [$($n)* + 1]
            [$($br)* [($($s)*) ($($n)*) $p, $f, ($(if $c)?), $h]])
    };
    (@parse [$b:tt] [$($s:tt)*] [$($n:tt)*] [$($br:tt)*]
        $p:pat = $f:expr $(, if $c:expr)? => $h:expr, $($rest:tt)*
    ) => {
        $crate::select!(@parse [$b] [$($s)* _] [$($n)* + 1]
            [$($br)* [($($s)*) ($($n)*) $p, $f, ($(if $c)?), $h]] $($rest)*)
    };
    (@parse [$b:tt] [$($s:tt)*] [$($n:tt)*] [$($br:tt)*] $($rest:tt)+) => {
        ::core::compile_error!(::core::concat!(
            "select!: expected a branch `pattern = future => handler,` (with an optional \
             `, if condition` before `=>`) or `else => expression`, found `",
            ::core::stringify!($($rest)+),
            "`"
        ))
    };

    // ===== Entry points. =====
    () => {
        ::core::compile_error!("select! needs at least one branch: `pattern = future => handler`")
    };
    (biased;) => {
        ::core::compile_error!("select! needs at least one branch after `biased;`")
    };
    ($(biased;)? else => $else:expr $(,)?) => {{
        $else
    }};
    (biased; $($branches:tt)+) => {
        $crate::select!(@parse [true] [] [0] [] $($branches)+)
    };
    ($($branches:tt)+) => {
        $crate::select!(@parse [false] [] [0] [] $($branches)+)
    };
}
