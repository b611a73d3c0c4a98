//! The event queue: items ordered by (time, insertion counter), so ties replay in send order.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

use oxtcp_core::Instant;

/// A min-heap of items due at virtual instants; equal instants come out first-in, first-out.
pub(crate) struct EventQueue<T> {
    heap: BinaryHeap<Reverse<Entry<T>>>,
    next_seq: u64,
}

struct Entry<T> {
    time: Instant,
    seq: u64,
    item: T,
}

impl<T> PartialEq for Entry<T> {
    fn eq(&self, other: &Self) -> bool {
        (self.time, self.seq) == (other.time, other.seq)
    }
}
impl<T> Eq for Entry<T> {}
impl<T> PartialOrd for Entry<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<T> Ord for Entry<T> {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.time, self.seq).cmp(&(other.time, other.seq))
    }
}

impl<T> EventQueue<T> {
    /// An empty queue.
    pub(crate) fn new() -> Self {
        EventQueue {
            heap: BinaryHeap::new(),
            next_seq: 0,
        }
    }

    /// Schedule `item` at `time`.
    pub(crate) fn push(&mut self, time: Instant, item: T) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.heap.push(Reverse(Entry { time, seq, item }));
    }

    /// When the earliest item is due.
    pub(crate) fn peek_time(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse(e)| e.time)
    }

    /// Remove the earliest item.
    pub(crate) fn pop(&mut self) -> Option<(Instant, T)> {
        self.heap.pop().map(|Reverse(e)| (e.time, e.item))
    }

    /// Items scheduled.
    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn earlier_first_then_insertion_order() {
        let mut q = EventQueue::new();
        q.push(Instant::from_micros(5), "late");
        q.push(Instant::from_micros(1), "first at 1");
        q.push(Instant::from_micros(1), "second at 1");
        assert_eq!(q.peek_time(), Some(Instant::from_micros(1)));
        let order: Vec<_> = std::iter::from_fn(|| q.pop().map(|(_, s)| s)).collect();
        assert_eq!(order, ["first at 1", "second at 1", "late"]);
        assert_eq!(q.len(), 0);
    }
}
