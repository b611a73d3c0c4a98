//! Received bytes kept in the datagram buffer they arrived in, instead of being copied into
//! the receive buffer's ring.
//!
//! A driver that owns its receive buffer hands it to the stack whole
//! (`Stack::handle_packet_buffer`). For the duration of that call the buffer is on offer
//! (`Offer`, held in the `BufPool`). A connection whose next in-order bytes are a large part of
//! that buffer takes it: the receive buffer records the bytes as a chunk (`Chunks::push_pending`),
//! counts them readable at once, and the stack moves the buffer into the chunk when the
//! segment has been handled (`Chunks::attach`). The application then reads the bytes straight
//! from the datagram, so each byte is copied once less; an emptied chunk's buffer goes back to
//! the pool for the driver's next read.
//!
//! A buffer is taken only when the bytes fill at least half of it, so what a receive buffer
//! holds in chunks is at most twice the window it stands for, and only for at least
//! `KEEP_MIN` bytes: below that, copying them costs less than keeping track of the chunk.

use std::collections::VecDeque;

use crate::handle::ConnId;

use super::buf_pool::BufPool;

/// Fewest bytes worth keeping a buffer for. Measured with the in-memory bulk benchmark, 1 GiB
/// through one stack pair, pinned, five alternated runs each: keeping was slower for
/// 1,448-byte and 3,948-byte segments (median CPU 0.89 s against 0.81 s, and 0.53 against
/// 0.48) and faster for 8,948-byte and 65,483-byte ones (0.38 against 0.42, 0.35 against 0.38).
pub(crate) const KEEP_MIN: usize = 8 * 1024;

/// A driver's datagram buffer, offered to the connection a segment goes to.
#[derive(Debug)]
pub(crate) struct Offer {
    /// Address of the datagram's first byte, and its length (only compared, never read).
    addr: usize,
    len: usize,
    /// Bytes the buffer holds allocated.
    capacity: usize,
    /// The connection the segment is being handled by, once demultiplexed.
    to: Option<ConnId>,
    /// Whether a receive buffer took it.
    taken: bool,
}

impl Offer {
    pub(crate) fn new(datagram: &[u8], capacity: usize) -> Self {
        Offer {
            addr: datagram.as_ptr() as usize,
            len: datagram.len(),
            capacity,
            to: None,
            taken: false,
        }
    }

    /// Direct the offer to connection `id`, which handles the segment now.
    pub(crate) fn direct_to(&mut self, id: ConnId) {
        self.to = Some(id);
    }

    /// Take the buffer for `data`, if `data` lies inside the datagram, is at least `KEEP_MIN`
    /// bytes and fills at least half of the buffer; returns where `data` starts in it.
    pub(crate) fn take(&mut self, data: &[u8]) -> Option<usize> {
        let start = (data.as_ptr() as usize).checked_sub(self.addr)?;
        // Chunk offsets are u32: a buffer past 4 GiB is never kept.
        let fits = start
            .checked_add(data.len())
            .is_some_and(|end| end <= self.len && u32::try_from(end).is_ok());
        let worth = data.len() >= KEEP_MIN && data.len().saturating_mul(2) >= self.capacity;
        if self.to.is_none() || self.taken || !fits || !worth {
            return None;
        }
        self.taken = true;
        Some(start)
    }

    /// The connection that took the buffer, if one did.
    pub(crate) fn taker(&self) -> Option<ConnId> {
        self.to.filter(|_| self.taken)
    }
}

/// One run of readable bytes, `buf[start..end]`.
#[derive(Debug)]
struct Chunk {
    /// Empty until attached: between `push_pending` and `attach`, inside one call into the
    /// stack, nothing reads.
    buf: Vec<u8>,
    start: u32,
    end: u32,
}

/// The readable bytes held in datagram buffers, in stream order. They come before any
/// readable bytes of the ring.
#[derive(Debug, Default)]
pub(crate) struct Chunks {
    list: VecDeque<Chunk>,
    /// Readable bytes in `list`.
    bytes: u32,
}

impl Chunks {
    pub(crate) fn bytes(&self) -> u32 {
        self.bytes
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Count `len` bytes at `start` of the buffer on offer as the next readable ones.
    pub(crate) fn push_pending(&mut self, start: usize, len: usize) {
        let (start, len) = (start as u32, len as u32);
        self.list.push_back(Chunk {
            buf: Vec::new(),
            start,
            end: start + len,
        });
        self.bytes += len;
    }

    /// Give the pending chunk its buffer. `Err` gives the buffer back if no chunk waits for
    /// it or it is too short for the chunk.
    pub(crate) fn attach(&mut self, buf: Vec<u8>) -> Result<(), Vec<u8>> {
        match self.list.back_mut() {
            Some(c) if c.buf.is_empty() && c.end as usize <= buf.len() => {
                c.buf = buf;
                Ok(())
            }
            _ => Err(buf),
        }
    }

    /// Whether every chunk has its buffer.
    pub(crate) fn all_attached(&self) -> bool {
        self.list.iter().all(|c| c.end as usize <= c.buf.len())
    }

    /// Show up to `max` bytes to `f` where they lie, oldest first, one run per buffer, and
    /// count them read; emptied buffers go back to `pool`. Returns how many. Each run is
    /// counted read before `f` sees it, so a panic in `f` leaves the list as counted.
    pub(crate) fn consume(
        &mut self,
        max: usize,
        pool: &mut BufPool,
        mut f: impl FnMut(&[u8]),
    ) -> usize {
        let mut done = 0;
        while done < max {
            let Some(c) = self.list.front_mut() else {
                break;
            };
            let n = (max - done).min((c.end - c.start) as usize);
            let from = c.start as usize;
            c.start += n as u32;
            self.bytes -= n as u32;
            done += n;
            if c.start < c.end {
                f(&c.buf[from..from + n]);
            } else if let Some(c) = self.list.pop_front() {
                f(&c.buf[from..from + n]);
                pool.give_datagram(c.buf);
            }
        }
        done
    }

    /// Heap bytes held: the buffers and the list.
    #[cfg(test)]
    pub(crate) fn allocated(&self) -> usize {
        self.list.iter().map(|c| c.buf.capacity()).sum::<usize>() + self.list_bytes()
    }

    /// Heap bytes of the list itself (its capacity, kept when emptied).
    pub(crate) fn list_bytes(&self) -> usize {
        self.list.capacity() * std::mem::size_of::<Chunk>()
    }
}

#[cfg(test)]
mod tests {
    use super::super::paged_ring::filler;
    use super::*;

    fn id() -> ConnId {
        ConnId { index: 3, gen: 1 }
    }

    #[test]
    fn an_offer_is_taken_once_only_for_a_large_part_of_the_datagram() {
        let datagram = vec![7u8; 4 * KEEP_MIN];
        let mut offer = Offer::new(&datagram, datagram.capacity());
        assert_eq!(offer.take(&datagram[40..]), None, "not yet directed");
        offer.direct_to(id());
        let quarter = &datagram[3 * KEEP_MIN..];
        assert_eq!(offer.take(quarter), None, "a quarter: not worth it");
        let other = vec![7u8; 4 * KEEP_MIN];
        assert_eq!(offer.take(&other[..]), None, "not inside the datagram");
        assert_eq!(offer.take(&datagram[40..]), Some(40));
        assert_eq!(offer.taker(), Some(id()));
        assert_eq!(offer.take(&datagram[40..]), None, "taken already");

        let small = vec![7u8; KEEP_MIN];
        let mut offer = Offer::new(&small, small.capacity());
        offer.direct_to(id());
        let most = &small[40..];
        assert_eq!(
            offer.take(most),
            None,
            "most of it, but fewer than KEEP_MIN"
        );
    }

    #[test]
    fn chunks_read_in_order_across_buffers_and_return_them() {
        let mut pool = BufPool::default();
        let mut chunks = Chunks::default();
        chunks.push_pending(2, 3);
        assert!(!chunks.all_attached());
        assert!(chunks.attach(b"xxabcyy".to_vec()).is_ok());
        chunks.push_pending(0, 4);
        assert_eq!(
            chunks.attach(b"de".to_vec()),
            Err(b"de".to_vec()),
            "too short"
        );
        assert!(chunks.attach(b"defg".to_vec()).is_ok());
        assert!(chunks.attach(b"hij".to_vec()).is_err(), "nothing pending");
        assert_eq!(chunks.bytes(), 7);
        let mut out = [0u8; 2];
        assert_eq!(chunks.consume(out.len(), &mut pool, filler(&mut out)), 2);
        assert_eq!(&out, b"ab");
        let mut out = [0u8; 10];
        assert_eq!(chunks.consume(out.len(), &mut pool, filler(&mut out)), 5);
        assert_eq!(&out[..5], b"cdefg");
        assert!(chunks.is_empty());
        assert_eq!(chunks.bytes(), 0);
        assert_eq!(pool.take_datagram(7).as_deref(), Some(&b"xxabcyy"[..]));
        assert_eq!(pool.take_datagram(4).as_deref(), Some(&b"defg"[..]));
        assert_eq!(pool.take_datagram(4), None);
    }
}
