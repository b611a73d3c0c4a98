//! Retransmission (RFC 6298, RFC 9293 §3.8.1, §3.10.8): the initial RTO of 1 s, exponential
//! backoff of SYN and data retransmissions, connect() and data timing out after the configured
//! retries, Karn's rule, and SRTT/RTTVAR/RTO after clean samples.

mod common;

use std::time::Duration;

use common::*;
use oxtcp_core::{Cause, ConnError, RecvError, State};

#[test]
fn syn_is_retransmitted_with_exponential_backoff_and_connect_times_out() {
    let mut t = Harness::client();
    t.expect(seg().syn().seq(0).mss(1460));
    // RFC 6298 §2.1 initial RTO 1 s, doubled at each timeout (§5.5); syn_retries = 6.
    let mut times = Vec::new();
    for _ in 0..6 {
        times.push(t.wait_for_tx(secs(200)));
        let syn = t.expect(seg().syn().seq(0).mss(1460));
        assert_eq!(syn.ack_raw, 0);
        t.assert_state(State::SynSent);
    }
    assert_eq!(
        times,
        [secs(1), secs(3), secs(7), secs(15), secs(31), secs(63)]
    );
    t.advance_to(secs(127) - ms(1));
    t.assert_state(State::SynSent);
    t.advance_to(secs(127));
    t.expect_none();
    t.assert_state(State::Closed);
    t.assert_last_transition(State::SynSent, State::Closed, Cause::RetriesExhausted);
    assert_eq!(t.info().error, Some(ConnError::TimedOut));
    let mut buf = [0u8; 4];
    assert_eq!(
        t.stack.recv(t.conn.unwrap(), &mut buf),
        Err(RecvError::Conn(ConnError::TimedOut))
    );
    assert_eq!(t.stack.resources().timers, 0);
}

#[test]
fn syn_retries_config_bounds_the_attempts() {
    let mut t = Harness::client_with(|c| c.syn_retries = 2);
    t.expect(seg().syn().seq(0));
    assert_eq!(t.wait_for_tx(secs(100)), secs(1));
    t.expect(seg().syn().seq(0));
    assert_eq!(t.wait_for_tx(secs(100)), secs(3));
    t.expect(seg().syn().seq(0));
    t.advance_to(secs(7));
    t.expect_none();
    t.assert_state(State::Closed);
    assert_eq!(t.info().error, Some(ConnError::TimedOut));
}

#[test]
fn lost_syn_then_syn_ack_to_the_retransmission_establishes() {
    let mut t = Harness::client();
    t.expect(seg().syn().seq(0));
    assert_eq!(t.wait_for_tx(secs(10)), secs(1));
    t.expect(seg().syn().seq(0));
    t.advance(ms(200));
    t.send(seg().syn().ack().seq(0).ack_no(1));
    t.expect(seg().ack().seq(1).ack_no(1));
    t.assert_state(State::Established);
    t.advance(secs(100));
    t.expect_none();
}

#[test]
fn simultaneous_open_syn_ack_is_retransmitted_until_acked() {
    let mut t = in_state(State::SynReceived);
    assert_eq!(t.wait_for_tx(secs(10)), secs(1));
    t.expect(seg().syn().ack().seq(0).ack_no(1));
    assert_eq!(t.wait_for_tx(secs(10)), secs(3));
    t.expect(seg().syn().ack().seq(0).ack_no(1));
    t.send(seg().ack().seq(1).ack_no(1));
    t.assert_state(State::Established);
}

#[test]
fn data_is_retransmitted_with_backoff_and_times_out_after_data_retries() {
    let mut t = Harness::established_server_with(|c| c.data_retries = 3);
    t.app_send(b"lost");
    t.expect(seg().ack().seq(1).ack_no(1).data(b"lost"));
    let mut times = Vec::new();
    for _ in 0..3 {
        times.push(t.wait_for_tx(secs(100)));
        t.expect(seg().ack().seq(1).ack_no(1).data(b"lost"));
    }
    assert_eq!(times, [secs(1), secs(3), secs(7)]);
    t.advance_to(secs(15) - ms(1));
    t.assert_state(State::Established);
    t.advance_to(secs(15));
    t.expect_none();
    t.assert_state(State::Closed);
    t.assert_last_transition(State::Established, State::Closed, Cause::RetriesExhausted);
    let info = t.info();
    assert_eq!(info.error, Some(ConnError::TimedOut));
    assert_eq!((info.stats.rto_count, info.stats.retransmits), (4, 3));
    assert_eq!(info.send_queue, 0, "queued data is discarded");
}

#[test]
fn default_data_retries_is_fifteen() {
    let mut t = Harness::established_server();
    t.app_send(b"x");
    t.expect(seg().ack().seq(1).ack_no(1).data(b"x"));
    for _ in 0..15 {
        t.wait_for_tx(secs(1000));
        t.expect(seg().ack().seq(1).ack_no(1).data(b"x"));
    }
    // The RTO is capped at max_rto (120 s).
    assert_eq!(t.info().rto, secs(120));
    t.advance(secs(120));
    t.expect_none();
    assert_eq!(t.info().error, Some(ConnError::TimedOut));
}

#[test]
fn retransmission_timeout_resends_from_snd_una_one_segment_at_a_time() {
    let mut t = Harness::server();
    t.send(seg().syn().seq(0).mss(1000));
    t.expect(seg().syn().ack().seq(0).ack_no(1));
    t.send(seg().ack().seq(1).ack_no(1));
    t.accept();
    t.app_send(&pattern(0, 3000));
    t.expect(seg().ack().seq(1).ack_no(1).len(1000));
    t.expect(seg().ack().seq(1001).ack_no(1).len(1000));
    t.expect(seg().ack().seq(2001).ack_no(1).len(1000));
    // The first segment is lost; the peer holds the others.
    assert_eq!(t.wait_for_tx(secs(10)), secs(1));
    // RFC 5681 §3.1: after a timeout cwnd is one segment.
    t.expect(seg().ack().seq(1).ack_no(1).data(&pattern(0, 1000)));
    t.expect_none();
    assert_eq!(t.info().cwnd, 1000);
    t.send(seg().ack().seq(1).ack_no(3001));
    t.expect_none();
    assert_eq!(t.info().send_queue, 0);
    t.advance(secs(60));
    t.expect_none();
}

#[test]
fn karns_rule_takes_no_rtt_sample_from_a_retransmitted_segment() {
    let mut t = Harness::established_server();
    assert_eq!(t.info().srtt, None);
    t.app_send(b"a");
    t.expect(seg().ack().seq(1).ack_no(1).data(b"a"));
    assert_eq!(t.wait_for_tx(secs(10)), secs(1));
    t.expect(seg().ack().seq(1).ack_no(1).data(b"a"));
    t.advance(ms(500));
    t.send(seg().ack().seq(1).ack_no(2));
    // The ACK could be for either transmission: no sample, and the backed-off RTO stays.
    assert_eq!(t.info().srtt, None);
    assert_eq!(t.info().rto, secs(2));
    // The next segment, sent once, is timed.
    t.app_send(b"b");
    t.expect(seg().ack().seq(2).ack_no(1).data(b"b"));
    t.advance(ms(100));
    t.send(seg().ack().seq(1).ack_no(3));
    assert_eq!(t.info().srtt, Some(ms(100)));
}

#[test]
fn karns_rule_applies_to_a_retransmitted_syn() {
    let mut t = Harness::client();
    t.expect(seg().syn().seq(0));
    assert_eq!(t.wait_for_tx(secs(10)), secs(1));
    t.expect(seg().syn().seq(0));
    t.advance(ms(300));
    t.send(seg().syn().ack().seq(0).ack_no(1));
    t.expect(seg().ack().seq(1).ack_no(1));
    assert_eq!(t.info().srtt, None);
}

#[test]
fn handshake_gives_the_first_rtt_sample() {
    let mut t = Harness::client();
    t.expect(seg().syn().seq(0));
    t.advance(ms(50));
    t.send(seg().syn().ack().seq(0).ack_no(1));
    t.expect(seg().ack().seq(1).ack_no(1));
    let info = t.info();
    // RFC 6298 §2.2: SRTT = R, RTTVAR = R/2, RTO = SRTT + max(G, 4·RTTVAR), at least min_rto.
    assert_eq!(info.srtt, Some(ms(50)));
    assert_eq!(info.rttvar, ms(25));
    assert_eq!(info.rto, ms(200));
}

#[test]
fn srtt_rttvar_and_rto_after_clean_samples() {
    let mut t = Harness::established_server();
    t.app_send(b"one");
    t.expect(seg().ack().seq(1).ack_no(1).data(b"one"));
    t.advance(ms(100));
    t.send(seg().ack().seq(1).ack_no(4));
    let info = t.info();
    assert_eq!(info.srtt, Some(ms(100)));
    assert_eq!(info.rttvar, ms(50));
    assert_eq!(info.rto, ms(300));
    t.app_send(b"two");
    t.expect(seg().ack().seq(4).ack_no(1).data(b"two"));
    t.advance(ms(200));
    t.send(seg().ack().seq(1).ack_no(7));
    let info = t.info();
    // RFC 6298 §2.3: RTTVAR = 3/4·50 + 1/4·|100 − 200| = 62.5 ms; SRTT = 7/8·100 + 1/8·200.
    assert_eq!(info.rttvar, Duration::from_micros(62_500));
    assert_eq!(info.srtt, Some(Duration::from_micros(112_500)));
    assert_eq!(info.rto, Duration::from_micros(362_500));
}

#[test]
fn measured_rto_times_the_next_retransmission() {
    let mut t = Harness::established_server();
    t.app_send(b"one");
    t.expect(seg().ack().seq(1).ack_no(1).data(b"one"));
    t.advance(ms(100));
    t.send(seg().ack().seq(1).ack_no(4));
    assert_eq!(t.info().rto, ms(300));
    let sent = t.elapsed();
    t.app_send(b"two");
    t.expect(seg().ack().seq(4).ack_no(1).data(b"two"));
    assert_eq!(t.wait_for_tx(secs(10)), sent + ms(300));
    t.expect(seg().ack().seq(4).ack_no(1).data(b"two"));
    assert_eq!(t.wait_for_tx(secs(10)), sent + ms(900));
    t.expect(seg().ack().seq(4).ack_no(1).data(b"two"));
    t.send(seg().ack().seq(1).ack_no(7));
}

#[test]
fn ack_of_everything_stops_the_retransmission_timer() {
    let mut t = Harness::established_server();
    t.app_send(b"data");
    t.expect(seg().ack().seq(1).ack_no(1).data(b"data"));
    assert_eq!(t.stack.resources().timers, 1);
    t.send(seg().ack().seq(1).ack_no(5));
    assert_eq!(t.stack.resources().timers, 0);
    assert_eq!(t.stack.poll_timeout(), None);
}
