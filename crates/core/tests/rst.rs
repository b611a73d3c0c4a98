//! Resets (RFC 9293 §3.5.2, §3.5.3, §3.10.7.3, §3.10.7.4 second check; RFC 5961 §3, §4).
//!
//! In every synchronized state and in SYN-RECEIVED: an RST at exactly RCV.NXT resets; one
//! elsewhere in the window draws a challenge ACK under the default `RstPolicy::Rfc5961` and
//! resets under `RstPolicy::Rfc793`; one outside the window is dropped silently. In SYN-SENT an
//! RST is acceptable when its ACK acknowledges our SYN.

mod common;

use common::*;
use oxtcp_core::{
    Cause, ConnError, DropReason, RecvError, RstPolicy, SendError, StackConfig, State, SynPolicy,
};

/// Beyond any window oxtcp can advertise without scaling.
const OUT_OF_WINDOW: u32 = 70_000;

/// What the application sees after an acceptable RST in `state`.
fn check_reset(t: &mut Harness, error: Option<ConnError>) {
    t.assert_state(State::Closed);
    let id = t.conn.unwrap();
    assert_eq!(t.info().error, error);
    let mut buf = [0u8; 8];
    match error {
        Some(e) => {
            assert_eq!(t.stack.recv(id, &mut buf), Err(RecvError::Conn(e)));
            assert_eq!(t.stack.send(id, b"x"), Err(SendError::Conn(e)));
        }
        // TIME-WAIT: "enter the CLOSED state, delete the TCB, and return"; the close had
        // completed, so there is nothing to report.
        None => assert_eq!(t.stack.recv(id, &mut buf), Ok(0)),
    }
    assert_eq!(t.stack.resources().timers, 0);
    assert_eq!(t.stack.resources().tuples, 0);
}

/// The RST rules of RFC 9293 §3.10.7.4 in every state: TIME-WAIT's RFC 1337 protection,
/// on by default, is tested on its own below.
fn rfc9293_rules(c: &mut StackConfig) {
    c.time_wait_ignores_rst = false;
}

macro_rules! rst_in_state {
    ($name:ident, $state:expr, $error:expr) => {
        mod $name {
            use super::*;

            #[test]
            fn rst_at_rcv_nxt_resets() {
                let mut t = in_state_with($state, rfc9293_rules);
                let rcv_nxt = t.peer_nxt();
                t.send(seg().rst().seq(rcv_nxt));
                t.expect_none();
                t.assert_last_transition($state, State::Closed, Cause::RecvRst);
                check_reset(&mut t, $error);
            }

            #[test]
            fn rst_with_ack_at_rcv_nxt_resets() {
                let mut t = in_state_with($state, rfc9293_rules);
                let (rcv_nxt, snd_nxt) = (t.peer_nxt(), t.ox_nxt());
                t.send(seg().rst().ack().seq(rcv_nxt).ack_no(snd_nxt));
                t.expect_none();
                check_reset(&mut t, $error);
            }

            #[test]
            fn rst_in_window_not_at_rcv_nxt_draws_challenge_ack() {
                let mut t = in_state_with($state, rfc9293_rules);
                let (rcv_nxt, snd_nxt) = (t.peer_nxt(), t.ox_nxt());
                t.send(seg().rst().seq(rcv_nxt + 1000));
                t.expect(seg().ack().seq(snd_nxt).ack_no(rcv_nxt));
                t.assert_state($state);
                assert_eq!(t.stack.stats().drops_for(DropReason::ChallengeAckRst), 1);
                // The real RST that follows a challenge resets.
                t.send(seg().rst().seq(rcv_nxt));
                check_reset(&mut t, $error);
            }

            #[test]
            fn rst_in_window_not_at_rcv_nxt_resets_under_rfc793() {
                let mut t = in_state_with($state, |c| {
                    rfc9293_rules(c);
                    c.rst_policy = RstPolicy::Rfc793;
                });
                let rcv_nxt = t.peer_nxt();
                t.send(seg().rst().seq(rcv_nxt + 1000));
                t.expect_none();
                check_reset(&mut t, $error);
            }

            #[test]
            fn rst_beyond_the_window_is_dropped_silently() {
                let mut t = in_state_with($state, rfc9293_rules);
                let rcv_nxt = t.peer_nxt();
                t.send(seg().rst().seq(rcv_nxt + OUT_OF_WINDOW));
                t.expect_none();
                t.assert_state($state);
                assert_eq!(t.stack.stats().drops_for(DropReason::OutOfWindow), 1);
            }

            #[test]
            fn rst_before_the_window_is_dropped_silently() {
                let mut t = in_state_with($state, |c| {
                    rfc9293_rules(c);
                    c.rst_policy = RstPolicy::Rfc793;
                });
                let rcv_nxt = t.peer_nxt();
                t.send(seg().rst().seq(rcv_nxt.wrapping_sub(1)));
                t.expect_none();
                t.assert_state($state);
            }
        }
    };
}

rst_in_state!(syn_received, State::SynReceived, Some(ConnError::Refused));
rst_in_state!(established, State::Established, Some(ConnError::Reset));
rst_in_state!(fin_wait_1, State::FinWait1, Some(ConnError::Reset));
rst_in_state!(fin_wait_2, State::FinWait2, Some(ConnError::Reset));
rst_in_state!(close_wait, State::CloseWait, Some(ConnError::Reset));
rst_in_state!(closing, State::Closing, Some(ConnError::Reset));
rst_in_state!(last_ack, State::LastAck, Some(ConnError::Reset));
rst_in_state!(time_wait, State::TimeWait, None);

#[test]
fn time_wait_ignores_every_rst_by_default_rfc1337() {
    for rel in [0u32, 1000, OUT_OF_WINDOW] {
        let mut t = in_state(State::TimeWait);
        let rcv_nxt = t.peer_nxt();
        t.send(seg().rst().seq(rcv_nxt + rel));
        t.send(seg().rst().ack().seq(rcv_nxt + rel).ack_no(2));
        // No challenge ACK either: nothing may cut TIME-WAIT short or be provoked from it.
        t.expect_none();
        t.assert_state(State::TimeWait);
        assert_eq!(t.stack.stats().drops_for(DropReason::TimeWaitRst), 2);
    }
}

// ----- SYN-RECEIVED from LISTEN (a half-open entry): back to LISTEN -----

fn half_open() -> Harness {
    half_open_with(RstPolicy::Rfc5961)
}

fn half_open_with(policy: RstPolicy) -> Harness {
    let mut t = Harness::server_with(8, |c| c.rst_policy = policy);
    t.send(seg().syn().seq(0));
    t.expect(seg().syn().ack().seq(0).ack_no(1));
    t
}

#[test]
fn passive_syn_received_rst_at_rcv_nxt_returns_to_listen() {
    let mut t = half_open();
    t.send(seg().rst().seq(1));
    t.expect_none();
    t.assert_state(State::Listen);
    t.assert_last_transition(State::SynReceived, State::Listen, Cause::RecvRst);
    let info = t.stack.listener_info(t.listener.unwrap()).unwrap();
    assert_eq!((info.syn_queue, info.stats.half_open_reset), (0, 1));
    let r = t.stack.resources();
    assert_eq!((r.half_open, r.tuples, r.timers), (0, 0, 0));
    // The listener is still there for the next SYN from the same peer.
    t.send(seg().syn().seq(500));
    t.expect(seg().syn().ack().seq(0).ack_no(501).port(PEER_PORT));
    t.assert_state(State::SynReceived);
}

#[test]
fn passive_syn_received_rst_in_window_draws_challenge_ack() {
    let mut t = half_open();
    t.send(seg().rst().seq(1000));
    t.expect(seg().ack().seq(1).ack_no(1));
    t.assert_state(State::SynReceived);
    t.send(seg().rst().seq(1));
    t.assert_state(State::Listen);
}

#[test]
fn passive_syn_received_rst_in_window_returns_to_listen_under_rfc793() {
    let mut t = half_open_with(RstPolicy::Rfc793);
    t.send(seg().rst().seq(1000));
    t.expect_none();
    t.assert_state(State::Listen);
}

#[test]
fn passive_syn_received_rst_out_of_window_is_dropped() {
    let mut t = half_open();
    t.send(seg().rst().seq(1 + OUT_OF_WINDOW));
    t.expect_none();
    t.assert_state(State::SynReceived);
    t.send(seg().rst().seq(0));
    t.expect_none();
    t.assert_state(State::SynReceived);
}

// ----- SYN-SENT -> CLOSED on RST (connection refused) -----

#[test]
fn syn_sent_rst_with_acceptable_ack_is_connection_refused() {
    let mut t = in_state(State::SynSent);
    t.send(seg().rst().ack().seq_abs(0).ack_no(1));
    t.expect_none();
    t.assert_last_transition(State::SynSent, State::Closed, Cause::RecvRst);
    check_reset(&mut t, Some(ConnError::Refused));
}

#[test]
fn syn_sent_rst_with_bad_ack_is_dropped() {
    let mut t = in_state(State::SynSent);
    t.send(seg().rst().ack().seq_abs(0).ack_no(2));
    t.send(seg().rst().ack().seq_abs(0).ack_no(0));
    t.expect_none();
    t.assert_state(State::SynSent);
    assert_eq!(t.stack.stats().drops_for(DropReason::BadAck), 2);
}

#[test]
fn syn_sent_rst_without_ack_is_dropped() {
    let mut t = in_state(State::SynSent);
    t.send(seg().rst().seq(0));
    t.expect_none();
    t.assert_state(State::SynSent);
    assert_eq!(t.stack.stats().drops_for(DropReason::RstIgnored), 1);
}

#[test]
fn connect_to_a_closed_port_fails_with_refused_on_two_stacks() {
    let mut p = Pair::new();
    let c = p.a.connect(p.now, ox_addr()).unwrap();
    p.exchange();
    assert_eq!(p.a.state(c), Some(State::Closed));
    assert_eq!(p.a.info(c).unwrap().error, Some(ConnError::Refused));
    let mut buf = [0u8; 4];
    assert_eq!(
        p.a.recv(c, &mut buf),
        Err(RecvError::Conn(ConnError::Refused))
    );
}

// ----- SYN in a synchronized state (RFC 5961 §4) -----

#[test]
fn established_syn_draws_challenge_ack() {
    let mut t = Harness::established_server();
    t.send(seg().syn().seq(1));
    t.expect(seg().ack().seq(1).ack_no(1));
    t.assert_state(State::Established);
    assert_eq!(t.stack.stats().drops_for(DropReason::ChallengeAckSyn), 1);
}

#[test]
fn established_syn_in_window_resets_under_rfc793() {
    let mut t = Harness::established_server_with(|c| c.syn_policy = SynPolicy::Rfc793);
    t.send(seg().syn().seq(10));
    t.expect(seg().rst().ack().seq(1).ack_no(1));
    t.assert_state(State::Closed);
    t.assert_last_transition(State::Established, State::Closed, Cause::RecvSynInWindow);
    assert_eq!(t.info().error, Some(ConnError::Reset));
}

#[test]
fn rst_and_syn_policies_are_independent() {
    // RFC 793 RSTs with RFC 5961 SYNs: an in-window SYN still draws a challenge ACK.
    let mut t = Harness::established_server_with(|c| c.rst_policy = RstPolicy::Rfc793);
    t.send(seg().syn().seq(10));
    t.expect(seg().ack().seq(1).ack_no(1));
    t.assert_state(State::Established);
    // RFC 793 SYNs with RFC 5961 RSTs: an in-window RST off RCV.NXT draws a challenge ACK.
    let mut t = Harness::established_server_with(|c| c.syn_policy = SynPolicy::Rfc793);
    t.send(seg().rst().seq(10));
    t.expect(seg().ack().seq(1).ack_no(1));
    t.assert_state(State::Established);
}

#[test]
fn reset_connection_frees_its_tuple_and_later_segments_get_rst() {
    let mut t = Harness::established_server();
    t.send(seg().rst().seq(1));
    t.assert_state(State::Closed);
    t.send(seg().ack().seq(1).ack_no(1).data(b"late"));
    t.expect(seg().rst().seq(1));
}
