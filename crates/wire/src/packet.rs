//! Whole IP datagrams carrying TCP: one parse that runs every check in order, and one emit.
//!
//! Parsing applies the IPv4 (RFC 791 §3.1) or IPv6 (RFC 8200 §3) checks, requires the
//! protocol to be TCP, verifies the TCP checksum over the pseudo-header (RFC 9293 §3.1,
//! RFC 8200 §8.1), then parses the TCP header and options.

use core::net::IpAddr;

use crate::checksum::Checksum;
use crate::tcp::{TcpPacket, TcpRepr, TCP_MIN_HEADER_LEN};
use crate::{Error, Ipv4Repr, Ipv6Packet, Ipv6Repr, Result};

/// IP protocol number of TCP.
pub const IP_PROTO_TCP: u8 = 6;

/// The IP header of a parsed or to-be-emitted packet, in either family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpRepr {
    /// IPv4 header.
    V4(Ipv4Repr),
    /// IPv6 fixed header.
    V6(Ipv6Repr),
}

impl IpRepr {
    /// Source address.
    pub fn src(&self) -> IpAddr {
        match self {
            IpRepr::V4(r) => r.src.into(),
            IpRepr::V6(r) => r.src.into(),
        }
    }

    /// Destination address.
    pub fn dst(&self) -> IpAddr {
        match self {
            IpRepr::V4(r) => r.dst.into(),
            IpRepr::V6(r) => r.dst.into(),
        }
    }

    /// Length of the header this repr emits (20 or 40).
    pub fn header_len(&self) -> usize {
        match self {
            IpRepr::V4(_) => Ipv4Repr::HEADER_LEN,
            IpRepr::V6(_) => Ipv6Repr::HEADER_LEN,
        }
    }

    /// TTL or hop limit.
    pub fn hop_limit(&self) -> u8 {
        match self {
            IpRepr::V4(r) => r.ttl,
            IpRepr::V6(r) => r.hop_limit,
        }
    }

    /// Length of the IP payload (the TCP segment).
    pub fn payload_len(&self) -> usize {
        match self {
            IpRepr::V4(r) => r.payload_len,
            IpRepr::V6(r) => r.payload_len,
        }
    }
}

/// A parsed TCP/IP packet: IP header, TCP header, and the TCP payload borrowed from the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment<'a> {
    /// IP header.
    pub ip: IpRepr,
    /// TCP header and options.
    pub tcp: TcpRepr,
    /// TCP payload.
    pub payload: &'a [u8],
}

/// Parses and fully checks an IPv4 or IPv6 datagram carrying a TCP segment.
pub fn parse_packet(packet: &[u8]) -> Result<Segment<'_>> {
    parse_packet_with(packet, Checksum::Computed)
}

/// [`parse_packet`], with the TCP checksum verified here or vouched for by the device
/// ([`Checksum::Offloaded`]: every other check still applies, the IPv4 header checksum too).
pub fn parse_packet_with(packet: &[u8], checksum: Checksum) -> Result<Segment<'_>> {
    let first = *packet.first().ok_or(Error::Truncated)?;
    let (ip, segment) = match first >> 4 {
        4 => {
            // The checks of Ipv4Packet::new_checked and Ipv4Repr::parse, in that order, once.
            let (repr, payload) = Ipv4Repr::parse_datagram(packet)?;
            if repr.protocol != IP_PROTO_TCP {
                return Err(Error::NotTcp);
            }
            (IpRepr::V4(repr), payload)
        }
        6 => {
            let view = Ipv6Packet::new_checked(packet)?;
            let repr = Ipv6Repr::parse(&view)?;
            if repr.next_header != IP_PROTO_TCP {
                return Err(Error::NotTcp);
            }
            let end = Ipv6Repr::HEADER_LEN + repr.payload_len;
            let payload = packet.get(Ipv6Repr::HEADER_LEN..end);
            (IpRepr::V6(repr), payload.ok_or(Error::Truncated)?)
        }
        _ => return Err(Error::BadVersion),
    };
    if segment.len() < TCP_MIN_HEADER_LEN {
        return Err(Error::Truncated);
    }
    let tcp_view = TcpPacket::new_unchecked(segment);
    // Deviation: Linux (tcp_v4_rcv) rejects a bad data offset before it checks the checksum.
    // Here the checksum comes first, once a fixed header is known to be present, so a segment
    // corrupted in transit is counted as a bad checksum rather than as whatever structural
    // error the corruption happens to produce.
    if checksum == Checksum::Computed && !tcp_view.verify_checksum(ip.src(), ip.dst()) {
        return Err(Error::BadChecksum);
    }
    match TcpRepr::parse_common(segment) {
        Some((tcp, payload)) => Ok(Segment { ip, tcp, payload }),
        None => with_any_options(ip, segment),
    }
}

/// The end of [`parse_packet_with`] for a TCP header whose options take another layout than
/// the common ones, or are malformed: out of line, so that its answer does not meet the
/// common one (`TcpRepr::parse_common`).
#[inline(never)]
fn with_any_options(ip: IpRepr, segment: &[u8]) -> Result<Segment<'_>> {
    let (tcp, payload) = TcpRepr::parse(segment)?;
    Ok(Segment { ip, tcp, payload })
}

/// Emits an IPv4 (ident 0, DF set) or IPv6 header followed by the TCP segment; returns the total length.
pub fn emit_packet(
    buf: &mut [u8],
    src: IpAddr,
    dst: IpAddr,
    hop_limit: u8,
    tcp: &TcpRepr,
    payload: &[&[u8]],
) -> Result<usize> {
    emit_packet_with(buf, src, dst, hop_limit, tcp, payload, Checksum::Computed)
}

/// [`emit_packet`], with the TCP checksum computed here or left to the device
/// ([`Checksum::Offloaded`]).
pub fn emit_packet_with(
    buf: &mut [u8],
    src: IpAddr,
    dst: IpAddr,
    hop_limit: u8,
    tcp: &TcpRepr,
    payload: &[&[u8]],
    checksum: Checksum,
) -> Result<usize> {
    let (header, rest) = split_ip_header(buf, src, dst)?;
    let header_len = header.len();
    // The IP header needs the TCP length, so the segment is written first.
    let tcp_len = tcp.emit_with(rest, src, dst, payload, checksum)?;
    emit_ip_header(header, src, dst, hop_limit, tcp_len)?;
    Ok(header_len + tcp_len)
}

/// The IP and TCP headers alone of the datagram [`emit_packet_with`] would write with
/// [`Checksum::Offloaded`], for a caller that sends `payload_len` bytes of payload after them
/// from elsewhere (a gathered write); returns the headers' length.
pub fn emit_headers_offloaded(
    buf: &mut [u8],
    src: IpAddr,
    dst: IpAddr,
    hop_limit: u8,
    tcp: &TcpRepr,
    payload_len: usize,
) -> Result<usize> {
    let (header, rest) = split_ip_header(buf, src, dst)?;
    let header_len = header.len();
    let tcp_header_len = tcp.emit_header_offloaded(rest, src, dst, payload_len)?;
    let tcp_len = tcp_header_len
        .checked_add(payload_len)
        .ok_or(Error::BufferTooSmall)?;
    emit_ip_header(header, src, dst, hop_limit, tcp_len)?;
    Ok(header_len + tcp_header_len)
}

/// `buf` cut into room for the IP header of the family of `src` and `dst`, and the rest.
fn split_ip_header(buf: &mut [u8], src: IpAddr, dst: IpAddr) -> Result<(&mut [u8], &mut [u8])> {
    let header_len = match (src, dst) {
        (IpAddr::V4(_), IpAddr::V4(_)) => Ipv4Repr::HEADER_LEN,
        (IpAddr::V6(_), IpAddr::V6(_)) => Ipv6Repr::HEADER_LEN,
        _ => return Err(Error::AddressFamilyMismatch),
    };
    if buf.len() < header_len {
        return Err(Error::BufferTooSmall);
    }
    Ok(buf.split_at_mut(header_len))
}

/// Write the IPv4 or IPv6 header of a datagram carrying `tcp_len` bytes of TCP segment.
fn emit_ip_header(
    header: &mut [u8],
    src: IpAddr,
    dst: IpAddr,
    hop_limit: u8,
    tcp_len: usize,
) -> Result<()> {
    match (src, dst) {
        (IpAddr::V4(src), IpAddr::V4(dst)) => Ipv4Repr {
            src,
            dst,
            protocol: IP_PROTO_TCP,
            ttl: hop_limit,
            ident: 0,
            dont_frag: true,
            payload_len: tcp_len,
        }
        .emit(header)?,
        (IpAddr::V6(src), IpAddr::V6(dst)) => Ipv6Repr {
            src,
            dst,
            next_header: IP_PROTO_TCP,
            hop_limit,
            payload_len: tcp_len,
        }
        .emit(header)?,
        _ => return Err(Error::AddressFamilyMismatch),
    }
    Ok(())
}
