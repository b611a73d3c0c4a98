//! The listener (RFC 9293 §3.10.7.2; lifecycle Q1–Q4): the SYN queue and accept queue bounded
//! by the backlog, SYN-ACK retransmission with backoff and the half-open lifetime, duplicate
//! SYNs, accept() order, and the LISTEN rules for RST, ACK and other segments.

mod common;

use common::*;
use oxtcp_core::{AcceptError, Cause, DropReason, ListenError, State, SynCookies};

fn syn_from(t: &mut Harness, port: u16) {
    t.send(seg().syn().seq(0).mss(1460).port(port));
    t.expect(seg().syn().ack().seq(0).ack_no(1).port(port));
}

fn ack_from(t: &mut Harness, port: u16) {
    t.send(seg().ack().seq(1).ack_no(1).port(port));
}

#[test]
fn syn_queue_is_bounded_by_the_backlog() {
    // Without SYN cookies (with them, see syn_cookies.rs, a full queue answers statelessly).
    let mut t = Harness::server_with(2, |c| c.syn_cookies = SynCookies::Off);
    syn_from(&mut t, 5000);
    syn_from(&mut t, 5001);
    t.send(seg().syn().seq(0).port(5002));
    t.expect_none();
    assert_eq!(t.stack.stats().drops_for(DropReason::SynQueueFull), 1);
    let info = t.stack.listener_info(t.listener.unwrap()).unwrap();
    assert_eq!((info.syn_queue, info.stats.syn_queue_overflows), (2, 1));
    assert_eq!(
        t.traced_state_on(5002),
        None,
        "no entry for the dropped SYN"
    );
    assert_eq!(t.stack.resources().half_open, 2);
    // Completing one handshake frees a place in the SYN queue.
    ack_from(&mut t, 5000);
    t.assert_state_on(5000, State::Established);
    syn_from(&mut t, 5002);
    t.assert_state_on(5002, State::SynReceived);
}

#[test]
fn accept_queue_is_bounded_and_syns_are_dropped_while_it_is_full() {
    let mut t = Harness::server_with(2, |_| {});
    syn_from(&mut t, 5000);
    syn_from(&mut t, 5001);
    ack_from(&mut t, 5000);
    ack_from(&mut t, 5001);
    let l = t.listener.unwrap();
    assert_eq!(t.stack.listener_info(l).unwrap().accept_queue, 2);
    t.send(seg().syn().seq(0).port(5002));
    t.expect_none();
    assert_eq!(t.stack.stats().drops_for(DropReason::AcceptQueueFull), 1);
    // accept() makes room.
    t.accept();
    syn_from(&mut t, 5002);
}

#[test]
fn backlog_of_one_refuses_syns_until_accept() {
    let mut t = Harness::server_with(1, |_| {});
    syn_from(&mut t, 5000);
    ack_from(&mut t, 5000);
    t.assert_state_on(5000, State::Established);
    t.send(seg().syn().seq(0).port(5001));
    t.expect_none();
    t.accept();
    syn_from(&mut t, 5001);
    ack_from(&mut t, 5001);
    t.assert_state_on(5001, State::Established);
}

#[test]
fn final_ack_is_dropped_while_the_accept_queue_is_full_and_accepted_after_retry() {
    let mut t = Harness::server_with(2, |_| {});
    syn_from(&mut t, 5000);
    syn_from(&mut t, 5001);
    ack_from(&mut t, 5000);
    syn_from(&mut t, 5002);
    ack_from(&mut t, 5001);
    let l = t.listener.unwrap();
    assert_eq!(t.stack.listener_info(l).unwrap().accept_queue, 2);
    // Deviation (as Linux): the ACK is dropped and the entry stays half-open.
    ack_from(&mut t, 5002);
    t.expect_none();
    t.assert_state_on(5002, State::SynReceived);
    assert_eq!(t.stack.stats().drops_for(DropReason::AcceptQueueFull), 1);
    // The application accepts; the SYN-ACK retransmission draws the ACK again.
    t.accept();
    assert_eq!(t.wait_for_tx(secs(10)), secs(1));
    t.expect(seg().syn().ack().seq(0).ack_no(1).port(5002));
    ack_from(&mut t, 5002);
    t.assert_state_on(5002, State::Established);
    t.accept();
    t.accept();
    assert_eq!(
        t.stack.accept(l),
        Err(AcceptError::WouldBlock),
        "all three accepted"
    );
}

#[test]
fn accept_returns_connections_in_the_order_their_handshakes_completed() {
    let mut t = Harness::server();
    syn_from(&mut t, 5000);
    syn_from(&mut t, 5001);
    syn_from(&mut t, 5002);
    ack_from(&mut t, 5001);
    ack_from(&mut t, 5002);
    ack_from(&mut t, 5000);
    let l = t.listener.unwrap();
    let ports: Vec<u16> = (0..3)
        .map(|_| {
            let c = t.stack.accept(l).unwrap();
            t.stack.info(c).unwrap().tuple.remote.port()
        })
        .collect();
    assert_eq!(ports, [5001, 5002, 5000]);
    assert_eq!(t.stack.accept(l), Err(AcceptError::WouldBlock));
}

#[test]
fn syn_ack_is_retransmitted_with_backoff_and_the_entry_dropped_after_63_s() {
    let mut t = Harness::server();
    syn_from(&mut t, PEER_PORT);
    let mut times = Vec::new();
    for _ in 0..5 {
        times.push(t.wait_for_tx(secs(100)));
        t.expect(seg().syn().ack().seq(0).ack_no(1).mss(1460));
        t.assert_state(State::SynReceived);
    }
    // 1, 2, 4, 8, 16 s apart.
    assert_eq!(times, [secs(1), secs(3), secs(7), secs(15), secs(31)]);
    t.advance_to(secs(63) - ms(1));
    t.assert_state(State::SynReceived);
    t.advance_to(secs(63));
    t.expect_none();
    t.assert_last_transition(State::SynReceived, State::Closed, Cause::RetriesExhausted);
    let l = t.listener.unwrap();
    let info = t.stack.listener_info(l).unwrap();
    assert_eq!(info.syn_queue, 0);
    assert_eq!(info.stats.synack_retransmits, 5);
    assert_eq!(info.stats.half_open_expired, 1);
    let r = t.stack.resources();
    assert_eq!((r.half_open, r.tuples, r.timers), (0, 0, 0));
    // A late ACK now meets the listener: RST <SEQ=SEG.ACK>.
    t.send(seg().ack().seq(1).ack_no(1));
    t.expect(seg().rst().seq(1));
}

#[test]
fn synack_retries_config_sets_the_half_open_lifetime() {
    let mut t = Harness::server_with(8, |c| c.synack_retries = 2);
    syn_from(&mut t, PEER_PORT);
    assert_eq!(t.wait_for_tx(secs(100)), secs(1));
    t.expect(seg().syn().ack().seq(0).ack_no(1));
    assert_eq!(t.wait_for_tx(secs(100)), secs(3));
    t.expect(seg().syn().ack().seq(0).ack_no(1));
    t.advance_to(secs(7));
    t.expect_none();
    t.assert_state(State::Closed);
}

#[test]
fn lost_syn_ack_is_retransmitted_and_the_handshake_completes() {
    let mut t = Harness::server();
    syn_from(&mut t, PEER_PORT);
    assert_eq!(t.wait_for_tx(secs(10)), secs(1));
    t.expect(seg().syn().ack().seq(0).ack_no(1));
    ack_from(&mut t, PEER_PORT);
    t.assert_state(State::Established);
    t.accept();
    t.advance(secs(100));
    t.expect_none();
}

#[test]
fn retransmitted_syn_retriggers_the_syn_ack() {
    let mut t = Harness::server();
    syn_from(&mut t, PEER_PORT);
    t.advance(ms(500));
    t.send(seg().syn().seq(0).mss(1460));
    t.expect(seg().syn().ack().seq(0).ack_no(1).mss(1460));
    t.assert_state(State::SynReceived);
    let info = t.stack.listener_info(t.listener.unwrap()).unwrap();
    assert_eq!((info.syn_queue, info.stats.syns_received), (1, 1));
}

#[test]
fn syn_with_another_isn_in_syn_received_draws_a_challenge_ack() {
    let mut t = Harness::server();
    syn_from(&mut t, PEER_PORT);
    t.send(seg().syn().seq(7));
    t.expect(seg().ack().seq(1).ack_no(1));
    t.assert_state(State::SynReceived);
}

#[test]
fn data_on_a_syn_is_not_acknowledged() {
    let mut t = Harness::server();
    t.send(seg().syn().seq(0).data(b"early"));
    t.expect(seg().syn().ack().seq(0).ack_no(1));
    t.send(seg().ack().seq(1).ack_no(1).data(b"early"));
    t.expect(seg().ack().seq(1).ack_no(6));
    t.accept();
    assert_eq!(t.app_recv(10), b"early");
}

#[test]
fn ack_to_a_listener_draws_rst_with_seq_seg_ack() {
    let mut t = Harness::server();
    t.send(seg().ack().seq(1).ack_abs(123_456));
    t.expect(seg().rst().seq_abs(123_456));
    assert_eq!(t.stack.stats().drops_for(DropReason::AckToListener), 1);
    t.assert_state(State::Listen);
    // SYN+ACK too: the ACK rule comes before the SYN rule.
    t.send(seg().syn().ack().seq(0).ack_abs(99));
    t.expect(seg().rst().seq_abs(99));
    assert_eq!(t.stack.resources().half_open, 0);
}

#[test]
fn rst_to_a_listener_is_ignored() {
    let mut t = Harness::server();
    t.send(seg().rst().seq(0));
    t.send(seg().rst().ack().seq(0).ack_abs(5));
    t.expect_none();
    assert_eq!(t.stack.stats().drops_for(DropReason::RstIgnored), 2);
    t.assert_state(State::Listen);
}

#[test]
fn segments_without_syn_or_ack_to_a_listener_are_dropped() {
    let mut t = Harness::server();
    t.send(seg().seq(0).data(b"x"));
    t.send(seg().fin().seq(0));
    t.expect_none();
    assert_eq!(t.stack.stats().drops_for(DropReason::NoSyn), 2);
}

#[test]
fn syn_fin_to_a_listener_is_dropped() {
    let mut t = Harness::server();
    t.send(seg().syn().fin().seq(0));
    t.expect_none();
    assert_eq!(t.stack.stats().drops_for(DropReason::SynFin), 1);
    assert_eq!(t.stack.resources().half_open, 0);
}

#[test]
fn syn_fin_to_a_listener_opens_like_a_syn_when_dropping_is_off() {
    let mut t = Harness::server_with(8, |c| c.drop_syn_fin = false);
    t.send(seg().syn().fin().seq(0).data(b"abc"));
    // Only the SYN is acknowledged: the FIN and the data are not kept by the half-open entry.
    t.expect(seg().syn().ack().seq(0).ack_no(1));
    t.assert_state(State::SynReceived);
}

#[test]
fn closing_the_listener_drops_half_open_entries_and_resets_unaccepted_connections() {
    let mut t = Harness::server();
    syn_from(&mut t, 5000);
    ack_from(&mut t, 5000);
    syn_from(&mut t, 5001);
    let l = t.listener.unwrap();
    t.stack.close_listener(t.now, l).unwrap();
    // The unaccepted connection is reset, the half-open entry silently dropped.
    t.expect(seg().rst().seq(1).port(5000));
    t.expect_none();
    t.assert_last_transition(State::Established, State::Closed, Cause::Abort);
    assert_eq!(
        t.transitions_on(5001).last().map(|s| (s.to, s.cause)),
        Some((State::Closed, Cause::ListenerClosed))
    );
    let r = t.stack.resources();
    assert_eq!(
        (r.listeners, r.half_open, r.connections, r.tuples, r.timers),
        (0, 0, 0, 0, 0)
    );
    // The port is closed now.
    t.send(seg().syn().seq(0).port(5002));
    t.expect(seg().rst().ack().seq_abs(0).ack_no(1).port(5002));
}

#[test]
fn listen_rejects_bad_arguments_and_a_busy_port() {
    let mut t = Harness::server();
    assert_eq!(t.stack.listen(ox_addr(), 4), Err(ListenError::AddrInUse));
    assert_eq!(
        t.stack.listen("10.0.0.2:0".parse().unwrap(), 4),
        Err(ListenError::InvalidArgument)
    );
    assert_eq!(
        t.stack.listen("10.0.0.2:81".parse().unwrap(), 0),
        Err(ListenError::InvalidArgument)
    );
    assert_eq!(
        t.stack.listen("10.9.9.9:81".parse().unwrap(), 4),
        Err(ListenError::AddrNotAvailable)
    );
}

#[test]
fn wildcard_listener_answers_on_any_local_address() {
    let mut t = Harness::new();
    let l = t.stack.listen("0.0.0.0:80".parse().unwrap(), 4).unwrap();
    t.listener = Some(l);
    t.send(seg().syn().seq(0));
    t.expect(seg().syn().ack().seq(0).ack_no(1));
    t.assert_state(State::SynReceived);
}

// ----- socket options -----

#[test]
fn listener_socket_options_shape_the_syn_ack_and_the_accepted_connection() {
    let mut t = Harness::with_config(|_| {});
    let opts = oxtcp_core::SocketOptions {
        recv_buffer: Some(4000),
        send_buffer: Some(3000),
        max_segment: Some(1000),
        keepalive: None,
        congestion_control: None,
        nodelay: false,
    };
    t.listener = Some(t.stack.listen_with(ox_addr(), 8, opts).unwrap());
    t.send(seg().syn().seq(0).mss(1460));
    let synack = t.expect(seg().syn().ack().seq(0).ack_no(1).win(4000));
    assert_eq!(synack.options.mss, Some(1000));
    t.send(seg().ack().seq(1).ack_no(1));
    let c = t.accept();
    let info = t.stack.info(c).unwrap();
    assert_eq!(
        (info.recv_buffer, info.send_buffer, info.mss),
        (4000, 3000, 1000)
    );
}

#[test]
fn connect_with_options_clamps_the_mss_and_sizes_the_buffers() {
    let mut t = Harness::with_config(|_| {});
    let opts = oxtcp_core::SocketOptions {
        recv_buffer: Some(2000),
        send_buffer: None,
        max_segment: Some(500),
        keepalive: None,
        congestion_control: None,
        nodelay: false,
    };
    let c = t
        .stack
        .connect_with(t.now, ox_addr(), peer_addr(PEER_PORT), opts)
        .unwrap();
    t.conn = Some(c);
    let syn = t.expect(seg().syn().seq(0).win(2000));
    assert_eq!(syn.options.mss, Some(500));
    let info = t.info();
    assert_eq!(info.recv_buffer, 2000);
    assert_eq!(info.send_buffer, t.stack.config().send_buffer);
}
