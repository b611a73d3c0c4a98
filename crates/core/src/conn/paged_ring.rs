//! Storage for the receive buffer: a ring of `capacity` bytes held in fixed-size pages that
//! are allocated only when written, so a large buffer costs memory in proportion to the data
//! it holds, and an emptied buffer is rebuilt page by page instead of zeroing its whole
//! capacity again on the next segment.

/// Bytes per page.
const PAGE: usize = 4096;

#[derive(Debug, Default)]
pub(crate) struct PagedRing {
    pages: Vec<Option<Box<[u8]>>>,
    capacity: usize,
}

impl PagedRing {
    pub(crate) fn new(capacity: usize) -> Self {
        PagedRing {
            pages: Vec::new(),
            capacity,
        }
    }

    /// Drop every page.
    pub(crate) fn clear(&mut self) {
        self.pages = Vec::new();
    }

    /// Bytes of pages allocated.
    #[cfg(test)]
    pub(crate) fn allocated(&self) -> usize {
        self.pages.iter().flatten().count() * PAGE
    }

    /// Write `data` starting at ring position `pos`, wrapping at the capacity.
    pub(crate) fn write(&mut self, mut pos: usize, mut data: &[u8]) {
        if self.pages.is_empty() {
            self.pages
                .resize_with(self.capacity.div_ceil(PAGE), || None);
        }
        while !data.is_empty() {
            pos %= self.capacity;
            let (page, at) = (pos / PAGE, pos % PAGE);
            let n = data.len().min(PAGE - at).min(self.capacity - pos);
            let p = self.pages[page].get_or_insert_with(|| vec![0; PAGE].into_boxed_slice());
            p[at..at + n].copy_from_slice(&data[..n]);
            data = &data[n..];
            pos += n;
        }
    }

    /// Fill `out` from ring position `pos`, wrapping at the capacity. Bytes never written
    /// read as zero.
    pub(crate) fn read(&self, mut pos: usize, out: &mut [u8]) {
        let mut done = 0;
        while done < out.len() {
            pos %= self.capacity;
            let (page, at) = (pos / PAGE, pos % PAGE);
            let n = (out.len() - done).min(PAGE - at).min(self.capacity - pos);
            match self.pages.get(page).and_then(Option::as_ref) {
                Some(p) => out[done..done + n].copy_from_slice(&p[at..at + n]),
                None => out[done..done + n].fill(0),
            }
            done += n;
            pos += n;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_and_reads_wrap_across_pages_and_the_end() {
        let cap = 3 * PAGE + 100;
        let mut r = PagedRing::new(cap);
        let data: Vec<u8> = (0..PAGE + 300).map(|i| i as u8).collect();
        r.write(cap - 200, &data);
        let mut out = vec![0; data.len()];
        r.read(cap - 200, &mut out);
        assert_eq!(out, data);
        // Only the pages touched are allocated: the last two (2, and 3 of 100 bytes), then
        // 0 and 1 after the wrap.
        assert_eq!(r.allocated(), 4 * PAGE);
        let mut r = PagedRing::new(cap);
        r.write(PAGE + 10, b"x");
        assert_eq!(r.allocated(), PAGE);
        r.clear();
        assert_eq!(r.allocated(), 0);
    }
}
