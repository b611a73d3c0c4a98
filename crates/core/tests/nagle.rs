//! Nagle's algorithm (RFC 896, RFC 9293 §3.7.4) and sender silly window syndrome avoidance
//! (RFC 9293 §3.8.6.2.1): small segments wait while data is in flight unless TCP_NODELAY;
//! full segments, the FIN and data that fills the queue never wait; a small usable window is
//! not filled with a tiny segment while the peer once offered a much larger one.

mod common;

use common::*;

/// ESTABLISHED with the peer's MSS 1000 and window `win`.
fn established(win: u16) -> Harness {
    let mut t = Harness::server();
    t.send(seg().syn().seq(0).mss(1000).win(win));
    t.expect(seg().syn().ack().seq(0).ack_no(1));
    t.send(seg().ack().seq(1).ack_no(1).win(win));
    t.accept();
    t
}

#[test]
fn second_small_write_waits_for_the_ack_then_goes_with_the_third() {
    let mut t = established(10000);
    t.app_send(b"a");
    t.expect(seg().ack().psh().seq(1).ack_no(1).data(b"a"));
    t.app_send(b"b");
    t.app_send(b"c");
    t.expect_none();
    t.send(seg().ack().seq(1).ack_no(2).win(10000));
    t.expect(seg().ack().psh().seq(2).ack_no(1).data(b"bc"));
    t.expect_none();
}

#[test]
fn nodelay_sends_each_small_write_at_once() {
    let mut t = established(10000);
    t.app_set_nodelay(true);
    t.app_send(b"a");
    t.expect(seg().ack().psh().seq(1).ack_no(1).data(b"a"));
    t.app_send(b"b");
    t.expect(seg().ack().psh().seq(2).ack_no(1).data(b"b"));
    t.app_send(b"c");
    t.expect(seg().ack().psh().seq(3).ack_no(1).data(b"c"));
}

#[test]
fn turning_nodelay_on_releases_the_held_segment() {
    let mut t = established(10000);
    t.app_send(b"a");
    t.expect(seg().ack().psh().seq(1).ack_no(1).data(b"a"));
    t.app_send(b"b");
    t.expect_none();
    t.app_set_nodelay(true);
    t.expect(seg().ack().psh().seq(2).ack_no(1).data(b"b"));
}

#[test]
fn full_segment_goes_while_data_is_in_flight_and_the_short_tail_waits() {
    let mut t = established(10000);
    t.app_send(b"a");
    t.expect(seg().ack().psh().seq(1).ack_no(1).data(b"a"));
    t.app_send(&pattern(0, 1500));
    t.expect(
        seg()
            .ack()
            .no_psh()
            .seq(2)
            .ack_no(1)
            .data(&pattern(0, 1000)),
    );
    t.expect_none();
    t.send(seg().ack().seq(1).ack_no(1002).win(10000));
    t.expect(
        seg()
            .ack()
            .psh()
            .seq(1002)
            .ack_no(1)
            .data(&pattern(1000, 500)),
    );
}

#[test]
fn fin_is_not_held_and_carries_the_small_tail() {
    let mut t = established(10000);
    t.app_send(b"a");
    t.expect(seg().ack().psh().seq(1).ack_no(1).data(b"a"));
    t.app_send(b"b");
    t.expect_none();
    t.app_shutdown();
    t.expect(seg().ack().psh().fin().seq(2).ack_no(1).data(b"b"));
}

#[test]
fn small_window_gets_no_tiny_segment_until_the_override_timeout() {
    // The peer once offered 10000; now 300 of 2000 queued bytes fit: under Fs × 10000,
    // not all of the data, nothing in flight. RFC 9293 §3.8.6.2.1 waits.
    let mut t = established(10000);
    t.send(seg().ack().seq(1).ack_no(1).win(300));
    t.app_send(&pattern(0, 2000));
    t.expect_none();
    t.advance(ms(900));
    t.expect_none();
    // The override timeout (one RTO, at most 1 s) sends what fits.
    t.advance(ms(100));
    t.expect(seg().ack().no_psh().seq(1).ack_no(1).data(&pattern(0, 300)));
    // A window update big enough for a full segment lets data go at once.
    t.send(seg().ack().seq(1).ack_no(301).win(5000));
    t.expect(seg().ack().seq(301).ack_no(1).len(1000));
    // The 300-byte segment is acknowledged: no small segment is in flight, so the short
    // tail goes too (Minshall).
    t.expect(seg().ack().psh().seq(1301).ack_no(1).len(700));
}

#[test]
fn small_window_takes_all_the_data_when_it_fits() {
    let mut t = established(10000);
    t.send(seg().ack().seq(1).ack_no(1).win(300));
    t.app_send(&pattern(0, 200));
    t.expect(seg().ack().psh().seq(1).ack_no(1).data(&pattern(0, 200)));
}

#[test]
fn half_the_largest_window_is_not_silly() {
    let mut t = established(600);
    t.app_send(&pattern(0, 2000));
    // The peer's MSS is 1000 but its window 600: 600 ≥ Fs × 600 goes.
    t.expect(seg().ack().no_psh().seq(1).ack_no(1).data(&pattern(0, 600)));
    t.expect_none();
}

#[test]
fn retransmission_is_not_held_and_takes_the_held_byte_along() {
    let mut t = established(10000);
    t.app_send(b"a");
    t.expect(seg().ack().psh().seq(1).ack_no(1).data(b"a"));
    t.app_send(b"b");
    t.expect_none();
    // The initial RTO (1 s) fires: go back N from SND.UNA, with a small segment in flight.
    t.advance(secs(1));
    t.expect(seg().ack().psh().seq(1).ack_no(1).data(b"ab"));
}
