//! The hierarchical timer wheel: a pure data structure over intrusive timer entries.
//!
//! Time is counted in ticks of one millisecond since the time driver started. The wheel has
//! [`LEVELS`] levels of [`SLOTS`] slots; a slot of level `l` spans `64^l` ticks, so level 0
//! holds the next 64 ms one tick per slot and level 5 spans about 2.2 years. Each slot is a
//! few ([`CHAINS`]) doubly linked lists threaded through the entries themselves ([`Links`]),
//! filled and emptied in turn, so insert and remove are O(1) and allocate nothing, and a walk
//! over a slot has several cold entries loading at once. One bitmap per level records which
//! slots are occupied, so finding the next deadline costs one rotate and one
//! `trailing_zeros` per level.
//!
//! Invariants (the wheel lock, held by every caller, protects all of them):
//! 1. `elapsed` is the tick up to which the wheel has been advanced; it never goes back.
//! 2. Every entry in the wheel has `tick > elapsed` at insertion and `tick >= elapsed` after,
//!    because `elapsed` never moves past the start of an occupied slot without draining it.
//! 3. An entry whose tick is less than 64 ticks after `elapsed` (at insertion) sits at level
//!    0, in slot `tick % 64`: a slot behind the current one then holds ticks of the next
//!    64-tick block (it comes round again exactly at them), and one at or after it ticks of
//!    the current block; the two never share a slot. Any other entry sits at the level of the
//!    highest 6-bit group in which its tick differs from `elapsed`, at the slot given by its
//!    tick's bits of that group. So at levels 1 to 4 an occupied slot is never behind the
//!    current one; the top level wraps (a tick in the next 2^36-tick block), and
//!    [`MAX_DELAY`] keeps such a tick strictly behind the current top slot so that wrapped
//!    and current entries never share one.
//! 4. A slot is drained only once its start has been reached: entries whose tick has come are
//!    returned to fire; the others cascade to a lower level (they always go strictly lower).
//! 5. `Slot::head` says which entry is first in each of a slot's lists; a head's `prev` may
//!    be stale and is never read (so `pop_front` touches only the entry it pops; see there).
//!    Every other entry's `prev` is its predecessor.
//! 6. A slot's occupancy bit is set exactly when one of its lists has a head, and a slot
//!    whose lists are all empty has `push == pop == 0`.
//!
//! Protocol of [`Wheel::poll_next`] (called repeatedly with the current tick `now`):
//! 1. Find the earliest slot start over all levels (the occupancy bitmaps).
//! 2. If there is none, or it is after `now`, set `elapsed = now` and report nothing.
//! 3. Else advance `elapsed` to that slot start and pop one entry from it: return it if its
//!    tick has come, else re-insert it (cascade) and go back to step 1.
//!
//! The caller can stop between two calls (to wake a batch of wakers without the lock), and the
//! half-drained slot is found again at step 1, since the search includes the current slot.

use std::fmt;
use std::ptr::NonNull;

use super::entry::{Links, TimerShared};

/// Levels of the wheel.
pub(crate) const LEVELS: usize = 6;
/// Slots per level; one bit of a `u64` occupancy bitmap each.
pub(crate) const SLOTS: usize = 64;
const SLOT_BITS: u32 = SLOTS.trailing_zeros();
const SLOT_MASK: u64 = SLOTS as u64 - 1;

/// The longest delay, in ticks, that the wheel holds: a little less than the `64^6`-tick range
/// of the wheel (invariant 3). Later deadlines are clamped to `elapsed + MAX_DELAY`.
pub(crate) const MAX_DELAY: u64 =
    (1 << (SLOT_BITS * LEVELS as u32)) - (1 << (SLOT_BITS * (LEVELS as u32 - 1))) - 1;

/// Independent lists per slot; an entry goes to the next one in turn.
///
/// Why more than one: firing (and cascading) a slot walks cold entries, each in a different
/// task's memory, and a list reveals its next entry only once the current one has loaded.
/// With one list the walk waits for memory at every step (about 200-300 ns an entry with
/// 100,000 timers); popping the lists in turn keeps `CHAINS` of those loads in flight (each
/// new head is prefetched as it becomes head and is needed only `CHAINS` pops later).
pub(crate) const CHAINS: usize = 4;

/// `CHAINS` lists of entries, threaded through their [`Links`]. Entries are pushed onto the
/// lists in turn (`push`) and popped in the same turn (`pop`), so a slot that loses no entry
/// before it fires gives them back in insertion order.
#[derive(Debug, Clone, Copy)]
struct Slot {
    head: [Option<NonNull<TimerShared>>; CHAINS],
    tail: [Option<NonNull<TimerShared>>; CHAINS],
    /// The list the next push goes to.
    push: u8,
    /// The list the next pop looks at first.
    pop: u8,
}

const EMPTY: Slot = Slot {
    head: [None; CHAINS],
    tail: [None; CHAINS],
    push: 0,
    pop: 0,
};

impl Slot {
    /// True if none of the lists has an entry (one cache line: the heads are side by side).
    fn is_empty(&self) -> bool {
        self.head.iter().all(Option::is_none)
    }
}

/// The wheel. Holds raw pointers to entries that their owners keep alive and pinned until
/// they are removed (see the `# Safety` sections).
pub(crate) struct Wheel {
    elapsed: u64,
    len: usize,
    occupied: [u64; LEVELS],
    slots: Box<[[Slot; SLOTS]; LEVELS]>,
}

// SAFETY: the entries the wheel points to are `Sync` (`TimerShared`), and the wheel's own use
// of their links is serialized by the lock that the wheel lives behind.
unsafe impl Send for Wheel {}

impl Wheel {
    pub(crate) fn new() -> Self {
        Wheel {
            elapsed: 0,
            len: 0,
            occupied: [0; LEVELS],
            slots: Box::new([[EMPTY; SLOTS]; LEVELS]),
        }
    }

    /// The tick up to which the wheel has advanced (invariant 1).
    pub(crate) fn elapsed(&self) -> u64 {
        self.elapsed
    }

    /// How many entries are in the wheel.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Inserts `entry` to fire at `tick` (clamped to `elapsed + MAX_DELAY`) and returns the
    /// tick it will fire at, or `Err(())` if `tick` has already come (`tick <= elapsed`), in
    /// which case the entry was not inserted.
    ///
    /// # Safety
    /// `entry` points to a live, pinned [`TimerShared`] that is in no wheel, and stays alive
    /// until it leaves this wheel through [`Wheel::remove`], [`Wheel::poll_next`] or
    /// [`Wheel::pop_any`]. The caller holds the lock this wheel lives behind.
    pub(crate) unsafe fn insert(
        &mut self,
        entry: NonNull<TimerShared>,
        tick: u64,
    ) -> Result<u64, ()> {
        if tick <= self.elapsed {
            return Err(());
        }
        let tick = tick.min(self.elapsed + MAX_DELAY);
        // SAFETY: forwarded from this function's contract.
        unsafe { self.push_back(entry, tick) };
        self.len += 1;
        Ok(tick)
    }

    /// Removes `entry` from the wheel.
    ///
    /// # Safety
    /// `entry` is live and currently in this wheel; the caller holds the wheel's lock.
    pub(crate) unsafe fn remove(&mut self, entry: NonNull<TimerShared>) {
        // SAFETY: the entry is in this wheel (contract), so its links are ours to use.
        let (prev, next, index) =
            unsafe { TimerShared::with_links(entry, |l| (l.prev.take(), l.next.take(), l.slot)) };
        let (level, slot, chain) = split_index(index);
        let list = &mut self.slots[level][slot];
        // A head's `prev` is stale (see `pop_front`): the slot says who the head is.
        if list.head[chain] == Some(entry) {
            list.head[chain] = next;
            if next.is_none() {
                list.tail[chain] = None;
            }
            // The new head's `prev` goes stale too; nothing reads it.
        } else {
            let prev = prev.expect("an entry behind the head has a predecessor");
            // SAFETY: neighbours in a slot list are live entries of this wheel.
            unsafe { TimerShared::with_links(prev, |l| l.next = next) };
            match next {
                // SAFETY: as above.
                Some(n) => unsafe { TimerShared::with_links(n, |l| l.prev = Some(prev)) },
                None => list.tail[chain] = Some(prev),
            }
        }
        if list.is_empty() {
            // Restart the turns so that the next entries come back in insertion order.
            (list.push, list.pop) = (0, 0);
            self.occupied[level] &= !(1 << slot);
        }
        self.len -= 1;
    }

    /// The start tick of the earliest occupied slot: no entry fires before it. `None` when the
    /// wheel is empty.
    pub(crate) fn next_deadline(&self) -> Option<u64> {
        self.next_expiration().map(|(_, _, tick)| tick)
    }

    /// Advances towards `now` and returns the next entry whose tick has come, having removed
    /// it from the wheel; `None` once no entry is due at `now` (see the module protocol).
    pub(crate) fn poll_next(&mut self, now: u64) -> Option<NonNull<TimerShared>> {
        loop {
            let Some((level, slot, start)) = self.next_expiration().filter(|e| e.2 <= now) else {
                self.elapsed = self.elapsed.max(now);
                return None;
            };
            self.elapsed = self.elapsed.max(start);
            let entry = self.pop_front(level, slot).expect("occupied slot is empty");
            // SAFETY: the entry was in this wheel until just now and is live (insert contract).
            let tick = unsafe { TimerShared::with_links(entry, |l| l.tick) };
            if tick <= self.elapsed {
                self.len -= 1;
                return Some(entry);
            }
            // Cascade (invariant 4): the tick is within this slot's span, so its highest
            // differing group from `elapsed` is below `level`.
            debug_assert!(level_for(self.elapsed, tick) < level);
            // SAFETY: the entry is live and now in no list.
            unsafe { self.push_back(entry, tick) };
        }
    }

    /// Removes and returns any entry (used to empty the wheel at shutdown).
    pub(crate) fn pop_any(&mut self) -> Option<NonNull<TimerShared>> {
        let level = self.occupied.iter().position(|&o| o != 0)?;
        let slot = self.occupied[level].trailing_zeros() as usize;
        let entry = self.pop_front(level, slot);
        self.len -= 1;
        entry
    }

    /// `(level, slot, start tick)` of the earliest occupied slot.
    fn next_expiration(&self) -> Option<(usize, usize, u64)> {
        let mut best: Option<(usize, usize, u64)> = None;
        for (level, &occupied) in self.occupied.iter().enumerate() {
            if occupied == 0 {
                continue;
            }
            let shift = SLOT_BITS * level as u32;
            let current = ((self.elapsed >> shift) & SLOT_MASK) as u32;
            // The first occupied slot at or after the current one, wrapping around.
            let slot = (current + occupied.rotate_right(current).trailing_zeros()) % SLOTS as u32;
            let span = 1u64 << shift;
            let block = span << SLOT_BITS;
            let mut start = (self.elapsed & !(block - 1)) + u64::from(slot) * span;
            if slot < current {
                // Level 0 and the top level wrap (invariant 3): the slot is in the next block.
                start += block;
            }
            if best.is_none_or(|(_, _, t)| start < t) {
                best = Some((level, slot as usize, start));
            }
        }
        best
    }

    /// Links `entry` at the back of the slot for `tick`.
    ///
    /// # Safety
    /// As for [`Wheel::insert`]; `tick > elapsed - 1` and within `MAX_DELAY` of `elapsed`.
    unsafe fn push_back(&mut self, entry: NonNull<TimerShared>, tick: u64) {
        let level = level_for(self.elapsed, tick);
        let slot = ((tick >> (SLOT_BITS * level as u32)) & SLOT_MASK) as usize;
        let list = &mut self.slots[level][slot];
        let chain = usize::from(list.push);
        list.push = ((chain + 1) % CHAINS) as u8;
        let tail = list.tail[chain];
        // SAFETY: the entry is live and in no list (contract), so its links are ours.
        unsafe {
            TimerShared::with_links(entry, |l| {
                *l = Links {
                    prev: tail,
                    next: None,
                    tick,
                    slot: join_index(level, slot, chain),
                };
            })
        };
        match tail {
            // SAFETY: the tail is a live entry of this wheel.
            Some(t) => unsafe { TimerShared::with_links(t, |l| l.next = Some(entry)) },
            None => list.head[chain] = Some(entry),
        }
        list.tail[chain] = Some(entry);
        self.occupied[level] |= 1 << slot;
    }

    /// Unlinks the first entry of a slot (not counted out of `len`: the caller decides): the
    /// head of the first non-empty list from `Slot::pop` on.
    ///
    /// The new head's `prev` is left stale (a head is known by `Slot::head`, not by its
    /// `prev`), so this touches no entry but the one it returns, and it asks the CPU to
    /// fetch the new head meanwhile, which the walk needs only after one pop from each of
    /// the other lists (see [`CHAINS`]).
    fn pop_front(&mut self, level: usize, slot: usize) -> Option<NonNull<TimerShared>> {
        let list = &mut self.slots[level][slot];
        let start = usize::from(list.pop);
        let (chain, head) = (0..CHAINS)
            .map(|i| (start + i) % CHAINS)
            .find_map(|c| list.head[c].map(|h| (c, h)))?;
        // SAFETY: the head is a live entry of this wheel.
        let next = unsafe {
            TimerShared::with_links(head, |l| {
                l.prev = None;
                l.next.take()
            })
        };
        match next {
            Some(n) => prefetch(n),
            None => list.tail[chain] = None,
        }
        list.head[chain] = next;
        if list.is_empty() {
            (list.push, list.pop) = (0, 0);
            self.occupied[level] &= !(1 << slot);
        } else {
            list.pop = ((chain + 1) % CHAINS) as u8;
        }
        Some(head)
    }
}

/// `Links::slot` for list `chain` of slot `slot` at `level`.
fn join_index(level: usize, slot: usize, chain: usize) -> u16 {
    ((level * SLOTS + slot) * CHAINS + chain) as u16
}

/// `(level, slot, chain)` from `Links::slot`.
fn split_index(index: u16) -> (usize, usize, usize) {
    let index = usize::from(index);
    let chain = index % CHAINS;
    let slot = index / CHAINS;
    (slot / SLOTS, slot % SLOTS, chain)
}

/// Starts loading `entry` (64 bytes that may straddle two cache lines).
fn prefetch(entry: NonNull<TimerShared>) {
    crate::util::prefetch::prefetch(
        entry.as_ptr().cast::<u8>(),
        std::mem::size_of::<TimerShared>(),
    );
}

/// The level for `tick` seen from `elapsed` (invariant 3). `tick >= elapsed`.
fn level_for(elapsed: u64, tick: u64) -> usize {
    if tick - elapsed < SLOTS as u64 {
        // Within the next 64 ticks: level 0 even if the tick is in the next 64-tick block,
        // where its slot is behind the current one and next comes round exactly at `tick`.
        // Without this, every timer of under 64 ms that crosses a block boundary would wait
        // in one level-1 slot and cascade with all the others at the boundary: with 2,000
        // timers set per millisecond that is tens of thousands of cold entries moved in one
        // go (several ms during which that slot's timers and the driver's other work wait).
        return 0;
    }
    let masked = (elapsed ^ tick) | SLOT_MASK;
    let significant = 63 - masked.leading_zeros();
    ((significant / SLOT_BITS) as usize).min(LEVELS - 1)
}

impl fmt::Debug for Wheel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wheel")
            .field("elapsed", &self.elapsed())
            .field("len", &self.len())
            .field("next_deadline", &self.next_deadline())
            .finish()
    }
}
