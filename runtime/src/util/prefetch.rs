//! A hint to the CPU to start loading memory that is about to be used.
//!
//! Where it pays: walks over cold memory that belongs to many tasks (a timer slot's
//! entries, the tasks that a batch of wake-ups is about to touch), where the next address
//! is known a little before it is needed and each cache miss would otherwise stall the walk.

/// Starts loading the `len` bytes at `ptr` (at most two cache lines: the first and the last
/// byte) into the cache. Changes nothing but the cache: any address is fine, even a
/// dangling one.
pub(crate) fn prefetch(ptr: *const u8, len: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        let first = ptr.cast::<i8>();
        let last = first.wrapping_add(len.max(1) - 1);
        // SAFETY: a prefetch never faults and has no effect but on the cache, whatever the
        // address; SSE, which it needs, is part of the x86_64 baseline.
        unsafe {
            _mm_prefetch::<_MM_HINT_T0>(first);
            _mm_prefetch::<_MM_HINT_T0>(last);
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (ptr, len);
}
