//! Issue 7: the stack's limits on what peers can make it send and hold. Challenge ACKs are
//! rate-limited stack-wide (RFC 5961 §7), ACKs to unacceptable segments per connection (as
//! Linux's tcp_invalid_ratelimit); connections, half-open entries and buffer memory are
//! bounded, and reassembly never holds more than the window.

mod common;

use common::*;
use oxtcp_core::{ConnectError, DropReason, State, SynCookies};

/// Two RSTs in the window but not at RCV.NXT draw two challenge ACKs; with a limit of two per
/// second the next ones are dropped without an ACK, and counted, until a second has passed.
/// (The per-connection spacing is off here, to see the stack-wide limit alone.)
#[test]
fn challenge_acks_over_the_limit_are_not_sent() {
    let mut t = Harness::established_server_with(|c| {
        c.challenge_ack_limit = Some(2);
        c.invalid_ack_interval = ms(0);
    });
    for _ in 0..2 {
        t.send(seg().rst().seq(100));
        t.expect(seg().ack().seq(1).ack_no(1));
    }
    for _ in 0..3 {
        t.send(seg().rst().seq(100));
        t.expect_none();
    }
    let st = t.stack.stats();
    assert_eq!(st.drops_for(DropReason::ChallengeAckRst), 5);
    assert_eq!(st.challenge_acks_suppressed, 3);
    t.assert_state(State::Established);
    // Half a second refills one token of two per second.
    t.advance(ms(500));
    t.send(seg().syn().seq(100));
    t.expect(seg().ack().seq(1).ack_no(1));
    t.send(seg().syn().seq(100));
    t.expect_none();
    assert_eq!(t.stack.stats().challenge_acks_suppressed, 4);
}

#[test]
fn challenge_ack_limit_none_is_unlimited() {
    let mut t = Harness::established_server_with(|c| {
        c.challenge_ack_limit = None;
        c.invalid_ack_interval = ms(0);
    });
    for _ in 0..2000 {
        t.send(seg().rst().seq(100));
        t.expect(seg().ack().seq(1).ack_no(1));
    }
    assert_eq!(t.stack.stats().challenge_acks_suppressed, 0);
}

/// The limit is the stack's, not each connection's: a second connection finds it spent.
#[test]
fn challenge_ack_limit_is_shared_by_all_connections() {
    let mut t = Harness::established_server_with(|c| c.challenge_ack_limit = Some(1));
    t.send(seg().rst().seq(100));
    t.expect(seg().ack().seq(1).ack_no(1));
    t.send(seg().syn().seq(0).port(5001));
    t.expect(seg().syn().ack().seq(0).ack_no(1).port(5001));
    t.send(seg().ack().seq(1).ack_no(1).port(5001));
    t.send(seg().rst().seq(100).port(5001));
    t.expect_none();
    assert_eq!(t.stack.stats().challenge_acks_suppressed, 1);
}

/// A bare ACK beyond the window draws an ACK, but a second one within 500 ms does not: two
/// endpoints that each find the other's ACKs unacceptable stop trading them.
#[test]
fn acks_to_out_of_window_acks_are_spaced_per_connection() {
    let mut t = Harness::established_server();
    t.send(seg().ack().seq(1_000_000).ack_no(1));
    t.expect(seg().ack().seq(1).ack_no(1));
    t.advance(ms(100));
    t.send(seg().ack().seq(1_000_000).ack_no(1));
    t.expect_none();
    // An old duplicate bare ACK (below RCV.NXT) is limited by the same clock.
    t.send(seg().ack().seq_abs(PEER_ISN.wrapping_sub(10)).ack_no(1));
    t.expect_none();
    t.advance(ms(400));
    t.send(seg().ack().seq(1_000_000).ack_no(1));
    t.expect(seg().ack().seq(1).ack_no(1));
    let st = t.stack.stats();
    assert_eq!(st.invalid_acks_suppressed, 2);
    assert_eq!(st.drops_for(DropReason::OutOfWindow), 3);
}

/// As in Linux, a connection spaces its challenge ACKs like its other answers to
/// unacceptable segments: one per 500 ms, sharing the same clock.
#[test]
fn challenge_acks_are_spaced_per_connection() {
    let mut t = Harness::established_server();
    t.send(seg().rst().seq(100));
    t.expect(seg().ack().seq(1).ack_no(1));
    t.send(seg().syn().seq(100));
    t.expect_none();
    t.send(seg().ack().seq(1_000_000).ack_no(1));
    t.expect_none();
    t.advance(ms(500));
    t.send(seg().rst().seq(100));
    t.expect(seg().ack().seq(1).ack_no(1));
    let st = t.stack.stats();
    assert_eq!(st.challenge_acks_suppressed, 1);
    assert_eq!(st.invalid_acks_suppressed, 1);
    t.assert_state(State::Established);
}

/// Segments with data are no part of an ACK loop: each one beyond the window, or an old
/// duplicate, is answered, as long as it lies where a real peer's data could.
#[test]
fn out_of_window_data_near_the_window_is_always_answered() {
    let mut t = Harness::established_server();
    for _ in 0..3 {
        t.send(seg().ack().seq(100_000).ack_no(1).data(b"x"));
        t.expect(seg().ack().seq(1).ack_no(1));
        t.send(
            seg()
                .ack()
                .seq_abs(PEER_ISN.wrapping_sub(1000))
                .ack_no(1)
                .data(b"x"),
        );
        t.expect(seg().ack().seq(1).ack_no(1));
    }
    assert_eq!(t.stack.stats().invalid_acks_suppressed, 0);
}

/// Data far from any window a real peer could use (here 2^30 ahead) can only be forged: it
/// is answered no more often than a bare ACK, so a blind flood cannot draw an ACK apiece.
#[test]
fn forged_data_far_from_the_window_is_spaced() {
    let mut t = Harness::established_server();
    let far = PEER_ISN.wrapping_add(1 << 30);
    t.send(seg().ack().seq_abs(far).ack_no(1).data(b"x"));
    t.expect(seg().ack().seq(1).ack_no(1));
    for _ in 0..3 {
        t.send(seg().ack().seq_abs(far).ack_no(1).data(b"x"));
        t.expect_none();
    }
    assert_eq!(t.stack.stats().invalid_acks_suppressed, 3);
    assert_eq!(t.stack.stats().drops_for(DropReason::OutOfWindow), 4);
}

#[test]
fn invalid_ack_interval_zero_answers_every_segment() {
    let mut t = Harness::established_server_with(|c| c.invalid_ack_interval = ms(0));
    for _ in 0..3 {
        t.send(seg().ack().seq(1_000_000).ack_no(1));
        t.expect(seg().ack().seq(1).ack_no(1));
    }
}

/// Three SYNs from three ports against a stack-wide limit of two half-open entries: without
/// SYN cookies the third is dropped without a SYN-ACK and counted.
#[test]
fn syn_beyond_max_half_open_is_dropped_and_counted() {
    let mut t = Harness::server_with(8, |c| {
        c.max_half_open = Some(2);
        c.syn_cookies = SynCookies::Off;
    });
    for port in [5001, 5002] {
        t.send(seg().syn().seq(0).port(port));
        t.expect(seg().syn().ack().seq(0).ack_no(1).port(port));
    }
    t.send(seg().syn().seq(0).port(5003));
    t.expect_none();
    assert_eq!(t.stack.stats().drops_for(DropReason::HalfOpenLimit), 1);
    assert_eq!(t.stack.resources().half_open, 2);
    // Completing one handshake frees its place.
    t.send(seg().ack().seq(1).ack_no(1).port(5001));
    t.send(seg().syn().seq(0).port(5003));
    t.expect(seg().syn().ack().seq(0).ack_no(1).port(5003));
}

/// With SYN cookies (the default, when full) a SYN beyond the half-open limit is answered
/// statelessly instead, and its final ACK still makes a connection.
#[test]
fn syn_beyond_max_half_open_gets_a_cookie_when_cookies_are_on() {
    let mut t = Harness::server_with(8, |c| c.max_half_open = Some(2));
    for port in [5001, 5002, 5003] {
        t.send(seg().syn().seq(0).port(port));
        t.expect(seg().syn().ack().seq(0).ack_no(1).port(port));
    }
    assert_eq!(t.stack.resources().half_open, 2);
    assert_eq!(t.stack.stats().drops_for(DropReason::HalfOpenLimit), 0);
    t.send(seg().ack().seq(1).ack_no(1).port(5003));
    t.assert_state_on(5003, State::Established);
    assert_eq!(t.stack.resources().half_open, 2);
}

/// At max_connections a SYN is dropped and connect fails, while the connection that exists
/// goes on working.
#[test]
fn at_max_connections_new_ones_are_refused_and_old_ones_work() {
    let mut t = Harness::established_server_with(|c| c.max_connections = Some(1));
    t.send(seg().syn().seq(0).port(5001));
    t.expect_none();
    assert_eq!(t.stack.stats().drops_for(DropReason::ConnectionLimit), 1);
    let r = t
        .stack
        .connect_from(t.now, ox_addr_port(6000), peer_addr(7000));
    assert_eq!(r, Err(ConnectError::ResourceLimit));
    t.send(seg().ack().seq(1).ack_no(1).data(b"still here"));
    t.expect(seg().ack().seq(1).ack_no(11));
    assert_eq!(t.app_recv(100), b"still here");
    assert_eq!(t.stack.resources().connections, 1);
}

fn ox_addr_port(port: u16) -> std::net::SocketAddr {
    std::net::SocketAddr::new(ox_ip(), port)
}

/// Each connection is charged its send plus receive buffer at creation; a SYN or connect that
/// would go over the budget is refused, and the charge is returned when the connection goes.
#[test]
fn memory_budget_refuses_connections_whose_buffers_do_not_fit() {
    let mut t = Harness::established_server_with(|c| {
        c.send_buffer = 1000;
        c.recv_buffer = 1000;
        c.memory_budget = Some(3000);
    });
    assert_eq!(t.stack.resources().buffer_bytes, 2000);
    t.send(seg().syn().seq(0).port(5001));
    t.expect_none();
    assert_eq!(t.stack.stats().drops_for(DropReason::MemoryBudget), 1);
    let r = t
        .stack
        .connect_from(t.now, ox_addr_port(6000), peer_addr(7000));
    assert_eq!(r, Err(ConnectError::ResourceLimit));
    // The held connection still moves data.
    t.send(seg().ack().seq(1).ack_no(1).data(b"ok"));
    t.expect(seg().ack().seq(1).ack_no(3));
    // Aborted and released, it gives its bytes back.
    t.app_abort();
    t.drain();
    assert_eq!(t.stack.resources().buffer_bytes, 0);
    t.send(seg().syn().seq(0).port(5001));
    t.expect(seg().syn().ack().seq(0).ack_no(1).port(5001));
}

/// Out-of-order segments spread far beyond the window: what reassembly holds never exceeds
/// the receive buffer, however many arrive.
#[test]
fn out_of_order_flood_beyond_the_window_stays_within_the_buffer() {
    let mut t = Harness::established_server_with(|c| c.recv_buffer = 8192);
    let buffer = 8192;
    // Every other 500-byte block, leaving holes, across 200 kB of sequence space.
    for k in 0..200u32 {
        let seq = 1 + 1000 * k + 500;
        t.inject(seg().ack().seq(seq).ack_no(1).len(500));
        let ooo = t.info().ooo_bytes;
        assert!(ooo <= buffer, "ooo_bytes {ooo} > buffer {buffer} after {k}");
    }
    t.drain();
    let info = t.info();
    assert!(info.ooo_bytes > 0 && info.ooo_bytes <= buffer);
    // Filling the first hole delivers what was held in order, nothing past the window.
    t.inject(seg().ack().seq(1).ack_no(1).len(500));
    assert!(t.info().ooo_bytes <= buffer);
    t.drain();
}

/// Half-open entries are charged nothing, so two SYNs that each fit are both answered; the
/// budget is checked again when a handshake completes, and the final ACK that no longer fits
/// is dropped with its entry kept, as for a full accept queue.
#[test]
fn memory_budget_is_checked_again_when_the_handshake_completes() {
    let mut t = Harness::server_with(8, |c| {
        c.send_buffer = 1000;
        c.recv_buffer = 1000;
        c.memory_budget = Some(3000);
    });
    for port in [5001, 5002] {
        t.send(seg().syn().seq(0).port(port));
        t.expect(seg().syn().ack().seq(0).ack_no(1).port(port));
    }
    t.send(seg().ack().seq(1).ack_no(1).port(5001));
    t.send(seg().ack().seq(1).ack_no(1).port(5002));
    t.expect_none();
    assert_eq!(t.stack.stats().drops_for(DropReason::MemoryBudget), 1);
    let r = t.stack.resources();
    assert_eq!((r.connections, r.half_open, r.buffer_bytes), (1, 1, 2000));
}
