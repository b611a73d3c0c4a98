//! `Stack::check_invariants` over scripted exchanges: every state `in_state` reaches, data
//! both ways with loss and out-of-order arrival, a full close to CLOSED, and segments a peer
//! should never send. The fuzz target in fuzz/ asserts the same after every operation.

mod common;

use common::*;
use oxtcp_core::State;

#[track_caller]
fn ok(t: &Harness) {
    if let Err(e) = t.stack.check_invariants() {
        panic!("invariant broken: {e}\n{}", t.ladder());
    }
}

#[test]
fn invariants_hold_in_every_reachable_state() {
    let t = Harness::server();
    ok(&t);
    for s in CONN_STATES {
        let t = in_state(s);
        ok(&t);
    }
}

#[test]
fn invariants_hold_through_data_loss_and_reordering() {
    let mut t = Harness::established_sack_server_with(|_| {});
    ok(&t);
    // Out of order from the peer: a hole, then data beyond it, then the hole filled.
    t.send(seg().ack().seq(101).data(&pattern(100, 100)));
    t.expect(seg().ack().seq(1).ack_no(1).sack(&[(101, 201)]));
    ok(&t);
    t.send(seg().ack().seq(1).data(&pattern(0, 100)));
    t.expect(seg().ack().seq(1).ack_no(201));
    ok(&t);
    assert_eq!(t.app_recv(1000), pattern(0, 200));
    // Our data, lost and retransmitted on the timer.
    t.app_send(&pattern(0, 300));
    t.expect(seg().ack().psh().seq(1).ack_no(201).len(300));
    ok(&t);
    t.wait_for_tx(secs(5));
    t.expect(seg().ack().psh().seq(1).ack_no(201).len(300));
    ok(&t);
    t.send(seg().ack().seq(201).ack_no(301));
    ok(&t);
    assert_eq!(t.info().send_queue, 0);
}

#[test]
fn invariants_hold_through_a_close_to_closed() {
    let mut t = in_state(State::TimeWait);
    ok(&t);
    t.advance(secs(120));
    ok(&t);
    t.assert_state(State::Closed);
    let mut t = in_state(State::LastAck);
    t.send(seg().ack().seq(2).ack_no(2));
    ok(&t);
    t.assert_state(State::Closed);
}

#[test]
fn invariants_hold_after_hostile_segments() {
    for s in CONN_STATES {
        let mut t = in_state(s);
        // An ACK of data never sent, a far-away SYN, a SACK of data never sent, and data
        // past the window: each is dropped, challenged or answered, never accepted.
        t.inject(seg().ack().ack_no(1_000_000));
        ok(&t);
        t.inject(seg().syn().seq_abs(7));
        ok(&t);
        t.inject(seg().ack().sack(&[(5_000, 9_000)]));
        ok(&t);
        t.inject(seg().ack().seq(10_000_000).len(100));
        ok(&t);
        t.drain();
        ok(&t);
    }
}

/// Found by the stack fuzz target: a connection released in FIN-WAIT-2 (its FIN-WAIT-2 timer
/// armed) that then gets the peer's FIN moved to TIME-WAIT with that timer still armed, so
/// the stack woke it at the FIN-WAIT-2 deadline for nothing.
#[test]
fn fin_wait_2_timer_is_disarmed_on_entering_time_wait() {
    let mut t = in_state(State::FinWait2);
    t.app_close();
    ok(&t);
    t.send(seg().ack().fin().seq(1).ack_no(2));
    t.expect(seg().ack().seq(2).ack_no(2));
    ok(&t);
    t.assert_state(State::TimeWait);
}
