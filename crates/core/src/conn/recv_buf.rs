//! The receive buffer: a ring holding in-order bytes the application has not read, and
//! out-of-order bytes placed where they belong, tracked as disjoint ranges (RFC 9293 §3.10.7.4,
//! seventh step: segments beyond RCV.NXT are held for later processing).
//!
//! Reassembly is bounded by the window: bytes are only placed within the free space, so the
//! buffer never grows past its capacity on peer input.

use super::buf_pool::BufPool;
use super::paged_ring::{wrap, PagedRing};
use super::rx_chunks::Chunks;

/// Most holes tracked at once; a segment that would need more is dropped (the peer resends).
const MAX_RANGES: usize = 32;

/// Sizes and offsets are u32, as the window they stand for (RFC 7323 §2.3: at most 2^30); a
/// capacity set larger saturates. The ring's pages and the out-of-order list are allocated
/// only while they hold something.
#[derive(Debug)]
pub(crate) struct RecvBuffer {
    ring: PagedRing,
    capacity: u32,
    head: u32,
    readable: u32,
    /// Out-of-order byte ranges `[start, end)`, as offsets from RCV.NXT (the end of the
    /// readable bytes); sorted, disjoint, not touching, none starting at 0. `None` when there
    /// are none (in-order data never allocates it). Boxed: 8 bytes in the TCB, not a Vec's 24.
    #[allow(clippy::box_collection)]
    ooo: Option<Box<Vec<(usize, usize)>>>,
    /// Readable bytes kept in the datagram buffers they arrived in (`rx_chunks`); they come
    /// before the ring's readable bytes. `None` when there are none.
    chunks: Option<Box<Chunks>>,
}

/// What `insert` did.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Insert {
    /// This many bytes became readable (RCV.NXT advances by it; 0 for a stored out-of-order piece).
    Advanced(usize),
    /// No room for another out-of-order range.
    Full,
}

impl RecvBuffer {
    pub(crate) fn new(capacity: usize) -> Self {
        RecvBuffer {
            ring: PagedRing::default(),
            capacity: u32::try_from(capacity).unwrap_or(u32::MAX),
            head: 0,
            readable: 0,
            ooo: None,
            chunks: None,
        }
    }

    /// Total size: readable bytes plus the window.
    pub(crate) fn capacity(&self) -> usize {
        self.capacity as usize
    }

    /// Enlarge the buffer to `capacity` bytes (never shrinks: the window offered stays good).
    /// (It happens once, at the SYN, before any data: its pages are new, not the pool's.)
    pub(crate) fn grow_to(&mut self, capacity: usize) {
        let capacity = u32::try_from(capacity).unwrap_or(u32::MAX);
        if capacity <= self.capacity {
            return;
        }
        // Unwrap the ring into a larger one: the readable bytes and any held out of order
        // keep their offsets from the head, which moves to 0.
        let span = self.ring_readable() + self.ooo_ranges().last().map_or(0, |&(_, e)| e);
        let mut held = vec![0; span];
        self.ring
            .read(self.capacity(), self.head as usize, &mut held);
        self.ring = PagedRing::default();
        self.capacity = capacity;
        self.ring
            .write(self.capacity(), 0, &held, &mut BufPool::default());
        self.head = 0;
    }

    /// Bytes ready for the application.
    pub(crate) fn readable(&self) -> usize {
        self.readable as usize
    }

    /// Readable bytes in the ring (after those in chunks).
    fn ring_readable(&self) -> usize {
        (self.readable - self.chunks.as_ref().map_or(0, |c| c.bytes())) as usize
    }

    /// Give the chunk just counted readable its datagram buffer (`rx_chunks`); `Err` gives
    /// the buffer back if no chunk waits for it.
    pub(crate) fn attach(&mut self, buf: Vec<u8>) -> Result<(), Vec<u8>> {
        match self.chunks.as_deref_mut() {
            Some(c) => c.attach(buf),
            None => Err(buf),
        }
    }

    /// Whether every chunk counted readable holds its bytes.
    pub(crate) fn chunks_attached(&self) -> bool {
        self.chunks.as_deref().is_none_or(Chunks::all_attached)
    }

    /// Free space: the receive window.
    pub(crate) fn window(&self) -> usize {
        (self.capacity - self.readable) as usize
    }

    /// Bytes held out of order.
    pub(crate) fn ooo_bytes(&self) -> usize {
        self.ooo_ranges().iter().map(|(s, e)| e - s).sum()
    }

    /// The out-of-order ranges `[start, end)` as offsets from RCV.NXT, ascending.
    pub(crate) fn ooo_ranges(&self) -> &[(usize, usize)] {
        self.ooo.as_deref().map_or(&[], Vec::as_slice)
    }

    /// Index of the out-of-order range that holds all of `[start, end)`, if one does.
    pub(crate) fn ooo_holding(&self, start: usize, end: usize) -> Option<usize> {
        self.ooo_ranges()
            .iter()
            .position(|&(s, e)| s <= start && end <= e)
    }

    /// Place `data` at `off` bytes past RCV.NXT. The caller has trimmed it to the window.
    pub(crate) fn insert(&mut self, off: usize, data: &[u8], pool: &mut BufPool) -> Insert {
        let room = self.window();
        if off >= room || data.is_empty() {
            return Insert::Advanced(0);
        }
        let data = &data[..data.len().min(room - off)];
        let at = self.head as usize + self.ring_readable() + off;
        if off == 0 && self.ooo.is_none() {
            // In order with nothing held beyond: the common case, no range list needed.
            // With nothing in the ring either, the bytes may stay in the datagram on offer.
            if at == self.head as usize {
                if let Some(start) = pool.offer.as_mut().and_then(|o| o.take(data)) {
                    self.chunks
                        .get_or_insert_with(|| pool.take_chunks())
                        .push_pending(start, data.len());
                    self.readable += data.len() as u32;
                    return Insert::Advanced(data.len());
                }
            }
            self.ring.write(self.capacity(), at, data, pool);
            self.readable += data.len() as u32;
            return Insert::Advanced(data.len());
        }
        let (start, end) = (off, off + data.len());
        // Merge [start, end) into the range list first, so a refusal changes nothing.
        let ranges = self.ooo_ranges();
        let first = ranges.partition_point(|&(_, e)| e < start);
        let last = ranges.partition_point(|&(s, _)| s <= end);
        if first == last && start != 0 && ranges.len() >= MAX_RANGES {
            return Insert::Full;
        }
        let mut merged = (start, end);
        if first < last {
            merged.0 = merged.0.min(ranges[first].0);
            merged.1 = merged.1.max(ranges[last - 1].1);
        }
        let ooo = self.ooo.get_or_insert_with(Box::default);
        ooo.splice(first..last, std::iter::once(merged));
        let advance = if ooo[0].0 == 0 {
            let advance = ooo.remove(0).1;
            for r in ooo.iter_mut() {
                r.0 -= advance;
                r.1 -= advance;
            }
            advance
        } else {
            0
        };
        if ooo.is_empty() {
            self.ooo = None;
        }
        let capacity = self.capacity();
        self.ring.write(capacity, at, data, pool);
        self.readable += advance as u32;
        Insert::Advanced(advance)
    }

    /// Heap bytes held (pages, the page table, the range list).
    #[cfg(test)]
    pub(crate) fn allocated(&self) -> usize {
        self.ring.allocated()
            + self.ring.table_bytes()
            + self.ooo.as_ref().map_or(0, |v| {
                std::mem::size_of::<Vec<(usize, usize)>>() + v.capacity() * 16
            })
            + self
                .chunks
                .as_ref()
                .map_or(0, |c| std::mem::size_of::<Chunks>() + c.allocated())
    }

    /// Copy readable bytes into `out`; returns how many.
    #[cfg(test)]
    pub(crate) fn read(&mut self, out: &mut [u8], pool: &mut BufPool) -> usize {
        self.consume(out.len(), pool, super::paged_ring::filler(out))
    }

    /// Show up to `max` readable bytes to `f` where they lie (datagram buffers, then ring
    /// pages), oldest first, as contiguous runs, and count them read, as `read` would;
    /// returns how many. Each run is counted read before `f` sees it, so a panic in `f`
    /// leaves the buffer consistent: the runs shown are read, the rest still readable.
    pub(crate) fn consume(
        &mut self,
        max: usize,
        pool: &mut BufPool,
        mut f: impl FnMut(&[u8]),
    ) -> usize {
        let n = max.min(self.readable());
        let RecvBuffer {
            ring,
            capacity,
            head,
            readable,
            chunks,
            ..
        } = self;
        let mut done = 0;
        if let Some(c) = chunks.as_deref_mut() {
            done = c.consume(n, pool, |run| {
                *readable -= run.len() as u32;
                f(run);
            });
        }
        if let Some(c) = chunks.take_if(|c| c.is_empty()) {
            pool.give_chunks(c);
        }
        let capacity = *capacity as usize;
        ring.visit(capacity, *head as usize, n - done, |run| {
            *head = wrap(*head as usize + run.len(), capacity) as u32;
            *readable -= run.len() as u32;
            f(run);
        });
        if self.ring_readable() == 0 && self.ooo.is_none() {
            // Buffers are held only while they hold data.
            self.ring.clear(pool);
            self.head = 0;
        }
        n
    }
}

#[cfg(test)]
mod tests {
    /// Bytes of one page-table slot.
    const SLOT: usize = std::mem::size_of::<Option<Box<[u8]>>>();

    use super::*;

    fn read_all(b: &mut RecvBuffer) -> Vec<u8> {
        let mut out = vec![0; b.readable()];
        b.read(&mut out, &mut BufPool::default());
        out
    }

    fn ins(b: &mut RecvBuffer, off: usize, data: &[u8]) -> Insert {
        b.insert(off, data, &mut BufPool::default())
    }

    #[test]
    fn out_of_order_pieces_become_readable_when_the_gap_fills() {
        let mut b = RecvBuffer::new(16);
        assert_eq!(ins(&mut b, 4, b"efgh"), Insert::Advanced(0));
        assert_eq!(ins(&mut b, 10, b"kl"), Insert::Advanced(0));
        assert_eq!(b.readable(), 0);
        assert_eq!(b.ooo_bytes(), 6);
        assert_eq!(ins(&mut b, 0, b"abcd"), Insert::Advanced(8));
        assert_eq!(read_all(&mut b), b"abcdefgh");
        assert_eq!(ins(&mut b, 0, b"ij"), Insert::Advanced(4));
        assert_eq!(read_all(&mut b), b"ijkl");
    }

    #[test]
    fn data_beyond_the_window_is_cut_and_overlaps_merge() {
        let mut b = RecvBuffer::new(8);
        assert_eq!(ins(&mut b, 2, b"cdefghij"), Insert::Advanced(0));
        assert_eq!(b.ooo_bytes(), 6);
        assert_eq!(ins(&mut b, 0, b"abcd"), Insert::Advanced(8));
        assert_eq!(b.window(), 0);
        assert_eq!(ins(&mut b, 0, b"x"), Insert::Advanced(0));
        assert_eq!(read_all(&mut b), b"abcdefgh");
    }

    #[test]
    fn ring_wraps_across_reads() {
        let mut b = RecvBuffer::new(5);
        for round in 0..10u8 {
            let data = [round, round + 1, round + 2];
            assert_eq!(ins(&mut b, 0, &data), Insert::Advanced(3));
            assert_eq!(read_all(&mut b), data);
        }
    }

    #[test]
    fn an_emptied_buffer_holds_no_heap_and_the_pool_keeps_its_storage() {
        let mut pool = BufPool::default();
        let mut b = RecvBuffer::new(65_535);
        for round in 0..3 {
            assert_eq!(b.insert(0, b"abc", &mut pool), Insert::Advanced(3));
            assert!(b.allocated() > 0);
            let mut out = [0; 3];
            assert_eq!(b.read(&mut out, &mut pool), 3);
            assert_eq!(b.allocated(), 0, "round {round}: emptied, no heap");
            assert_eq!((pool.page_bytes(), pool.spare_bytes()), (4096, 16 * SLOT));
        }
    }

    #[test]
    fn a_kept_datagram_list_goes_back_to_the_pool_and_is_taken_again() {
        use super::super::rx_chunks::{Offer, KEEP_MIN};
        let mut pool = BufPool::default();
        let mut b = RecvBuffer::new(64 * 1024);
        for round in 0..3 {
            let datagram = vec![round as u8; 2 * KEEP_MIN];
            let mut offer = Offer::new(&datagram, datagram.capacity());
            offer.direct_to(crate::handle::ConnId { index: 0, gen: 1 });
            pool.offer = Some(offer);
            let before = pool.spare_bytes();
            let kept = datagram.len() - 40;
            assert_eq!(
                b.insert(0, &datagram[40..], &mut pool),
                Insert::Advanced(kept)
            );
            pool.offer = None;
            let list = std::mem::size_of::<Chunks>() + b.chunks.as_ref().unwrap().list_bytes();
            let taken = if round == 0 { 0 } else { list };
            assert_eq!(pool.spare_bytes(), before - taken, "round {round}");
            let (before, capacity) = (pool.spare_bytes(), datagram.capacity());
            assert!(b.attach(datagram).is_ok());
            let mut out = vec![0; kept];
            assert_eq!(b.read(&mut out, &mut pool), kept);
            assert!(out.iter().all(|&x| x == round as u8));
            assert_eq!(b.allocated(), 0, "round {round}: emptied, no heap");
            assert_eq!(
                pool.spare_bytes(),
                before + capacity + list,
                "round {round}"
            );
        }
    }

    #[test]
    fn too_many_holes_are_refused_without_change() {
        let mut b = RecvBuffer::new(1000);
        for i in 0..MAX_RANGES {
            assert_eq!(ins(&mut b, 2 + 3 * i, b"x"), Insert::Advanced(0));
        }
        assert_eq!(ins(&mut b, 500, b"y"), Insert::Full);
        assert_eq!(b.ooo_bytes(), MAX_RANGES);
        // Filling an existing hole still works.
        assert_eq!(ins(&mut b, 3, b"z"), Insert::Advanced(0));
    }
}
