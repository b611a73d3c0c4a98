//! Golden bytes from real Linux segments.
//!
//! Captured on Linux 6.x over the loopback interface only: a Python script opened a TCP
//! listener on 127.0.0.1:45674 (and [::1]:45676), connected to it, sent "hello oxtcp\n",
//! got "ok\n" back and closed, while `timeout 8 tcpdump -i lo -U -w cap.pcap 'tcp port ...'`
//! recorded it. The 14-byte (all-zero) Ethernet header that lo carries in pcap was stripped.
//!
//! On loopback Linux uses checksum offload (CHECKSUM_PARTIAL): the TCP checksum field holds
//! only the folded pseudo-header sum, and the full checksum is never computed because the
//! packet never leaves the host. tcpdump flags these as "incorrect -> 0x....". The tests
//! check that partial value against our pseudo-header sum, complete the checksum, and check
//! the result against the value tcpdump computed. The one packet Linux did fully checksum
//! (the TIME-WAIT ACK sent via the kernel's reply socket) is checked as captured.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use oxtcp_wire::{
    checksum, emit_packet, parse_packet, IpRepr, Ipv4Packet, Ipv4Repr, Ipv6Packet, Ipv6Repr,
    SackBlocks, Segment, TcpFlags, TcpOptions, TcpPacket, TcpRepr, Timestamps, IP_PROTO_TCP,
};

// IPv4, 127.0.0.1:36780 -> 127.0.0.1:45674: tcpdump "Flags [S], cksum 0xfe30 (incorrect -> 0xcfe2),
// seq 2810868109, win 65495, options [mss 65495,sackOK,TS val 2575010673 ecr 0,nop,wscale 10]".
const V4_SYN: &str = "4500003cac9f40004006901a7f0000017f0000018facb26aa78a718d00000000\
                      a002ffd7fe3000000204ffd70402080a997b8b71000000000103030a";
// IPv4 SYN-ACK back: "Flags [S.], cksum 0xfe30 (incorrect -> 0x86cc), seq 17028775,
// ack 2810868110, win 65483, options [mss 65495,sackOK,TS val 4280709695 ecr 2575010673,nop,wscale 10]".
const V4_SYN_ACK: &str = "4500003c0000400040063cba7f0000017f000001b26a8fac0103d6a7a78a718e\
                          a012ffcbfe3000000204ffd70402080aff26723f997b8b710103030a";
// IPv4 data: "Flags [P.], cksum 0xfe34 (incorrect -> 0x16fb), seq 1:13, ack 1, win 64,
// options [nop,nop,TS val 2575010773 ecr 4280709695], length 12" carrying "hello oxtcp\n".
const V4_DATA: &str = "45000040aca14000400690147f0000017f0000018facb26aa78a718e0103d6a8\
                       80180040fe3400000101080a997b8bd5ff26723f68656c6c6f206f787463700a";
// IPv4 last ACK of the close, fully checksummed by Linux: "Flags [.], cksum 0xac14 (correct),
// ack 14, win 64, options [nop,nop,TS val 4280710098 ecr 2575011076]".
const V4_LAST_ACK: &str = "450000340000400040063cc27f0000017f000001b26a8fac0103d6aca78a719b\
                           80100040ac1400000101080aff2673d2997b8d04";

// IPv6, [::1]:38190 -> [::1]:45676, flow label 0x0a683: "Flags [S], cksum 0x0030 (incorrect -> 0x8ff4),
// seq 3326317368, win 65476, options [mss 65476,sackOK,TS val 3626845420 ecr 0,nop,wscale 10]".
const V6_SYN: &str = "6000a683002806400000000000000000000000000000000100000000000000000000000000000001\
                      952eb26cc643933800000000a002ffc4003000000204ffc40402080ad82d44ec000000000103030a";
// IPv6 SYN-ACK, flow label 0x391b9: "Flags [S.], cksum 0x0030 (incorrect -> 0x221c), seq 3718178884,
// ack 3326317369, win 65464, options [mss 65476,sackOK,TS val 1218535246 ecr 3626845420,nop,wscale 10]".
const V6_SYN_ACK: &str = "600391b9002806400000000000000000000000000000000100000000000000000000000000000001\
                          b26c952edd9ee844c6439339a012ffb8003000000204ffc40402080a48a15f4ed82d44ec0103030a";
// IPv6 data: "Flags [P.], cksum 0x0034 (incorrect -> 0xb224), seq 1:13, ack 1, win 64,
// options [nop,nop,TS val 3626845520 ecr 1218535246], length 12" carrying "hello oxtcp\n".
const V6_DATA: &str = "6000a683002c06400000000000000000000000000000000100000000000000000000000000000001\
                       952eb26cc6439339dd9ee84580180040003400000101080ad82d455048a15f4e68656c6c6f206f787463700a";

fn hex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    assert_eq!(digits.len() % 2, 0);
    digits
        .chunks(2)
        .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
        .collect()
}

/// Splits a captured datagram into IP header length, source and destination.
fn ip_of(packet: &[u8]) -> (usize, IpAddr, IpAddr) {
    if packet[0] >> 4 == 4 {
        let p = Ipv4Packet::new_checked(packet).unwrap();
        (p.header_len(), p.src_addr().into(), p.dst_addr().into())
    } else {
        let p = Ipv6Packet::new_checked(packet).unwrap();
        (40, p.src_addr().into(), p.dst_addr().into())
    }
}

/// Checks Linux's partial loopback checksum and returns the packet with the full one filled in.
fn completed(raw: &[u8], tcpdump_correct: u16) -> Vec<u8> {
    let mut packet = raw.to_vec();
    let (hl, src, dst) = ip_of(&packet);
    let seg_len = (packet.len() - hl) as u32;
    let mut tcp = TcpPacket::new_checked(&mut packet[hl..]).unwrap();
    // CHECKSUM_PARTIAL leaves the folded, uncomplemented pseudo-header sum in the field.
    let pseudo = checksum::pseudo_header(src, dst, IP_PROTO_TCP, seg_len);
    assert_eq!(tcp.checksum(), !checksum::fold(pseudo), "partial checksum");
    assert!(!tcp.verify_checksum(src, dst));
    tcp.fill_checksum(src, dst);
    assert_eq!(
        tcp.checksum(),
        tcpdump_correct,
        "tcpdump's computed checksum"
    );
    assert!(tcp.verify_checksum(src, dst));
    packet
}

/// Re-emits a parsed segment layer by layer and checks it reproduces `packet` exactly.
fn assert_reemits_exactly(packet: &[u8], seg: &Segment<'_>) {
    let mut out = vec![0u8; packet.len()];
    let hl = seg.ip.header_len();
    let n = seg
        .tcp
        .emit(&mut out[hl..], seg.ip.src(), seg.ip.dst(), &[seg.payload])
        .unwrap();
    assert_eq!(hl + n, packet.len());
    match seg.ip {
        IpRepr::V4(r) => r.emit(&mut out).unwrap(),
        IpRepr::V6(r) => {
            r.emit(&mut out).unwrap();
            // Ipv6Repr carries no flow label; copy Linux's per-connection label across.
            let label = Ipv6Packet::new_unchecked(packet).flow_label();
            Ipv6Packet::new_unchecked(&mut out[..]).set_flow_label(label);
        }
    }
    assert_eq!(out, packet);
}

const LO4: Ipv4Addr = Ipv4Addr::LOCALHOST;
const LO6: Ipv6Addr = Ipv6Addr::LOCALHOST;

fn v4(seg: &Segment<'_>) -> Ipv4Repr {
    match seg.ip {
        IpRepr::V4(r) => r,
        IpRepr::V6(_) => panic!("expected IPv4"),
    }
}

fn v6(seg: &Segment<'_>) -> Ipv6Repr {
    match seg.ip {
        IpRepr::V6(r) => r,
        IpRepr::V4(_) => panic!("expected IPv6"),
    }
}

fn syn_options(mss: u16, tsval: u32, tsecr: u32) -> TcpOptions {
    TcpOptions {
        mss: Some(mss),
        window_scale: Some(10),
        sack_permitted: true,
        sack_blocks: SackBlocks::new(),
        timestamps: Some(Timestamps { tsval, tsecr }),
    }
}

#[test]
fn linux_v4_syn_parses_and_reemits_exactly() {
    let raw = hex(V4_SYN);
    assert_eq!(parse_packet(&raw), Err(oxtcp_wire::Error::BadChecksum));
    let packet = completed(&raw, 0xcfe2);
    assert!(Ipv4Packet::new_checked(&packet[..])
        .unwrap()
        .verify_checksum());
    let seg = parse_packet(&packet).unwrap();
    assert_eq!(
        v4(&seg),
        Ipv4Repr {
            src: LO4,
            dst: LO4,
            protocol: 6,
            ttl: 64,
            ident: 44191,
            dont_frag: true,
            payload_len: 40
        }
    );
    assert_eq!(
        seg.tcp,
        TcpRepr {
            src_port: 36780,
            dst_port: 45674,
            seq: 2810868109,
            ack: 0,
            flags: TcpFlags::SYN,
            window: 65495,
            urgent: 0,
            options: syn_options(65495, 2575010673, 0),
        }
    );
    assert!(seg.payload.is_empty());
    assert_reemits_exactly(&packet, &seg);
}

#[test]
fn linux_v4_syn_ack_parses_and_reemits_exactly() {
    let packet = completed(&hex(V4_SYN_ACK), 0x86cc);
    let seg = parse_packet(&packet).unwrap();
    let ip = v4(&seg);
    assert_eq!(
        (ip.src, ip.dst, ip.ttl, ip.ident, ip.dont_frag),
        (LO4, LO4, 64, 0, true)
    );
    assert_eq!(
        seg.tcp,
        TcpRepr {
            src_port: 45674,
            dst_port: 36780,
            seq: 17028775,
            ack: 2810868110,
            flags: TcpFlags::SYN | TcpFlags::ACK,
            window: 65483,
            urgent: 0,
            options: syn_options(65495, 4280709695, 2575010673),
        }
    );
    assert_reemits_exactly(&packet, &seg);
    // Linux sends the SYN-ACK with ident 0 and DF, exactly what emit_packet writes.
    let mut out = [0u8; 60];
    let n = emit_packet(&mut out, LO4.into(), LO4.into(), 64, &seg.tcp, &[]).unwrap();
    assert_eq!(&out[..n], &packet[..]);
}

#[test]
fn linux_v4_data_segment_parses_and_reemits_exactly() {
    let packet = completed(&hex(V4_DATA), 0x16fb);
    let seg = parse_packet(&packet).unwrap();
    let ip = v4(&seg);
    assert_eq!((ip.ident, ip.payload_len), (44193, 44));
    assert_eq!(
        seg.tcp,
        TcpRepr {
            src_port: 36780,
            dst_port: 45674,
            seq: 2810868110,
            ack: 17028776,
            flags: TcpFlags::PSH | TcpFlags::ACK,
            window: 64,
            urgent: 0,
            options: TcpOptions {
                timestamps: Some(Timestamps {
                    tsval: 2575010773,
                    tsecr: 4280709695
                }),
                ..TcpOptions::default()
            },
        }
    );
    assert_eq!(seg.payload, b"hello oxtcp\n");
    assert_reemits_exactly(&packet, &seg);
}

#[test]
fn linux_v4_fully_checksummed_ack_verifies_as_captured() {
    let packet = hex(V4_LAST_ACK);
    let seg = parse_packet(&packet).unwrap();
    assert_eq!(seg.tcp.flags, TcpFlags::ACK);
    assert_eq!((seg.tcp.src_port, seg.tcp.dst_port), (45674, 36780));
    assert_eq!((seg.tcp.seq, seg.tcp.ack), (17028780, 2810868123));
    assert_eq!(
        seg.tcp.options.timestamps,
        Some(Timestamps {
            tsval: 4280710098,
            tsecr: 2575011076
        })
    );
    let mut out = [0u8; 52];
    let n = emit_packet(&mut out, LO4.into(), LO4.into(), 64, &seg.tcp, &[]).unwrap();
    assert_eq!(&out[..n], &packet[..]);
    assert_eq!(&out[36..38], &[0xac, 0x14]);
}

#[test]
fn linux_v6_syn_parses_and_reemits_exactly() {
    let raw = hex(V6_SYN);
    assert_eq!(parse_packet(&raw), Err(oxtcp_wire::Error::BadChecksum));
    let packet = completed(&raw, 0x8ff4);
    let seg = parse_packet(&packet).unwrap();
    assert_eq!(
        v6(&seg),
        Ipv6Repr {
            src: LO6,
            dst: LO6,
            next_header: 6,
            hop_limit: 64,
            payload_len: 40
        }
    );
    let view = Ipv6Packet::new_checked(&packet[..]).unwrap();
    assert_eq!((view.traffic_class(), view.flow_label()), (0, 0x0a683));
    assert_eq!(
        seg.tcp,
        TcpRepr {
            src_port: 38190,
            dst_port: 45676,
            seq: 3326317368,
            ack: 0,
            flags: TcpFlags::SYN,
            window: 65476,
            urgent: 0,
            options: syn_options(65476, 3626845420, 0),
        }
    );
    assert_reemits_exactly(&packet, &seg);
}

#[test]
fn linux_v6_syn_ack_parses_and_reemits_exactly() {
    let packet = completed(&hex(V6_SYN_ACK), 0x221c);
    let seg = parse_packet(&packet).unwrap();
    assert_eq!(v6(&seg).hop_limit, 64);
    assert_eq!(
        seg.tcp,
        TcpRepr {
            src_port: 45676,
            dst_port: 38190,
            seq: 3718178884,
            ack: 3326317369,
            flags: TcpFlags::SYN | TcpFlags::ACK,
            window: 65464,
            urgent: 0,
            options: syn_options(65476, 1218535246, 3626845420),
        }
    );
    assert_reemits_exactly(&packet, &seg);
}

#[test]
fn linux_v6_data_segment_parses_and_reemits_exactly() {
    let packet = completed(&hex(V6_DATA), 0xb224);
    let seg = parse_packet(&packet).unwrap();
    assert_eq!(v6(&seg).payload_len, 44);
    assert_eq!(
        seg.tcp,
        TcpRepr {
            src_port: 38190,
            dst_port: 45676,
            seq: 3326317369,
            ack: 3718178885,
            flags: TcpFlags::PSH | TcpFlags::ACK,
            window: 64,
            urgent: 0,
            options: TcpOptions {
                timestamps: Some(Timestamps {
                    tsval: 3626845520,
                    tsecr: 1218535246
                }),
                ..TcpOptions::default()
            },
        }
    );
    assert_eq!(seg.payload, b"hello oxtcp\n");
    assert_reemits_exactly(&packet, &seg);
}

#[test]
fn linux_syn_option_bytes_match_emit_layout() {
    let packet = hex(V4_SYN);
    let tcp = TcpPacket::new_checked(&packet[20..]).unwrap();
    let options = TcpOptions::parse(tcp.options()).unwrap();
    let mut out = [0u8; 40];
    let n = options.emit(&mut out);
    assert_eq!(n, options.emit_len());
    assert_eq!(&out[..n], tcp.options());
}
