//! [`Builder`]: runtime settings.

use std::fmt;
use std::io;
use std::sync::Arc as StdArc;
use std::time::Duration;

use super::Runtime;
use crate::scheduler::Config;

/// Builds a [`Runtime`] with custom settings. Methods take `&mut self` and return
/// `&mut Self`, so calls chain; I/O and timers are always enabled.
///
/// ```
/// use corio::runtime::Builder;
///
/// let rt = Builder::new_multi_thread()
///     .worker_threads(2)
///     .thread_name("my-worker")
///     .build()
///     .unwrap();
/// assert_eq!(rt.metrics().num_workers(), 2);
/// ```
pub struct Builder {
    kind: Kind,
    config: Config,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    CurrentThread,
    MultiThread,
}

impl Builder {
    /// A runtime that runs every task on the thread that calls `block_on`.
    pub fn new_current_thread() -> Builder {
        Builder::new(Kind::CurrentThread, 31)
    }

    /// A work-stealing runtime with one worker thread per core (see
    /// [`Builder::worker_threads`]).
    pub fn new_multi_thread() -> Builder {
        Builder::new(Kind::MultiThread, 61)
    }

    fn new(kind: Kind, global_queue_interval: u32) -> Builder {
        Builder {
            kind,
            config: Config {
                worker_threads: 0,
                thread_name: "corio-worker".to_owned(),
                thread_stack_size: None,
                max_blocking_threads: 512,
                thread_keep_alive: Duration::from_secs(10),
                on_thread_start: None,
                on_thread_stop: None,
                global_queue_interval,
                event_interval: 61,
                start_paused: false,
            },
        }
    }

    /// The number of worker threads of a multi-thread runtime. Default: the
    /// `CORIO_WORKER_THREADS` environment variable if set, else the number of CPUs.
    ///
    /// # Panics
    /// If `n` is 0: a runtime needs at least one worker.
    #[track_caller]
    pub fn worker_threads(&mut self, n: usize) -> &mut Self {
        assert!(n > 0, "worker_threads must be at least 1 (got 0)");
        self.config.worker_threads = n;
        self
    }

    /// The name of the runtime's threads. Default: `"corio-worker"`.
    pub fn thread_name(&mut self, name: impl Into<String>) -> &mut Self {
        self.config.thread_name = name.into();
        self
    }

    /// The stack size of the runtime's threads, in bytes. Default: std's (2 MiB).
    pub fn thread_stack_size(&mut self, size: usize) -> &mut Self {
        self.config.thread_stack_size = Some(size);
        self
    }

    /// The most threads the blocking pool may run at once. Default: 512.
    ///
    /// # Panics
    /// If `n` is 0.
    #[track_caller]
    pub fn max_blocking_threads(&mut self, n: usize) -> &mut Self {
        assert!(n > 0, "max_blocking_threads must be at least 1 (got 0)");
        self.config.max_blocking_threads = n;
        self
    }

    /// How long an idle blocking thread waits for work before it exits. Default: 10 s.
    pub fn thread_keep_alive(&mut self, d: Duration) -> &mut Self {
        self.config.thread_keep_alive = d;
        self
    }

    /// Runs `f` on every runtime thread (workers and blocking threads) when it starts.
    pub fn on_thread_start<F: Fn() + Send + Sync + 'static>(&mut self, f: F) -> &mut Self {
        self.config.on_thread_start = Some(StdArc::new(f));
        self
    }

    /// Runs `f` on every runtime thread just before it exits.
    pub fn on_thread_stop<F: Fn() + Send + Sync + 'static>(&mut self, f: F) -> &mut Self {
        self.config.on_thread_stop = Some(StdArc::new(f));
        self
    }

    /// Fairness: a worker takes a task from the shared queue first every `n` polls, so
    /// remote work is never starved by local work. Default: 31 (current-thread) or 61.
    ///
    /// # Panics
    /// If `n` is 0.
    #[track_caller]
    pub fn global_queue_interval(&mut self, n: u32) -> &mut Self {
        assert!(n > 0, "global_queue_interval must be at least 1 (got 0)");
        self.config.global_queue_interval = n;
        self
    }

    /// A busy worker polls I/O and timers (without blocking) every `n` task polls.
    /// Default: 61.
    ///
    /// # Panics
    /// If `n` is 0.
    #[track_caller]
    pub fn event_interval(&mut self, n: u32) -> &mut Self {
        assert!(n > 0, "event_interval must be at least 1 (got 0)");
        self.config.event_interval = n;
        self
    }

    /// Starts the runtime with time paused (current-thread only; `build` fails on a
    /// multi-thread builder): see `corio::time::pause`.
    pub fn start_paused(&mut self, paused: bool) -> &mut Self {
        self.config.start_paused = paused;
        self
    }

    /// Builds the runtime; fails only if the I/O driver cannot be created (or threads cannot
    /// be spawned).
    pub fn build(&mut self) -> io::Result<Runtime> {
        if self.kind == Kind::MultiThread && self.config.start_paused {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "start_paused(true) needs a current-thread runtime: virtual time jumps when the \
                 runtime is idle, which only one thread can tell; use Builder::new_current_thread()",
            ));
        }
        let mut config = self.config.clone();
        if config.worker_threads == 0 {
            config.worker_threads = default_worker_threads()?;
        }
        Runtime::build(self.kind, config)
    }
}

fn default_worker_threads() -> io::Result<usize> {
    match std::env::var("CORIO_WORKER_THREADS") {
        Ok(s) => match s.trim().parse::<usize>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("CORIO_WORKER_THREADS must be a whole number of at least 1, got {s:?}"),
            )),
        },
        Err(_) => Ok(crate::loom::num_cpus().max(1)),
    }
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("kind", &self.kind)
            .field("config", &self.config)
            .finish()
    }
}
