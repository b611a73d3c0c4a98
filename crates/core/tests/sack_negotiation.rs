//! RFC 2018 §2: SACK-Permitted is offered on SYNs and applies only when both SYNs carry it.

mod common;

use common::*;
use oxtcp_core::State;

#[test]
fn active_open_offers_sack_permitted() {
    let mut t = Harness::client();
    t.expect(seg().syn().seq(0).sack_ok());
}

#[test]
fn active_open_with_sack_off_does_not_offer_it() {
    let mut t = Harness::client_with(|c| c.sack = false);
    t.expect(seg().syn().seq(0).no_sack_ok());
}

#[test]
fn passive_open_answers_sack_permitted_only_when_the_syn_carried_it() {
    let mut t = Harness::server();
    t.send(seg().syn().seq(0).mss(PEER_MSS).sack_ok());
    t.expect(seg().syn().ack().seq(0).ack_no(1).sack_ok());

    let mut t = Harness::server();
    t.send(seg().syn().seq(0).mss(PEER_MSS));
    t.expect(seg().syn().ack().seq(0).ack_no(1).no_sack_ok());
}

#[test]
fn passive_open_with_sack_off_declines_the_offer() {
    let mut t = Harness::server_with(8, |c| c.sack = false);
    t.send(seg().syn().seq(0).mss(PEER_MSS).sack_ok());
    t.expect(seg().syn().ack().seq(0).ack_no(1).no_sack_ok());
    t.send(seg().ack().seq(1).ack_no(1));
    t.accept();
    t.assert_state(State::Established);
}

#[test]
fn a_sack_connection_sends_no_blocks_while_data_arrives_in_order() {
    let mut t = Harness::established_sack_server_with(|_| {});
    t.send(seg().ack().seq(1).ack_no(1).len(100));
    t.expect(seg().ack().seq(1).ack_no(101).no_sack());
}
