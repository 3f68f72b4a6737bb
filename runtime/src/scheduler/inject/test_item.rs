//! A boxed test item for the injector's tests and models: a number, and a counter of drops.

use std::ptr::NonNull;

use crate::loom::sync::atomic::{AtomicUsize, Ordering};
use crate::loom::sync::Arc;
use crate::util::queue_link::{Linked, QueueLink};

#[derive(Debug)]
struct Node {
    link: QueueLink,
    value: usize,
    drops: Arc<AtomicUsize>,
}

/// Owns one boxed node; dropping it counts one drop.
#[derive(Debug)]
pub(super) struct Item(Box<Node>);

impl Item {
    pub(super) fn new(value: usize, drops: &Arc<AtomicUsize>) -> Self {
        Item(Box::new(Node {
            link: QueueLink::new(),
            value,
            drops: drops.clone(),
        }))
    }

    pub(super) fn value(&self) -> usize {
        self.0.value
    }
}

impl Drop for Item {
    fn drop(&mut self) {
        self.0.drops.fetch_add(1, Ordering::Relaxed);
    }
}

impl Linked for Item {
    fn into_link(self) -> NonNull<QueueLink> {
        let node = Box::into_raw(into_box(self));
        // SAFETY: `node` is a live, leaked box; the link is one of its fields.
        unsafe { NonNull::new_unchecked(std::ptr::addr_of_mut!((*node).link)) }
    }

    unsafe fn from_link(link: NonNull<QueueLink>) -> Self {
        // SAFETY: per the trait's contract `link` is the `link` field of a node leaked by
        // `into_link`, so stepping back by its offset gives the box's pointer, used once.
        unsafe {
            let node = link
                .as_ptr()
                .cast::<u8>()
                .sub(std::mem::offset_of!(Node, link))
                .cast::<Node>();
            Item(Box::from_raw(node))
        }
    }
}

/// The box out of an `Item` without running its `Drop` (which counts drops).
fn into_box(item: Item) -> Box<Node> {
    let item = std::mem::ManuallyDrop::new(item);
    // SAFETY: `item` is never used or dropped again, so the box is moved out once.
    unsafe { std::ptr::read(&item.0) }
}
