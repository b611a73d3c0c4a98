//! RFC 2018 §4 and RFC 2883: the SACK blocks a receiver sends while it holds data out of order,
//! and the D-SACK block that reports a duplicate once.

mod common;

use common::*;

fn sack_server() -> Harness {
    Harness::established_sack_server_with(|_| {})
}

#[test]
fn out_of_order_data_is_reported_most_recent_block_first() {
    let mut t = sack_server();
    t.send(seg().ack().seq(101).ack_no(1).len(100));
    t.expect(seg().ack().seq(1).ack_no(1).sack(&[(101, 201)]));
    t.send(seg().ack().seq(301).ack_no(1).len(100));
    t.expect(seg().ack().seq(1).ack_no(1).sack(&[(301, 401), (101, 201)]));
    t.send(seg().ack().seq(501).ack_no(1).len(100));
    t.expect(
        seg()
            .ack()
            .seq(1)
            .ack_no(1)
            .sack(&[(501, 601), (301, 401), (101, 201)]),
    );
    // 201..301 joins the first two blocks: the merged block is the most recent.
    t.send(seg().ack().seq(201).ack_no(1).len(100));
    t.expect(seg().ack().seq(1).ack_no(1).sack(&[(101, 401), (501, 601)]));
    // The gap at RCV.NXT fills: the cumulative ACK passes the merged block, which is dropped.
    t.send(seg().ack().seq(1).ack_no(1).len(100));
    t.expect(seg().ack().seq(1).ack_no(401).sack(&[(501, 601)]));
    t.send(seg().ack().seq(401).ack_no(1).len(100));
    t.expect(seg().ack().seq(1).ack_no(601).no_sack());
}

#[test]
fn at_most_four_blocks_without_timestamps() {
    let mut t = sack_server();
    for i in 0..5u32 {
        let left = 101 + 200 * i;
        t.send(seg().ack().seq(left).ack_no(1).len(100));
        t.drain();
    }
    // New data joins the second block: it is reported first, and the oldest block is left out.
    t.send(seg().ack().seq(401).ack_no(1).len(10));
    t.expect(
        seg()
            .ack()
            .seq(1)
            .ack_no(1)
            .sack(&[(301, 411), (901, 1001), (701, 801), (501, 601)]),
    );
}

#[test]
fn at_most_three_blocks_beside_timestamps() {
    let mut t = Harness::server();
    t.send(seg().syn().seq(0).mss(PEER_MSS).sack_ok().ts(100, 0));
    let synack = t.expect(seg().syn().ack().seq(0).ack_no(1).sack_ok().tsecr(100));
    let ox_ts = synack.options.timestamps.unwrap().tsval;
    t.send(seg().ack().seq(1).ack_no(1).ts(101, ox_ts));
    t.expect_none();
    t.accept();
    for i in 0..4u32 {
        t.send(
            seg()
                .ack()
                .seq(101 + 200 * i)
                .ack_no(1)
                .len(100)
                .ts(102, ox_ts),
        );
        t.drain();
    }
    t.send(seg().ack().seq(201).ack_no(1).len(10).ts(103, ox_ts));
    t.expect(
        seg()
            .ack()
            .seq(1)
            .ack_no(1)
            .tsecr(101)
            .sack(&[(101, 211), (701, 801), (501, 601)]),
    );
}

#[test]
fn a_duplicate_below_rcv_nxt_is_reported_once_as_dsack() {
    let mut t = sack_server();
    t.send(seg().ack().seq(1).ack_no(1).len(100));
    t.expect(seg().ack().seq(1).ack_no(101).no_sack());
    t.send(seg().ack().seq(1).ack_no(1).len(100));
    t.expect(seg().ack().seq(1).ack_no(101).sack(&[(1, 101)]));
    t.send(seg().ack().seq(101).ack_no(1).len(100));
    t.expect(seg().ack().seq(1).ack_no(201).no_sack());
}

#[test]
fn a_partly_old_segment_reports_its_old_part() {
    let mut t = sack_server();
    t.send(seg().ack().seq(1).ack_no(1).len(100));
    t.expect(seg().ack().seq(1).ack_no(101));
    t.send(seg().ack().seq(51).ack_no(1).len(100));
    t.expect(seg().ack().seq(1).ack_no(151).sack(&[(51, 101)]));
}

#[test]
fn a_duplicate_inside_held_data_is_followed_by_the_block_holding_it() {
    let mut t = sack_server();
    t.send(seg().ack().seq(201).ack_no(1).len(100));
    t.expect(seg().ack().seq(1).ack_no(1).sack(&[(201, 301)]));
    t.send(seg().ack().seq(501).ack_no(1).len(100));
    t.expect(seg().ack().seq(1).ack_no(1).sack(&[(501, 601), (201, 301)]));
    // RFC 2883 §4: the D-SACK, then the block that holds it, then the others.
    t.send(seg().ack().seq(221).ack_no(1).len(40));
    t.expect(
        seg()
            .ack()
            .seq(1)
            .ack_no(1)
            .sack(&[(221, 261), (201, 301), (501, 601)]),
    );
    t.send(seg().ack().seq(601).ack_no(1).len(10));
    t.expect(seg().ack().seq(1).ack_no(1).sack(&[(501, 611), (201, 301)]));
}

#[test]
fn a_bare_duplicate_ack_draws_no_dsack() {
    let mut t = sack_server();
    t.send(seg().ack().seq(1).ack_no(1).len(100));
    t.expect(seg().ack().seq(1).ack_no(101));
    t.send(seg().ack().seq(101).ack_no(1));
    t.expect_none();
}

#[test]
fn data_carrying_sack_blocks_stays_within_the_mss() {
    let mut t = sack_server();
    t.send(seg().ack().seq(101).ack_no(1).len(100));
    t.expect(seg().ack().seq(1).ack_no(1).sack(&[(101, 201)]));
    t.app_send(&pattern(0, 3000));
    // 1460 less a one-block SACK option (two NOPs, kind, length, 8 bytes).
    t.expect(seg().ack().seq(1).ack_no(1).len(1448).sack(&[(101, 201)]));
    t.expect(seg().ack().seq(1449).ack_no(1).len(1448));
    t.expect(seg().ack().seq(2897).ack_no(1).len(104));
}

#[test]
fn no_blocks_without_sack_permitted() {
    let mut t = Harness::established_server();
    t.send(seg().ack().seq(101).ack_no(1).len(100));
    t.expect(seg().ack().seq(1).ack_no(1).no_sack());
}
