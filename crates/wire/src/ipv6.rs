//! IPv6 fixed header (RFC 8200 §3): a zero-copy view and a parsed representation.
//!
//! Extension headers (RFC 8200 §4) are not walked: a next header other than TCP is
//! reported as `NotTcp` by the packet-level parser. Jumbograms (RFC 2675) are not supported.

use core::net::Ipv6Addr;

use crate::field::{
    bytes, get_u16, get_u32, get_u8, range, range_mut, set_bytes, set_u16, set_u32, set_u8,
};
use crate::{Error, Result};

mod offset {
    pub const VER_TC_FLOW: usize = 0;
    pub const PAYLOAD_LEN: usize = 4;
    pub const NEXT_HEADER: usize = 6;
    pub const HOP_LIMIT: usize = 7;
    pub const SRC: usize = 8;
    pub const DST: usize = 24;
}

const FLOW_LABEL_MASK: u32 = 0x000f_ffff;

/// Zero-copy view of an IPv6 packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv6Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv6Packet<T> {
    /// Wraps a buffer without checking it; accessors return zero for fields past its end.
    pub fn new_unchecked(buffer: T) -> Self {
        Ipv6Packet { buffer }
    }

    /// Wraps a buffer after checking version, header size and payload length.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let packet = Self::new_unchecked(buffer);
        packet.check()?;
        Ok(packet)
    }

    fn check(&self) -> Result<()> {
        self.check_within(self.buffer.as_ref().len())
    }

    /// The checks of [`new_checked`](Self::new_checked) for a buffer that holds the first
    /// bytes, the fixed header among them, of a datagram `datagram_len` bytes long.
    fn check_within(&self, datagram_len: usize) -> Result<()> {
        if self.buffer.as_ref().len() < Ipv6Repr::HEADER_LEN {
            return Err(Error::Truncated);
        }
        if self.version() != 6 {
            return Err(Error::BadVersion);
        }
        // The buffer holds the fixed header, so the datagram is at least that long.
        if self.payload_len() > datagram_len.saturating_sub(Ipv6Repr::HEADER_LEN) {
            return Err(Error::BadTotalLen);
        }
        Ok(())
    }

    fn first_word(&self) -> u32 {
        get_u32(self.buffer.as_ref(), offset::VER_TC_FLOW)
    }

    /// IP version nibble (6 for a valid packet).
    pub fn version(&self) -> u8 {
        (self.first_word() >> 28) as u8
    }

    /// Traffic class (DSCP and ECN).
    pub fn traffic_class(&self) -> u8 {
        (self.first_word() >> 20) as u8
    }

    /// Flow label (20 bits).
    pub fn flow_label(&self) -> u32 {
        self.first_word() & FLOW_LABEL_MASK
    }

    /// Payload length in bytes (everything after the 40-byte fixed header).
    pub fn payload_len(&self) -> usize {
        usize::from(get_u16(self.buffer.as_ref(), offset::PAYLOAD_LEN))
    }

    /// Next header (protocol) number.
    pub fn next_header(&self) -> u8 {
        get_u8(self.buffer.as_ref(), offset::NEXT_HEADER)
    }

    /// Hop limit.
    pub fn hop_limit(&self) -> u8 {
        get_u8(self.buffer.as_ref(), offset::HOP_LIMIT)
    }

    /// Source address.
    pub fn src_addr(&self) -> Ipv6Addr {
        Ipv6Addr::from(bytes::<16>(self.buffer.as_ref(), offset::SRC).unwrap_or([0; 16]))
    }

    /// Destination address.
    pub fn dst_addr(&self) -> Ipv6Addr {
        Ipv6Addr::from(bytes::<16>(self.buffer.as_ref(), offset::DST).unwrap_or([0; 16]))
    }

    /// The payload, `40..40 + payload_len`; link-layer padding is excluded.
    pub fn payload(&self) -> &[u8] {
        let end = Ipv6Repr::HEADER_LEN + self.payload_len();
        range(self.buffer.as_ref(), Ipv6Repr::HEADER_LEN, end)
    }

    /// Gives the buffer back.
    pub fn into_inner(self) -> T {
        self.buffer
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv6Packet<T> {
    fn set_first_word(&mut self, mask: u32, value: u32) {
        let old = self.first_word();
        set_u32(
            self.buffer.as_mut(),
            offset::VER_TC_FLOW,
            (old & !mask) | (value & mask),
        );
    }

    /// Sets the version nibble.
    pub fn set_version(&mut self, version: u8) {
        self.set_first_word(0xf000_0000, u32::from(version) << 28);
    }

    /// Sets the traffic class.
    pub fn set_traffic_class(&mut self, tc: u8) {
        self.set_first_word(0x0ff0_0000, u32::from(tc) << 20);
    }

    /// Sets the flow label; bits above the low 20 are dropped.
    pub fn set_flow_label(&mut self, label: u32) {
        self.set_first_word(FLOW_LABEL_MASK, label);
    }

    /// Sets the payload length; values above 65535 are clamped.
    pub fn set_payload_len(&mut self, len: usize) {
        let len = u16::try_from(len).unwrap_or(u16::MAX);
        set_u16(self.buffer.as_mut(), offset::PAYLOAD_LEN, len);
    }

    /// Sets the next header number.
    pub fn set_next_header(&mut self, value: u8) {
        set_u8(self.buffer.as_mut(), offset::NEXT_HEADER, value);
    }

    /// Sets the hop limit.
    pub fn set_hop_limit(&mut self, value: u8) {
        set_u8(self.buffer.as_mut(), offset::HOP_LIMIT, value);
    }

    /// Sets the source address.
    pub fn set_src_addr(&mut self, addr: Ipv6Addr) {
        set_bytes(self.buffer.as_mut(), offset::SRC, &addr.octets());
    }

    /// Sets the destination address.
    pub fn set_dst_addr(&mut self, addr: Ipv6Addr) {
        set_bytes(self.buffer.as_mut(), offset::DST, &addr.octets());
    }

    /// The payload, mutably (same range as [`payload`](Self::payload)).
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let end = Ipv6Repr::HEADER_LEN + self.payload_len();
        range_mut(self.buffer.as_mut(), Ipv6Repr::HEADER_LEN, end)
    }
}

/// Parsed IPv6 fixed header: the fields a TCP endpoint uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv6Repr {
    /// Source address.
    pub src: Ipv6Addr,
    /// Destination address.
    pub dst: Ipv6Addr,
    /// Next header number.
    pub next_header: u8,
    /// Hop limit.
    pub hop_limit: u8,
    /// Payload length in bytes.
    pub payload_len: usize,
}

impl Ipv6Repr {
    /// Length of the fixed header.
    pub const HEADER_LEN: usize = 40;

    /// Parses the fixed header after checking version and lengths.
    pub fn parse<T: AsRef<[u8]>>(packet: &Ipv6Packet<T>) -> Result<Ipv6Repr> {
        packet.check()?;
        Ok(Self::read(packet))
    }

    /// The fixed header of a datagram of `datagram_len` bytes whose first bytes, the header
    /// among them, are `head`, checked as [`parse`](Self::parse) checks it.
    pub(crate) fn parse_header(head: &[u8], datagram_len: usize) -> Result<Ipv6Repr> {
        let packet = Ipv6Packet::new_unchecked(head);
        packet.check_within(datagram_len)?;
        Ok(Self::read(&packet))
    }

    /// The fields of a checked header.
    fn read<T: AsRef<[u8]>>(packet: &Ipv6Packet<T>) -> Ipv6Repr {
        Ipv6Repr {
            src: packet.src_addr(),
            dst: packet.dst_addr(),
            next_header: packet.next_header(),
            hop_limit: packet.hop_limit(),
            payload_len: packet.payload_len(),
        }
    }

    /// Writes the 40-byte fixed header (traffic class and flow label 0) into `buf[..40]`.
    pub fn emit(&self, buf: &mut [u8]) -> Result<()> {
        if self.payload_len > usize::from(u16::MAX) {
            return Err(Error::BadTotalLen);
        }
        let header = buf
            .get_mut(..Self::HEADER_LEN)
            .ok_or(Error::BufferTooSmall)?;
        let mut packet = Ipv6Packet::new_unchecked(header);
        packet.set_first_word(0xffff_ffff, 6 << 28);
        packet.set_payload_len(self.payload_len);
        packet.set_next_header(self.next_header);
        packet.set_hop_limit(self.hop_limit);
        packet.set_src_addr(self.src);
        packet.set_dst_addr(self.dst);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repr() -> Ipv6Repr {
        Ipv6Repr {
            src: Ipv6Addr::LOCALHOST,
            dst: Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1),
            next_header: 6,
            hop_limit: 64,
            payload_len: 4,
        }
    }

    #[test]
    fn emit_then_view_reads_back_fields() {
        let mut buf = [0u8; 44];
        repr().emit(&mut buf).unwrap();
        assert_eq!(&buf[..8], &[0x60, 0, 0, 0, 0, 4, 6, 64]);
        let p = Ipv6Packet::new_checked(&buf[..]).unwrap();
        assert_eq!(Ipv6Repr::parse(&p).unwrap(), repr());
        assert_eq!(p.payload().len(), 4);
    }

    #[test]
    fn traffic_class_and_flow_label_are_independent() {
        let mut buf = [0u8; 40];
        let mut p = Ipv6Packet::new_unchecked(&mut buf[..]);
        p.set_version(6);
        p.set_traffic_class(0xab);
        p.set_flow_label(0xfffff_u32 | 0x0100_0000);
        assert_eq!(
            (p.version(), p.traffic_class(), p.flow_label()),
            (6, 0xab, 0xfffff)
        );
        p.set_flow_label(0x12345);
        assert_eq!(
            (p.version(), p.traffic_class(), p.flow_label()),
            (6, 0xab, 0x12345)
        );
    }

    #[test]
    fn short_buffer_is_truncated() {
        assert_eq!(
            Ipv6Packet::new_checked(&[0x60u8; 39][..]).unwrap_err(),
            Error::Truncated
        );
    }

    #[test]
    fn wrong_version_is_bad_version() {
        let mut buf = [0u8; 40];
        buf[0] = 0x40;
        assert_eq!(
            Ipv6Packet::new_checked(&buf[..]).unwrap_err(),
            Error::BadVersion
        );
    }

    #[test]
    fn payload_len_beyond_buffer_is_bad_total_len() {
        let mut buf = [0u8; 44];
        repr().emit(&mut buf).unwrap();
        assert_eq!(
            Ipv6Packet::new_checked(&buf[..43]).unwrap_err(),
            Error::BadTotalLen
        );
    }

    #[test]
    fn emit_errors() {
        assert_eq!(repr().emit(&mut [0u8; 39]), Err(Error::BufferTooSmall));
        let big = Ipv6Repr {
            payload_len: 65536,
            ..repr()
        };
        assert_eq!(big.emit(&mut [0u8; 40]), Err(Error::BadTotalLen));
    }
}
