//! The send buffer: bytes the application wrote that are not yet acknowledged, starting at
//! the sequence number of the first unacknowledged data byte.

use std::collections::VecDeque;

/// Unacknowledged and unsent application bytes, bounded by a capacity. The storage grows only
/// while it holds data.
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

    /// Append as much of `data` as fits; returns how much was taken.
    pub(crate) fn push(&mut self, data: &[u8]) -> usize {
        let n = data.len().min(self.free());
        self.bytes.extend(&data[..n]);
        n
    }

    /// Drop `n` acknowledged bytes from the front.
    pub(crate) fn consume(&mut self, n: usize) {
        let n = n.min(self.bytes.len());
        self.bytes.drain(..n);
        if self.bytes.is_empty() {
            // Buffers are held only while they hold data.
            self.bytes = VecDeque::new();
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

    #[test]
    fn slices_cover_wrapped_storage() {
        let mut b = SendBuffer::new(8);
        assert_eq!(b.push(b"abcdef"), 6);
        b.consume(4);
        assert_eq!(b.push(b"ghijklmn"), 6);
        let (x, y) = b.slices(1, 5);
        assert_eq!([x, y].concat(), b"fghij");
        let (x, y) = b.slices(6, 10);
        assert_eq!([x, y].concat(), b"kl");
        assert_eq!(b.free(), 0);
    }
}
