//! Property tests for datagrams that arrive in two parts (`parse_packet_gathered`): split
//! where the headers end, a datagram parses as it does whole; split anywhere else, it is
//! refused; and a datagram refused whole is refused in parts.

mod common;

use common::*;
use oxtcp_wire::{emit_packet, parse_packet, parse_packet_gathered, Checksum, Error};
use proptest::prelude::*;

/// A datagram emitted whole, and where its headers end.
fn emitted(
    repr: &oxtcp_wire::TcpRepr,
    data: &[u8],
    (src, dst): (std::net::IpAddr, std::net::IpAddr),
    ttl: u8,
) -> (Vec<u8>, usize) {
    let mut buf = vec![0u8; 100 + data.len()];
    let n = emit_packet(&mut buf, src, dst, ttl, repr, &[data]).unwrap();
    buf.truncate(n);
    (buf, n - data.len())
}

proptest! {
    #[test]
    fn split_where_the_headers_end_a_datagram_parses_as_it_does_whole(
        repr in fitting_tcp_repr(), (data, _) in payload(), addrs in addr_pair(), ttl: u8,
        padding in 0usize..4
    ) {
        let (whole, h) = emitted(&repr, &data, addrs, ttl);
        let want = parse_packet(&whole).unwrap();
        // Padding after the datagram (as a link may leave) is not payload.
        let mut tail = whole[h..].to_vec();
        tail.extend(std::iter::repeat_n(0xa5, padding));
        for checksum in [Checksum::Computed, Checksum::Offloaded] {
            let got = parse_packet_gathered(&whole[..h], &tail, checksum).unwrap();
            prop_assert_eq!(got, want);
            if !data.is_empty() {
                prop_assert_eq!(got.payload.as_ptr(), tail.as_ptr(), "the payload is borrowed");
            }
        }
        // An empty payload part: the headers part is the whole datagram.
        prop_assert_eq!(parse_packet_gathered(&whole, &[], Checksum::Computed).unwrap(), want);
    }

    #[test]
    fn split_anywhere_else_a_datagram_is_refused(
        repr in fitting_tcp_repr(), (data, _) in payload(), addrs in addr_pair(), at: usize
    ) {
        prop_assume!(!data.is_empty());
        let (whole, h) = emitted(&repr, &data, addrs, 64);
        let at = at % whole.len();
        prop_assume!(at != h);
        let got = parse_packet_gathered(&whole[..at], &whole[at..], Checksum::Computed);
        prop_assert!(got.is_err(), "split at {} of {} (headers {})", at, whole.len(), h);
    }

    #[test]
    fn a_datagram_refused_whole_is_refused_in_parts_and_one_taken_is_taken_alike(
        repr in fitting_tcp_repr(), (data, _) in payload(), addrs in addr_pair(),
        at: usize, bit in 0u8..8
    ) {
        let (mut whole, h) = emitted(&repr, &data, addrs, 64);
        let at = at % whole.len();
        whole[at] ^= 1 << bit;
        let one = parse_packet(&whole);
        let two = parse_packet_gathered(&whole[..h], &whole[h..], Checksum::Computed);
        match (one, two) {
            (Ok(a), Ok(b)) => prop_assert_eq!(a, b),
            (Err(_), Err(_)) => {}
            (a, b) => prop_assert!(false, "whole {:?}, in parts {:?} (bit {} of byte {})", a, b, bit, at),
        }
    }
}

#[test]
fn headers_that_hold_payload_bytes_are_refused_after_the_checksum() {
    let repr = oxtcp_wire::TcpRepr {
        src_port: 1,
        dst_port: 2,
        seq: 3,
        ack: 4,
        flags: oxtcp_wire::TcpFlags::ACK,
        window: 5,
        urgent: 0,
        options: Default::default(),
    };
    let addrs = (
        std::net::IpAddr::from([10, 0, 0, 1]),
        std::net::IpAddr::from([10, 0, 0, 2]),
    );
    let (whole, h) = emitted(&repr, b"payload", addrs, 64);
    let parts = |at: usize| parse_packet_gathered(&whole[..at], &whole[at..], Checksum::Computed);
    assert_eq!(parts(h + 1).unwrap_err(), Error::BadHeaderLen);
    assert_eq!(parts(h + 2).unwrap_err(), Error::BadHeaderLen);
    let mut bad = whole.clone();
    *bad.last_mut().unwrap() ^= 1;
    let refused = parse_packet_gathered(&bad[..h + 1], &bad[h + 1..], Checksum::Computed);
    assert_eq!(
        refused.unwrap_err(),
        Error::BadChecksum,
        "a corrupt segment counts as such"
    );
}
