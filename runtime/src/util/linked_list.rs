//! An intrusive, doubly linked list of nodes that live inside pinned futures.
//!
//! Every waiting future of `corio::sync` embeds one [`Node`]; the primitive it waits on keeps
//! a [`LinkedList`] of them behind its own lock. Waiting therefore allocates nothing: the
//! node's memory is the future's memory.
//!
//! Invariants (each user of the list upholds them; the `unsafe` methods name them):
//! 1. A node is in at most one list, and only the list it was pushed on ever removes it.
//! 2. A node is not moved or freed while it is linked: it lives in a pinned future whose
//!    `Drop` removes it (under the owner's lock) before the memory goes away.
//! 3. The list, the links of its nodes and the nodes' values are touched only by whoever
//!    holds the owner's lock (the primitive's mutex), so no two threads access them at once.
//!    A list moved out of its owner whole (`Notify::notify_waiters` takes it with
//!    `mem::take`) is touched only by the thread that took it; its nodes' owners keep off
//!    them until that thread signals it is done with each (the `Notify`'s step 6).
//!
//! Protocol for a waiting future:
//! 1. Lock the primitive; if the resource is not ready, fill in the node's value (waker,
//!    request) and [`LinkedList::push_back`] it; unlock and return `Pending`.
//! 2. The notifier, under the lock, [`LinkedList::pop_front`]s nodes, writes the outcome into
//!    their values and takes their wakers; it wakes them after unlocking.
//! 3. When polled again, the future locks and reads its outcome from its node.
//! 4. On drop, a future that may still be linked locks and [`LinkedList::remove`]s its node,
//!    then hands on whatever outcome was written into it but not yet observed.

use std::fmt;
use std::marker::PhantomPinned;
use std::ptr::NonNull;

use crate::loom::cell::UnsafeCell;

/// The links of one node. `linked` tells [`LinkedList::remove`] whether the node is in
/// the list, so removal is idempotent.
struct Links<T> {
    prev: Option<NonNull<Node<T>>>,
    next: Option<NonNull<Node<T>>>,
    linked: bool,
}

/// A list entry embedded in a waiting future. See the module doc for who may touch it.
pub(crate) struct Node<T> {
    links: UnsafeCell<Links<T>>,
    value: UnsafeCell<T>,
    /// A linked node is pointed to by its neighbours, so it must never move (invariant 2).
    _pinned: PhantomPinned,
}

impl<T> Node<T> {
    pub(crate) fn new(value: T) -> Self {
        Self {
            links: UnsafeCell::new(Links {
                prev: None,
                next: None,
                linked: false,
            }),
            value: UnsafeCell::new(value),
            _pinned: PhantomPinned,
        }
    }

    /// Runs `f` on the node's value.
    ///
    /// # Safety
    /// `node` points to a live node and the caller holds the lock of the primitive whose
    /// list the node belongs to (or may belong to), or owns the taken list it is in:
    /// invariant 3.
    pub(crate) unsafe fn with_value<R>(node: NonNull<Self>, f: impl FnOnce(&mut T) -> R) -> R {
        // SAFETY: the node is live (caller) and the lock gives us exclusive access.
        unsafe { node.as_ref().value.with_mut(|v| f(&mut *v)) }
    }

    /// True while the node is in a list.
    ///
    /// # Safety
    /// As for [`Node::with_value`].
    pub(crate) unsafe fn is_linked(node: NonNull<Self>) -> bool {
        // SAFETY: live node and exclusive access under the lock (caller).
        unsafe { node.as_ref().links.with(|l| (*l).linked) }
    }
}

impl<T> fmt::Debug for Node<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Node").finish_non_exhaustive()
    }
}

/// A FIFO of [`Node`]s, owned by a primitive and kept behind its lock.
pub(crate) struct LinkedList<T> {
    head: Option<NonNull<Node<T>>>,
    tail: Option<NonNull<Node<T>>>,
    len: usize,
}

// SAFETY: the list holds pointers to nodes whose values are `T`; it is only reached through
// the owner's lock (invariant 3), so sending it to another thread sends at most access to
// `T` values, which is sound when `T: Send`.
unsafe impl<T: Send> Send for LinkedList<T> {}
// SAFETY: `&LinkedList` exposes only `len`/`is_empty`/`front` (pointers, no access).
unsafe impl<T: Send> Sync for LinkedList<T> {}

impl<T> LinkedList<T> {
    pub(crate) const fn new() -> Self {
        Self {
            head: None,
            tail: None,
            len: 0,
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.head.is_none()
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The oldest node, still linked.
    pub(crate) fn front(&self) -> Option<NonNull<Node<T>>> {
        self.head
    }

    /// Appends `node` at the back.
    ///
    /// # Safety
    /// `node` is live, not in any list, and stays put until removed (invariants 1 and 2); the
    /// caller holds the owner's lock.
    pub(crate) unsafe fn push_back(&mut self, node: NonNull<Node<T>>) {
        let old_tail = self.tail;
        // SAFETY: exclusive access to the node's links under the lock (caller).
        unsafe {
            node.as_ref().links.with_mut(|l| {
                debug_assert!(!(*l).linked, "a node was pushed on a list twice");
                (*l).prev = old_tail;
                (*l).next = None;
                (*l).linked = true;
            });
        }
        match old_tail {
            // SAFETY: the tail is a linked, hence live, node (invariant 2).
            Some(t) => unsafe { t.as_ref().links.with_mut(|l| (*l).next = Some(node)) },
            None => self.head = Some(node),
        }
        self.tail = Some(node);
        self.len += 1;
    }

    /// Unlinks and returns the oldest node.
    pub(crate) fn pop_front(&mut self) -> Option<NonNull<Node<T>>> {
        let head = self.head?;
        // SAFETY: the head is linked, hence live (invariant 2), and it is in this list.
        unsafe { self.unlink(head) };
        Some(head)
    }

    /// Unlinks `node` if it is linked; returns whether it was.
    ///
    /// # Safety
    /// `node` is live and, if linked, linked in *this* list (invariant 1); the caller holds
    /// the owner's lock.
    pub(crate) unsafe fn remove(&mut self, node: NonNull<Node<T>>) -> bool {
        // SAFETY: live node, lock held (caller).
        if unsafe { Node::is_linked(node) } {
            // SAFETY: linked in this list (caller).
            unsafe { self.unlink(node) };
            true
        } else {
            false
        }
    }

    /// # Safety
    /// `node` is linked in this list.
    unsafe fn unlink(&mut self, node: NonNull<Node<T>>) {
        // SAFETY: the node and its neighbours are linked, hence live; the lock is held.
        unsafe {
            let (prev, next) = node.as_ref().links.with_mut(|l| {
                let pn = ((*l).prev.take(), (*l).next.take());
                (*l).linked = false;
                pn
            });
            match prev {
                Some(p) => p.as_ref().links.with_mut(|l| (*l).next = next),
                None => self.head = next,
            }
            match next {
                Some(n) => n.as_ref().links.with_mut(|l| (*l).prev = prev),
                None => self.tail = prev,
            }
        }
        self.len -= 1;
    }
}

impl<T> Default for LinkedList<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> fmt::Debug for LinkedList<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LinkedList")
            .field("len", &self.len)
            .finish()
    }
}

impl<T> Drop for LinkedList<T> {
    fn drop(&mut self) {
        // A waiting future borrows (or holds an `Arc` to) its primitive, so the primitive
        // and its list outlive every node: an empty list here is invariant 2 at work.
        debug_assert!(
            self.is_empty() || std::thread::panicking(),
            "waiter list dropped with nodes in it"
        );
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn push_pop_remove_keep_fifo_order() {
        let nodes: Vec<_> = (0..4).map(|i| Box::pin(Node::new(i))).collect();
        let ptr = |i: usize| NonNull::from(&*nodes[i]);
        let mut list = LinkedList::new();
        for i in 0..4 {
            // SAFETY: boxed and pinned nodes, removed before they are freed.
            unsafe { list.push_back(ptr(i)) };
        }
        assert_eq!(list.len(), 4);
        // SAFETY: node 2 is live and in `list`.
        assert!(unsafe { list.remove(ptr(2)) });
        // SAFETY: as above; a second removal is a no-op.
        assert!(!unsafe { list.remove(ptr(2)) });
        let mut order = Vec::new();
        while let Some(n) = list.pop_front() {
            // SAFETY: live node, single thread.
            order.push(unsafe { Node::with_value(n, |v| *v) });
        }
        assert_eq!(order, [0, 1, 3]);
        assert!(list.is_empty());
        // SAFETY: node 3 was popped; re-push and remove the last node to cover tail fixing.
        unsafe {
            list.push_back(ptr(0));
            list.push_back(ptr(3));
            assert!(list.remove(ptr(3)));
            assert_eq!(list.pop_front(), Some(ptr(0)));
        }
        assert!(list.is_empty());
    }
}
