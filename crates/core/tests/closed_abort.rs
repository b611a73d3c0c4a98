//! Segments for a CLOSED (non-existent) connection (RFC 9293 §3.10.7.1), ABORT (§3.10.5) and
//! close with unread data (RFC 2525 §2.17, a documented Deviation), and segments that are not
//! for this host.

mod common;

use common::*;
use oxtcp_core::{Cause, ConnError, DropReason, RecvError, State};

// ----- CLOSED -----

#[test]
fn syn_to_a_closed_port_draws_rst_ack_with_seq_zero_and_ack_seq_plus_one() {
    let mut t = Harness::new();
    t.send(seg().syn().seq(0));
    t.expect(seg().rst().ack().seq_abs(0).ack_no(1).win(0));
    assert_eq!(t.stack.stats().rst_sent, 1);
    assert_eq!(t.stack.stats().drops_for(DropReason::NoConnection), 1);
    assert_eq!(t.stack.resources().connections, 0);
}

#[test]
fn syn_with_data_to_a_closed_port_acknowledges_the_whole_segment() {
    let mut t = Harness::new();
    t.send(seg().syn().seq(0).data(b"hello"));
    t.expect(seg().rst().ack().seq_abs(0).ack_no(6));
}

#[test]
fn data_and_fin_without_ack_to_a_closed_port_are_acknowledged_by_the_rst() {
    let mut t = Harness::new();
    t.send(seg().fin().seq(10).data(b"abc"));
    // <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>; the FIN counts.
    t.expect(seg().rst().ack().seq_abs(0).ack_no(14));
}

#[test]
fn ack_to_a_closed_port_draws_rst_with_seq_seg_ack() {
    let mut t = Harness::new();
    t.send(seg().ack().seq(5).ack_abs(777).data(b"x"));
    t.expect(seg().rst().seq_abs(777));
    t.send(seg().ack().fin().seq(6).ack_abs(0xffff_fff0));
    t.expect(seg().rst().seq_abs(0xffff_fff0));
}

#[test]
fn rst_to_a_closed_port_draws_nothing() {
    let mut t = Harness::new();
    t.send(seg().rst().seq(0));
    t.send(seg().rst().ack().seq(0).ack_abs(1));
    t.expect_none();
    assert_eq!(t.stack.stats().drops_for(DropReason::RstIgnored), 2);
    assert_eq!(t.stack.stats().rst_sent, 0);
}

#[test]
fn segment_for_another_address_is_dropped_without_reply() {
    let mut t = Harness::server();
    let mut pkt = t.build(seg().syn().seq(0));
    // Rewrite the destination to 10.0.0.3 and fix the checksums by re-emitting.
    let parsed = oxtcp_wire::parse_packet(&pkt).unwrap();
    let mut buf = vec![0u8; 100];
    let n = oxtcp_wire::emit_packet(
        &mut buf,
        peer_ip(),
        "10.0.0.3".parse().unwrap(),
        64,
        &parsed.tcp,
        &[],
    )
    .unwrap();
    pkt = buf[..n].to_vec();
    t.send_raw(&pkt);
    t.expect_none();
    assert_eq!(t.stack.stats().drops_for(DropReason::NotForUs), 1);
}

#[test]
fn segment_from_a_broadcast_or_port_zero_source_is_never_answered() {
    let mut t = Harness::new();
    let repr = oxtcp_wire::TcpRepr {
        src_port: 5000,
        dst_port: 81,
        seq: 1,
        ack: 0,
        flags: oxtcp_wire::TcpFlags::SYN,
        window: 1000,
        urgent: 0,
        options: Default::default(),
    };
    let mut buf = vec![0u8; 100];
    let n = oxtcp_wire::emit_packet(
        &mut buf,
        "255.255.255.255".parse().unwrap(),
        ox_ip(),
        64,
        &repr,
        &[],
    )
    .unwrap();
    t.send_raw(&buf[..n]);
    let zero = oxtcp_wire::TcpRepr {
        src_port: 0,
        ..repr
    };
    let n = oxtcp_wire::emit_packet(&mut buf, peer_ip(), ox_ip(), 64, &zero, &[]).unwrap();
    t.send_raw(&buf[..n]);
    t.expect_none();
    assert_eq!(t.stack.stats().drops_for(DropReason::BadAddress), 2);
}

// ----- ABORT -----

#[test]
fn abort_sends_rst_at_snd_nxt_and_closes() {
    let mut t = Harness::established_server();
    t.app_send(b"unacked");
    t.expect(seg().ack().seq(1).ack_no(1).data(b"unacked"));
    t.app_abort();
    // RFC 9293 §3.10.5: <SEQ=SND.NXT><CTL=RST>.
    t.expect(seg().rst().seq(8));
    t.expect_none();
    t.assert_state(State::Closed);
    t.assert_last_transition(State::Established, State::Closed, Cause::Abort);
    assert_eq!(
        t.transitions_on(PEER_PORT).last().unwrap().error,
        Some(ConnError::Aborted)
    );
    let r = t.stack.resources();
    assert_eq!((r.connections, r.tuples, r.timers), (0, 0, 0));
    // The handle is gone; the peer's next segment finds no connection.
    assert!(t.stack.state(t.conn.unwrap()).is_none());
    t.send(seg().ack().seq(1).ack_no(8).data(b"?"));
    t.expect(seg().rst().seq(8));
}

#[test]
fn abort_discards_unsent_data() {
    let mut t = Harness::server();
    t.send(seg().syn().seq(0));
    t.expect(seg().syn().ack().seq(0).ack_no(1));
    t.send(seg().ack().seq(1).ack_no(1).win(0));
    t.accept();
    t.app_send(b"never sent");
    t.app_abort();
    t.expect(seg().rst().seq(1));
    t.advance(secs(100));
    t.expect_none();
}

#[test]
fn abort_in_syn_sent_sends_nothing() {
    let mut t = in_state(State::SynSent);
    t.app_abort();
    t.expect_none();
    t.assert_state(State::Closed);
    t.assert_last_transition(State::SynSent, State::Closed, Cause::Abort);
    assert_eq!(t.stack.resources().connections, 0);
}

#[test]
fn abort_in_syn_received_sends_rst() {
    let mut t = in_state(State::SynReceived);
    t.app_abort();
    t.expect(seg().rst().seq(1));
    t.assert_state(State::Closed);
}

#[test]
fn abort_in_fin_wait_1_sends_rst_after_the_fin() {
    let mut t = in_state(State::FinWait1);
    t.app_abort();
    t.expect(seg().rst().seq(2));
    t.assert_state(State::Closed);
}

#[test]
fn abort_in_close_wait_sends_rst() {
    let mut t = in_state(State::CloseWait);
    t.app_abort();
    t.expect(seg().rst().seq(1));
    t.assert_state(State::Closed);
}

#[test]
fn abort_in_time_wait_just_deletes_the_connection() {
    let mut t = in_state(State::TimeWait);
    t.app_abort();
    t.expect_none();
    t.assert_state(State::Closed);
    let r = t.stack.resources();
    assert_eq!((r.connections, r.tuples, r.timers), (0, 0, 0));
}

#[test]
fn close_with_unread_data_sends_rst_instead_of_fin() {
    let mut t = Harness::established_server();
    t.send(seg().ack().seq(1).ack_no(1).data(b"unread"));
    t.expect(seg().ack().seq(1).ack_no(7));
    t.app_close();
    // Deviation (as Linux, RFC 2525 §2.17): RST, so the peer learns its data was not read.
    t.expect(seg().rst().seq(1));
    t.expect_none();
    t.assert_state(State::Closed);
    t.assert_last_transition(State::Established, State::Closed, Cause::Abort);
}

#[test]
fn close_after_reading_everything_sends_fin() {
    let mut t = Harness::established_server();
    t.send(seg().ack().seq(1).ack_no(1).data(b"read"));
    t.expect(seg().ack().seq(1).ack_no(5));
    assert_eq!(t.app_recv(10), b"read");
    t.app_close();
    t.expect(seg().ack().fin().seq(1).ack_no(5));
    t.assert_state(State::FinWait1);
}

#[test]
fn two_stacks_abort_makes_the_peer_see_connection_reset() {
    let mut p = Pair::new();
    let l = p.b.listen(ox_addr(), 4).unwrap();
    let c = p.a.connect(p.now, ox_addr()).unwrap();
    p.exchange();
    let s = p.b.accept(l).unwrap();
    p.b.abort(p.now, s).unwrap();
    p.exchange();
    assert_eq!(p.a.state(c), Some(State::Closed));
    let mut buf = [0u8; 4];
    assert_eq!(
        p.a.recv(c, &mut buf),
        Err(RecvError::Conn(ConnError::Reset))
    );
}

// ----- kill (tcpdrop) -----

#[test]
fn kill_in_time_wait_ends_it_silently_and_the_holder_sees_closed() {
    let mut t = in_state(State::TimeWait);
    let id = t.conn.unwrap();
    t.stack.kill(t.now, id).unwrap();
    t.expect_none();
    t.assert_state(State::Closed);
    t.assert_last_transition(State::TimeWait, State::Closed, Cause::Abort);
    // The tuple is free: a new SYN from the peer is a new connection attempt, not TIME-WAIT's.
    assert_eq!(t.stack.resources().tuples, 0);
}

#[test]
fn kill_in_established_sends_rst_and_reports_aborted_to_the_holder() {
    let mut t = Harness::established_server();
    let id = t.conn.unwrap();
    t.stack.kill(t.now, id).unwrap();
    t.expect(seg().rst().seq(1));
    t.assert_state(State::Closed);
    assert_eq!(t.info().error, Some(ConnError::Aborted));
    let mut buf = [0u8; 4];
    assert_eq!(
        t.stack.recv(id, &mut buf),
        Err(RecvError::Conn(ConnError::Aborted))
    );
}

#[test]
fn kill_reaches_a_released_connection() {
    let mut t = in_state(State::FinWait2);
    let id = t.conn.unwrap();
    t.app_close();
    assert!(t.stack.state(id).is_none(), "released after close");
    t.stack.kill(t.now, id).unwrap();
    t.expect(seg().rst().seq(2));
    assert_eq!(t.stack.resources().connections, 0);
}

#[test]
fn kill_of_a_half_open_entry_frees_it() {
    let mut t = Harness::server();
    t.send(seg().syn().seq(0));
    t.expect(seg().syn().ack().seq(0).ack_no(1));
    let (id, state, _) = t.stack.connections().next().unwrap();
    assert_eq!(state, State::SynReceived);
    t.stack.kill(t.now, id).unwrap();
    let r = t.stack.resources();
    assert_eq!((r.half_open, r.tuples, r.timers), (0, 0, 0));
    assert_eq!(
        t.stack
            .listener_info(t.listener.unwrap())
            .unwrap()
            .syn_queue,
        0
    );
}

// ----- set_config (sysctl -w) -----

#[test]
fn set_config_changes_policy_for_later_segments() {
    let mut t = Harness::established_server();
    t.send(seg().rst().seq(10));
    t.expect(seg().ack().seq(1).ack_no(1));
    let seed = t.stack.config().seed;
    let mut cfg = t.stack.config().clone();
    cfg.rst_policy = oxtcp_core::RstPolicy::Rfc793;
    cfg.seed = 12345;
    t.stack.set_config(cfg);
    assert_eq!(t.stack.config().seed, seed, "the seed is fixed at creation");
    t.send(seg().rst().seq(10));
    t.expect_none();
    t.assert_state(State::Closed);
}
