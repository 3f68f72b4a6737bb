use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use super::test_item::Item;
use super::{Inject, MAX_BATCH};
use crate::loom::deque::{Steal, Worker};
use crate::util::queue_link::Linked;

fn filled(n: usize, drops: &Arc<AtomicUsize>) -> Inject<Item> {
    let q = Inject::new();
    for i in 0..n {
        q.push(Item::new(i, drops));
    }
    q
}

fn take(q: &Inject<Item>, dest: &Worker<Item>, limit: usize) -> Option<usize> {
    match q.steal_batch_with_limit_and_pop(dest, limit) {
        Steal::Success(item) => Some(item.value()),
        Steal::Empty => None,
        Steal::Retry => panic!("a batch never asks for a retry"),
    }
}

fn drain(w: &Worker<Item>) -> Vec<usize> {
    std::iter::from_fn(|| w.pop().map(|i| i.value())).collect()
}

#[test]
fn batches_take_the_oldest_items_in_order_up_to_the_limit() {
    let drops = Arc::new(AtomicUsize::new(0));
    let q = filled(10, &drops);
    let w = Worker::new_fifo();
    assert_eq!(take(&q, &w, 4), Some(0));
    assert_eq!(drain(&w), [1, 2, 3]);
    assert_eq!(q.len(), 6);
    // About half of what is queued, however high the limit.
    assert_eq!(take(&q, &w, usize::MAX), Some(4));
    assert_eq!(drain(&w), [5, 6]);
    assert_eq!(q.len(), 3);
    assert_eq!(take(&q, &w, usize::MAX), Some(7));
    assert_eq!(drain(&w), [8]);
    assert_eq!(take(&q, &w, usize::MAX), Some(9));
    assert_eq!(drain(&w), Vec::<usize>::new());
    assert!(q.is_empty());
    assert_eq!(take(&q, &w, usize::MAX), None);
    assert_eq!(drops.load(Ordering::Relaxed), 10);
}

#[test]
fn a_batch_is_capped_so_that_it_stays_short() {
    let drops = Arc::new(AtomicUsize::new(0));
    let q = filled(1_000, &drops);
    let w = Worker::new_fifo();
    assert_eq!(take(&q, &w, usize::MAX), Some(0));
    assert_eq!(drain(&w), (1..MAX_BATCH).collect::<Vec<_>>());
    assert_eq!(q.len(), 1_000 - MAX_BATCH);
}

#[test]
fn an_emptied_queue_takes_items_again_and_keeps_their_order() {
    // Emptying the queue re-queues the stub behind the last item (invariant 4); items are
    // pushed again after being taken (invariant 2).
    let drops = Arc::new(AtomicUsize::new(0));
    let q = Inject::new();
    let w = Worker::new_fifo();
    for round in 0..5 {
        for i in 0..3 {
            q.push(Item::new(round * 10 + i, &drops));
        }
        let mut got = Vec::new();
        while let Some(v) = take(&q, &w, 1) {
            got.push(v);
        }
        assert_eq!(got, [round * 10, round * 10 + 1, round * 10 + 2]);
        assert!(q.is_empty());
    }
    assert!(matches!(q.steal(), Steal::Empty));
    q.push(Item::new(99, &drops));
    assert_eq!(take(&q, &w, 8), Some(99));
}

#[test]
fn a_push_under_way_hides_its_item_its_predecessor_and_those_behind_until_linked() {
    // The predecessor can only leave once something is linked behind it (invariant 2).
    let drops = Arc::new(AtomicUsize::new(0));
    let q = filled(1, &drops);
    let w = Worker::new_fifo();
    // A producer that has swapped `tail` but not yet stored its predecessor's link.
    let stalled = Item::new(1, &drops).into_link();
    q.len.fetch_add(1, Ordering::Relaxed);
    // SAFETY: `stalled` is ours to queue.
    unsafe { stalled.as_ref() }
        .next
        .store(std::ptr::null_mut(), Ordering::Relaxed);
    let prev = q.tail.swap(stalled.as_ptr(), Ordering::AcqRel);
    q.push(Item::new(2, &drops));
    assert_eq!(take(&q, &w, usize::MAX), None);
    assert_eq!(q.len(), 3, "every item, reachable or not, stays counted");
    assert!(
        !q.is_empty(),
        "the park re-check must not see an empty queue"
    );
    assert!(matches!(q.steal(), Steal::Retry));
    // The producer goes on.
    // SAFETY: `prev` is the queued item before `stalled`, alive while queued.
    unsafe { &*prev }
        .next
        .store(stalled.as_ptr(), Ordering::Release);
    assert_eq!(take(&q, &w, 1), Some(0));
    assert_eq!(take(&q, &w, 1), Some(1));
    assert_eq!(take(&q, &w, 1), Some(2));
    assert!(q.is_empty());
}

#[test]
fn dropping_the_queue_drops_every_item_once() {
    let drops = Arc::new(AtomicUsize::new(0));
    let q = filled(100, &drops);
    let w = Worker::new_fifo();
    assert_eq!(take(&q, &w, 10), Some(0));
    drop(q);
    assert_eq!(drops.load(Ordering::Relaxed), 91);
    drop(w);
    assert_eq!(drops.load(Ordering::Relaxed), 100);
}

#[test]
fn producers_and_consumers_on_threads_lose_and_repeat_nothing() {
    const PRODUCERS: usize = 4;
    const EACH: usize = 20_000;
    let drops = Arc::new(AtomicUsize::new(0));
    let q = Arc::new(Inject::<Item>::new());
    let taken = Arc::new(AtomicUsize::new(0));
    let consumers: Vec<_> = (0..2)
        .map(|_| {
            let (q, taken) = (q.clone(), taken.clone());
            std::thread::spawn(move || {
                let w = Worker::new_fifo();
                let mut seen = Vec::new();
                while taken.load(Ordering::Relaxed) < PRODUCERS * EACH {
                    let limit = seen.len() % 70 + 1;
                    if let Steal::Success(item) = q.steal_batch_with_limit_and_pop(&w, limit) {
                        let mut batch = vec![item.value()];
                        batch.extend(drain(&w));
                        taken.fetch_add(batch.len(), Ordering::Relaxed);
                        seen.push(batch);
                    }
                }
                seen
            })
        })
        .collect();
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let (q, drops) = (q.clone(), drops.clone());
            std::thread::spawn(move || {
                for i in 0..EACH {
                    q.push(Item::new(p * EACH + i, &drops));
                }
            })
        })
        .collect();
    for p in producers {
        p.join().unwrap();
    }
    let mut all = Vec::new();
    for c in consumers {
        for batch in c.join().unwrap() {
            // Within a batch, each producer's items keep their order.
            for p in 0..PRODUCERS {
                let mine: Vec<_> = batch.iter().filter(|&&v| v / EACH == p).collect();
                assert!(
                    mine.windows(2).all(|w| w[0] < w[1]),
                    "out of order: {mine:?}"
                );
            }
            all.extend(batch);
        }
    }
    all.sort_unstable();
    assert_eq!(all, (0..PRODUCERS * EACH).collect::<Vec<_>>());
    assert!(q.is_empty());
    assert_eq!(drops.load(Ordering::Relaxed), PRODUCERS * EACH);
}
