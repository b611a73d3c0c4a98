//! Keep-alive (RFC 9293 §3.8.4): off by default; once on, an idle connection is probed with
//! an ACK one below SND.NXT, any segment from the peer restarts the idle period, and a peer
//! that never answers fails the connection with TimedOut after `probes` probes.

mod common;

use std::time::Duration;

use common::*;
use oxtcp_core::{Cause, ConnError, EventKind, KeepAlive, RecvError, State, TimerKind};

fn ka() -> Option<KeepAlive> {
    Some(KeepAlive::new(secs(60), secs(10), 3))
}

fn enable(t: &mut Harness, k: Option<KeepAlive>) {
    let (now, c) = (t.now, t.conn.unwrap());
    t.stack.set_keepalive(now, c, k).unwrap();
}

fn keepalive_timers(t: &Harness) -> Vec<u32> {
    t.events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Timer(x) if x.timer == TimerKind::KeepAlive => Some(x.attempt),
            _ => None,
        })
        .collect()
}

#[test]
fn keepalive_is_off_by_default_and_an_idle_connection_sends_nothing() {
    let mut t = Harness::established_client();
    t.advance(secs(3 * 7200));
    t.expect_none();
    t.assert_state(State::Established);
    assert_eq!(t.stack.resources().timers, 0);
}

#[test]
fn probe_after_idle_is_an_ack_one_below_snd_nxt() {
    let mut t = Harness::established_client();
    enable(&mut t, ka());
    assert_eq!(t.wait_for_tx(secs(100)), secs(60));
    // SEG.SEQ = SND.NXT - 1 = 0, no data: the peer must answer with an ACK.
    let probe = t.expect(seg().ack().seq(0).ack_no(1));
    assert!(probe.payload.is_empty());
    assert_eq!(keepalive_timers(&t), [1]);
    assert_eq!(t.info().stats.keepalive_probes, 1);
}

#[test]
fn stack_defaults_apply_when_the_socket_gives_none() {
    let mut t = Harness::established_client_with(|c| {
        c.keepalive_idle = secs(30);
        c.keepalive_interval = secs(5);
        c.keepalive_probes = 2;
    });
    enable(&mut t, Some(KeepAlive::defaults()));
    assert_eq!(t.wait_for_tx(secs(100)), secs(30));
    t.expect(seg().ack().seq(0).ack_no(1));
    assert_eq!(t.wait_for_tx(secs(100)), secs(35));
    t.expect(seg().ack().seq(0).ack_no(1));
    t.advance_to(secs(40));
    t.assert_state(State::Closed);
    assert_eq!(t.info().error, Some(ConnError::TimedOut));
}

#[test]
fn answered_probe_restarts_the_idle_period() {
    let mut t = Harness::established_client();
    enable(&mut t, ka());
    t.advance_to(secs(60));
    t.expect(seg().ack().seq(0).ack_no(1));
    t.advance(secs(1));
    // The peer finds SEQ 0 below its RCV.NXT and answers with an ACK.
    t.send(seg().ack().seq(1).ack_no(1));
    t.expect_none();
    // No probe until a full idle period after the answer.
    t.advance_to(secs(121) - ms(1));
    t.expect_none();
    assert_eq!(t.wait_for_tx(secs(10)), secs(121));
    t.expect(seg().ack().seq(0).ack_no(1));
    assert_eq!(keepalive_timers(&t), [1, 1]);
}

#[test]
fn any_segment_from_the_peer_restarts_the_idle_period() {
    let mut t = Harness::established_client();
    enable(&mut t, ka());
    t.advance_to(secs(50));
    t.send(seg().ack().psh().seq(1).ack_no(1).data(b"hi"));
    t.expect(seg().ack().seq(1).ack_no(3));
    assert_eq!(t.app_recv(10), b"hi");
    assert_eq!(t.wait_for_tx(secs(100)), secs(110));
    t.expect(seg().ack().seq(0).ack_no(3));
}

#[test]
fn vanished_peer_is_detected_after_idle_plus_probes_times_interval() {
    let mut t = Harness::established_client();
    enable(&mut t, ka());
    let mut times = Vec::new();
    for _ in 0..3 {
        times.push(t.wait_for_tx(secs(100)));
        t.expect(seg().ack().seq(0).ack_no(1));
    }
    assert_eq!(times, [secs(60), secs(70), secs(80)]);
    t.advance_to(secs(90) - ms(1));
    t.assert_state(State::Established);
    t.advance_to(secs(90));
    // Silently: the peer is gone, an RST would reach nobody.
    t.expect_none();
    t.assert_state(State::Closed);
    t.assert_last_transition(State::Established, State::Closed, Cause::RetriesExhausted);
    assert_eq!(keepalive_timers(&t), [1, 2, 3, 4]);
    let mut buf = [0u8; 4];
    assert_eq!(
        t.stack.recv(t.conn.unwrap(), &mut buf),
        Err(RecvError::Conn(ConnError::TimedOut))
    );
    assert_eq!(t.stack.resources().timers, 0);
}

#[test]
fn no_probe_while_data_is_outstanding() {
    let mut t = Harness::established_client_with(|c| c.data_retries = 30);
    enable(&mut t, ka());
    t.app_send(b"x");
    t.expect(seg().ack().psh().seq(1).ack_no(1).data(b"x"));
    // The retransmission timer watches the peer; keep-alive stays quiet (§3.8.4: "MUST only
    // be sent when no sent data is outstanding").
    while t.elapsed() < secs(70) {
        t.wait_for_tx(secs(200));
        t.expect(seg().ack().psh().seq(1).ack_no(1).data(b"x"));
    }
    assert!(keepalive_timers(&t).is_empty());
}

#[test]
fn keepalive_runs_in_close_wait_and_can_be_turned_off() {
    let mut t = Harness::established_client();
    t.send(seg().ack().fin().seq(1).ack_no(1));
    t.expect(seg().ack().seq(1).ack_no(2));
    t.assert_state(State::CloseWait);
    enable(&mut t, ka());
    assert_eq!(t.wait_for_tx(secs(100)), secs(60));
    t.expect(seg().ack().seq(0).ack_no(2));
    enable(&mut t, None);
    t.advance(secs(1000));
    t.expect_none();
    t.assert_state(State::CloseWait);
}

#[test]
fn probe_is_traced_on_the_ladder() {
    let mut t = Harness::established_client();
    enable(&mut t, ka());
    t.advance(Duration::from_secs(61));
    t.expect(seg().ack().seq(0).ack_no(1));
    assert_eq!(keepalive_timers(&t), [1]);
}

#[test]
fn probe_carries_timestamps_once_negotiated() {
    // RFC 7323 §3.2: a peer that negotiated timestamps drops a segment without TSopt, so a
    // probe without it would go unanswered and kill a live connection.
    let mut t = Harness::server();
    t.send(seg().syn().seq(0).ts(100, 0));
    let synack = t.expect(seg().syn().ack().seq(0).ack_no(1).tsecr(100));
    let ox_ts = synack.options.timestamps.unwrap().tsval;
    t.send(seg().ack().seq(1).ack_no(1).ts(101, ox_ts));
    t.accept();
    enable(&mut t, ka());
    t.wait_for_tx(secs(100));
    let probe = t.expect(seg().ack().seq(0).ack_no(1).tsecr(101));
    assert!(probe.options.timestamps.is_some());
}
