//! Synchronization primitives for tasks: locks, semaphores, notifications and channels.
