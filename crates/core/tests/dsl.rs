//! The harness itself: a wrong expectation, an unexpected segment, or a segment left pending
//! at the end of a test must fail, so that every other test is as strict as it reads.

mod common;

use common::*;

#[test]
#[should_panic(expected = "ack differs")]
fn wrong_ack_number_fails() {
    let mut t = Harness::server();
    t.send(seg().syn().seq(0));
    t.expect(seg().syn().ack().seq(0).ack_no(2));
}

#[test]
#[should_panic(expected = "flags differ")]
fn wrong_flags_fail() {
    let mut t = Harness::server();
    t.send(seg().syn().seq(0));
    t.expect(seg().syn().seq(0));
}

#[test]
#[should_panic(expected = "payload length differs")]
fn wrong_payload_length_fails() {
    let mut t = Harness::established_server();
    t.app_send(b"abc");
    t.expect(seg().ack().seq(1).ack_no(1).len(2));
}

#[test]
#[should_panic(expected = "unexpected segment before this send")]
fn sending_while_oxtcp_has_something_unexpected_fails() {
    let mut t = Harness::server();
    t.send(seg().syn().seq(0));
    t.send(seg().ack().seq(1).ack_no(1));
}

#[test]
#[should_panic(expected = "expected silence")]
fn expect_none_fails_when_something_is_sent() {
    let mut t = Harness::server();
    t.send(seg().syn().seq(0));
    t.expect_none();
}

#[test]
#[should_panic(expected = "unexpected segment pending")]
fn a_segment_left_pending_at_the_end_fails() {
    let mut t = Harness::server();
    t.send(seg().syn().seq(0));
}

#[test]
#[should_panic(expected = "state in the trace")]
fn wrong_state_fails() {
    let mut t = Harness::server();
    t.send(seg().syn().seq(0));
    t.expect(seg().syn().ack().seq(0).ack_no(1));
    t.assert_state(oxtcp_core::State::Established);
}
