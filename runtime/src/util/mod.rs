//! Leaf helpers with no knowledge of tasks or schedulers.

pub(crate) mod cache_padded;
pub(crate) mod linked_list;
pub(crate) mod prefetch;
pub(crate) mod rand;
pub(crate) mod try_lock;
pub(crate) mod wake_list;
