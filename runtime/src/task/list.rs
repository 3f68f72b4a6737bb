//! The owned-task list: every live task of a runtime, so that shutdown can cancel them all.
//!
//! Protocol (invariant I5: after shutdown begins, every task still alive is cancelled exactly
//! once and nothing is scheduled onto a closed runtime):
//! 1. `bind` allocates a task and, under its shard's lock, checks `closed`; if open it links
//!    the task into a slab entry (the list holds the task's `Task` reference; the task's
//!    `Links` record the entry's index) and returns its `Notified`. If closed it cancels the
//!    task at once, so its `JoinHandle` reports cancellation.
//! 2. A task that completes unlinks itself (`remove`), under the same lock: its entry goes
//!    back on the shard's free list. Or its scheduler keeps the completer's reference
//!    (`Schedule::defer_release`; a busy multi-thread worker does) and unlinks a batch of
//!    such tasks later (`remove_batch`), one lock per shard; until then the task is
//!    complete but linked, and step 3 treats it like any other (its shutdown finds it
//!    complete and only drops the list's reference; the batch then drops its own).
//! 3. `close_and_shutdown_all` sets `closed`, then drains each shard under its lock, one task
//!    at a time, and shuts down each task outside the lock. A `bind` that takes a shard lock
//!    after the drain of that shard sees `closed` (the lock orders it after the store), so no
//!    task is missed.
//!
//! The list is sharded by task id, in runs of 64 consecutive ids, and each shard keeps its own
//! count, so that spawns and completions on different workers rarely share a lock or a
//! cache line. Runs rather than id modulo the shard count: a thread spawning many tasks in a
//! row keeps one shard's lock in its cache for 64 of them instead of taking a different,
//! cold one each time, and tasks spawned together (which tend to finish together: a burst
//! of timers) fall into few shards, so a batch unlink (`remove_batch`) takes few locks.

use std::future::Future;
use std::marker::PhantomData;
use std::ptr::NonNull;

use super::core::{allocate, Header};
use super::{Id, JoinHandle, Notified, Schedule, Task};
use crate::loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use crate::loom::sync::Mutex;
use crate::util::cache_padded::CachePadded;

/// A task's place in the list: the index of its entry in its shard's slab. Inside each task's
/// header; guarded by the shard lock.
#[derive(Debug)]
pub(crate) struct Links {
    /// [`UNLINKED`] when the task is in no list.
    slot: usize,
}

/// `Links::slot` of a task that is in no list; also the end of a shard's free list.
const UNLINKED: usize = usize::MAX;

impl Default for Links {
    fn default() -> Self {
        Links { slot: UNLINKED }
    }
}

/// One entry of a shard's slab.
#[derive(Debug, Clone, Copy)]
enum Entry {
    /// A live task; the list holds its `Task` reference.
    Task(NonNull<Header>),
    /// Free; the index of the next free entry (or [`UNLINKED`]).
    Vacant(usize),
}

/// A shard: a slab of entries with a free list through the vacant ones.
///
/// A slab rather than a linked list through the task headers: unlinking a task then writes
/// one slab entry (a dense array, 16 bytes per task) instead of the headers of two
/// neighbours, which were spawned long before and are cold when tasks finish in a different
/// order than they started (a burst of timers, say). The cost: a slab keeps the capacity of
/// its busiest moment until all of its tasks have left (see `shrink_if_empty`).
#[derive(Debug)]
struct Shard {
    entries: Vec<Entry>,
    /// The first vacant entry, or [`UNLINKED`].
    free: usize,
}

// SAFETY: the raw pointers are task headers, which are Send + Sync; the shard is only
// accessed under its mutex.
unsafe impl Send for Shard {}

/// Consecutive task ids share a shard in runs of `1 << SHARD_RUN_BITS` (see the module doc).
const SHARD_RUN_BITS: u32 = 6;

/// A shard slab whose tasks all left keeps at most this many entries of capacity.
const KEEP_CAPACITY: usize = 1024;

/// A shard's lock and its task count. The count is written only under the lock (a plain
/// store, no read-modify-write) and read without it by [`OwnedTasks::len`]: one count per
/// shard, so that workers completing tasks on different shards never share a cache line.
#[derive(Debug)]
struct ShardSlot {
    shard: Mutex<Shard>,
    len: AtomicUsize,
}

/// The list of a runtime's live tasks.
pub(crate) struct OwnedTasks<S: 'static> {
    shards: Box<[CachePadded<ShardSlot>]>,
    mask: usize,
    closed: AtomicBool,
    _scheduler: PhantomData<fn(S)>,
}

impl<S: Schedule> OwnedTasks<S> {
    /// A list with about `shards` shards (rounded up to a power of two).
    pub(crate) fn new(shards: usize) -> Self {
        let n = shards
            .clamp(1, crate::loom::MAX_OWNED_SHARDS)
            .next_power_of_two();
        OwnedTasks {
            shards: (0..n)
                .map(|_| {
                    CachePadded(ShardSlot {
                        shard: Mutex::new(Shard {
                            entries: Vec::new(),
                            free: UNLINKED,
                        }),
                        len: AtomicUsize::new(0),
                    })
                })
                .collect(),
            mask: n - 1,
            closed: AtomicBool::new(false),
            _scheduler: PhantomData,
        }
    }

    fn shard(&self, id: Id) -> &ShardSlot {
        &self.shards[self.shard_index(id)]
    }

    /// Runs of `1 << SHARD_RUN_BITS` consecutive ids share a shard.
    fn shard_index(&self, id: Id) -> usize {
        (id.as_u64() >> SHARD_RUN_BITS) as usize & self.mask
    }

    /// Step 1: creates a task for `future`. Returns its `JoinHandle` and, unless the list is
    /// closed, the `Notified` to queue.
    pub(crate) fn bind<T>(
        &self,
        future: T,
        scheduler: S,
        id: Id,
    ) -> (JoinHandle<T::Output>, Option<Notified<S>>)
    where
        T: Future + Send + 'static,
        T::Output: Send + 'static,
    {
        // SAFETY: `T: Send`, so the task may be polled on any thread.
        unsafe { self.bind_inner(future, scheduler, id) }
    }

    /// As [`OwnedTasks::bind`] for a `!Send` future.
    ///
    /// # Safety
    /// The task must only ever be polled, cancelled and dropped on the current thread (the
    /// scheduler `S` guarantees it, e.g. a `LocalSet`).
    pub(crate) unsafe fn bind_local<T>(
        &self,
        future: T,
        scheduler: S,
        id: Id,
    ) -> (JoinHandle<T::Output>, Option<Notified<S>>)
    where
        T: Future + 'static,
        T::Output: 'static,
    {
        // SAFETY: forwarded to the caller.
        unsafe { self.bind_inner(future, scheduler, id) }
    }

    /// # Safety
    /// If `T` is not `Send`, see [`OwnedTasks::bind_local`].
    unsafe fn bind_inner<T>(
        &self,
        future: T,
        scheduler: S,
        id: Id,
    ) -> (JoinHandle<T::Output>, Option<Notified<S>>)
    where
        T: Future + 'static,
    {
        let ptr = allocate(future, scheduler, id);
        // SAFETY: `allocate` made three references: the list's, the queue's, the handle's.
        let (task, notified, join) = unsafe {
            (
                Task::<S>::from_raw(ptr),
                Notified::<S>::from_raw(ptr),
                JoinHandle::from_raw(ptr),
            )
        };
        let slot = self.shard(id);
        let mut shard = slot.shard.lock();
        if self.closed.load(Ordering::Relaxed) {
            // Relaxed suffices: `closed` is stored before `close_and_shutdown_all` takes
            // this lock, and read under it.
            drop(shard);
            drop(notified);
            task.shutdown();
            return (join, None);
        }
        // SAFETY: we hold the shard lock, which guards the links of every task in it.
        unsafe { shard.link(ptr) };
        // Relaxed: a statistic; the lock orders the writers (see `ShardSlot`).
        slot.len
            .store(slot.len.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        drop(shard);
        std::mem::forget(task);
        (join, Some(notified))
    }

    /// Step 2: unlinks a completing task; returns the list's reference if it was linked.
    pub(crate) fn remove(&self, task: &Task<S>) -> Option<Task<S>> {
        let ptr = task.header_ptr();
        // SAFETY: the caller's `task` keeps the header alive.
        let id = unsafe { ptr.as_ref() }.id;
        let slot = self.shard(id);
        let mut shard = slot.shard.lock();
        // SAFETY: we hold the lock of the shard this task is (or would be) linked into.
        if !unsafe { shard.unlink(ptr) } {
            return None;
        }
        slot.len
            .store(slot.len.load(Ordering::Relaxed) - 1, Ordering::Relaxed);
        shard.shrink_if_empty(&slot.len);
        drop(shard);
        // SAFETY: the list's reference, now handed to the caller.
        Some(unsafe { Task::from_raw(ptr) })
    }

    /// Step 2 for a batch of completed tasks, emptying `tasks`: each `Task` is a reference
    /// the caller gives up. Sorted by shard, so each shard's lock is taken once per batch
    /// instead of once per task: on a busy runtime the shard locks' cache lines move
    /// between the workers (and the spawning thread) at every lock, and one such move per
    /// task cost 13 % of the CPU in the 100,000-sleep benchmark.
    ///
    /// `remaining(n)` runs under each shard lock just before that shard's count drops, with
    /// the number of the batch's tasks in later groups: the caller's own count of kept
    /// tasks then drops in step, so a sum of the two is never off by a whole batch.
    pub(crate) fn remove_batch(&self, tasks: &mut Vec<Task<S>>, mut remaining: impl FnMut(usize)) {
        let shard_of = |t: &Task<S>| self.shard_index(t.id());
        tasks.sort_unstable_by_key(shard_of);
        // From the back, one shard (and at most 64 tasks, one bit each) per lock.
        while let Some(last) = tasks.last() {
            let index = shard_of(last);
            let group = tasks
                .iter()
                .rev()
                .take(64)
                .take_while(|t| shard_of(t) == index)
                .count();
            let start = tasks.len() - group;
            let slot = &self.shards[index];
            let mut linked = 0u64;
            {
                let mut shard = slot.shard.lock();
                for (i, task) in tasks[start..].iter().enumerate() {
                    // SAFETY: we hold the lock of the shard this task is (or was) linked
                    // into, and the caller's reference keeps the task alive.
                    if unsafe { shard.unlink(task.header_ptr()) } {
                        linked |= 1 << i;
                    }
                }
                let removed = linked.count_ones() as usize;
                remaining(start);
                slot.len.store(
                    slot.len.load(Ordering::Relaxed) - removed,
                    Ordering::Relaxed,
                );
                shard.shrink_if_empty(&slot.len);
            }
            // Outside the lock: a last reference frees its task, which runs destructors.
            for i in (0..group).rev() {
                let task = tasks.pop().expect("the group is in the vector");
                // SAFETY: the caller's reference, plus the list's if we just unlinked it.
                unsafe { task.drop_refs(1 + usize::from(linked & (1 << i) != 0)) };
            }
        }
    }

    /// Step 3: closes the list and cancels every task in it.
    pub(crate) fn close_and_shutdown_all(&self) {
        self.closed.store(true, Ordering::Relaxed);
        for slot in self.shards.iter() {
            // Entries before `cursor` are vacant: no task joins a closed list, and a task
            // that leaves only vacates its entry, so the scan never needs to look back.
            let mut cursor = 0;
            loop {
                let task = {
                    let mut shard = slot.shard.lock();
                    let Some(ptr) = shard.next_task(&mut cursor) else {
                        shard.shrink_if_empty(&slot.len);
                        break;
                    };
                    // SAFETY: under the shard lock; `ptr` is linked in this shard.
                    unsafe { shard.unlink(ptr) };
                    slot.len
                        .store(slot.len.load(Ordering::Relaxed) - 1, Ordering::Relaxed);
                    // SAFETY: the list's reference, now ours.
                    unsafe { Task::<S>::from_raw(ptr) }
                };
                task.shutdown();
            }
        }
    }
}

impl<S: 'static> OwnedTasks<S> {
    /// The number of live tasks (a sum of per-shard counts, each exact under its lock; read
    /// without the locks, so only approximate while tasks start or finish).
    pub(crate) fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|slot| slot.len.load(Ordering::Relaxed))
            .sum()
    }

    /// True if no task is alive.
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Shard {
    /// Puts `ptr` in a vacant entry (or a new one) and records the index in its links.
    ///
    /// # Safety
    /// The caller holds this shard's lock and `ptr` is a live task in no list.
    unsafe fn link(&mut self, ptr: NonNull<Header>) {
        let index = match self.free {
            UNLINKED => {
                self.entries.push(Entry::Task(ptr));
                self.entries.len() - 1
            }
            index => {
                let Entry::Vacant(next) = self.entries[index] else {
                    unreachable!("the free list leads to an occupied entry");
                };
                self.free = next;
                self.entries[index] = Entry::Task(ptr);
                index
            }
        };
        // SAFETY: links are guarded by the shard lock, which the caller holds.
        unsafe { ptr.as_ref().owned.with_mut(|l| (*l).slot = index) };
    }

    /// Vacates the task's entry; returns false if the task was not linked.
    ///
    /// # Safety
    /// The caller holds the lock of the shard the task belongs to, and `ptr` is live.
    unsafe fn unlink(&mut self, ptr: NonNull<Header>) -> bool {
        // SAFETY: links are guarded by the shard lock, which the caller holds.
        let index = unsafe {
            ptr.as_ref()
                .owned
                .with_mut(|l| std::mem::replace(&mut (*l).slot, UNLINKED))
        };
        if index == UNLINKED {
            return false;
        }
        debug_assert!(matches!(self.entries[index], Entry::Task(p) if p == ptr));
        self.entries[index] = Entry::Vacant(self.free);
        self.free = index;
        true
    }

    /// The first task at or after `*cursor`, moving the cursor to it.
    fn next_task(&self, cursor: &mut usize) -> Option<NonNull<Header>> {
        while let Some(&entry) = self.entries.get(*cursor) {
            if let Entry::Task(ptr) = entry {
                return Some(ptr);
            }
            *cursor += 1;
        }
        None
    }

    /// Gives back a large slab once its last task left (after a burst of tasks), so that the
    /// list holds no memory for tasks that are gone.
    fn shrink_if_empty(&mut self, len: &AtomicUsize) {
        if len.load(Ordering::Relaxed) == 0 && self.entries.capacity() > KEEP_CAPACITY {
            self.entries = Vec::new();
            self.free = UNLINKED;
        }
    }
}

impl<S> std::fmt::Debug for OwnedTasks<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OwnedTasks")
            .field("len", &self.len())
            .field("closed", &self.closed.load(Ordering::Relaxed))
            .finish()
    }
}

impl<S: 'static> Drop for OwnedTasks<S> {
    fn drop(&mut self) {
        debug_assert!(
            self.is_empty() || std::thread::panicking(),
            "a runtime's task list was dropped with live tasks; shut it down first"
        );
    }
}

/// A scheduler for the tests and models below that keeps completed tasks for a later
/// `remove_batch`, as a busy worker does.
#[cfg(test)]
#[derive(Clone)]
struct Deferring {
    list: crate::loom::sync::Arc<OwnedTasks<Deferring>>,
    kept: crate::loom::sync::Arc<crate::loom::sync::Mutex<Vec<Task<Deferring>>>>,
}

#[cfg(test)]
impl Deferring {
    fn new(list: crate::loom::sync::Arc<OwnedTasks<Deferring>>) -> Self {
        Deferring {
            list,
            kept: crate::loom::sync::Arc::new(crate::loom::sync::Mutex::new(Vec::new())),
        }
    }

    /// Takes what was kept so far.
    fn take_kept(&self) -> Vec<Task<Deferring>> {
        std::mem::take(&mut *self.kept.lock())
    }
}

#[cfg(test)]
impl Schedule for Deferring {
    fn schedule(&self, _task: Notified<Self>) {
        unreachable!("no test task wakes itself")
    }
    fn release(&self, task: &Task<Self>) -> Option<Task<Self>> {
        self.list.remove(task)
    }
    fn defer_release(&self, task: Task<Self>) -> Option<Task<Self>> {
        self.kept.lock().push(task);
        None
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[derive(Clone)]
    struct S(Arc<OwnedTasks<S>>);

    impl Schedule for S {
        fn schedule(&self, _task: Notified<Self>) {
            unreachable!("no test task wakes itself")
        }
        fn release(&self, task: &Task<Self>) -> Option<Task<Self>> {
            self.0.remove(task)
        }
    }

    fn list(shards: usize) -> (Arc<OwnedTasks<S>>, S) {
        let list = Arc::new(OwnedTasks::new(shards));
        (list.clone(), S(list))
    }

    fn slab_sizes(list: &OwnedTasks<S>) -> Vec<(usize, usize)> {
        list.shards
            .iter()
            .map(|s| {
                let shard = s.shard.lock();
                (shard.entries.len(), shard.entries.capacity())
            })
            .collect()
    }

    #[test]
    fn tasks_leave_in_any_order_and_entries_are_reused() {
        // One shard, so that it surely grows past KEEP_CAPACITY (ids are process-wide).
        let (list, s) = list(1);
        let n = 3 * KEEP_CAPACITY;
        let mut queued: Vec<_> = (0..n)
            .map(|i| {
                let (join, notified) = list.bind(async move { i }, s.clone(), Id::next());
                Some((join, notified.expect("the list is open")))
            })
            .collect();
        assert_eq!(list.len(), n);
        // Finish them in a scrambled order (a stride coprime with n), as timers do.
        let mut order: Vec<usize> = (0..n).map(|i| (i * 7919) % n).collect();
        order.sort_unstable();
        order.dedup();
        assert_eq!(order.len(), n, "the stride is a permutation");
        let mut joins = Vec::new();
        for k in 0..n {
            let (join, notified) = queued[(k * 7919) % n].take().expect("run once");
            notified.run();
            assert!(join.is_finished());
            joins.push(join);
            assert_eq!(list.len(), n - k - 1);
        }
        drop(queued);
        assert!(list.is_empty());
        // The shard grew past KEEP_CAPACITY and gave its slab back when it emptied.
        assert!(slab_sizes(&list)
            .iter()
            .all(|&(len, cap)| len == 0 && cap == 0));
        drop(joins);

        // Steady spawn-and-finish reuses the freed entries instead of growing the slab.
        for _ in 0..100 {
            let (_join, notified) = list.bind(async {}, s.clone(), Id::next());
            notified.unwrap().run();
        }
        assert!(slab_sizes(&list).iter().all(|&(len, _)| len <= 1));
        list.close_and_shutdown_all();
    }

    #[test]
    fn close_cancels_the_tasks_still_linked_and_refuses_new_ones() {
        // One shard, tasks that finish and tasks that wait alternating in it, so the close
        // must skip the vacant entries that the finished ones leave between the others.
        let (list, s) = list(1);
        let mut pending = Vec::new();
        let mut done = Vec::new();
        for _ in 0..10 {
            done.push(list.bind(async {}, s.clone(), Id::next()));
            let (join, notified) = list.bind(std::future::pending::<()>(), s.clone(), Id::next());
            notified.unwrap().run();
            pending.push(join);
        }
        assert_eq!(list.len(), 20);
        for (join, notified) in done {
            notified.unwrap().run();
            assert!(join.is_finished());
        }
        assert_eq!(list.len(), 10);
        list.close_and_shutdown_all();
        assert!(list.is_empty());
        for join in pending {
            assert!(join.is_finished());
            let err = futures_lite::future::block_on(join).unwrap_err();
            assert!(err.is_cancelled());
        }
        let (join, notified) = list.bind(async {}, s.clone(), Id::next());
        assert!(notified.is_none(), "a closed list takes no task");
        assert!(futures_lite::future::block_on(join)
            .unwrap_err()
            .is_cancelled());
        assert!(list.is_empty());
    }

    #[test]
    fn a_deferred_batch_leaves_the_list_and_frees_each_task_once() {
        // 300 tasks in two shards: one of them holds more than 64, so its group is split.
        let list = Arc::new(OwnedTasks::new(2));
        let s = Deferring::new(list.clone());
        // Each task's cell holds a clone of `s`, so the count of `kept`'s Arc tells how
        // many cells are still allocated.
        let cells = |s: &Deferring| Arc::strong_count(&s.kept) - 1;
        let n = 300;
        for i in 0..n {
            let (join, notified) = list.bind(async move { i }, s.clone(), Id::next());
            drop(join);
            notified.expect("the list is open").run();
        }
        let mut kept = s.take_kept();
        assert_eq!(kept.len(), n, "every completion was deferred");
        assert_eq!(list.len(), n, "deferred tasks stay linked");
        assert_eq!(cells(&s), n);

        // Half of them unlinked in one batch: freed at once, the rest untouched.
        let mut first: Vec<_> = kept.drain(..n / 2).collect();
        list.remove_batch(&mut first, |_| {});
        assert!(first.is_empty());
        assert_eq!(list.len(), n / 2);
        assert_eq!(cells(&s), n / 2);

        // The close unlinks the other half first; the batch then only drops its own
        // references (a double drop would free a cell twice, a missed one leak it).
        list.close_and_shutdown_all();
        assert!(list.is_empty());
        assert_eq!(cells(&s), n / 2, "the batch's references keep the cells");
        list.remove_batch(&mut kept, |_| {});
        assert_eq!(cells(&s), 0);
        assert!(list.is_empty());
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use crate::loom::sync::Arc;
    use crate::loom::thread;

    #[derive(Clone)]
    struct S(Arc<OwnedTasks<S>>);

    impl Schedule for S {
        fn schedule(&self, _task: Notified<Self>) {
            unreachable!("no model task wakes itself")
        }
        fn release(&self, task: &Task<Self>) -> Option<Task<Self>> {
            self.0.remove(task)
        }
    }

    /// A task finishes on another thread while the list is closed: its entry is vacated by
    /// exactly one of the two, the close still finds the task behind it, and both end up
    /// finished with the list empty.
    #[test]
    fn loom_list_close_races_complete() {
        loom::model(|| {
            let list = Arc::new(OwnedTasks::new(1));
            let s = S(list.clone());
            let (done, first) = list.bind(async {}, s.clone(), Id::next());
            let (cancelled, second) = list.bind(std::future::pending::<()>(), s, Id::next());
            let runner = thread::spawn(move || first.unwrap().run());
            list.close_and_shutdown_all();
            runner.join().unwrap();
            drop(second);
            assert!(list.is_empty());
            assert!(done.is_finished() && cancelled.is_finished());
        });
    }

    /// A worker completes a task, keeps it, and unlinks it in a batch while the list is
    /// closed: exactly one of the two unlinks it, each reference is dropped once (a cell
    /// freed twice or never would show as a double drop or a leaked `Arc` in the model),
    /// and the close still cancels the task that never ran.
    #[test]
    fn loom_list_close_races_batch_remove() {
        loom::model(|| {
            let list = Arc::new(OwnedTasks::new(1));
            let s = Deferring::new(list.clone());
            let (done, first) = list.bind(async {}, s.clone(), Id::next());
            let (cancelled, second) =
                list.bind(std::future::pending::<()>(), s.clone(), Id::next());
            let worker = {
                let (list, s) = (list.clone(), s.clone());
                thread::spawn(move || {
                    first.unwrap().run();
                    // Whatever was kept so far: ours (unless the close cancelled the task
                    // before it ran), perhaps the other task's, which the close completed
                    // (this test scheduler keeps completions on any thread).
                    let mut kept = s.take_kept();
                    list.remove_batch(&mut kept, |_| {});
                })
            };
            list.close_and_shutdown_all();
            worker.join().unwrap();
            let mut rest = s.take_kept();
            list.remove_batch(&mut rest, |_| {});
            drop(second);
            assert!(list.is_empty());
            assert!(done.is_finished() && cancelled.is_finished());
            assert!(s.kept.lock().is_empty());
        });
    }
}
