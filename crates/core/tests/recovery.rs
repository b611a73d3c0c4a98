//! Loss recovery from acknowledgments: limited transmit (RFC 3042), fast retransmit (RFC 5681
//! §3.2), NewReno partial ACKs (RFC 6582), SACK-based recovery by RFC 6675 and D-SACK
//! recognition (RFC 2883). Segments are 1000 bytes; data starts at relative sequence 1, so
//! segment k covers [1 + 1000k, 1001 + 1000k).

mod common;

use common::*;
use oxtcp_core::State;

const MSS: u32 = 1000;

/// Start of segment `k`.
fn at(k: u32) -> u32 {
    1 + MSS * k
}

/// A passive connection with MSS 1000 (SACK negotiated when `sack`) that has queued `bytes`
/// and sent its initial window of ten segments.
fn sender(sack: bool, bytes: usize) -> Harness {
    let mut t = Harness::server();
    let syn = seg().syn().seq(0).mss(MSS as u16);
    t.send(if sack { syn.sack_ok() } else { syn });
    t.expect(seg().syn().ack().seq(0).ack_no(1));
    t.send(seg().ack().seq(1).ack_no(1));
    t.accept();
    t.assert_state(State::Established);
    assert_eq!(t.app_send(&pattern(0, bytes)), bytes);
    for k in 0..10 {
        t.expect(seg().ack().seq(at(k)).ack_no(1).len(MSS as usize));
    }
    t.expect_none();
    t
}

/// The peer's ACK of everything before segment `k`, with SACK blocks of segments.
fn ack_before(k: u32) -> Seg {
    seg().ack().seq(1).ack_no(at(k))
}

/// SACK block covering segments `[a, b)`.
fn segs(a: u32, b: u32) -> (u32, u32) {
    (at(a), at(b))
}

/// Expect the retransmission of segment `k`.
fn expect_rxt(t: &mut Harness, k: u32) {
    t.expect(seg().ack().seq(at(k)).ack_no(1).len(MSS as usize));
}

#[test]
fn limited_transmit_sends_one_new_segment_for_each_of_the_first_two_duplicate_acks() {
    let mut t = sender(false, 20_000);
    // Segment 0 is lost; 1 and 2 arrive and draw duplicate ACKs.
    t.send(ack_before(0));
    t.expect(seg().ack().seq(at(10)).len(1000));
    t.send(ack_before(0));
    t.expect(seg().ack().seq(at(11)).len(1000));
    assert_eq!(t.info().stats.fast_recoveries, 0);
    // The third duplicate ACK: fast retransmit of segment 0 at once.
    t.send(ack_before(0));
    expect_rxt(&mut t, 0);
    t.expect_none();
    let info = t.info();
    assert_eq!(info.stats.fast_recoveries, 1);
    assert_eq!(info.stats.rto_count, 0);
}

#[test]
fn newreno_partial_ack_retransmits_the_next_hole_at_once_and_a_full_ack_ends_recovery() {
    let mut t = Harness::server_with(8, |c| {
        c.congestion_control = oxtcp_core::CcAlgorithm::NewReno
    });
    t.send(seg().syn().seq(0).mss(MSS as u16));
    t.expect(seg().syn().ack().seq(0).ack_no(1));
    t.send(seg().ack().seq(1).ack_no(1));
    t.accept();
    t.app_send(&pattern(0, 10_000));
    for k in 0..10 {
        t.expect(seg().ack().seq(at(k)).len(1000));
    }
    // Segments 2 and 5 are lost. Segments 3, 4, 6.. draw duplicate ACKs for segment 2.
    t.send(ack_before(2));
    for _ in 0..3 {
        t.send(ack_before(2));
    }
    expect_rxt(&mut t, 2);
    // ssthresh = FlightSize / 2 = 4000 after the reduction (NewReno, RFC 5681 eq. 4).
    assert_eq!(t.info().ssthresh, 4000);
    for _ in 0..4 {
        t.send(ack_before(2));
    }
    // The retransmission fills the first hole; the ACK stops at the second: a partial ACK,
    // and segment 5 goes at once (RFC 6582 §3.2 step 5), not after a timeout.
    t.send(ack_before(5));
    expect_rxt(&mut t, 5);
    t.send(ack_before(10));
    let info = t.info();
    assert_eq!(info.stats.fast_recoveries, 1);
    assert_eq!(info.stats.rto_count, 0);
    assert_eq!(info.stats.retransmits, 2);
    assert_eq!(info.cwnd, 4000, "recovery ends with cwnd = ssthresh");
}

#[test]
fn sack_recovery_resends_only_the_holes_of_a_burst_loss() {
    // Segments 2..=6 (five in a row) are lost; 0, 1 and 7, 8, 9 arrive.
    let mut t = sender(true, 10_000);
    t.send(ack_before(2));
    t.send(ack_before(2).sack(&[segs(7, 8)]));
    t.send(ack_before(2).sack(&[segs(7, 9)]));
    // 3000 bytes SACKed above the hole is more than (DupThresh − 1)·SMSS: the hole is lost
    // and recovery starts on this second duplicate ACK, before a third arrives.
    t.send(ack_before(2).sack(&[segs(7, 10)]));
    // ssthresh = 10000·0.7 (CUBIC's β) = 7000; pipe counts only 7, 8, 9's... which are SACKed:
    // everything un-SACKed below them is lost, so pipe starts at zero and every hole goes.
    for k in 2..7 {
        expect_rxt(&mut t, k);
    }
    t.expect_none();
    t.send(ack_before(10));
    let info = t.info();
    assert_eq!(info.stats.rto_count, 0);
    assert_eq!(info.stats.retransmits, 5);
    assert_eq!(info.stats.sack_recovered_bytes, 5000);
    assert_eq!(info.stats.fast_recoveries, 1);
}

/// Send `acks` in turn and return the segment numbers oxtcp sent in reply, in order.
fn replies(t: &mut Harness, acks: Vec<Seg>) -> Vec<u32> {
    let mut sent = Vec::new();
    for a in acks {
        t.send(a);
        for out in t.drain() {
            if !out.payload.is_empty() {
                assert_eq!((out.seq - 1) % MSS, 0, "segment-aligned: {out}");
                sent.push((out.seq - 1) / MSS);
            }
        }
    }
    sent
}

#[test]
fn sack_recovery_resends_each_hole_once_and_nothing_sacked() {
    // Segments 1, 4 and 7 are lost; the peer SACKs the rest as it arrives.
    let mut t = sender(true, 10_000);
    let acks = vec![
        ack_before(1),
        ack_before(1).sack(&[segs(2, 3)]),
        ack_before(1).sack(&[segs(2, 4)]),
        ack_before(1).sack(&[segs(5, 6), segs(2, 4)]),
        ack_before(1).sack(&[segs(5, 7), segs(2, 4)]),
        ack_before(1).sack(&[segs(8, 9), segs(5, 7), segs(2, 4)]),
        ack_before(1).sack(&[segs(8, 10), segs(5, 7), segs(2, 4)]),
    ];
    // Segment 1 goes once 3000 bytes are SACKed above it (RFC 6675 IsLost). With no new
    // data to send, NextSeg's rule 3 resends hole 4 while the tail 7..=9 has no SACK above
    // it, so rule 4's one rescue retransmission takes the last segment, 9; hole 7 follows
    // by rule 3 once 8 is SACKed. Nothing SACKed is ever resent.
    assert_eq!(replies(&mut t, acks), [1, 4, 9, 7]);
    t.send(ack_before(10));
    let s = t.info().stats;
    assert_eq!((s.retransmits, s.rto_count, s.fast_recoveries), (4, 0, 1));
}

#[test]
fn rescue_retransmission_resends_an_unsacked_tail_once() {
    // Segment 0 and the last one, 9, are lost: nothing is ever SACKed above 9.
    let mut t = sender(true, 10_000);
    let acks = (2..10)
        .map(|k| ack_before(0).sack(&[segs(1, k)]))
        .chain([ack_before(9), ack_before(9)])
        .collect();
    // 0 by fast retransmit; 9 by rule 4, once, as soon as cwnd allows.
    assert_eq!(replies(&mut t, acks), [0, 9]);
    t.send(ack_before(10));
    assert_eq!(t.info().stats.rto_count, 0);
}

#[test]
fn dsack_is_recognised_and_does_not_mark_anything_sacked() {
    let mut t = sender(true, 10_000);
    t.send(ack_before(10).sack(&[segs(3, 4)]));
    let s = t.info().stats;
    assert_eq!(s.dsacks_received, 1);
    assert_eq!(s.fast_recoveries, 0);
}

#[test]
fn forged_sack_blocks_beyond_what_was_sent_start_no_recovery() {
    let mut t = sender(true, 10_000);
    for _ in 0..2 {
        t.send(ack_before(0).sack(&[(at(20), at(30)), (at(40), at(50)), (at(60), at(70))]));
    }
    // Two duplicate ACKs: limited transmit would send, but no data is left to send.
    t.expect_none();
    assert_eq!(t.info().stats.fast_recoveries, 0);
}

#[test]
fn after_a_timeout_go_back_n_skips_data_sacked_since() {
    let mut t = sender(true, 10_000);
    // Nothing comes back: the retransmission timer fires and resends segment 0.
    t.wait_for_tx(secs(5));
    expect_rxt(&mut t, 0);
    assert_eq!(t.info().stats.rto_count, 1);
    // The peer had 1..=8 all along and says so; only 9 remains a hole.
    t.send(ack_before(1).sack(&[segs(2, 9)]));
    // cwnd after the timeout is one segment, then two: 1 goes, then 9, skipping 2..=8.
    expect_rxt(&mut t, 1);
    expect_rxt(&mut t, 9);
    t.expect_none();
}

#[test]
fn reordering_short_of_three_duplicate_acks_is_counted_not_recovered() {
    let mut t = sender(false, 10_000);
    t.send(ack_before(3));
    t.send(ack_before(3));
    t.send(ack_before(10));
    let s = t.info().stats;
    assert_eq!(
        (s.fast_recoveries, s.retransmits, s.reordering_seen),
        (0, 0, 1)
    );
}

#[test]
fn a_burst_of_ten_lost_segments_in_one_window_is_repaired_without_a_timeout() {
    // The acceptance case of issue 6. The initial window's ten segments are acknowledged one
    // by one, so slow start opens cwnd to twenty; of the next twenty (segments 10..=29) the
    // first ten are lost and the rest are SACKed as they arrive.
    let mut t = sender(true, 30_000);
    let window = replies(&mut t, (1..=10).map(ack_before).collect());
    assert_eq!(window, (10..30).collect::<Vec<_>>());
    let acks = (21..=30)
        .map(|k| ack_before(10).sack(&[segs(20, k)]))
        .collect();
    // Every hole goes once as the pipe allows, and nothing SACKed is resent. While the
    // tail had no SACK above it, RFC 6675's one rescue retransmission (rule 4) took the
    // last segment, 29.
    let mut sent = replies(&mut t, acks);
    sent.sort_unstable();
    assert_eq!(sent, (10..20).chain([29]).collect::<Vec<_>>());
    t.send(ack_before(30));
    let s = t.info().stats;
    assert_eq!((s.rto_count, s.fast_recoveries, s.retransmits), (0, 1, 11));
    assert_eq!(s.sack_recovered_bytes, 11_000);
    t.assert_state(State::Established);
}

#[test]
fn with_sack_bare_duplicate_acks_start_no_fast_recovery() {
    // SACK is in use and nothing reports data past a hole: ten ACKs of segment 0 with no
    // SACK blocks, as forged in-window data would draw from the receiver. None is a
    // duplicate by RFC 6675 §2, so neither limited transmit nor fast retransmit answers.
    let mut t = sender(true, 20_000);
    for _ in 0..10 {
        t.send(ack_before(0));
        t.expect_none();
    }
    let s = t.info().stats;
    assert_eq!((s.fast_recoveries, s.retransmits), (0, 0));
}

#[test]
fn with_sack_duplicate_acks_that_sack_new_data_start_fast_recovery() {
    // Segment 0 is lost; 1, 2 and 3 arrive and each ACK SACKs one more segment. Each of
    // the first two sends one new segment by limited transmit and one more for the segment
    // SACKed, which has left the network.
    let mut t = sender(true, 20_000);
    let acks = (2..4).map(|k| ack_before(0).sack(&[segs(1, k)])).collect();
    assert_eq!(replies(&mut t, acks), [10, 11, 12, 13]);
    assert_eq!(t.info().stats.fast_recoveries, 0);
    // The third: fast retransmit of segment 0.
    t.send(ack_before(0).sack(&[segs(1, 4)]));
    expect_rxt(&mut t, 0);
    assert_eq!(t.info().stats.fast_recoveries, 1);
}

#[test]
fn with_sack_a_repeated_sack_block_is_not_a_duplicate_ack() {
    // Segment 0 is lost and 1 arrives; the same SACK block then comes back three times
    // (window updates, say). Only the first ACK carried new SACK information: one
    // duplicate ACK, no recovery, and nothing more to send.
    let mut t = sender(true, 20_000);
    let acks = (0..4).map(|_| ack_before(0).sack(&[segs(1, 2)])).collect();
    assert_eq!(replies(&mut t, acks), [10, 11]);
    assert_eq!(t.info().stats.fast_recoveries, 0);
}

#[test]
fn without_sack_three_bare_duplicate_acks_start_fast_recovery() {
    // RFC 5681 §3.2 unchanged: the third bare duplicate ACK retransmits segment 0.
    let mut t = sender(false, 20_000);
    for k in 10..12 {
        t.send(ack_before(0));
        t.expect(seg().ack().seq(at(k)).len(1000));
    }
    t.send(ack_before(0));
    expect_rxt(&mut t, 0);
    assert_eq!(t.info().stats.fast_recoveries, 1);
}
