//! A transmit buffer of exactly the MTU holds full-sized segments: the payload is the MSS
//! less the options each segment carries (RFC 6691 §2), and the headers are those the
//! segment's IP version and options need, not the largest any segment could have.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::Pair;
use oxtcp_core::{ConnId, State};

/// The MTU of both stacks (the default) and the size of every transmit buffer here.
const MTU: usize = 1500;

/// Datagrams `s` emits into buffers of exactly the MTU.
fn take_mtu(s: &mut oxtcp_core::Stack, now: oxtcp_core::Instant) -> Vec<Vec<u8>> {
    let mut buf = vec![0u8; MTU];
    let mut out = Vec::new();
    while let Some(n) = s.poll_transmit(now, &mut buf) {
        assert!(n <= MTU, "a datagram of {n} bytes from a {MTU}-byte buffer");
        out.push(buf[..n].to_vec());
    }
    out
}

/// (IP header, TCP header with options, payload) lengths of an IPv4 or IPv6 TCP datagram.
fn lengths(d: &[u8]) -> (usize, usize, usize) {
    let ip = match d[0] >> 4 {
        4 => usize::from(d[0] & 0x0f) * 4,
        6 => 40,
        v => panic!("IP version {v}"),
    };
    let tcp = usize::from(d[ip + 12] >> 4) * 4;
    (ip, tcp, d.len() - ip - tcp)
}

/// A connected pair between `a_ip` and `b_ip`: (pair, A's connection, B's connection).
fn connected(a_ip: &str, b_ip: &str, server: &str) -> (Pair, ConnId, ConnId) {
    let mut p = Pair::with_addresses(a_ip, b_ip);
    let server: SocketAddr = server.parse().unwrap();
    let l = p.b.listen(server, 8).unwrap();
    let c = p.a.connect(p.now, server).unwrap();
    p.exchange();
    assert_eq!(p.a.state(c), Some(State::Established));
    let s = p.b.accept(l).unwrap();
    (p, c, s)
}

/// A sends `n` bytes; returns the payload lengths of A's data datagrams, each emitted into a
/// buffer of exactly the MTU and checked to be one IP header, one TCP header with the
/// Timestamps option, and the payload.
fn data_sizes(p: &mut Pair, c: ConnId, n: usize, ip_header: usize) -> Vec<usize> {
    let data = vec![7u8; n];
    assert_eq!(p.a.send(c, &data).unwrap(), n);
    let mut sizes = Vec::new();
    for d in take_mtu(&mut p.a, p.now) {
        let (ip, tcp, payload) = lengths(&d);
        assert_eq!((ip, tcp), (ip_header, 20 + 12), "headers of {d:?}");
        sizes.push(payload);
    }
    sizes
}

#[test]
fn ipv4_segments_carry_the_mss_less_timestamps_in_an_mtu_buffer() {
    let (mut p, c, _) = connected("10.0.0.1", "10.0.0.2", "10.0.0.2:80");
    // MSS 1460 (RFC 9293 §3.7.1) less the 12 bytes of the Timestamps option: 1448. The
    // initial window (RFC 5681: 10 segments here) bounds how many leave at once.
    let sizes = data_sizes(&mut p, c, 4 * 1448 + 100, 20);
    assert_eq!(sizes, [1448, 1448, 1448, 1448, 100]);
}

#[test]
fn ipv6_segments_carry_the_mss_less_timestamps_in_an_mtu_buffer() {
    let (mut p, c, _) = connected("fd00::1", "fd00::2", "[fd00::2]:80");
    // MSS 1440 less 12: 1428, and the datagram is 1500 bytes with its 40-byte header.
    let sizes = data_sizes(&mut p, c, 3 * 1428, 40);
    assert_eq!(sizes, [1428, 1428, 1428]);
}

#[test]
fn segments_with_sack_blocks_give_them_room_and_still_fit() {
    let (mut p, c, s) = connected("10.0.0.1", "10.0.0.2", "10.0.0.2:80");
    // B holds data out of order: A's first segment is lost, the other two arrive.
    let data = vec![1u8; 3 * 1448];
    p.a.send(c, &data).unwrap();
    let from_a = take_mtu(&mut p.a, p.now);
    assert_eq!(from_a.len(), 3);
    for d in &from_a[1..] {
        p.b.handle_packet(p.now, d);
    }
    let acks = take_mtu(&mut p.b, p.now);
    assert!(!acks.is_empty(), "B acknowledges the out-of-order data");
    // Now B sends: each of its data segments reports one SACK block (4 + 8 bytes), so it
    // carries 12 bytes less than a full segment, and still fills the buffer exactly.
    let reply = vec![2u8; 3000];
    assert_eq!(p.b.send(s, &reply).unwrap(), 3000);
    let mut sizes = Vec::new();
    let from_b = take_mtu(&mut p.b, p.now);
    for d in &from_b {
        let (_, tcp, payload) = lengths(d);
        if payload > 0 {
            assert_eq!(tcp, 20 + 12 + 12, "Timestamps and one SACK block");
            assert_eq!(d.len(), MTU.min(20 + tcp + payload));
            sizes.push(payload);
        }
    }
    assert_eq!(sizes, [1436, 1436, 128]);
    // Everything arrives once the hole is filled.
    for d in &from_b {
        p.a.handle_packet(p.now, d);
    }
    p.b.handle_packet(p.now, &from_a[0]);
    p.exchange();
    let mut got = vec![0u8; 8000];
    assert_eq!(p.b.recv(s, &mut got).unwrap(), 3 * 1448);
    assert_eq!(p.a.recv(c, &mut got).unwrap(), 3000);
}

#[test]
fn retransmissions_fill_an_mtu_buffer_too() {
    let (mut p, c, _) = connected("10.0.0.1", "10.0.0.2", "10.0.0.2:80");
    p.a.send(c, &[9u8; 5 * 1448]).unwrap();
    let from_a = take_mtu(&mut p.a, p.now);
    assert_eq!(from_a.len(), 5);
    // The first segment is lost; B acknowledges the other four with SACK blocks: four
    // duplicate ACKs, and SACK-based loss recovery resends the first (RFC 6675).
    for d in &from_a[1..] {
        p.b.handle_packet(p.now, d);
    }
    for d in take_mtu(&mut p.b, p.now) {
        p.a.handle_packet(p.now, &d);
    }
    let resent = take_mtu(&mut p.a, p.now);
    let (ip, tcp, payload) = lengths(&resent[0]);
    assert_eq!((ip, tcp, payload), (20, 32, 1448), "fast retransmit");
    // If that is lost too, the retransmission timer resends it whole as well.
    p.now += Duration::from_secs(5);
    p.a.handle_timeout(p.now);
    let resent = take_mtu(&mut p.a, p.now);
    let (ip, tcp, payload) = lengths(&resent[0]);
    assert_eq!((ip, tcp, payload), (20, 32, 1448), "after a timeout");
}

#[test]
fn a_buffer_smaller_than_the_mtu_bounds_the_payload_to_what_fits() {
    let (mut p, c, _) = connected("10.0.0.1", "10.0.0.2", "10.0.0.2:80");
    p.a.send(c, &[3u8; 1000]).unwrap();
    let mut buf = vec![0u8; 552];
    let mut sizes = Vec::new();
    while let Some(n) = p.a.poll_transmit(p.now, &mut buf) {
        let (ip, tcp, payload) = lengths(&buf[..n]);
        assert_eq!(n, ip + tcp + payload);
        sizes.push(payload);
    }
    // 552 less 20, 20 and 12.
    assert_eq!(sizes, [500, 500]);
}
