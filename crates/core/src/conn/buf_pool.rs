//! Buffer storage that emptied connection buffers give back to the stack, for the next buffer
//! that needs some. An idle connection holds no heap (issue 8), so a connection whose
//! application keeps up empties its buffers after every exchange; the pool turns what would
//! be an allocation and a free per segment into a reuse. It is bounded, so a burst of many
//! connections does not leave the stack holding their memory for ever.

/// Bytes per receive-buffer page.
pub(crate) const PAGE: usize = 4096;

/// Most pages the pool keeps for reuse (256 KiB); more are freed.
pub(crate) const POOL_PAGES: usize = 64;

/// Storage released by emptied buffers: receive-buffer pages (`paged_ring`).
#[derive(Debug, Default)]
pub(crate) struct BufPool {
    pages: Vec<Box<[u8]>>,
}

impl BufPool {
    /// A page: a recycled one if there is one, else a new zeroed one. A recycled page keeps
    /// what it held: the receive buffer reads only bytes it wrote.
    pub(crate) fn take_page(&mut self) -> Box<[u8]> {
        self.pages
            .pop()
            .unwrap_or_else(|| vec![0; PAGE].into_boxed_slice())
    }

    /// Keep `page` for reuse, up to the pool's bound.
    pub(crate) fn give_page(&mut self, page: Box<[u8]>) {
        if self.pages.len() < POOL_PAGES {
            self.pages.push(page);
        }
    }

    /// Bytes of pages held for reuse.
    pub(crate) fn page_bytes(&self) -> usize {
        self.pages.len() * PAGE
    }
}
