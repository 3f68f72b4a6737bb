//! Wakers: one static [`RawWakerVTable`] for every task; the data pointer is the task's
//! header, and each waker owns one task reference (the borrowed waker handed to `poll`
//! excepted, which the poller's reference covers and which is never dropped).

use std::ptr::NonNull;
use std::task::{RawWaker, RawWakerVTable, Waker};

use super::core::Header;

static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, wake, wake_by_ref, drop_waker);

/// A waker for the task that does not own a reference.
///
/// # Safety
/// The caller keeps a reference alive for as long as the waker is used and never drops the
/// returned waker (wrap it in `ManuallyDrop`); clones own their own reference.
pub(super) unsafe fn borrowed(ptr: NonNull<Header>) -> Waker {
    // SAFETY: the vtable functions below uphold the RawWaker contract for task pointers.
    unsafe { Waker::from_raw(RawWaker::new(ptr.as_ptr() as *const (), &VTABLE)) }
}

fn header(ptr: *const ()) -> NonNull<Header> {
    // SAFETY: every waker with this vtable was made from a non-null header pointer.
    unsafe { NonNull::new_unchecked(ptr as *mut Header) }
}

unsafe fn clone(ptr: *const ()) -> RawWaker {
    // SAFETY: the waker being cloned holds (or is covered by) a reference.
    unsafe { header(ptr).as_ref() }.state.ref_inc();
    RawWaker::new(ptr, &VTABLE)
}

unsafe fn wake(ptr: *const ()) {
    // By value: wake while our reference still pins the task, then give it up, so the
    // scheduler handle inside the task outlives the scheduling call.
    // SAFETY: this waker owns a reference, dropped just after.
    unsafe {
        Header::wake_by_ref(header(ptr));
        Header::drop_ref(header(ptr));
    }
}

unsafe fn wake_by_ref(ptr: *const ()) {
    // SAFETY: the waker holds (or is covered by) a reference for this call.
    unsafe { Header::wake_by_ref(header(ptr)) }
}

unsafe fn drop_waker(ptr: *const ()) {
    // SAFETY: this waker owns a reference.
    unsafe { Header::drop_ref(header(ptr)) }
}
