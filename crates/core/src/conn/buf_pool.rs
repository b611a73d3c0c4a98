//! Buffer storage that emptied connection buffers give back to the stack, for the next buffer
//! that needs some. An idle connection holds no heap (issue 8), so a connection whose
//! application keeps up empties its buffers after every exchange; the pool turns what would
//! be an allocation and a free per segment into a reuse. It is bounded, so a burst of many
//! connections does not leave the stack holding their memory for ever.

use std::collections::VecDeque;

use super::rx_chunks::{Chunks, Offer};
use super::time_wait::TimeWait;

/// Bytes per receive-buffer page.
pub(crate) const PAGE: usize = 4096;

/// Most pages the pool keeps for reuse (1 MiB, a large receive buffer's worth: a stream that
/// fills and drains a 1 MiB buffer otherwise allocates and zeroes pages as fast as it frees
/// them, 3% of the CPU of receiving over a TUN by `perf`); more are freed.
pub(crate) const POOL_PAGES: usize = 256;

/// Most page tables the pool keeps for reuse.
pub(crate) const POOL_TABLES: usize = 64;

/// Most bytes of page tables the pool keeps (a 64 KiB buffer's table is 256 bytes, a
/// 1 MiB buffer's 4 KiB); a table that would pass it is freed.
pub(crate) const POOL_TABLE_BYTES: usize = 32 * 1024;

/// Most send-buffer stores the pool keeps for reuse.
pub(crate) const POOL_SENDS: usize = 64;

/// Most bytes of send-buffer stores the pool keeps (their capacity); a store that would pass
/// it is freed, unless the pool holds no other store. Four 1 MiB stores: a bulk sender with a
/// 1 MiB buffer empties it whenever all it wrote is acknowledged, and with a bound of 256 KiB
/// its store was freed each time, then allocated and grown again at the next write (in memory
/// at MTU 65535 with 1 MiB buffers, 59–61 Gbit/s, and 69–71 with the store kept). One store
/// is kept whatever its size, so a sender whose buffer is larger than the bound (a per-socket
/// `send_buffer` of 8 MiB, say) reuses its store too: with glibc's mmap threshold fixed at
/// 4 MiB, such a sender spent 4.7–4.8 s of CPU on 4 GiB in memory at MTU 65535 with the
/// store freed, and 1.3–1.8 s with it kept (`__bulk oxtcp 65535 8388608 4294967296`). What
/// the pool holds stays bounded (by this, or by the one largest store an application's buffer
/// size asked for) and is counted in `spare_bytes`.
pub(crate) const POOL_SEND_BYTES: usize = 4 * 1024 * 1024;

/// Most TIME-WAIT boxes the pool keeps for reuse.
pub(crate) const POOL_TIME_WAITS: usize = 16;

/// Most datagram buffers the pool keeps for the driver's next reads (`rx_chunks`): 1 MiB of
/// 64 KiB buffers.
pub(crate) const POOL_DATAGRAMS: usize = 16;

/// Most chunk lists the pool keeps for reuse (`rx_chunks`).
pub(crate) const POOL_CHUNK_LISTS: usize = 16;

/// A receive buffer's page table: a slot per page, `None` until the page is taken.
pub(crate) type PageTable = Box<[Option<Box<[u8]>>]>;

/// Storage released by emptied buffers: receive-buffer pages and page tables (`paged_ring`),
/// and send-buffer stores (`send_buf`); and the boxes TIME-WAIT's state lives in while a
/// released connection hands it to the stack's compact table.
#[derive(Debug, Default)]
pub(crate) struct BufPool {
    pages: Vec<Box<[u8]>>,
    /// Emptied page tables (every slot `None`).
    tables: Vec<PageTable>,
    /// Bytes of `tables`.
    table_bytes: usize,
    /// Emptied send-buffer stores (each empty, with capacity).
    sends: Vec<VecDeque<u8>>,
    /// Capacity of `sends`, in bytes.
    send_bytes: usize,
    /// TIME-WAIT boxes whose state went to the compact table (the boxes themselves are what
    /// is reused, so they stay boxed).
    #[allow(clippy::vec_box)]
    time_waits: Vec<Box<TimeWait>>,
    /// Datagram buffers that receive buffers kept and have emptied (`rx_chunks`).
    datagrams: Vec<Vec<u8>>,
    /// Emptied chunk lists (`rx_chunks`), each keeping its list's capacity: a receive
    /// buffer that keeps datagrams and is read empty after every window took a new box
    /// and grew a new list each time, two allocations and two frees per window.
    #[allow(clippy::vec_box)]
    chunk_lists: Vec<Box<Chunks>>,
    /// The datagram buffer on offer while the stack handles a segment from it.
    pub(crate) offer: Option<Offer>,
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

    /// An empty page table of `len` slots: a recycled one if one that long is held, else a
    /// new one.
    pub(crate) fn take_table(&mut self, len: usize) -> PageTable {
        // A stack's connections mostly share one buffer size: the last table usually fits.
        match self.tables.iter().rposition(|t| t.len() == len) {
            Some(i) => {
                let t = self.tables.swap_remove(i);
                self.table_bytes -= std::mem::size_of_val(&*t);
                t
            }
            None => (0..len).map(|_| None).collect(),
        }
    }

    /// Keep the emptied `table` for reuse, up to the pool's bounds.
    pub(crate) fn give_table(&mut self, table: PageTable) {
        debug_assert!(table.iter().all(Option::is_none), "pages go back first");
        let bytes = std::mem::size_of_val(&*table);
        if bytes > 0
            && self.tables.len() < POOL_TABLES
            && self.table_bytes + bytes <= POOL_TABLE_BYTES
        {
            self.table_bytes += bytes;
            self.tables.push(table);
        }
    }

    /// An empty send-buffer store: a recycled one if there is one, else a new one (which
    /// allocates nothing until written).
    pub(crate) fn take_send(&mut self) -> VecDeque<u8> {
        let s = self.sends.pop().unwrap_or_default();
        self.send_bytes -= s.capacity();
        s
    }

    /// Keep the emptied send-buffer store `s` for reuse, up to the pool's bounds; the only
    /// store the pool would hold is kept whatever its size (`POOL_SEND_BYTES`).
    pub(crate) fn give_send(&mut self, s: VecDeque<u8>) {
        debug_assert!(s.is_empty(), "only an emptied store comes back");
        let bytes = s.capacity();
        let fits = self.sends.is_empty() || self.send_bytes + bytes <= POOL_SEND_BYTES;
        if bytes > 0 && self.sends.len() < POOL_SENDS && fits {
            self.send_bytes += bytes;
            self.sends.push(s);
        }
    }

    /// `tw` in a box: a recycled one if there is one, else a new one.
    pub(crate) fn boxed_time_wait(&mut self, tw: TimeWait) -> Box<TimeWait> {
        match self.time_waits.pop() {
            Some(mut b) => {
                *b = tw;
                b
            }
            None => Box::new(tw),
        }
    }

    /// Keep a box whose TIME-WAIT state was packed elsewhere, up to the pool's bound.
    pub(crate) fn give_time_wait(&mut self, b: Box<TimeWait>) {
        if self.time_waits.len() < POOL_TIME_WAITS {
            self.time_waits.push(b);
        }
    }

    /// Keep an emptied datagram buffer for the driver, up to the pool's bound.
    pub(crate) fn give_datagram(&mut self, buf: Vec<u8>) {
        if self.datagrams.len() < POOL_DATAGRAMS {
            self.datagrams.push(buf);
        }
    }

    /// A kept datagram buffer exactly `len` bytes long, if the pool has one.
    pub(crate) fn take_datagram(&mut self, len: usize) -> Option<Vec<u8>> {
        let i = self.datagrams.iter().rposition(|b| b.len() == len)?;
        Some(self.datagrams.swap_remove(i))
    }

    /// An empty chunk list: a recycled one if there is one, else a new one.
    pub(crate) fn take_chunks(&mut self) -> Box<Chunks> {
        self.chunk_lists.pop().unwrap_or_default()
    }

    /// Keep the emptied chunk list `c` for reuse, up to the pool's bound.
    pub(crate) fn give_chunks(&mut self, c: Box<Chunks>) {
        debug_assert!(c.is_empty(), "only an emptied list comes back");
        if self.chunk_lists.len() < POOL_CHUNK_LISTS {
            self.chunk_lists.push(c);
        }
    }

    /// Bytes held for reuse other than pages (page tables, send-buffer stores, TIME-WAIT
    /// boxes, datagram buffers, chunk lists).
    pub(crate) fn spare_bytes(&self) -> usize {
        self.table_bytes
            + self.send_bytes
            + self.time_waits.len() * std::mem::size_of::<TimeWait>()
            + self.datagrams.iter().map(Vec::capacity).sum::<usize>()
            + self
                .chunk_lists
                .iter()
                .map(|c| std::mem::size_of::<Chunks>() + c.list_bytes())
                .sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    /// Bytes of one page-table slot.
    const SLOT: usize = std::mem::size_of::<Option<Box<[u8]>>>();

    use super::*;

    #[test]
    fn a_table_is_reused_only_at_its_length() {
        let mut pool = BufPool::default();
        let t = pool.take_table(16);
        let addr = t.as_ptr();
        pool.give_table(t);
        assert_eq!(pool.spare_bytes(), 16 * SLOT);
        let other = pool.take_table(4);
        assert_eq!(
            pool.spare_bytes(),
            16 * SLOT,
            "a 4-slot table is not the 16-slot one"
        );
        let t = pool.take_table(16);
        assert_eq!(t.as_ptr(), addr, "the same table came back");
        assert_eq!(pool.spare_bytes(), 0);
        pool.give_table(other);
        pool.give_table(t);
        assert_eq!(pool.spare_bytes(), 20 * SLOT);
    }

    #[test]
    fn a_send_store_is_reused_and_the_bounds_hold() {
        let mut pool = BufPool::default();
        assert_eq!(
            pool.take_send().capacity(),
            0,
            "an empty pool allocates nothing"
        );
        let mut s = VecDeque::with_capacity(100);
        s.extend(b"gone");
        s.clear();
        let cap = s.capacity();
        pool.give_send(s);
        assert_eq!(pool.spare_bytes(), cap);
        assert_eq!(pool.take_send().capacity(), cap, "the same store came back");
        assert_eq!(pool.spare_bytes(), 0);
        for _ in 0..POOL_SENDS + 10 {
            pool.give_send(VecDeque::with_capacity(8));
        }
        assert_eq!(pool.sends.len(), POOL_SENDS, "bounded in count");
        let mut pool = BufPool::default();
        pool.give_send(VecDeque::with_capacity(POOL_SEND_BYTES / 2 + 1));
        pool.give_send(VecDeque::with_capacity(POOL_SEND_BYTES / 2 + 1));
        assert_eq!(pool.sends.len(), 1, "bounded in bytes");
        assert!(pool.spare_bytes() <= POOL_SEND_BYTES);
    }

    #[test]
    fn one_store_over_the_byte_bound_is_kept_and_no_second() {
        let big = POOL_SEND_BYTES + 1;
        let mut pool = BufPool::default();
        pool.give_send(VecDeque::with_capacity(big));
        assert_eq!(pool.sends.len(), 1, "the only store is kept");
        let held = pool.spare_bytes();
        assert!(held >= big);
        pool.give_send(VecDeque::with_capacity(big));
        pool.give_send(VecDeque::with_capacity(8));
        assert_eq!(pool.sends.len(), 1, "nothing more once over the bound");
        assert_eq!(pool.spare_bytes(), held);
        assert!(pool.take_send().capacity() >= big);
        pool.give_send(VecDeque::with_capacity(8));
        pool.give_send(VecDeque::with_capacity(big));
        assert_eq!(
            pool.sends.len(),
            1,
            "a large store does not join a held one"
        );
        assert!(pool.spare_bytes() < big);
    }

    #[test]
    fn a_time_wait_box_is_reused_and_the_bound_holds() {
        use super::super::time_wait::Handover;
        use crate::config::StackConfig;
        use crate::seq::SeqNum;
        use crate::time::Instant;
        use crate::tuple::FourTuple;
        use std::net::SocketAddr;

        let tw = |port| {
            let h = Handover {
                tuple: FourTuple {
                    local: SocketAddr::from(([10, 0, 0, 1], 80)),
                    remote: SocketAddr::from(([10, 0, 0, 2], port)),
                },
                iss: SeqNum::new(1),
                irs: SeqNum::new(2),
                snd_nxt: SeqNum::new(3),
                rcv_nxt: SeqNum::new(4),
                window: 100,
                shift: 0,
                ts: None,
                last_invalid_ack: None,
                ack_due: false,
            };
            TimeWait::new(h, Instant::from_secs(1), &StackConfig::default())
        };
        let mut pool = BufPool::default();
        let b = pool.boxed_time_wait(tw(1000));
        let addr: *const TimeWait = &*b;
        pool.give_time_wait(b);
        assert_eq!(pool.spare_bytes(), std::mem::size_of::<TimeWait>());
        let b = pool.boxed_time_wait(tw(2000));
        assert_eq!(&*b as *const TimeWait, addr, "the same box came back");
        assert_eq!(b.tuple.remote.port(), 2000, "holding the new state");
        assert_eq!(pool.spare_bytes(), 0);
        for _ in 0..POOL_TIME_WAITS + 5 {
            pool.give_time_wait(Box::new(tw(3000)));
        }
        assert_eq!(pool.time_waits.len(), POOL_TIME_WAITS);
    }

    #[test]
    fn datagram_buffers_come_back_at_their_length_and_the_bound_holds() {
        let mut pool = BufPool::default();
        pool.give_datagram(vec![1; 100]);
        pool.give_datagram(vec![2; 200]);
        assert_eq!(pool.spare_bytes(), 300);
        assert_eq!(pool.take_datagram(150), None, "no buffer of that length");
        assert_eq!(pool.take_datagram(200), Some(vec![2; 200]));
        assert_eq!(pool.take_datagram(100), Some(vec![1; 100]));
        assert_eq!(pool.take_datagram(100), None);
        for _ in 0..POOL_DATAGRAMS + 5 {
            pool.give_datagram(vec![0; 10]);
        }
        assert_eq!(pool.datagrams.len(), POOL_DATAGRAMS, "bounded in count");
    }

    #[test]
    fn tables_beyond_the_bounds_are_freed() {
        let mut pool = BufPool::default();
        for _ in 0..POOL_TABLES + 10 {
            pool.give_table(vec![None; 1].into_boxed_slice());
        }
        assert_eq!(pool.spare_bytes(), POOL_TABLES * SLOT, "bounded in count");
        let mut pool = BufPool::default();
        let big = POOL_TABLE_BYTES / SLOT / 2 + 1;
        pool.give_table(vec![None; big].into_boxed_slice());
        pool.give_table(vec![None; big].into_boxed_slice());
        assert_eq!(pool.spare_bytes(), big * SLOT, "bounded in bytes");
        pool.give_table(Box::default());
        assert_eq!(
            pool.tables.len(),
            1,
            "an empty table holds no heap and is not kept"
        );
    }
}
