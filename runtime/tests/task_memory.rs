//! Completed tasks give their memory back: a busy worker unlinks completed tasks from the
//! owned list in batches (`Schedule::defer_release`), so a task's cell outlives its
//! completion for a while. These tests count the bytes the process holds, with a counting
//! global allocator, to check that the batch is flushed when the worker goes idle and when
//! the runtime is dropped. In their own test binary, one test at a time (the counter is
//! process-wide).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::{Duration, Instant};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Relaxed);
        // SAFETY: the caller's contract, forwarded.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Relaxed);
        // SAFETY: the caller's contract, forwarded.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// The tests share the counter: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

const TASKS: usize = 20_000;
/// Each task's future holds this much, so a leak of the tasks is far above the noise
/// (thread stacks are not heap; the runtime's own structures are a few KiB).
const PAYLOAD: usize = 256;
/// What may stay allocated: caches that grow and are kept (the run queues' buffers, the
/// owned list's slabs up to their kept capacity), far below `TASKS * PAYLOAD` (5 MB).
const SLACK: isize = 512 * 1024;

fn live() -> isize {
    LIVE.load(Relaxed)
}

/// Spawns `TASKS` tasks from inside a task (so they queue on a worker and complete in a
/// row: the deferred path) and waits for all of them.
async fn spawn_and_join_all() {
    let hs: Vec<_> = (0..TASKS)
        .map(|i| {
            let payload = [i as u8; PAYLOAD];
            corio::spawn(async move { payload.iter().map(|&b| b as usize).sum::<usize>() })
        })
        .collect();
    for (i, h) in hs.into_iter().enumerate() {
        assert_eq!(h.await.unwrap(), (i as u8) as usize * PAYLOAD);
    }
}

fn runtime() -> corio::runtime::Runtime {
    corio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap()
}

#[test]
fn completed_tasks_are_freed_once_the_workers_go_idle() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let rt = runtime();
    // Warm up: the queues and slabs grow to their working size once.
    rt.block_on(spawn_and_join_all());
    std::thread::sleep(Duration::from_millis(50));
    let before = live();
    rt.block_on(spawn_and_join_all());
    // Idle workers park, and a parking worker unlinks what it kept. Generous: the OS
    // may be slow to run them on a loaded machine.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let grown = live() - before;
        if grown < SLACK && rt.metrics().num_alive_tasks() == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{grown} bytes still held by {} tasks after they all completed",
            rt.metrics().num_alive_tasks()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn dropping_the_runtime_frees_the_completed_tasks_it_kept() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // Warm up the process-wide pieces (thread-locals, the blocking pool's statics).
    drop(runtime());
    let before = live();
    let rt = runtime();
    rt.block_on(spawn_and_join_all());
    // At once, while the workers may still hold a batch.
    drop(rt);
    let grown = live() - before;
    assert!(
        grown < SLACK,
        "{grown} bytes still held after the runtime was dropped"
    );
}
