//! Timers: sleeps, timeouts and intervals, driven by one hierarchical timer wheel.
