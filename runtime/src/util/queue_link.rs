//! The link of an intrusive, singly linked queue: one pointer, embedded in each item, so that
//! queueing an item allocates nothing (see `scheduler::inject`, the only queue that uses it).

use std::ptr::{self, NonNull};

use crate::loom::sync::atomic::AtomicPtr;

/// The next item in the queue, or null. Written by the producer that links the following
/// item (Release), read by the consumer (Acquire); see `scheduler::inject` for the protocol.
#[derive(Debug)]
pub(crate) struct QueueLink {
    pub(crate) next: AtomicPtr<QueueLink>,
}

impl QueueLink {
    pub(crate) fn new() -> Self {
        Self {
            next: AtomicPtr::new(ptr::null_mut()),
        }
    }
}

/// An owning handle to an item that carries a [`QueueLink`]: converting to the link gives the
/// queue the item's ownership, converting back takes it out again.
pub(crate) trait Linked: Sized {
    /// Gives up ownership to the returned link, which stays valid until `from_link`.
    fn into_link(self) -> NonNull<QueueLink>;

    /// # Safety
    /// `link` came from [`Linked::into_link`] of this type and is converted back once.
    unsafe fn from_link(link: NonNull<QueueLink>) -> Self;
}
