//! Datagrams that arrive in two parts, headers and payload, from a device that gathers.
//!
//! Its own module, apart from the one-piece parser in `packet`, so that the helpers both
//! inline (the TCP header and options parsers) keep their single caller in that module's
//! code: given a second caller there, the compiler stopped inlining them, and receiving a
//! segment took some 40 instructions more (callgrind).

use crate::checksum::{self, Checksum};
use crate::packet::{parse_packet_with, IpRepr, Segment, IP_PROTO_TCP};
use crate::tcp::{TcpRepr, TCP_MIN_HEADER_LEN};
use crate::{Error, Ipv4Repr, Ipv6Repr, Result};

/// [`parse_packet_with`] for a datagram that arrives in two parts, as from a device that
/// gathers (scatter-gather receive, or a link that hands a datagram over where its bytes
/// lie): `headers`, its IP header and TCP header with options and nothing after them, and
/// `payload`, the TCP payload. Every check of [`parse_packet_with`] applies, in the same
/// order, to the datagram the two make together; the lengths in the headers may leave the
/// end of `payload` out (as padding after a datagram), and `headers` holding more than the
/// headers is `BadHeaderLen`. The payload is borrowed where it lies, not copied. With an
/// empty `payload`, `headers` is a whole datagram, as for [`parse_packet_with`].
pub fn parse_packet_gathered<'a>(
    headers: &'a [u8],
    payload: &'a [u8],
    checksum: Checksum,
) -> Result<Segment<'a>> {
    if payload.is_empty() {
        return parse_packet_with(headers, checksum);
    }
    let first = *headers.first().ok_or(Error::Truncated)?;
    let datagram_len = headers
        .len()
        .checked_add(payload.len())
        .ok_or(Error::BadTotalLen)?;
    // The IP checks leave `ip_len <= headers.len()` and `ip_len + tcp_len <= datagram_len`.
    let (ip, ip_len, tcp_len) = match first >> 4 {
        4 => {
            let (repr, header_len, total_len) = Ipv4Repr::parse_header(headers, datagram_len)?;
            if repr.protocol != IP_PROTO_TCP {
                return Err(Error::NotTcp);
            }
            (IpRepr::V4(repr), header_len, total_len - header_len)
        }
        6 => {
            let repr = Ipv6Repr::parse_header(headers, datagram_len)?;
            if repr.next_header != IP_PROTO_TCP {
                return Err(Error::NotTcp);
            }
            (IpRepr::V6(repr), Ipv6Repr::HEADER_LEN, repr.payload_len)
        }
        _ => return Err(Error::BadVersion),
    };
    let head = &headers[ip_len..];
    // The lengths say the segment ends inside `headers`, which then holds more than the
    // headers.
    let body_len = tcp_len.checked_sub(head.len()).ok_or(Error::BadHeaderLen)?;
    let body = &payload[..body_len];
    if head.len() < TCP_MIN_HEADER_LEN {
        return Err(Error::Truncated);
    }
    // The checksum before the header's structure, as in `parse_packet_with` (its Deviation).
    if checksum == Checksum::Computed && !checksum_valid(&ip, tcp_len, head, body) {
        return Err(Error::BadChecksum);
    }
    // The headers part holds the TCP header whole and nothing after it.
    if usize::from(head[12] >> 4) * 4 != head.len() {
        return Err(Error::BadHeaderLen);
    }
    let Some((tcp, _)) = TcpRepr::parse_common(head) else {
        return with_any_options(ip, head, body);
    };
    Ok(Segment {
        ip,
        tcp,
        payload: body,
    })
}

/// The end of [`parse_packet_gathered`] for a TCP header whose options take another layout
/// than the common ones, or are malformed: out of line, so that its answer does not meet
/// the common one (`TcpRepr::parse_common`).
#[inline(never)]
fn with_any_options<'a>(ip: IpRepr, head: &'a [u8], body: &'a [u8]) -> Result<Segment<'a>> {
    let (tcp, _) = TcpRepr::parse(head)?;
    Ok(Segment {
        ip,
        tcp,
        payload: body,
    })
}

/// Whether the TCP checksum over the pseudo-header, the TCP header `head` and the payload
/// `body` (`tcp_len` bytes in all) comes out right.
fn checksum_valid(ip: &IpRepr, tcp_len: usize, head: &[u8], body: &[u8]) -> bool {
    // RFC 1071 §2 (B): bytes at odd offsets sum byte-swapped.
    let body_sum = checksum::at_offset(checksum::sum(body), head.len());
    // The IP checks bound `tcp_len` by a 16-bit length field.
    let pseudo = checksum::pseudo_header(ip.src(), ip.dst(), IP_PROTO_TCP, tcp_len as u32);
    let sum = checksum::combine(checksum::combine(pseudo, checksum::sum(head)), body_sum);
    checksum::fold(sum) == 0
}
