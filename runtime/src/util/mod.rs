//! Leaf helpers with no knowledge of tasks or schedulers.

pub(crate) mod cache_padded;
pub(crate) mod rand;
