//! The wheel on its own: fixed cases and a property test against a `BTreeMap` model.

use std::collections::{BTreeMap, HashMap};
use std::pin::Pin;
use std::ptr::NonNull;

use proptest::prelude::*;

use super::entry::TimerShared;
use super::wheel::{Wheel, CHAINS, LEVELS, MAX_DELAY};

/// Entries with stable addresses, named by index.
struct Arena {
    entries: Vec<Pin<Box<TimerShared>>>,
    ids: HashMap<NonNull<TimerShared>, usize>,
}

impl Arena {
    fn new(n: usize) -> Self {
        let entries: Vec<_> = (0..n).map(|_| Box::pin(TimerShared::new())).collect();
        let ids = entries
            .iter()
            .enumerate()
            .map(|(i, e)| (ptr(e), i))
            .collect();
        Arena { entries, ids }
    }

    fn ptr(&self, id: usize) -> NonNull<TimerShared> {
        ptr(&self.entries[id])
    }

    fn id(&self, p: NonNull<TimerShared>) -> usize {
        self.ids[&p]
    }
}

fn ptr(e: &Pin<Box<TimerShared>>) -> NonNull<TimerShared> {
    NonNull::from(&**e)
}

/// Polls the wheel up to `now`, returning `(id, tick fired at)` in firing order.
fn advance(wheel: &mut Wheel, arena: &Arena, now: u64) -> Vec<(usize, u64)> {
    let mut fired = Vec::new();
    while let Some(p) = wheel.poll_next(now) {
        fired.push((arena.id(p), wheel.elapsed()));
    }
    assert_eq!(wheel.elapsed(), now);
    fired
}

#[test]
fn fires_each_entry_exactly_at_its_tick_at_every_level() {
    let deltas = [
        1, 2, 63, 64, 65, 4095, 4096, 4097, 262_143, 262_144, 300_000, 20_000_000,
    ];
    let arena = Arena::new(deltas.len());
    let mut wheel = Wheel::new();
    for (id, &d) in deltas.iter().enumerate() {
        // SAFETY: arena entries are pinned, outlive the wheel, and are in no wheel.
        assert_eq!(unsafe { wheel.insert(arena.ptr(id), d) }, Ok(d));
    }
    assert_eq!(wheel.len(), deltas.len());
    for (id, &d) in deltas.iter().enumerate() {
        assert!(
            advance(&mut wheel, &arena, d - 1).is_empty(),
            "something fired before tick {d}"
        );
        assert_eq!(advance(&mut wheel, &arena, d), vec![(id, d)]);
    }
    assert_eq!(wheel.len(), 0);
    assert_eq!(wheel.next_deadline(), None);
}

#[test]
fn short_timers_across_a_block_boundary_wait_at_level_0() {
    // From tick 60, ticks 61..=123 are under 64 ticks away: each sits in its own level-0
    // slot, those of the next 64-tick block behind the current slot, so the next deadline
    // is exact (a level-1 slot would report its start, 64) and nothing cascades at 64.
    let arena = Arena::new(3);
    let mut wheel = Wheel::new();
    advance(&mut wheel, &arena, 60);
    for (id, tick) in [(0, 70), (1, 62), (2, 123)] {
        // SAFETY: arena entries are pinned, outlive the wheel, and are in no wheel.
        assert_eq!(unsafe { wheel.insert(arena.ptr(id), tick) }, Ok(tick));
    }
    assert_eq!(wheel.next_deadline(), Some(62));
    assert_eq!(advance(&mut wheel, &arena, 62), vec![(1, 62)]);
    assert_eq!(wheel.next_deadline(), Some(70));
    assert!(advance(&mut wheel, &arena, 69).is_empty());
    assert_eq!(wheel.next_deadline(), Some(70));
    assert_eq!(advance(&mut wheel, &arena, 70), vec![(0, 70)]);
    assert_eq!(wheel.next_deadline(), Some(123));
    assert!(advance(&mut wheel, &arena, 122).is_empty());
    assert_eq!(advance(&mut wheel, &arena, 200), vec![(2, 123)]);
    assert_eq!(wheel.next_deadline(), None);
}

#[test]
fn insert_at_or_before_elapsed_is_refused() {
    let arena = Arena::new(1);
    let mut wheel = Wheel::new();
    advance(&mut wheel, &arena, 100);
    // SAFETY: as above.
    unsafe {
        assert_eq!(wheel.insert(arena.ptr(0), 100), Err(()));
        assert_eq!(wheel.insert(arena.ptr(0), 3), Err(()));
    }
    assert_eq!(wheel.len(), 0);
}

#[test]
fn far_deadlines_are_clamped_and_still_fire() {
    let arena = Arena::new(2);
    let mut wheel = Wheel::new();
    advance(&mut wheel, &arena, 12_345);
    // SAFETY: as above.
    let tick = unsafe { wheel.insert(arena.ptr(0), u64::MAX / 2) }.unwrap();
    assert_eq!(tick, 12_345 + MAX_DELAY);
    // SAFETY: as above.
    unsafe { wheel.insert(arena.ptr(1), 12_345 + MAX_DELAY - 7) }.unwrap();
    assert!(advance(&mut wheel, &arena, tick - 8).is_empty());
    assert_eq!(advance(&mut wheel, &arena, tick - 7), vec![(1, tick - 7)]);
    assert_eq!(advance(&mut wheel, &arena, tick), vec![(0, tick)]);
}

/// Entries sharing one slot: three per list of the slot, so that every list has a head, a
/// middle and a tail.
const SAME_SLOT: usize = 3 * CHAINS;

/// The ids that `advance` returned, sorted: with an entry cancelled, a slot's lists no
/// longer give the others back in insertion order (only when none is cancelled).
fn ids_sorted(fired: Vec<(usize, u64)>, tick: u64) -> Vec<usize> {
    assert!(
        fired.iter().all(|f| f.1 == tick),
        "fired at another tick: {fired:?}"
    );
    let mut ids: Vec<usize> = fired.into_iter().map(|f| f.0).collect();
    ids.sort_unstable();
    ids
}

#[test]
fn remove_unlinks_from_head_middle_and_tail() {
    for victims in [
        vec![0],
        vec![CHAINS],
        vec![SAME_SLOT - 1],
        vec![1, CHAINS + 1, 2],
    ] {
        let arena = Arena::new(SAME_SLOT);
        let mut wheel = Wheel::new();
        for id in 0..SAME_SLOT {
            // SAFETY: as above; all of them share slot 10 of level 0.
            unsafe { wheel.insert(arena.ptr(id), 10) }.unwrap();
        }
        for &victim in &victims {
            // SAFETY: the victims are in the wheel, each removed once.
            unsafe { wheel.remove(arena.ptr(victim)) };
        }
        let expected: Vec<usize> = (0..SAME_SLOT).filter(|id| !victims.contains(id)).collect();
        assert_eq!(
            ids_sorted(advance(&mut wheel, &arena, 10), 10),
            expected,
            "{victims:?}"
        );
        assert_eq!(wheel.len(), 0);
        assert_eq!(wheel.next_deadline(), None);
    }
}

#[test]
fn a_slot_emptied_by_removals_is_free_again() {
    // One entry short of a whole turn over the lists: the next push would go to the last.
    let n = SAME_SLOT - 1;
    let arena = Arena::new(n);
    let mut wheel = Wheel::new();
    for id in 0..n {
        // SAFETY: as above.
        unsafe { wheel.insert(arena.ptr(id), 10) }.unwrap();
    }
    for id in (0..n).rev() {
        // SAFETY: each is in the wheel, removed once.
        unsafe { wheel.remove(arena.ptr(id)) };
    }
    assert_eq!(wheel.len(), 0);
    assert_eq!(wheel.next_deadline(), None);
    // The slot starts over: new entries fire, in insertion order.
    for id in [5, 2, 7] {
        // SAFETY: removed above, in no wheel.
        unsafe { wheel.insert(arena.ptr(id), 10) }.unwrap();
    }
    assert_eq!(
        advance(&mut wheel, &arena, 10),
        vec![(5, 10), (2, 10), (7, 10)]
    );
}

#[test]
fn a_slot_half_fired_can_lose_any_entry() {
    // The driver fires a slot in batches, releasing the lock between them, and owners may
    // cancel in between: after a pop, the new head's `prev` still names the popped entry
    // (invariant 5), and removing it, or the one behind it, must not follow that.
    for popped in [1, CHAINS + 1] {
        for victim in popped..SAME_SLOT {
            let arena = Arena::new(SAME_SLOT);
            let mut wheel = Wheel::new();
            for id in 0..SAME_SLOT {
                // SAFETY: as above; all of them share slot 10 of level 0.
                unsafe { wheel.insert(arena.ptr(id), 10) }.unwrap();
            }
            for id in 0..popped {
                let first = wheel.poll_next(10).expect("due");
                assert_eq!(arena.id(first), id, "no removal yet: insertion order");
            }
            // SAFETY: `victim` is still in the wheel.
            unsafe { wheel.remove(arena.ptr(victim)) };
            let expected: Vec<usize> = (popped..SAME_SLOT).filter(|&id| id != victim).collect();
            assert_eq!(
                ids_sorted(advance(&mut wheel, &arena, 10), 10),
                expected,
                "popped {popped}, victim {victim}"
            );
            assert_eq!(wheel.len(), 0);
            assert_eq!(wheel.next_deadline(), None);
            // The slot is reusable: a new entry becomes its head and tail.
            // SAFETY: entry 0 fired and is in no wheel.
            unsafe { wheel.insert(arena.ptr(0), 20) }.unwrap();
            assert_eq!(advance(&mut wheel, &arena, 20), vec![(0, 20)]);
        }
    }
}

#[test]
fn same_tick_fires_in_insertion_order() {
    let arena = Arena::new(50);
    let mut wheel = Wheel::new();
    for id in 0..50 {
        // SAFETY: as above.
        unsafe { wheel.insert(arena.ptr(id), 5000) }.unwrap();
    }
    let fired: Vec<_> = advance(&mut wheel, &arena, 6000)
        .into_iter()
        .map(|f| f.0)
        .collect();
    assert_eq!(fired, (0..50).collect::<Vec<_>>());
}

/// One step of a random schedule.
#[derive(Debug, Clone)]
enum Op {
    /// Insert entry `id` at `elapsed + delay`; if it is in the wheel, move it (reset).
    Insert {
        id: usize,
        delay: u64,
    },
    Cancel {
        id: usize,
    },
    /// Move `now` forward and fire.
    Advance {
        by: u64,
    },
    /// Park like the driver: advance exactly to the wheel's next deadline.
    ParkToNext,
}

const IDS: usize = 24;

fn delay() -> impl Strategy<Value = u64> {
    prop_oneof![
        4 => 0u64..130,
        3 => 0u64..300_000,
        2 => 0u64..(1 << 37),
        1 => Just(u64::MAX / 4),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => (0..IDS, delay()).prop_map(|(id, delay)| Op::Insert { id, delay }),
        2 => (0..IDS).prop_map(|id| Op::Cancel { id }),
        3 => delay().prop_map(|by| Op::Advance { by }),
        2 => Just(Op::ParkToNext),
    ]
}

/// The reference: pending entries ordered by tick.
#[derive(Default)]
struct Model {
    elapsed: u64,
    by_tick: BTreeMap<(u64, usize), ()>,
    tick_of: HashMap<usize, u64>,
}

impl Model {
    fn insert(&mut self, id: usize, tick: u64) -> Result<u64, ()> {
        self.cancel(id);
        if tick <= self.elapsed {
            return Err(());
        }
        let tick = tick.min(self.elapsed + MAX_DELAY);
        self.by_tick.insert((tick, id), ());
        self.tick_of.insert(id, tick);
        Ok(tick)
    }

    fn cancel(&mut self, id: usize) -> bool {
        match self.tick_of.remove(&id) {
            Some(tick) => self.by_tick.remove(&(tick, id)).is_some(),
            None => false,
        }
    }

    /// Fires everything due at `now`, sorted by (tick, id).
    fn advance(&mut self, now: u64) -> Vec<(usize, u64)> {
        let mut fired = Vec::new();
        while let Some((&(tick, id), _)) = self.by_tick.first_key_value() {
            if tick > now {
                break;
            }
            self.by_tick.pop_first();
            self.tick_of.remove(&id);
            fired.push((id, tick));
        }
        self.elapsed = now;
        fired
    }
}

fn run_schedule(ops: &[Op], start: u64) -> Result<(), TestCaseError> {
    let arena = Arena::new(IDS);
    let mut wheel = Wheel::new();
    let mut model = Model::default();
    advance(&mut wheel, &arena, start);
    model.advance(start);
    let mut now = start;
    for op in ops {
        match *op {
            Op::Insert { id, delay } => {
                if model.tick_of.contains_key(&id) {
                    // SAFETY: the model says the entry is in the wheel.
                    unsafe { wheel.remove(arena.ptr(id)) };
                }
                let tick = now.saturating_add(delay);
                let expected = model.insert(id, tick);
                // SAFETY: the entry is in no wheel now; the arena outlives the wheel.
                prop_assert_eq!(unsafe { wheel.insert(arena.ptr(id), tick) }, expected);
            }
            Op::Cancel { id } => {
                if model.cancel(id) {
                    // SAFETY: it was in the wheel.
                    unsafe { wheel.remove(arena.ptr(id)) };
                }
            }
            Op::Advance { by } => {
                // Real ticks stay far below 2^60 (milliseconds); `max` keeps time monotonic.
                now = now.saturating_add(by).min(1 << 60).max(now);
                check_fires(&mut wheel, &arena, &mut model, now)?;
            }
            Op::ParkToNext => {
                // The driver's loop: sleep until the next slot start, process, repeat. It
                // must reach the earliest pending tick within one cascade per level.
                let Some(&(first, _)) = model.by_tick.first_key_value().map(|e| e.0) else {
                    prop_assert_eq!(wheel.next_deadline(), None);
                    continue;
                };
                let mut rounds = 0;
                loop {
                    let next = wheel.next_deadline().expect("model has entries");
                    prop_assert!(next > now, "deadline {} not after now {}", next, now);
                    prop_assert!(
                        next <= first,
                        "next deadline {} after earliest tick {}",
                        next,
                        first
                    );
                    now = next.max(now);
                    let fired = check_fires(&mut wheel, &arena, &mut model, now)?;
                    rounds += 1;
                    prop_assert!(rounds <= LEVELS + 1, "no progress towards tick {}", first);
                    if fired > 0 {
                        prop_assert_eq!(now, first);
                        break;
                    }
                }
            }
        }
        prop_assert_eq!(wheel.len(), model.by_tick.len());
    }
    Ok(())
}

/// Advances both to `now` and checks they fire the same entries at the same ticks.
fn check_fires(
    wheel: &mut Wheel,
    arena: &Arena,
    model: &mut Model,
    now: u64,
) -> Result<usize, TestCaseError> {
    let mut got = advance(wheel, arena, now);
    let ticks: Vec<u64> = got.iter().map(|f| f.1).collect();
    prop_assert!(
        ticks.windows(2).all(|w| w[0] <= w[1]),
        "fired out of order: {:?}",
        got
    );
    got.sort_by_key(|&(id, tick)| (tick, id));
    let want = model.advance(now);
    prop_assert_eq!(&got, &want);
    Ok(got.len())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn wheel_matches_btreemap_model(
        start in prop_oneof![Just(0u64), 0u64..(1 << 40), Just((1 << 36) - 3)],
        ops in prop::collection::vec(op(), 1..120),
    ) {
        run_schedule(&ops, start)?;
    }
}
