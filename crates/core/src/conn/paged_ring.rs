//! Storage for the receive buffer: a ring of `capacity` bytes held in fixed-size pages that
//! are taken only when written, so a large buffer costs memory in proportion to the data it
//! holds, and an emptied buffer is rebuilt page by page instead of zeroing its whole capacity
//! again on the next segment.
//!
//! Pages come from, and go back to, the stack's `BufPool` (`buf_pool`). A connection whose
//! application keeps up empties its buffer after every segment; without the pool each segment
//! allocated and zeroed a fresh 4 KiB page (40% of the instructions of receiving a segment,
//! measured by `oxtcp-bench insns`). A recycled page keeps what it held: the receive buffer
//! reads only bytes it wrote.

use super::buf_pool::{BufPool, PageTable, PAGE};

/// The ring's capacity is its owner's, passed to each call (the receive buffer keeps it).
#[derive(Debug, Default)]
pub(crate) struct PagedRing {
    pages: PageTable,
}

impl PagedRing {
    /// Give every page, then the page table, back to `pool`: the ring holds no heap after.
    pub(crate) fn clear(&mut self, pool: &mut BufPool) {
        let mut table = std::mem::take(&mut self.pages);
        for p in table.iter_mut().filter_map(Option::take) {
            pool.give_page(p);
        }
        // The table too: a buffer emptied after every segment otherwise freed it each time
        // and allocated it again at the next write.
        pool.give_table(table);
    }

    /// Bytes of pages allocated.
    #[cfg(test)]
    pub(crate) fn allocated(&self) -> usize {
        self.pages.iter().flatten().count() * PAGE
    }

    /// Bytes of the page table.
    #[cfg(test)]
    pub(crate) fn table_bytes(&self) -> usize {
        std::mem::size_of_val(&*self.pages)
    }

    /// Write `data` starting at ring position `pos`, wrapping at the capacity.
    pub(crate) fn write(
        &mut self,
        capacity: usize,
        mut pos: usize,
        mut data: &[u8],
        pool: &mut BufPool,
    ) {
        if self.pages.is_empty() {
            self.pages = pool.take_table(capacity.div_ceil(PAGE));
        }
        while !data.is_empty() {
            pos = wrap(pos, capacity);
            let (page, at) = (pos / PAGE, pos % PAGE);
            let n = data.len().min(PAGE - at).min(capacity - pos);
            let p = self.pages[page].get_or_insert_with(|| pool.take_page());
            p[at..at + n].copy_from_slice(&data[..n]);
            data = &data[n..];
            pos += n;
        }
    }

    /// Fill `out` from ring position `pos`, wrapping at the capacity. Bytes of pages never
    /// taken read as zero; other bytes never written read as whatever their page last held.
    pub(crate) fn read(&self, capacity: usize, pos: usize, out: &mut [u8]) {
        self.visit(capacity, pos, out.len(), filler(out));
    }

    /// Show `len` bytes from ring position `pos` to `f` in place, as the runs that lie
    /// contiguous in the pages (at most a page each), in order; as `read` would fill them.
    pub(crate) fn visit(
        &self,
        capacity: usize,
        mut pos: usize,
        len: usize,
        mut f: impl FnMut(&[u8]),
    ) {
        let mut done = 0;
        while done < len {
            pos = wrap(pos, capacity);
            let (page, at) = (pos / PAGE, pos % PAGE);
            let n = (len - done).min(PAGE - at).min(capacity - pos);
            match self.pages.get(page).and_then(Option::as_ref) {
                Some(p) => f(&p[at..at + n]),
                None => f(&ZEROS[..n]),
            }
            done += n;
            pos += n;
        }
    }
}

/// A visitor that copies the runs it is shown into `out`, one after another: how a read that
/// copies is made of one that shows the bytes in place. The runs must fit in `out`.
pub(crate) fn filler(out: &mut [u8]) -> impl FnMut(&[u8]) + '_ {
    let mut done = 0;
    move |run| {
        out[done..done + run.len()].copy_from_slice(run);
        done += run.len();
    }
}

/// What a page never taken reads as.
static ZEROS: [u8; PAGE] = [0; PAGE];

/// `pos` brought into `[0, capacity)`. Callers pass positions less than twice the capacity
/// (the head plus at most one buffer's worth), so this subtracts at most once instead of
/// dividing, which on the per-segment path cost a 64-bit `div` per page touched.
pub(crate) fn wrap(mut pos: usize, capacity: usize) -> usize {
    while pos >= capacity && capacity > 0 {
        pos -= capacity;
    }
    pos
}

#[cfg(test)]
mod tests {
    /// Bytes of one page-table slot.
    const SLOT: usize = std::mem::size_of::<Option<Box<[u8]>>>();

    use super::super::buf_pool::POOL_PAGES;
    use super::*;

    #[test]
    fn writes_and_reads_wrap_across_pages_and_the_end() {
        let cap = 3 * PAGE + 100;
        let mut pool = BufPool::default();
        let mut r = PagedRing::default();
        let data: Vec<u8> = (0..PAGE + 300).map(|i| i as u8).collect();
        r.write(cap, cap - 200, &data, &mut pool);
        let mut out = vec![0; data.len()];
        r.read(cap, cap - 200, &mut out);
        assert_eq!(out, data);
        // Only the pages touched are allocated: the last two (2, and 3 of 100 bytes), then
        // 0 and 1 after the wrap.
        assert_eq!(r.allocated(), 4 * PAGE);
        let mut r = PagedRing::default();
        r.write(cap, PAGE + 10, b"x", &mut pool);
        assert_eq!(r.allocated(), PAGE);
        r.clear(&mut pool);
        assert_eq!(r.allocated(), 0);
        assert_eq!(pool.page_bytes(), PAGE, "the page went back to the pool");
    }

    #[test]
    fn wrap_is_the_remainder_for_any_position_and_leaves_a_zero_capacity_alone() {
        for cap in [1, 7, PAGE, 3 * PAGE + 100] {
            for pos in (0..5 * cap).step_by(cap.div_ceil(97)) {
                assert_eq!(wrap(pos, cap), pos % cap, "{pos} in {cap}");
            }
        }
        assert_eq!(wrap(0, 0), 0);
    }

    #[test]
    fn an_emptied_ring_holds_no_heap_and_its_table_is_reused() {
        let cap = 16 * PAGE;
        let mut pool = BufPool::default();
        let mut r = PagedRing::default();
        r.write(cap, 0, b"x", &mut pool);
        let table = r.pages.as_ptr();
        r.clear(&mut pool);
        assert_eq!(r.allocated() + r.table_bytes(), 0, "no heap while empty");
        assert_eq!(pool.spare_bytes(), 16 * SLOT);
        let mut s = PagedRing::default();
        s.write(cap, 0, b"y", &mut pool);
        assert_eq!(s.pages.as_ptr(), table, "the table was reused");
        assert_eq!((pool.page_bytes(), pool.spare_bytes()), (0, 0));
    }

    #[test]
    fn the_pool_recycles_pages_and_stays_bounded() {
        let mut pool = BufPool::default();
        let mut a = PagedRing::default();
        a.write(PAGE, 0, b"old bytes", &mut pool);
        a.clear(&mut pool);
        let mut b = PagedRing::default();
        b.write(PAGE, 4, b"new", &mut pool);
        assert_eq!(pool.page_bytes(), 0, "b took the recycled page");
        let mut out = [0u8; 3];
        b.read(PAGE, 4, &mut out);
        assert_eq!(&out, b"new");
        for _ in 0..POOL_PAGES + 10 {
            pool.give_page(vec![0; PAGE].into_boxed_slice());
        }
        assert_eq!(pool.page_bytes(), POOL_PAGES * PAGE);
    }
}
