//! Receive coalescing in software (Linux's GRO, a NIC's LRO) for a device that hands up one
//! MTU-sized datagram per read, such as a TUN without the virtio-net header.
//!
//! Consecutive TCP segments of one flow, read one after the other, become one datagram whose
//! payload is theirs end to end, which the stack takes as one segment and acknowledges once.
//! The rules are GRO's (Linux `tcp_gro_receive`): the segments must follow each other in
//! sequence space, carry the same acknowledgment number, the same TCP options byte for byte,
//! only ACK (PSH allowed, and it ends the run), and IP headers that differ only in length,
//! identification and checksum; every segment but the last has the first one's payload size;
//! the run stops at 64 KiB. Each segment's checksum is verified before it joins, so the
//! coalesced datagram is handed up as vouched for (`Checksum::Offloaded`). A datagram that
//! cannot join is held and handed up first on the next call, so nothing is reordered or
//! lost; one that fails its checksum or is no TCP data at all goes up alone, as read, for the
//! stack to count and drop.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use oxtcp_wire::{checksum, TcpFlags, IP_PROTO_TCP as TCP};

/// The most a coalesced datagram holds (the IPv4 total-length and IPv6 payload-length limit).
const MAX_DATAGRAM: usize = 65_535;

/// TCP flag bits in the 14th header byte.
const FIN: u8 = TcpFlags::FIN.bits();
const SYN: u8 = TcpFlags::SYN.bits();
const RST: u8 = TcpFlags::RST.bits();
const PSH: u8 = TcpFlags::PSH.bits();
const ACK: u8 = TcpFlags::ACK.bits();
const URG: u8 = TcpFlags::URG.bits();

/// Where a datagram's TCP segment lies, for those that may be coalesced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Seg {
    /// IP header length (20 for IPv4, whose options rule a datagram out; 40 for IPv6).
    ip_len: usize,
    /// IP and TCP headers together: where the payload starts.
    hdr_len: usize,
    /// Payload bytes.
    payload: usize,
    seq: u32,
    flags: u8,
}

impl Seg {
    /// The datagram's segment if it is one GRO may coalesce: IPv4 without options or
    /// fragmentation and with its header checksum right, or IPv6 with TCP as its next
    /// header; a whole TCP header; payload; and no flag but ACK and PSH.
    fn of(d: &[u8]) -> Option<Seg> {
        let ip_len = match d.first()? >> 4 {
            4 => {
                let total = usize::from(u16::from_be_bytes([*d.get(2)?, *d.get(3)?]));
                // IHL 5, a protocol of TCP, the length as read, no fragment (DF alone).
                if d[0] != 0x45 || *d.get(9)? != TCP || total != d.len() || d[6] & 0xbf != 0 {
                    return None;
                }
                // And a sound header: a run rewrites it, which must not make a bad one good.
                if d[7] != 0 || checksum::fold(checksum::sum(d.get(..20)?)) != 0 {
                    return None;
                }
                20
            }
            6 => {
                let payload = usize::from(u16::from_be_bytes([*d.get(4)?, *d.get(5)?]));
                if *d.get(6)? != TCP || payload + 40 != d.len() {
                    return None;
                }
                40
            }
            _ => return None,
        };
        let tcp = d.get(ip_len..)?;
        let tcp_len = usize::from(*tcp.get(12)? >> 4) * 4;
        if tcp_len < 20 || tcp.len() <= tcp_len {
            return None;
        }
        let flags = tcp[13];
        if flags & (FIN | SYN | RST | URG) != 0 || flags & ACK == 0 || tcp[12] & 0x0f != 0 {
            return None;
        }
        Some(Seg {
            ip_len,
            hdr_len: ip_len + tcp_len,
            payload: d.len() - ip_len - tcp_len,
            seq: u32::from_be_bytes([tcp[4], tcp[5], tcp[6], tcp[7]]),
            flags,
        })
    }
}

/// The addresses of an IPv4 or IPv6 datagram whose header `Seg::of` accepted.
fn addresses(d: &[u8], ip_len: usize) -> (IpAddr, IpAddr) {
    if ip_len == 20 {
        let a = |at: usize| IpAddr::V4(Ipv4Addr::new(d[at], d[at + 1], d[at + 2], d[at + 3]));
        (a(12), a(16))
    } else {
        let a = |at: usize| {
            let b: [u8; 16] = d[at..at + 16].try_into().expect("a whole IPv6 header");
            IpAddr::V6(Ipv6Addr::from(b))
        };
        (a(8), a(24))
    }
}

/// Whether the TCP checksum of datagram `d` (with segment `s`) is right.
fn checksum_ok(d: &[u8], s: &Seg) -> bool {
    let (src, dst) = addresses(d, s.ip_len);
    let tcp = &d[s.ip_len..];
    let pseudo = checksum::pseudo_header(src, dst, TCP, tcp.len() as u32);
    checksum::fold(checksum::combine(pseudo, checksum::sum(tcp))) == 0
}

/// Whether `next` may follow the run whose first datagram is `first` (segment `f`) and whose
/// next sequence number is `want`: same flow and headers, as the module says.
fn joins(first: &[u8], f: &Seg, want: u32, next: &[u8], n: &Seg) -> bool {
    if n.hdr_len != f.hdr_len || n.seq != want || n.payload > f.payload {
        return false;
    }
    let ip_same = if f.ip_len == 20 {
        // Version to TOS, flags and TTL and protocol, and the addresses.
        first[..2] == next[..2] && first[6..10] == next[6..10] && first[12..20] == next[12..20]
    } else {
        // Version, class and flow label, next header and hop limit, and the addresses.
        first[..4] == next[..4] && first[6..40] == next[6..40]
    };
    let (ft, nt) = (&first[f.ip_len..f.hdr_len], &next[n.ip_len..n.hdr_len]);
    // Ports, the acknowledgment number, header length, and the options; the flags but PSH.
    ip_same
        && ft[..4] == nt[..4]
        && ft[8..13] == nt[8..13]
        && (ft[13] | PSH) == (nt[13] | PSH)
        && ft[20..] == nt[20..]
}

/// Software GRO over a source of single datagrams.
#[derive(Debug, Default)]
pub(crate) struct Gro {
    /// Where the datagram after a run is read; it is handed up on the next call when it
    /// could not join (`held`, its length).
    next: Vec<u8>,
    held: Option<usize>,
}

impl Gro {
    pub(crate) fn new() -> Gro {
        Gro {
            next: vec![0; MAX_DATAGRAM],
            held: None,
        }
    }

    /// The next datagram for the stack, in `buf`: a run of segments `read` gives, coalesced,
    /// or one datagram as read. `read` fills a buffer with one datagram and returns its
    /// length, or `None` when nothing is waiting. Returns the length and whether the
    /// datagram's checksum was verified here (so the stack need not).
    pub(crate) fn recv(
        &mut self,
        buf: &mut [u8],
        mut read: impl FnMut(&mut [u8]) -> io::Result<Option<usize>>,
    ) -> io::Result<Option<(usize, bool)>> {
        let mut len = if let Some(n) = self.held.take() {
            let Some(dst) = buf.get_mut(..n) else {
                return Err(io::Error::other("receive buffer smaller than a datagram"));
            };
            dst.copy_from_slice(&self.next[..n]);
            n
        } else {
            match read(buf)? {
                Some(n) => n,
                None => return Ok(None),
            }
        };
        let Some(first) = Seg::of(&buf[..len]).filter(|s| checksum_ok(&buf[..len], s)) else {
            return Ok(Some((len, false)));
        };
        if first.flags & PSH != 0 {
            return Ok(Some((len, true)));
        }
        let room = buf.len().min(MAX_DATAGRAM);
        let mut want = first.seq.wrapping_add(first.payload as u32);
        let mut joined = 0usize;
        // A failed read ends the run, which still goes up; a lasting error comes back on the
        // next call's read.
        while let Ok(Some(n)) = read(&mut self.next) {
            let next = &self.next[..n];
            let seg = Seg::of(next)
                .filter(|s| joins(&buf[..len], &first, want, next, s) && checksum_ok(next, s));
            let Some(seg) = seg.filter(|s| len + s.payload <= room) else {
                self.held = Some(n);
                break;
            };
            buf[len..len + seg.payload].copy_from_slice(&next[seg.hdr_len..]);
            len += seg.payload;
            joined += 1;
            want = want.wrapping_add(seg.payload as u32);
            // The last one's window is the newest; its PSH ends the run.
            let (win, flags) = (first.ip_len + 14, first.ip_len + 13);
            buf[win..win + 2].copy_from_slice(&next[win..win + 2]);
            buf[flags] |= next[flags] & PSH;
            if seg.payload < first.payload || next[flags] & PSH != 0 {
                break;
            }
        }
        if joined > 0 {
            fix_ip_length(&mut buf[..len], first.ip_len);
        }
        Ok(Some((len, true)))
    }
}

/// Rewrite the IP length fields of a coalesced datagram (and the IPv4 header checksum).
fn fix_ip_length(d: &mut [u8], ip_len: usize) {
    let len = d.len();
    if ip_len == 20 {
        d[2..4].copy_from_slice(&(len as u16).to_be_bytes());
        d[10..12].copy_from_slice(&[0, 0]);
        let sum = checksum::fold(checksum::sum(&d[..20]));
        d[10..12].copy_from_slice(&sum.to_be_bytes());
    } else {
        d[4..6].copy_from_slice(&((len - 40) as u16).to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use oxtcp_wire::{emit_packet, parse_packet_with, Checksum, TcpOptions, TcpRepr, Timestamps};

    use super::*;

    const A: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 18, 0, 1));
    const B: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 18, 0, 2));
    const A6: IpAddr = IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1));
    const B6: IpAddr = IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 2));

    /// A data segment from A:5000 to B:80 (or the IPv6 pair), timestamps on.
    fn seg(v6: bool, seq: u32, len: usize, flags: TcpFlags, tsval: u32) -> Vec<u8> {
        let tcp = TcpRepr {
            src_port: 5000,
            dst_port: 80,
            seq,
            ack: 7,
            flags,
            window: (seq / 100) as u16,
            urgent: 0,
            options: TcpOptions {
                timestamps: Some(Timestamps { tsval, tsecr: 9 }),
                ..TcpOptions::default()
            },
        };
        let payload: Vec<u8> = (0..len).map(|i| (seq as usize + i) as u8).collect();
        let (src, dst) = if v6 { (A6, B6) } else { (A, B) };
        let mut buf = vec![0u8; 70_000];
        let n = emit_packet(&mut buf, src, dst, 64, &tcp, &[&payload]).unwrap();
        buf.truncate(n);
        buf
    }

    fn data(seq: u32, len: usize) -> Vec<u8> {
        seg(false, seq, len, TcpFlags::ACK, 1)
    }

    /// Everything `gro` hands up from `input`, in order: (datagram, vouched).
    fn run(input: Vec<Vec<u8>>) -> Vec<(Vec<u8>, bool)> {
        let mut queue: VecDeque<Vec<u8>> = input.into();
        let mut gro = Gro::new();
        let mut out = Vec::new();
        let mut buf = vec![0u8; 65_536];
        while let Some((n, vouched)) = gro
            .recv(&mut buf, |b| {
                Ok(queue.pop_front().map(|d| {
                    b[..d.len()].copy_from_slice(&d);
                    d.len()
                }))
            })
            .unwrap()
        {
            out.push((buf[..n].to_vec(), vouched));
        }
        out
    }

    /// (seq, payload, PSH, window) of a handed-up datagram, whose IP header must be right.
    fn view(d: &[u8]) -> (u32, Vec<u8>, bool, u16) {
        let s = parse_packet_with(d, Checksum::Offloaded).unwrap();
        (
            s.tcp.seq,
            s.payload.to_vec(),
            s.tcp.flags.psh(),
            s.tcp.window,
        )
    }

    fn bytes(from: u32, len: usize) -> Vec<u8> {
        (0..len).map(|i| (from as usize + i) as u8).collect()
    }

    #[test]
    fn segments_in_a_row_become_one_datagram() {
        let out = run(vec![data(1000, 100), data(1100, 100), data(1200, 100)]);
        assert_eq!(out.len(), 1);
        assert!(out[0].1, "verified here");
        let (seq, payload, psh, window) = view(&out[0].0);
        assert_eq!((seq, payload, psh), (1000, bytes(1000, 300), false));
        assert_eq!(window, 12, "the last segment's window");
    }

    #[test]
    fn a_gap_ends_the_run_and_the_segment_after_it_comes_next() {
        let out = run(vec![data(1000, 100), data(1100, 100), data(1300, 100)]);
        assert_eq!(out.len(), 2);
        assert_eq!(view(&out[0].0).1, bytes(1000, 200));
        assert_eq!(out[1], (data(1300, 100), true));
    }

    #[test]
    fn another_flow_or_other_options_are_not_joined() {
        let mut other_port = data(1100, 100);
        other_port[20..22].copy_from_slice(&5001u16.to_be_bytes());
        // (Its checksum no longer holds either; it goes up as read.)
        let newer_ts = seg(false, 1100, 100, TcpFlags::ACK, 2);
        for second in [other_port, newer_ts] {
            let out = run(vec![data(1000, 100), second.clone()]);
            assert_eq!(out.len(), 2);
            assert_eq!(out[0], (data(1000, 100), true));
            assert_eq!(out[1].0, second);
        }
    }

    #[test]
    fn psh_or_a_shorter_segment_ends_the_run() {
        let psh = TcpFlags::ACK.union(TcpFlags::PSH);
        let out = run(vec![
            data(1000, 100),
            seg(false, 1100, 100, psh, 1),
            data(1200, 100),
            data(1300, 50),
            data(1350, 100),
        ]);
        let views: Vec<_> = out.iter().map(|(d, _)| view(d)).collect();
        assert_eq!(views.len(), 3);
        assert_eq!(
            (views[0].0, views[0].1.len(), views[0].2),
            (1000, 200, true)
        );
        assert_eq!(
            (views[1].0, views[1].1.len(), views[1].2),
            (1200, 150, false)
        );
        assert_eq!((views[2].0, views[2].1.len()), (1350, 100));
    }

    #[test]
    fn a_bad_checksum_or_no_data_goes_up_alone_as_read() {
        let mut bad = data(1000, 100);
        let last = bad.len() - 1;
        bad[last] ^= 1;
        let pure_ack = data(1100, 0);
        let out = run(vec![bad.clone(), data(1100, 100), pure_ack.clone()]);
        assert_eq!(
            out,
            vec![(bad, false), (data(1100, 100), true), (pure_ack, false)]
        );
        // A bad IPv4 header checksum, which a run's rewritten header would have made good.
        let mut bad_ip = data(1100, 100);
        bad_ip[10] ^= 1;
        let out = run(vec![data(1000, 100), bad_ip.clone()]);
        assert_eq!(out, vec![(data(1000, 100), true), (bad_ip, false)]);
    }

    #[test]
    fn ipv6_segments_join_with_the_payload_length_rewritten() {
        let out = run(vec![
            seg(true, 1, 1000, TcpFlags::ACK, 1),
            seg(true, 1001, 1000, TcpFlags::ACK, 1),
        ]);
        assert_eq!(out.len(), 1);
        let s = parse_packet_with(&out[0].0, Checksum::Offloaded).unwrap();
        assert_eq!((s.ip.src(), s.tcp.seq, s.payload.len()), (A6, 1, 2000));
    }

    #[test]
    fn a_run_stops_below_64_kib() {
        let input: Vec<Vec<u8>> = (0..50u32).map(|i| data(1 + i * 1448, 1448)).collect();
        let out = run(input);
        // 20 + 32 header bytes and 45 segments make 65,212 bytes; a 46th would pass 65,535.
        assert_eq!(out[0].0.len(), 65_212);
        assert_eq!(out[1].0.len(), 52 + 5 * 1448);
        let all: Vec<u8> = out.iter().flat_map(|(d, _)| view(d).1).collect();
        assert_eq!(all, bytes(1, 50 * 1448));
    }

    #[test]
    fn any_bytes_go_up_in_order_and_nothing_is_lost() {
        // Runs of good segments mixed with mangled copies and random bytes, from a fixed
        // xorshift stream: whatever is not coalesced goes up exactly as read, in order, and
        // every good segment's payload arrives once.
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut rand = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..200 {
            let mut input = Vec::new();
            let mut seq = 1u32;
            for _ in 0..(rand() % 20) {
                let len = 1 + (rand() % 300) as usize;
                let mut d = data(seq, len);
                match rand() % 6 {
                    0 => {
                        let at = (rand() as usize) % d.len();
                        d[at] ^= 1 << (rand() % 8);
                    }
                    1 => d.truncate((rand() as usize) % d.len()),
                    2 => d = (0..rand() % 80).map(|_| rand() as u8).collect(),
                    _ => seq = seq.wrapping_add(len as u32),
                }
                input.push(d);
            }
            let out = run(input.clone());
            let mut rest = input.iter();
            for (d, vouched) in &out {
                let first = rest.next().expect("no more out than in");
                if d == first {
                    continue;
                }
                // A coalesced run: its first piece's header, then the pieces' payloads.
                assert!(*vouched);
                let s = parse_packet_with(d, Checksum::Offloaded).unwrap();
                let mut payload = parse_packet_with(first, Checksum::Computed)
                    .unwrap()
                    .payload
                    .to_vec();
                while payload.len() < s.payload.len() {
                    let piece = rest.next().expect("a run's pieces were read");
                    let p = parse_packet_with(piece, Checksum::Computed).unwrap();
                    payload.extend_from_slice(p.payload);
                }
                assert_eq!(payload, s.payload);
            }
            assert!(
                rest.next().is_none(),
                "every datagram went up or joined a run"
            );
        }
    }

    #[test]
    fn a_failed_read_ends_the_run_without_losing_it() {
        let mut queue: VecDeque<io::Result<Option<Vec<u8>>>> = vec![
            Ok(Some(data(1000, 100))),
            Ok(Some(data(1100, 100))),
            Err(io::Error::other("device gone")),
        ]
        .into();
        let mut gro = Gro::new();
        let mut buf = vec![0u8; 65_536];
        let mut read = |b: &mut [u8]| match queue.pop_front() {
            Some(Ok(Some(d))) => {
                b[..d.len()].copy_from_slice(&d);
                Ok(Some(d.len()))
            }
            Some(Ok(None)) | None => Ok(None),
            Some(Err(e)) => Err(e),
        };
        let (n, _) = gro.recv(&mut buf, &mut read).unwrap().unwrap();
        assert_eq!(view(&buf[..n]).1, bytes(1000, 200));
        assert!(gro.recv(&mut buf, &mut read).unwrap().is_none());
    }
}
