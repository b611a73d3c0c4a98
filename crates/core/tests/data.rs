//! Data transfer (RFC 9293 §3.4, §3.8.6, §3.10.7.4 first and seventh steps): in-order delivery,
//! reassembly, duplicates, window trimming, the receive window and its updates, the send window
//! and zero-window probing, and sequence numbers across the 2^32 wrap.

mod common;

use common::*;
use oxtcp_core::{DropReason, State};

fn small_window(bytes: usize) -> Harness {
    Harness::established_server_with(|c| c.recv_buffer = bytes)
}

// ----- receiving -----

#[test]
fn in_order_data_is_acked_and_delivered() {
    let mut t = Harness::established_server();
    t.send(seg().ack().psh().seq(1).ack_no(1).data(b"hello"));
    t.expect(seg().ack().seq(1).ack_no(6).win(65530));
    t.send(seg().ack().psh().seq(6).ack_no(1).data(b" world"));
    t.expect(seg().ack().seq(1).ack_no(12).win(65524));
    assert_eq!(t.info().recv_queue, 11);
    assert_eq!(t.app_recv(100), b"hello world");
    assert_eq!(t.info().stats.bytes_received, 11);
}

#[test]
fn recv_with_nothing_to_read_would_block() {
    let mut t = Harness::established_server();
    let mut buf = [0u8; 4];
    assert_eq!(
        t.stack.recv(t.conn.unwrap(), &mut buf),
        Err(oxtcp_core::RecvError::WouldBlock)
    );
}

#[test]
fn receive_window_shrinks_as_data_arrives_and_reopens_after_recv() {
    let mut t = small_window(4000);
    assert_eq!(t.info().stats.segs_out, 0);
    for i in 0..4u32 {
        t.send(
            seg()
                .ack()
                .seq(1 + 1000 * i)
                .ack_no(1)
                .data(&pattern(1000 * i as usize, 1000)),
        );
        t.expect(
            seg()
                .ack()
                .seq(1)
                .ack_no(1001 + 1000 * i)
                .win(3000 - 1000 * i as u16),
        );
    }
    // The window is closed: reading all of it sends a window update at once.
    assert_eq!(t.app_recv(4000), pattern(0, 4000));
    t.expect(seg().ack().seq(1).ack_no(4001).win(4000));
    t.assert_state(State::Established);
}

#[test]
fn small_read_does_not_send_a_window_update() {
    let mut t = small_window(4000);
    t.send(seg().ack().seq(1).ack_no(1).len(1000));
    t.expect(seg().ack().seq(1).ack_no(1001).win(3000));
    // 500 bytes reopen less than min(half the buffer, two segments): no update (SWS avoidance,
    // RFC 9293 §3.8.6.2.2).
    assert_eq!(t.app_recv(500).len(), 500);
    t.expect_none();
    // Reading the rest reopens the whole buffer, 1000 past what was advertised: still short of
    // the 2000-byte threshold.
    assert_eq!(t.app_recv(500).len(), 500);
    t.expect_none();
    // The next ACK carries the true window.
    t.send(seg().ack().seq(1001).ack_no(1).len(10));
    t.expect(seg().ack().seq(1).ack_no(1011).win(3990));
}

#[test]
fn read_that_opens_half_the_buffer_sends_a_window_update() {
    let mut t = small_window(4000);
    t.send(seg().ack().seq(1).ack_no(1).len(1000));
    t.expect(seg().ack().seq(1).ack_no(1001).win(3000));
    t.send(seg().ack().seq(1001).ack_no(1).len(1000));
    t.expect(seg().ack().seq(1).ack_no(2001).win(2000));
    assert_eq!(t.app_recv(2000).len(), 2000);
    t.expect(seg().ack().seq(1).ack_no(2001).win(4000));
}

#[test]
fn out_of_order_data_is_held_and_the_hole_fill_draws_one_cumulative_ack() {
    let mut t = Harness::established_server();
    // Bytes 100..200 and 200..300 arrive before 0..100: each draws a duplicate ACK.
    t.send(seg().ack().seq(101).ack_no(1).data(&pattern(100, 100)));
    t.expect(seg().ack().seq(1).ack_no(1).win(65535));
    t.send(seg().ack().seq(201).ack_no(1).data(&pattern(200, 100)));
    t.expect(seg().ack().seq(1).ack_no(1));
    let info = t.info();
    assert_eq!((info.recv_queue, info.ooo_bytes), (0, 200));
    t.send(seg().ack().seq(1).ack_no(1).data(&pattern(0, 100)));
    t.expect(seg().ack().seq(1).ack_no(301).win(65535 - 300));
    t.expect_none();
    assert_eq!(t.app_recv(1000), pattern(0, 300));
    assert_eq!(t.info().ooo_bytes, 0);
}

#[test]
fn out_of_order_pieces_with_two_holes_are_reassembled() {
    let mut t = Harness::established_server();
    t.send(seg().ack().seq(301).ack_no(1).data(&pattern(300, 100)));
    t.expect(seg().ack().seq(1).ack_no(1));
    t.send(seg().ack().seq(101).ack_no(1).data(&pattern(100, 100)));
    t.expect(seg().ack().seq(1).ack_no(1));
    t.send(seg().ack().seq(1).ack_no(1).data(&pattern(0, 100)));
    t.expect(seg().ack().seq(1).ack_no(201));
    t.send(seg().ack().seq(201).ack_no(1).data(&pattern(200, 100)));
    t.expect(seg().ack().seq(1).ack_no(401));
    assert_eq!(t.app_recv(1000), pattern(0, 400));
}

#[test]
fn duplicate_segment_is_answered_with_an_ack() {
    let mut t = Harness::established_server();
    t.send(seg().ack().seq(1).ack_no(1).data(b"abc"));
    t.expect(seg().ack().seq(1).ack_no(4));
    t.send(seg().ack().seq(1).ack_no(1).data(b"abc"));
    t.expect(seg().ack().seq(1).ack_no(4));
    assert_eq!(t.app_recv(10), b"abc", "delivered once");
}

#[test]
fn old_duplicate_still_has_its_ack_processed() {
    // Our data is in flight; the peer's retransmission of old data carries a newer ACK.
    let mut t = Harness::established_server();
    t.send(seg().ack().seq(1).ack_no(1).data(b"abc"));
    t.expect(seg().ack().seq(1).ack_no(4));
    t.app_send(b"xyz");
    t.expect(seg().ack().seq(1).ack_no(4).data(b"xyz"));
    t.send(seg().ack().seq(1).ack_no(4).data(b"abc"));
    // The text is dropped and answered with an ACK; the acknowledgment of "xyz" counts.
    t.expect(seg().ack().seq(4).ack_no(4));
    assert_eq!(t.info().send_queue, 0);
    assert_eq!(t.app_recv(10), b"abc", "delivered once");
}

#[test]
fn old_bare_ack_from_before_the_peers_fin_completes_last_ack() {
    // The peer's FIN took sequence number 1; its ACK of our FIN is numbered 1, not 2.
    let mut t = in_state(State::LastAck);
    t.send(seg().ack().seq(1).ack_no(2));
    t.expect_none();
    t.assert_state(State::Closed);
}

#[test]
fn old_pure_ack_is_accepted_silently() {
    let mut t = Harness::established_server();
    t.send(seg().ack().seq(1).ack_no(1).data(b"abc"));
    t.expect(seg().ack().seq(1).ack_no(4));
    // A zero-length segment below RCV.NXT is not acceptable: ACK it.
    t.send(seg().ack().seq(1).ack_no(1));
    t.expect(seg().ack().seq(1).ack_no(4));
}

#[test]
fn segment_overlapping_rcv_nxt_is_trimmed_at_the_left() {
    let mut t = Harness::established_server();
    t.send(seg().ack().seq(1).ack_no(1).data(&pattern(0, 100)));
    t.expect(seg().ack().seq(1).ack_no(101));
    t.send(seg().ack().seq(51).ack_no(1).data(&pattern(50, 150)));
    t.expect(seg().ack().seq(1).ack_no(201));
    assert_eq!(t.app_recv(1000), pattern(0, 200));
}

#[test]
fn data_beyond_the_window_is_trimmed_at_the_right() {
    let mut t = small_window(1000);
    t.send(seg().ack().seq(1).ack_no(1).data(&pattern(0, 1500)));
    t.expect(seg().ack().seq(1).ack_no(1001).win(0));
    assert_eq!(t.app_recv(2000), pattern(0, 1000));
    t.expect(seg().ack().seq(1).ack_no(1001).win(1000));
    // The peer resends the trimmed part.
    t.send(seg().ack().seq(1001).ack_no(1).data(&pattern(1000, 500)));
    t.expect(seg().ack().seq(1).ack_no(1501).win(500));
    assert_eq!(t.app_recv(2000), pattern(1000, 500));
    t.expect(seg().ack().seq(1).ack_no(1501).win(1000));
}

#[test]
fn fin_beyond_the_window_is_not_taken() {
    let mut t = small_window(1000);
    t.send(seg().ack().fin().seq(1).ack_no(1).data(&pattern(0, 1000)));
    // The data fills the window exactly; the FIN lies past it.
    t.expect(seg().ack().seq(1).ack_no(1001).win(0));
    t.assert_state(State::Established);
    assert_eq!(t.app_recv(2000).len(), 1000);
    t.expect(seg().ack().seq(1).ack_no(1001).win(1000));
    t.send(seg().ack().fin().seq(1001).ack_no(1));
    t.expect(seg().ack().seq(1).ack_no(1002));
    t.assert_state(State::CloseWait);
}

#[test]
fn segment_entirely_beyond_the_window_draws_an_ack() {
    let mut t = small_window(1000);
    t.send(seg().ack().seq(1001).ack_no(1).len(10));
    t.expect(seg().ack().seq(1).ack_no(1).win(1000));
    assert_eq!(t.info().ooo_bytes, 0);
}

#[test]
fn probe_of_a_zero_window_is_answered_with_an_ack_and_its_byte_dropped() {
    let mut t = small_window(1000);
    t.send(seg().ack().seq(1).ack_no(1).len(1000));
    t.expect(seg().ack().seq(1).ack_no(1001).win(0));
    t.send(seg().ack().seq(1001).ack_no(1).data(b"?"));
    t.expect(seg().ack().seq(1).ack_no(1001).win(0));
    assert_eq!(t.info().recv_queue, 1000);
    // A window update from the peer (pure ACK) at RCV.NXT is still processed.
    t.app_send(b"x");
    t.expect(seg().ack().seq(1).ack_no(1001).data(b"x"));
    t.send(seg().ack().seq(1001).ack_no(2).win(100));
    t.expect_none();
    assert_eq!(t.info().send_queue, 0);
    assert_eq!(t.info().snd_wnd, 100);
}

// ----- sending -----

#[test]
fn send_is_cut_into_mss_segments_and_acks_free_the_buffer() {
    let mut t = Harness::server();
    t.send(seg().syn().seq(0).mss(1000));
    t.expect(seg().syn().ack().seq(0).ack_no(1));
    t.send(seg().ack().seq(1).ack_no(1));
    t.accept();
    assert_eq!(t.app_send(&pattern(0, 2500)), 2500);
    t.expect(
        seg()
            .ack()
            .seq(1)
            .ack_no(1)
            .no_psh()
            .data(&pattern(0, 1000)),
    );
    t.expect(
        seg()
            .ack()
            .seq(1001)
            .ack_no(1)
            .no_psh()
            .data(&pattern(1000, 1000)),
    );
    // No small segment is unacknowledged, so the short tail is not held (Nagle as Minshall,
    // see conn/nagle.rs).
    t.expect(
        seg()
            .ack()
            .psh()
            .seq(2001)
            .ack_no(1)
            .data(&pattern(2000, 500)),
    );
    assert_eq!(t.info().send_queue, 2500);
    t.send(seg().ack().seq(1).ack_no(2001));
    assert_eq!(t.info().send_queue, 500);
    t.send(seg().ack().seq(1).ack_no(2501));
    assert_eq!(t.info().send_queue, 0);
    assert_eq!(t.info().stats.bytes_acked, 2500);
    t.expect_none();
}

#[test]
fn send_stops_at_the_peer_window_and_resumes_when_it_opens() {
    let mut t = Harness::server();
    // A window of whole segments: a partial one would be held by sender SWS avoidance
    // (RFC 9293 §3.8.6.2.1, tests/nagle.rs).
    t.send(seg().syn().seq(0).mss(1000).win(2000));
    t.expect(seg().syn().ack().seq(0).ack_no(1));
    t.send(seg().ack().seq(1).ack_no(1).win(2000));
    t.accept();
    t.app_send(&pattern(0, 4000));
    t.expect(seg().ack().seq(1).ack_no(1).len(1000));
    t.expect(seg().ack().seq(1001).ack_no(1).len(1000));
    t.expect_none();
    t.send(seg().ack().seq(1).ack_no(2001).win(2000));
    t.expect(seg().ack().seq(2001).ack_no(1).len(1000));
    t.expect(seg().ack().seq(3001).ack_no(1).len(1000));
    t.send(seg().ack().seq(1).ack_no(4001).win(2000));
    t.expect_none();
}

#[test]
fn send_buffer_full_would_block() {
    let mut t = Harness::established_server_with(|c| c.send_buffer = 1000);
    assert_eq!(t.app_send(&pattern(0, 1500)), 1000);
    assert_eq!(
        t.stack.send(t.conn.unwrap(), b"x"),
        Err(oxtcp_core::SendError::WouldBlock)
    );
    t.expect(seg().ack().seq(1).ack_no(1).len(1000));
    assert_eq!(t.info().send_queue, 1000);
    t.send(seg().ack().seq(1).ack_no(1001));
    assert_eq!(t.app_send(b"more"), 4);
    t.expect(seg().ack().seq(1001).ack_no(1).data(b"more"));
}

#[test]
fn ack_of_unsent_data_draws_an_ack_and_is_dropped() {
    let mut t = Harness::established_server();
    t.send(seg().ack().seq(1).ack_no(100));
    t.expect(seg().ack().seq(1).ack_no(1));
    assert_eq!(t.stack.stats().drops_for(DropReason::AckTooNew), 1);
}

#[test]
fn window_update_from_an_old_segment_is_ignored() {
    let mut t = Harness::established_server();
    t.send(seg().ack().seq(1).ack_no(1).data(b"abc").win(5000));
    t.expect(seg().ack().seq(1).ack_no(4));
    assert_eq!(t.info().snd_wnd, 5000);
    // SND.WL1 guards the window: a reordered older segment cannot shrink it.
    t.send(seg().ack().seq(1).ack_no(1).win(10));
    t.expect(seg().ack().seq(1).ack_no(4));
    assert_eq!(t.info().snd_wnd, 5000);
}

// ----- zero-window probing (RFC 9293 §3.8.6.1) -----

/// A passive connection whose peer advertises a zero window; RTO is the initial 1 s.
fn zero_window_peer() -> Harness {
    let mut t = Harness::server();
    t.send(seg().syn().seq(0).mss(1000));
    t.expect(seg().syn().ack().seq(0).ack_no(1));
    t.send(seg().ack().seq(1).ack_no(1).win(0));
    t.accept();
    t
}

#[test]
fn zero_window_probes_back_off_exponentially_while_the_peer_answers() {
    let mut t = zero_window_peer();
    t.app_send(&pattern(0, 100));
    t.expect_none();
    // The first probe after one RTO, then 2, 4, 8 s apart, each answered with window 0.
    let mut times = Vec::new();
    for _ in 0..4 {
        times.push(t.wait_for_tx(secs(100)));
        t.expect(seg().ack().seq(1).ack_no(1).data(&pattern(0, 1)));
        t.send(seg().ack().seq(1).ack_no(1).win(0));
        t.expect_none();
    }
    assert_eq!(times, [secs(1), secs(3), secs(7), secs(15)]);
    t.assert_state(State::Established);
    assert_eq!(t.info().stats.window_probes, 4);
}

#[test]
fn zero_window_probes_back_off_exponentially_without_answers() {
    let mut t = zero_window_peer();
    t.app_send(&pattern(0, 100));
    let mut times = Vec::new();
    for _ in 0..4 {
        times.push(t.wait_for_tx(secs(100)));
        t.expect(seg().ack().seq(1).ack_no(1).data(&pattern(0, 1)));
    }
    assert_eq!(times, [secs(1), secs(3), secs(7), secs(15)]);
}

#[test]
fn peer_answering_zero_window_probes_keeps_the_connection_alive() {
    let mut t = Harness::server_with(8, |c| {
        c.data_retries = 3;
        c.max_rto = secs(4);
    });
    t.send(seg().syn().seq(0));
    t.expect(seg().syn().ack().seq(0).ack_no(1));
    t.send(seg().ack().seq(1).ack_no(1).win(0));
    t.accept();
    t.app_send(b"data");
    // Far more probes than data_retries: the peer answers every one.
    for _ in 0..10 {
        t.wait_for_tx(secs(100));
        t.expect(seg().ack().seq(1).ack_no(1).data(b"d"));
        t.send(seg().ack().seq(1).ack_no(1).win(0));
    }
    t.assert_state(State::Established);
}

#[test]
fn unanswered_zero_window_probes_time_out() {
    let mut t = Harness::server_with(8, |c| c.data_retries = 2);
    t.send(seg().syn().seq(0));
    t.expect(seg().syn().ack().seq(0).ack_no(1));
    t.send(seg().ack().seq(1).ack_no(1).win(0));
    t.accept();
    t.app_send(b"data");
    for _ in 0..2 {
        t.wait_for_tx(secs(100));
        t.expect(seg().ack().seq(1).ack_no(1).data(b"d"));
    }
    t.advance(secs(100));
    t.expect_none();
    t.assert_state(State::Closed);
    assert_eq!(t.info().error, Some(oxtcp_core::ConnError::TimedOut));
}

#[test]
fn zero_window_recovers_when_the_window_reopens() {
    let mut t = zero_window_peer();
    t.app_send(&pattern(0, 100));
    assert_eq!(t.wait_for_tx(secs(10)), secs(1));
    t.expect(seg().ack().seq(1).ack_no(1).data(&pattern(0, 1)));
    // The peer's buffer drains; it takes the probe byte and opens its window.
    t.advance(ms(100));
    t.send(seg().ack().seq(1).ack_no(2).win(1000));
    t.expect(seg().ack().seq(2).ack_no(1).data(&pattern(1, 99)));
    t.send(seg().ack().seq(1).ack_no(101).win(1000));
    t.expect_none();
    assert_eq!(t.info().send_queue, 0);
    // No probe or retransmission is left armed.
    t.advance(secs(60));
    t.expect_none();
}

#[test]
fn zero_window_recovers_at_once_when_the_window_opens_without_the_probe_byte() {
    let mut t = zero_window_peer();
    t.app_send(&pattern(0, 100));
    assert_eq!(t.wait_for_tx(secs(10)), secs(1));
    t.expect(seg().ack().seq(1).ack_no(1).data(&pattern(0, 1)));
    t.advance(ms(100));
    // The window opens, but the probe byte was dropped at the zero window: sending resumes
    // at SND.UNA at once rather than after a retransmission timeout.
    t.send(seg().ack().seq(1).ack_no(1).win(1000));
    t.expect(seg().ack().seq(1).ack_no(1).data(&pattern(0, 100)));
    t.send(seg().ack().seq(1).ack_no(101).win(1000));
    t.advance(secs(60));
    t.expect_none();
    assert_eq!(t.info().send_queue, 0);
    assert_eq!(t.info().stats.rto_count, 0);
    // Karn's rule: the data segment repeats the probe's byte, so no RTT sample was taken.
    assert_eq!(t.info().srtt, None);
}

// ----- sequence numbers across 2^32 -----

#[test]
fn peer_sequence_numbers_wrap_past_two_to_the_32() {
    let mut t = Harness::server();
    t.peer_isn = u32::MAX - 150;
    t.handshake_passive();
    for i in 0..4u32 {
        t.send(
            seg()
                .ack()
                .seq(1 + 100 * i)
                .ack_no(1)
                .data(&pattern(100 * i as usize, 100)),
        );
        let ack = t.expect(seg().ack().seq(1).ack_no(101 + 100 * i));
        assert_eq!(ack.ack_raw, (u32::MAX - 150).wrapping_add(101 + 100 * i));
    }
    assert_eq!(t.app_recv(1000), pattern(0, 400));
    // Reassembly across the wrap: the later piece first.
    t.send(seg().ack().seq(501).ack_no(1).data(&pattern(500, 100)));
    t.expect(seg().ack().seq(1).ack_no(401));
    t.send(seg().ack().seq(401).ack_no(1).data(&pattern(400, 100)));
    t.expect(seg().ack().seq(1).ack_no(601));
    assert_eq!(t.app_recv(1000), pattern(400, 200));
    t.send(seg().ack().fin().seq(601).ack_no(1));
    t.expect(seg().ack().seq(1).ack_no(602));
    t.assert_state(State::CloseWait);
}

#[test]
fn our_sequence_numbers_wrap_past_two_to_the_32() {
    let mut t = Harness::client_with_iss(u32::MAX - 1500, |_| {});
    let syn = t.expect(seg().syn().seq(0));
    assert_eq!(syn.seq_raw, u32::MAX - 1500);
    t.send(seg().syn().ack().seq(0).ack_no(1).mss(1000));
    t.expect(seg().ack().seq(1).ack_no(1));
    t.app_send(&pattern(0, 3000));
    t.expect(seg().ack().seq(1).ack_no(1).data(&pattern(0, 1000)));
    t.expect(seg().ack().seq(1001).ack_no(1).data(&pattern(1000, 1000)));
    let third = t.expect(seg().ack().seq(2001).ack_no(1).data(&pattern(2000, 1000)));
    assert!(third.seq_raw < 1000, "past the wrap: {}", third.seq_raw);
    t.send(seg().ack().seq(1).ack_no(1001));
    assert_eq!(t.info().send_queue, 2000);
    t.send(seg().ack().seq(1).ack_no(3001));
    assert_eq!(t.info().send_queue, 0);
    t.app_shutdown();
    t.expect(seg().ack().fin().seq(3001).ack_no(1));
    t.send(seg().ack().fin().seq(1).ack_no(3002));
    t.expect(seg().ack().seq(3002).ack_no(2));
    t.assert_state(State::TimeWait);
}

// ----- receive buffer larger than the 16-bit window field -----

#[test]
fn receive_buffer_beyond_65535_is_rcv_wnd_while_the_window_field_shows_65535() {
    let mut t = Harness::established_client_with(|c| c.recv_buffer = 65536);
    assert_eq!(t.info().recv_buffer, 65536);
    t.send(seg().ack().seq(1).ack_no(1).data(b"x"));
    let ack = t.expect(seg().ack().seq(1).ack_no(2));
    assert_eq!(ack.win, 65535);
    // The last octet of RCV.WND (RCV.NXT 2 + 65535 free bytes - 1) is in the window even
    // though the advertised edge is one short of it: under RFC 793 rules an RST there resets.
    let mut t = Harness::established_client_with(|c| {
        c.recv_buffer = 65536;
        c.rst_policy = oxtcp_core::RstPolicy::Rfc793;
    });
    t.send(seg().rst().seq(65536));
    t.assert_state(State::Closed);
}

#[test]
fn receive_buffer_rounds_up_to_whole_segments_once_the_mss_is_known() {
    let mut t = Harness::client_with(|c| {
        c.recv_buffer = 65536;
        c.recv_buffer_whole_segments = true;
    });
    assert_eq!(t.info().recv_buffer, 65536, "no MSS yet in SYN-SENT");
    t.handshake_active();
    // 65536 / 1460 = 44.9 segments: rounded up to 45 × 1460.
    assert_eq!(t.info().recv_buffer, 65700);
    let mut rst = Harness::client_with(|c| {
        c.recv_buffer = 65536;
        c.recv_buffer_whole_segments = true;
        c.rst_policy = oxtcp_core::RstPolicy::Rfc793;
    });
    rst.handshake_active();
    // RCV.NXT 1 + 65700 - 1: the right edge of the rounded window.
    rst.send(seg().rst().seq(65701));
    rst.expect_none();
    rst.assert_state(State::Established);
    rst.send(seg().rst().seq(65700));
    rst.assert_state(State::Closed);
}

#[test]
fn passive_connection_rounds_its_buffer_from_the_peers_syn() {
    let mut t = Harness::server_with(8, |c| {
        c.recv_buffer = 65536;
        c.recv_buffer_whole_segments = true;
    });
    t.handshake_passive();
    assert_eq!(t.info().recv_buffer, 65700);
}

#[test]
fn initial_window_is_ten_full_segments_and_the_syns_ack_adds_nothing_to_it() {
    // RFC 6928: IW = 10 segments. RFC 5681 §3.1 grows cwnd for ACKs of new data; the ACK of
    // our SYN acknowledges no data, so no 1-byte runt follows the tenth segment.
    let mut t = Harness::server();
    t.send(seg().syn().seq(0).mss(1000));
    t.expect(seg().syn().ack().seq(0).ack_no(1));
    t.send(seg().ack().seq(1).ack_no(1));
    t.accept();
    assert_eq!(t.app_send(&pattern(0, 15_000)), 15_000);
    for k in 0..10u32 {
        t.expect(
            seg()
                .ack()
                .seq(1 + 1000 * k)
                .ack_no(1)
                .no_psh()
                .data(&pattern(1000 * k as usize, 1000)),
        );
    }
    t.expect_none();
}

#[test]
fn rwnd_limited_time_grows_while_the_peer_advertises_a_zero_window() {
    let mut t = Harness::established_client();
    t.send(seg().ack().seq(1).ack_no(1).win(0));
    t.app_send(b"waiting");
    t.expect_none();
    t.advance(ms(150));
    // The persist timer (initial RTO, 1 s) has not fired yet; the sender is stalled by rwnd.
    let s = t.info().stats;
    assert_eq!(s.rwnd_limited, ms(150));
    assert_eq!((s.cwnd_limited, s.sndbuf_limited), (ms(0), ms(0)));
    // The window opens: the data goes out and the clock stops.
    t.send(seg().ack().seq(1).ack_no(1).win(1000));
    t.expect(seg().ack().psh().seq(1).ack_no(1).data(b"waiting"));
    t.send(seg().ack().seq(1).ack_no(8).win(1000));
    t.advance(secs(5));
    assert_eq!(t.info().stats.rwnd_limited, ms(150));
}

#[test]
fn cwnd_limited_time_runs_while_the_initial_window_is_in_flight() {
    let mut t = Harness::established_client();
    let mss = t.info().mss as usize;
    // RFC 6928: ten segments; the peer's 65535-byte window is larger.
    assert_eq!(t.info().cwnd as usize / mss, 10);
    t.app_send(&pattern(0, 20 * mss));
    for i in 0..10 {
        t.expect(seg().ack().seq(1 + (i * mss) as u32).ack_no(1).len(mss));
    }
    t.expect_none();
    t.advance(ms(40));
    let s = t.info().stats;
    assert_eq!(s.cwnd_limited, ms(40));
    assert_eq!((s.rwnd_limited, s.sndbuf_limited), (ms(0), ms(0)));
    t.drain_raw();
}

#[test]
fn sndbuf_limited_time_runs_while_a_full_send_buffer_waits_for_its_ack() {
    let mut t = Harness::established_client_with(|c| c.send_buffer = 1000);
    assert_eq!(t.app_send(&pattern(0, 1000)), 1000);
    t.expect(seg().ack().psh().seq(1).ack_no(1).len(1000));
    t.advance(ms(30));
    t.send(seg().ack().seq(1).ack_no(1001));
    t.advance(ms(500));
    let s = t.info().stats;
    assert_eq!(s.sndbuf_limited, ms(30));
    assert_eq!((s.rwnd_limited, s.cwnd_limited), (ms(0), ms(0)));
}

/// An application that keeps up empties its receive buffer after each segment; the page the
/// buffer used goes to the stack's pool and the next segment reuses it, so a bulk transfer
/// does not allocate per segment, and the pool stays small.
#[test]
fn emptied_receive_pages_are_pooled_for_the_next_segment() {
    let mut t = Harness::established_server();
    for i in 0..20u32 {
        t.send(
            seg()
                .ack()
                .psh()
                .seq(1 + 100 * i)
                .ack_no(1)
                .data(&[b'x'; 100]),
        );
        t.expect(seg().ack().seq(1).ack_no(101 + 100 * i));
        assert_eq!(t.app_recv(200), vec![b'x'; 100]);
        let r = t.stack.resources();
        assert_eq!(
            r.page_pool_bytes, 4096,
            "one page, reused, after segment {i}"
        );
    }
}
