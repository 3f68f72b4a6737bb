//! When a searcher that found nothing watches the injector before parking (the end of step 2
//! in `worker.rs`), and when it parks at once.
//!
//! A spin pays when remote work comes in bursts: a thread that wakes ten tasks at once, or a
//! `block_on` thread that spawns a batch. The spinner stays a searcher, so the pushes wake
//! no one, and it takes the burst a few microseconds after it starts instead of the 20-50 us
//! a parked worker takes to run again on this kind of host (`benches/RESULTS.md`).
//!
//! It costs when a producer that never stops pushes one task at a time: the spinner then
//! takes each task the moment it is pushed, and the producer and the worker fight over the
//! injector's and the task's cache lines (and a lock the tasks share, such as a `Notify`'s)
//! on every task. A parked worker, woken later, would have run a batch without the fight.
//! Measured with an unconditional spin: `notify_one_50` 244 -> 420 us, `spawn_many_remote_idle`
//! 1.6 -> 3.2 ms.
//!
//! The governor tells the two apart by what each spin that found work led to: a spin is
//! *thin* if the worker polled at most [`THIN_POLLS`] tasks between the previous spin that
//! found work and this one. After [`THIN_SPINS`] thin spins in a row the worker parks without
//! spinning for its next [`SPIN_REST`] searches, then tries again, so a workload that turns
//! bursty gets the spin back.

use std::time::Duration;

/// How long a searcher that found nothing watches the injector before it parks: about what
/// a wake-up costs the waker, far less than what it costs the woken worker on a host whose
/// idle vCPUs halt.
pub(super) const SEARCH_SPIN: Duration = Duration::from_micros(4);

/// A spin that found work and was followed by at most this many polls before the next spin
/// is thin: the work came one task at a time.
const THIN_POLLS: u64 = 2;

/// Thin spins in a row after which the worker stops spinning for a while.
const THIN_SPINS: u32 = 4;

/// Searches in a row that park without spinning after a streak of thin spins.
const SPIN_REST: u32 = 16;

/// One worker's record of how its spins paid off. Only the worker's own thread touches it
/// (it lives in the worker's `Core`), so it needs no synchronisation.
#[derive(Debug, Default)]
pub(super) struct SpinGovernor {
    /// The worker's poll count when a spin last found work.
    polls_at_find: u64,
    /// Thin spins in a row.
    thin: u32,
    /// Searches left that park without spinning.
    rest: u32,
}

impl SpinGovernor {
    /// A searcher found nothing; `polls` is its worker's poll count. True: spin now.
    pub(super) fn should_spin(&mut self, polls: u64) -> bool {
        if self.rest > 0 {
            self.rest -= 1;
            return false;
        }
        if polls.wrapping_sub(self.polls_at_find) <= THIN_POLLS {
            self.thin += 1;
        } else {
            self.thin = 0;
        }
        if self.thin >= THIN_SPINS {
            self.thin = 0;
            self.rest = SPIN_REST;
            return false;
        }
        true
    }

    /// The spin that `should_spin` allowed found work, at poll count `polls`.
    pub(super) fn found(&mut self, polls: u64) {
        self.polls_at_find = polls;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Drives the governor as the worker loop does: each round a search finds nothing, asks
    /// whether to spin, and if it spins it finds work and polls `polls_per_find` tasks.
    /// Returns how many of `rounds` rounds spun.
    fn spins(g: &mut SpinGovernor, polls: &mut u64, rounds: u32, polls_per_find: u64) -> u32 {
        let mut spun = 0;
        for _ in 0..rounds {
            if g.should_spin(*polls) {
                spun += 1;
                g.found(*polls);
            }
            *polls += polls_per_find;
        }
        spun
    }

    #[test]
    fn bursts_keep_the_spin() {
        let mut g = SpinGovernor::default();
        let mut polls = 100;
        // Every spin leads to a burst of 10 polls: never thin, always spin.
        assert_eq!(spins(&mut g, &mut polls, 1_000, 10), 1_000);
    }

    #[test]
    fn one_task_at_a_time_mostly_parks() {
        let mut g = SpinGovernor::default();
        let mut polls = 100;
        // Every spin finds one task: after four spins the next search starts a rest of 16
        // that park at once, so 4 rounds in 21 spin, not all of them.
        let rounds = 1_000;
        let spun = spins(&mut g, &mut polls, rounds, 1);
        assert!(
            spun <= rounds * THIN_SPINS / (THIN_SPINS + SPIN_REST) + THIN_SPINS,
            "{spun}"
        );
        assert!(spun >= 100, "the governor must keep retrying, spun {spun}");
    }

    #[test]
    fn a_burst_after_single_tasks_gets_the_spin_back() {
        let mut g = SpinGovernor::default();
        let mut polls = 100;
        spins(&mut g, &mut polls, 100, 1);
        // Whatever state the thin streak left, bursts spin again within one rest.
        spins(&mut g, &mut polls, SPIN_REST + 1, 10);
        assert_eq!(spins(&mut g, &mut polls, 100, 10), 100);
    }

    #[test]
    fn a_failed_spin_does_not_count_as_thin() {
        let mut g = SpinGovernor::default();
        let mut polls = 100;
        // Three thin spins, then spins that find nothing (no `found`) while the worker runs
        // many tasks between them: the streak resets, no rest starts.
        spins(&mut g, &mut polls, THIN_SPINS - 1, 1);
        for _ in 0..100 {
            assert!(g.should_spin(polls));
            polls += 50;
        }
    }
}
