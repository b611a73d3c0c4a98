//! SYN cookies: a listener answers SYNs without keeping state once its SYN queue is full
//! (or always), and builds the connection from the final ACK's cookie.

mod common;

use common::*;
use oxtcp_core::{Cause, State, SynCookies};

fn cookie_server(backlog: usize, mode: SynCookies) -> Harness {
    Harness::server_with(backlog, move |c| c.syn_cookies = mode)
}

fn listener_stats(t: &Harness) -> oxtcp_core::ListenerStats {
    t.stack.listener_info(t.listener.unwrap()).unwrap().stats
}

#[test]
fn when_the_syn_queue_is_full_a_cookie_answers_and_its_ack_makes_the_connection() {
    let mut t = cookie_server(1, SynCookies::WhenFull);
    // The first SYN fills the one-entry SYN queue.
    t.send(seg().syn().seq(0).mss(1460).port(6001));
    t.expect(seg().syn().ack().seq(0).ack_no(1).port(6001));
    assert_eq!(t.stack.resources().half_open, 1);
    // The second gets a SYN-ACK too, but nothing is kept for it.
    t.send(seg().syn().seq(0).mss(1460).port(6002));
    t.expect(seg().syn().ack().seq(0).ack_no(1).mss(1460).port(6002));
    assert_eq!(t.stack.resources().half_open, 1);
    assert_eq!(listener_stats(&t).syncookies_sent, 1);
    // Its final ACK, with data, returns the cookie: a connection, in the accept queue.
    t.send(seg().ack().seq(1).ack_no(1).data(b"hello").port(6002));
    t.expect(seg().ack().seq(1).ack_no(6).port(6002));
    let c = t.stack.accept(t.listener.unwrap()).expect("accept");
    let mut buf = [0u8; 16];
    let n = t.stack.recv(c, &mut buf).unwrap();
    assert_eq!(&buf[..n], b"hello");
    let s = listener_stats(&t);
    assert_eq!((s.syncookies_accepted, s.syncookies_failed), (1, 0));
    let tr = t.transitions_on(6002);
    assert_eq!(
        tr.iter().map(|e| (e.from, e.to)).collect::<Vec<_>>(),
        [
            (State::Listen, State::SynReceived),
            (State::SynReceived, State::Established)
        ]
    );
    assert_eq!(tr[0].cause, Cause::SynCookie);
}

#[test]
fn always_mode_keeps_no_half_open_entries() {
    let mut t = cookie_server(10, SynCookies::Always);
    for port in 7000..7010 {
        t.send(seg().syn().seq(0).mss(1460).port(port));
        t.expect(seg().syn().ack().seq(0).ack_no(1).port(port));
    }
    assert_eq!(t.stack.resources().half_open, 0);
    assert_eq!(t.stack.resources().connections, 0);
    for port in 7000..7010 {
        t.send(seg().ack().seq(1).ack_no(1).port(port));
    }
    assert_eq!(t.stack.resources().connections, 10);
    assert_eq!(listener_stats(&t).syncookies_accepted, 10);
    // The accept queue still bounds them: an eleventh cookie's ACK is dropped.
    t.send(seg().syn().seq(0).port(7010));
    t.expect_none();
    assert_eq!(listener_stats(&t).accept_queue_overflows, 1);
}

#[test]
fn timestamps_carry_window_scale_and_sack_through_the_cookie() {
    let mut t = cookie_server(8, SynCookies::Always);
    t.send(seg().syn().seq(0).mss(1460).wscale(7).sack_ok().ts(100, 0));
    let synack = t.expect(
        seg()
            .syn()
            .ack()
            .seq(0)
            .ack_no(1)
            .wscale(0)
            .sack_ok()
            .tsecr(100),
    );
    let tsval = synack.options.timestamps.unwrap().tsval;
    t.send(seg().ack().seq(1).ack_no(1).ts(101, tsval).win(100));
    t.accept();
    let info = t.info();
    assert_eq!(info.state, State::Established);
    // SND.WND = 100 << 7: the peer's shift came back through TSecr.
    assert_eq!(info.snd_wnd, 12_800);
    // SACK is on: an out-of-order segment draws a SACK block.
    t.send(seg().ack().seq(101).ack_no(1).ts(102, tsval).len(100));
    t.expect(seg().ack().seq(1).ack_no(1).sack(&[(101, 201)]));
    // Our later TSvals are not older than the SYN-ACK's (the peer's PAWS).
    let out = t.next_out();
    assert!(out.is_none());
    t.app_send(b"x");
    let d = t.expect(seg().ack().seq(1).ack_no(1).data(b"x"));
    assert!(d.options.timestamps.unwrap().tsval >= tsval);
}

#[test]
fn without_timestamps_the_cookie_syn_ack_offers_neither_scaling_nor_sack() {
    let mut t = cookie_server(8, SynCookies::Always);
    t.send(seg().syn().seq(0).mss(1460).wscale(7).sack_ok());
    t.expect(
        seg()
            .syn()
            .ack()
            .seq(0)
            .ack_no(1)
            .no_wscale()
            .no_sack_ok()
            .no_ts(),
    );
    t.send(seg().ack().seq(1).ack_no(1).win(100));
    t.accept();
    assert_eq!(t.info().snd_wnd, 100);
}

#[test]
fn a_forged_or_stale_ack_creates_nothing_and_draws_an_rst() {
    let mut t = cookie_server(8, SynCookies::Always);
    // No SYN was ever answered on this port: a guessed acknowledgment number.
    t.send(seg().ack().seq(1).ack_abs(0x1234_5678).port(6100));
    t.expect(seg().rst().seq_abs(0x1234_5678).port(6100));
    // A real cookie, returned after its lifetime (at most three 64 s periods).
    t.send(seg().syn().seq(0).port(6101));
    t.expect(seg().syn().ack().seq(0).ack_no(1).port(6101));
    t.advance(secs(200));
    t.send(seg().ack().seq(1).ack_no(1).port(6101));
    t.expect(seg().rst().seq(1).port(6101));
    assert_eq!(t.stack.resources().connections, 0);
    assert_eq!(listener_stats(&t).syncookies_failed, 2);
}

#[test]
fn with_cookies_off_a_full_syn_queue_drops_the_syn() {
    let mut t = cookie_server(1, SynCookies::Off);
    t.send(seg().syn().seq(0).port(6201));
    t.expect(seg().syn().ack().seq(0).ack_no(1).port(6201));
    t.send(seg().syn().seq(0).port(6202));
    t.expect_none();
    let s = listener_stats(&t);
    assert_eq!((s.syn_queue_overflows, s.syncookies_sent), (1, 0));
}
