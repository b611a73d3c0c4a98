//! RFC 7323: window scaling and timestamps, negotiated on the SYNs, then applied to every
//! segment (scaled windows, TS.Recent echoes, RTT samples from TSecr, PAWS).

mod common;

use common::*;
use oxtcp_core::{DropReason, State};

const MIB: usize = 1 << 20;

/// A passive connection with a 1 MiB receive buffer whose peer offered both options (shift 7,
/// TSval 100); our SYN-ACK's TSval is returned.
fn established_scaled_server() -> (Harness, u32) {
    let mut t = Harness::server_with(8, |c| c.recv_buffer = MIB);
    t.send(seg().syn().seq(0).mss(PEER_MSS).wscale(7).ts(100, 0));
    // 1 MiB >> 5 = 32768 fits in 16 bits, 1 MiB >> 4 does not; the SYN-ACK's own window is
    // never scaled (RFC 7323 §2.2).
    let synack = t.expect(
        seg()
            .syn()
            .ack()
            .seq(0)
            .ack_no(1)
            .wscale(5)
            .tsecr(100)
            .win(65535),
    );
    let ox_ts = synack.options.timestamps.unwrap().tsval;
    t.send(seg().ack().seq(1).ack_no(1).ts(101, ox_ts).win(100));
    t.expect_none();
    t.accept();
    t.assert_state(State::Established);
    (t, ox_ts)
}

#[test]
fn both_sides_offer_both_options_so_both_apply() {
    let (mut t, ox_ts) = established_scaled_server();
    // SND.WND = SEG.WND << Snd.Wind.Shift = 100 << 7.
    assert_eq!(t.info().snd_wnd, 12_800);
    t.app_send(b"hello");
    // RCV.WND >> Rcv.Wind.Shift: 1 MiB >> 5; TS.Recent is the final ACK's TSval.
    let out = t.expect(
        seg()
            .ack()
            .seq(1)
            .ack_no(1)
            .data(b"hello")
            .win(32768)
            .tsecr(101),
    );
    let tsval = out.options.timestamps.unwrap().tsval;
    assert_eq!(
        tsval, ox_ts,
        "no time passed, so the TSval clock did not move"
    );
}

#[test]
fn passive_open_without_peer_options_answers_without_them() {
    let mut t = Harness::server();
    t.send(seg().syn().seq(0).mss(PEER_MSS));
    t.expect(seg().syn().ack().seq(0).ack_no(1).no_wscale().no_ts());
    t.send(seg().ack().seq(1).ack_no(1).win(100));
    t.accept();
    // No scaling: the window is taken as it stands.
    assert_eq!(t.info().snd_wnd, 100);
    t.app_send(b"x");
    t.expect(seg().ack().seq(1).ack_no(1).data(b"x").no_ts());
}

#[test]
fn active_open_offers_both_and_a_peer_without_them_gets_neither() {
    let mut t = Harness::client_with(|c| c.recv_buffer = MIB);
    // The window of a SYN is never scaled; TSecr is zero without an ACK.
    let syn = t.expect(seg().syn().seq(0).wscale(5).win(65535));
    assert_eq!(syn.options.timestamps.map(|ts| ts.tsecr), Some(0));
    t.send(seg().syn().ack().seq(0).ack_no(1).mss(PEER_MSS).win(1000));
    // Our offer alone does not scale: the window field saturates at 65535.
    t.expect(seg().ack().seq(1).ack_no(1).win(65535).no_ts());
    t.send(seg().ack().seq(1).ack_no(1).win(3000));
    assert_eq!(t.info().snd_wnd, 3000);
}

#[test]
fn active_open_with_both_offers_scales_and_echoes() {
    let mut t = Harness::client_with(|c| c.recv_buffer = MIB);
    let syn = t.expect(seg().syn().seq(0).wscale(5));
    let ox_ts = syn.options.timestamps.unwrap().tsval;
    t.send(
        seg()
            .syn()
            .ack()
            .seq(0)
            .ack_no(1)
            .mss(PEER_MSS)
            .wscale(2)
            .ts(7000, ox_ts)
            .win(1000),
    );
    // The SYN-ACK's window is not scaled: 1000.
    assert_eq!(t.info().snd_wnd, 1000);
    t.expect(seg().ack().seq(1).ack_no(1).win(32768).tsecr(7000));
    t.send(seg().ack().seq(1).ack_no(1).win(1000).ts(7001, ox_ts));
    assert_eq!(t.info().snd_wnd, 4000);
}

#[test]
fn window_scaling_off_declines_the_peers_offer_but_timestamps_still_apply() {
    let mut t = Harness::server_with(8, |c| {
        c.window_scaling = false;
        c.recv_buffer = MIB;
    });
    t.send(seg().syn().seq(0).mss(PEER_MSS).wscale(7).ts(100, 0));
    let synack = t.expect(seg().syn().ack().seq(0).ack_no(1).no_wscale().tsecr(100));
    let ox_ts = synack.options.timestamps.unwrap().tsval;
    t.send(seg().ack().seq(1).ack_no(1).ts(101, ox_ts).win(100));
    t.accept();
    assert_eq!(t.info().snd_wnd, 100);
    t.app_send(b"x");
    // Without scaling the 1 MiB buffer shows as 65535.
    t.expect(
        seg()
            .ack()
            .seq(1)
            .ack_no(1)
            .data(b"x")
            .win(65535)
            .tsecr(101),
    );
}

#[test]
fn timestamps_off_declines_the_peers_offer() {
    let mut t = Harness::server_with(8, |c| c.timestamps = false);
    t.send(seg().syn().seq(0).mss(PEER_MSS).wscale(7).ts(100, 0));
    t.expect(seg().syn().ack().seq(0).ack_no(1).wscale(0).no_ts());
    t.send(seg().ack().seq(1).ack_no(1).win(100));
    t.accept();
    assert_eq!(t.info().snd_wnd, 12_800);
    // Segments without timestamps are fine on a connection that did not negotiate them.
    t.send(seg().ack().seq(1).ack_no(1).data(b"abc"));
    t.expect(seg().ack().seq(1).ack_no(4).no_ts());
}

#[test]
fn a_shift_above_14_is_used_as_14() {
    let mut t = Harness::server();
    t.send(seg().syn().seq(0).mss(PEER_MSS).wscale(15));
    t.expect(seg().syn().ack().seq(0).ack_no(1).wscale(0).no_ts());
    t.send(seg().ack().seq(1).ack_no(1).win(65535));
    t.accept();
    assert_eq!(t.info().snd_wnd, 65535 << 14);
}

#[test]
fn rounding_the_scaled_window_never_moves_the_right_edge_left() {
    let (mut t, ox_ts) = established_scaled_server();
    // 10 bytes leave 1048566 free: 32767 units of 32, the right edge at 11 + 1048544.
    t.send(seg().ack().seq(1).ack_no(1).ts(102, ox_ts).len(10));
    t.expect(seg().ack().seq(1).ack_no(11).win(32767).tsecr(102));
    // 23 more leave 1048543 free, which rounds down to 32766 units and would pull the right
    // edge 31 bytes left of what we offered; the field rounds up to 32767 instead.
    t.send(seg().ack().seq(11).ack_no(1).ts(103, ox_ts).len(23));
    t.expect(seg().ack().seq(1).ack_no(34).win(32767).tsecr(103));
}

#[test]
fn a_scaled_window_takes_more_than_64k_in_flight() {
    let (mut t, ox_ts) = established_scaled_server();
    // 60 full segments, 87600 bytes, sent without waiting for an ACK: all within the
    // 1 MiB window we advertised.
    let mut off = 0u32;
    for i in 0..60u32 {
        t.inject(
            seg()
                .ack()
                .seq(1 + off)
                .ack_no(1)
                .ts(200 + i, ox_ts)
                .data(&pattern(off as usize, 1460)),
        );
        off += 1460;
    }
    let acks = t.drain();
    let last = acks.last().unwrap();
    assert_eq!(last.ack, 1 + off, "every byte was taken");
    // 1 MiB - 87600 bytes free, >> 5, perhaps rounded up to keep the right edge.
    let free_units = ((MIB - 87_600) >> 5) as u16;
    assert!(
        (free_units..=free_units + 1).contains(&last.win),
        "window {} for {free_units} units free",
        last.win
    );
    assert_eq!(t.app_recv(100_000).len(), 87_600);
    // The segments arrived before any ACK went out, so Last.ACK.sent stayed at the first one:
    // a delayed ACK echoes the earliest unacknowledged TSval (RFC 7323 §4.2 case A), which
    // errs towards a longer RTT, never a shorter one.
    t.expect(seg().ack().seq(1).ack_no(1 + off).win(32768).tsecr(200));
}

#[test]
fn segments_carry_twelve_option_bytes_less_payload_with_timestamps() {
    let (mut t, _) = established_scaled_server();
    t.send(seg().ack().seq(1).ack_no(1).ts(102, 0).win(1000));
    t.app_send(&pattern(0, 3000));
    // MSS 1460 less the 12 bytes of the Timestamps option (RFC 6691).
    t.expect(seg().ack().seq(1).ack_no(1).len(1448));
    t.expect(seg().ack().seq(1449).ack_no(1).len(1448));
    t.expect(seg().ack().seq(2897).ack_no(1).len(104));
}

#[test]
fn ts_recent_is_taken_only_from_segments_at_the_left_edge() {
    let (mut t, ox_ts) = established_scaled_server();
    t.send(seg().ack().seq(1).ack_no(1).ts(200, ox_ts).len(100));
    t.expect(seg().ack().seq(1).ack_no(101).tsecr(200));
    // Out of order, past a hole: SEG.SEQ > Last.ACK.sent, so TS.Recent stays (§4.3).
    t.send(seg().ack().seq(201).ack_no(1).ts(300, ox_ts).len(100));
    t.expect(seg().ack().seq(1).ack_no(101).tsecr(200));
    // The segment that fills the hole starts at Last.ACK.sent: its TSval is echoed, not the
    // later one of the segment held out of order (RFC 7323 §4.2 case C).
    t.send(seg().ack().seq(101).ack_no(1).ts(250, ox_ts).len(100));
    t.expect(seg().ack().seq(1).ack_no(301).tsecr(250));
    // An acceptable segment whose TSval equals TS.Recent keeps it.
    t.send(seg().ack().seq(301).ack_no(1).ts(250, ox_ts).len(1));
    t.expect(seg().ack().seq(1).ack_no(302).tsecr(250));
}

#[test]
fn paws_drops_an_old_duplicate_in_the_window_and_acks() {
    let (mut t, ox_ts) = established_scaled_server();
    t.send(seg().ack().seq(1).ack_no(1).ts(500, ox_ts).data(b"new"));
    t.expect(seg().ack().seq(1).ack_no(4).tsecr(500));
    // A segment at RCV.NXT, so in the window, but stamped before TS.Recent: an old duplicate
    // from an earlier wrap of the sequence space (RFC 7323 §5.3 R1).
    t.send(seg().ack().seq(4).ack_no(1).ts(400, ox_ts).data(b"old"));
    t.expect(seg().ack().seq(1).ack_no(4).tsecr(500));
    assert_eq!(t.stack.stats().drops_for(DropReason::Paws), 1);
    assert_eq!(t.app_recv(100), b"new");
    // The genuine segment, stamped later, is taken.
    t.send(seg().ack().seq(4).ack_no(1).ts(501, ox_ts).data(b"abc"));
    t.expect(seg().ack().seq(1).ack_no(7).tsecr(501));
    assert_eq!(t.app_recv(100), b"abc");
}

#[test]
fn paws_forgets_ts_recent_after_24_days_idle() {
    let (mut t, ox_ts) = established_scaled_server();
    t.send(seg().ack().seq(1).ack_no(1).ts(500, ox_ts).data(b"new"));
    t.expect(seg().ack().seq(1).ack_no(4).tsecr(500));
    t.advance(secs(25 * 24 * 3600));
    // After 24 days the peer's clock may have wrapped past TS.Recent: the segment is taken
    // and its TSval becomes TS.Recent (RFC 7323 §5.5).
    t.send(seg().ack().seq(4).ack_no(1).ts(400, ox_ts).data(b"abc"));
    t.expect(seg().ack().seq(1).ack_no(7).tsecr(400));
    assert_eq!(t.stack.stats().drops_for(DropReason::Paws), 0);
}

#[test]
fn a_segment_without_timestamps_is_dropped_once_negotiated() {
    let (mut t, _) = established_scaled_server();
    t.send(seg().ack().seq(1).ack_no(1).data(b"abc"));
    t.expect_none();
    assert_eq!(t.stack.stats().drops_for(DropReason::MissingTimestamp), 1);
    // An RST needs no timestamp.
    t.send(seg().rst().seq(1));
    t.assert_state(State::Closed);
}

#[test]
fn rtt_is_sampled_from_the_echo_of_a_retransmission() {
    let mut t = Harness::client();
    let syn = t.expect(seg().syn().seq(0));
    let syn_ts = syn.options.timestamps.unwrap().tsval;
    t.advance(ms(10));
    t.send(
        seg()
            .syn()
            .ack()
            .seq(0)
            .ack_no(1)
            .mss(PEER_MSS)
            .ts(1, syn_ts),
    );
    t.expect(seg().ack().seq(1).ack_no(1).tsecr(1));
    // The SYN-ACK echoed our SYN's TSval 10 ms later.
    assert_eq!(t.info().srtt, Some(ms(10)));
    t.app_send(b"data");
    t.expect(seg().ack().seq(1).ack_no(1).data(b"data"));
    // RTO: 10 ms + 4 × 5 ms, raised to the 200 ms minimum.
    t.advance(ms(200));
    let rexmit = t.expect(seg().ack().seq(1).ack_no(1).data(b"data"));
    let rexmit_ts = rexmit.options.timestamps.unwrap().tsval;
    assert_eq!(rexmit_ts, syn_ts.wrapping_add(210));
    t.advance(ms(40));
    // Karn's rule would take no sample from a retransmitted segment; the echo of the
    // retransmission's own TSval gives an unambiguous 40 ms (RFC 7323 §4.1).
    t.send(seg().ack().seq(1).ack_no(5).ts(2, rexmit_ts));
    // SRTT = 7/8 × 10 + 1/8 × 40 ms.
    assert_eq!(
        t.info().srtt,
        Some(std::time::Duration::from_micros(13_750))
    );
    // An ACK that does not advance SND.UNA gives no sample.
    t.advance(ms(500));
    t.send(seg().ack().seq(1).ack_no(5).ts(3, rexmit_ts));
    assert_eq!(
        t.info().srtt,
        Some(std::time::Duration::from_micros(13_750))
    );
}

#[test]
fn a_dropped_forged_segment_does_not_move_ts_recent() {
    // A blind attacker's segments carry random TSvals. One that is dropped (an old duplicate
    // here, or one whose ACK fails RFC 5961's check) must leave TS.Recent alone, or the real
    // peer's next segment, with its real TSval, would fail PAWS.
    let (mut t, ox_ts) = established_scaled_server();
    t.send(seg().ack().seq(1).ack_no(1).ts(102, ox_ts).len(100));
    t.expect(seg().ack().seq(1).ack_no(101).tsecr(102));
    // Old data (sequence numbers already acknowledged) with a TSval far ahead.
    t.send(
        seg()
            .ack()
            .seq(1)
            .ack_no(1)
            .ts(2_000_000_000, ox_ts)
            .len(50),
    );
    t.expect(seg().ack().seq(1).ack_no(101).tsecr(102));
    // An in-window segment whose ACK is far too old for RFC 5961 §5.2.
    t.send(
        seg()
            .ack()
            .seq(101)
            .ack_abs(0x1234_5678)
            .ts(2_000_000_001, ox_ts)
            .len(10),
    );
    t.drain();
    // The real peer goes on with TSval 103: accepted, not dropped by PAWS.
    t.send(seg().ack().seq(101).ack_no(1).ts(103, ox_ts).len(100));
    t.expect(seg().ack().seq(1).ack_no(201).tsecr(103));
    assert_eq!(t.stack.stats().drops_for(DropReason::Paws), 0);
}
