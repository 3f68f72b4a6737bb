//! `join!` and `try_join!`: run several futures concurrently on the current task.
//!
//! How an invocation expands:
//! 1. Parsing (`@parse`): one future per step, each numbered by a list of `_` tokens (to
//!    reach its tuple slot by destructuring) and a `0 + 1 + 1` index expression.
//! 2. Each future (anything `IntoFuture`) is wrapped in a `MaybeDone` and pinned on the
//!    stack with `core::pin::pin!`, left to right.
//! 3. Each poll visits every future once. The visit starts one future later than the
//!    previous poll's (at the first one when `biased;`), so that a future that always
//!    wakes itself, or spends the task's budget, cannot keep the others from being polled
//!    first in turn. A finished future is dropped in place and its output kept.
//! 4. `join!`: when every future has finished, the outputs are returned as a tuple, in the
//!    order written. `try_join!`: as soon as a future finishes with `Err`, that error is
//!    returned (and the others are dropped with the macro's block); when all finished with
//!    `Ok`, the values are returned as `Ok((..))`.

/// Waits on several futures concurrently, returning a tuple of all their outputs in the
/// order written.
///
/// The futures run on the current task, interleaved at their `.await` points (for
/// parallelism, `corio::spawn` them). Each poll starts with a different future, so one
/// busy future cannot starve the others; write `biased;` first to always poll in the
/// written order. Anything `IntoFuture` is accepted. Use [`try_join!`](crate::try_join) to
/// stop at the first error.
///
/// # Examples
///
/// ```
/// futures_lite::future::block_on(async {
///     let (a, b, c) = corio::join!(async { 1 }, async { "two" }, std::future::ready(3.0));
///     assert_eq!((a, b, c), (1, "two", 3.0));
/// });
/// ```
#[macro_export]
macro_rules! join {
    (@expand [$biased:tt] [$($total:tt)*] [$( [($($skip:tt)*) ($($idx:tt)*) $e:expr] )+]) => {{
        const __COUNT: u32 = $($total)*;
        let mut __futures = ( $(
            $crate::__private::pin!($crate::__private::maybe_done($e)),
        )+ );
        // The future the next poll visits first (step 3 of the module doc).
        let mut __next_start: u32 = 0;
        $crate::__private::poll_fn(|__cx| {
            let __start = if $biased { 0 } else { __next_start };
            __next_start = if __start + 1 == __COUNT { 0 } else { __start + 1 };
            let mut __all_done = true;
            for __offset in 0..__COUNT {
                // `__start + __offset < 2 * __COUNT`: one subtraction wraps it.
                let __index = match __start + __offset {
                    __i if __i >= __COUNT => __i - __COUNT,
                    __i => __i,
                };
                $( if __index == ($($idx)*) {
                    let ($($skip,)* __future, ..) = &mut __futures;
                    if $crate::__private::MaybeDone::poll(__future.as_mut(), __cx).is_pending() {
                        __all_done = false;
                    }
                } )+
            }
            if !__all_done {
                return $crate::__private::Poll::Pending;
            }
            $crate::__private::Poll::Ready(( $( {
                let ($($skip,)* __future, ..) = &mut __futures;
                $crate::__private::MaybeDone::take_output(__future.as_mut())
            }, )+ ))
        })
        .await
    }};

    // One future per step; state: [biased] [`_` per future so far] [index expression]
    // [normalized futures].
    (@parse [$b:tt] [$($s:tt)*] [$($n:tt)*] [$($done:tt)*] $e:expr $(, $($rest:tt)*)?) => {
        $crate::join!(@parse [$b] [$($s)* _] [$($n)* + 1] [$($done)* [($($s)*) ($($n)*) $e]]
            $($($rest)*)?)
    };
    (@parse [$b:tt] [$($s:tt)*] [$($n:tt)*] [$($done:tt)*]) => {
        $crate::join!(@expand [$b] [$($n)*] [$($done)*])
    };

    ($(biased;)?) => {
        async {}.await
    };
    (biased; $($futures:tt)+) => {
        $crate::join!(@parse [true] [] [0] [] $($futures)+)
    };
    ($($futures:tt)+) => {
        $crate::join!(@parse [false] [] [0] [] $($futures)+)
    };
}

/// Waits on several futures that return `Result`, returning `Ok` with a tuple of all their
/// values, or the first `Err` as soon as any future fails (the others are dropped).
///
/// All futures must share the error type. Scheduling is as in [`join!`](crate::join),
/// including `biased;`.
///
/// # Examples
///
/// ```
/// use std::future::{pending, ready};
///
/// futures_lite::future::block_on(async {
///     let ok: Result<(i32, &str), String> = corio::try_join!(ready(Ok(1)), async { Ok("a") });
///     assert_eq!(ok, Ok((1, "a")));
///
///     // The error wins even though the other future would never finish.
///     let err: Result<(i32, ()), &str> =
///         corio::try_join!(async { Err("boom") }, pending::<Result<(), &str>>());
///     assert_eq!(err, Err("boom"));
/// });
/// ```
#[macro_export]
macro_rules! try_join {
    (@expand [$biased:tt] [$($total:tt)*] [$( [($($skip:tt)*) ($($idx:tt)*) $e:expr] )+]) => {{
        const __COUNT: u32 = $($total)*;
        let mut __futures = ( $(
            $crate::__private::pin!($crate::__private::maybe_done($e)),
        )+ );
        // The future the next poll visits first (step 3 of the module doc).
        let mut __next_start: u32 = 0;
        $crate::__private::poll_fn(|__cx| {
            let __start = if $biased { 0 } else { __next_start };
            __next_start = if __start + 1 == __COUNT { 0 } else { __start + 1 };
            let mut __all_done = true;
            for __offset in 0..__COUNT {
                // `__start + __offset < 2 * __COUNT`: one subtraction wraps it.
                let __index = match __start + __offset {
                    __i if __i >= __COUNT => __i - __COUNT,
                    __i => __i,
                };
                $( if __index == ($($idx)*) {
                    let ($($skip,)* __future, ..) = &mut __futures;
                    if $crate::__private::MaybeDone::poll(__future.as_mut(), __cx).is_pending() {
                        __all_done = false;
                    } else if let $crate::__private::Some(__error) = $crate::__private::MaybeDone::take_err(__future.as_mut()) {
                        return $crate::__private::Poll::Ready($crate::__private::Err(__error));
                    }
                } )+
            }
            if !__all_done {
                return $crate::__private::Poll::Pending;
            }
            $crate::__private::Poll::Ready($crate::__private::Ok(( $( {
                let ($($skip,)* __future, ..) = &mut __futures;
                $crate::__private::MaybeDone::take_ok(__future.as_mut())
            }, )+ )))
        })
        .await
    }};

    (@parse [$b:tt] [$($s:tt)*] [$($n:tt)*] [$($done:tt)*] $e:expr $(, $($rest:tt)*)?) => {
        $crate::try_join!(@parse [$b] [$($s)* _] [$($n)* + 1] [$($done)* [($($s)*) ($($n)*) $e]]
            $($($rest)*)?)
    };
    (@parse [$b:tt] [$($s:tt)*] [$($n:tt)*] [$($done:tt)*]) => {
        $crate::try_join!(@expand [$b] [$($n)*] [$($done)*])
    };

    ($(biased;)?) => {
        async { $crate::__private::Ok::<(), _>(()) }.await
    };
    (biased; $($futures:tt)+) => {
        $crate::try_join!(@parse [true] [] [0] [] $($futures)+)
    };
    ($($futures:tt)+) => {
        $crate::try_join!(@parse [false] [] [0] [] $($futures)+)
    };
}
