//! Leaf helpers with no knowledge of tasks or schedulers.

pub(crate) mod rand;
