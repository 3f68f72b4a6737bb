//! Task-local storage: [`task_local!`](crate::task_local) and [`LocalKey`].
//!
//! A task-local value belongs to one future (the one given to [`LocalKey::scope`]), not to
//! a thread: a worker thread polls many tasks, one after another, and each must see its own
//! value. Each key is backed by a thread-local cell that holds the value only while the
//! scoped future is being polled.
//!
//! Protocol:
//! 1. `scope(value, future)` returns a [`TaskLocalFuture`] that keeps `value` in its slot.
//! 2. Each poll swaps the slot into the key's thread-local cell (the cell's previous
//!    content, an outer scope's value or nothing, moves into the slot), polls the inner
//!    future, and swaps back in a guard's `drop`, so a poll that panics restores the cell
//!    too.
//! 3. Between polls the value lives in the future, so any other task polled on this thread
//!    sees its own value or none: nothing leaks across tasks or past the scope.
//! 4. When the inner future completes, or the `TaskLocalFuture` is dropped before that, the
//!    inner future is dropped inside the scope (its destructors may read the value); the
//!    value itself is dropped after, outside.
//!
//! The cell is a `RefCell`: `with` borrows it for the duration of its closure, and a scope
//! entered from inside that closure panics, saying so, rather than corrupting the value.

use std::cell::RefCell;
use std::error::Error;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Declares task-local keys of type [`LocalKey`].
///
/// ```
/// corio::task_local! {
///     static REQUEST_ID: u64;
///     pub static USER: String;
/// }
///
/// corio::run(async {
///     REQUEST_ID
///         .scope(7, async {
///             corio::task::yield_now().await;
///             assert_eq!(REQUEST_ID.get(), 7);
///         })
///         .await;
///     assert!(REQUEST_ID.try_with(|_| ()).is_err());
/// });
/// ```
#[macro_export]
macro_rules! task_local {
    () => {};
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty; $($rest:tt)*) => {
        $crate::__task_local_inner!($(#[$attr])* $vis $name, $t);
        $crate::task_local!($($rest)*);
    };
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty) => {
        $crate::__task_local_inner!($(#[$attr])* $vis $name, $t);
    };
}

/// One key of [`task_local!`]; not public API.
#[doc(hidden)]
#[macro_export]
macro_rules! __task_local_inner {
    ($(#[$attr:meta])* $vis:vis $name:ident, $t:ty) => {
        $(#[$attr])*
        $vis static $name: $crate::task::LocalKey<$t> = {
            // A user-facing macro expands in the user's crate, outside loom's models: the
            // cell is std's thread-local.
            ::std::thread_local! {
                static __CORIO_TASK_LOCAL: ::std::cell::RefCell<::std::option::Option<$t>> =
                    const { ::std::cell::RefCell::new(::std::option::Option::None) };
            }
            $crate::task::LocalKey::__new(__CORIO_TASK_LOCAL)
        };
    };
}

/// A key to task-local data, declared with [`task_local!`](crate::task_local).
///
/// The value is set for the duration of a future with [`LocalKey::scope`] (or of a closure
/// with [`LocalKey::sync_scope`]) and read with [`LocalKey::with`], [`LocalKey::try_with`]
/// or [`LocalKey::get`].
pub struct LocalKey<T: 'static> {
    inner: std::thread::LocalKey<RefCell<Option<T>>>,
}

const NOT_SET: &str = "cannot access a task-local value outside its scope: it is only set \
    inside `KEY.scope(value, future).await` or `KEY.sync_scope(value, || ...)`; use \
    `KEY.try_with(..)` where the scope may be missing";

/// Why a scope could not be entered.
enum ScopeError {
    Borrowed,
    Destroyed,
}

impl ScopeError {
    #[track_caller]
    fn panic(self) -> ! {
        match self {
            ScopeError::Borrowed => panic!(
                "cannot enter a task-local scope while the same task-local value is borrowed \
                 (inside `KEY.with(..)`): enter the scope outside that closure"
            ),
            ScopeError::Destroyed => panic!(
                "cannot enter a task-local scope: the thread is exiting and its thread-local \
                 storage is already destroyed"
            ),
        }
    }
}

impl<T: 'static> LocalKey<T> {
    /// Used by [`task_local!`](crate::task_local); not public API.
    #[doc(hidden)]
    pub const fn __new(inner: std::thread::LocalKey<RefCell<Option<T>>>) -> Self {
        LocalKey { inner }
    }

    /// Runs `future` with this key set to `value`: every poll of `future` (and of what it
    /// awaits) sees `value`, on whatever thread it is polled.
    ///
    /// ```
    /// corio::task_local! { static DEPTH: u32; }
    /// corio::run(async {
    ///     let out = DEPTH.scope(1, async {
    ///         DEPTH.scope(2, async { DEPTH.get() }).await + DEPTH.get()
    ///     });
    ///     assert_eq!(out.await, 3);
    /// });
    /// ```
    pub fn scope<F: Future>(&'static self, value: T, future: F) -> TaskLocalFuture<T, F> {
        TaskLocalFuture {
            local: self,
            slot: Some(value),
            future: Some(future),
        }
    }

    /// Runs the closure `f` with this key set to `value`.
    ///
    /// # Panics
    /// If called inside [`LocalKey::with`] of the same key.
    #[track_caller]
    pub fn sync_scope<F: FnOnce() -> R, R>(&'static self, value: T, f: F) -> R {
        let mut slot = Some(value);
        match self.scope_inner(&mut slot, f) {
            Ok(out) => out,
            Err(e) => e.panic(),
        }
    }

    /// Steps 2 and 4: runs `f` with `slot` swapped into the cell, and swaps it back on the
    /// way out, also when `f` unwinds.
    fn scope_inner<F: FnOnce() -> R, R>(
        &'static self,
        slot: &mut Option<T>,
        f: F,
    ) -> Result<R, ScopeError> {
        struct Restore<'a, T: 'static> {
            local: &'static LocalKey<T>,
            slot: &'a mut Option<T>,
        }
        impl<T: 'static> Drop for Restore<'_, T> {
            fn drop(&mut self) {
                // Every borrow `f` took is scoped to `f`, so the cell is free again here.
                let _ = self
                    .local
                    .inner
                    .try_with(|cell| std::mem::swap(self.slot, &mut *cell.borrow_mut()));
            }
        }

        self.inner
            .try_with(|cell| {
                cell.try_borrow_mut()
                    .map(|mut v| std::mem::swap(slot, &mut *v))
                    .map_err(|_| ScopeError::Borrowed)
            })
            .map_err(|_| ScopeError::Destroyed)??;
        let _restore = Restore { local: self, slot };
        Ok(f())
    }

    /// Calls `f` with a reference to the value.
    ///
    /// # Panics
    /// Outside a scope of this key; use [`LocalKey::try_with`] where that may happen.
    #[track_caller]
    pub fn with<F: FnOnce(&T) -> R, R>(&'static self, f: F) -> R {
        match self.try_with(f) {
            Ok(out) => out,
            Err(_) => panic!("{NOT_SET}"),
        }
    }

    /// Calls `f` with a reference to the value, or returns [`AccessError`] outside a scope of
    /// this key.
    pub fn try_with<F: FnOnce(&T) -> R, R>(&'static self, f: F) -> Result<R, AccessError> {
        self.inner
            .try_with(|cell| {
                let value = cell
                    .try_borrow()
                    .map_err(|_| AccessError { _private: () })?;
                match value.as_ref() {
                    Some(v) => Ok(f(v)),
                    None => Err(AccessError { _private: () }),
                }
            })
            .unwrap_or(Err(AccessError { _private: () }))
    }
}

impl<T: Clone + 'static> LocalKey<T> {
    /// A clone of the value.
    ///
    /// # Panics
    /// Outside a scope of this key.
    #[track_caller]
    pub fn get(&'static self) -> T {
        self.with(T::clone)
    }
}

impl<T: 'static> fmt::Debug for LocalKey<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalKey").finish_non_exhaustive()
    }
}

/// A future with a task-local value set around each of its polls; made by
/// [`LocalKey::scope`].
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct TaskLocalFuture<T: 'static, F> {
    local: &'static LocalKey<T>,
    slot: Option<T>,
    /// Structurally pinned: never moved while `Some`, dropped in place by writing `None`.
    future: Option<F>,
}

impl<T: 'static, F: Future> Future for TaskLocalFuture<T, F> {
    type Output = F::Output;

    #[track_caller]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // SAFETY: `future` is structurally pinned (see the field): it is only reached through
        // `Pin::new_unchecked` below and dropped in place; `local` and `slot` are not pinned
        // and may be moved freely.
        let this = unsafe { self.get_unchecked_mut() };
        let TaskLocalFuture {
            local,
            slot,
            future,
        } = this;
        let polled = local.scope_inner(slot, || {
            let Some(fut) = future.as_mut() else {
                panic!("`TaskLocalFuture` polled after it completed");
            };
            // SAFETY: pinned projection of `future`, see above.
            let res = unsafe { Pin::new_unchecked(fut) }.poll(cx);
            if res.is_ready() {
                // Step 4: dropped in place, inside the scope.
                *future = None;
            }
            res
        });
        match polled {
            Ok(res) => res,
            Err(e) => e.panic(),
        }
    }
}

impl<T: 'static, F> Drop for TaskLocalFuture<T, F> {
    fn drop(&mut self) {
        // Step 4: an unfinished future is dropped with its value set. If the scope cannot be
        // entered (inside `with`, or during thread exit) it is dropped without it, by the
        // field drop that follows.
        let TaskLocalFuture {
            local,
            slot,
            future,
        } = self;
        if future.is_some() {
            let _ = local.scope_inner(slot, || *future = None);
        }
    }
}

impl<T: 'static, F> fmt::Debug for TaskLocalFuture<T, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskLocalFuture")
            .field("done", &self.future.is_none())
            .finish_non_exhaustive()
    }
}

/// Returned by [`LocalKey::try_with`] outside a scope of the key.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct AccessError {
    _private: (),
}

impl fmt::Debug for AccessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessError")
    }
}

impl fmt::Display for AccessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("task-local value not set: access it inside `KEY.scope(..)`")
    }
}

impl Error for AccessError {}
