//! A small, fast, per-thread pseudo-random number generator.
//!
//! corio needs randomness in two hot places where quality matters little and cost matters a
//! lot: `select!` picks the branch to poll first (so no branch can starve the others), and
//! the multi-thread scheduler picks the first victim to steal from (so idle workers do not
//! all hammer the same queue). Neither needs cryptographic strength; both run on every poll.
//!
//! The generator is wyrand: one 64-bit state word, one add and one 64x64->128 multiply per
//! number, no allocation, and it passes the usual statistical batteries (BigCrush,
//! PractRand), which is far more than fairness needs.
//!
//! Protocol:
//! 1. The first call on a thread seeds that thread's generator from a [`RandomState`] hasher
//!    fed with the thread's id, the current time and a process-wide counter, so two threads
//!    (or two runs) never walk the same sequence.
//! 2. Each later call advances the thread's state in place ([`Cell`], no lock, no atomic).
//! 3. A range `0..n` is taken with Lemire's multiply-shift, which needs no division and no
//!    rejection loop; its bias (at most `n / 2^32`) is irrelevant for branch and victim choice.
//!
//! [`RandomState`]: std::collections::hash_map::RandomState

use std::cell::Cell;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hash, Hasher};

use crate::loom::common::StaticAtomicU64;
use crate::loom::sync::atomic::Ordering;

/// wyrand's additive constant (an odd number with well-mixed bits).
const WY_ADD: u64 = 0xa076_1d64_78bd_642f;
/// wyrand's mixing constant.
const WY_XOR: u64 = 0xe703_7ed1_a0b4_28db;

/// A wyrand generator. `Copy` so that it can live in a [`Cell`].
///
/// Also meant to be embedded directly in structures that own their randomness (a worker's
/// victim selection), where [`FastRand::from_seed`] makes runs reproducible in tests.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FastRand {
    state: u64,
}

impl FastRand {
    /// A generator seeded from fresh entropy (see step 1 of the module doc).
    pub(crate) fn new() -> Self {
        Self::from_seed(entropy_seed())
    }

    /// A generator with a fixed seed, for reproducible sequences.
    pub(crate) const fn from_seed(seed: u64) -> Self {
        Self { state: seed }
    }

    /// The next 32 random bits.
    #[inline]
    pub(crate) fn next_u32(&mut self) -> u32 {
        self.state = self.state.wrapping_add(WY_ADD);
        let wide = u128::from(self.state) * u128::from(self.state ^ WY_XOR);
        let mixed = (wide >> 64) as u64 ^ wide as u64;
        // The high half has the best-mixed bits.
        (mixed >> 32) as u32
    }

    /// A number in `0..n`; `0` when `n` is `0` (there is no empty range to pick from, and
    /// callers index with the result only when `n > 0`).
    #[inline]
    pub(crate) fn next_n(&mut self, n: u32) -> u32 {
        // Lemire's multiply-shift: the high 32 bits of a 32x32->64 product are uniform over
        // 0..n up to a bias below n / 2^32.
        ((u64::from(self.next_u32()) * u64::from(n)) >> 32) as u32
    }
}

crate::loom::thread_local! {
    /// This thread's generator, seeded lazily on first use.
    static THREAD_RNG: Cell<FastRand> = Cell::new(FastRand::new());
}

/// A random number in `0..n` from this thread's generator (`0` when `n` is `0`).
///
/// Cheap enough for every poll: one thread-local access, no lock, no allocation.
#[inline]
pub(crate) fn thread_rng_n(n: u32) -> u32 {
    THREAD_RNG
        .try_with(|cell| {
            let mut rng = cell.get();
            let value = rng.next_n(n);
            cell.set(rng);
            value
        })
        // The thread-local is gone only while this thread's destructors run (a future
        // dropped from another thread-local's destructor may still select!); a one-off
        // generator still gives a fair pick there.
        .unwrap_or_else(|_| FastRand::new().next_n(n))
}

/// A seed that differs between threads, between calls and between runs.
fn entropy_seed() -> u64 {
    // Distinct per call even if the clock and the thread id repeat (a thread id can be
    // reused after its thread exits); only uniqueness matters, so Relaxed suffices.
    static COUNTER: StaticAtomicU64 = StaticAtomicU64::new(0);

    // RandomState's keys are random per process (and bumped per instance), so the same
    // inputs still hash differently from run to run.
    let mut hasher = RandomState::new().build_hasher();
    crate::loom::thread::current().id().hash(&mut hasher);
    std::time::SystemTime::now().hash(&mut hasher);
    COUNTER.fetch_add(1, Ordering::Relaxed).hash(&mut hasher);
    hasher.finish()
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn next_n_stays_in_range_and_covers_it() {
        let mut rng = FastRand::from_seed(42);
        for n in [1u32, 2, 3, 7, 64, 1000] {
            let mut seen = vec![false; n as usize];
            for _ in 0..(n * 50) {
                let v = rng.next_n(n);
                assert!(v < n, "next_n({n}) returned {v}");
                seen[v as usize] = true;
            }
            assert!(
                seen.iter().all(|&s| s),
                "next_n({n}) missed a value in 50*n draws"
            );
        }
        assert_eq!(rng.next_n(0), 0);
    }

    #[test]
    fn same_seed_same_sequence_different_seed_different_sequence() {
        let mut a = FastRand::from_seed(7);
        let mut b = FastRand::from_seed(7);
        let mut c = FastRand::from_seed(8);
        let sa: Vec<u32> = (0..16).map(|_| a.next_u32()).collect();
        let sb: Vec<u32> = (0..16).map(|_| b.next_u32()).collect();
        let sc: Vec<u32> = (0..16).map(|_| c.next_u32()).collect();
        assert_eq!(sa, sb);
        assert_ne!(sa, sc);
    }

    #[test]
    fn thread_rng_is_roughly_uniform() {
        // 4 buckets x 40,000 draws: each bucket expects 10,000 with a standard deviation of
        // about 87, so +-1,000 is more than 11 sigma of slack, yet catches a stuck or
        // biased generator.
        let mut counts = [0u32; 4];
        for _ in 0..40_000 {
            counts[thread_rng_n(4) as usize] += 1;
        }
        for (bucket, &count) in counts.iter().enumerate() {
            assert!(
                (9_000..=11_000).contains(&count),
                "bucket {bucket} got {count} of 40,000"
            );
        }
    }

    #[test]
    fn threads_get_different_sequences() {
        let draw = || (0..8).map(|_| thread_rng_n(u32::MAX)).collect::<Vec<_>>();
        let other = std::thread::spawn(draw).join().unwrap();
        assert_ne!(draw(), other);
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;

    /// The scheduler draws victims from worker threads inside loom models: the thread-local
    /// must work under loom's `thread_local!`, once per modelled thread.
    #[test]
    fn loom_thread_rng_per_thread() {
        loom::model(|| {
            let other = loom::thread::spawn(|| (0..4).map(|_| thread_rng_n(3)).collect::<Vec<_>>());
            let mine: Vec<u32> = (0..4).map(|_| thread_rng_n(3)).collect();
            let theirs = other.join().unwrap();
            assert!(mine.iter().chain(&theirs).all(|&v| v < 3));
        });
    }
}
