//! Zero-copy view of a TCP segment: the fixed header fields of RFC 9293 §3.1, the option
//! area, the payload, and the checksum over the pseudo-header (RFC 9293 §3.1, RFC 8200 §8.1).

use core::net::IpAddr;

use super::{TcpFlags, TcpOptionIter};
use crate::checksum;
use crate::field::{get_u16, get_u32, get_u8, range, range_mut, set_u16, set_u32, set_u8};
use crate::packet::IP_PROTO_TCP;
use crate::{Error, Result};

mod offset {
    pub const SRC_PORT: usize = 0;
    pub const DST_PORT: usize = 2;
    pub const SEQ: usize = 4;
    pub const ACK: usize = 8;
    pub const DATA_OFFSET: usize = 12;
    pub const FLAGS: usize = 13;
    pub const WINDOW: usize = 14;
    pub const CHECKSUM: usize = 16;
    pub const URGENT: usize = 18;
}

/// Length of the fixed TCP header, without options.
pub(crate) const MIN_HEADER_LEN: usize = 20;

/// A segment split into its fixed header, option area and payload, after the checks of
/// [`TcpPacket::new_checked`]: `Truncated` without a fixed header, `BadHeaderLen` if the
/// data offset is below 5 words or past the end. The fixed header comes back as an array,
/// so reading its fields needs no further bounds checks.
pub(crate) fn split_segment(segment: &[u8]) -> Result<(&[u8; MIN_HEADER_LEN], &[u8], &[u8])> {
    let Some((fixed, _)) = segment.split_first_chunk::<MIN_HEADER_LEN>() else {
        return Err(Error::Truncated);
    };
    let header_len = usize::from(fixed[offset::DATA_OFFSET] >> 4) * 4;
    if header_len < MIN_HEADER_LEN {
        return Err(Error::BadHeaderLen);
    }
    let Some((header, payload)) = segment.split_at_checked(header_len) else {
        return Err(Error::BadHeaderLen);
    };
    let options = header.get(MIN_HEADER_LEN..).unwrap_or(&[]);
    Ok((fixed, options, payload))
}

/// Zero-copy view of a TCP segment (header, options and payload).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> TcpPacket<T> {
    /// Wraps a buffer without checking it; accessors return zero for fields past its end.
    pub fn new_unchecked(buffer: T) -> Self {
        TcpPacket { buffer }
    }

    /// Wraps a buffer after checking it holds a fixed header and the data offset is sane.
    pub fn new_checked(buffer: T) -> Result<Self> {
        split_segment(buffer.as_ref())?;
        Ok(Self::new_unchecked(buffer))
    }

    /// Source port.
    pub fn src_port(&self) -> u16 {
        get_u16(self.buffer.as_ref(), offset::SRC_PORT)
    }

    /// Destination port.
    pub fn dst_port(&self) -> u16 {
        get_u16(self.buffer.as_ref(), offset::DST_PORT)
    }

    /// Sequence number.
    pub fn seq_number(&self) -> u32 {
        get_u32(self.buffer.as_ref(), offset::SEQ)
    }

    /// Acknowledgment number.
    pub fn ack_number(&self) -> u32 {
        get_u32(self.buffer.as_ref(), offset::ACK)
    }

    /// Header length in bytes (data offset × 4), options included.
    pub fn header_len(&self) -> usize {
        usize::from(get_u8(self.buffer.as_ref(), offset::DATA_OFFSET) >> 4) * 4
    }

    /// Control bits.
    pub fn flags(&self) -> TcpFlags {
        TcpFlags::from_bits(get_u8(self.buffer.as_ref(), offset::FLAGS))
    }

    /// Window field, unscaled.
    pub fn window(&self) -> u16 {
        get_u16(self.buffer.as_ref(), offset::WINDOW)
    }

    /// Checksum field as sent.
    pub fn checksum(&self) -> u16 {
        get_u16(self.buffer.as_ref(), offset::CHECKSUM)
    }

    /// Urgent pointer.
    pub fn urgent_ptr(&self) -> u16 {
        get_u16(self.buffer.as_ref(), offset::URGENT)
    }

    /// The option area, `20..header_len`.
    pub fn options(&self) -> &[u8] {
        range(self.buffer.as_ref(), MIN_HEADER_LEN, self.header_len())
    }

    /// Where the payload starts; never inside the fixed header, even on an unchecked view.
    fn payload_start(&self) -> usize {
        self.header_len().max(MIN_HEADER_LEN)
    }

    /// Iterator over the raw options.
    pub fn option_iter(&self) -> TcpOptionIter<'_> {
        TcpOptionIter::new(self.options())
    }

    /// The payload, everything after the header.
    pub fn payload(&self) -> &[u8] {
        let buf = self.buffer.as_ref();
        range(buf, self.payload_start(), buf.len())
    }

    /// True if the checksum over pseudo-header and the whole segment is correct.
    pub fn verify_checksum(&self, src: IpAddr, dst: IpAddr) -> bool {
        let buf = self.buffer.as_ref();
        match u32::try_from(buf.len()) {
            Ok(len) => {
                let pseudo = checksum::pseudo_header(src, dst, IP_PROTO_TCP, len);
                checksum::fold(checksum::combine(pseudo, checksum::sum(buf))) == 0
            }
            Err(_) => false,
        }
    }

    /// Gives the buffer back.
    pub fn into_inner(self) -> T {
        self.buffer
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> TcpPacket<T> {
    /// Sets the source port.
    pub fn set_src_port(&mut self, port: u16) {
        set_u16(self.buffer.as_mut(), offset::SRC_PORT, port);
    }

    /// Sets the destination port.
    pub fn set_dst_port(&mut self, port: u16) {
        set_u16(self.buffer.as_mut(), offset::DST_PORT, port);
    }

    /// Sets the sequence number.
    pub fn set_seq_number(&mut self, seq: u32) {
        set_u32(self.buffer.as_mut(), offset::SEQ, seq);
    }

    /// Sets the acknowledgment number.
    pub fn set_ack_number(&mut self, ack: u32) {
        set_u32(self.buffer.as_mut(), offset::ACK, ack);
    }

    /// Sets the header length in bytes (stored in 4-byte words; reserved bits are cleared).
    pub fn set_header_len(&mut self, len: usize) {
        let words = u8::try_from(len / 4).unwrap_or(0x0f).min(0x0f);
        set_u8(self.buffer.as_mut(), offset::DATA_OFFSET, words << 4);
    }

    /// Sets the control bits.
    pub fn set_flags(&mut self, flags: TcpFlags) {
        set_u8(self.buffer.as_mut(), offset::FLAGS, flags.bits());
    }

    /// Sets the window field.
    pub fn set_window(&mut self, window: u16) {
        set_u16(self.buffer.as_mut(), offset::WINDOW, window);
    }

    /// Sets the checksum field as given.
    pub fn set_checksum(&mut self, value: u16) {
        set_u16(self.buffer.as_mut(), offset::CHECKSUM, value);
    }

    /// Sets the urgent pointer.
    pub fn set_urgent_ptr(&mut self, value: u16) {
        set_u16(self.buffer.as_mut(), offset::URGENT, value);
    }

    /// The option area, mutably.
    pub fn options_mut(&mut self) -> &mut [u8] {
        let end = self.header_len();
        range_mut(self.buffer.as_mut(), MIN_HEADER_LEN, end)
    }

    /// The payload, mutably.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let start = self.payload_start();
        let buf = self.buffer.as_mut();
        let end = buf.len();
        range_mut(buf, start, end)
    }

    /// Puts the pseudo-header's sum, folded and not complemented, in the checksum field: the
    /// start a device that completes the checksum sums the segment from (virtio-net's
    /// `NEEDS_CSUM`, a NIC's transmit checksum offload).
    pub fn fill_partial_checksum(&mut self, src: IpAddr, dst: IpAddr) {
        let len = u32::try_from(self.buffer.as_ref().len()).unwrap_or(u32::MAX);
        self.fill_partial_checksum_of(src, dst, len);
    }

    /// [`fill_partial_checksum`](Self::fill_partial_checksum) for a segment `len` bytes
    /// long of which this buffer holds only the start (the header of a gathered write).
    pub fn fill_partial_checksum_of(&mut self, src: IpAddr, dst: IpAddr, len: u32) {
        let pseudo = checksum::pseudo_header(src, dst, IP_PROTO_TCP, len);
        self.set_checksum(!checksum::fold(pseudo));
    }

    /// Computes and stores the checksum over pseudo-header and the whole buffer.
    pub fn fill_checksum(&mut self, src: IpAddr, dst: IpAddr) {
        self.set_checksum(0);
        let buf = self.buffer.as_ref();
        let Ok(len) = u32::try_from(buf.len()) else {
            return;
        };
        let pseudo = checksum::pseudo_header(src, dst, IP_PROTO_TCP, len);
        let value = checksum::fold(checksum::combine(pseudo, checksum::sum(buf)));
        self.set_checksum(value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::{Ipv4Addr, Ipv6Addr};

    #[test]
    fn short_buffer_is_truncated() {
        assert_eq!(
            TcpPacket::new_checked(&[0x50u8; 19][..]).unwrap_err(),
            Error::Truncated
        );
    }

    #[test]
    fn data_offset_below_five_is_bad_header_len() {
        let mut buf = [0u8; 20];
        buf[12] = 0x40;
        assert_eq!(
            TcpPacket::new_checked(&buf[..]).unwrap_err(),
            Error::BadHeaderLen
        );
    }

    #[test]
    fn data_offset_beyond_segment_is_bad_header_len() {
        let mut buf = [0u8; 23];
        buf[12] = 0x60;
        assert_eq!(
            TcpPacket::new_checked(&buf[..]).unwrap_err(),
            Error::BadHeaderLen
        );
    }

    #[test]
    fn setters_and_getters_agree() {
        let mut buf = [0u8; 27];
        let mut p = TcpPacket::new_unchecked(&mut buf[..]);
        p.set_src_port(1);
        p.set_dst_port(0xffff);
        p.set_seq_number(0xdead_beef);
        p.set_ack_number(7);
        p.set_header_len(24);
        p.set_flags(TcpFlags::SYN | TcpFlags::ACK);
        p.set_window(1024);
        p.set_urgent_ptr(3);
        p.options_mut().copy_from_slice(&[1, 1, 1, 0]);
        p.payload_mut().copy_from_slice(b"abc");
        let src = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
        let dst = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2));
        p.fill_checksum(src, dst);
        let p = TcpPacket::new_checked(&buf[..]).unwrap();
        assert_eq!((p.src_port(), p.dst_port()), (1, 0xffff));
        assert_eq!((p.seq_number(), p.ack_number()), (0xdead_beef, 7));
        assert_eq!(p.header_len(), 24);
        assert_eq!(p.flags(), TcpFlags::SYN | TcpFlags::ACK);
        assert_eq!((p.window(), p.urgent_ptr()), (1024, 3));
        assert_eq!(p.options(), &[1, 1, 1, 0]);
        assert_eq!(p.option_iter().count(), 4);
        assert_eq!(p.payload(), b"abc");
        assert!(p.verify_checksum(src, dst));
        assert!(!p.verify_checksum(dst, IpAddr::V4(Ipv4Addr::LOCALHOST)));
        let v6 = IpAddr::V6(Ipv6Addr::LOCALHOST);
        assert!(!p.verify_checksum(v6, v6));
    }

    #[test]
    fn unchecked_view_over_short_buffer_does_not_panic() {
        let mut buf = [0xffu8; 5];
        let mut p = TcpPacket::new_unchecked(&mut buf[..]);
        assert_eq!(p.seq_number(), 0);
        assert!(p.options().is_empty() && p.payload().is_empty());
        p.set_window(1);
        p.fill_checksum(Ipv4Addr::LOCALHOST.into(), Ipv4Addr::LOCALHOST.into());
        assert!(p.options_mut().is_empty());
    }
}
