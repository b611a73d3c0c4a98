//! Figure `wire work of one lifecycle`, in the lifecycle group: what parsing and emitting a
//! lifecycle's segments costs by itself, with nothing else a stack does. It is a floor under
//! the lifecycle's time, and says how much of a lead over smoltcp's lifecycle rate any stack
//! with such wire code could have.
//!
//! Each system's segments are the ones its own lifecycle exchanges: one lifecycle (the second
//! of a fresh pair, set up as the lifecycle figures are) is run with the link recording every
//! datagram that crosses it. Each round then takes every recorded datagram once through that
//! system's own wire code: parsed and checked as its receiving stack does (IPv4 header,
//! the TCP checksum, options), and written again from what was parsed, both checksums
//! computed, as its sending stack does.
//! - oxtcp: `oxtcp_wire::parse_packet_with` and `emit_packet_with`, `Checksum::Computed`;
//! - smoltcp: `Ipv4Packet::new_checked`, `Ipv4Repr::parse`, `TcpPacket::new_checked`,
//!   `TcpRepr::parse` and the two `emit`s, with the default `ChecksumCapabilities` (its pair's).
//!
//! The figure is wall-clock nanoseconds per round, over `ROUNDS` rounds.

use std::hint::black_box;
use std::time::Instant as StdInstant;

use anyhow::{bail, ensure, Context, Result};
use oxtcp_wire::{emit_packet_with, parse_packet_with, Checksum};
use smoltcp::phy::ChecksumCapabilities;
use smoltcp::wire::{IpAddress, Ipv4Packet, Ipv4Repr, TcpPacket, TcpRepr};

use crate::lifecycle::{
    one_oxtcp_lifecycle, one_smoltcp_lifecycle, oxtcp_pair, smoltcp_pair, smoltcp_port, Order,
};

/// Rounds per run: each takes every segment of one lifecycle once.
const ROUNDS: usize = 20_000;

/// The datagrams one oxtcp lifecycle exchanges (both directions, in the order they crossed).
pub fn oxtcp_exchange(order: Order) -> Result<Vec<Vec<u8>>> {
    let (mut p, listener) = oxtcp_pair()?;
    one_oxtcp_lifecycle(&mut p, listener, order)?;
    p.record();
    one_oxtcp_lifecycle(&mut p, listener, order)?;
    Ok(p.take_recorded())
}

/// The datagrams one smoltcp lifecycle exchanges (A's, then B's).
pub fn smoltcp_exchange(order: Order) -> Result<Vec<Vec<u8>>> {
    let (mut p, c, pool) = smoltcp_pair()?;
    one_smoltcp_lifecycle(&mut p, c, &pool, smoltcp_port(0), order)?;
    p.record();
    one_smoltcp_lifecycle(&mut p, c, &pool, smoltcp_port(1), order)?;
    Ok(p.take_recorded())
}

/// Nanoseconds per round of `round_trip` over every datagram of `segs`, each written into
/// one reused buffer.
fn time_rounds(
    segs: &[Vec<u8>],
    mut round_trip: impl FnMut(&[u8], &mut [u8]) -> Result<usize>,
) -> Result<f64> {
    let mut out = vec![0u8; 65535];
    let t0 = StdInstant::now();
    for _ in 0..ROUNDS {
        for d in black_box(segs) {
            let n = round_trip(d, &mut out)?;
            black_box(&out[..n]);
        }
    }
    Ok(t0.elapsed().as_nanos() as f64 / ROUNDS as f64)
}

/// Nanoseconds per round of oxtcp's wire code over `segs`.
pub fn oxtcp_wire_ns(segs: &[Vec<u8>]) -> Result<f64> {
    time_rounds(segs, oxtcp_round_trip)
}

/// Parse `d` and write it again into `out`; the length written.
fn oxtcp_round_trip(d: &[u8], out: &mut [u8]) -> Result<usize> {
    let seg = parse_packet_with(d, Checksum::Computed).context("oxtcp parse")?;
    let (src, dst) = (seg.ip.src(), seg.ip.dst());
    let n = emit_packet_with(
        out,
        src,
        dst,
        seg.ip.hop_limit(),
        &seg.tcp,
        &[seg.payload],
        Checksum::Computed,
    )
    .context("oxtcp emit")?;
    Ok(n)
}

/// Nanoseconds per round of smoltcp's wire code over `segs`.
pub fn smoltcp_wire_ns(segs: &[Vec<u8>]) -> Result<f64> {
    let caps = ChecksumCapabilities::default();
    time_rounds(segs, |d, out| smoltcp_round_trip(d, out, &caps))
}

/// Parse `d` as smoltcp's interface does and write it again into `out`; the length written.
fn smoltcp_round_trip(d: &[u8], out: &mut [u8], caps: &ChecksumCapabilities) -> Result<usize> {
    let Ok(ip) = Ipv4Packet::new_checked(d) else {
        bail!("smoltcp: IPv4 header");
    };
    let Ok(ip_repr) = Ipv4Repr::parse(&ip, caps) else {
        bail!("smoltcp: IPv4 header");
    };
    let Ok(tcp) = TcpPacket::new_checked(ip.payload()) else {
        bail!("smoltcp: TCP header");
    };
    let (src, dst) = (
        IpAddress::Ipv4(ip_repr.src_addr),
        IpAddress::Ipv4(ip_repr.dst_addr),
    );
    let Ok(tcp_repr) = TcpRepr::parse(&tcp, &src, &dst, caps) else {
        bail!("smoltcp: TCP header or checksum");
    };
    let header = ip_repr.buffer_len();
    let n = header + tcp_repr.buffer_len();
    ensure!(n <= out.len(), "smoltcp: {n} bytes do not fit");
    let mut ip_out = Ipv4Packet::new_unchecked(&mut out[..n]);
    ip_repr.emit(&mut ip_out, caps);
    tcp_repr.emit(
        &mut TcpPacket::new_unchecked(&mut ip_out.payload_mut()[..n - header]),
        &src,
        &dst,
        caps,
    );
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each stack's exchange has the segments BENCHMARKS.md counts, and each survives its own
    /// stack's parse and emit; oxtcp writes every one back byte for byte.
    #[test]
    fn exchanges_are_whole_and_round_trip() {
        for (order, ox, smol) in [(Order::ClientFirst, 11, 9), (Order::ServerFirst, 9, 7)] {
            let segs = oxtcp_exchange(order).unwrap();
            assert_eq!(segs.len(), ox, "oxtcp, {}", order.name());
            let mut out = vec![0u8; 65535];
            for d in &segs {
                let n = oxtcp_round_trip(d, &mut out).unwrap();
                assert_eq!(&out[..n], &d[..], "oxtcp rewrote a segment differently");
            }
            let segs = smoltcp_exchange(order).unwrap();
            assert_eq!(segs.len(), smol, "smoltcp, {}", order.name());
            let caps = ChecksumCapabilities::default();
            for d in &segs {
                let n = smoltcp_round_trip(d, &mut out, &caps).unwrap();
                assert_eq!(n, d.len());
                // smoltcp's own parse accepts what it wrote: both checksums hold.
                smoltcp_round_trip(&out[..n], &mut vec![0; 65535], &caps).unwrap();
            }
        }
    }

    /// A flipped payload or header bit fails the checksum in both, so the round really checks.
    #[test]
    fn a_damaged_segment_is_refused_by_both() {
        let mut out = vec![0u8; 65535];
        let caps = ChecksumCapabilities::default();
        let ox = oxtcp_exchange(Order::ClientFirst).unwrap();
        let smol = smoltcp_exchange(Order::ClientFirst).unwrap();
        for mut d in ox.into_iter().chain(smol) {
            let last = d.len() - 1;
            d[last] ^= 0x10;
            assert!(oxtcp_round_trip(&d, &mut out).is_err());
            assert!(smoltcp_round_trip(&d, &mut out, &caps).is_err());
        }
    }
}
