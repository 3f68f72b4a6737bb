//! Leaf helpers with no knowledge of tasks or schedulers.
