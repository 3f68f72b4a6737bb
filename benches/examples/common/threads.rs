//! Per-thread counters of this process from `/proc/self/task/*/{schedstat,status}`, shared
//! by the probes (`#[path]`-included: an example directory without `main.rs` is not an
//! example of its own).

#![allow(dead_code)] // each probe uses a different subset

/// One thread's (or a sum of threads') CPU time and context switches.
#[derive(Default, Clone, Copy)]
pub(crate) struct Counters {
    pub(crate) cpu_ns: f64,
    /// The thread slept.
    pub(crate) voluntary: f64,
    /// The thread was preempted (or called `sched_yield` and another thread ran).
    pub(crate) involuntary: f64,
}

impl Counters {
    fn read(path: &std::path::Path) -> Counters {
        let cpu_ns = std::fs::read_to_string(path.join("schedstat"))
            .ok()
            .and_then(|s| s.split_whitespace().next()?.parse().ok())
            .unwrap_or(0.0);
        let status = std::fs::read_to_string(path.join("status")).unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
                .unwrap_or(0.0)
        };
        Counters {
            cpu_ns,
            voluntary: field("voluntary_ctxt_switches:"),
            involuntary: field("nonvoluntary_ctxt_switches:"),
        }
    }

    fn add(&mut self, o: Counters) {
        self.cpu_ns += o.cpu_ns;
        self.voluntary += o.voluntary;
        self.involuntary += o.involuntary;
    }

    /// The change since `before`, per iteration of `iters`. Saturating: a worker of an
    /// earlier runtime that exits meanwhile leaves the sum.
    pub(crate) fn per_iter_since(self, before: Counters, iters: usize) -> Counters {
        let n = iters as f64;
        Counters {
            cpu_ns: (self.cpu_ns - before.cpu_ns).max(0.0) / n,
            voluntary: (self.voluntary - before.voluntary).max(0.0) / n,
            involuntary: (self.involuntary - before.involuntary).max(0.0) / n,
        }
    }
}

/// `(workers, this thread)`: the workers are the threads named `*worker*` (corio-worker,
/// tokio-rt-worker).
pub(crate) fn counters() -> (Counters, Counters) {
    let me = Counters::read(std::path::Path::new("/proc/thread-self"));
    let mut workers = Counters::default();
    if let Ok(dir) = std::fs::read_dir("/proc/self/task") {
        for entry in dir.flatten() {
            let path = entry.path();
            let comm = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
            if comm.contains("worker") {
                workers.add(Counters::read(&path));
            }
        }
    }
    (workers, me)
}
