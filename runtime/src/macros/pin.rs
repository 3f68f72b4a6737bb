//! `pin!`: pin a value to the stack.
//!
//! A thin layer over `core::pin::pin!` with Tokio's two forms. The value is moved into a
//! temporary whose lifetime the `let` extends to the end of the enclosing block, and only a
//! `Pin<&mut T>` to it is ever named, so it can never be moved again: pinning without
//! `unsafe` and without allocation.

/// Pins values on the stack, shadowing each name with a `Pin<&mut T>` to its value.
///
/// Polling a future by reference (`(&mut fut).await`, or `&mut fut` in
/// [`select!`](crate::select)) needs it to be `Unpin`; `async` blocks and `async fn`
/// futures are not, until pinned. `pin!(a, b)` pins existing variables; `pin! { let x =
/// expr; }` declares and pins in one go. The pinned value lives until the end of the
/// enclosing block.
///
/// # Examples
///
/// ```
/// futures_lite::future::block_on(async {
///     let fut = async { 7 };
///     corio::pin!(fut);
///     // `fut` is now a `Pin<&mut impl Future>`: it can be awaited by reference.
///     assert_eq!((&mut fut).await, 7);
///
///     corio::pin! {
///         let a = async { 1 };
///         let b = async { 2 };
///     }
///     assert_eq!(a.await + b.await, 3);
/// });
/// ```
#[macro_export]
macro_rules! pin {
    ($($name:ident),* $(,)?) => { $(
        #[allow(unused_mut)]
        let mut $name = $crate::__private::pin!($name);
    )* };
    ($(let $name:ident = $init:expr;)*) => { $(
        #[allow(unused_mut)]
        let mut $name = $crate::__private::pin!($init);
    )* };
}
