//! Coalescing in software (generic receive offload): consecutive in-order segments of one
//! TCP flow, as a device without receive offloads hands them up one datagram each, merged
//! into one datagram before the stack sees them, as Linux's GRO does for such a device.
//!
//! The stack then parses, demultiplexes and handles a run of segments once, and acknowledges
//! it with one ACK (a segment larger than the MSS is acknowledged at once, RFC 5681 §4.2's
//! "at least every second full-sized segment"). What is done here per datagram is what a
//! merge must check:
//! - both checksums: each datagram's TCP checksum is verified while its payload is copied
//!   into the merge buffer (one pass), and its IPv4 header checksum; the merged datagram
//!   leaves with both checksums complete, worked out from the parts' sums;
//! - that it continues the held datagram: the same IP header but for the length and the
//!   IPv4 identification (so the same TOS and ECN field, TTL, DF, addresses), the same ports,
//!   acknowledgment number, window and option bytes (so the same timestamps), and the
//!   sequence number right after the held payload (RFC 9293 §3.4);
//! - that it is plain data: ACK, with PSH at most, and a payload. PSH ends a merge; so does a
//!   payload shorter than the first one's (the last of a run of full segments). Anything else
//!   (SYN, FIN, RST, URG, ECE, CWR, a pure ACK, IP options, IPv6 extension headers, a
//!   fragment, a bad checksum) is handed on as it came, after whatever was held, so the
//!   stack sees every datagram in the order it arrived and judges it itself.
//!
//! Nothing here allocates once the merge buffer exists, and no input makes it panic.

use core::net::IpAddr;

use crate::checksum;
use crate::field::{get_u16, get_u32};
use crate::ipv4::Ipv4Repr;
use crate::offload::{ip_fields, IpFields, TCP_MIN_HEADER};
use crate::packet::IP_PROTO_TCP;
use crate::tcp::TcpFlags;

/// The longest datagram a merge makes: the most an IPv4 total length can say (IPv6 merges are
/// held to the same).
pub const MAX_DATAGRAM: usize = 65535;

/// What [`Coalescer::push`] and [`Coalescer::flush`] hand on.
#[derive(Debug)]
pub enum Coalesced<'a> {
    /// One datagram of `segments` merged segments (or one that could have been), in
    /// `buf[..len]`, with both checksums complete and already verified: parse it with
    /// [`Checksum::Offloaded`](crate::Checksum::Offloaded). The receiver may keep `buf` and
    /// put another vector in its place; one shorter than [`MAX_DATAGRAM`] is lengthened.
    Merged {
        /// The merge buffer.
        buf: &'a mut Vec<u8>,
        /// The datagram's length.
        len: usize,
        /// How many datagrams it was made of.
        segments: usize,
    },
    /// A datagram handed on as it came, in the two parts it came in, unchecked: parse it as
    /// any other ([`Checksum::Computed`](crate::Checksum::Computed)).
    AsIs(&'a [u8], &'a [u8]),
}

/// Counts of what a [`Coalescer`] took and handed on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GroStats {
    /// Datagrams pushed.
    pub datagrams_in: u64,
    /// Merged datagrams handed on.
    pub merged_out: u64,
    /// Datagrams handed on as they came.
    pub passed: u64,
}

/// Merges consecutive segments of one flow (module documentation). Push each datagram that
/// arrives, in order, and flush at the end of each batch (as a driver does at the end of a
/// poll); a merge also ends by itself when it cannot grow.
#[derive(Debug)]
pub struct Coalescer {
    buf: Vec<u8>,
    held: Option<Held>,
    stats: GroStats,
}

/// The datagram being merged in `buf`.
#[derive(Clone, Copy, Debug)]
struct Held {
    frame: Frame,
    /// Bytes of `buf` in use: the headers and the payload so far.
    len: usize,
    /// Payload length of its first segment: no later one may be longer.
    size: usize,
    next_seq: u32,
    segments: usize,
    /// Sum of the payload so far, as one run of bytes (each part's sum at its offset).
    payload_sum: u32,
    psh: bool,
}

/// What a datagram's headers say, once it is known to be one a merge could take.
#[derive(Clone, Copy, Debug)]
struct Frame {
    ip_len: usize,
    /// IP and TCP headers.
    hdr_len: usize,
    src: IpAddr,
    dst: IpAddr,
    seq: u32,
    flags: TcpFlags,
}

impl Default for Coalescer {
    fn default() -> Self {
        Self::new()
    }
}

impl Coalescer {
    /// A coalescer with its merge buffer ([`MAX_DATAGRAM`] bytes).
    pub fn new() -> Self {
        Coalescer {
            buf: vec![0; MAX_DATAGRAM],
            held: None,
            stats: GroStats::default(),
        }
    }

    /// What it has taken and handed on so far.
    pub fn stats(&self) -> GroStats {
        self.stats
    }

    /// Take the datagram `headers` followed by `payload` (a datagram in one piece is
    /// `headers` with an empty `payload`). Whatever it ends or cannot join is handed to `out`
    /// first, so datagrams reach `out` in the order they came.
    pub fn push(&mut self, headers: &[u8], payload: &[u8], out: &mut impl FnMut(Coalesced<'_>)) {
        self.stats.datagrams_in += 1;
        let Some((frame, body)) = inspect(headers, payload) else {
            self.pass(headers, payload, out);
            return;
        };
        if let Some(held) = self.held {
            if self.continues(&held, &frame, headers, body.len()) {
                self.append(held, frame, headers, body, payload, out);
                return;
            }
            self.flush(out);
        }
        self.start(frame, headers, body, payload, out);
    }

    /// Hand on the datagram being merged, if any.
    pub fn flush(&mut self, out: &mut impl FnMut(Coalesced<'_>)) {
        let Some(held) = self.held.take() else {
            return;
        };
        if held.segments > 1 {
            finish(&mut self.buf[..held.len], &held);
        }
        self.stats.merged_out += 1;
        out(Coalesced::Merged {
            buf: &mut self.buf,
            len: held.len,
            segments: held.segments,
        });
    }

    /// Hand on what was held, then `headers` and `payload` as they came.
    fn pass(&mut self, headers: &[u8], payload: &[u8], out: &mut impl FnMut(Coalesced<'_>)) {
        self.flush(out);
        self.stats.passed += 1;
        out(Coalesced::AsIs(headers, payload));
    }

    /// Whether a datagram with `frame` and `headers` and a payload of `len` bytes continues
    /// `held`.
    fn continues(&self, held: &Held, frame: &Frame, headers: &[u8], len: usize) -> bool {
        if frame.hdr_len != held.frame.hdr_len || frame.ip_len != held.frame.ip_len {
            return false;
        }
        // Both are at least `hdr_len` long. Compared a word at a time: a slice comparison
        // per field is a call to `memcmp` each.
        let (h, mine) = (&self.buf[..frame.hdr_len], &headers[..frame.hdr_len]);
        let u16_at = |at: usize| get_u16(h, at) == get_u16(mine, at);
        let u32_at = |at: usize| get_u32(h, at) == get_u32(mine, at);
        let t = frame.ip_len;
        let ip_same = if t == Ipv4Repr::HEADER_LEN {
            // All but the total length, identification and header checksum.
            u16_at(0) && u32_at(6) && u32_at(12) && u32_at(16)
        } else {
            // All but the payload length.
            u32_at(0) && h[6..t] == mine[6..t]
        };
        // Ports; acknowledgment number; data offset; window; urgent pointer; options (the
        // TCP header is whole words).
        let mut options = true;
        let mut at = t + 20;
        while at < frame.hdr_len {
            options &= u32_at(at);
            at += 4;
        }
        let tcp_same = u32_at(t)
            && u32_at(t + 8)
            && h[t + 12] == mine[t + 12]
            && u16_at(t + 14)
            && u16_at(t + 18)
            && options;
        ip_same
            && tcp_same
            && frame.seq == held.next_seq
            && len <= held.size
            && held.len + len <= MAX_DATAGRAM
    }

    /// Start a merge with this datagram, or hand it on as it came if its checksum is bad.
    fn start(
        &mut self,
        frame: Frame,
        headers: &[u8],
        body: &[u8],
        payload: &[u8],
        out: &mut impl FnMut(Coalesced<'_>),
    ) {
        if self.buf.len() < MAX_DATAGRAM {
            self.buf.resize(MAX_DATAGRAM, 0);
        }
        let hdr = frame.hdr_len;
        let end = hdr + body.len();
        let Some(dst) = self.buf.get_mut(..end) else {
            self.pass(headers, payload, out);
            return;
        };
        dst[..hdr].copy_from_slice(&headers[..hdr]);
        let sum = checksum::copy_and_sum(&mut dst[hdr..], body);
        if !verified(&frame, &headers[frame.ip_len..hdr], body.len(), sum) {
            self.pass(headers, payload, out);
            return;
        }
        let held = Held {
            frame,
            len: end,
            size: body.len(),
            next_seq: frame.seq.wrapping_add(body.len() as u32),
            segments: 1,
            payload_sum: sum,
            psh: frame.flags.contains(TcpFlags::PSH),
        };
        self.held = Some(held);
        if held.psh {
            self.flush(out);
        }
    }

    /// Add this datagram's payload to the held one's, or hand on both if its checksum is bad.
    fn append(
        &mut self,
        mut held: Held,
        frame: Frame,
        headers: &[u8],
        body: &[u8],
        payload: &[u8],
        out: &mut impl FnMut(Coalesced<'_>),
    ) {
        let end = held.len + body.len();
        let Some(dst) = self.buf.get_mut(held.len..end) else {
            self.pass(headers, payload, out);
            return;
        };
        let sum = checksum::copy_and_sum(dst, body);
        if !verified(
            &frame,
            &headers[frame.ip_len..frame.hdr_len],
            body.len(),
            sum,
        ) {
            self.pass(headers, payload, out);
            return;
        }
        let offset = held.len - held.frame.hdr_len;
        held.payload_sum = checksum::combine(held.payload_sum, checksum::at_offset(sum, offset));
        held.len = end;
        held.next_seq = held.next_seq.wrapping_add(body.len() as u32);
        held.segments += 1;
        held.psh = frame.flags.contains(TcpFlags::PSH);
        let ends = held.psh || body.len() < held.size;
        self.held = Some(held);
        if ends {
            self.flush(out);
        }
    }
}

/// The frame and payload of a datagram a merge could take: IPv4 without options or
/// fragmenting, or IPv6 without extension headers, lengths that agree with what arrived, a
/// good IPv4 header checksum, and a TCP segment with ACK (and PSH at most) and a payload.
/// `None` for anything else. The TCP header must lie wholly in `headers`, and the payload in
/// `payload` or, if that is empty, in the rest of `headers`.
fn inspect<'p>(headers: &'p [u8], payload: &'p [u8]) -> Option<(Frame, &'p [u8])> {
    let total = headers.len() + payload.len();
    let IpFields {
        ip_len,
        protocol,
        src,
        dst,
        ..
    } = ip_fields(headers).ok()?;
    // The lengths must say what arrived; IPv4 without options, its header checksum good.
    let fits = match src {
        IpAddr::V4(_) => {
            let ip = &headers[..ip_len];
            ip_len == Ipv4Repr::HEADER_LEN
                && usize::from(get_u16(ip, 2)) == total
                && checksum::fold(checksum::sum(ip)) == 0
        }
        IpAddr::V6(_) => usize::from(get_u16(headers, 4)) + ip_len == total,
    };
    if !fits || protocol != IP_PROTO_TCP {
        return None;
    }
    let tcp = headers.get(ip_len..)?;
    let tcp_len = usize::from(tcp.get(12)? >> 4) * 4;
    if tcp_len < TCP_MIN_HEADER || tcp.len() < tcp_len {
        return None;
    }
    let flags = TcpFlags::from_bits(tcp[13]);
    let data = TcpFlags::ACK.bits();
    if flags.bits() != data && flags.bits() != data | TcpFlags::PSH.bits() {
        return None;
    }
    let hdr_len = ip_len + tcp_len;
    let body = match (headers.len() == hdr_len, payload.is_empty()) {
        (true, _) => payload,
        (false, true) => &headers[hdr_len..],
        // Payload bytes in both parts: not a shape any device hands up.
        (false, false) => return None,
    };
    if body.is_empty() {
        return None;
    }
    let frame = Frame {
        ip_len,
        hdr_len,
        src,
        dst,
        seq: get_u32(tcp, 4),
        flags,
    };
    Some((frame, body))
}

/// Whether the TCP checksum of a segment with header `tcp` and a payload of `len` bytes
/// summing to `payload_sum` is good (RFC 9293 §3.1).
fn verified(frame: &Frame, tcp: &[u8], len: usize, payload_sum: u32) -> bool {
    let length = (tcp.len() + len) as u32;
    let pseudo = checksum::pseudo_header(frame.src, frame.dst, IP_PROTO_TCP, length);
    let header = checksum::combine(pseudo, checksum::sum(tcp));
    checksum::fold(checksum::combine(header, payload_sum)) == 0
}

/// Make `datagram`, the held one's headers and its merged payload, a datagram in its own
/// right: its length, PSH if its last segment had it, and both checksums.
fn finish(datagram: &mut [u8], held: &Held) {
    let Frame {
        ip_len,
        hdr_len,
        src,
        dst,
        ..
    } = held.frame;
    let len = datagram.len();
    if ip_len == Ipv4Repr::HEADER_LEN {
        datagram[2..4].copy_from_slice(&(len as u16).to_be_bytes());
        datagram[10..12].fill(0);
        let sum = checksum::fold(checksum::sum(&datagram[..ip_len]));
        datagram[10..12].copy_from_slice(&sum.to_be_bytes());
    } else {
        datagram[4..6].copy_from_slice(&((len - ip_len) as u16).to_be_bytes());
    }
    let tcp = &mut datagram[ip_len..hdr_len];
    if held.psh {
        tcp[13] |= TcpFlags::PSH.bits();
    }
    tcp[16..18].fill(0);
    let pseudo = checksum::pseudo_header(src, dst, IP_PROTO_TCP, (len - ip_len) as u32);
    // The payload starts a whole number of words into the segment, so its sum adds as it is.
    let sum = checksum::combine(
        checksum::combine(pseudo, checksum::sum(tcp)),
        held.payload_sum,
    );
    tcp[16..18].copy_from_slice(&checksum::fold(sum).to_be_bytes());
}
