//! Shared proptest strategies for the wire integration tests.
#![allow(dead_code)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use oxtcp_wire::{SackBlock, SackBlocks, TcpFlags, TcpOptions, TcpRepr, Timestamps};
use proptest::prelude::*;

pub fn sack_blocks() -> impl Strategy<Value = SackBlocks> {
    prop::collection::vec(any::<(u32, u32)>(), 0..=SackBlocks::MAX).prop_map(|v| {
        let mut b = SackBlocks::new();
        for (left, right) in v {
            assert!(b.push(SackBlock { left, right }));
        }
        b
    })
}

pub fn tcp_options() -> impl Strategy<Value = TcpOptions> {
    (
        any::<Option<u16>>(),
        any::<Option<u8>>(),
        any::<bool>(),
        sack_blocks(),
        any::<Option<(u32, u32)>>(),
    )
        .prop_map(
            |(mss, window_scale, sack_permitted, sack_blocks, ts)| TcpOptions {
                mss,
                window_scale,
                sack_permitted,
                sack_blocks,
                timestamps: ts.map(|(tsval, tsecr)| Timestamps { tsval, tsecr }),
            },
        )
}

/// What a parse of `emit(o)` must give back: `o` with the SACK blocks that did not fit in
/// 40 bytes dropped from the end. Derived here from the layout, independently of the crate.
pub fn expected_after_emit(o: &TcpOptions) -> TcpOptions {
    let fixed = if o.mss.is_some() { 4 } else { 0 }
        + if o.timestamps.is_some() {
            12
        } else if o.sack_permitted {
            4
        } else {
            0
        }
        + if o.window_scale.is_some() { 4 } else { 0 };
    let room = (40 - fixed - 4) / 8;
    let mut e = *o;
    e.sack_blocks.truncate(room);
    e
}

pub fn tcp_repr() -> impl Strategy<Value = TcpRepr> {
    (
        any::<(u16, u16, u32, u32)>(),
        any::<u8>(),
        any::<(u16, u16)>(),
        tcp_options(),
    )
        .prop_map(
            |((src_port, dst_port, seq, ack), flags, (window, urgent), options)| TcpRepr {
                src_port,
                dst_port,
                seq,
                ack,
                flags: TcpFlags::from_bits(flags),
                window,
                urgent,
                options,
            },
        )
}

/// A repr whose options survive emit unchanged (no SACK blocks dropped).
pub fn fitting_tcp_repr() -> impl Strategy<Value = TcpRepr> {
    tcp_repr().prop_map(|mut r| {
        r.options = expected_after_emit(&r.options);
        r
    })
}

/// Payload bytes and the points where it is split into parts for `emit`.
pub fn payload() -> impl Strategy<Value = (Vec<u8>, Vec<usize>)> {
    (
        prop::collection::vec(any::<u8>(), 0..300),
        prop::collection::vec(any::<usize>(), 0..4),
    )
}

/// Splits `data` into parts at the given (reduced, sorted) cut points.
pub fn split<'a>(data: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (data.len() + 1)).collect();
    points.sort_unstable();
    let mut parts = Vec::new();
    let mut start = 0;
    for p in points {
        parts.push(&data[start..p]);
        start = p;
    }
    parts.push(&data[start..]);
    parts
}

pub fn addr_pair() -> impl Strategy<Value = (IpAddr, IpAddr)> {
    prop_oneof![
        any::<([u8; 4], [u8; 4])>()
            .prop_map(|(a, b)| (Ipv4Addr::from(a).into(), Ipv4Addr::from(b).into())),
        any::<([u8; 16], [u8; 16])>()
            .prop_map(|(a, b)| (Ipv6Addr::from(a).into(), Ipv6Addr::from(b).into())),
    ]
}
