//! Offloads to the device.
//!
//! - Segmentation offload (TSO): with `StackConfig::segmentation_offload`, a connection hands
//!   the device one datagram of several whole segments of new data, and says where to cut it
//!   (`Stack::poll_transmit_segmented`), leaving the checksums to it. What goes on the wire
//!   after the cut is what the ordinary path sends: full segments first, a partial tail by the
//!   ordinary rules, and retransmissions one segment at a time.
//! - Receive checksum offload: a datagram whose checksum the device vouches for
//!   (`Stack::handle_packet_with`, `Checksum::Offloaded`) is taken without computing it.
//! - Gathered receive: a datagram handed over as its headers and its payload
//!   (`Stack::handle_packet_gathered`) is taken as the whole would be.

mod common;

use common::*;
use oxtcp_core::{Checksum, DropReason};
use oxtcp_wire::{parse_packet, parse_packet_with, Error as WireError};

/// Most payload one offloaded datagram may carry in these tests.
const LIMIT: usize = 64_000;

fn offloading_server() -> Harness {
    Harness::established_server_with(|c| c.segmentation_offload = Some(LIMIT))
}

/// The next datagram, checked as an offloaded one: its segment size, and how many segments
/// it is cut into (every one full).
#[track_caller]
fn expect_offloaded(t: &mut Harness, seq: u32, off: usize) -> (usize, usize) {
    let out = t.next_out().expect("an offloaded datagram");
    let size = usize::from(out.segment_size.expect("a segment size for the device"));
    let len = out.payload.len();
    assert_eq!(out.seq, seq, "{out}");
    assert!(len >= 2 * size, "more than one segment: {out}");
    assert_eq!(len % size, 0, "whole segments only: {out}");
    assert_eq!(
        out.payload,
        pattern(off, len),
        "the bytes the application wrote"
    );
    (size, len / size)
}

#[test]
fn a_window_of_full_segments_leaves_as_one_offloaded_datagram() {
    let mut t = offloading_server();
    let total = 40_000;
    assert_eq!(t.app_send(&pattern(0, total)), total);
    // The initial window (RFC 6928: ten segments) goes out as one datagram of ten segments.
    let (mss, n) = expect_offloaded(&mut t, 1, 0);
    assert_eq!(n, 10, "the initial window");
    t.expect_none();
    assert_eq!(
        t.info().stats.segs_out,
        n as u64,
        "counted as the segments the device makes of it"
    );

    // Slow start doubles the window; the ACK releases the next twenty segments at once.
    let sent = n * mss;
    t.send(seg().ack().seq(1).ack_no(1 + sent as u32));
    let (_, m) = expect_offloaded(&mut t, 1 + sent as u32, sent);
    let sent = sent + m * mss;
    assert!(sent < total, "{sent} of {total}");

    // What is left is less than a segment past the last whole one: the last whole segments
    // go offloaded or alone, and the partial tail as an ordinary segment with PSH.
    t.send(seg().ack().seq(1).ack_no(1 + sent as u32));
    let mut at = sent;
    while let Some(out) = t.next_out() {
        assert_eq!(out.seq, 1 + at as u32, "{out}");
        assert_eq!(out.payload, pattern(at, out.payload.len()));
        match out.segment_size {
            Some(size) => assert_eq!(out.payload.len() % usize::from(size), 0, "{out}"),
            None => assert!(out.payload.len() <= mss, "{out}"),
        }
        at += out.payload.len();
    }
    assert_eq!(at, total, "every byte sent");
}

#[test]
fn without_offload_no_datagram_is_larger_than_a_segment() {
    let mut t = Harness::established_server();
    assert_eq!(t.app_send(&pattern(0, 20_000)), 20_000);
    let mut at = 0;
    while let Some(out) = t.next_out() {
        assert_eq!(out.segment_size, None, "{out}");
        assert!(out.payload.len() <= usize::from(PEER_MSS), "{out}");
        at += out.payload.len();
    }
    assert!(at > 0);
}

#[test]
fn less_than_two_segments_of_data_is_sent_as_it_is() {
    let mut t = offloading_server();
    assert_eq!(t.app_send(&pattern(0, 2_000)), 2_000);
    let mss = usize::from(PEER_MSS);
    let first = t.expect(seg().ack().seq(1).ack_no(1).len(mss));
    assert_eq!(first.segment_size, None, "{first}");
    let tail = t.expect(
        seg()
            .ack()
            .psh()
            .seq(1 + mss as u32)
            .ack_no(1)
            .len(2_000 - mss),
    );
    assert_eq!(tail.segment_size, None, "{tail}");
}

#[test]
fn a_retransmission_is_one_segment_again() {
    let mut t = offloading_server();
    assert_eq!(t.app_send(&pattern(0, 30_000)), 30_000);
    let (mss, _) = expect_offloaded(&mut t, 1, 0);
    t.expect_none();
    // No ACK: the retransmission timer resends from SND.UNA, one segment.
    t.advance(secs(1));
    let out = t.expect(seg().ack().seq(1).ack_no(1).data(&pattern(0, mss)));
    assert_eq!(out.segment_size, None, "{out}");
}

#[test]
fn an_offloaded_datagram_leaves_its_checksum_to_the_device() {
    let mut t = offloading_server();
    assert_eq!(t.app_send(&pattern(0, 20_000)), 20_000);
    let mut buf = vec![0u8; 70_000];
    let tx = t
        .stack
        .poll_transmit_segmented(t.now, &mut buf)
        .expect("a datagram");
    assert!(tx.segment_size.is_some(), "{tx:?}");
    let pkt = &buf[..tx.len];
    // The field holds the pseudo-header's sum only; the device sums the rest, per piece.
    assert_eq!(parse_packet(pkt), Err(WireError::BadChecksum));
    let seg = parse_packet_with(pkt, Checksum::Offloaded).expect("otherwise whole");
    assert_eq!(seg.payload, &pattern(0, seg.payload.len())[..]);
}

#[test]
fn a_checksum_the_device_vouches_for_is_not_computed_again() {
    let mut t = Harness::established_server();
    let mut pkt = t.build(seg().ack().psh().seq(1).ack_no(1).data(b"hello"));
    pkt[20 + 16] ^= 0x5a;
    // Computed here, the damage is found and the segment dropped.
    t.send_raw(&pkt);
    t.expect_none();
    let bad_checksum = DropReason::Malformed(WireError::BadChecksum).as_str();
    assert_eq!(t.stack.stats().drops.get(bad_checksum), Some(&1));
    // Vouched for by the device, it is taken.
    let now = t.now;
    t.stack.handle_packet_with(now, &pkt, Checksum::Offloaded);
    t.expect(seg().ack().seq(1).ack_no(6));
    assert_eq!(t.app_recv(10), b"hello");
}

#[test]
fn a_datagram_taken_in_two_parts_is_taken_as_the_whole() {
    let mut t = Harness::established_server();
    let pkt = t.build(seg().ack().psh().seq(1).ack_no(1).data(b"hello"));
    let payload_at = pkt.len() - 5;
    let (headers, payload) = pkt.split_at(payload_at);
    let now = t.now;
    t.stack
        .handle_packet_gathered(now, headers, payload, Checksum::Computed);
    t.expect(seg().ack().seq(1).ack_no(6));
    assert_eq!(t.app_recv(10), b"hello");
    // Damaged, it is dropped as the whole would be, and counted by the same cause.
    let mut pkt = t.build(seg().ack().psh().seq(6).ack_no(1).data(b"world"));
    *pkt.last_mut().unwrap() ^= 1;
    let (headers, payload) = pkt.split_at(payload_at);
    let now = t.now;
    t.stack
        .handle_packet_gathered(now, headers, payload, Checksum::Computed);
    t.expect_none();
    let bad_checksum = DropReason::Malformed(WireError::BadChecksum).as_str();
    assert_eq!(t.stack.stats().drops.get(bad_checksum), Some(&1));
}

/// Every datagram a stack has to send, drained with `poll_transmit_segmented` (`gathered`
/// false) or `poll_transmit_gathered`, each as its bytes and segment size.
fn drain_datagrams(t: &mut Harness, gathered: bool) -> Vec<(Vec<u8>, Option<u16>)> {
    let mut buf = vec![0u8; 65_536];
    let mut out = Vec::new();
    for _ in 0..1000 {
        if gathered {
            let mut sink = |parts: &[&[u8]], size: Option<u16>| out.push((parts.concat(), size));
            if !t.stack.poll_transmit_gathered(t.now, &mut buf, &mut sink) {
                return out;
            }
        } else {
            let Some(tx) = t.stack.poll_transmit_segmented(t.now, &mut buf) else {
                return out;
            };
            out.push((buf[..tx.len].to_vec(), tx.segment_size));
        }
    }
    panic!("the stack never ran dry");
}

#[test]
fn a_gathered_datagram_is_the_written_one_with_its_payload_left_in_place() {
    // Twins: one drained into a buffer, one by a device that gathers from parts.
    let (mut written, mut gathered) = (offloading_server(), offloading_server());
    let iss = written.info().iss.get();
    let total = 300_000;
    let (mut sent, mut acked, mut cut) = (0, 0u32, 0);
    for round in 0..100 {
        if acked as usize == total {
            break;
        }
        let more = pattern(sent, total - sent);
        let n = written.app_send(&more);
        assert_eq!(gathered.app_send(&more), n);
        sent += n;
        let a = drain_datagrams(&mut written, false);
        let b = drain_datagrams(&mut gathered, true);
        assert_eq!(a, b, "round {round}: the same datagrams either way");
        for (pkt, size) in &a {
            let seg = parse_packet_with(pkt, Checksum::Offloaded).expect("parses");
            cut += usize::from(size.is_some());
            let end = seg.tcp.seq.wrapping_sub(iss) + seg.payload.len() as u32;
            acked = acked.max(end - 1);
        }
        for t in [&mut written, &mut gathered] {
            t.send(seg().ack().seq(1).ack_no(1 + acked));
        }
    }
    assert_eq!(
        acked as usize, total,
        "everything went out and was acknowledged"
    );
    assert!(
        cut > 3,
        "{cut} datagrams to be cut: gathered ones among them"
    );
}
