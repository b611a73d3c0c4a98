//! Delayed ACKs (RFC 9293 §3.8.6.3, RFC 5681 §4.2) and receiver SWS avoidance (RFC 9293
//! §3.8.6.2.2).

mod common;

use common::*;

/// Delayed ACKs of 40 ms, and no quick-ACK phase unless a test asks for one.
fn delaying_server(quick_acks: u32) -> Harness {
    Harness::established_server_with(|c| {
        c.delayed_ack = Some(ms(40));
        c.quick_acks = quick_acks;
    })
}

#[test]
fn a_lone_segment_is_acked_when_the_timer_fires() {
    let mut t = delaying_server(0);
    t.send(seg().ack().seq(1).ack_no(1).len(100));
    t.expect_none();
    t.advance(ms(39));
    t.expect_none();
    t.advance(ms(1));
    t.expect(seg().ack().seq(1).ack_no(101));
    t.advance(ms(100));
    t.expect_none();
}

#[test]
fn every_second_segment_is_acked_at_once() {
    let mut t = delaying_server(0);
    t.send(seg().ack().seq(1).ack_no(1).len(1460));
    t.expect_none();
    t.send(seg().ack().seq(1461).ack_no(1).len(1460));
    t.expect(seg().ack().seq(1).ack_no(2921));
    t.send(seg().ack().seq(2921).ack_no(1).len(1460));
    t.expect_none();
    t.send(seg().ack().seq(4381).ack_no(1).len(1460));
    t.expect(seg().ack().seq(1).ack_no(5841));
    t.advance(ms(40));
    t.expect_none();
}

#[test]
fn the_timer_is_not_restarted_by_later_data() {
    let mut t = delaying_server(0);
    t.send(seg().ack().seq(1).ack_no(1).len(100));
    t.advance(ms(30));
    t.expect_none();
    // The second segment is acknowledged at once anyway; the deadline is the first's.
    t.send(seg().ack().seq(101).ack_no(1).len(100));
    t.expect(seg().ack().seq(1).ack_no(201));
    t.send(seg().ack().seq(201).ack_no(1).len(100));
    t.advance(ms(39));
    t.expect_none();
    t.advance(ms(1));
    t.expect(seg().ack().seq(1).ack_no(301));
}

#[test]
fn the_quick_ack_phase_acks_each_of_the_first_segments() {
    let mut t = delaying_server(2);
    t.send(seg().ack().seq(1).ack_no(1).len(100));
    t.expect(seg().ack().seq(1).ack_no(101));
    t.send(seg().ack().seq(101).ack_no(1).len(100));
    t.expect(seg().ack().seq(1).ack_no(201));
    t.send(seg().ack().seq(201).ack_no(1).len(100));
    t.expect_none();
    t.advance(ms(40));
    t.expect(seg().ack().seq(1).ack_no(301));
}

#[test]
fn the_default_quick_ack_phase_is_sixteen_segments() {
    let mut t = Harness::established_server_with(|c| {
        c.delayed_ack = Some(ms(40));
        c.quick_acks = oxtcp_core::StackConfig::default().quick_acks;
    });
    for i in 0..16u32 {
        t.send(seg().ack().seq(1 + 10 * i).ack_no(1).len(10));
        t.expect(seg().ack().seq(1).ack_no(11 + 10 * i));
    }
    t.send(seg().ack().seq(161).ack_no(1).len(10));
    t.expect_none();
    t.advance(ms(40));
    t.expect(seg().ack().seq(1).ack_no(171));
}

#[test]
fn out_of_order_data_and_the_gap_filling_it_are_acked_at_once() {
    let mut t = delaying_server(0);
    t.send(seg().ack().seq(101).ack_no(1).len(100));
    t.expect(seg().ack().seq(1).ack_no(1));
    t.send(seg().ack().seq(1).ack_no(1).len(100));
    t.expect(seg().ack().seq(1).ack_no(201));
    t.advance(ms(40));
    t.expect_none();
}

#[test]
fn a_fin_is_acked_at_once() {
    let mut t = delaying_server(0);
    t.send(seg().ack().seq(1).ack_no(1).len(100));
    t.expect_none();
    t.send(seg().ack().fin().seq(101).ack_no(1));
    t.expect(seg().ack().seq(1).ack_no(102));
    t.advance(ms(40));
    t.expect_none();
}

#[test]
fn a_duplicate_is_acked_at_once() {
    let mut t = delaying_server(0);
    t.send(seg().ack().seq(1).ack_no(1).len(100));
    t.advance(ms(40));
    t.expect(seg().ack().seq(1).ack_no(101));
    t.send(seg().ack().seq(1).ack_no(1).len(100));
    t.expect(seg().ack().seq(1).ack_no(101));
}

#[test]
fn data_we_send_carries_the_delayed_ack_and_cancels_it() {
    let mut t = delaying_server(0);
    t.send(seg().ack().seq(1).ack_no(1).len(100));
    t.expect_none();
    t.app_send(b"reply");
    t.expect(seg().ack().seq(1).ack_no(101).data(b"reply"));
    t.advance(ms(40));
    t.expect_none();
}

#[test]
fn without_delay_every_segment_is_acked_at_once() {
    let mut t = Harness::established_server_with(|c| c.delayed_ack = None);
    t.send(seg().ack().seq(1).ack_no(1).len(100));
    t.expect(seg().ack().seq(1).ack_no(101));
    t.send(seg().ack().seq(101).ack_no(1).len(100));
    t.expect(seg().ack().seq(1).ack_no(201));
}

#[test]
fn receiver_sws_avoidance_holds_a_small_windows_right_edge() {
    let mut t = Harness::established_server_with(|c| c.recv_buffer = 4000);
    t.send(seg().ack().seq(1).ack_no(1).len(1460));
    t.expect(seg().ack().seq(1).ack_no(1461).win(2540));
    t.send(seg().ack().seq(1461).ack_no(1).len(1460));
    t.expect(seg().ack().seq(1).ack_no(2921).win(1080));
    // Reading 500 bytes could move the edge by 500, less than min(4000 / 2, 1460): the window
    // of 1080 is small, so its edge stays at 4001, and the next ACK shows what is left of it.
    assert_eq!(t.app_recv(500).len(), 500);
    t.expect_none();
    t.send(seg().ack().seq(2921).ack_no(1).len(10));
    t.expect(seg().ack().seq(1).ack_no(2931).win(1070));
    // Everything read: the whole buffer is offered again.
    assert_eq!(t.app_recv(4000).len(), 2430);
    t.expect(seg().ack().seq(1).ack_no(2931).win(4000));
}

#[test]
fn a_zero_window_reopens_only_by_a_full_step() {
    let mut t = Harness::established_server_with(|c| c.recv_buffer = 4000);
    t.send(seg().ack().seq(1).ack_no(1).len(1460));
    t.expect(seg().ack().seq(1).ack_no(1461).win(2540));
    t.send(seg().ack().seq(1461).ack_no(1).len(1460));
    t.expect(seg().ack().seq(1).ack_no(2921).win(1080));
    t.send(seg().ack().seq(2921).ack_no(1).len(1080));
    t.expect(seg().ack().seq(1).ack_no(4001).win(0));
    // 100 bytes read: a window of 100 would be silly.
    assert_eq!(t.app_recv(100).len(), 100);
    t.expect_none();
    // 1460 read in all: the window opens by one MSS.
    assert_eq!(t.app_recv(1360).len(), 1360);
    t.expect(seg().ack().seq(1).ack_no(4001).win(1460));
}
