//! Keeps hot atomics of different threads on different cache lines.

use std::ops::{Deref, DerefMut};

/// Aligns `T` to 128 bytes: two 64-byte lines, since x86's adjacent-line prefetcher pulls
/// pairs of lines and would otherwise bring back false sharing.
#[derive(Debug, Default)]
#[repr(align(128))]
pub(crate) struct CachePadded<T>(pub(crate) T);

impl<T> Deref for CachePadded<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> DerefMut for CachePadded<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}
