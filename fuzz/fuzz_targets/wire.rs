//! Arbitrary bytes into the wire parser: `parse_packet` on the whole input and
//! `TcpOptions::parse` on it as an option area. Neither may panic, and whatever parses is
//! emitted and parsed again: the round trip must agree on every field the emitter keeps.
//! The checksum of the input, from its start and from its second byte, must equal the plain
//! RFC 1071 word loop's, whichever loop (scalar or AVX2) `checksum::sum` chose. A segment that
//! parses is also cut by `gso::segment` at a size taken from the input: every piece must parse
//! with its checksums, carry the sequence number of its first byte, and the pieces' payloads
//! must make up the original's. Taken in two parts (`parse_packet_gathered`), split anywhere,
//! it must never be taken where whole it is refused, nor taken otherwise. The cut pieces, and
//! the input itself, are pushed through `gro::Coalescer`: no panic, every datagram's bytes
//! come out once in order, and no merged datagram fails its checksums.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oxtcp_wire::gro::{Coalesced, Coalescer};
use oxtcp_wire::{
    checksum, emit_packet, gso, parse_packet, parse_packet_gathered, parse_packet_with, Checksum,
    IpRepr, Ipv4Packet, Ipv6Packet, TcpFlags, TcpOptionIter, TcpOptions, TcpPacket,
};

/// The emitter lays options out as Linux does and may drop trailing SACK blocks that its
/// NOP padding pushes past 40 bytes; everything else must come back unchanged.
fn options_agree(orig: &TcpOptions, back: &TcpOptions) {
    assert_eq!(orig.mss, back.mss, "MSS");
    assert_eq!(orig.window_scale, back.window_scale, "window scale");
    assert_eq!(orig.sack_permitted, back.sack_permitted, "SACK-Permitted");
    assert_eq!(orig.timestamps, back.timestamps, "timestamps");
    let (o, b) = (orig.sack_blocks.as_slice(), back.sack_blocks.as_slice());
    assert!(b.len() <= o.len(), "SACK blocks grew: {o:?} -> {b:?}");
    assert_eq!(&o[..b.len()], b, "SACK blocks are not a prefix");
    if o.len() != b.len() {
        // Blocks are dropped only when they no longer fit.
        let mut fewer = *orig;
        fewer.sack_blocks.truncate(b.len() + 1);
        assert!(
            fewer.emit_len() > 40 || fewer.emit_len() == back.emit_len(),
            "a SACK block was dropped though it fits"
        );
    }
}

fn options_round_trip(bytes: &[u8]) {
    // The iterator must end on any input, whatever `parse` makes of it.
    for _ in TcpOptionIter::new(bytes).take(64) {}
    let Ok(opts) = TcpOptions::parse(bytes) else {
        return;
    };
    let len = opts.emit_len();
    assert!(len <= 40 && len % 4 == 0, "emit_len {len}");
    let mut buf = [0u8; 40];
    let n = opts.emit(&mut buf);
    assert_eq!(n, len, "emit wrote {n} bytes, emit_len said {len}");
    let back = TcpOptions::parse(&buf[..n]).expect("emitted options do not parse");
    options_agree(&opts, &back);
    // Emitting what was re-parsed is a fixed point.
    let mut again = [0u8; 40];
    let m = back.emit(&mut again);
    assert_eq!(&buf[..n], &again[..m], "second emit differs");
}

fn packet_round_trip(data: &[u8]) {
    let Ok(seg) = parse_packet(data) else {
        return;
    };
    let (src, dst) = (seg.ip.src(), seg.ip.dst());
    let mut buf = vec![0u8; 40 + 60 + seg.payload.len()];
    let n = match emit_packet(
        &mut buf,
        src,
        dst,
        seg.ip.hop_limit(),
        &seg.tcp,
        &[seg.payload],
    ) {
        Ok(n) => n,
        // Re-padded options may push a datagram near 64 KiB past the length field.
        Err(_) if seg.payload.len() > 65_535 - 120 => return,
        Err(e) => panic!("emit of a parsed segment failed: {e}"),
    };
    let back = parse_packet(&buf[..n]).expect("emitted packet does not parse");
    assert_eq!(back.ip.src(), src);
    assert_eq!(back.ip.dst(), dst);
    assert_eq!(back.ip.hop_limit(), seg.ip.hop_limit());
    assert_eq!(
        matches!(back.ip, IpRepr::V4(_)),
        matches!(seg.ip, IpRepr::V4(_))
    );
    let (a, b) = (&seg.tcp, &back.tcp);
    assert_eq!(
        (a.src_port, a.dst_port, a.seq, a.ack),
        (b.src_port, b.dst_port, b.seq, b.ack)
    );
    assert_eq!(a.flags, b.flags, "flags");
    assert_eq!((a.window, a.urgent), (b.window, b.urgent));
    options_agree(&a.options, &b.options);
    assert_eq!(seg.payload, back.payload, "payload");
    assert_eq!(back.ip.payload_len(), n - back.ip.header_len());
    // The emitter's output is canonical: emitting the re-parsed segment gives the same bytes.
    let mut again = vec![0u8; buf.len()];
    let m = emit_packet(
        &mut again,
        src,
        dst,
        back.ip.hop_limit(),
        b,
        &[back.payload],
    )
    .expect("second emit failed");
    assert_eq!(&buf[..n], &again[..m], "second emit differs");
}

fn segmentation_agrees(data: &[u8]) {
    let Ok(seg) = parse_packet(data) else {
        return;
    };
    let start = seg.payload.as_ptr() as usize - data.as_ptr() as usize;
    let headers = &data[..start];
    let size = 1 + (seg.tcp.seq as usize % 1500);
    // The payload in two parts, split where the input says.
    let split = (seg.tcp.ack as usize).min(seg.payload.len());
    let (a, b) = seg.payload.split_at(split);
    let mut buf = vec![0u8; start + size];
    let mut joined = Vec::new();
    let mut fins = 0;
    let mut pieces = Vec::new();
    let n = gso::segment(headers, &[a, b], size, &mut buf, |d| {
        pieces.push(d.to_vec());
        let piece = parse_packet(d).expect("a cut segment does not parse");
        let at = joined.len() as u32;
        assert_eq!(
            piece.tcp.seq,
            seg.tcp.seq.wrapping_add(at),
            "sequence number"
        );
        assert_eq!(
            (piece.tcp.src_port, piece.tcp.ack),
            (seg.tcp.src_port, seg.tcp.ack)
        );
        fins += usize::from(piece.tcp.flags.contains(TcpFlags::FIN));
        joined.extend_from_slice(piece.payload);
    });
    let single = [TcpFlags::SYN, TcpFlags::RST, TcpFlags::URG];
    let n = match n {
        Ok(n) => n,
        // What these flags mean belongs to one segment.
        Err(oxtcp_wire::Error::NotSegmentable)
            if single.iter().any(|&f| seg.tcp.flags.contains(f)) && seg.payload.len() > size =>
        {
            assert!(joined.is_empty(), "a refused segment was partly emitted");
            return;
        }
        Err(e) => panic!("a parsed segment could not be cut: {e}"),
    };
    assert_eq!(joined, seg.payload, "payload");
    assert_eq!(n, seg.payload.len().div_ceil(size).max(1), "pieces");
    coalescing_agrees(&pieces);
    assert_eq!(
        fins,
        usize::from(seg.tcp.flags.contains(TcpFlags::FIN)),
        "FINs"
    );
}

/// `datagrams` pushed through a coalescer: the same bytes come out, in order, each once, and
/// no merged datagram fails its checksums. Datagrams that parse are compared by
/// payload (a merge joins them), the rest byte for byte (they come out as they went in).
fn coalescing_agrees(datagrams: &[Vec<u8>]) {
    let mut g = Coalescer::new();
    let (mut payload_out, mut other_out) = (Vec::new(), Vec::new());
    let mut sink = |c: Coalesced<'_>| {
        let d: Vec<u8> = match c {
            Coalesced::Merged { buf, len, .. } => {
                let d = &buf[..len];
                // Its checksums are right; anything else wrong with it (an option, say) was
                // wrong with the datagrams it was made of, and is the parser's to refuse.
                if let Err(e) = parse_packet(d) {
                    let unchecked = parse_packet_with(d, Checksum::Offloaded).err();
                    assert_eq!(unchecked, Some(e), "a merged datagram's checksum is wrong");
                }
                d.to_vec()
            }
            Coalesced::AsIs(h, p) => [h, p].concat(),
        };
        match parse_packet_with(&d, Checksum::Offloaded) {
            Ok(s) => payload_out.extend_from_slice(s.payload),
            Err(_) => other_out.extend_from_slice(&d),
        }
    };
    for d in datagrams {
        g.push(d, &[], &mut sink);
    }
    g.flush(&mut sink);
    let (mut payload_in, mut other_in) = (Vec::new(), Vec::new());
    for d in datagrams {
        match parse_packet_with(d, Checksum::Offloaded) {
            Ok(s) => payload_in.extend_from_slice(s.payload),
            Err(_) => other_in.extend_from_slice(d),
        }
    }
    assert_eq!(
        payload_in, payload_out,
        "payload bytes through the coalescer"
    );
    assert_eq!(
        other_in, other_out,
        "unparsed datagrams through the coalescer"
    );
}

/// The datagram taken in two parts (`parse_packet_gathered`), split at each of its first 200
/// points: never a panic, never a datagram taken that is refused whole or taken otherwise;
/// and split where its headers end, taken exactly as whole.
fn gathered_agrees(data: &[u8]) {
    let whole = parse_packet(data);
    // Where the headers end, if the whole parses: its payload is the end of the input's
    // segment, so the headers are what comes before the payload.
    let headers_end = whole
        .as_ref()
        .ok()
        .map(|s| s.payload.as_ptr() as usize - data.as_ptr() as usize);
    for at in 0..=data.len().min(200) {
        let (h, p) = data.split_at(at);
        let parts = parse_packet_gathered(h, p, Checksum::Computed);
        match (&whole, &parts) {
            (Err(_), Ok(s)) => panic!("taken in parts at {at}, refused whole: {s:?}"),
            (Ok(w), Ok(s)) => assert_eq!(w, s, "taken differently in parts at {at}"),
            _ => {}
        }
    }
    if let (Ok(w), Some(end)) = (&whole, headers_end) {
        let (h, p) = data.split_at(end);
        if !p.is_empty() {
            let parts =
                parse_packet_gathered(h, p, Checksum::Computed).expect("split at the headers' end");
            assert_eq!(&parts, w, "split at the headers' end");
        }
    }
}

/// The input with its IP header and TCP checksums made right, where the IP header is whole
/// enough to say where the segment is: without this nearly every input stops at a checksum
/// and the TCP header and option parsing behind it is rarely reached.
fn with_checksums(data: &[u8]) -> Option<Vec<u8>> {
    let mut buf = data.to_vec();
    let (src, dst, seg) = match data.first()? >> 4 {
        4 => {
            let mut ip = Ipv4Packet::new_checked(&mut buf[..]).ok()?;
            ip.fill_checksum();
            let (src, dst) = (ip.src_addr().into(), ip.dst_addr().into());
            (src, dst, ip.header_len()..ip.total_len())
        }
        6 => {
            let ip = Ipv6Packet::new_checked(&buf[..]).ok()?;
            let (src, dst) = (ip.src_addr().into(), ip.dst_addr().into());
            (src, dst, 40..40 + ip.payload_len())
        }
        _ => return None,
    };
    let seg = buf.get_mut(seg)?;
    if seg.len() >= 20 {
        TcpPacket::new_unchecked(seg).fill_checksum(src, dst);
    }
    Some(buf)
}

/// The RFC 1071 sum of big-endian 16-bit words, an odd last byte padded with zero, folded to
/// 16 bits as `checksum::sum` folds it (0 only for an all-zero input).
fn word_sum(data: &[u8]) -> u32 {
    let mut acc: u64 = data
        .chunks(2)
        .map(|w| u64::from(u16::from_be_bytes([w[0], *w.get(1).unwrap_or(&0)])))
        .sum();
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u32
}

fn checksum_agrees(data: &[u8]) {
    for piece in [data, data.get(1..).unwrap_or(&[])] {
        assert_eq!(
            checksum::sum(piece),
            word_sum(piece),
            "checksum of {} bytes",
            piece.len()
        );
    }
}

fuzz_target!(|data: &[u8]| {
    checksum_agrees(data);
    packet_round_trip(data);
    coalescing_agrees(&[data.to_vec(), data.to_vec()]);
    if let Some(fixed) = with_checksums(data) {
        packet_round_trip(&fixed);
        segmentation_agrees(&fixed);
        gathered_agrees(&fixed);
    }
    options_round_trip(data);
    // Also the area after a plausible fixed header, as a real segment's options would be.
    if data.len() > 20 {
        options_round_trip(&data[20..data.len().min(60)]);
    }
});
