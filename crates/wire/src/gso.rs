//! Segmentation in software (generic segmentation offload): a TCP super-segment, written for
//! a device that cuts it into segments (TSO), cut here instead into datagrams of one segment
//! each, for a device that cannot.
//!
//! The stack then decides, builds headers and does its bookkeeping once for a run of full
//! segments, and what is done per segment on the wire is only what differs: each datagram
//! gets the headers with its own sequence number, IP length (and IPv4 identification and
//! header checksum), its slice of the payload and its own TCP checksum. This is what a TSO
//! device does in hardware and Linux's GSO in software:
//! - the sequence number advances by the payload before it (RFC 9293 §3.4);
//! - FIN and PSH go on the last segment only, CWR on the first only (RFC 3168 §6.1.1: a
//!   sender that segments in hardware sets CWR on the first segment alone);
//! - IPv4 identifications count up from the super-segment's, one per segment, as Linux's
//!   TSO does for datagrams with DF set.

use core::net::IpAddr;
use core::ops::Range;

use crate::checksum;
use crate::field::get_u32;
use crate::offload::{ip_fields, IpFields, TCP_MIN_HEADER};
use crate::packet::IP_PROTO_TCP;
use crate::tcp::TcpFlags;
use crate::{Error, Result};

/// Where the super-segment's headers end, its addresses, and the fields each segment starts
/// from.
struct Layout {
    ip_len: usize,
    src: IpAddr,
    dst: IpAddr,
    /// IPv4 identification (0 for IPv6).
    ident: u16,
    seq: u32,
    flags: TcpFlags,
}

// The headers are read and written here with the byte helpers, not through the `*Packet`
// views, whose accessors are on the parser's path: with this module as their second caller,
// receiving a segment took 6 instructions more (callgrind, `oxtcp-bench insns`).

/// Check that `headers` is exactly an IPv4 or IPv6 header (no IPv6 extension headers)
/// followed by a whole TCP header.
fn layout(headers: &[u8]) -> Result<Layout> {
    let IpFields {
        ip_len,
        protocol,
        src,
        dst,
        ident,
    } = ip_fields(headers)?;
    if protocol != IP_PROTO_TCP {
        return Err(Error::NotTcp);
    }
    let tcp = &headers[ip_len..];
    let offset = tcp.get(12).ok_or(Error::Truncated)?;
    let tcp_len = usize::from(offset >> 4) * 4;
    if tcp_len < TCP_MIN_HEADER || tcp_len != tcp.len() {
        return Err(Error::BadHeaderLen);
    }
    Ok(Layout {
        ip_len,
        src,
        dst,
        ident,
        seq: get_u32(tcp, 4),
        flags: TcpFlags::from_bits(tcp[13]),
    })
}

/// Cut the super-segment with headers `headers` (IP header and TCP header, options
/// included) and payload `payload` (in parts, as a gathered write has it) into datagrams of
/// at most `size` payload bytes. Each is written into `buf`, which must hold the headers and
/// `size` bytes, and handed to `emit` while it is there. Returns how many datagrams were
/// emitted; none if an error is returned.
///
/// The checksum fields are ignored on the way in (a super-segment usually carries only its
/// pseudo-header's sum) and every datagram leaves with both checksums complete. A segment
/// with SYN, RST or URG set is refused if it would need cutting: what those mean belongs to
/// one segment.
pub fn segment(
    headers: &[u8],
    payload: &[&[u8]],
    size: usize,
    buf: &mut [u8],
    mut emit: impl FnMut(&[u8]),
) -> Result<usize> {
    cut(
        headers,
        payload,
        size,
        buf,
        Payload::Copied,
        |datagram, _| emit(datagram),
    )
}

/// [`segment`] for a receiver that takes a datagram in two parts
/// ([`parse_packet_gathered`](crate::parse_packet_gathered)): each datagram's headers are
/// written into `buf` and handed to `emit` with its payload where it lies in `payload`, so
/// no payload byte is copied, as Linux's GSO hands each segment the pages of the
/// super-segment. A datagram whose payload spans two of the parts has it gathered into `buf`
/// after its headers, and is handed over in the same two parts.
pub fn segment_gathered(
    headers: &[u8],
    payload: &[&[u8]],
    size: usize,
    buf: &mut [u8],
    emit: impl FnMut(&[u8], &[u8]),
) -> Result<usize> {
    cut(headers, payload, size, buf, Payload::Borrowed, emit)
}

/// Where each datagram's payload goes: copied after its headers in the caller's buffer, or
/// handed over where it lies.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Payload {
    /// `emit` gets the whole datagram, and an empty second part.
    Copied,
    /// `emit` gets the headers and the payload.
    Borrowed,
}

/// The cutting behind [`segment`] and [`segment_gathered`].
fn cut(
    headers: &[u8],
    payload: &[&[u8]],
    size: usize,
    buf: &mut [u8],
    mode: Payload,
    mut emit: impl FnMut(&[u8], &[u8]),
) -> Result<usize> {
    let Layout {
        ip_len,
        src,
        dst,
        ident,
        seq,
        flags,
    } = layout(headers)?;
    let total: usize = payload.iter().map(|p| p.len()).sum();
    let size = if total == 0 { 0 } else { size.min(total) };
    if size == 0 && total > 0 {
        return Err(Error::BufferTooSmall);
    }
    let hdr = headers.len();
    // An IPv4 total length counts the IP header, an IPv6 payload length does not.
    let max_datagram = if src.is_ipv4() { 65535 } else { 65535 + ip_len };
    if hdr + size > max_datagram {
        return Err(Error::BadTotalLen);
    }
    if buf.len() < hdr + size {
        return Err(Error::BufferTooSmall);
    }
    let count = if total == 0 { 1 } else { total.div_ceil(size) };
    // A SYN's or RST's meaning, and an urgent pointer, belong to one segment.
    let single = TcpFlags::SYN.union(TcpFlags::RST).union(TcpFlags::URG);
    if count > 1 && flags.bits() & single.bits() != 0 {
        return Err(Error::NotSegmentable);
    }
    // Both checksums are worked out from the super-segment's headers and the payload where
    // it lies, not read back from the datagram just written: a wide load over bytes just
    // stored in narrower pieces waits for them to reach the cache.
    // IPv4: total length, identification, checksum. TCP: sequence number, flags (the data
    // offset beside them stays), checksum.
    let ip_base = src
        .is_ipv4()
        .then(|| sum_except(&headers[..ip_len], &[2..6, 10..12]));
    let tcp_base = sum_except(&headers[ip_len..], &[4..8, 13..14, 16..18]);
    let mut parts = payload.iter().copied().filter(|p| !p.is_empty());
    let mut part: &[u8] = parts.next().unwrap_or(&[]);
    for i in 0..count {
        let offset = i * size;
        let len = size.min(total - offset);
        let (head, body) = buf.split_at_mut(hdr);
        head.copy_from_slice(headers);
        if part.is_empty() && len > 0 {
            part = parts.next().ok_or(Error::Truncated)?;
        }
        // Borrowed where it lies if one part holds it whole; otherwise gathered from the
        // parts into `body`, each piece summed as it is copied; a piece that starts at an odd
        // offset of the payload sums byte-swapped (RFC 1071 §2 (B)).
        let (lent, payload_sum) = if mode == Payload::Borrowed && part.len() >= len {
            let (piece, rest) = part.split_at(len);
            part = rest;
            (Some(piece), checksum::sum(piece))
        } else {
            let mut filled = 0;
            let mut payload_sum = 0u32;
            while filled < len {
                if part.is_empty() {
                    part = parts.next().ok_or(Error::Truncated)?;
                }
                let n = part.len().min(len - filled);
                let (piece, rest) = part.split_at(n);
                let sum = checksum::copy_and_sum(&mut body[filled..filled + n], piece);
                let sum = checksum::at_offset(sum, filled);
                payload_sum = checksum::combine(payload_sum, sum);
                part = rest;
                filled += n;
            }
            (None, payload_sum)
        };
        let last = i + 1 == count;
        let datagram = &mut buf[..hdr + len];
        let tcp_len = hdr - ip_len + len;
        match ip_base {
            Some(base) => {
                let total_len = (ip_len + tcp_len) as u16;
                let ident = ident.wrapping_add(i as u16);
                let sum = base + u32::from(total_len) + u32::from(ident);
                datagram[2..4].copy_from_slice(&total_len.to_be_bytes());
                datagram[4..6].copy_from_slice(&ident.to_be_bytes());
                datagram[10..12].copy_from_slice(&checksum::fold(sum).to_be_bytes());
            }
            // The fixed header's payload length: `hdr + size` was checked to fit.
            None => datagram[4..6].copy_from_slice(&(tcp_len as u16).to_be_bytes()),
        }
        let seq = seq.wrapping_add(offset as u32);
        let mut f = flags;
        if !last {
            f.remove(TcpFlags::FIN);
            f.remove(TcpFlags::PSH);
        }
        if i > 0 {
            f.remove(TcpFlags::CWR);
        }
        let header_sum = tcp_base + (seq >> 16) + (seq & 0xffff) + u32::from(f.bits());
        let pseudo = checksum::pseudo_header(src, dst, IP_PROTO_TCP, tcp_len as u32);
        let sum = checksum::combine(checksum::combine(pseudo, header_sum), payload_sum);
        let tcp = &mut datagram[ip_len..];
        tcp[4..8].copy_from_slice(&seq.to_be_bytes());
        tcp[13] = f.bits();
        tcp[16..18].copy_from_slice(&checksum::fold(sum).to_be_bytes());
        match (mode, lent) {
            (Payload::Copied, _) => emit(datagram, &[]),
            (Payload::Borrowed, Some(piece)) => emit(&datagram[..hdr], piece),
            (Payload::Borrowed, None) => {
                let (head, body) = datagram.split_at(hdr);
                emit(head, body);
            }
        }
    }
    Ok(count)
}

/// The sum of a header's words but those in `vary` (byte ranges), which differ from
/// segment to segment. Headers are at most 60 bytes.
fn sum_except(header: &[u8], vary: &[Range<usize>]) -> u32 {
    let mut copy = [0u8; 60];
    let copy = &mut copy[..header.len().min(60)];
    copy.copy_from_slice(&header[..copy.len()]);
    for r in vary {
        copy[r.clone()].fill(0);
    }
    checksum::sum(copy)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipv4::Ipv4Packet;
    use crate::packet::{emit_packet, emit_packet_with, parse_packet};
    use crate::tcp::{TcpOptions, TcpRepr, Timestamps};
    use crate::Checksum;
    use core::net::{Ipv4Addr, Ipv6Addr};

    const V4: (IpAddr, IpAddr) = (
        IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
        IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)),
    );
    const V6: (IpAddr, IpAddr) = (
        IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1)),
        IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 2)),
    );

    fn repr(seq: u32, flags: TcpFlags) -> TcpRepr {
        TcpRepr {
            src_port: 80,
            dst_port: 40000,
            seq,
            ack: 77,
            flags,
            window: 512,
            urgent: 0,
            options: TcpOptions {
                timestamps: Some(Timestamps { tsval: 5, tsecr: 6 }),
                ..TcpOptions::default()
            },
        }
    }

    fn payload(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
    }

    /// The super-segment as the stack writes it for a device that cuts: checksum offloaded.
    fn super_segment((src, dst): (IpAddr, IpAddr), tcp: &TcpRepr, data: &[u8]) -> Vec<u8> {
        let mut buf = vec![0u8; 70_000];
        let n =
            emit_packet_with(&mut buf, src, dst, 64, tcp, &[data], Checksum::Offloaded).unwrap();
        buf.truncate(n);
        buf
    }

    /// Cut `datagram` (headers, then `data_len` bytes of payload, given in `parts`) at `size`.
    fn cut(datagram: &[u8], data_len: usize, parts: &[&[u8]], size: usize) -> Vec<Vec<u8>> {
        let headers = &datagram[..datagram.len() - data_len];
        let mut buf = vec![0u8; headers.len() + size];
        let mut out = Vec::new();
        let n = segment(headers, parts, size, &mut buf, |d| out.push(d.to_vec())).unwrap();
        assert_eq!(n, out.len());
        out
    }

    #[test]
    fn a_super_segment_becomes_segments_that_each_check_out() {
        // The sequence numbers wrap inside the run, and the last segment is short.
        let data = payload(5000);
        let seq = 0xffff_f000;
        for addrs in [V4, V6] {
            let tcp = repr(seq, TcpFlags::ACK | TcpFlags::PSH | TcpFlags::FIN);
            let mut datagram = super_segment(addrs, &tcp, &data);
            if addrs.0.is_ipv4() {
                let mut ip = Ipv4Packet::new_unchecked(&mut datagram[..]);
                ip.set_ident(0xfffe);
                ip.fill_checksum();
            }
            let pieces = cut(&datagram, data.len(), &[&data], 1448);
            assert_eq!(pieces.len(), 4);
            let mut joined = Vec::new();
            for (i, d) in pieces.iter().enumerate() {
                // Both checksums verify, and every length field agrees with the datagram.
                let s = parse_packet(d).unwrap();
                assert_eq!(s.tcp.seq, seq.wrapping_add(1448 * i as u32));
                assert_eq!((s.tcp.ack, s.tcp.window), (77, 512));
                assert_eq!(s.tcp.options.timestamps, tcp.options.timestamps);
                let last = i == 3;
                assert_eq!(s.tcp.flags.contains(TcpFlags::FIN), last, "FIN on {i}");
                assert_eq!(s.tcp.flags.contains(TcpFlags::PSH), last, "PSH on {i}");
                assert!(s.tcp.flags.contains(TcpFlags::ACK));
                assert_eq!(s.payload.len(), if last { 5000 - 3 * 1448 } else { 1448 });
                if addrs.0.is_ipv4() {
                    let ip = Ipv4Packet::new_unchecked(&d[..]);
                    assert_eq!(ip.ident(), 0xfffeu16.wrapping_add(i as u16));
                    assert_eq!(ip.total_len(), d.len());
                }
                joined.extend_from_slice(s.payload);
            }
            assert_eq!(joined, data);
        }
    }

    #[test]
    fn payload_in_parts_is_cut_as_if_whole() {
        let data = payload(4000);
        let datagram = super_segment(V4, &repr(1, TcpFlags::ACK), &data);
        let whole = cut(&datagram, data.len(), &[&data], 1000);
        // Parts that end inside a segment, on its edge, and an empty one.
        let (a, rest) = data.split_at(700);
        let (b, c) = rest.split_at(1300);
        let parts = cut(&datagram, data.len(), &[a, &[], b, c], 1000);
        assert_eq!(parts, whole);
        assert_eq!(whole.len(), 4);
        // Parts that end at odd offsets inside a segment: their sums swap bytes.
        let (a, rest) = data.split_at(701);
        let (b, rest) = rest.split_at(3);
        let (c, d) = rest.split_at(1295);
        assert_eq!(cut(&datagram, data.len(), &[a, b, c, d], 1000), whole);
        for d in &whole {
            parse_packet(d).unwrap();
        }
    }

    /// [`cut`] through `segment_gathered`: each datagram's headers and payload, as handed over.
    fn cut_gathered(
        datagram: &[u8],
        data_len: usize,
        parts: &[&[u8]],
        size: usize,
    ) -> Vec<(Vec<u8>, Vec<u8>)> {
        let headers = &datagram[..datagram.len() - data_len];
        let mut buf = vec![0u8; headers.len() + size];
        let mut out = Vec::new();
        let n = segment_gathered(headers, parts, size, &mut buf, |h, p| {
            out.push((h.to_vec(), p.to_vec()))
        })
        .unwrap();
        assert_eq!(n, out.len());
        out
    }

    #[test]
    fn gathered_cutting_hands_over_the_same_datagrams_in_two_parts() {
        let data = payload(5000);
        for addrs in [V4, V6] {
            let tcp = repr(0xffff_f000, TcpFlags::ACK | TcpFlags::PSH | TcpFlags::FIN);
            let datagram = super_segment(addrs, &tcp, &data);
            let hdr = datagram.len() - data.len();
            let whole = cut(&datagram, data.len(), &[&data], 1448);
            // In one part; in parts that end inside segments, at odd offsets among them, so
            // that some payloads are borrowed and some gathered; and with an empty part.
            let (a, rest) = data.split_at(1448);
            let (b, rest) = rest.split_at(1001);
            let (c, d) = rest.split_at(2);
            for parts in [vec![&data[..]], vec![a, b, &[], c, d]] {
                let gathered = cut_gathered(&datagram, data.len(), &parts, 1448);
                assert_eq!(gathered.len(), whole.len());
                for ((h, p), w) in gathered.iter().zip(&whole) {
                    assert_eq!(h.len(), hdr, "the headers part is the headers alone");
                    assert_eq!([&h[..], &p[..]].concat(), *w);
                    let s = crate::parse_packet_gathered(h, p, Checksum::Computed).unwrap();
                    assert_eq!(s, parse_packet(w).unwrap());
                }
            }
        }
    }

    #[test]
    fn gathered_cutting_lends_the_payload_where_it_lies() {
        let data = payload(3000);
        let datagram = super_segment(V4, &repr(1, TcpFlags::ACK), &data);
        let headers = &datagram[..datagram.len() - data.len()];
        let mut buf = vec![0u8; headers.len() + 1000];
        let mut lent = Vec::new();
        segment_gathered(headers, &[&data], 1000, &mut buf, |_, p| {
            lent.push(p.as_ptr() as usize - data.as_ptr() as usize)
        })
        .unwrap();
        assert_eq!(
            lent,
            [0, 1000, 2000],
            "each payload is a slice of the sender's bytes"
        );
    }

    #[test]
    fn cwr_goes_on_the_first_segment_only() {
        let data = payload(3000);
        let datagram = super_segment(V4, &repr(1, TcpFlags::ACK | TcpFlags::CWR), &data);
        let pieces = cut(&datagram, data.len(), &[&data], 1448);
        let cwr: Vec<bool> = pieces
            .iter()
            .map(|d| parse_packet(d).unwrap().tcp.flags.contains(TcpFlags::CWR))
            .collect();
        assert_eq!(cwr, [true, false, false]);
    }

    #[test]
    fn a_segment_that_fits_leaves_as_the_stack_would_have_written_it() {
        let data = payload(900);
        let tcp = repr(42, TcpFlags::ACK | TcpFlags::PSH);
        let datagram = super_segment(V6, &tcp, &data);
        let pieces = cut(&datagram, data.len(), &[&data], 1448);
        let mut plain = vec![0u8; 2000];
        let n = emit_packet(&mut plain, V6.0, V6.1, 64, &tcp, &[&data]).unwrap();
        assert_eq!(pieces, [plain[..n].to_vec()]);
    }

    #[test]
    fn bad_input_is_refused_without_emitting() {
        let data = payload(3000);
        let datagram = super_segment(V4, &repr(1, TcpFlags::ACK), &data);
        let headers = &datagram[..datagram.len() - data.len()];
        let mut buf = vec![0u8; 2000];
        let mut emitted = 0;
        let mut run = |h: &[u8], parts: &[&[u8]], size: usize, buf: &mut [u8]| {
            segment(h, parts, size, buf, |_| emitted += 1)
        };
        // A buffer without room for the headers and one segment.
        assert_eq!(
            run(headers, &[&data], 1448, &mut buf[..1448]),
            Err(Error::BufferTooSmall)
        );
        // Headers that run on past the TCP header, or stop inside it.
        let mut longer = headers.to_vec();
        longer.extend_from_slice(&[0; 4]);
        assert_eq!(
            run(&longer, &[&data], 1448, &mut buf),
            Err(Error::BadHeaderLen)
        );
        assert_eq!(
            run(&headers[..30], &[&data], 1448, &mut buf),
            Err(Error::Truncated)
        );
        // No segment size for a payload.
        assert_eq!(
            run(headers, &[&data], 0, &mut buf),
            Err(Error::BufferTooSmall)
        );
        // Not TCP, and not IP.
        let mut udp = headers.to_vec();
        udp[9] = 17;
        assert_eq!(run(&udp, &[&data], 1448, &mut buf), Err(Error::NotTcp));
        assert_eq!(
            run(&[0x50; 40], &[&data], 1448, &mut buf),
            Err(Error::BadVersion)
        );
        assert_eq!(run(&[], &[&data], 1448, &mut buf), Err(Error::Truncated));
        // SYN, RST and URG segments are not cut.
        for flag in [TcpFlags::SYN, TcpFlags::RST, TcpFlags::URG] {
            let d = super_segment(V4, &repr(1, TcpFlags::ACK | flag), &data);
            let h = &d[..d.len() - data.len()];
            assert_eq!(run(h, &[&data], 1448, &mut buf), Err(Error::NotSegmentable));
        }
        // Unless they fit in one.
        let d = super_segment(V4, &repr(1, TcpFlags::SYN), &data[..100]);
        assert_eq!(
            run(&d[..d.len() - 100], &[&data[..100]], 1448, &mut buf),
            Ok(1)
        );
        assert_eq!(emitted, 1);
    }
}
