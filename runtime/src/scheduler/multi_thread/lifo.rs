//! The LIFO slot: the last task a worker spawned or woke, run next by that worker (it is
//! likely to use what its waker just produced, still in cache).
//!
//! Unlike Tokio's, corio's slot is stealable: it is one atomic pointer that the owner swaps
//! and other workers may take. So a task parked in the slot of a worker stuck in a long poll
//! is still run by an idle worker (DESIGN.md, "the stealable-LIFO requirement").
//!
//! Ownership of the `Notified` reference moves with the pointer: whoever swaps a non-null
//! pointer out owns it. AcqRel on every swap: the taker must see the task's contents
//! published by the putter (Release), and vice versa for what it displaces (Acquire).

use std::marker::PhantomData;
use std::ptr;

use crate::loom::sync::atomic::{AtomicPtr, Ordering::AcqRel, Ordering::Acquire};
use crate::task::Notified;

pub(super) struct LifoSlot<S: 'static> {
    ptr: AtomicPtr<()>,
    _task: PhantomData<Notified<S>>,
}

impl<S: 'static> LifoSlot<S> {
    pub(super) fn new() -> Self {
        LifoSlot {
            ptr: AtomicPtr::new(ptr::null_mut()),
            _task: PhantomData,
        }
    }

    /// Puts `task` in the slot; returns the task it displaced.
    pub(super) fn put(&self, task: Notified<S>) -> Option<Notified<S>> {
        let old = self.ptr.swap(task.into_raw_ptr(), AcqRel);
        // SAFETY: a non-null pointer in the slot is an owned `Notified<S>`, now ours.
        (!old.is_null()).then(|| unsafe { Notified::from_raw_ptr(old) })
    }

    /// Takes the task out, by the owner or by a thief.
    pub(super) fn take(&self) -> Option<Notified<S>> {
        if self.ptr.load(Acquire).is_null() {
            return None;
        }
        let old = self.ptr.swap(ptr::null_mut(), AcqRel);
        // SAFETY: as in `put`.
        (!old.is_null()).then(|| unsafe { Notified::from_raw_ptr(old) })
    }

    pub(super) fn is_empty(&self) -> bool {
        self.ptr.load(Acquire).is_null()
    }
}

impl<S: 'static> Drop for LifoSlot<S> {
    fn drop(&mut self) {
        drop(self.take());
    }
}

impl<S> std::fmt::Debug for LifoSlot<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LifoSlot")
            .field("empty", &self.ptr.load(Acquire).is_null())
            .finish()
    }
}
