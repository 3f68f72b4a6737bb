//! Leaf helpers with no knowledge of tasks or schedulers.

pub(crate) mod cache_padded;
pub(crate) mod linked_list;
pub(crate) mod prefetch;
// Under loom the runtime queues through a stand-in (`scheduler::inject`): only the
// injector's own models use the link.
#[cfg_attr(loom, allow(dead_code))]
pub(crate) mod queue_link;
pub(crate) mod rand;
pub(crate) mod try_lock;
pub(crate) mod wake_list;
