//! Opening a connection (RFC 9293 §3.5, §3.10.1, §3.10.7.2–§3.10.7.4): the three-way handshake
//! from both ends, simultaneous open, and CLOSE before the handshake completes.

mod common;

use common::*;
use oxtcp_core::{Cause, ConnectError, DropReason, State};

// ----- CLOSED -> LISTEN -> SYN-RECEIVED -> ESTABLISHED (passive) -----

#[test]
fn listen_enters_listen_and_sends_nothing() {
    let mut t = Harness::new();
    let l = t.listen(8);
    t.expect_none();
    t.assert_state(State::Listen);
    let info = t.stack.listener_info(l).unwrap();
    assert_eq!((info.syn_queue, info.accept_queue, info.backlog), (0, 0, 8));
    let all: Vec<_> = t.stack.listeners().collect();
    assert_eq!(all, vec![info]);
}

#[test]
fn listen_syn_is_answered_with_syn_ack_and_enters_syn_received() {
    let mut t = Harness::server();
    t.send(seg().syn().seq(0).mss(1460));
    let synack = t.expect(seg().syn().ack().seq(0).ack_no(1).win(65535).mss(1460));
    assert_eq!(synack.options.window_scale, None);
    t.assert_state(State::SynReceived);
    t.assert_last_transition(State::Listen, State::SynReceived, Cause::RecvSyn);
    let info = t.stack.listener_info(t.listener.unwrap()).unwrap();
    assert_eq!((info.syn_queue, info.accept_queue), (1, 0));
    assert_eq!(t.stack.resources().half_open, 1);
}

#[test]
fn syn_received_ack_of_syn_establishes_and_waits_in_accept_queue() {
    let mut t = Harness::server();
    t.send(seg().syn().seq(0).mss(1460));
    t.expect(seg().syn().ack().seq(0).ack_no(1));
    t.send(seg().ack().seq(1).ack_no(1));
    t.expect_none();
    t.assert_state(State::Established);
    t.assert_last_transition(State::SynReceived, State::Established, Cause::RecvAckOfSyn);
    let l = t.listener.unwrap();
    let info = t.stack.listener_info(l).unwrap();
    assert_eq!((info.syn_queue, info.accept_queue), (0, 1));
    let c = t.accept();
    assert_eq!(t.stack.state(c), Some(State::Established));
    let info = t.info();
    assert_eq!(info.mss, 1460);
    assert_eq!(info.snd_wnd, u32::from(PEER_WIN));
    assert_eq!(info.irs.get(), PEER_ISN);
    assert_eq!(Some(info.iss.get()), t.ox_iss());
}

#[test]
fn syn_received_ack_carrying_data_establishes_and_delivers_it() {
    let mut t = Harness::server();
    t.send(seg().syn().seq(0).mss(1460));
    t.expect(seg().syn().ack().seq(0).ack_no(1));
    t.send(seg().ack().seq(1).ack_no(1).data(b"hello"));
    t.expect(seg().ack().seq(1).ack_no(6).win(65535 - 5));
    t.accept();
    t.assert_state(State::Established);
    assert_eq!(t.app_recv(100), b"hello");
}

#[test]
fn syn_received_ack_carrying_fin_goes_on_to_close_wait() {
    let mut t = Harness::server();
    t.send(seg().syn().seq(0));
    t.expect(seg().syn().ack().seq(0).ack_no(1));
    t.send(seg().ack().fin().seq(1).ack_no(1));
    t.expect(seg().ack().seq(1).ack_no(2));
    t.accept();
    t.assert_state(State::CloseWait);
    assert_eq!(
        t.transitions(),
        [
            (State::Listen, State::SynReceived),
            (State::SynReceived, State::Established),
            (State::Established, State::CloseWait)
        ]
    );
    assert_eq!(t.app_recv(10), b"", "end of stream");
}

#[test]
fn syn_received_ack_of_wrong_number_draws_rst_and_entry_stays() {
    let mut t = Harness::server();
    t.send(seg().syn().seq(0));
    t.expect(seg().syn().ack().seq(0).ack_no(1));
    t.send(seg().ack().seq(1).ack_no(5));
    t.expect(seg().rst().seq(5));
    t.assert_state(State::SynReceived);
    // The real ACK still completes the handshake.
    t.send(seg().ack().seq(1).ack_no(1));
    t.assert_state(State::Established);
    t.accept();
}

/// A segment with none of ACK, RST and SYN is dropped silently, before the sequence check,
/// as in the synchronized states: in the window or not, it draws nothing.
#[test]
fn syn_received_segment_without_ack_is_dropped() {
    let mut t = Harness::server();
    t.send(seg().syn().seq(0));
    t.expect(seg().syn().ack().seq(0).ack_no(1));
    t.send(seg().seq(1).data(b"x"));
    t.expect_none();
    t.send(seg().seq(1_000_000).data(b"x"));
    t.expect_none();
    t.assert_state(State::SynReceived);
    assert_eq!(t.stack.stats().drops_for(DropReason::NoFlags), 2);
}

/// Forged segments at a half-open entry draw no more ACKs than at a connection: one per
/// `invalid_ack_interval` (500 ms), so a flood cannot make it answer each one.
#[test]
fn syn_received_answers_unacceptable_segments_spaced() {
    let mut t = Harness::server();
    t.send(seg().syn().seq(0));
    t.expect(seg().syn().ack().seq(0).ack_no(1));
    t.send(seg().ack().seq(1_000_000).ack_no(1));
    t.expect(seg().ack().seq(1).ack_no(1));
    for _ in 0..3 {
        t.send(seg().ack().seq(1_000_000).ack_no(1));
        t.expect_none();
        t.send(seg().syn().seq(50));
        t.expect_none();
    }
    t.advance(ms(500));
    t.send(seg().ack().seq(1_000_000).ack_no(1));
    t.expect(seg().ack().seq(1).ack_no(1));
    let st = t.stack.stats();
    assert_eq!(st.invalid_acks_suppressed, 3);
    assert_eq!(st.challenge_acks_suppressed, 3);
    t.assert_state(State::SynReceived);
    // The real ACK still completes the handshake.
    t.send(seg().ack().seq(1).ack_no(1));
    t.assert_state(State::Established);
}

/// With timestamps offered on the SYN, a segment to the half-open entry without them is
/// dropped silently (RFC 7323 §3.2), one older than the SYN's fails PAWS.
#[test]
fn syn_received_applies_the_timestamp_rules() {
    let mut t = Harness::server();
    t.send(seg().syn().seq(0).ts(100, 0));
    let synack = t.expect(seg().syn().ack().seq(0).ack_no(1).tsecr(100));
    let ox_ts = synack.options.timestamps.unwrap().tsval;
    t.send(seg().ack().seq(1).ack_no(1).no_ts());
    t.expect_none();
    t.send(seg().ack().seq(1).ack_no(1).ts(99, ox_ts));
    t.expect(seg().ack().seq(1).ack_no(1).tsecr(100));
    let st = t.stack.stats();
    assert_eq!(st.drops_for(DropReason::MissingTimestamp), 1);
    assert_eq!(st.drops_for(DropReason::Paws), 1);
    t.assert_state(State::SynReceived);
    t.send(seg().ack().seq(1).ack_no(1).ts(101, ox_ts));
    t.assert_state(State::Established);
}

#[test]
fn syn_without_mss_option_assumes_536() {
    let mut t = Harness::server();
    t.send(seg().syn().seq(0));
    t.expect(seg().syn().ack().seq(0).ack_no(1).mss(1460));
    t.send(seg().ack().seq(1).ack_no(1));
    t.accept();
    assert_eq!(t.info().mss, 536);
    t.app_send(&pattern(0, 1000));
    t.expect(seg().ack().seq(1).ack_no(1).len(536));
    t.expect(seg().ack().seq(537).ack_no(1).len(464));
}

// ----- CLOSED -> SYN-SENT -> ESTABLISHED (active) -----

#[test]
fn connect_sends_syn_and_enters_syn_sent() {
    let mut t = Harness::client();
    t.assert_state(State::SynSent);
    t.assert_last_transition(State::Closed, State::SynSent, Cause::Connect);
    let syn = t.expect(seg().syn().seq(0).win(65535).mss(1460).no_psh());
    assert_eq!(syn.ack_raw, 0, "no ACK number on an initial SYN");
    t.assert_state(State::SynSent);
}

#[test]
fn syn_sent_syn_ack_establishes_and_acks() {
    let mut t = Harness::client();
    t.expect(seg().syn().seq(0));
    t.send(seg().syn().ack().seq(0).ack_no(1).mss(1200).win(30000));
    t.expect(seg().ack().seq(1).ack_no(1).win(65535));
    t.assert_state(State::Established);
    t.assert_last_transition(State::SynSent, State::Established, Cause::RecvSynAck);
    let info = t.info();
    assert_eq!((info.mss, info.snd_wnd), (1200, 30000));
}

#[test]
fn syn_sent_syn_ack_with_data_delivers_it() {
    let mut t = Harness::client();
    t.expect(seg().syn().seq(0));
    t.send(seg().syn().ack().seq(0).ack_no(1).data(b"banner"));
    t.expect(seg().ack().seq(1).ack_no(7));
    t.assert_state(State::Established);
    assert_eq!(t.app_recv(100), b"banner");
}

#[test]
fn syn_sent_syn_ack_with_bad_ack_draws_rst_and_stays() {
    let mut t = Harness::client();
    t.expect(seg().syn().seq(0));
    // RFC 9293 §3.10.7.3: SEG.ACK =< ISS or SEG.ACK > SND.NXT: <SEQ=SEG.ACK><CTL=RST>.
    t.send(seg().syn().ack().seq(0).ack_no(0));
    t.expect(seg().rst().seq(0));
    t.send(seg().syn().ack().seq(0).ack_no(2));
    t.expect(seg().rst().seq(2));
    t.assert_state(State::SynSent);
    assert_eq!(t.stack.stats().drops_for(DropReason::BadAck), 2);
    // The right SYN-ACK is still welcome.
    t.send(seg().syn().ack().seq(0).ack_no(1));
    t.expect(seg().ack().seq(1).ack_no(1));
    t.assert_state(State::Established);
}

#[test]
fn syn_sent_ack_without_syn_is_dropped() {
    let mut t = Harness::client();
    t.expect(seg().syn().seq(0));
    t.send(seg().ack().seq(1).ack_no(1));
    t.expect_none();
    t.assert_state(State::SynSent);
    assert_eq!(t.stack.stats().drops_for(DropReason::NoSynInSynSent), 1);
}

#[test]
fn connect_twice_on_the_same_tuple_is_addr_in_use() {
    let mut t = Harness::client();
    t.expect(seg().syn().seq(0));
    let e = t
        .stack
        .connect_from(t.now, ox_addr(), peer_addr(PEER_PORT))
        .unwrap_err();
    assert_eq!(e, ConnectError::AddrInUse);
}

// ----- SYN-SENT -> CLOSED on CLOSE -----

#[test]
fn syn_sent_close_deletes_the_connection_silently() {
    let mut t = Harness::client();
    t.expect(seg().syn().seq(0));
    t.app_close();
    t.expect_none();
    t.assert_state(State::Closed);
    t.assert_last_transition(State::SynSent, State::Closed, Cause::Close);
    assert_eq!(t.stack.resources().connections, 0);
    assert_eq!(t.stack.resources().timers, 0);
    // Its SYN-ACK now finds no connection: RST <SEQ=SEG.ACK> (RFC 9293 §3.10.7.1).
    t.send(seg().syn().ack().seq(0).ack_no(1));
    t.expect(seg().rst().seq(1));
}

#[test]
fn syn_sent_shutdown_closes_and_handle_reports_closed() {
    let mut t = Harness::client();
    t.expect(seg().syn().seq(0));
    t.app_shutdown();
    t.expect_none();
    t.assert_state(State::Closed);
    assert_eq!(t.info().error, None);
    // No retransmission follows.
    t.advance(secs(10));
    t.expect_none();
}

// ----- Simultaneous open: SYN-SENT -> SYN-RECEIVED -> ESTABLISHED -----

#[test]
fn syn_sent_syn_draws_syn_ack_and_enters_syn_received() {
    let mut t = Harness::client();
    t.expect(seg().syn().seq(0));
    t.send(seg().syn().seq(0).mss(1460));
    // RFC 9293 §3.5 Figure 7: our SYN again, now carrying ACK of theirs.
    t.expect(seg().syn().ack().seq(0).ack_no(1).mss(1460));
    t.assert_state(State::SynReceived);
    t.assert_last_transition(State::SynSent, State::SynReceived, Cause::RecvSyn);
}

#[test]
fn simultaneous_open_peer_syn_ack_establishes_with_no_further_segment() {
    let mut t = Harness::client();
    t.expect(seg().syn().seq(0));
    t.send(seg().syn().seq(0));
    t.expect(seg().syn().ack().seq(0).ack_no(1));
    // The peer's SYN-ACK repeats its SYN; taken as the ACK of ours (a documented Deviation,
    // as Linux), so four segments in all, as in Figure 7.
    t.send(seg().syn().ack().seq(0).ack_no(1));
    t.expect_none();
    t.assert_state(State::Established);
    t.assert_last_transition(State::SynReceived, State::Established, Cause::RecvAckOfSyn);
    // Both directions work.
    t.app_send(b"hi");
    t.expect(seg().ack().seq(1).ack_no(1).data(b"hi"));
    t.send(seg().ack().seq(1).ack_no(3).data(b"yo"));
    t.expect(seg().ack().seq(3).ack_no(3));
    assert_eq!(t.app_recv(10), b"yo");
}

#[test]
fn simultaneous_open_plain_ack_establishes() {
    let mut t = Harness::client();
    t.expect(seg().syn().seq(0));
    t.send(seg().syn().seq(0));
    t.expect(seg().syn().ack().seq(0).ack_no(1));
    t.send(seg().ack().seq(1).ack_no(1));
    t.expect_none();
    t.assert_state(State::Established);
    assert_eq!(
        t.transitions(),
        [
            (State::Closed, State::SynSent),
            (State::SynSent, State::SynReceived),
            (State::SynReceived, State::Established)
        ]
    );
}

#[test]
fn simultaneous_open_bad_ack_in_syn_received_draws_rst() {
    let mut t = Harness::client();
    t.expect(seg().syn().seq(0));
    t.send(seg().syn().seq(0));
    t.expect(seg().syn().ack().seq(0).ack_no(1));
    t.send(seg().ack().seq(1).ack_no(7));
    t.expect(seg().rst().seq(7));
    t.assert_state(State::SynReceived);
}

// ----- SYN-RECEIVED -> FIN-WAIT-1 on CLOSE -----

#[test]
fn syn_received_shutdown_sends_fin_once_the_handshake_completes() {
    let mut t = Harness::client();
    t.expect(seg().syn().seq(0));
    t.send(seg().syn().seq(0));
    t.expect(seg().syn().ack().seq(0).ack_no(1));
    t.app_shutdown();
    // The FIN waits for the handshake (RFC 9293 §3.10.4 queues it "for processing after
    // entering ESTABLISHED"); the state stays SYN-RECEIVED until then.
    t.expect_none();
    t.assert_state(State::SynReceived);
    t.send(seg().ack().seq(1).ack_no(1));
    t.expect(seg().ack().fin().seq(1).ack_no(1));
    t.assert_state(State::FinWait1);
    t.assert_last_transition(State::Established, State::FinWait1, Cause::Close);
    t.send(seg().ack().seq(1).ack_no(2));
    t.assert_state(State::FinWait2);
}

#[test]
fn syn_received_close_sends_fin_once_the_handshake_completes() {
    let mut t = Harness::client();
    t.expect(seg().syn().seq(0));
    t.send(seg().syn().seq(0));
    t.expect(seg().syn().ack().seq(0).ack_no(1));
    t.app_close();
    t.expect_none();
    t.assert_state(State::SynReceived);
    t.send(seg().syn().ack().seq(0).ack_no(1));
    t.expect(seg().ack().fin().seq(1).ack_no(1));
    t.assert_state(State::FinWait1);
}

#[test]
fn syn_received_shutdown_sends_queued_data_then_fin() {
    let mut t = Harness::client();
    t.expect(seg().syn().seq(0));
    t.send(seg().syn().seq(0));
    t.expect(seg().syn().ack().seq(0).ack_no(1));
    t.app_send(b"early");
    t.app_shutdown();
    t.expect_none();
    t.send(seg().ack().seq(1).ack_no(1));
    t.expect(seg().ack().fin().seq(1).ack_no(1).data(b"early"));
    t.assert_state(State::FinWait1);
}

// ----- LISTEN -> SYN-SENT -----

/// RFC 9293's LISTEN -> SYN-SENT edge (a SEND on a listening connection) is not supported:
/// a listener is a `ListenerId` with no send(), and connecting from the listening port makes a
/// separate connection while the listener keeps listening.
#[test]
fn listen_to_syn_sent_is_not_supported_connect_makes_a_separate_connection() {
    let mut t = Harness::server();
    let c = t.connect();
    t.expect(seg().syn().seq(0));
    assert_eq!(t.stack.state(c), Some(State::SynSent));
    let l = t.listener.unwrap();
    assert!(t.stack.listener_info(l).is_some(), "still listening");
    // Another peer is still answered by the listener.
    t.send(seg().syn().seq(0).port(6000));
    t.expect(seg().syn().ack().seq(0).ack_no(1).port(6000));
    t.assert_state_on(6000, State::SynReceived);
    t.assert_state(State::SynSent);
}

// ----- two stacks back to back -----

#[test]
fn two_stacks_simultaneous_open_both_pass_through_syn_received() {
    let mut p = Pair::new();
    let a_addr = peer_addr(1000);
    let b_addr = ox_addr();
    let ca = p.a.connect_from(p.now, a_addr, b_addr).unwrap();
    let cb = p.b.connect_from(p.now, b_addr, a_addr).unwrap();
    // Both SYNs are in flight before either arrives.
    let (syn_a, syn_b) = p.take();
    assert_eq!((syn_a.len(), syn_b.len()), (1, 1));
    p.deliver(syn_a, syn_b);
    let (sa_a, sa_b) = p.take();
    for pkt in sa_a.iter().chain(&sa_b) {
        let s = oxtcp_wire::parse_packet(pkt).unwrap();
        assert!(s.tcp.flags.syn() && s.tcp.flags.ack(), "SYN-ACK expected");
    }
    assert_eq!((sa_a.len(), sa_b.len()), (1, 1));
    p.deliver(sa_a, sa_b);
    assert_eq!(p.exchange(), 0, "four segments in all");
    assert_eq!(p.a.state(ca), Some(State::Established));
    assert_eq!(p.b.state(cb), Some(State::Established));
    let path = [
        State::Closed,
        State::SynSent,
        State::SynReceived,
        State::Established,
    ];
    assert_eq!(state_path(&mut p.a), path);
    assert_eq!(state_path(&mut p.b), path);
    // Data flows both ways.
    p.a.send(ca, b"ping").unwrap();
    p.b.send(cb, b"pong").unwrap();
    p.exchange();
    let mut buf = [0u8; 8];
    assert_eq!(p.b.recv(cb, &mut buf).unwrap(), 4);
    assert_eq!(&buf[..4], b"ping");
    assert_eq!(p.a.recv(ca, &mut buf).unwrap(), 4);
    assert_eq!(&buf[..4], b"pong");
}

#[test]
fn two_stacks_passive_open_traces_the_three_way_handshake() {
    let mut p = Pair::new();
    let l = p.b.listen(ox_addr(), 4).unwrap();
    let c = p.a.connect(p.now, ox_addr()).unwrap();
    assert_eq!(p.exchange(), 3);
    let s = p.b.accept(l).unwrap();
    assert_eq!(p.a.state(c), Some(State::Established));
    assert_eq!(p.b.state(s), Some(State::Established));
    assert_eq!(
        state_path(&mut p.a),
        [State::Closed, State::SynSent, State::Established]
    );
    assert_eq!(
        state_path(&mut p.b),
        [State::Listen, State::SynReceived, State::Established]
    );
}

/// RFC 9293 §3.10.7.4 checks the sequence number before the ACK: an out-of-window segment is
/// answered with an ACK even when its ACK field is also bad. The half-open entry checks the
/// ACK first and answers with RST <SEQ=SEG.ACK>. Reported, not fixed.
#[test]
fn passive_syn_received_out_of_window_segment_with_bad_ack_draws_ack() {
    let mut t = Harness::server();
    t.send(seg().syn().seq(0));
    t.expect(seg().syn().ack().seq(0).ack_no(1));
    t.send(seg().ack().seq(100_000).ack_no(50));
    t.expect(seg().ack().seq(1).ack_no(1));
    t.assert_state(State::SynReceived);
}

#[test]
fn syn_fin_in_syn_sent_is_dropped_when_drop_syn_fin_is_on() {
    let mut t = in_state(State::SynSent);
    t.send(seg().syn().fin().seq(0));
    t.expect_none();
    t.assert_state(State::SynSent);
    assert_eq!(t.stack.stats().drops_for(DropReason::SynFin), 1);
    // Switched off, the same segment is a simultaneous open; the FIN waits for ESTABLISHED.
    let mut t = in_state_with(State::SynSent, |c| c.drop_syn_fin = false);
    t.send(seg().syn().fin().seq(0));
    t.expect(seg().syn().ack().seq(0).ack_no(1));
    t.assert_state(State::SynReceived);
}
