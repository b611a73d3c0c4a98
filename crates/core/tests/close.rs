//! Closing a connection (RFC 9293 §3.6, §3.10.4, §3.10.7.4 eighth step, §3.10.8): the
//! four-way close from both ends, the three-segment close, simultaneous close, half-close,
//! TIME-WAIT and its 2×MSL timer.

mod common;

use common::*;
use oxtcp_core::{Cause, CloseError, SendError, State};

// ----- ESTABLISHED -> FIN-WAIT-1 -> FIN-WAIT-2 -> TIME-WAIT -> CLOSED (active close) -----

#[test]
fn established_close_sends_fin_and_enters_fin_wait_1() {
    let mut t = Harness::established_server();
    t.app_close();
    t.expect(seg().ack().fin().seq(1).ack_no(1));
    t.assert_state(State::FinWait1);
    t.assert_last_transition(State::Established, State::FinWait1, Cause::Close);
}

#[test]
fn established_close_sends_queued_data_before_the_fin() {
    let mut t = Harness::established_server();
    t.app_send(b"bye");
    t.app_shutdown();
    t.expect(seg().ack().fin().psh().seq(1).ack_no(1).data(b"bye"));
    t.assert_state(State::FinWait1);
    t.send(seg().ack().seq(1).ack_no(5));
    t.assert_state(State::FinWait2);
}

#[test]
fn fin_wait_1_ack_of_fin_enters_fin_wait_2() {
    let mut t = in_state(State::FinWait1);
    t.send(seg().ack().seq(1).ack_no(2));
    t.expect_none();
    t.assert_state(State::FinWait2);
    t.assert_last_transition(State::FinWait1, State::FinWait2, Cause::RecvAckOfFin);
}

#[test]
fn fin_wait_1_ack_short_of_the_fin_stays() {
    let mut t = Harness::established_server();
    t.app_send(b"abc");
    t.app_shutdown();
    t.expect(seg().ack().fin().seq(1).ack_no(1).data(b"abc"));
    t.send(seg().ack().seq(1).ack_no(4));
    t.expect_none();
    t.assert_state(State::FinWait1);
}

#[test]
fn fin_wait_1_fin_ack_goes_straight_to_time_wait() {
    let mut t = in_state(State::FinWait1);
    t.send(seg().ack().fin().seq(1).ack_no(2));
    t.expect(seg().ack().seq(2).ack_no(2));
    t.assert_state(State::TimeWait);
    t.assert_last_transition(State::FinWait1, State::TimeWait, Cause::RecvFin);
}

#[test]
fn fin_wait_2_fin_is_acked_and_enters_time_wait() {
    let mut t = in_state(State::FinWait2);
    t.send(seg().ack().fin().seq(1).ack_no(2));
    t.expect(seg().ack().seq(2).ack_no(2));
    t.assert_state(State::TimeWait);
    t.assert_last_transition(State::FinWait2, State::TimeWait, Cause::RecvFin);
    assert_eq!(t.app_recv(10), b"", "end of stream");
}

#[test]
fn fin_wait_2_still_receives_and_acknowledges_data() {
    let mut t = in_state(State::FinWait2);
    t.send(seg().ack().seq(1).ack_no(2).data(b"more"));
    t.expect(seg().ack().seq(2).ack_no(5));
    t.send(seg().ack().seq(5).ack_no(2).data(b"!"));
    t.expect(seg().ack().seq(2).ack_no(6));
    assert_eq!(t.app_recv(10), b"more!");
    t.send(seg().ack().fin().seq(6).ack_no(2));
    t.expect(seg().ack().seq(2).ack_no(7));
    t.assert_state(State::TimeWait);
}

#[test]
fn fin_wait_1_retransmits_an_unacknowledged_fin() {
    let mut t = in_state(State::FinWait1);
    assert_eq!(t.wait_for_tx(secs(5)), secs(1));
    t.expect(seg().ack().fin().seq(1).ack_no(1));
    assert_eq!(t.wait_for_tx(secs(5)), secs(3));
    t.expect(seg().ack().fin().seq(1).ack_no(1));
    t.send(seg().ack().seq(1).ack_no(2));
    t.assert_state(State::FinWait2);
    t.advance(secs(30));
    t.expect_none();
}

#[test]
fn released_fin_wait_2_times_out_after_fin_wait_2_timeout() {
    let mut t = Harness::established_server_with(|c| c.fin_wait_2_timeout = secs(60));
    t.app_close();
    t.expect(seg().ack().fin().seq(1).ack_no(1));
    t.send(seg().ack().seq(1).ack_no(2));
    t.assert_state(State::FinWait2);
    t.advance(ms(59_999));
    t.assert_state(State::FinWait2);
    t.advance(ms(1));
    t.assert_state(State::Closed);
    t.assert_last_transition(State::FinWait2, State::Closed, Cause::FinWait2Timeout);
    t.expect_none();
    assert_eq!(t.stack.resources().connections, 0);
}

#[test]
fn held_fin_wait_2_waits_for_the_peer_without_limit() {
    let mut t = in_state(State::FinWait2);
    t.advance(secs(600));
    t.expect_none();
    t.assert_state(State::FinWait2);
}

// ----- TIME-WAIT -> CLOSED -----

#[test]
fn time_wait_lasts_exactly_two_msl() {
    let mut t = Harness::established_server_with(|c| c.msl = secs(10));
    t.app_shutdown();
    t.expect(seg().ack().fin().seq(1).ack_no(1));
    t.advance(ms(250));
    t.send(seg().ack().fin().seq(1).ack_no(2));
    t.expect(seg().ack().seq(2).ack_no(2));
    t.assert_state(State::TimeWait);
    let entered = t.now;
    assert!(t.stack.poll_timeout() <= Some(entered + secs(20)));
    t.advance(secs(20) - ms(1));
    t.assert_state(State::TimeWait);
    t.advance(ms(1));
    t.assert_state(State::Closed);
    t.assert_last_transition(State::TimeWait, State::Closed, Cause::TimeWaitExpired);
    assert_eq!(t.info().error, None);
    t.expect_none();
    assert_eq!(t.stack.resources().tuples, 0);
    assert_eq!(t.stack.resources().timers, 0);
}

#[test]
fn time_wait_with_default_msl_lasts_sixty_seconds_and_frees_everything() {
    let mut t = Harness::established_server();
    t.app_close();
    t.expect(seg().ack().fin().seq(1).ack_no(1));
    t.send(seg().ack().fin().seq(1).ack_no(2));
    t.expect(seg().ack().seq(2).ack_no(2));
    t.assert_state(State::TimeWait);
    t.advance(ms(59_999));
    t.assert_state(State::TimeWait);
    t.advance(ms(1));
    t.assert_state(State::Closed);
    let r = t.stack.resources();
    assert_eq!(
        (r.connections, r.tuples, r.timers, r.half_open),
        (0, 0, 0, 0)
    );
}

#[test]
fn time_wait_reacks_a_retransmitted_fin_and_restarts_two_msl() {
    let mut t = Harness::established_server_with(|c| c.msl = secs(10));
    t.app_shutdown();
    t.expect(seg().ack().fin().seq(1).ack_no(1));
    t.send(seg().ack().fin().seq(1).ack_no(2));
    t.expect(seg().ack().seq(2).ack_no(2));
    t.assert_state(State::TimeWait);
    t.advance(secs(15));
    // Our last ACK was lost; the peer's FIN comes again.
    t.send(seg().ack().fin().seq(1).ack_no(2));
    t.expect(seg().ack().seq(2).ack_no(2));
    t.assert_state(State::TimeWait);
    let restarted = t.now;
    assert!(t.stack.poll_timeout() <= Some(restarted + secs(20)));
    t.advance(secs(20) - ms(1));
    t.assert_state(State::TimeWait);
    t.advance(ms(1));
    t.assert_state(State::Closed);
    assert_eq!(t.elapsed(), secs(35));
}

#[test]
fn time_wait_answers_other_segments_with_an_ack() {
    let mut t = in_state(State::TimeWait);
    // Old data: not acceptable, so an ACK goes back (RFC 9293 §3.10.7.4 first check).
    t.send(seg().ack().seq(0).ack_no(2).data(b"x"));
    t.expect(seg().ack().seq(2).ack_no(2));
    t.assert_state(State::TimeWait);
}

#[test]
fn time_wait_disabled_goes_straight_to_closed() {
    let mut t = Harness::established_server_with(|c| c.time_wait = false);
    t.app_shutdown();
    t.expect(seg().ack().fin().seq(1).ack_no(1));
    t.send(seg().ack().fin().seq(1).ack_no(2));
    // The final ACK still goes out.
    t.expect(seg().ack().seq(2).ack_no(2));
    t.assert_state(State::Closed);
    t.assert_last_transition(State::FinWait1, State::Closed, Cause::RecvFin);
}

#[test]
fn time_wait_disabled_released_connection_acks_the_fin_then_is_freed() {
    let mut t = Harness::established_server_with(|c| c.time_wait = false);
    t.app_close();
    t.expect(seg().ack().fin().seq(1).ack_no(1));
    t.send(seg().ack().seq(1).ack_no(2));
    t.send(seg().ack().fin().seq(1).ack_no(2));
    t.expect(seg().ack().seq(2).ack_no(2));
    t.assert_state(State::Closed);
    t.expect_none();
    let r = t.stack.resources();
    assert_eq!((r.connections, r.tuples, r.timers), (0, 0, 0));
}

// ----- ESTABLISHED -> CLOSE-WAIT -> LAST-ACK -> CLOSED (passive close) -----

#[test]
fn established_fin_is_acked_and_enters_close_wait() {
    let mut t = Harness::established_server();
    t.send(seg().ack().fin().seq(1).ack_no(1));
    t.expect(seg().ack().seq(1).ack_no(2));
    t.assert_state(State::CloseWait);
    t.assert_last_transition(State::Established, State::CloseWait, Cause::RecvFin);
    assert_eq!(t.app_recv(10), b"", "end of stream");
}

#[test]
fn established_fin_with_data_delivers_data_then_end_of_stream() {
    let mut t = Harness::established_server();
    t.send(seg().ack().fin().seq(1).ack_no(1).data(b"last"));
    t.expect(seg().ack().seq(1).ack_no(6));
    t.assert_state(State::CloseWait);
    assert_eq!(t.app_recv(10), b"last");
    assert_eq!(t.app_recv(10), b"");
}

#[test]
fn close_wait_can_still_send_half_close() {
    let mut t = in_state(State::CloseWait);
    t.app_send(b"still here");
    t.expect(seg().ack().seq(1).ack_no(2).data(b"still here"));
    t.send(seg().ack().seq(2).ack_no(11));
    t.assert_state(State::CloseWait);
    t.expect_none();
}

#[test]
fn close_wait_close_sends_fin_and_enters_last_ack() {
    let mut t = in_state(State::CloseWait);
    t.app_close();
    t.expect(seg().ack().fin().seq(1).ack_no(2));
    t.assert_state(State::LastAck);
    t.assert_last_transition(State::CloseWait, State::LastAck, Cause::Close);
}

#[test]
fn last_ack_ack_of_fin_closes() {
    let mut t = in_state(State::LastAck);
    t.send(seg().ack().seq(2).ack_no(2));
    t.expect_none();
    t.assert_state(State::Closed);
    t.assert_last_transition(State::LastAck, State::Closed, Cause::RecvAckOfFin);
    assert_eq!(t.info().error, None);
    assert_eq!(t.app_recv(10), b"");
    // The 4-tuple is free: a late segment meets the CLOSED rules.
    t.send(seg().ack().seq(2).ack_no(2));
    t.expect(seg().rst().seq(2));
}

#[test]
fn last_ack_released_connection_is_freed() {
    let mut t = in_state(State::CloseWait);
    t.app_close();
    t.expect(seg().ack().fin().seq(1).ack_no(2));
    t.send(seg().ack().seq(2).ack_no(2));
    t.assert_state(State::Closed);
    t.expect_none();
    let r = t.stack.resources();
    assert_eq!((r.connections, r.tuples, r.timers), (0, 0, 0));
}

#[test]
fn last_ack_retransmits_the_fin_after_rto() {
    let mut t = in_state(State::LastAck);
    assert_eq!(t.wait_for_tx(secs(5)), secs(1));
    t.expect(seg().ack().fin().seq(1).ack_no(2));
    t.assert_state(State::LastAck);
    t.send(seg().ack().seq(2).ack_no(2));
    t.assert_state(State::Closed);
}

// ----- simultaneous close: FIN-WAIT-1 -> CLOSING -> TIME-WAIT -----

#[test]
fn fin_wait_1_fin_enters_closing() {
    let mut t = in_state(State::FinWait1);
    t.send(seg().ack().fin().seq(1).ack_no(1));
    // Simultaneous close: the peer's FIN did not acknowledge ours, so the ACK of its FIN
    // carries our FIN again (as BSD) in case it was lost.
    t.expect(seg().ack().fin().seq(1).ack_no(2));
    t.assert_state(State::Closing);
    t.assert_last_transition(State::FinWait1, State::Closing, Cause::RecvFin);
    // Once, not on every segment: a challenge ACK in CLOSING is bare.
    t.send(seg().syn().seq(2));
    t.expect(seg().ack().seq(2).ack_no(2));
}

#[test]
fn closing_ack_of_fin_enters_time_wait() {
    let mut t = in_state(State::Closing);
    t.send(seg().ack().seq(2).ack_no(2));
    t.expect_none();
    t.assert_state(State::TimeWait);
    t.assert_last_transition(State::Closing, State::TimeWait, Cause::RecvAckOfFin);
}

#[test]
fn closing_ack_short_of_the_fin_is_ignored() {
    let mut t = in_state(State::Closing);
    t.send(seg().ack().seq(2).ack_no(1));
    t.expect_none();
    t.assert_state(State::Closing);
}

#[test]
fn closing_retransmits_the_fin() {
    let mut t = in_state(State::Closing);
    assert_eq!(t.wait_for_tx(secs(5)), secs(1));
    t.expect(seg().ack().fin().seq(1).ack_no(2));
    t.send(seg().ack().seq(2).ack_no(2));
    t.assert_state(State::TimeWait);
}

#[test]
fn fin_wait_1_out_of_order_fin_is_held_until_the_gap_fills() {
    let mut t = in_state(State::FinWait1);
    t.send(seg().ack().fin().seq(4).ack_no(2));
    t.expect(seg().ack().seq(2).ack_no(1));
    t.assert_state(State::FinWait2);
    t.send(seg().ack().seq(1).ack_no(2).data(b"abc"));
    t.expect(seg().ack().seq(2).ack_no(5));
    t.assert_state(State::TimeWait);
    assert_eq!(t.app_recv(10), b"abc");
    assert_eq!(t.app_recv(10), b"");
}

// ----- user-call errors -----

#[test]
fn shutdown_twice_is_connection_closing() {
    let mut t = in_state(State::FinWait1);
    let id = t.conn.unwrap();
    assert_eq!(t.stack.shutdown(t.now, id), Err(CloseError::Closing));
    assert_eq!(t.stack.send(id, b"x"), Err(SendError::Closing));
    t.expect_none();
}

// ----- two stacks back to back -----

#[test]
fn two_stacks_simultaneous_close_both_pass_through_closing() {
    let mut p = Pair::new();
    let l = p.b.listen(ox_addr(), 4).unwrap();
    let ca = p.a.connect(p.now, ox_addr()).unwrap();
    p.exchange();
    let cb = p.b.accept(l).unwrap();
    let _ = state_path(&mut p.a);
    let _ = state_path(&mut p.b);
    p.a.shutdown(p.now, ca).unwrap();
    p.b.shutdown(p.now, cb).unwrap();
    // Both FINs cross in flight.
    let (fin_a, fin_b) = p.take();
    assert_eq!((fin_a.len(), fin_b.len()), (1, 1));
    p.deliver(fin_a, fin_b);
    assert_eq!(p.a.state(ca), Some(State::Closing));
    assert_eq!(p.b.state(cb), Some(State::Closing));
    p.exchange();
    assert_eq!(p.a.state(ca), Some(State::TimeWait));
    assert_eq!(p.b.state(cb), Some(State::TimeWait));
    p.advance(secs(60));
    assert_eq!(p.a.state(ca), Some(State::Closed));
    assert_eq!(p.b.state(cb), Some(State::Closed));
    let path = [
        State::Established,
        State::FinWait1,
        State::Closing,
        State::TimeWait,
        State::Closed,
    ];
    assert_eq!(state_path(&mut p.a), path);
    assert_eq!(state_path(&mut p.b), path);
}

#[test]
fn two_stacks_half_close_lets_the_other_side_keep_sending() {
    let mut p = Pair::new();
    let l = p.b.listen(ox_addr(), 4).unwrap();
    let ca = p.a.connect(p.now, ox_addr()).unwrap();
    p.exchange();
    let cb = p.b.accept(l).unwrap();
    p.a.shutdown(p.now, ca).unwrap();
    p.exchange();
    assert_eq!(p.a.state(ca), Some(State::FinWait2));
    assert_eq!(p.b.state(cb), Some(State::CloseWait));
    p.b.send(cb, b"tail").unwrap();
    p.exchange();
    let mut buf = [0u8; 8];
    assert_eq!(p.a.recv(ca, &mut buf).unwrap(), 4);
    assert_eq!(&buf[..4], b"tail");
    p.b.close(p.now, cb).unwrap();
    p.exchange();
    assert_eq!(p.a.state(ca), Some(State::TimeWait));
    assert_eq!(p.b.resources().connections, 0);
}

// ----- what TIME-WAIT answers -----

#[test]
fn time_wait_acknowledges_an_in_window_ack_that_is_not_a_duplicate() {
    let mut t = in_state(State::TimeWait);
    let (rcv_nxt, snd_nxt) = (t.peer_nxt(), t.ox_nxt());
    // A bare duplicate ACK (at RCV.NXT, acknowledging SND.NXT) draws nothing: no ACK loop.
    t.send(seg().ack().seq(rcv_nxt).ack_no(snd_nxt));
    t.expect_none();
    // Anything else acceptable is acknowledged (RFC 9293 §3.10.7.4, TIME-WAIT).
    t.send(seg().ack().seq(rcv_nxt + 1).ack_no(snd_nxt));
    t.expect(seg().ack().seq(snd_nxt).ack_no(rcv_nxt));
    t.assert_state(State::TimeWait);
}

#[test]
fn time_wait_window_is_the_last_one_advertised() {
    let mut t = in_state_with(State::TimeWait, |c| c.recv_buffer = 100_000);
    let (rcv_nxt, snd_nxt) = (t.peer_nxt(), t.ox_nxt());
    // The buffer is larger, but the last ACK showed 65535: one past that is outside.
    t.send(seg().ack().seq(rcv_nxt + 65535).ack_no(snd_nxt));
    t.expect(seg().ack().seq(snd_nxt).ack_no(rcv_nxt));
    assert_eq!(
        t.stack
            .stats()
            .drops_for(oxtcp_core::DropReason::OutOfWindow),
        1
    );
}

#[test]
fn syn_before_rcv_nxt_is_old_even_when_its_fin_reaches_the_window() {
    // SYN at RCV.NXT-1 with a FIN at RCV.NXT: the SYN is old, so the segment is answered as
    // unacceptable (an ACK), not trimmed to a bare FIN and dropped for lacking ACK.
    let mut t = in_state(State::TimeWait);
    let (rcv_nxt, snd_nxt) = (t.peer_nxt(), t.ox_nxt());
    t.send(seg().syn().fin().seq(rcv_nxt - 1));
    t.expect(seg().ack().seq(snd_nxt).ack_no(rcv_nxt));
    t.assert_state(State::TimeWait);
}
