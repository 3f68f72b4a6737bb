//! Loom models of the injector: producers racing each other and a consumer taking the last
//! item (the stub pushed again behind it, invariant 4), and a consumer meeting a push under
//! way (invariant 1). Every item must come out once, each producer's in order, and `len` must
//! never fall below the items still to come.

use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::sync::Arc;
use loom::thread;

use super::test_item::Item;
use super::Inject;
use crate::loom::deque::{Steal, Worker};

/// What a consumer has taken, checking each producer's order (values are
/// `producer * 10 + i`).
#[derive(Default)]
struct Taken {
    last: [Option<usize>; 2],
    count: usize,
}

impl Taken {
    /// One batch of at most two; false if nothing was reachable.
    fn batch(&mut self, q: &Inject<Item>, w: &Worker<Item>) -> bool {
        let Steal::Success(item) = q.steal_batch_with_limit_and_pop(w, 2) else {
            return false;
        };
        let mut batch = vec![item.value()];
        batch.extend(std::iter::from_fn(|| w.pop().map(|i| i.value())));
        for v in batch {
            let p = v / 10;
            assert!(
                self.last[p].is_none_or(|l| l < v),
                "producer {p} out of order"
            );
            self.last[p] = Some(v);
            self.count += 1;
        }
        true
    }
}

/// Takes up to `tries` batches while `producers` push `total` items, then joins them: every
/// item not yet taken must then be counted and reachable.
fn consume_racing(
    q: &Inject<Item>,
    producers: Vec<thread::JoinHandle<()>>,
    total: usize,
    tries: usize,
) {
    let w = Worker::new_fifo();
    let mut taken = Taken::default();
    for _ in 0..tries {
        taken.batch(q, &w);
        assert!(
            q.len() <= total - taken.count,
            "len counts more than was pushed"
        );
    }
    for p in producers {
        p.join().unwrap();
    }
    assert_eq!(q.len(), total - taken.count, "len lost or invented an item");
    while taken.count < total {
        assert!(
            taken.batch(q, &w),
            "a queued item is unreachable after its push"
        );
    }
    assert!(q.is_empty());
}

#[test]
fn loom_inject_two_producers_and_a_consumer() {
    loom::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let q = Arc::new(Inject::<Item>::new());
        let producers: Vec<_> = (0..2)
            .map(|p| {
                let (q, drops) = (q.clone(), drops.clone());
                thread::spawn(move || q.push(Item::new(p * 10, &drops)))
            })
            .collect();
        consume_racing(&q, producers, 2, 2);
        assert_eq!(drops.load(Ordering::Relaxed), 2);
    });
}

#[test]
fn loom_inject_consumer_takes_the_last_item_while_one_is_pushed() {
    loom::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let q = Arc::new(Inject::<Item>::new());
        q.push(Item::new(0, &drops));
        let producer = {
            let (q, drops) = (q.clone(), drops.clone());
            thread::spawn(move || {
                q.push(Item::new(1, &drops));
                q.push(Item::new(2, &drops));
            })
        };
        consume_racing(&q, vec![producer], 3, 2);
        drop(q);
        assert_eq!(drops.load(Ordering::Relaxed), 3);
    });
}

#[test]
fn loom_inject_two_consumers_split_the_items() {
    loom::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let q = Arc::new(Inject::<Item>::new());
        let taken = Arc::new(AtomicUsize::new(0));
        let producer = {
            let (q, drops) = (q.clone(), drops.clone());
            thread::spawn(move || {
                q.push(Item::new(0, &drops));
                q.push(Item::new(1, &drops));
            })
        };
        let consumer = {
            let (q, taken) = (q.clone(), taken.clone());
            thread::spawn(move || {
                if let Steal::Success(item) = q.steal() {
                    drop(item);
                    taken.fetch_add(1, Ordering::Relaxed);
                }
            })
        };
        producer.join().unwrap();
        consumer.join().unwrap();
        let rest = 2 - taken.load(Ordering::Relaxed);
        consume_racing(&q, Vec::new(), rest, 0);
        assert_eq!(drops.load(Ordering::Relaxed), 2);
    });
}
