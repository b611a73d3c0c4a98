//! Property tests: `parse(emit(x)) == x` for every representation, and for whole packets.

mod common;

use std::net::{Ipv4Addr, Ipv6Addr};

use common::*;
use oxtcp_wire::{
    checksum, emit_headers_offloaded, emit_packet, emit_packet_with, parse_packet,
    parse_packet_with, Checksum, IpRepr, Ipv4Packet, Ipv4Repr, Ipv6Packet, Ipv6Repr, TcpOptions,
    TcpPacket, TcpRepr,
};
use proptest::prelude::*;

proptest! {
    #[test]
    fn tcp_options_roundtrip(o in tcp_options()) {
        let len = o.emit_len();
        prop_assert!(len <= 40);
        prop_assert_eq!(len % 4, 0);
        let mut buf = [0u8; 40];
        prop_assert_eq!(o.emit(&mut buf), len);
        prop_assert_eq!(TcpOptions::parse(&buf[..len]).unwrap(), expected_after_emit(&o));
    }

    #[test]
    fn tcp_options_emit_into_short_buffer_stays_in_bounds(o in tcp_options(), cut in 0usize..40) {
        let mut buf = [0xeeu8; 40];
        let cut = cut.min(o.emit_len());
        let n = o.emit(&mut buf[..cut]);
        prop_assert!(n <= cut);
        prop_assert!(buf[cut..].iter().all(|&b| b == 0xee));
        prop_assert!(TcpOptions::parse(&buf[..n]).is_ok());
    }

    #[test]
    fn tcp_repr_roundtrip(repr in tcp_repr(), (data, cuts) in payload(), (src, dst) in addr_pair()) {
        let parts = split(&data, &cuts);
        let mut buf = vec![0u8; 60 + data.len()];
        let n = repr.emit(&mut buf, src, dst, &parts).unwrap();
        prop_assert_eq!(n, repr.header_len() + data.len());
        let (back, payload) = TcpRepr::parse(&buf[..n]).unwrap();
        let mut want = repr;
        want.options = expected_after_emit(&repr.options);
        prop_assert_eq!(back, want);
        prop_assert_eq!(payload, &data[..]);
        prop_assert!(TcpPacket::new_checked(&buf[..n]).unwrap().verify_checksum(src, dst));
    }

    #[test]
    fn headers_for_a_gathered_write_are_those_of_the_whole_offloaded_datagram(
        repr in fitting_tcp_repr(), (data, _) in payload(), (src, dst) in addr_pair(), ttl: u8
    ) {
        let mut whole = vec![0u8; 100 + data.len()];
        let n = emit_packet_with(&mut whole, src, dst, ttl, &repr, &[&data], Checksum::Offloaded)
            .unwrap();
        let mut headers = [0u8; 100];
        let h = emit_headers_offloaded(&mut headers, src, dst, ttl, &repr, data.len()).unwrap();
        prop_assert_eq!(h + data.len(), n);
        prop_assert_eq!(&headers[..h], &whole[..h]);
        prop_assert_eq!(&whole[h..n], &data[..]);
    }

    #[test]
    fn tcp_repr_emit_short_buffer_is_buffer_too_small(
        repr in tcp_repr(), (data, _) in payload(), short in 1usize..100, (src, dst) in addr_pair()
    ) {
        let need = repr.header_len() + data.len();
        let mut buf = vec![0u8; need.saturating_sub(short)];
        prop_assert_eq!(
            repr.emit(&mut buf, src, dst, &[&data]),
            Err(oxtcp_wire::Error::BufferTooSmall)
        );
    }

    #[test]
    fn ipv4_repr_roundtrip(
        addrs in any::<([u8; 4], [u8; 4])>(),
        (protocol, ttl, ident, dont_frag) in any::<(u8, u8, u16, bool)>(),
        payload_len in 0usize..=65515,
    ) {
        let repr = Ipv4Repr {
            src: Ipv4Addr::from(addrs.0),
            dst: Ipv4Addr::from(addrs.1),
            protocol,
            ttl,
            ident,
            dont_frag,
            payload_len,
        };
        let mut buf = vec![0u8; 20 + payload_len];
        repr.emit(&mut buf).unwrap();
        let packet = Ipv4Packet::new_checked(&buf[..]).unwrap();
        prop_assert_eq!(Ipv4Repr::parse(&packet).unwrap(), repr);
        prop_assert_eq!(packet.payload().len(), payload_len);
    }

    #[test]
    fn ipv6_repr_roundtrip(
        addrs in any::<([u8; 16], [u8; 16])>(),
        (next_header, hop_limit) in any::<(u8, u8)>(),
        payload_len in 0usize..=65535,
    ) {
        let repr = Ipv6Repr {
            src: Ipv6Addr::from(addrs.0),
            dst: Ipv6Addr::from(addrs.1),
            next_header,
            hop_limit,
            payload_len,
        };
        let mut buf = vec![0u8; 40 + payload_len];
        repr.emit(&mut buf).unwrap();
        let packet = Ipv6Packet::new_checked(&buf[..]).unwrap();
        prop_assert_eq!(Ipv6Repr::parse(&packet).unwrap(), repr);
        prop_assert_eq!(packet.payload().len(), payload_len);
    }

    #[test]
    fn full_packet_roundtrip_both_families(
        repr in fitting_tcp_repr(),
        (data, cuts) in payload(),
        (src, dst) in addr_pair(),
        hop_limit in any::<u8>(),
        padding in 0usize..8,
    ) {
        let parts = split(&data, &cuts);
        let mut buf = vec![0u8; 110 + data.len()];
        let n = emit_packet(&mut buf, src, dst, hop_limit, &repr, &parts).unwrap();
        let ip_len = if src.is_ipv4() { 20 } else { 40 };
        prop_assert_eq!(n, ip_len + repr.header_len() + data.len());
        // Link-layer padding after the datagram must be ignored.
        let seg = parse_packet(&buf[..n + padding]).unwrap();
        prop_assert_eq!(seg.tcp, repr);
        prop_assert_eq!(seg.payload, &data[..]);
        prop_assert_eq!((seg.ip.src(), seg.ip.dst()), (src, dst));
        prop_assert_eq!(seg.ip.hop_limit(), hop_limit);
        prop_assert_eq!(seg.ip.header_len(), ip_len);
        match seg.ip {
            IpRepr::V4(ip) => {
                prop_assert_eq!((ip.ident, ip.dont_frag, ip.protocol), (0, true, 6));
                prop_assert_eq!(ip.payload_len, n - 20);
            }
            IpRepr::V6(ip) => {
                prop_assert_eq!(ip.next_header, 6);
                prop_assert_eq!(ip.payload_len, n - 40);
            }
        }
    }

    /// Checksum offload: a datagram emitted with its checksum left to the device is, once a
    /// device completes it the virtio-net way (the ones' complement of the sum from the TCP
    /// header on, field included), the datagram emitted with the checksum computed; and parsing
    /// it as it leaves, with the checksum vouched for, gives the same segment.
    #[test]
    fn an_offloaded_checksum_completed_by_the_device_is_the_computed_one(
        repr in fitting_tcp_repr(),
        (data, cuts) in payload(),
        (src, dst) in addr_pair(),
    ) {
        let parts = split(&data, &cuts);
        let mut computed = vec![0u8; 110 + data.len()];
        let n = emit_packet(&mut computed, src, dst, 64, &repr, &parts).unwrap();
        let mut offloaded = vec![0u8; 110 + data.len()];
        let m = emit_packet_with(&mut offloaded, src, dst, 64, &repr, &parts, Checksum::Offloaded)
            .unwrap();
        prop_assert_eq!(m, n);
        let vouched = parse_packet_with(&offloaded[..m], Checksum::Offloaded).unwrap();
        prop_assert_eq!(vouched, parse_packet(&computed[..n]).unwrap());

        let start = if src.is_ipv4() { 20 } else { 40 };
        let at = start + 16;
        let sum = checksum::fold(checksum::sum(&offloaded[start..m]));
        offloaded[at..at + 2].copy_from_slice(&sum.to_be_bytes());
        prop_assert_eq!(&offloaded[..m], &computed[..n]);
    }

    #[test]
    fn emit_packet_short_buffer_is_buffer_too_small(
        repr in tcp_repr(), (src, dst) in addr_pair(), short in 1usize..80
    ) {
        let ip_len = if src.is_ipv4() { 20 } else { 40 };
        let need = ip_len + repr.header_len();
        let mut buf = vec![0u8; need.saturating_sub(short)];
        prop_assert_eq!(
            emit_packet(&mut buf, src, dst, 64, &repr, &[]),
            Err(oxtcp_wire::Error::BufferTooSmall)
        );
    }
}

#[test]
fn emit_packet_with_mixed_families_is_address_family_mismatch() {
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
    let mut buf = [0u8; 100];
    let v4 = Ipv4Addr::LOCALHOST.into();
    let v6 = Ipv6Addr::LOCALHOST.into();
    for (s, d) in [(v4, v6), (v6, v4)] {
        assert_eq!(
            emit_packet(&mut buf, s, d, 64, &repr, &[]),
            Err(oxtcp_wire::Error::AddressFamilyMismatch)
        );
    }
}

#[test]
fn emit_packet_v4_segment_too_long_for_total_length_is_bad_total_len() {
    let repr = TcpRepr {
        src_port: 1,
        dst_port: 2,
        seq: 0,
        ack: 0,
        flags: oxtcp_wire::TcpFlags::ACK,
        window: 0,
        urgent: 0,
        options: TcpOptions::default(),
    };
    let data = vec![0u8; 65535 - 40 + 1];
    let mut buf = vec![0u8; 70_000];
    let v4 = Ipv4Addr::LOCALHOST.into();
    assert_eq!(
        emit_packet(&mut buf, v4, v4, 64, &repr, &[&data]),
        Err(oxtcp_wire::Error::BadTotalLen)
    );
    assert_eq!(
        emit_packet(&mut buf, v4, v4, 64, &repr, &[&data[1..]]),
        Ok(65535)
    );
}

/// A vouched-for checksum is not verified, but every other check still applies: the IPv4
/// header checksum, and the structure.
#[test]
fn an_offloaded_checksum_is_not_verified_but_the_rest_is() {
    let repr = TcpRepr {
        src_port: 40_000,
        dst_port: 80,
        seq: 1,
        ack: 2,
        flags: oxtcp_wire::TcpFlags::ACK,
        window: 512,
        urgent: 0,
        options: TcpOptions::default(),
    };
    let (src, dst) = (
        Ipv4Addr::new(10, 0, 0, 1).into(),
        Ipv4Addr::new(10, 0, 0, 2).into(),
    );
    let mut buf = [0u8; 64];
    let n = emit_packet(&mut buf, src, dst, 64, &repr, &[b"data"]).unwrap();
    let mut pkt = buf[..n].to_vec();
    pkt[20 + 16] ^= 0xff;
    assert_eq!(parse_packet(&pkt), Err(oxtcp_wire::Error::BadChecksum));
    let seg = parse_packet_with(&pkt, Checksum::Offloaded).unwrap();
    assert_eq!((seg.tcp.seq, seg.payload), (1, &b"data"[..]));

    let mut bad_ip = pkt.clone();
    bad_ip[10] ^= 0xff;
    assert!(
        parse_packet_with(&bad_ip, Checksum::Offloaded).is_err(),
        "IPv4 header checksum"
    );
    let mut bad_offset = pkt;
    bad_offset[20 + 12] = 0x40;
    assert!(
        parse_packet_with(&bad_offset, Checksum::Offloaded).is_err(),
        "data offset 4"
    );
}
