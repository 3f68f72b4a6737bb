//! The blocking pool: threads for `spawn_blocking`, created on demand up to
//! `max_blocking_threads`, each exiting after `thread_keep_alive` without work.
//!
//! Protocol:
//! 1. `spawn` wraps the closure in a task (so `JoinHandle`, abort and panics work as for
//!    async tasks) and, under the pool lock, pushes it on the queue. If an idle thread
//!    waits, it is notified; else, below the cap, a new thread is started; else the task
//!    waits in the queue for the next free thread.
//! 2. A thread pops and runs tasks until the queue is empty, then waits on the condvar for
//!    at most `thread_keep_alive`, then exits (unless shutdown asked it to leave earlier).
//!    Idle counting happens under the lock, so a push either sees the waiter or the waiter
//!    sees the task.
//! 3. Shutdown: mark shut down, wake every thread; queued tasks that never started are
//!    cancelled (their `JoinHandle`s report it); running closures cannot be interrupted, so
//!    `shutdown(timeout)` waits for the threads at most `timeout`.

mod pool;

pub(crate) use self::pool::{BlockingPool, Spawner};
