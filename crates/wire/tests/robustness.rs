//! Property tests: arbitrary and corrupted input never panics, and corruption is reported.

mod common;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use common::*;
use oxtcp_wire::{
    emit_packet, parse_packet, Error, IpRepr, Ipv4Packet, Ipv4Repr, Ipv6Packet, Ipv6Repr,
    TcpOptionIter, TcpOptions, TcpPacket, TcpRepr,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

/// Reads every accessor of an IPv4 view; the values are irrelevant, only that none panics.
fn touch_ipv4<T: AsRef<[u8]>>(p: &Ipv4Packet<T>) {
    let _ = (
        p.version(),
        p.header_len(),
        p.tos(),
        p.total_len(),
        p.ident(),
    );
    let _ = (
        p.dont_frag(),
        p.more_frags(),
        p.frag_offset(),
        p.ttl(),
        p.protocol(),
    );
    let _ = (
        p.checksum(),
        p.src_addr(),
        p.dst_addr(),
        p.verify_checksum(),
    );
    let _ = p.payload().len();
    let _ = Ipv4Repr::parse(p);
}

fn touch_ipv6<T: AsRef<[u8]>>(p: &Ipv6Packet<T>) {
    let _ = (
        p.version(),
        p.traffic_class(),
        p.flow_label(),
        p.payload_len(),
    );
    let _ = (p.next_header(), p.hop_limit(), p.src_addr(), p.dst_addr());
    let _ = p.payload().len();
    let _ = Ipv6Repr::parse(p);
}

fn touch_tcp<T: AsRef<[u8]>>(p: &TcpPacket<T>) {
    let _ = (p.src_port(), p.dst_port(), p.seq_number(), p.ack_number());
    let _ = (
        p.header_len(),
        p.flags(),
        p.window(),
        p.checksum(),
        p.urgent_ptr(),
    );
    let _ = (p.options().len(), p.payload().len());
    let _ = p.option_iter().count();
    let lo4 = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let lo6 = IpAddr::V6(Ipv6Addr::LOCALHOST);
    let _ = (p.verify_checksum(lo4, lo4), p.verify_checksum(lo6, lo4));
}

/// Every setter on an unchecked view of arbitrary (possibly tiny) buffers.
fn poke_all(bytes: &[u8]) {
    let mut b = bytes.to_vec();
    let mut p = Ipv4Packet::new_unchecked(&mut b[..]);
    p.set_version(4);
    p.set_header_len(60);
    p.set_total_len(70_000);
    p.set_frag_offset(0xffff);
    p.set_dont_frag(true);
    p.set_more_frags(true);
    p.fill_checksum();
    let _ = p.payload_mut().len();
    touch_ipv4(&p);

    let mut b = bytes.to_vec();
    let mut p = Ipv6Packet::new_unchecked(&mut b[..]);
    p.set_payload_len(usize::MAX);
    p.set_flow_label(u32::MAX);
    p.set_src_addr(Ipv6Addr::LOCALHOST);
    let _ = p.payload_mut().len();
    touch_ipv6(&p);

    let mut b = bytes.to_vec();
    let mut p = TcpPacket::new_unchecked(&mut b[..]);
    p.set_header_len(usize::MAX);
    p.set_seq_number(1);
    p.fill_checksum(Ipv4Addr::LOCALHOST.into(), Ipv6Addr::LOCALHOST.into());
    let _ = (p.options_mut().len(), p.payload_mut().len());
    touch_tcp(&p);
}

/// Feeds `bytes` to every parser and view.
fn parse_everything(bytes: &[u8]) {
    let _ = parse_packet(bytes);
    if let Ok((_, payload)) = TcpRepr::parse(bytes) {
        assert!(payload.len() <= bytes.len());
    }
    let _ = TcpOptions::parse(bytes);
    for item in TcpOptionIter::new(bytes) {
        let _ = item;
    }
    touch_ipv4(&Ipv4Packet::new_unchecked(bytes));
    if let Ok(p) = Ipv4Packet::new_checked(bytes) {
        touch_ipv4(&p);
    }
    touch_ipv6(&Ipv6Packet::new_unchecked(bytes));
    if let Ok(p) = Ipv6Packet::new_checked(bytes) {
        touch_ipv6(&p);
    }
    touch_tcp(&TcpPacket::new_unchecked(bytes));
    if let Ok(p) = TcpPacket::new_checked(bytes) {
        touch_tcp(&p);
    }
    poke_all(bytes);
}

/// Emits a valid packet for the given inputs.
fn emitted(repr: &TcpRepr, data: &[u8], src: IpAddr, dst: IpAddr) -> Vec<u8> {
    let mut buf = vec![0u8; 100 + data.len()];
    let n = emit_packet(&mut buf, src, dst, 64, repr, &[data]).unwrap();
    buf.truncate(n);
    buf
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..120)) {
        parse_everything(&bytes);
    }

    #[test]
    fn arbitrary_bytes_behind_ip_version_nibbles_never_panic(
        first in prop::sample::select(vec![0x45u8, 0x46, 0x4f, 0x60, 0x61, 0x44, 0x00]),
        mut bytes in prop::collection::vec(any::<u8>(), 0..120),
    ) {
        bytes.insert(0, first);
        parse_everything(&bytes);
    }

    #[test]
    fn arbitrary_option_areas_never_panic(bytes in prop::collection::vec(
        prop_oneof![Just(0u8), Just(1), Just(2), Just(3), Just(4), Just(5), Just(8), any::<u8>()],
        0..48,
    )) {
        if let Ok(o) = TcpOptions::parse(&bytes) {
            // Whatever parses can be emitted within the 40-byte option area.
            let mut out = [0u8; 40];
            prop_assert_eq!(o.emit(&mut out), o.emit_len());
        }
        prop_assert_eq!(
            TcpOptionIter::new(&bytes).any(|i| i.is_err()),
            TcpOptions::parse(&bytes).is_err()
        );
    }

    #[test]
    fn corrupted_valid_packets_never_panic(
        repr in tcp_repr(),
        data in prop::collection::vec(any::<u8>(), 0..64),
        (src, dst) in addr_pair(),
        edits in prop::collection::vec((any::<usize>(), any::<u8>()), 1..6),
        cut in any::<usize>(),
    ) {
        let mut packet = emitted(&repr, &data, src, dst);
        for (at, value) in edits {
            let len = packet.len();
            packet[at % len] = value;
        }
        let cut = cut % (packet.len() + 1);
        parse_everything(&packet[..cut]);
        parse_everything(&packet);
    }

    #[test]
    fn truncated_packets_are_rejected(
        repr in tcp_repr(),
        data in prop::collection::vec(any::<u8>(), 0..64),
        (src, dst) in addr_pair(),
        cut in any::<usize>(),
    ) {
        let packet = emitted(&repr, &data, src, dst);
        let cut = cut % packet.len();
        prop_assert!(parse_packet(&packet[..cut]).is_err());
    }
}

proptest! {
    // A fixed seed keeps this reproducible: a shortened IPv6 payload length is caught by the
    // TCP checksum only with probability 1 - 2^-16, so a random seed could, very rarely,
    // find a genuine checksum collision and fail for reasons that are not a bug.
    #![proptest_config(Config {
        rng_seed: RngSeed::Fixed(0x0c7c_b17f),
        cases: 128,
        ..Config::default()
    })]

    #[test]
    fn any_flipped_bit_is_reported(
        repr in tcp_repr(),
        data in prop::collection::vec(any::<u8>(), 0..64),
        (src, dst) in addr_pair(),
    ) {
        let packet = emitted(&repr, &data, src, dst);
        let original = parse_packet(&packet).unwrap();
        for bit in 0..packet.len() * 8 {
            let mut bad = packet.clone();
            bad[bit / 8] ^= 1 << (bit % 8);
            let result = parse_packet(&bad);
            let byte = bit / 8;
            // RFC 8200 gives IPv6 no header checksum, and traffic class, flow label and hop
            // limit are outside the TCP pseudo-header: a flip there cannot be detected, so
            // it must parse with only that field changed.
            let unprotected_v6 = matches!(original.ip, IpRepr::V6(_))
                && ((byte == 0 && bit % 8 < 4) || (1..4).contains(&byte) || byte == 7);
            if unprotected_v6 {
                let seg = result.unwrap();
                prop_assert_eq!(seg.tcp, original.tcp);
                prop_assert_eq!(seg.payload, original.payload);
            } else {
                prop_assert!(result.is_err(), "flip of bit {} went unnoticed", bit);
            }
        }
    }
}

#[test]
fn flipped_tcp_bit_is_bad_checksum() {
    let repr = TcpRepr {
        src_port: 1000,
        dst_port: 80,
        seq: 7,
        ack: 9,
        flags: oxtcp_wire::TcpFlags::ACK,
        window: 100,
        urgent: 0,
        options: TcpOptions::default(),
    };
    let lo = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let mut packet = emitted(&repr, b"payload", lo, lo);
    // Data offset nibble: corrupted header length is still counted as a checksum failure.
    packet[20 + 12] ^= 0x10;
    assert_eq!(parse_packet(&packet), Err(Error::BadChecksum));
}

#[test]
fn non_tcp_protocol_is_not_tcp() {
    let mut buf = [0u8; 40];
    let ip = Ipv4Repr {
        src: Ipv4Addr::LOCALHOST,
        dst: Ipv4Addr::LOCALHOST,
        protocol: 17,
        ttl: 64,
        ident: 0,
        dont_frag: true,
        payload_len: 20,
    };
    ip.emit(&mut buf).unwrap();
    assert_eq!(parse_packet(&buf), Err(Error::NotTcp));

    let mut buf = [0u8; 60];
    let ip6 = Ipv6Repr {
        src: Ipv6Addr::LOCALHOST,
        dst: Ipv6Addr::LOCALHOST,
        next_header: 0, // hop-by-hop options: extension headers are not walked
        hop_limit: 64,
        payload_len: 20,
    };
    ip6.emit(&mut buf).unwrap();
    assert_eq!(parse_packet(&buf), Err(Error::NotTcp));
}

#[test]
fn empty_packet_is_truncated_and_other_versions_are_bad_version() {
    assert_eq!(parse_packet(&[]), Err(Error::Truncated));
    assert_eq!(parse_packet(&[0x50; 60]), Err(Error::BadVersion));
    assert_eq!(parse_packet(&[0x00]), Err(Error::BadVersion));
    assert_eq!(parse_packet(&[0x45; 10]), Err(Error::Truncated));
}

#[test]
fn tcp_segment_shorter_than_header_is_truncated() {
    let mut buf = [0u8; 30];
    let ip = Ipv4Repr {
        src: Ipv4Addr::LOCALHOST,
        dst: Ipv4Addr::LOCALHOST,
        protocol: 6,
        ttl: 64,
        ident: 0,
        dont_frag: true,
        payload_len: 10,
    };
    ip.emit(&mut buf).unwrap();
    assert_eq!(parse_packet(&buf), Err(Error::Truncated));
}

#[test]
fn fragment_is_fragmented() {
    let repr = TcpRepr {
        src_port: 1,
        dst_port: 2,
        seq: 0,
        ack: 0,
        flags: oxtcp_wire::TcpFlags::SYN,
        window: 0,
        urgent: 0,
        options: TcpOptions::default(),
    };
    let lo = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let mut packet = emitted(&repr, b"", lo, lo);
    let mut p = Ipv4Packet::new_unchecked(&mut packet[..]);
    p.set_more_frags(true);
    p.fill_checksum();
    assert_eq!(parse_packet(&packet), Err(Error::Fragmented));
}
