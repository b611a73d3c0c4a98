//! Coalescing in software (`gro`): runs of segments cut by `gso` from super-segments, with
//! faults planted on the way (a flipped byte, a lost, repeated or swapped datagram), pushed
//! through a `Coalescer`. What comes out must be every datagram's bytes, each once, in the
//! order they came, with no damaged byte inside a merged datagram, and every merged datagram
//! valid on its own (its checksum checked here by a full parse).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use oxtcp_wire::gro::{Coalesced, Coalescer, MAX_DATAGRAM};
use oxtcp_wire::{
    emit_packet_with, gso, parse_packet_with, Checksum, TcpFlags, TcpOptions, TcpRepr, Timestamps,
};
use proptest::prelude::*;

const V4: (IpAddr, IpAddr) = (
    IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
    IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)),
);
const V6: (IpAddr, IpAddr) = (
    IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1)),
    IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 2)),
);

fn repr(seq: u32, flags: TcpFlags, ts: bool) -> TcpRepr {
    TcpRepr {
        src_port: 40000,
        dst_port: 80,
        seq,
        ack: 1000,
        flags,
        window: 512,
        urgent: 0,
        options: TcpOptions {
            timestamps: ts.then_some(Timestamps { tsval: 5, tsecr: 6 }),
            ..TcpOptions::default()
        },
    }
}

/// The datagrams of `data` sent from `seq` as super-segments of at most `chunk` bytes, each
/// cut into segments of `size`; the last super-segment carries `last_flags`.
fn wire(
    addrs: (IpAddr, IpAddr),
    seq: u32,
    data: &[u8],
    chunk: usize,
    size: usize,
    ts: bool,
    last_flags: TcpFlags,
) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 70_000];
    let mut cut = vec![0u8; 70_000];
    let mut off = 0;
    while off < data.len() {
        let part = &data[off..data.len().min(off + chunk)];
        let last = off + part.len() == data.len();
        let flags = if last { last_flags } else { TcpFlags::ACK };
        let tcp = repr(seq.wrapping_add(off as u32), flags, ts);
        let n = emit_packet_with(
            &mut buf,
            addrs.0,
            addrs.1,
            64,
            &tcp,
            &[part],
            Checksum::Offloaded,
        )
        .unwrap();
        let hdr = n - part.len();
        gso::segment(&buf[..hdr], &[part], size, &mut cut, |d| {
            out.push(d.to_vec())
        })
        .unwrap();
        off += part.len();
    }
    out
}

/// One datagram that came out, with how it is to be parsed.
struct Out {
    bytes: Vec<u8>,
    merged: Option<usize>,
}

/// Push `datagrams` (each split into headers and payload when `gathered`) and flush.
fn coalesce(datagrams: &[Vec<u8>], gathered: bool) -> (Vec<Out>, oxtcp_wire::gro::GroStats) {
    let mut g = Coalescer::new();
    let mut outs = Vec::new();
    let mut sink = |c: Coalesced<'_>| match c {
        Coalesced::Merged { buf, len, segments } => outs.push(Out {
            bytes: buf[..len].to_vec(),
            merged: Some(segments),
        }),
        Coalesced::AsIs(h, p) => outs.push(Out {
            bytes: [h, p].concat(),
            merged: None,
        }),
    };
    for d in datagrams {
        // Headers: everything before the payload, when the datagram parses.
        let at = parse_packet_with(d, Checksum::Offloaded)
            .map(|s| d.len() - s.payload.len())
            .unwrap_or(d.len());
        if gathered {
            g.push(&d[..at], &d[at..], &mut sink);
        } else {
            g.push(d, &[], &mut sink);
        }
    }
    g.flush(&mut sink);
    let stats = g.stats();
    (outs, stats)
}

/// The bytes every datagram carries, by parse (checksum not checked), in order.
fn payloads(datagrams: impl IntoIterator<Item = Vec<u8>>) -> Vec<(u32, Vec<u8>, u8)> {
    datagrams
        .into_iter()
        .filter_map(|d| {
            let s = parse_packet_with(&d, Checksum::Offloaded).ok()?;
            Some((s.tcp.seq, s.payload.to_vec(), s.tcp.flags.bits()))
        })
        .collect()
}

#[derive(Clone, Copy, Debug)]
enum Fault {
    None,
    Flip(usize, usize),
    Lose(usize),
    Repeat(usize),
    Swap(usize),
}

fn fault() -> impl Strategy<Value = Fault> {
    prop_oneof![
        Just(Fault::None),
        (any::<usize>(), any::<usize>()).prop_map(|(i, b)| Fault::Flip(i, b)),
        any::<usize>().prop_map(Fault::Lose),
        any::<usize>().prop_map(Fault::Repeat),
        any::<usize>().prop_map(Fault::Swap),
    ]
}

fn plant(mut d: Vec<Vec<u8>>, f: Fault) -> (Vec<Vec<u8>>, Option<usize>) {
    let n = d.len();
    match f {
        Fault::None => (d, None),
        Fault::Flip(i, b) => {
            let i = i % n;
            let b = b % d[i].len();
            d[i][b] ^= 0x20;
            (d, Some(i))
        }
        Fault::Lose(i) => {
            d.remove(i % n);
            (d, None)
        }
        Fault::Repeat(i) => {
            let x = d[i % n].clone();
            d.insert(i % n, x);
            (d, None)
        }
        Fault::Swap(i) => {
            if n > 1 {
                d.swap(i % (n - 1), i % (n - 1) + 1);
            }
            (d, None)
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn coalescing_keeps_every_byte_in_order_and_merges_only_what_is_whole(
        v6 in any::<bool>(),
        ts in any::<bool>(),
        gathered in any::<bool>(),
        len in 1usize..150_000,
        chunk in 1usize..65_000,
        size in 1usize..1461,
        seq in any::<u32>(),
        last in prop_oneof![
            Just(TcpFlags::ACK),
            Just(TcpFlags::ACK | TcpFlags::PSH),
            Just(TcpFlags::ACK | TcpFlags::PSH | TcpFlags::FIN),
        ],
        f in fault(),
    ) {
        let data: Vec<u8> = (0..len).map(|i| (i * 31 + i / 977) as u8).collect();
        let addrs = if v6 { V6 } else { V4 };
        let sent = wire(addrs, seq, &data, chunk, size, ts, last);
        let (sent, damaged) = plant(sent, f);
        let (outs, stats) = coalesce(&sent, gathered);
        prop_assert_eq!(stats.datagrams_in, sent.len() as u64);

        // Every merged datagram stands on its own: checksums complete, within the limit.
        for o in &outs {
            if o.merged.is_some() {
                prop_assert!(o.bytes.len() <= MAX_DATAGRAM);
                let s = parse_packet_with(&o.bytes, Checksum::Computed);
                prop_assert!(s.is_ok(), "merged datagram does not parse: {:?}", s.err());
            }
        }
        // Nothing lost, nothing added, nothing reordered: the merged and passed datagrams'
        // bytes, in order, are the sent datagrams' bytes, in order.
        let flat = |v: Vec<(u32, Vec<u8>, u8)>| -> Vec<(u32, u8)> {
            v.into_iter()
                .flat_map(|(s, p, _)| {
                    p.into_iter().enumerate().map(move |(i, b)| (s.wrapping_add(i as u32), b))
                })
                .collect()
        };
        let sent_bytes = flat(payloads(sent.iter().cloned()));
        let out_bytes = flat(payloads(outs.iter().map(|o| o.bytes.clone())));
        prop_assert!(sent_bytes == out_bytes, "{} bytes sent, {} out", sent_bytes.len(), out_bytes.len());
        // The damaged datagram is handed on as it came and fails its check; no merge has it.
        if let Some(i) = damaged {
            let bad = &sent[i];
            if parse_packet_with(bad, Checksum::Computed).is_err() {
                prop_assert!(outs.iter().any(|o| o.merged.is_none() && &o.bytes == bad));
            }
        }
        // FIN never merges: it leaves as it came, and only the last datagram has it.
        let fins = outs.iter().filter(|o| {
            parse_packet_with(&o.bytes, Checksum::Offloaded)
                .is_ok_and(|s| s.tcp.flags.contains(TcpFlags::FIN))
        });
        for o in fins {
            prop_assert!(o.merged.is_none());
        }
        // With no fault and full segments to merge, fewer datagrams come out than went in.
        if matches!(f, Fault::None) && len >= 2 * size && size * 2 <= chunk {
            prop_assert!(outs.len() < sent.len(), "{} in, {} out", sent.len(), outs.len());
        }
    }
}

/// A run of full segments then a short one, all ACK: one datagram, PSH only if the last had
/// it, the first's headers otherwise, and a length and checksum of its own.
#[test]
fn a_run_of_segments_becomes_one_datagram_with_the_last_ones_push() {
    let data: Vec<u8> = (0..10_000u32).map(|i| (i % 253) as u8).collect();
    let sent = wire(
        V4,
        7,
        &data,
        65_000,
        1448,
        true,
        TcpFlags::ACK | TcpFlags::PSH,
    );
    assert_eq!(sent.len(), 7);
    let (outs, stats) = coalesce(&sent, true);
    assert_eq!(outs.len(), 1);
    assert_eq!(outs[0].merged, Some(7));
    assert_eq!(stats.merged_out, 1);
    let s = parse_packet_with(&outs[0].bytes, Checksum::Computed).unwrap();
    assert_eq!(s.payload, &data[..]);
    assert_eq!(s.tcp.seq, 7);
    assert_eq!(s.tcp.flags, TcpFlags::ACK | TcpFlags::PSH);
    assert_eq!(
        s.tcp.options.timestamps,
        Some(Timestamps { tsval: 5, tsecr: 6 })
    );
}

/// Change byte `at` of `d` by `x`, keeping both checksums good: the change is the point,
/// not damage. `at` is in the IPv4 header (below 20) or the TCP header.
fn edit(d: &mut Vec<u8>, at: usize, x: u8) {
    d[at] ^= x;
    if at < 20 {
        d[10..12].fill(0);
        let sum = oxtcp_wire::checksum::fold(oxtcp_wire::checksum::sum(&d[..20]));
        d[10..12].copy_from_slice(&sum.to_be_bytes());
        return;
    }
    let s = parse_packet_with(d, Checksum::Offloaded).unwrap();
    let (ip, tcp, payload) = (s.ip, s.tcp, s.payload.to_vec());
    let mut buf = vec![0u8; 2000];
    let n = emit_packet_with(
        &mut buf,
        ip.src(),
        ip.dst(),
        64,
        &tcp,
        &[&payload],
        Checksum::Computed,
    )
    .unwrap();
    *d = buf[..n].to_vec();
}

/// A datagram that differs from the held one in anything but its length, identification,
/// sequence number and checksum is not merged with it.
#[test]
fn a_difference_in_the_headers_ends_the_merge() {
    let data = vec![9u8; 4 * 1000];
    let sent = wire(V4, 0, &data, 65_000, 1000, false, TcpFlags::ACK);
    assert_eq!(sent.len(), 4);
    let (outs, _) = coalesce(&sent, false);
    assert_eq!(outs.iter().map(|o| o.merged).collect::<Vec<_>>(), [Some(4)]);
    // From the third on: another window, ECN's CE mark, another acknowledgment, another TTL.
    for (at, x) in [(20 + 15, 0x01), (1, 0x03), (20 + 11, 0x01), (8, 0x01)] {
        let mut d = sent.clone();
        edit(&mut d[2], at, x);
        edit(&mut d[3], at, x);
        assert!(parse_packet_with(&d[2], Checksum::Computed).is_ok());
        let (outs, _) = coalesce(&d, false);
        let merged: Vec<_> = outs.iter().map(|o| o.merged).collect();
        assert_eq!(merged, [Some(2), Some(2)], "edit at byte {at}");
    }
}

proptest! {
    /// Any bytes at all: no panic, and each datagram comes out once, whole, in order.
    #[test]
    fn arbitrary_datagrams_come_out_once_each(
        datagrams in prop::collection::vec(
            (prop::collection::vec(any::<u8>(), 0..120), prop::collection::vec(any::<u8>(), 0..64)),
            0..8,
        ),
    ) {
        let mut g = Coalescer::new();
        let mut bytes = Vec::new();
        let mut sink = |c: Coalesced<'_>| match c {
            Coalesced::Merged { buf, len, .. } => bytes.extend_from_slice(&buf[..len]),
            Coalesced::AsIs(h, p) => {
                bytes.extend_from_slice(h);
                bytes.extend_from_slice(p);
            }
        };
        for (h, p) in &datagrams {
            g.push(h, p, &mut sink);
        }
        g.flush(&mut sink);
        let whole: Vec<u8> = datagrams.iter().flat_map(|(h, p)| h.iter().chain(p).copied()).collect();
        // Random bytes are almost never a mergeable TCP datagram, so what comes out is what went in.
        prop_assert_eq!(bytes, whole);
    }
}
