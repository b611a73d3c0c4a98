//! The parsed TCP header (RFC 9293 §3.1) with its options, and its emitter.

use core::net::IpAddr;

use super::packet::{split_segment, MIN_HEADER_LEN};
use super::{TcpFlags, TcpOptions, TcpPacket};
use crate::checksum::{self as csum, Checksum};
use crate::packet::IP_PROTO_TCP;
use crate::{Error, Result};

/// A parsed TCP header; the payload travels beside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpRepr {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgment number (meaningful when ACK is set).
    pub ack: u32,
    /// Control bits.
    pub flags: TcpFlags,
    /// Window field, unscaled.
    pub window: u16,
    /// Urgent pointer (meaningful when URG is set).
    pub urgent: u16,
    /// Options.
    pub options: TcpOptions,
}

impl TcpRepr {
    /// Parses a whole segment's structure and returns the header and payload; the checksum is not checked.
    // Inlined into the packet parsers' slow paths, their one caller each.
    #[inline]
    pub fn parse(segment: &[u8]) -> Result<(TcpRepr, &[u8])> {
        // The checks of TcpPacket::new_checked, done once; the view over the fixed-size
        // header then reads each field without a bounds check.
        let (fixed, options, payload) = split_segment(segment)?;
        let options = TcpOptions::parse(options)?;
        Ok((Self::from_fixed(fixed, options), payload))
    }

    /// [`parse`](Self::parse) of a well-formed segment whose options take one of the common
    /// layouts (none, or NOP, NOP, Timestamps); `None` for any other segment, which
    /// [`parse`](Self::parse) then answers.
    ///
    /// The packet parsers take this path and fall back to [`parse`](Self::parse) out of line,
    /// so the two answers never meet: where they met, the header lived in memory and was
    /// copied into the caller's by wide loads of the narrow stores that had just built it, a
    /// store-forwarding stall on every segment (`perf`: a fifth to a third of the parser's
    /// samples). Apart, the fields of the common case stay in registers until stored once.
    #[inline(always)]
    pub(crate) fn parse_common(segment: &[u8]) -> Option<(TcpRepr, &[u8])> {
        let (fixed, options, payload) = split_segment(segment).ok()?;
        let options = TcpOptions::parse_common(options)?;
        Some((Self::from_fixed(fixed, options), payload))
    }

    /// The header from its fixed 20 bytes and its parsed options.
    #[inline(always)]
    fn from_fixed(fixed: &[u8; MIN_HEADER_LEN], options: TcpOptions) -> TcpRepr {
        let packet = TcpPacket::new_unchecked(fixed);
        TcpRepr {
            src_port: packet.src_port(),
            dst_port: packet.dst_port(),
            seq: packet.seq_number(),
            ack: packet.ack_number(),
            flags: packet.flags(),
            window: packet.window(),
            urgent: packet.urgent_ptr(),
            options,
        }
    }

    /// Length of the header without options.
    pub const FIXED_HEADER_LEN: usize = MIN_HEADER_LEN;

    /// Header length [`emit`](Self::emit) writes: 20 plus the options.
    pub fn header_len(&self) -> usize {
        MIN_HEADER_LEN + self.options.emit_len()
    }

    /// Writes header, options and the payload parts back to back, then the checksum; returns the segment length.
    ///
    /// `AddressFamilyMismatch` if `src` and `dst` differ in family; `BufferTooSmall` if the
    /// segment does not fit in `buf`.
    pub fn emit(
        &self,
        buf: &mut [u8],
        src: IpAddr,
        dst: IpAddr,
        payload: &[&[u8]],
    ) -> Result<usize> {
        self.emit_with(buf, src, dst, payload, Checksum::Computed)
    }

    /// [`emit`](Self::emit), with the checksum computed or left to the device ([`Checksum`]).
    pub fn emit_with(
        &self,
        buf: &mut [u8],
        src: IpAddr,
        dst: IpAddr,
        payload: &[&[u8]],
        checksum: Checksum,
    ) -> Result<usize> {
        let header_len = self.header_len_between(src, dst)?;
        let len = payload
            .iter()
            .try_fold(header_len, |acc, part| acc.checked_add(part.len()))
            .ok_or(Error::BufferTooSmall)?;
        let segment = buf.get_mut(..len).ok_or(Error::BufferTooSmall)?;
        let (header, data) = segment.split_at_mut(header_len);
        self.emit_header(header)?;

        // With the checksum computed here, each part is summed as it is copied, so the
        // payload is read once; a part that starts at an odd offset sums byte-swapped
        // (RFC 1071 §2 (B)).
        let mut at = 0;
        let mut payload_sum = 0;
        for part in payload {
            // An empty part (a pure ACK's) would still cost a call to memcpy.
            if part.is_empty() {
                continue;
            }
            // The total was checked above, so every part lands inside `data`.
            let end = at + part.len();
            if let Some(dst) = data.get_mut(at..end) {
                match checksum {
                    Checksum::Computed => {
                        let sum = csum::at_offset(csum::copy_and_sum(dst, part), at);
                        payload_sum = csum::combine(payload_sum, sum);
                    }
                    Checksum::Offloaded => dst.copy_from_slice(part),
                }
            }
            at = end;
        }

        match checksum {
            Checksum::Computed => {
                // The payload's sum was taken as it was copied; only the header's is left.
                let tcp_len = u32::try_from(len).map_err(|_| Error::BufferTooSmall)?;
                let pseudo = csum::pseudo_header(src, dst, IP_PROTO_TCP, tcp_len);
                // Three folded sums, each at most 0xffff: their plain total cannot overflow,
                // and `fold` wraps its carries around.
                let sum = pseudo + csum::sum(header) + payload_sum;
                TcpPacket::new_unchecked(header).set_checksum(csum::fold(sum));
            }
            Checksum::Offloaded => {
                TcpPacket::new_unchecked(segment).fill_partial_checksum(src, dst)
            }
        }
        Ok(len)
    }

    /// The header alone of a segment whose `payload_len` bytes the caller sends after it
    /// from elsewhere (a gathered write), with the checksum left to the device as with
    /// [`Checksum::Offloaded`]; returns the header's length. The header and the payload
    /// together are what [`emit_with`](Self::emit_with) would write.
    pub fn emit_header_offloaded(
        &self,
        buf: &mut [u8],
        src: IpAddr,
        dst: IpAddr,
        payload_len: usize,
    ) -> Result<usize> {
        let header_len = self.header_len_between(src, dst)?;
        let len = header_len
            .checked_add(payload_len)
            .and_then(|l| u32::try_from(l).ok())
            .ok_or(Error::BufferTooSmall)?;
        let header = buf.get_mut(..header_len).ok_or(Error::BufferTooSmall)?;
        let fixed = self.emit_header(header)?;
        TcpPacket::new_unchecked(fixed).fill_partial_checksum_of(src, dst, len);
        Ok(header_len)
    }

    /// The header's length, for a segment between `src` and `dst` of one address family.
    #[inline]
    fn header_len_between(&self, src: IpAddr, dst: IpAddr) -> Result<usize> {
        if src.is_ipv4() != dst.is_ipv4() {
            return Err(Error::AddressFamilyMismatch);
        }
        Ok(self.header_len())
    }

    /// Write the options and the fixed header into `header` (exactly `header_len` bytes),
    /// the checksum field zero; returns the fixed header.
    #[inline]
    fn emit_header<'a>(&self, header: &'a mut [u8]) -> Result<&'a mut [u8; MIN_HEADER_LEN]> {
        let header_len = header.len();
        // header_len is at least the fixed header, so the split always succeeds.
        let Some((fixed, options)) = header.split_first_chunk_mut::<MIN_HEADER_LEN>() else {
            return Err(Error::BufferTooSmall);
        };
        let options_len = self.options.emit(options);
        debug_assert_eq!(options_len, header_len - MIN_HEADER_LEN);
        // The fixed header is written through a view over an array, so the field writes
        // need no bounds checks; the checksum field is zero while the sum is taken.
        let mut packet = TcpPacket::new_unchecked(&mut *fixed);
        packet.set_src_port(self.src_port);
        packet.set_dst_port(self.dst_port);
        packet.set_seq_number(self.seq);
        packet.set_ack_number(self.ack);
        packet.set_header_len(header_len);
        packet.set_flags(self.flags);
        packet.set_window(self.window);
        packet.set_checksum(0);
        packet.set_urgent_ptr(self.urgent);
        Ok(fixed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tcp::Timestamps;
    use core::net::{Ipv4Addr, Ipv6Addr};

    fn repr() -> TcpRepr {
        TcpRepr {
            src_port: 40000,
            dst_port: 80,
            seq: 1,
            ack: 2,
            flags: TcpFlags::ACK | TcpFlags::PSH,
            window: 512,
            urgent: 0,
            options: TcpOptions {
                timestamps: Some(Timestamps { tsval: 3, tsecr: 4 }),
                ..Default::default()
            },
        }
    }

    const SRC: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
    const DST: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2));

    #[test]
    fn emit_joins_payload_parts_and_parses_back() {
        let mut buf = [0u8; 64];
        let n = repr()
            .emit(&mut buf, SRC, DST, &[b"hel", b"", b"lo"])
            .unwrap();
        assert_eq!(n, 32 + 5);
        let (back, payload) = TcpRepr::parse(&buf[..n]).unwrap();
        assert_eq!(back, repr());
        assert_eq!(payload, b"hello");
        assert!(TcpPacket::new_checked(&buf[..n])
            .unwrap()
            .verify_checksum(SRC, DST));
    }

    #[test]
    fn emit_into_small_buffer_is_buffer_too_small() {
        let mut buf = [0u8; 36];
        assert_eq!(
            repr().emit(&mut buf, SRC, DST, &[b"hello"]),
            Err(Error::BufferTooSmall)
        );
        assert_eq!(
            repr().emit(&mut buf[..31], SRC, DST, &[]),
            Err(Error::BufferTooSmall)
        );
    }

    #[test]
    fn emit_with_mixed_families_is_address_family_mismatch() {
        let mut buf = [0u8; 64];
        let v6 = IpAddr::V6(Ipv6Addr::LOCALHOST);
        assert_eq!(
            repr().emit(&mut buf, SRC, v6, &[]),
            Err(Error::AddressFamilyMismatch)
        );
    }

    proptest::proptest! {
        /// A payload in two parts, cut anywhere (an odd cut starts the second part at an odd
        /// offset, whose sum is byte-swapped), is written and checksummed as the same payload
        /// in one part: through the copying sum, short and long.
        #[test]
        fn parts_checksum_as_one(
            payload in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..3000),
            cut in proptest::prelude::any::<proptest::sample::Index>(),
        ) {
            let (a, b) = payload.split_at(cut.index(payload.len() + 1));
            let (mut one, mut two) = (vec![0u8; 3100], vec![0u8; 3100]);
            let n = repr().emit(&mut one, SRC, DST, &[&payload]).unwrap();
            proptest::prop_assert_eq!(repr().emit(&mut two, SRC, DST, &[a, b]), Ok(n));
            proptest::prop_assert_eq!(&one[..n], &two[..n]);
            proptest::prop_assert!(TcpPacket::new_checked(&two[..n]).unwrap().verify_checksum(SRC, DST));
        }

        /// Wherever the common path answers, it gives what `parse` gives; and it answers for
        /// every well-formed segment without options or with NOP, NOP, Timestamps.
        #[test]
        fn common_path_agrees_with_parse(
            fixed in proptest::array::uniform20(proptest::prelude::any::<u8>()),
            stamps in proptest::array::uniform8(proptest::prelude::any::<u8>()),
            layout in 0u8..3,
            tail in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..48),
        ) {
            let mut segment = fixed.to_vec();
            match layout {
                // No options: a data offset of 5.
                0 => segment[12] = (segment[12] & 0x0f) | 5 << 4,
                // The recommended timestamps layout: a data offset of 8.
                1 => {
                    segment[12] = (segment[12] & 0x0f) | 8 << 4;
                    segment.extend([1, 1, 8, 10]);
                    segment.extend(stamps);
                }
                // Whatever the data offset and the bytes after the fixed header say.
                _ => {}
            }
            segment.extend(&tail);
            let full = TcpRepr::parse(&segment);
            match TcpRepr::parse_common(&segment) {
                Some(common) => proptest::prop_assert_eq!(Ok(common), full),
                None => proptest::prop_assert_eq!(layout, 2),
            }
        }
    }

    #[test]
    fn parse_does_not_check_checksum() {
        let mut buf = [0u8; 32];
        repr().emit(&mut buf, SRC, DST, &[]).unwrap();
        buf[16] ^= 0xff;
        assert_eq!(TcpRepr::parse(&buf).unwrap().0, repr());
    }

    #[test]
    fn malformed_options_in_segment_are_bad_option() {
        let mut buf = [0u8; 24];
        let mut p = TcpPacket::new_unchecked(&mut buf[..]);
        p.set_header_len(24);
        p.options_mut().copy_from_slice(&[2, 4, 5, 0xb4]);
        assert!(TcpRepr::parse(&buf).is_ok());
        buf[21] = 9;
        assert_eq!(TcpRepr::parse(&buf).unwrap_err(), Error::BadOption);
    }
}
