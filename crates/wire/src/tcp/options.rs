//! TCP options: the raw option iterator, the parsed option set, and its emitter.
//!
//! Implements the option list rules of RFC 9293 §3.1 (EOL, NOP, kind-length-value, MSS),
//! Window Scale and Timestamps from RFC 7323 §2.2 and §3.2, and SACK-Permitted and SACK
//! from RFC 2018 §2 and §3. The emitted layout follows Linux, so that Linux segments
//! re-emit byte for byte.

use core::fmt;

use crate::{Error, Result};

/// Option kind numbers (IANA "TCP Option Kind Numbers").
mod kind {
    pub const EOL: u8 = 0;
    pub const NOP: u8 = 1;
    pub const MSS: u8 = 2;
    pub const WINDOW_SCALE: u8 = 3;
    pub const SACK_PERMITTED: u8 = 4;
    pub const SACK: u8 = 5;
    pub const TIMESTAMPS: u8 = 8;
}

/// Largest option area: data offset 15 words minus the 20-byte fixed header.
const MAX_OPTIONS_LEN: usize = 40;
/// Bytes of one SACK block on the wire.
const SACK_BLOCK_LEN: usize = 8;

/// One SACK block: the sequence numbers of a received range, `left..right` (RFC 2018 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SackBlock {
    /// First sequence number of the block.
    pub left: u32,
    /// Sequence number just past the last byte of the block.
    pub right: u32,
}

/// Up to four SACK blocks held inline, in the order they appear on the wire.
#[derive(Clone, Copy, Default)]
pub struct SackBlocks {
    blocks: [SackBlock; SackBlocks::MAX],
    len: u8,
}

impl SackBlocks {
    /// Most blocks one SACK option can carry (RFC 2018 §3: 40-byte option space).
    pub const MAX: usize = 4;

    /// An empty list.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a block; returns false (and drops it) if the list is already full.
    pub fn push(&mut self, b: SackBlock) -> bool {
        match self.blocks.get_mut(usize::from(self.len)) {
            Some(slot) => {
                *slot = b;
                self.len += 1;
                true
            }
            None => false,
        }
    }

    /// The blocks, in order.
    pub fn as_slice(&self) -> &[SackBlock] {
        self.blocks.get(..usize::from(self.len)).unwrap_or(&[])
    }

    /// Number of blocks.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// True if there are no blocks.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Removes all blocks.
    pub fn clear(&mut self) {
        *self = Self::default();
    }

    /// Keeps only the first `n` blocks.
    pub fn truncate(&mut self, n: usize) {
        if n < self.len() {
            // n < len <= MAX, so it fits a u8.
            self.len = n as u8;
        }
    }
}

// Equality looks only at the live blocks, whatever stale values sit past `len`.
impl PartialEq for SackBlocks {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for SackBlocks {}

impl fmt::Debug for SackBlocks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.as_slice()).finish()
    }
}

/// The Timestamps option values (RFC 7323 §3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timestamps {
    /// The sender's timestamp clock.
    pub tsval: u32,
    /// The echoed timestamp of the peer.
    pub tsecr: u32,
}

/// One raw option as it appears on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpOption<'a> {
    /// End of option list (kind 0).
    Eol,
    /// No-operation padding (kind 1).
    Nop,
    /// Maximum segment size (kind 2).
    Mss(u16),
    /// Window scale shift count as sent, not clamped (kind 3).
    WindowScale(u8),
    /// SACK permitted (kind 4).
    SackPermitted,
    /// Selective acknowledgment blocks (kind 5).
    Sack(SackBlocks),
    /// Timestamps (kind 8).
    Timestamps(Timestamps),
    /// Any other kind, with its data (the bytes after kind and length).
    Unknown {
        /// Option kind.
        kind: u8,
        /// Option data, without the kind and length bytes.
        data: &'a [u8],
    },
}

/// Iterator over the raw options of an option area; stops after EOL or the first error.
#[derive(Debug, Clone)]
pub struct TcpOptionIter<'a> {
    rest: &'a [u8],
    done: bool,
}

impl<'a> TcpOptionIter<'a> {
    /// Iterates over the options in `bytes` (the area between the fixed header and the data).
    pub fn new(bytes: &'a [u8]) -> Self {
        TcpOptionIter {
            rest: bytes,
            done: false,
        }
    }

    /// Parses one kind-length-value option at the front of `self.rest`.
    fn parse_tlv(&mut self, kind: u8) -> Result<TcpOption<'a>> {
        // RFC 9293 §3.1: every option other than EOL and NOP carries a length octet that
        // counts the kind and length octets too, so it can never be below 2.
        let len = usize::from(*self.rest.get(1).ok_or(Error::BadOption)?);
        if len < 2 {
            return Err(Error::BadOption);
        }
        let data = self.rest.get(2..len).ok_or(Error::BadOption)?;
        let option = match kind {
            kind::MSS => TcpOption::Mss(u16::from_be_bytes(
                data.try_into().map_err(|_| Error::BadOption)?,
            )),
            kind::WINDOW_SCALE => match data {
                [shift] => TcpOption::WindowScale(*shift),
                _ => return Err(Error::BadOption),
            },
            kind::SACK_PERMITTED if data.is_empty() => TcpOption::SackPermitted,
            kind::SACK_PERMITTED => return Err(Error::BadOption),
            kind::TIMESTAMPS => {
                let tsval = data.get(..4).and_then(|b| b.try_into().ok());
                let tsecr = data.get(4..).and_then(|b| b.try_into().ok());
                match (tsval, tsecr) {
                    (Some(v), Some(e)) => TcpOption::Timestamps(Timestamps {
                        tsval: u32::from_be_bytes(v),
                        tsecr: u32::from_be_bytes(e),
                    }),
                    _ => return Err(Error::BadOption),
                }
            }
            kind::SACK => TcpOption::Sack(parse_sack_blocks(data)?),
            _ => TcpOption::Unknown { kind, data },
        };
        self.rest = self.rest.get(len..).unwrap_or(&[]);
        Ok(option)
    }
}

/// Parses the data of a SACK option: 1 to 4 blocks of 8 bytes (RFC 2018 §3).
fn parse_sack_blocks(data: &[u8]) -> Result<SackBlocks> {
    let chunks = data.chunks_exact(SACK_BLOCK_LEN);
    if data.is_empty() || !chunks.remainder().is_empty() {
        return Err(Error::BadOption);
    }
    let mut blocks = SackBlocks::new();
    for chunk in chunks {
        let (l, r) = chunk.split_at(4);
        let block = SackBlock {
            left: u32::from_be_bytes(l.try_into().map_err(|_| Error::BadOption)?),
            right: u32::from_be_bytes(r.try_into().map_err(|_| Error::BadOption)?),
        };
        if !blocks.push(block) {
            return Err(Error::BadOption);
        }
    }
    Ok(blocks)
}

impl<'a> Iterator for TcpOptionIter<'a> {
    type Item = Result<TcpOption<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let kind = *self.rest.first()?;
        match kind {
            // RFC 9293 §3.1: EOL marks the end of the list; what follows is padding.
            kind::EOL => {
                self.done = true;
                self.rest = &[];
                Some(Ok(TcpOption::Eol))
            }
            kind::NOP => {
                self.rest = self.rest.get(1..).unwrap_or(&[]);
                Some(Ok(TcpOption::Nop))
            }
            _ => {
                let item = self.parse_tlv(kind);
                if item.is_err() {
                    self.done = true;
                }
                Some(item)
            }
        }
    }
}

impl core::iter::FusedIterator for TcpOptionIter<'_> {}

/// The options a TCP endpoint acts on, parsed from or to be emitted into a header.
// Laid out in this order (`repr(C)`): the SACK blocks first, then the fields whose absent
// values leave bytes undefined (the payload of a `None`). In the compiler's own order the
// undefined bytes of `mss` sat just before the blocks, and building the options with no
// blocks copied the zeroed blocks from a scratch copy by loads that straddled those bytes
// and the zeroing stores: a store-forwarding stall on every segment parsed (`perf`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[repr(C)]
pub struct TcpOptions {
    /// SACK blocks, in wire order.
    pub sack_blocks: SackBlocks,
    /// Timestamps option.
    pub timestamps: Option<Timestamps>,
    /// Maximum segment size.
    pub mss: Option<u16>,
    /// Window scale shift count as sent (RFC 7323 §2.3 clamping to 14 is the core's job).
    pub window_scale: Option<u8>,
    /// SACK-Permitted was present.
    pub sack_permitted: bool,
}

impl TcpOptions {
    /// Parses an option area; unknown kinds are skipped, a malformed list is `BadOption`.
    // Inlined so that the common layouts cost their caller a few compares and loads; the
    // list parser stays out of line.
    #[inline]
    pub fn parse(bytes: &[u8]) -> Result<TcpOptions> {
        match Self::parse_common(bytes) {
            Some(options) => Ok(options),
            None => Self::parse_list(bytes),
        }
    }

    /// The option areas of nearly every segment after the handshake, read without the
    /// iterator: none at all, or exactly NOP, NOP, Timestamps, the layout RFC 7323
    /// Appendix A recommends (and Linux sends). `None` for anything else. Where it answers,
    /// the answer is what [`parse_list`](Self::parse_list) gives for the same bytes.
    // Inlined, so that the options are built where the caller keeps them instead of being
    // returned through memory and copied (a wide load of narrow stores stalls).
    #[inline(always)]
    pub(crate) fn parse_common(bytes: &[u8]) -> Option<TcpOptions> {
        match *bytes {
            [] => Some(TcpOptions::default()),
            [kind::NOP, kind::NOP, kind::TIMESTAMPS, 10, v0, v1, v2, v3, e0, e1, e2, e3] => {
                Some(TcpOptions {
                    timestamps: Some(Timestamps {
                        tsval: u32::from_be_bytes([v0, v1, v2, v3]),
                        tsecr: u32::from_be_bytes([e0, e1, e2, e3]),
                    }),
                    ..TcpOptions::default()
                })
            }
            _ => None,
        }
    }

    /// Parses any option area other than the common ones: the common SYN layout directly,
    /// anything else by walking the list.
    #[inline(never)]
    fn parse_list(bytes: &[u8]) -> Result<TcpOptions> {
        match Self::parse_syn(bytes) {
            Some(options) => Ok(options),
            None => Self::walk_list(bytes),
        }
    }

    /// The option area of nearly every SYN and SYN-ACK, read without the iterator: MSS,
    /// SACK-Permitted, Timestamps, NOP, Window Scale, all five negotiated in the layout Linux
    /// sends and [`emit`](Self::emit) writes. `None` for anything else. Where it answers, the
    /// answer is what [`walk_list`](Self::walk_list) gives for the same bytes.
    #[inline(always)]
    fn parse_syn(bytes: &[u8]) -> Option<TcpOptions> {
        match *bytes {
            #[rustfmt::skip]
            [
                kind::MSS, 4, m0, m1,
                kind::SACK_PERMITTED, 2, kind::TIMESTAMPS, 10, v0, v1, v2, v3, e0, e1, e2, e3,
                kind::NOP, kind::WINDOW_SCALE, 3, ws,
            ] => {
                Some(TcpOptions {
                    mss: Some(u16::from_be_bytes([m0, m1])),
                    sack_permitted: true,
                    timestamps: Some(Timestamps {
                        tsval: u32::from_be_bytes([v0, v1, v2, v3]),
                        tsecr: u32::from_be_bytes([e0, e1, e2, e3]),
                    }),
                    window_scale: Some(ws),
                    ..TcpOptions::default()
                })
            },
            _ => None,
        }
    }

    /// Parses any option area by walking the list.
    fn walk_list(bytes: &[u8]) -> Result<TcpOptions> {
        let mut options = TcpOptions::default();
        // A repeated option overwrites the earlier one: RFC 9293 does not say which wins,
        // and keeping the last costs nothing.
        for option in TcpOptionIter::new(bytes) {
            match option? {
                TcpOption::Eol | TcpOption::Nop | TcpOption::Unknown { .. } => {}
                TcpOption::Mss(mss) => options.mss = Some(mss),
                TcpOption::WindowScale(ws) => options.window_scale = Some(ws),
                TcpOption::SackPermitted => options.sack_permitted = true,
                TcpOption::Sack(blocks) => options.sack_blocks = blocks,
                TcpOption::Timestamps(ts) => options.timestamps = Some(ts),
            }
        }
        Ok(options)
    }

    /// Length of everything but the SACK blocks option.
    fn fixed_len(&self) -> usize {
        let mss = if self.mss.is_some() { 4 } else { 0 };
        let ts_sackperm = match (self.timestamps.is_some(), self.sack_permitted) {
            (true, _) => 12,
            (false, true) => 4,
            (false, false) => 0,
        };
        let ws = if self.window_scale.is_some() { 4 } else { 0 };
        mss + ts_sackperm + ws
    }

    /// How many SACK blocks fit beside the other options within 40 bytes.
    fn sack_blocks_emitted(&self) -> usize {
        if self.sack_blocks.is_empty() {
            return 0;
        }
        let room = MAX_OPTIONS_LEN.saturating_sub(self.fixed_len() + 4) / SACK_BLOCK_LEN;
        self.sack_blocks.len().min(room)
    }

    /// Bytes [`emit`](Self::emit) writes: a multiple of 4, at most 40.
    pub fn emit_len(&self) -> usize {
        let sack = match self.sack_blocks_emitted() {
            0 => 0,
            n => 4 + n * SACK_BLOCK_LEN,
        };
        self.fixed_len() + sack
    }

    /// Writes the options in Linux's layout and returns the bytes written.
    ///
    /// Every option is padded with NOPs to a 4-byte boundary ahead of it, as Linux does:
    /// MSS; SACK-Permitted folded into the Timestamps word when both are present; Window
    /// Scale; then SACK blocks, dropping trailing blocks that would pass 40 bytes. An
    /// option that does not fit in `buf` is not written, nor is anything after it.
    // Inlined so that Timestamps alone costs its caller a few tests and stores; the general
    // emitter stays out of line.
    #[inline]
    pub fn emit(&self, buf: &mut [u8]) -> usize {
        // Timestamps alone, as on nearly every segment after the handshake: the one word
        // written directly, the same bytes emit_list writes.
        if let (Some(ts), None, None, false, true) = (
            self.timestamps,
            self.mss,
            self.window_scale,
            self.sack_permitted,
            self.sack_blocks.is_empty(),
        ) {
            if let Some(word) = buf.first_chunk_mut::<12>() {
                *word = timestamps_word([kind::NOP, kind::NOP], ts);
                return 12;
            }
        }
        self.emit_list(buf)
    }

    /// [`emit`](Self::emit) for any set of options.
    #[inline(never)]
    fn emit_list(&self, buf: &mut [u8]) -> usize {
        let mut w = Writer { buf, pos: 0 };
        if let Some(mss) = self.mss {
            let [hi, lo] = mss.to_be_bytes();
            if !w.put(&[kind::MSS, 4, hi, lo]) {
                return w.pos;
            }
        }
        if let Some(ts) = self.timestamps {
            let lead = if self.sack_permitted {
                [kind::SACK_PERMITTED, 2]
            } else {
                [kind::NOP, kind::NOP]
            };
            if !w.put(&timestamps_word(lead, ts)) {
                return w.pos;
            }
        } else if self.sack_permitted && !w.put(&[kind::NOP, kind::NOP, kind::SACK_PERMITTED, 2]) {
            return w.pos;
        }
        if let Some(ws) = self.window_scale {
            if !w.put(&[kind::NOP, kind::WINDOW_SCALE, 3, ws]) {
                return w.pos;
            }
        }
        let n = self.sack_blocks_emitted();
        if n > 0 {
            let blocks = self.sack_blocks.as_slice().get(..n).unwrap_or(&[]);
            let len = 4 + n * SACK_BLOCK_LEN;
            // n <= 4, so the option length (2 + 8n) fits a byte.
            if w.fits(len) {
                w.put(&[
                    kind::NOP,
                    kind::NOP,
                    kind::SACK,
                    (2 + n * SACK_BLOCK_LEN) as u8,
                ]);
                for b in blocks {
                    w.put(&b.left.to_be_bytes());
                    w.put(&b.right.to_be_bytes());
                }
            }
        }
        w.pos
    }
}

/// The 12-byte word of a Timestamps option behind two lead bytes (NOPs or SACK-Permitted).
fn timestamps_word(lead: [u8; 2], ts: Timestamps) -> [u8; 12] {
    let [v0, v1, v2, v3] = ts.tsval.to_be_bytes();
    let [e0, e1, e2, e3] = ts.tsecr.to_be_bytes();
    [
        lead[0],
        lead[1],
        kind::TIMESTAMPS,
        10,
        v0,
        v1,
        v2,
        v3,
        e0,
        e1,
        e2,
        e3,
    ]
}

/// A cursor that writes whole chunks only, never past the end of its buffer.
struct Writer<'b> {
    buf: &'b mut [u8],
    pos: usize,
}

impl Writer<'_> {
    fn fits(&self, n: usize) -> bool {
        self.buf.len().saturating_sub(self.pos) >= n
    }

    /// Writes `bytes` if they all fit; returns whether they were written.
    fn put(&mut self, bytes: &[u8]) -> bool {
        let end = self.pos.saturating_add(bytes.len());
        match self.buf.get_mut(self.pos..end) {
            Some(dst) => {
                dst.copy_from_slice(bytes);
                self.pos = end;
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blocks(n: u32) -> SackBlocks {
        let mut b = SackBlocks::new();
        for i in 0..n {
            assert!(b.push(SackBlock {
                left: i * 100,
                right: i * 100 + 50
            }));
        }
        b
    }

    #[test]
    fn sack_blocks_hold_four_and_refuse_a_fifth() {
        let mut b = blocks(4);
        assert_eq!(b.len(), 4);
        assert!(!b.push(SackBlock::default()));
        assert_eq!(
            b.as_slice()[3],
            SackBlock {
                left: 300,
                right: 350
            }
        );
        b.truncate(2);
        assert_eq!(b, blocks(2));
        b.clear();
        assert!(b.is_empty());
        assert_eq!(
            format!("{:?}", blocks(1)),
            "[SackBlock { left: 0, right: 50 }]"
        );
    }

    #[test]
    fn sack_blocks_equality_ignores_stale_slots() {
        let mut a = blocks(3);
        a.truncate(1);
        assert_eq!(a, blocks(1));
    }

    #[test]
    fn empty_option_area_parses_to_nothing() {
        assert_eq!(TcpOptions::parse(&[]).unwrap(), TcpOptions::default());
        assert_eq!(TcpOptionIter::new(&[]).count(), 0);
    }

    #[test]
    fn linux_syn_layout_parses() {
        let bytes = [
            2, 4, 0xff, 0xd7, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7,
        ];
        let o = TcpOptions::parse(&bytes).unwrap();
        assert_eq!(o.mss, Some(65495));
        assert!(o.sack_permitted);
        assert_eq!(o.timestamps, Some(Timestamps { tsval: 1, tsecr: 0 }));
        assert_eq!(o.window_scale, Some(7));
        assert_eq!(o.emit_len(), 20);
        let mut out = [0u8; 20];
        assert_eq!(o.emit(&mut out), 20);
        assert_eq!(out, bytes);
    }

    #[test]
    fn eol_ends_the_list() {
        // Garbage after EOL would be BadOption if it were read.
        let o = TcpOptions::parse(&[2, 4, 5, 0xb4, 0, 3, 0, 9]).unwrap();
        assert_eq!(o.mss, Some(1460));
        let kinds: Vec<_> = TcpOptionIter::new(&[1, 0, 2]).collect();
        assert_eq!(kinds, vec![Ok(TcpOption::Nop), Ok(TcpOption::Eol)]);
    }

    #[test]
    fn nops_are_skipped() {
        let o = TcpOptions::parse(&[1, 1, 1, 1, 3, 3, 14]).unwrap();
        assert_eq!(o.window_scale, Some(14));
    }

    #[test]
    fn unknown_options_are_skipped_by_their_length() {
        let bytes = [30, 4, 0xaa, 0xbb, 254, 2, 2, 4, 1, 0];
        let o = TcpOptions::parse(&bytes).unwrap();
        assert_eq!(o.mss, Some(256));
        let mut it = TcpOptionIter::new(&bytes);
        assert_eq!(
            it.next(),
            Some(Ok(TcpOption::Unknown {
                kind: 30,
                data: &[0xaa, 0xbb]
            }))
        );
        assert_eq!(
            it.next(),
            Some(Ok(TcpOption::Unknown {
                kind: 254,
                data: &[]
            }))
        );
        assert_eq!(it.next(), Some(Ok(TcpOption::Mss(256))));
        assert_eq!(it.next(), None);
    }

    #[test]
    fn window_scale_above_14_is_kept_as_sent() {
        assert_eq!(
            TcpOptions::parse(&[3, 3, 200]).unwrap().window_scale,
            Some(200)
        );
    }

    #[test]
    fn missing_length_byte_is_bad_option() {
        assert_eq!(TcpOptions::parse(&[1, 2]), Err(Error::BadOption));
        assert_eq!(TcpOptions::parse(&[99]), Err(Error::BadOption));
    }

    #[test]
    fn option_length_below_two_is_bad_option() {
        assert_eq!(TcpOptions::parse(&[99, 1, 0, 0]), Err(Error::BadOption));
        assert_eq!(TcpOptions::parse(&[99, 0, 0, 0]), Err(Error::BadOption));
    }

    #[test]
    fn option_length_past_end_is_bad_option() {
        assert_eq!(TcpOptions::parse(&[99, 5, 0, 0]), Err(Error::BadOption));
        assert_eq!(TcpOptions::parse(&[2, 4, 5]), Err(Error::BadOption));
    }

    #[test]
    fn mss_with_wrong_length_is_bad_option() {
        assert_eq!(TcpOptions::parse(&[2, 3, 5, 1]), Err(Error::BadOption));
        assert_eq!(
            TcpOptions::parse(&[2, 5, 5, 180, 0, 1, 1, 1]),
            Err(Error::BadOption)
        );
    }

    #[test]
    fn window_scale_with_wrong_length_is_bad_option() {
        assert_eq!(TcpOptions::parse(&[3, 2, 1, 1]), Err(Error::BadOption));
        assert_eq!(TcpOptions::parse(&[3, 4, 7, 0]), Err(Error::BadOption));
    }

    #[test]
    fn sack_permitted_with_wrong_length_is_bad_option() {
        assert_eq!(TcpOptions::parse(&[4, 3, 0, 1]), Err(Error::BadOption));
        assert_eq!(TcpOptions::parse(&[4, 4, 0, 0]), Err(Error::BadOption));
    }

    #[test]
    fn timestamps_with_wrong_length_is_bad_option() {
        let mut bytes = [8u8, 9, 0, 0, 0, 1, 0, 0, 0, 0, 1, 1];
        assert_eq!(TcpOptions::parse(&bytes[..9]), Err(Error::BadOption));
        bytes[1] = 11;
        assert_eq!(TcpOptions::parse(&bytes[..11]), Err(Error::BadOption));
    }

    #[test]
    fn sack_with_no_blocks_is_bad_option() {
        assert_eq!(TcpOptions::parse(&[5, 2, 1, 1]), Err(Error::BadOption));
    }

    #[test]
    fn sack_with_partial_block_is_bad_option() {
        let bytes = [5u8, 14, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3];
        assert_eq!(TcpOptions::parse(&bytes), Err(Error::BadOption));
    }

    #[test]
    fn sack_with_five_blocks_is_bad_option() {
        let mut bytes = [0u8; 42];
        bytes[0] = 5;
        bytes[1] = 42;
        assert_eq!(TcpOptions::parse(&bytes), Err(Error::BadOption));
    }

    #[test]
    fn sack_with_one_to_four_blocks_parses() {
        for n in 1..=4u32 {
            let want = blocks(n);
            let mut bytes = [0u8; 34];
            bytes[0] = 5;
            bytes[1] = (2 + 8 * n) as u8;
            for (i, b) in want.as_slice().iter().enumerate() {
                bytes[2 + 8 * i..6 + 8 * i].copy_from_slice(&b.left.to_be_bytes());
                bytes[6 + 8 * i..10 + 8 * i].copy_from_slice(&b.right.to_be_bytes());
            }
            let o = TcpOptions::parse(&bytes[..2 + 8 * n as usize]).unwrap();
            assert_eq!(o.sack_blocks, want);
        }
    }

    #[test]
    fn recommended_timestamps_layout_takes_the_common_path() {
        let bytes = [1, 1, 8, 10, 0, 0, 0, 7, 0xff, 0, 0, 1];
        let want = TcpOptions {
            timestamps: Some(Timestamps {
                tsval: 7,
                tsecr: 0xff00_0001,
            }),
            ..Default::default()
        };
        assert_eq!(TcpOptions::parse_common(&bytes), Some(want));
        assert_eq!(TcpOptions::parse(&bytes), Ok(want));
        assert_eq!(TcpOptions::parse_common(&[]), Some(TcpOptions::default()));
        // Same options, other layouts: the general parser's business.
        assert_eq!(TcpOptions::parse_common(&bytes[2..]), None);
        assert_eq!(
            TcpOptions::parse_common(&[8, 10, 0, 0, 0, 7, 0, 0, 0, 1, 1, 1]),
            None
        );
    }

    proptest::proptest! {
        /// Wherever the common-layout path answers, the list parser gives the same options.
        #[test]
        fn common_path_agrees_with_the_list_parser(
            bytes in proptest::array::uniform12(proptest::prelude::any::<u8>()),
            lead in proptest::prelude::any::<bool>(),
        ) {
            let mut bytes = bytes;
            if lead {
                // Half the cases take the recommended layout with random timestamps.
                bytes[..4].copy_from_slice(&[1, 1, 8, 10]);
            }
            let list = TcpOptions::parse_list(&bytes);
            match TcpOptions::parse_common(&bytes) {
                Some(common) => proptest::prop_assert_eq!(Ok(common), list),
                None => proptest::prop_assert!(!lead),
            }
            proptest::prop_assert_eq!(TcpOptions::parse(&bytes), list);
        }
    }

    #[test]
    fn linux_syn_layout_takes_the_syn_path() {
        // Linux's SYN: MSS 1460, SACK-Permitted, Timestamps, NOP, Window Scale 7.
        let bytes = [
            2, 4, 5, 180, 4, 2, 8, 10, 0, 1, 2, 3, 0, 0, 0, 0, 1, 3, 3, 7,
        ];
        let want = TcpOptions {
            mss: Some(1460),
            sack_permitted: true,
            timestamps: Some(Timestamps {
                tsval: 0x0001_0203,
                tsecr: 0,
            }),
            window_scale: Some(7),
            ..Default::default()
        };
        assert_eq!(TcpOptions::parse_syn(&bytes), Some(want));
        assert_eq!(TcpOptions::parse(&bytes), Ok(want));
        // What `emit` writes for the same options is the same layout.
        let mut out = [0u8; 40];
        assert_eq!(want.emit(&mut out), 20);
        assert_eq!(out[..20], bytes);
        // Other layouts of SYN options are the walk's business.
        assert_eq!(TcpOptions::parse_syn(&bytes[..16]), None);
        assert_eq!(
            TcpOptions::parse_syn(&[2, 4, 5, 180, 1, 3, 3, 7, 1, 1, 4, 2]),
            None
        );
    }

    proptest::proptest! {
        /// Wherever the SYN-layout path answers, the walk gives the same options.
        #[test]
        fn syn_path_agrees_with_the_walk(
            bytes in proptest::array::uniform20(proptest::prelude::any::<u8>()),
            layout in proptest::prelude::any::<bool>(),
        ) {
            let mut bytes = bytes;
            if layout {
                // Half the cases take the SYN layout with random values.
                bytes[..2].copy_from_slice(&[2, 4]);
                bytes[4..8].copy_from_slice(&[4, 2, 8, 10]);
                bytes[16..19].copy_from_slice(&[1, 3, 3]);
            }
            let walk = TcpOptions::walk_list(&bytes);
            match TcpOptions::parse_syn(&bytes) {
                Some(syn) => proptest::prop_assert_eq!(Ok(syn), walk),
                None => proptest::prop_assert!(!layout),
            }
            proptest::prop_assert_eq!(TcpOptions::parse(&bytes), walk);
        }
    }

    #[test]
    fn iterator_stops_after_first_error() {
        let mut it = TcpOptionIter::new(&[1, 2, 9, 1]);
        assert_eq!(it.next(), Some(Ok(TcpOption::Nop)));
        assert_eq!(it.next(), Some(Err(Error::BadOption)));
        assert_eq!(it.next(), None);
    }

    #[test]
    fn emit_layouts_follow_linux() {
        let ts = Some(Timestamps {
            tsval: 0x01020304,
            tsecr: 0x05060708,
        });
        let mut out = [0u8; 40];

        let o = TcpOptions {
            timestamps: ts,
            ..Default::default()
        };
        assert_eq!(o.emit(&mut out), 12);
        assert_eq!(&out[..12], &[1, 1, 8, 10, 1, 2, 3, 4, 5, 6, 7, 8]);

        let o = TcpOptions {
            sack_permitted: true,
            ..Default::default()
        };
        assert_eq!(o.emit(&mut out), 4);
        assert_eq!(&out[..4], &[1, 1, 4, 2]);

        let o = TcpOptions {
            window_scale: Some(7),
            mss: Some(1460),
            ..Default::default()
        };
        assert_eq!(o.emit(&mut out), 8);
        assert_eq!(&out[..8], &[2, 4, 5, 180, 1, 3, 3, 7]);

        let o = TcpOptions {
            sack_blocks: blocks(1),
            timestamps: ts,
            ..Default::default()
        };
        assert_eq!(o.emit_len(), 24);
        assert_eq!(o.emit(&mut out), 24);
        assert_eq!(&out[12..24], &[1, 1, 5, 10, 0, 0, 0, 0, 0, 0, 0, 50]);
    }

    #[test]
    fn timestamps_alone_into_short_buffer_writes_nothing() {
        let o = TcpOptions {
            timestamps: Some(Timestamps { tsval: 1, tsecr: 2 }),
            ..Default::default()
        };
        let mut out = [0xeeu8; 12];
        assert_eq!(o.emit(&mut out[..11]), 0);
        assert_eq!(out, [0xee; 12]);
        assert_eq!(o.emit(&mut out), 12);
        assert_eq!(out, [1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2]);
    }

    #[test]
    fn emit_drops_trailing_sack_blocks_past_40_bytes() {
        let ts = Some(Timestamps { tsval: 1, tsecr: 2 });
        let o = TcpOptions {
            sack_blocks: blocks(4),
            timestamps: ts,
            ..Default::default()
        };
        // 12 for timestamps leaves room for 3 blocks: 12 + 4 + 24 = 40.
        assert_eq!(o.emit_len(), 40);
        let mut out = [0u8; 40];
        assert_eq!(o.emit(&mut out), 40);
        let back = TcpOptions::parse(&out).unwrap();
        assert_eq!(back.sack_blocks, blocks(3));

        let o = TcpOptions {
            sack_blocks: blocks(4),
            ..Default::default()
        };
        assert_eq!(o.emit_len(), 36);
    }

    #[test]
    fn emit_into_short_buffer_writes_only_whole_options() {
        let o = TcpOptions {
            mss: Some(1460),
            window_scale: Some(7),
            sack_permitted: true,
            timestamps: Some(Timestamps { tsval: 1, tsecr: 2 }),
            sack_blocks: blocks(2),
        };
        for len in 0..o.emit_len() {
            let mut out = vec![0u8; len];
            let n = o.emit(&mut out);
            assert!(n <= len && n & 3 == 0);
            assert!(TcpOptions::parse(&out[..n]).is_ok());
        }
    }
}
