//! The send buffer: bytes the application wrote that are not yet acknowledged, starting at
//! the sequence number of the first unacknowledged data byte.

use std::collections::VecDeque;

use super::buf_pool::BufPool;

/// Unacknowledged and unsent application bytes, bounded by a capacity. The storage is held
/// only while it holds data: it comes from the stack's `BufPool` and goes back when emptied.
#[derive(Debug)]
pub(crate) struct SendBuffer {
    bytes: VecDeque<u8>,
    capacity: usize,
}

impl SendBuffer {
    pub(crate) fn new(capacity: usize) -> Self {
        SendBuffer {
            bytes: VecDeque::new(),
            capacity,
        }
    }

    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    pub(crate) fn len(&self) -> usize {
        self.bytes.len()
    }

    pub(crate) fn free(&self) -> usize {
        self.capacity.saturating_sub(self.bytes.len())
    }

    /// Heap bytes held.
    #[cfg(test)]
    pub(crate) fn allocated(&self) -> usize {
        self.bytes.capacity()
    }

    /// Append as much of `data` as fits; returns how much was taken. An empty buffer takes
    /// its storage from `pool`.
    pub(crate) fn push(&mut self, data: &[u8], pool: &mut BufPool) -> usize {
        let n = data.len().min(self.free());
        if n > 0 && self.bytes.capacity() == 0 {
            // An application that writes a request, gets its ACK and writes again empties
            // the buffer in between: reuse a store rather than allocate and grow a new one.
            self.bytes = pool.take_send();
        }
        self.bytes.extend(&data[..n]);
        n
    }

    /// Drop `n` acknowledged bytes from the front; the storage goes back to `pool` if that
    /// empties the buffer.
    pub(crate) fn consume(&mut self, n: usize, pool: &mut BufPool) {
        let n = n.min(self.bytes.len());
        self.bytes.drain(..n);
        if self.bytes.is_empty() && self.bytes.capacity() > 0 {
            // Buffers are held only while they hold data.
            pool.give_send(std::mem::take(&mut self.bytes));
        }
    }

    /// The bytes at `[off, off + len)` as at most two slices (the ring may wrap).
    pub(crate) fn slices(&self, off: usize, len: usize) -> (&[u8], &[u8]) {
        let (a, b) = self.bytes.as_slices();
        let end = off.saturating_add(len).min(self.bytes.len());
        let off = off.min(end);
        if end <= a.len() {
            (&a[off..end], &[])
        } else if off >= a.len() {
            (&b[off - a.len()..end - a.len()], &[])
        } else {
            (&a[off..], &b[..end - a.len()])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conn::buf_pool::POOL_SEND_BYTES;

    #[test]
    fn slices_cover_wrapped_storage() {
        let mut b = SendBuffer::new(8);
        let pool = &mut BufPool::default();
        assert_eq!(b.push(b"abcdef", pool), 6);
        b.consume(4, pool);
        assert_eq!(b.push(b"ghijklmn", pool), 6);
        let (x, y) = b.slices(1, 5);
        assert_eq!([x, y].concat(), b"fghij");
        let (x, y) = b.slices(6, 10);
        assert_eq!([x, y].concat(), b"kl");
        assert_eq!(b.free(), 0);
    }

    #[test]
    fn an_emptied_buffer_holds_no_heap_and_its_store_is_reused() {
        let mut pool = BufPool::default();
        let mut b = SendBuffer::new(1000);
        assert_eq!(b.push(b"request", &mut pool), 7);
        let cap = b.allocated();
        b.consume(3, &mut pool);
        assert_eq!(pool.spare_bytes(), 0, "still holding data");
        b.consume(4, &mut pool);
        assert_eq!(b.allocated(), 0, "emptied, no heap");
        assert_eq!(pool.spare_bytes(), cap, "the store went to the pool");
        assert_eq!(b.push(b"again", &mut pool), 5);
        assert_eq!(
            (b.allocated(), pool.spare_bytes()),
            (cap, 0),
            "and came back"
        );
        let (x, y) = b.slices(0, 5);
        assert_eq!([x, y].concat(), b"again");
    }

    /// A bulk sender with a 1 MiB buffer fills it, has it all acknowledged, and fills it
    /// again: the second round writes into the first round's store. So does one whose buffer
    /// is larger than the pool's byte bound.
    #[test]
    fn a_large_store_emptied_by_acknowledgment_is_reused() {
        const MIB: usize = 1 << 20;
        for size in [MIB, 2 * POOL_SEND_BYTES] {
            fill_ack_refill(size);
        }
    }

    fn fill_ack_refill(size: usize) {
        let mut pool = BufPool::default();
        let mut b = SendBuffer::new(size);
        let data = vec![7u8; size];
        for round in 0..3 {
            assert_eq!(b.push(&data, &mut pool), size);
            let cap = b.allocated();
            assert!(cap >= size);
            b.consume(size, &mut pool);
            assert_eq!(b.allocated(), 0, "round {round}: emptied, no heap");
            assert_eq!(pool.spare_bytes(), cap, "round {round}: kept in the pool");
            assert_eq!(b.push(b"x", &mut pool), 1);
            assert_eq!(
                b.allocated(),
                cap,
                "round {round}: the same store came back"
            );
            b.consume(1, &mut pool);
        }
    }
}
