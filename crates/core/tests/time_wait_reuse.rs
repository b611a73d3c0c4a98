//! RFC 6191: a SYN may end TIME-WAIT and open a new incarnation of the same 4-tuple when it is
//! plainly newer than anything of the old one: a TSval above TS.Recent with timestamps, a
//! sequence number above RCV.NXT without.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::*;
use oxtcp_core::{Cause, DropReason, State};
use oxtcp_wire::TcpFlags;

fn is_syn_ack(out: &Out) -> bool {
    out.flags.contains(TcpFlags::SYN | TcpFlags::ACK)
}

#[test]
fn syn_above_rcv_nxt_reuses_time_wait_without_timestamps() {
    let mut t = in_state(State::TimeWait);
    let old = t.conn.unwrap();
    // RCV.NXT is the peer's 2 (after its FIN); this SYN starts well above it.
    t.send(seg().syn().seq(5000));
    let synack = t.next_out().expect("SYN-ACK of the new incarnation");
    assert!(is_syn_ack(&synack), "got {synack}");
    assert_eq!(synack.ack, 5001);
    t.assert_last_transition(State::Listen, State::SynReceived, Cause::RecvSyn);
    assert!(t
        .transitions_on(PEER_PORT)
        .iter()
        .any(|e| e.from == State::TimeWait
            && e.to == State::Closed
            && e.cause == Cause::TimeWaitReused));
    assert_eq!(t.stack.state(old), Some(State::Closed));
    // The handshake completes into a new connection.
    t.send(
        seg()
            .ack()
            .seq(5001)
            .ack_abs(synack.seq_raw.wrapping_add(1)),
    );
    t.expect_none();
    let new = t.stack.accept(t.listener.unwrap()).expect("accept");
    assert_eq!(t.stack.state(new), Some(State::Established));
}

#[test]
fn syn_at_or_below_rcv_nxt_in_time_wait_is_handled_as_before_without_timestamps() {
    let mut t = in_state(State::TimeWait);
    t.send(seg().syn().seq(1));
    t.expect(seg().ack().seq(2).ack_no(2));
    t.assert_state(State::TimeWait);
}

/// A passive connection with timestamps, closed by us first, in TIME-WAIT with TS.Recent 103.
fn time_wait_with_timestamps() -> Harness {
    let mut t = Harness::server();
    t.send(seg().syn().seq(0).mss(PEER_MSS).ts(100, 0));
    let synack = t.expect(seg().syn().ack().seq(0).ack_no(1).tsecr(100));
    let ox_ts = synack.options.timestamps.unwrap().tsval;
    t.send(seg().ack().seq(1).ack_no(1).ts(101, ox_ts));
    t.accept();
    t.app_shutdown();
    t.expect(seg().ack().fin().seq(1).ack_no(1));
    t.send(seg().ack().seq(1).ack_no(2).ts(102, ox_ts));
    t.send(seg().ack().fin().seq(1).ack_no(2).ts(103, ox_ts));
    t.expect(seg().ack().seq(2).ack_no(2).tsecr(103));
    t.assert_state(State::TimeWait);
    t
}

#[test]
fn syn_with_newer_timestamp_reuses_time_wait_even_with_a_lower_sequence_number() {
    let mut t = time_wait_with_timestamps();
    t.send(seg().syn().seq(0).mss(PEER_MSS).ts(104, 0));
    let synack = t.next_out().expect("SYN-ACK of the new incarnation");
    assert!(is_syn_ack(&synack), "got {synack}");
    assert_eq!(synack.ack, 1);
    assert_eq!(synack.options.timestamps.map(|t| t.tsecr), Some(104));
}

#[test]
fn syn_with_older_timestamp_in_time_wait_is_dropped_silently() {
    let mut t = time_wait_with_timestamps();
    t.send(seg().syn().seq(100_000).mss(PEER_MSS).ts(103, 0));
    t.expect_none();
    assert_eq!(t.stack.stats().drops_for(DropReason::TimeWaitSyn), 1);
    t.assert_state(State::TimeWait);
}

/// The active closer's TIME-WAIT has no listener behind it: a SYN is handled as in any
/// synchronized state (here RFC 5961's challenge ACK), and TIME-WAIT goes on.
#[test]
fn syn_to_time_wait_without_a_listener_is_handled_as_before() {
    let mut t = Harness::established_client();
    t.app_shutdown();
    t.expect(seg().ack().fin().seq(1).ack_no(1));
    t.send(seg().ack().fin().seq(1).ack_no(2));
    t.expect(seg().ack().seq(2).ack_no(2));
    t.assert_state(State::TimeWait);
    t.send(seg().syn().seq(5000));
    t.expect(seg().ack().seq(2).ack_no(2));
    t.assert_state(State::TimeWait);
}

/// Two oxtcp stacks: the server closes first and holds TIME-WAIT, and the client opens the
/// same 4-tuple again (the same local port) at once, over and over. RFC 6191 lets each new
/// SYN end TIME-WAIT only if its TSval is above TS.Recent, so the client's timestamps must
/// keep rising from one incarnation of a 4-tuple to the next: with a TSval offset drawn at
/// random per connection, about half of these reconnections would stall for the whole 2×MSL.
#[test]
fn reconnecting_to_a_server_in_time_wait_on_the_same_port_succeeds_every_time() {
    let mut p = Pair::with_addresses("10.0.0.1", "10.0.0.2");
    let server: SocketAddr = "10.0.0.2:80".parse().unwrap();
    let client: SocketAddr = "10.0.0.1:40000".parse().unwrap();
    let l = p.b.listen(server, 8).unwrap();
    for round in 0..32 {
        let c = p.a.connect_from(p.now, client, server).unwrap();
        p.exchange();
        assert_eq!(
            p.a.state(c),
            Some(State::Established),
            "round {round}: the handshake did not complete"
        );
        let s = p.b.accept(l).unwrap();
        p.b.close(p.now, s).unwrap();
        p.exchange();
        let mut buf = [0u8; 4];
        assert_eq!(p.a.recv(c, &mut buf).unwrap(), 0);
        p.a.close(p.now, c).unwrap();
        p.exchange();
        assert_eq!(p.b.resources().time_wait, 1, "round {round}");
        // A millisecond on: the timestamp clock's granule.
        p.advance(Duration::from_millis(1));
    }
}
